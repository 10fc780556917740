//! `bench --floor`: what the steps every order needs cost on this machine, at the least, measured
//! on the orders of the same seeded shop a bench run drains. Each step runs alone over every order,
//! three times, and the fastest pass counts. The steps in memory are single-threaded computation,
//! timed by the clock (so the figures hold on an otherwise idle machine); the durable copy is timed by the process's CPU time (`/proc/self/stat`, in
//! hundredths of a second), over [`COPY_ROWS`] rows (100 per order for a shop of fewer than 100
//! orders), so that at 100 orders or more its tick is at most 1 µs a row.
//! The steps:
//!
//! * reading the order's JSON without keeping anything (`serde::de::IgnoredAny`);
//! * decoding it into the Commerce SDK's `Order`, which mapping needs;
//! * decoding it into a JSON value, for comparison (the connector does not);
//! * its fingerprint as the connector takes it, which tells a change from a re-read: the decoded
//!   `Order` rendered to canonical JSON (the text it stores), and SHA-256 of that text;
//! * keeping a durable copy: one row per order in a bare SQLite table (WAL, `synchronous = FULL`,
//!   one commit per batch of 50), with no index, no audit entry and no state; and the same copy
//!   compressed as the SQLite store keeps large documents (LZ4, compression timed with it). The
//!   floor takes the cheaper of the two.
//!
//! The connector does each of these for every order, and more besides (mapping, rendering the
//! SYSPRO documents, state moves and audit entries), so their sum is a lower bound of its CPU time
//! per order that no tuning of the rest can go below.

use std::time::Duration;

use adobe_commerce_client::models::Order;
use anyhow::Context as _;
use connector_core::state::stored_text::StoredText;
use connector_core::state::{Fingerprint, Payload};
use serde::de::IgnoredAny;
use serde_json::{Value, json};
use simulators::{SimConfig, Sims};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions as _, Connection as _};
use time::macros::datetime;

use super::usage;
use crate::cli::BenchArgs;
use crate::context::Context;

/// Orders per commit of the durable copy: the connector's default batch size.
const PER_COMMIT: usize = 50;
/// Passes of each step; the fastest counts, as the least the step can cost.
const PASSES: usize = 3;
/// Rows the durable copy writes, going over the orders again when there are fewer.
const COPY_ROWS: usize = 10_000;

/// Runs `bench --floor`.
pub async fn floor(ctx: &Context, args: &BenchArgs) -> anyhow::Result<()> {
    let texts = seeded_orders(args).await?;
    let average_bytes = texts.iter().map(String::len).sum::<usize>() / texts.len();
    let dir = tempdir(args)?;
    let result = measure(&texts, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    let steps = result?;
    let us = |key: &str| steps.iter().find(|(k, _)| *k == key).map_or(0.0, |s| s.1);
    let copy = us("durable_copy").min(us("durable_copy_compressed"));
    let floor = us("decode_order") + us("fingerprint") + copy;
    let mut report = json!({
        "orders": texts.len(),
        "average_order_bytes": average_bytes,
        "floor_micros_per_order": round(floor),
    });
    for (key, micros) in &steps {
        report[format!("{key}_micros_per_order")] = json!(round(*micros));
    }
    if ctx.out.json {
        ctx.out.print_json(&report)?;
        return Ok(());
    }
    println!(
        "bench --floor: {} seeded orders (seed {}), {average_bytes} bytes of JSON each on average",
        texts.len(),
        args.seed,
    );
    println!("  time per order of the steps every order needs, fastest of {PASSES} passes");
    let lines = [
        ("read the JSON, keeping nothing", "read_json"),
        ("decode into the SDK's Order", "decode_order"),
        ("(decode into a JSON value instead)", "decode_value"),
        ("render canonical JSON, SHA-256", "fingerprint"),
        ("durable copy (SQLite, 50 per commit)", "durable_copy"),
        ("durable copy, compressed (LZ4)", "durable_copy_compressed"),
    ];
    for (label, key) in lines {
        println!("    {label:<40}{:>8.1} µs", us(key));
    }
    println!(
        "  {:<42}{floor:>8.1} µs",
        "floor (decode, fingerprint, cheaper copy)"
    );
    Ok(())
}

fn round(micros: f64) -> f64 {
    (micros * 10.0).round() / 10.0
}

/// The orders of the shop `bench` would seed with the same `--orders` and `--seed`, each as the
/// compact JSON text of one order.
async fn seeded_orders(args: &BenchArgs) -> anyhow::Result<Vec<String>> {
    let sims = Sims::start(SimConfig::new(args.seed, args.orders, Duration::ZERO))
        .await
        .context("cannot start the simulators on 127.0.0.1")?;
    let url = format!("{}/__sim/orders", sims.commerce.base_url());
    let orders = async {
        reqwest::get(&url)
            .await?
            .error_for_status()?
            .json::<Vec<Value>>()
            .await
    }
    .await
    .with_context(|| format!("cannot read the seeded orders from {url}"));
    sims.shutdown().await;
    let texts = orders?
        .iter()
        .map(serde_json::to_string)
        .collect::<Result<Vec<_>, _>>()?;
    anyhow::ensure!(!texts.is_empty(), "the simulated shop holds no orders");
    Ok(texts)
}

fn tempdir(args: &BenchArgs) -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "ml-connector-floor-{}-{}",
        std::process::id(),
        args.seed
    ));
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the folder {}", dir.display()))?;
    Ok(dir)
}

