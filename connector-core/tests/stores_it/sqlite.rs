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
    assert_eq!(store.schema_version().await.expect("version"), 6);
    store.close().await;
    let store = SqliteStore::open(&path, clock).await.expect("reopen");
    assert_eq!(store.schema_version().await.expect("version"), 6);
    store.close().await;

    let mut conn = raw(&path).await;
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schema_migrations")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(applied, 6);
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
                supported: 6,
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
        "CREATE INDEX records_by_state ON records (connection, state, next_attempt_at)",
        "ALTER TABLE records ADD COLUMN payload TEXT NOT NULL DEFAULT ''",
        "UPDATE records SET payload = (SELECT a.document FROM audit a WHERE a.id = records.payload_entry)",
        "ALTER TABLE records DROP COLUMN payload_entry",
        "DROP TABLE legacy_payloads",
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
    assert_eq!(store.schema_version().await.expect("version"), 6);
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

    // A new version takes its payload from the entry that read it; the old copy goes.
    let newer = serde_json::json!({"entity_id": "41", "grand_total": 12.5});
    store
        .intake(Intake {
            key: key.clone(),
            fingerprint: Fingerprint::of_document("41", START, &newer),
            payload: newer.clone().into(),
        })
        .await
        .expect("intake a new version");
    assert_eq!(
        store.get(&key).await.expect("get").expect("kept").payload,
        newer
    );
    store.close().await;
    let mut conn = raw(&path).await;
    let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM legacy_payloads")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(kept, 0, "the payload written before version 5 is replaced");
    // A process of an earlier release still running against the database fails loudly rather
    // than reading records without their payloads.
    let Err(earlier) = sqlx::query(
        "SELECT payload FROM records JOIN record_payloads USING (connection, kind, commerce_id)",
    )
    .fetch_all(&mut conn)
    .await
    else {
        panic!("the payload table of earlier releases is gone");
    };
    assert!(earlier.to_string().contains("record_payloads"), "{earlier}");
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records' \
         AND name NOT LIKE 'sqlite_autoindex%' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .expect("indexes");
    assert_eq!(indexes, ["records_by_state_key"]);
}

/// A document read is written once: the record's payload is the document of its `read` entry,
/// for every record of a batch, through every way a record is read back.
#[tokio::test]
async fn a_payload_is_stored_once_with_the_entry_that_read_it() {
    use connector_core::state::{
        ConnectionName, EntityKind, Fingerprint, Intake, RecordFilter, RecordKey, StateStore as _,
    };
    let path = crate::temp_dir("sqlite-payload-once").join("state.db");
    let store = SqliteStore::open(&path, Arc::new(ManualClock::new(START)))
        .await
        .expect("open");
    let connection = ConnectionName::new("eu").expect("name");
    let document = |id: usize, version: usize| serde_json::json!({"entity_id": id.to_string(), "note": format!("order {id} version {version}")});
    let intakes = |version: usize| {
        (1..=3)
            .map(|id| {
                let payload = document(id, version);
                Intake {
                    key: RecordKey::new(connection.clone(), EntityKind::Order, id.to_string()),
                    fingerprint: Fingerprint::of_document(id.to_string(), START, &payload),
                    payload: payload.into(),
                }
            })
            .collect::<Vec<_>>()
    };
    store.intake_many(intakes(1)).await.expect("first versions");
    store
        .intake_many(intakes(2))
        .await
        .expect("second versions");

    let listed = store.list(&RecordFilter::default()).await.expect("list");
    assert_eq!(listed.len(), 3);
    for (n, record) in listed.iter().enumerate() {
        assert_eq!(record.payload, document(n + 1, 2));
        let got = store.get(&record.key).await.expect("get").expect("kept");
        assert_eq!(got.payload, document(n + 1, 2));
    }
    store.close().await;

    let mut conn = raw(&path).await;
    let copies: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM legacy_payloads")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(copies, 0, "no second copy of a payload");
    // Each version read is kept once, in its `read` entry: the first versions stay in the trail.
    let read: Vec<String> = sqlx::query_scalar(
        "SELECT document FROM audit WHERE entry_kind = 'read' ORDER BY commerce_id, id",
    )
    .fetch_all(&mut conn)
    .await
    .expect("read entries");
    let read: Vec<serde_json::Value> = read
        .iter()
        .map(|text| serde_json::from_str(text).expect("json"))
        .collect();
    let expected: Vec<serde_json::Value> = (1..=3)
        .flat_map(|id| [document(id, 1), document(id, 2)])
        .collect();
    assert_eq!(read, expected);
}

