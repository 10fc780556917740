//! Measures what the state store costs per record: `--records` records go through
//! `received -> mapped -> posting -> posted`, and SYSPRO's answer is appended to each record's audit
//! trail (five audit entries per record: read, three moves, answer). This runs twice per store:
//! once with one store call per record and step, once with the batch calls (`intake_many`,
//! `transition_many`, `append_many`) on `--batch` records at a time. It prints wall time, the
//! process's CPU time per record, and the number of store transactions.
//!
//! SQLite runs in a fresh file under the system's temporary directory (removed afterwards);
//! PostgreSQL runs too when `ML_CONNECTOR_TEST_POSTGRES_URL` is set, in a fresh schema of that
//! database (dropped afterwards).
//!
//! ```sh
//! cargo run --release -p connector-core --example store_bench -- --records 5000
//! ```
//!
//! Flags: `--records N` (5000), `--batch N` (50).

use std::sync::Arc;
use std::time::Duration;

use connector_core::audit::{AuditKind, AuditLog, NewAuditEntry};
use connector_core::clock::{Clock, SystemClock};
use connector_core::state::{
    ConnectionName, EntityKind, Fingerprint, Intake, PostgresOptions, PostgresStore, RecordKey,
    RecordState, SqliteStore, StateStore, SysproKeys, Target, Transition,
};
use secrecy::SecretString;
use serde_json::json;
use sqlx::Connection as _;

struct Args {
    records: usize,
    batch: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        records: 5000,
        batch: 50,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} expects a value"))?;
        let number = value
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{flag} expects a positive number, not {value:?}"))?;
        match flag.as_str() {
            "--records" => args.records = number,
            "--batch" => args.batch = number,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(args)
}

/// How the records are moved through the store.
#[derive(Debug, Clone, Copy)]
enum Calls {
    /// One call (one transaction) per record and step.
    Single,
    /// One batch call per step for `n` records.
    Batch(usize),
}

/// What one run measured.
struct Figures {
    wall: Duration,
    cpu_seconds: f64,
    transactions: usize,
}

/// CPU seconds (user + system) of the whole process so far, from `/proc/self/stat`.
fn process_cpu_seconds() -> f64 {
    // Linux reports these in clock ticks of 1/100 s on every common configuration.
    const TICKS_PER_SECOND: f64 = 100.0;
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // `pid (comm) state ...`: the name may hold spaces, so split after the last ')'.
    let Some(close) = stat.rfind(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    // Fields after the name start at `state` (field 3): utime is field 14, stime field 15.
    let ticks = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(14) + ticks(15)) / TICKS_PER_SECOND
}

fn intake_of(key: &RecordKey, at: time::OffsetDateTime) -> Intake {
    let payload = json!({
        "entity_id": key.commerce_id,
        "increment_id": format!("000{}", key.commerce_id),
        "grand_total": "119.00",
        "tax_amount": "19.00",
        "items": [
            {"sku": "SKU-1", "qty": 1, "row_total": "60.00"},
            {"sku": "SKU-2", "qty": 2, "row_total": "40.00"}
        ],
    });
    Intake {
        key: key.clone(),
        fingerprint: Fingerprint::of_document(&key.commerce_id, at, &payload),
        payload: payload.into(),
    }
}

/// The three moves of a record, in order.
fn moves(key: &RecordKey) -> [Transition; 3] {
    [
        Transition::new(
            key.clone(),
            RecordState::Received,
            Target::Mapped {
                syspro: SysproKeys {
                    invoice: Some(format!("W{}", key.commerce_id)),
                    journal: None,
                    customer: Some("WEBCASH".to_owned()),
                },
            },
            "plan rendered",
        ),
        Transition::new(
            key.clone(),
            RecordState::Mapped,
            Target::Posting,
            "claimed for posting",
        ),
        Transition::new(
            key.clone(),
            RecordState::Posting,
            Target::Posted {
                syspro: SysproKeys {
                    invoice: None,
                    journal: Some(format!("J{}", key.commerce_id)),
                    customer: None,
                },
            },
            "SYSPRO confirmed",
        ),
    ]
}

fn answer(key: &RecordKey) -> NewAuditEntry {
    NewAuditEntry::new(key.clone(), AuditKind::Answered, "SYSPRO answered")
        .with_document(json!({"invoice": format!("W{}", key.commerce_id), "status": "posted"}))
}

