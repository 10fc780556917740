use std::sync::Arc;

use connector_core::clock::{Clock, ManualClock};
use connector_core::state::conformance::{self, START};
use connector_core::state::{SqliteStore, StoreError};

async fn open(clock: Arc<dyn Clock>) -> SqliteStore {
    let path = crate::temp_dir("sqlite").join("state.db");
    SqliteStore::open(path, clock)
        .await
        .expect("open a fresh SQLite store")
}

connector_core::store_conformance_tests!(open);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persists_across_reopen() {
    let path = crate::temp_dir("sqlite-reopen")
        .join("nested")
        .join("state.db");
    let open_same = |clock: Arc<dyn Clock>| {
        let path = path.clone();
        async move {
            SqliteStore::open(path, clock)
                .await
                .expect("reopen the SQLite store")
        }
    };
    conformance::persists_across_reopen(open_same).await;
}

#[tokio::test]
async fn migrations_are_recorded_and_applied_once() {
    let path = crate::temp_dir("sqlite-migrate").join("state.db");
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(START));
    let store = SqliteStore::open(&path, Arc::clone(&clock))
        .await
        .expect("open");
    assert_eq!(store.schema_version().await.expect("version"), 4);
    store.close().await;
    let store = SqliteStore::open(&path, clock).await.expect("reopen");
    assert_eq!(store.schema_version().await.expect("version"), 4);
    store.close().await;

    let mut conn = raw(&path).await;
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schema_migrations")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(applied, 4);
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .expect("journal mode");
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn newer_schema_is_refused_with_the_path() {
    let path = crate::temp_dir("sqlite-newer").join("state.db");
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(START));
    SqliteStore::open(&path, Arc::clone(&clock))
        .await
        .expect("open")
        .close()
        .await;
    let mut conn = raw(&path).await;
    sqlx::query(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)",
    )
    .execute(&mut conn)
    .await
    .expect("insert");
    drop(conn);
    let err = SqliteStore::open(&path, clock)
        .await
        .expect_err("newer schema");
    assert!(
        matches!(
            err,
            StoreError::SchemaTooNew {
                found: 99,
                supported: 4,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

/// A database written before records kept the SYSPRO customer code (and their payloads apart) gains
/// the column and the payload table on open; its records read back whole with no code, and take one
/// from then on.
#[tokio::test]
async fn upgrade_adds_the_customer_column() {
    use connector_core::state::{
        ConnectionName, EntityKind, Fingerprint, Intake, RecordKey, RecordState, StateStore as _,
        SysproKeys, Target, Transition,
    };
    let path = crate::temp_dir("sqlite-upgrade").join("state.db");
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(START));
    let key = RecordKey::new(
        ConnectionName::new("eu").expect("name"),
        EntityKind::Invoice,
        "41",
    );
    let store = SqliteStore::open(&path, Arc::clone(&clock))
        .await
        .expect("open");
    let payload = serde_json::json!({"entity_id": "41"});
    store
        .intake(Intake {
            key: key.clone(),
            fingerprint: Fingerprint::of_document("41", START, &payload),
            payload: payload.into(),
        })
        .await
        .expect("intake");
    store.close().await;
    // Back to the schema of version 2, as an older release left it.
    let mut conn = raw(&path).await;
    for statement in [
        "DROP INDEX records_by_state_key",
        "ALTER TABLE records ADD COLUMN payload TEXT NOT NULL DEFAULT ''",
        "UPDATE records SET payload = (SELECT p.payload FROM record_payloads p \
         WHERE (p.connection, p.kind, p.commerce_id) = (records.connection, records.kind, records.commerce_id))",
        "DROP TABLE record_payloads",
        "ALTER TABLE records DROP COLUMN syspro_customer",
    ] {
        sqlx::query(statement)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    sqlx::query("DELETE FROM schema_migrations WHERE version >= 3")
        .execute(&mut conn)
        .await
        .expect("forget migrations 3 and 4");
    drop(conn);

    let store = SqliteStore::open(&path, clock).await.expect("reopen");
    assert_eq!(store.schema_version().await.expect("version"), 4);
    let record = store.get(&key).await.expect("get").expect("kept");
    assert_eq!(record.syspro, SysproKeys::default());
    assert_eq!(record.payload, serde_json::json!({"entity_id": "41"}));
    let mapped = store
        .transition(Transition::new(
            key.clone(),
            RecordState::Received,
            Target::Mapped {
                syspro: SysproKeys {
                    customer: Some("C000041".to_owned()),
                    ..SysproKeys::default()
                },
            },
            "",
        ))
        .await
        .expect("map");
    assert_eq!(store.get(&key).await.expect("get"), Some(mapped));
    store.close().await;
}

#[tokio::test]
async fn audit_rows_cannot_be_changed_or_deleted() {
    use connector_core::audit::{AuditKind, AuditLog, NewAuditEntry};
    use connector_core::state::{ConnectionName, EntityKind, RecordKey};
    let path = crate::temp_dir("sqlite-audit").join("state.db");
    let store = SqliteStore::open(&path, Arc::new(ManualClock::new(START)))
        .await
        .expect("open");
    let key = RecordKey::new(
        ConnectionName::new("eu").expect("name"),
        EntityKind::Order,
        "9",
    );
    store
        .append(NewAuditEntry::new(key, AuditKind::Decided, "kept forever"))
        .await
        .expect("append");
    let mut conn = raw(&path).await;
    let update = sqlx::query("UPDATE audit SET message = 'rewritten'")
        .execute(&mut conn)
        .await;
    assert!(update.is_err(), "audit update must be refused");
    let delete = sqlx::query("DELETE FROM audit").execute(&mut conn).await;
    assert!(delete.is_err(), "audit delete must be refused");
}

#[cfg(unix)]
#[tokio::test]
async fn database_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let path = crate::temp_dir("sqlite-mode").join("state.db");
    SqliteStore::open(&path, Arc::new(ManualClock::new(START)))
        .await
        .expect("open");
    let mode = std::fs::metadata(&path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}

#[tokio::test]
async fn unwritable_location_names_the_path() {
    let dir = crate::temp_dir("sqlite-bad");
    let blocker = dir.join("not-a-dir");
    std::fs::write(&blocker, b"file").expect("write");
    let path = blocker.join("state.db");
    let err = SqliteStore::open(&path, Arc::new(ManualClock::new(START)))
        .await
        .expect_err("cannot create a database inside a file");
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}

async fn raw(path: &std::path::Path) -> sqlx::SqliteConnection {
    use sqlx::Connection;
    sqlx::SqliteConnection::connect_with(&sqlx::sqlite::SqliteConnectOptions::new().filename(path))
        .await
        .expect("raw connection")
}
