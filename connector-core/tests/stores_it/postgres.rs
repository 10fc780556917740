//! The conformance suite and PostgreSQL-specific behaviour against a real server. `scripts/test`
//! starts a throwaway cluster and exports `ML_CONNECTOR_TEST_POSTGRES_URL`; each test works in its
//! own schema, so tests run in parallel on one database.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use connector_core::clock::{Clock, ManualClock};
use connector_core::state::conformance::{self, START};
use connector_core::state::{
    AnyStore, PostgresOptions, PostgresStore, StateStore as _, StoreError, StoreLocation,
};
use secrecy::SecretString;

/// The test database's URL; a missing variable fails the test rather than skipping it.
fn test_url() -> String {
    std::env::var("ML_CONNECTOR_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "ML_CONNECTOR_TEST_POSTGRES_URL is not set: run the tests with scripts/test, which starts \
             a throwaway PostgreSQL cluster and provides it"
        )
    })
}

/// A schema name no other test uses.
fn fresh_schema(label: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::UNIX_EPOCH
        .elapsed()
        .map_or(0, |d| d.subsec_nanos());
    format!("t_{label}_{}_{n}_{nanos}", std::process::id())
}

fn options(schema: &str) -> PostgresOptions {
    let mut options = PostgresOptions::new(SecretString::from(test_url())).schema(schema);
    options.max_connections = 4;
    options
}

async fn open(clock: Arc<dyn Clock>) -> PostgresStore {
    PostgresStore::open(options(&fresh_schema("c")), clock)
        .await
        .expect("open a fresh PostgreSQL store")
}

connector_core::store_conformance_tests!(open);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persists_across_reopen() {
    let schema = fresh_schema("reopen");
    let open_same = |clock: Arc<dyn Clock>| {
        let schema = schema.clone();
        async move {
            PostgresStore::open(options(&schema), clock)
                .await
                .expect("reopen the PostgreSQL store")
        }
    };
    conformance::persists_across_reopen(open_same).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_starting_together_migrate_once() {
    let schema = fresh_schema("migrate");
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(START));
    let mut opening = Vec::new();
    for _ in 0..4 {
        let options = options(&schema);
        let clock = Arc::clone(&clock);
        opening.push(tokio::spawn(async move {
            PostgresStore::open(options, clock).await
        }));
    }
    let mut stores = Vec::new();
    for task in opening {
        stores.push(task.await.expect("open task").expect("open"));
    }
    for store in &stores {
        assert_eq!(store.schema_version().await.expect("version"), 3);
    }
    let store = &stores[0];
    assert!(store.location().contains(&format!("schema {schema}")));
    assert!(store.leases().await.expect("tables exist").is_empty());
    // Reopening applies nothing again.
    let again = PostgresStore::open(options(&schema), clock)
        .await
        .expect("reopen");
    assert_eq!(again.schema_version().await.expect("version"), 3);
    for store in stores {
        store.close().await;
    }
    again.close().await;
}

/// A database written before records kept the SYSPRO customer code gains the column on open; its
/// records read back with no code, and take one from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_adds_the_customer_column() {
    use connector_core::state::{
        ConnectionName, EntityKind, Fingerprint, Intake, RecordKey, RecordState, SysproKeys,
        Target, Transition,
    };
    use sqlx::Connection as _;
    let schema = fresh_schema("upgrade");
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(START));
    let key = RecordKey::new(
        ConnectionName::new("eu").expect("name"),
        EntityKind::Invoice,
        "41",
    );
    let store = PostgresStore::open(options(&schema), Arc::clone(&clock))
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
    let mut conn = sqlx::PgConnection::connect(&test_url())
        .await
        .expect("raw connection");
    for statement in [
        format!("ALTER TABLE \"{schema}\".records DROP COLUMN syspro_customer"),
        format!("DELETE FROM \"{schema}\".schema_migrations WHERE version = 3"),
    ] {
        sqlx::query(&statement)
            .execute(&mut conn)
            .await
            .expect("downgrade");
    }
    conn.close().await.expect("close");

    let store = PostgresStore::open(options(&schema), clock)
        .await
        .expect("reopen");
    assert_eq!(store.schema_version().await.expect("version"), 3);
    let record = store.get(&key).await.expect("get").expect("kept");
    assert_eq!(record.syspro, SysproKeys::default());
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

