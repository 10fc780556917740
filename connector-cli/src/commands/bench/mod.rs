//! `bench`: throughput, cost and correctness of the connector on a seeded backlog.
//!
//! The simulators run in a child process of this binary (`bench --serve-simulators`), so the CPU
//! time and memory read from `/proc` are the connector's alone. The connector runs in this process,
//! or, for `--chaos-kills`, as child processes (`bench --worker`) killed with SIGKILL at random
//! moments. When the backlog is drained, the simulated SYSPRO ledger is compared with the simulated
//! shop's orders, and the call counts and SYSPRO's simulated busy time are read from the
//! simulators' `/__sim/` APIs. `docs/benchmark.md` explains every figure.

mod chaos;
mod check;
mod drive;
mod floor;
mod setup;
mod sims;
mod usage;

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use connector_core::state::{ConnectionName, EntityKind};
use connector_core::vault::{FileVault, MasterKey, SecretStore};
use serde_json::{Value, json};
use simulators::storm::FaultPreset;
use tokio::time::Instant;

use crate::cli::BenchArgs;
use crate::context::{Context, load_config, open_store};
use crate::failure::{Reported, usage as usage_error};

use check::{LedgerCheck, RecordCheck};
use setup::CONNECTION;

/// What the connector used and how its run ended.
#[derive(Debug, Default)]
struct RunFigures {
    usage: usage::Usage,
    cycles: u64,
    failed_cycles: u64,
    drained: bool,
    kills: u32,
    processes: u32,
}

/// Runs `bench`.
pub async fn bench(ctx: &Context, args: &BenchArgs) -> anyhow::Result<()> {
    if args.serve_simulators {
        return sims::serve(args).await;
    }
    if args.worker {
        return chaos::worker(ctx, args).await;
    }
    if args.orders == 0 {
        return Err(usage_error("--orders must be at least 1"));
    }
    if args.floor {
        return floor::floor(ctx, args).await;
    }
    let preset = sims::preset(args)?;
    let (dir, temporary) = match &args.dir {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!(
                "ml-connector-bench-{}-{}",
                std::process::id(),
                args.seed
            )),
            true,
        ),
    };
    if dir.join("ml-connector.db").exists() {
        return Err(usage_error(format!(
            "{} already holds a bench database; use a new --dir so the backlog starts empty",
            dir.display()
        )));
    }
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the bench folder {}", dir.display()))?;
    let result = run(ctx, args, preset, &dir).await;
    match (&result, temporary) {
        (Ok(_), true) => {
            let _ = std::fs::remove_dir_all(&dir);
        }
        (Err(_), true) => eprintln!("bench files kept in {}", dir.display()),
        _ => {}
    }
    let report = result?;
    if ctx.out.json {
        ctx.out.print_json(&report)?;
    } else {
        print_human(ctx, &report, &dir, temporary);
    }
    if passed(&report) {
        Ok(())
    } else {
        Err(Reported.into())
    }
}

/// Whether the run drained and every correctness count is right.
fn passed(report: &Value) -> bool {
    let n = |k: &str| report[k].as_u64().unwrap_or(u64::MAX);
    report["drained"].as_bool() == Some(true)
        && [
            "duplicates",
            "missing",
            "amount_mismatches",
            "unbalanced_journals",
        ]
        .iter()
        .all(|k| n(k) == 0)
        && n("halted") == n("expected_halted")
        && n("posted") + n("expected_halted") == n("orders")
}