/// A document of a kilobyte or more is kept compressed (a BLOB, far smaller than its text) and
/// read back whole through the record and its audit entry; one written as text by an earlier
/// release still reads; a damaged one is an error naming the column, not a crash.
#[tokio::test]
async fn large_documents_are_stored_compressed_and_read_back_whole() {
    use connector_core::audit::{AuditKind, AuditLog as _, AuditQuery, NewAuditEntry};
    use connector_core::state::{
        ConnectionName, EntityKind, Fingerprint, Intake, RecordFilter, RecordKey, StateStore as _,
    };
    let path = crate::temp_dir("sqlite-compressed").join("state.db");
    let store = SqliteStore::open(&path, Arc::new(ManualClock::new(START)))
        .await
        .expect("open");
    let connection = ConnectionName::new("eu").expect("name");
    let key = |id: &str| RecordKey::new(connection.clone(), EntityKind::Order, id);
    let items: Vec<serde_json::Value> = (0..150)
        .map(|n| serde_json::json!({"sku": format!("SKU-{n}"), "name": format!("Stuhl {n} – Eiche"), "price": format!("{n}.95")}))
        .collect();
    let large = serde_json::json!({"entity_id": "1", "items": items});
    let large_text = serde_json::to_string(&large).expect("text");
    assert!(large_text.len() > 8_000, "{}", large_text.len());
    let small = serde_json::json!({"entity_id": "2"});
    store
        .intake_many(
            [("1", &large), ("2", &small)]
                .into_iter()
                .map(|(id, payload)| Intake {
                    key: key(id),
                    fingerprint: Fingerprint::of_document(id, START, payload),
                    payload: payload.clone().into(),
                })
                .collect(),
        )
        .await
        .expect("intake");

    let got = store.get(&key("1")).await.expect("get").expect("kept");
    assert_eq!(got.payload, large);
    let listed = store.list(&RecordFilter::default()).await.expect("list");
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].payload, large);
    assert_eq!(listed[1].payload, small);
    let read = store
        .query(&AuditQuery {
            record: Some(key("1")),
            kind: Some(AuditKind::Read),
            ..AuditQuery::default()
        })
        .await
        .expect("audit");
    assert_eq!(read.entries.len(), 1);
    assert_eq!(read.entries[0].document.as_ref(), Some(&large));
    // One entry appended alone takes the same way.
    let sent = store
        .append(NewAuditEntry::new(key("2"), AuditKind::Sent, "sent").with_document(large.clone()))
        .await
        .expect("append");
    assert_eq!(sent.document.as_ref(), Some(&large));

    let mut conn = raw(&path).await;
    let copies: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM legacy_payloads")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(
        copies, 0,
        "the record refers to its read entry, no second copy"
    );
    let appended: String = sqlx::query_scalar("SELECT typeof(document) FROM audit WHERE id = ?")
        .bind(sent.id.0)
        .fetch_one(&mut conn)
        .await
        .expect("appended entry");
    assert_eq!(appended, "blob");
    let stored: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT commerce_id, typeof(document), length(CAST(document AS BLOB)) FROM audit \
         WHERE entry_kind = 'read' ORDER BY commerce_id",
    )
    .fetch_all(&mut conn)
    .await
    .expect("stored documents");
    assert_eq!(stored[0].0, "1");
    assert_eq!(stored[0].1, "blob", "a large document is compressed");
    let compressed = usize::try_from(stored[0].2).expect("length");
    assert!(
        compressed * 4 < large_text.len(),
        "{} bytes of text stored in {compressed}",
        large_text.len()
    );
    assert_eq!(stored[1].1, "text", "a small document stays readable text");

    // Written as text by an earlier release: the record's payload entry is plain JSON.
    let mut earlier = large.clone();
    earlier["note"] = serde_json::json!("stored by an earlier release");
    let earlier_text = serde_json::to_string(&earlier).expect("text");
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO audit (at, connection, kind, commerce_id, entry_kind, message, document) \
         VALUES (0, 'eu', 'order', '1', 'read', 'read', ?) RETURNING id",
    )
    .bind(&earlier_text)
    .fetch_one(&mut conn)
    .await
    .expect("insert a text document");
    let point_at = |id: i64| {
        sqlx::query("UPDATE records SET payload_entry = ? WHERE commerce_id = '1'").bind(id)
    };
    point_at(id).execute(&mut conn).await.expect("point");
    let got = store.get(&key("1")).await.expect("get").expect("kept");
    assert_eq!(got.payload, earlier);

    // A damaged document: the read fails with the column and what is wrong, the rest reads.
    let damaged: i64 = sqlx::query_scalar(
        "INSERT INTO audit (at, connection, kind, commerce_id, entry_kind, message, document) \
         VALUES (0, 'eu', 'order', '1', 'read', 'read', ?) RETURNING id",
    )
    .bind(b"\0lz4\x40\0\0\0\xf0garbage".to_vec())
    .fetch_one(&mut conn)
    .await
    .expect("insert a damaged document");
    point_at(damaged).execute(&mut conn).await.expect("point");
    let err = store.get(&key("1")).await.expect_err("damaged payload");
    let message = err.to_string();
    assert!(message.contains("column payload"), "{message}");
    assert!(message.contains("does not decompress"), "{message}");
    let other = store.get(&key("2")).await.expect("get").expect("kept");
    assert_eq!(other.payload, small);
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