/// Microseconds per order of each step (the fastest of [`PASSES`]).
async fn measure(
    texts: &[String],
    dir: &std::path::Path,
) -> anyhow::Result<Vec<(&'static str, f64)>> {
    #[allow(clippy::cast_precision_loss)] // counts stay far below 2^52
    let per_order = |seconds: f64, n: usize| seconds * 1e6 / n as f64;
    let n = texts.len();
    let read_json = fastest(|| {
        for text in texts {
            serde_json::from_str::<IgnoredAny>(text)?;
        }
        Ok(())
    })?;
    let decode_order = fastest(|| {
        for text in texts {
            std::hint::black_box(serde_json::from_str::<Order>(text)?);
        }
        Ok(())
    })?;
    let decode_value = fastest(|| {
        for text in texts {
            std::hint::black_box(serde_json::from_str::<Value>(text)?);
        }
        Ok(())
    })?;
    // Each order is decoded untimed, one at a time, so the shop is never held decoded whole.
    let at = datetime!(2026-01-01 00:00 UTC);
    let mut fingerprint = f64::INFINITY;
    for _ in 0..PASSES {
        let mut spent = 0.0;
        for text in texts {
            let order: Order = serde_json::from_str(text)?;
            let started = tokio::time::Instant::now();
            let payload = Payload::rendered(&order);
            std::hint::black_box(Fingerprint::of_rendered("1", at, payload.json_text()));
            spent += started.elapsed().as_secs_f64();
        }
        fingerprint = fingerprint.min(spent);
    }
    let rows = COPY_ROWS.min(n.saturating_mul(100)).max(n);
    let mut copy = f64::INFINITY;
    let mut compressed = f64::INFINITY;
    for pass in 0..PASSES {
        let path = dir.join(format!("copy-{pass}.db"));
        copy = copy.min(durable_copy(texts, rows, &path, false).await?);
        let path = dir.join(format!("compressed-{pass}.db"));
        compressed = compressed.min(durable_copy(texts, rows, &path, true).await?);
    }
    Ok(vec![
        ("read_json", per_order(read_json, n)),
        ("decode_order", per_order(decode_order, n)),
        ("decode_value", per_order(decode_value, n)),
        ("fingerprint", per_order(fingerprint, n)),
        ("durable_copy", per_order(copy, rows)),
        ("durable_copy_compressed", per_order(compressed, rows)),
    ])
}

/// The least time in seconds `step` takes in [`PASSES`] runs.
fn fastest(mut step: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..PASSES {
        let started = tokio::time::Instant::now();
        step()?;
        best = best.min(started.elapsed().as_secs_f64());
    }
    Ok(best)
}

fn cpu_seconds() -> anyhow::Result<f64> {
    usage::own()
        .map(|u| u.cpu_seconds)
        .context("cannot read this process's CPU time from /proc/self/stat")
}

/// CPU seconds to write `rows` rows (the orders in turn) into a new SQLite file at `path`,
/// [`PER_COMMIT`] per commit; `compress`ed as the SQLite store keeps large documents.
async fn durable_copy(
    texts: &[String],
    rows: usize,
    path: &std::path::Path,
    compress: bool,
) -> anyhow::Result<f64> {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .connect()
        .await
        .with_context(|| format!("cannot open {}", path.display()))?;
    sqlx::query("CREATE TABLE copies (id INTEGER PRIMARY KEY, body NOT NULL)")
        .execute(&mut conn)
        .await?;
    let before = cpu_seconds()?;
    let mut row = 0;
    while row < rows {
        let mut tx = conn.begin().await?;
        for _ in 0..PER_COMMIT.min(rows - row) {
            sqlx::query("INSERT INTO copies (id, body) VALUES (?, ?)")
                .bind(i64::try_from(row)?)
                .bind(if compress {
                    StoredText::of(&texts[row % texts.len()])
                } else {
                    StoredText::Text(&texts[row % texts.len()])
                })
                .execute(&mut *tx)
                .await?;
            row += 1;
        }
        tx.commit().await?;
    }
    let spent = cpu_seconds()? - before;
    conn.close().await?;
    Ok(spent)
}