/// Moves `records` records through the store with `calls`, and checks they all ended `posted`.
async fn run<S: StateStore + AuditLog>(
    store: &S,
    records: usize,
    calls: Calls,
) -> Result<Figures, Box<dyn std::error::Error>> {
    let connection = ConnectionName::new("bench")?;
    let keys: Vec<RecordKey> = (0..records)
        .map(|i| {
            RecordKey::new(
                connection.clone(),
                EntityKind::Invoice,
                (100_000 + i).to_string(),
            )
        })
        .collect();
    let read_at = SystemClock.now();
    let cpu_before = process_cpu_seconds();
    let started = tokio::time::Instant::now();
    let mut transactions = 0;
    match calls {
        Calls::Single => {
            for key in &keys {
                store.intake(intake_of(key, read_at)).await?;
                let [mapped, posting, posted] = moves(key);
                store.transition(mapped).await?;
                store.transition(posting).await?;
                store.append(answer(key)).await?;
                store.transition(posted).await?;
                transactions += 5;
            }
        }
        Calls::Batch(size) => {
            for chunk in keys.chunks(size) {
                store
                    .intake_many(chunk.iter().map(|k| intake_of(k, read_at)).collect())
                    .await?;
                let mut steps: [Vec<Transition>; 3] = Default::default();
                for key in chunk {
                    for (step, transition) in steps.iter_mut().zip(moves(key)) {
                        step.push(transition);
                    }
                }
                let [mapped, posting, posted] = steps;
                for result in store.transition_many(mapped).await? {
                    result?;
                }
                for result in store.transition_many(posting).await? {
                    result?;
                }
                store
                    .append_many(chunk.iter().map(answer).collect())
                    .await?;
                for result in store.transition_many(posted).await? {
                    result?;
                }
                transactions += 5;
            }
        }
    }
    let wall = started.elapsed();
    let cpu_seconds = process_cpu_seconds() - cpu_before;
    let posted = store
        .counts(Some(&connection))
        .await?
        .get(RecordState::Posted);
    if usize::try_from(posted).ok() != Some(records) {
        return Err(format!("{posted} of {records} records ended posted").into());
    }
    Ok(Figures {
        wall,
        cpu_seconds,
        transactions,
    })
}

fn print_row(store: &str, calls: Calls, records: usize, figures: &Figures) {
    let per_record = |seconds: f64| seconds * 1e6 / records as f64;
    let calls = match calls {
        Calls::Single => "single".to_owned(),
        Calls::Batch(n) => format!("batch {n}"),
    };
    println!(
        "{store:<10} {calls:<9} {records:>8} {transactions:>13} {wall:>9.2} {wall_per:>14.0} {cpu:>9.2} {cpu_per:>13.0}",
        transactions = figures.transactions,
        wall = figures.wall.as_secs_f64(),
        wall_per = per_record(figures.wall.as_secs_f64()),
        cpu = figures.cpu_seconds,
        cpu_per = per_record(figures.cpu_seconds),
    );
}

async fn bench_sqlite(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("ml-connector-store-bench-{}", std::process::id()));
    for calls in [Calls::Single, Calls::Batch(args.batch)] {
        let _ = std::fs::remove_dir_all(&dir);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = SqliteStore::open(dir.join("state.db"), clock).await?;
        let figures = run(&store, args.records, calls).await;
        store.close().await;
        print_row("sqlite", calls, args.records, &figures?);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

async fn bench_postgres(args: &Args, url: String) -> Result<(), Box<dyn std::error::Error>> {
    for calls in [Calls::Single, Calls::Batch(args.batch)] {
        let schema = format!("store_bench_{}", std::process::id());
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let options = PostgresOptions::new(SecretString::from(url.clone())).schema(&schema);
        let store = PostgresStore::open(options, clock).await?;
        let figures = run(&store, args.records, calls).await;
        store.close().await;
        let mut conn = sqlx::PgConnection::connect(&url).await?;
        sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        print_row("postgres", calls, args.records, &figures?);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    println!(
        "{} records, each: 1 intake, 3 moves, 1 appended answer (5 audit entries); batches of {}",
        args.records, args.batch
    );
    println!(
        "{:<10} {:<9} {:>8} {:>13} {:>9} {:>14} {:>9} {:>13}",
        "store",
        "calls",
        "records",
        "transactions",
        "wall s",
        "wall/record µs",
        "CPU s",
        "CPU/record µs"
    );
    bench_sqlite(&args).await?;
    match std::env::var("ML_CONNECTOR_TEST_POSTGRES_URL") {
        Ok(url) => bench_postgres(&args, url).await?,
        Err(_) => println!("(PostgreSQL skipped: ML_CONNECTOR_TEST_POSTGRES_URL is not set)"),
    }
    Ok(())
}