async fn run(
    ctx: &Context,
    args: &BenchArgs,
    preset: FaultPreset,
    dir: &std::path::Path,
) -> anyhow::Result<Value> {
    let storm = preset == FaultPreset::Storm;
    // Under the storm, customers missing from SYSPRO must halt, so creation is off.
    let create_customers = !storm;
    let sims = sims::SimProcess::start(args).await?;
    let info = sims.info.clone();
    let files = setup::write(dir, &info, create_customers, Arc::clone(&ctx.clock)).await?;
    let http = reqwest::Client::new();
    post(&http, format!("{}/__sim/calls/reset", info.commerce_url)).await?;
    post(&http, format!("{}/__sim/stats/reset", info.syspro_url)).await?;
    let expected_halted =
        check::expected_halted(&http, &info.commerce_url, create_customers).await?;
    let expected_posted = args.orders.saturating_sub(expected_halted.len());

    let store = open_store(&files.database, Arc::clone(&ctx.clock)).await?;
    let name = ConnectionName::new(CONNECTION)?;
    let progress = drive::Progress::start(
        store.clone(),
        name.clone(),
        expected_posted,
        !ctx.out.json && std::io::stderr().is_terminal(),
    );
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let started = Instant::now();
    let figures = if args.chaos_kills > 0 {
        let c = chaos::run(args, &files, dir, &store, expected_posted as u64, deadline).await;
        c.map(|c| RunFigures {
            usage: c.usage,
            cycles: c.cycles,
            failed_cycles: c.failed_cycles,
            drained: c.drained,
            kills: c.kills,
            processes: c.processes,
        })
    } else {
        in_process(ctx, &files, &store, &name, deadline).await
    };
    let wall = started.elapsed();
    progress.stop().await;
    let figures = figures?;

    let commerce_calls: BTreeMap<String, u64> =
        get(&http, format!("{}/__sim/calls", info.commerce_url)).await?;
    let commerce_calls: u64 = commerce_calls
        .iter()
        .filter(|(k, _)| !k.contains("/__sim"))
        .map(|(_, n)| n)
        .sum();
    let stats: Value = get(&http, format!("{}/__sim/stats", info.syspro_url)).await?;
    let syspro_calls: u64 = stats["endpoint_calls"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(_, n)| n.as_u64())
        .sum();
    let busy_ms: u64 = stats["operators"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(_, o)| o["busy_ms"].as_u64())
        .sum();

    let kind = EntityKind::Order;
    let audit = args.chaos_kills > 0 || storm;
    let records = RecordCheck::read(&store, &name, kind, audit).await?;
    let customers = RecordCheck::read(&store, &name, EntityKind::Customer, false).await?;
    let ledger = LedgerCheck::read(&info.commerce_url, &info.syspro_url, create_customers).await?;
    drop(sims);

    let wall_seconds = wall.as_secs_f64();
    #[allow(clippy::cast_precision_loss)] // milliseconds and counts stay far below 2^52
    let (busy_seconds, orders) = (busy_ms as f64 / 1000.0, ledger.orders as f64);
    let per_order = |x: f64| if orders > 0.0 { x / orders } else { 0.0 };
    let halted_unexpected = records.halted.difference(&ledger.expected_halted).count();
    let expected_not_halted = ledger.expected_halted.difference(&records.halted).count();
    #[allow(clippy::cast_precision_loss)]
    let mut report = json!({
        "orders": ledger.orders,
        "posted": records.posted,
        "halted": records.halted.len(),
        "expected_halted": ledger.expected_halted.len(),
        "halted_unexpected": halted_unexpected,
        "expected_not_halted": expected_not_halted,
        "dead": records.dead,
        "open": records.open,
        "drained": figures.drained,
        "customer_records_posted": customers.posted,
        "customer_records_halted": customers.halted.len(),
        "customer_records_open": customers.open,
        "on_ledger": ledger.on_ledger,
        "duplicates": ledger.duplicates(),
        "duplicate_invoices": ledger.duplicate_invoices,
        "duplicate_journals": ledger.duplicate_journals,
        "missing": ledger.missing(),
        "missing_invoices": ledger.missing_invoices,
        "missing_journals": ledger.missing_journals,
        "amount_mismatches": ledger.amount_mismatches,
        "unbalanced_journals": ledger.unbalanced_journals,
        "unexpected_invoices": ledger.unexpected_invoices,
        "audit_incomplete": records.audit_incomplete,
        "wall_seconds": wall_seconds,
        "syspro_busy_seconds": busy_seconds,
        "ratio_to_bound": if busy_seconds > 0.0 { json!(wall_seconds / busy_seconds) } else { Value::Null },
        "commerce_calls": commerce_calls,
        "syspro_calls": syspro_calls,
        "commerce_calls_per_order": per_order(commerce_calls as f64),
        "syspro_calls_per_order": per_order(syspro_calls as f64),
        "connector_cpu_seconds": figures.usage.cpu_seconds,
        "connector_cpu_us_per_order": per_order(figures.usage.cpu_seconds * 1e6),
        "peak_rss_bytes": figures.usage.peak_rss_bytes,
        "cycles": figures.cycles,
        "failed_cycles": figures.failed_cycles,
        "chaos_kills": figures.kills,
        "connector_processes": figures.processes.max(1),
        "faults": preset.as_str(),
        "latency_ms": args.latency_ms,
        "item_latency_ms": args.item_latency_ms,
        "seed": args.seed,
    });
    report["syspro_calls_by_business_object"] = stats["business_object_calls"].clone();
    Ok(report)
}