/// A move writes the record's row but not its payload again: a large payload is stored out of
/// line (TOAST), and written back unchanged by every move it would be stored once more each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_leave_the_stored_payload_as_it_is() {
    use connector_core::state::{
        ConnectionName, EntityKind, Fingerprint, Intake, RecordKey, RecordState, SysproKeys,
        Target, Transition,
    };
    use sqlx::Connection as _;
    const RECORDS: usize = 40;
    let schema = fresh_schema("moves");
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(START));
    let store = PostgresStore::open(options(&schema), Arc::clone(&clock))
        .await
        .expect("open");
    let connection = ConnectionName::new("eu").expect("name");
    let keys: Vec<RecordKey> = (0..RECORDS)
        .map(|n| RecordKey::new(connection.clone(), EntityKind::Order, n.to_string()))
        .collect();
    // About 16 KB of text that compresses little, so each payload is stored out of line.
    let mut seed: u64 = 7;
    let mut noise = |len: usize| -> String {
        (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                char::from(b'a' + u8::try_from(seed >> 59).unwrap_or(0) % 26)
            })
            .collect()
    };
    let payloads: Vec<serde_json::Value> = keys
        .iter()
        .map(|key| serde_json::json!({"entity_id": key.commerce_id, "note": noise(16_000)}))
        .collect();
    let payload_bytes: i64 = payloads
        .iter()
        .map(|p| i64::try_from(p.to_string().len()).unwrap_or(0))
        .sum();
    store
        .intake_many(
            keys.iter()
                .zip(&payloads)
                .map(|(key, payload)| Intake {
                    key: key.clone(),
                    fingerprint: Fingerprint::of_document(&key.commerce_id, START, payload),
                    payload: payload.clone().into(),
                })
                .collect(),
        )
        .await
        .expect("intake");

    let mut conn = sqlx::PgConnection::connect(&test_url())
        .await
        .expect("raw connection");
    let before = records_size(&mut conn, &schema).await;
    assert!(
        before > payload_bytes / 2,
        "{before} bytes for {payload_bytes}"
    );

    let moves = |from: RecordState, to: Target| -> Vec<Transition> {
        keys.iter()
            .map(|key| Transition::new(key.clone(), from, to.clone(), "test"))
            .collect()
    };
    let mapped = Target::Mapped {
        syspro: SysproKeys::default(),
    };
    let retry = Target::RetryWait {
        next_attempt_at: START,
        reason: "busy".to_owned(),
    };
    for (from, to, read_back) in [
        (RecordState::Received, mapped, true),
        (RecordState::Mapped, Target::Posting, false),
        (RecordState::Posting, retry.clone(), true),
        (RecordState::RetryWait, Target::Posting, false),
        (RecordState::Posting, retry, false),
    ] {
        let transitions = moves(from, to);
        if read_back {
            for result in store.transition_many(transitions).await.expect("moves") {
                result.expect("moved");
            }
        } else {
            for result in store.move_many(transitions).await.expect("moves") {
                result.expect("moved");
            }
        }
    }
    let after = records_size(&mut conn, &schema).await;
    conn.close().await.expect("close");
    assert!(
        after - before < payload_bytes / 2,
        "five moves of {RECORDS} records grew the table from {before} to {after} bytes \
         ({payload_bytes} bytes of payloads)"
    );
    for (key, payload) in keys.iter().zip(&payloads) {
        let record = store.get(key).await.expect("get").expect("kept");
        assert_eq!(record.state, RecordState::RetryWait);
        assert_eq!(&record.payload, payload);
    }
    store.close().await;
}

/// The bytes the `records` table of `schema` takes on disk, out-of-line values and indexes included.
async fn records_size(conn: &mut sqlx::PgConnection, schema: &str) -> i64 {
    sqlx::query_scalar(&format!(
        "SELECT pg_total_relation_size('\"{schema}\".records')"
    ))
    .fetch_one(conn)
    .await
    .expect("relation size")
}

#[tokio::test]
async fn unreachable_server_is_named_without_the_password() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let url = "postgres://ml:hunter2-secret@127.0.0.1:1/ledger";
    let location = StoreLocation::parse(url, std::path::Path::new(".")).expect("postgres URL");
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(START));
    let err = AnyStore::open(&location, clock, std::time::Duration::from_secs(1))
        .await
        .expect_err("nothing listens on port 1");
    let text = err.to_string();
    assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
    for part in ["127.0.0.1:1", "ml@", "/ledger", "refused"] {
        assert!(text.contains(part), "{part:?} missing from {text}");
    }
    assert!(!text.contains("hunter2"), "password leaked: {text}");
    assert!(
        !format!("{err:?}").contains("hunter2"),
        "password leaked in Debug"
    );
    assert!(err.is_transient());
}

#[tokio::test]
async fn schema_names_are_checked() {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(START));
    let options = PostgresOptions::new(SecretString::from(
        "postgres://ml@127.0.0.1:1/ledger".to_owned(),
    ))
    .schema("bad\"; DROP TABLE records; --");
    let err = PostgresStore::open(options, clock)
        .await
        .expect_err("refused before connecting");
    assert!(matches!(err, StoreError::InvalidName { .. }), "{err}");
}