/// The connector in this process: CPU time is the difference over the run, memory the peak.
async fn in_process(
    ctx: &Context,
    files: &setup::Files,
    store: &connector_core::state::SqliteStore,
    name: &ConnectionName,
    deadline: Instant,
) -> anyhow::Result<RunFigures> {
    let before = usage::own().unwrap_or_default();
    let config = load_config(&files.config)?;
    let connection = config
        .connection(CONNECTION)
        .context("the bench configuration lost its connection")?;
    let vault = FileVault::new(
        &files.vault,
        MasterKey::from_file(&files.key)?,
        Arc::clone(&ctx.clock),
    );
    let vault: Arc<dyn SecretStore> = Arc::new(vault);
    let engine = drive::engine(ctx, connection, store, vault).await?;
    let drained = drive::drain(&engine, store, name, deadline).await;
    engine.close().await;
    let drained = drained?;
    let after = usage::own().unwrap_or_default();
    Ok(RunFigures {
        usage: usage::Usage {
            cpu_seconds: after.cpu_seconds - before.cpu_seconds,
            peak_rss_bytes: after.peak_rss_bytes,
        },
        cycles: drained.cycles,
        failed_cycles: drained.failed_cycles,
        drained: drained.drained,
        kills: 0,
        processes: 1,
    })
}

async fn post(http: &reqwest::Client, url: String) -> anyhow::Result<()> {
    http.post(&url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("cannot call {url}"))?;
    Ok(())
}

async fn get<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: String,
) -> anyhow::Result<T> {
    http.get(&url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("cannot read {url}"))?
        .json()
        .await
        .with_context(|| format!("{url} answered unexpected JSON"))
}

fn print_human(ctx: &Context, r: &Value, dir: &std::path::Path, temporary: bool) {
    let out = &ctx.out;
    let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
    let n = |k: &str| {
        r[k].as_u64()
            .map_or_else(|| "-".to_owned(), |v| v.to_string())
    };
    println!(
        "{} {}",
        out.mark(passed(r)),
        out.bold(&format!(
            "ml-connector bench: {} orders, latency {} ms (+{} ms per SYSPRO item), faults {}",
            n("orders"),
            n("latency_ms"),
            n("item_latency_ms"),
            r["faults"].as_str().unwrap_or("none")
        ))
    );
    println!("  correctness");
    println!(
        "    posted              {} (halted {}, expected to halt {}, dead {}, still open {})",
        n("posted"),
        n("halted"),
        n("expected_halted"),
        n("dead"),
        n("open")
    );
    println!(
        "    duplicates          {} (invoices {}, journals {})",
        n("duplicates"),
        n("duplicate_invoices"),
        n("duplicate_journals")
    );
    println!(
        "    missing             {} (invoices {}, journals {})",
        n("missing"),
        n("missing_invoices"),
        n("missing_journals")
    );
    println!("    amount mismatches   {}", n("amount_mismatches"));
    println!("    unbalanced journals {}", n("unbalanced_journals"));
    if !r["audit_incomplete"].is_null() {
        println!("    audit incomplete    {}", n("audit_incomplete"));
    }
    println!(
        "    customer records    {} posted, {} halted, {} still open",
        n("customer_records_posted"),
        n("customer_records_halted"),
        n("customer_records_open")
    );
    println!("  time");
    println!("    wall                {:.2} s", f("wall_seconds"));
    println!(
        "    SYSPRO busy         {:.2} s (ratio {:.3})",
        f("syspro_busy_seconds"),
        f("ratio_to_bound")
    );
    println!("  cost");
    println!(
        "    Commerce calls      {} ({:.4} per order)",
        n("commerce_calls"),
        f("commerce_calls_per_order")
    );
    println!(
        "    SYSPRO calls        {} ({:.4} per order)",
        n("syspro_calls"),
        f("syspro_calls_per_order")
    );
    println!(
        "    connector CPU       {:.2} s ({:.1} us per order)",
        f("connector_cpu_seconds"),
        f("connector_cpu_us_per_order")
    );
    #[allow(clippy::cast_precision_loss)]
    let mib = r["peak_rss_bytes"].as_u64().unwrap_or(0) as f64 / (1024.0 * 1024.0);
    println!("    peak RSS            {mib:.1} MiB");
    if r["chaos_kills"].as_u64().unwrap_or(0) > 0 {
        println!(
            "  chaos: {} kills over {} connector processes",
            n("chaos_kills"),
            n("connector_processes")
        );
    }
    if !temporary {
        println!("  files: {}", PathBuf::from(dir).display());
    }
}
