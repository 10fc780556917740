//! Measures how fast the engine drains a backlog: starts both simulators in-process with per-call
//! latency, seeds `--orders` orders, runs poll cycles on an SQLite store in a temporary directory
//! until nothing is left to do, and prints wall time, SYSPRO busy time, their ratio, calls per
//! order on each side, CPU time and peak memory.
//!
//! ```sh
//! cargo run --release -p connector-core --example throughput -- --orders 2000
//! cargo run --release -p connector-core --example throughput -- --orders 2000 --trigger order
//! ```
//!
//! Flags: `--orders N` (2000), `--latency-ms MS` per call on both systems (20),
//! `--item-latency-ms MS` per SYSPRO document item (1), `--trigger invoice|order` (invoice),
//! `--batch-size N` (50), `--page-size N` (100), `--seed N` (7).
//!
//! The simulators run on their own runtime, whose threads are named `sim-*`, so the CPU time of the
//! connector (engine, HTTP clients, SQLite) is told apart from theirs by thread. Peak memory
//! (`VmHWM`) is the whole process's; the figure after seeding the simulators is printed beside it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use connector_core::clock::{Clock, SystemClock};
use connector_core::config::Config;
use connector_core::engine::{CycleSummary, Engine, EngineOptions};
use connector_core::state::SqliteStore;
use secrecy::SecretString;
use simulators::commerce::CommerceSimConfig;
use simulators::syspro::SysproSimConfig;
use simulators::{SimConfig, Sims};

struct Args {
    orders: usize,
    latency_ms: u64,
    item_latency_ms: u64,
    trigger: String,
    batch_size: u32,
    page_size: u32,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        orders: 2000,
        latency_ms: 20,
        item_latency_ms: 1,
        trigger: "invoice".to_owned(),
        batch_size: 50,
        page_size: 100,
        seed: 7,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} expects a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag} expects a number, not {value:?}"))
        };
        match flag.as_str() {
            "--orders" => args.orders = usize::try_from(number()?).map_err(|e| e.to_string())?,
            "--latency-ms" => args.latency_ms = number()?,
            "--item-latency-ms" => args.item_latency_ms = number()?,
            "--batch-size" => {
                args.batch_size = u32::try_from(number()?).map_err(|e| e.to_string())?
            }
            "--page-size" => {
                args.page_size = u32::try_from(number()?).map_err(|e| e.to_string())?
            }
            "--seed" => args.seed = number()?,
            "--trigger" if value == "invoice" || value == "order" => {
                args.trigger.clone_from(&value)
            }
            _ => return Err(format!("unknown flag or value: {flag} {value}")),
        }
    }
    Ok(args)
}

/// CPU seconds (user + system) of this process's threads, split by whether the thread's name
/// starts with `sim-`.
fn cpu_by_thread() -> (f64, f64) {
    // Linux reports these in clock ticks of 1/100 s on every common configuration.
    const TICKS_PER_SECOND: f64 = 100.0;
    let mut simulators = 0.0;
    let mut connector = 0.0;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (0.0, 0.0);
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ...`: the name may hold spaces, so split after the last ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = &stat[open + 1..close];
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        // Fields after the name start at `state` (field 3): utime is field 14, stime field 15.
        let ticks = |i: usize| fields.get(i - 3).and_then(|f| f.parse::<f64>().ok());
        let seconds = (ticks(14).unwrap_or(0.0) + ticks(15).unwrap_or(0.0)) / TICKS_PER_SECOND;
        if name.starts_with("sim-") {
            simulators += seconds;
        } else {
            connector += seconds;
        }
    }
    (connector, simulators)
}

/// A `Vm*` line of `/proc/self/status`, in MiB.
fn vm_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(field)?.strip_prefix(':')?;
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn connection_toml(sims: &Sims, args: &Args) -> String {
    let creds = sims.syspro.credentials();
    format!(
        r#"
[[connection]]
name = "bench"
trigger = "{trigger}"
batch_size = {batch_size}
max_attempts = 3
overlap = "5m"

[connection.commerce]
base_url = "{commerce}"
flavour = "paas"
page_size = {page_size}

[connection.commerce.auth]
kind = "oauth1"

[connection.commerce.auth.secrets]
consumer_key = "commerce-ck"
consumer_secret = "commerce-cs"
access_token = "commerce-at"
access_token_secret = "commerce-ats"

[[connection.commerce.stores]]
code = "web"
id = 1

[[connection.commerce.stores]]
code = "marketplace"
id = 2

[[connection.commerce.stores]]
code = "b2b"
id = 3

[connection.syspro]
enet_url = "{enet}"
company_id = "{company}"
operator = "{operator}"

[connection.syspro.secrets]
operator_password = "syspro-op"
company_password = "syspro-co"

[connection.mapping]
currencies = ["USD", "EUR"]
clearing_product_class = "ECOM"

[connection.mapping.customers.create]
enabled = true
terms_code = "00"

[connection.mapping.stores.web]
invoice_prefix = "W"
branch = "WB"
cash_customer = "WEBCASH"

[connection.mapping.stores.marketplace]
invoice_prefix = "M"
branch = "MK"
cash_customer = "MKTCASH"

[connection.mapping.stores.b2b]
invoice_prefix = "B"
branch = "B2"
cash_customer = "B2BCASH"

[connection.mapping.accounts]
clearing = "00-4999"
freight = "00-4100"
discount = "00-4200"
tax_posting = "syspro"
rounding = "00-9999"

[[connection.mapping.revenue]]
sku_prefix = "AP-"
account = "00-4010"

[[connection.mapping.revenue]]
sku_prefix = "HW-"
account = "00-4010"

[[connection.mapping.revenue]]
sku_prefix = "GR-"
account = "00-4010"

[[connection.mapping.revenue]]
sku_prefix = "SV-"
account = "00-4010"

[[connection.mapping.revenue]]
sku_prefix = "CLR-"
account = "00-4010"
"#,
        trigger = args.trigger,
        batch_size = args.batch_size,
        page_size = args.page_size,
        commerce = sims.commerce.base_url(),
        enet = sims.syspro.enet_url(),
        company = creds.company_id,
        operator = creds.operator,
    )
}

fn add(total: &mut CycleSummary, cycle: &CycleSummary) {
    total.read += cycle.read;
    total.intake_new += cycle.intake_new;
    total.posted += cycle.posted;
    total.halted.extend(cycle.halted.iter().cloned());
    total.retried += cycle.retried;
    total.dead += cycle.dead;
    total.customers_created += cycle.customers_created;
    total.errors.extend(cycle.errors.iter().cloned());
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let sim_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("sim-runtime")
        .enable_all()
        .build()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("connector")
        .enable_all()
        .build()?;

    let latency = Duration::from_millis(args.latency_ms);
    let mut config = SimConfig::new(args.seed, args.orders, latency);
    config.commerce = CommerceSimConfig {
        seed: args.seed,
        orders: args.orders,
        invoiced_share: 1.0,
        unmapped_sku_share: 0.0,
        webhooks_on_change: false,
        ..CommerceSimConfig::default()
    };
    config.commerce.faults.latency_ms = args.latency_ms;
    config.syspro = SysproSimConfig {
        seed: args.seed,
        latency,
        item_latency: Duration::from_millis(args.item_latency_ms),
        history_invoices: 0,
        ..SysproSimConfig::default()
    };
    let sims = sim_runtime.block_on(Sims::start(config))?;
    let rss_after_seeding = vm_mib("VmRSS");
    let toml = connection_toml(&sims, &args);
    let creds = sims.syspro.credentials();
    let oauth = sims.commerce.oauth();
    let dir = std::env::temp_dir().join(format!("ml-connector-throughput-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    let outcome = runtime.block_on(async {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = Arc::new(SqliteStore::open(dir.join("state.db"), clock.clone()).await?);
        let connection = Config::from_toml_str(&toml, "throughput.toml")?
            .connections
            .remove(0);
        let secrets = [
            ("commerce-ck", oauth.consumer_key),
            ("commerce-cs", oauth.consumer_secret),
            ("commerce-at", oauth.access_token),
            ("commerce-ats", oauth.access_token_secret),
            ("syspro-op", creds.operator_password),
            ("syspro-co", creds.company_password),
        ]
        .map(|(name, value)| (name.to_owned(), SecretString::from(value)));
        let engine = Engine::builder(connection, store.clone(), store.clone(), clock.clone())
            .resolved_secrets(secrets)
            .options(EngineOptions {
                holder: "throughput".to_owned(),
                ..EngineOptions::default()
            })
            .build()
            .await?;
        sims.syspro.reset_counters();
        let commerce_before: u64 = sims.commerce.call_counts().values().sum();
        let (cpu_before, sim_cpu_before) = cpu_by_thread();
        let started = clock.now();
        let mut total = CycleSummary::default();
        let mut cycles = 0;
        loop {
            let summary = engine.run_cycle().await?;
            cycles += 1;
            add(&mut total, &summary);
            eprintln!(
                "cycle {cycles}: read {} new {} posted {} halted {} retried {} errors {} in {:?}",
                summary.read,
                summary.intake_new,
                summary.posted,
                summary.halted.len(),
                summary.retried,
                summary.errors.len(),
                summary.duration
            );
            if !summary.had_work() || cycles >= 20 {
                break;
            }
        }
        let wall = clock.now() - started;
        let (cpu_after, sim_cpu_after) = cpu_by_thread();
        engine.close().await;
        let counts = engine.record_counts().await?;
        store.close().await;
        Ok::<_, Box<dyn std::error::Error>>((
            wall,
            total,
            cycles,
            cpu_after - cpu_before,
            sim_cpu_after - sim_cpu_before,
            commerce_before,
            counts,
        ))
    });
    let (wall, total, cycles, cpu, sim_cpu, commerce_before, counts) = outcome?;
    let stats = sims.syspro.stats();
    let busy = sims.syspro.busy_time(&creds.operator);
    let commerce_calls: BTreeMap<String, u64> = sims.commerce.call_counts();
    let commerce_total = commerce_calls.values().sum::<u64>() - commerce_before;
    let syspro_total: u64 = stats.endpoint_calls.values().sum();
    sim_runtime.block_on(sims.shutdown());
    let _ = std::fs::remove_dir_all(&dir);

    let wall_s = wall.as_seconds_f64();
    let orders = args.orders as f64;
    println!("orders                 {}", args.orders);
    println!("trigger                {}", args.trigger);
    println!("cycles                 {cycles}");
    println!(
        "records                posted {} halted {} retried {} dead {}; by state {counts:?}",
        total.posted,
        total.halted.len(),
        total.retried,
        total.dead
    );
    println!("customers created      {}", total.customers_created);
    println!("wall                   {wall_s:.2} s");
    println!("syspro busy            {:.2} s", busy.as_secs_f64());
    println!(
        "ratio_to_bound         {:.3}",
        wall_s / busy.as_secs_f64().max(f64::EPSILON)
    );
    println!(
        "syspro calls / order   {:.4} ({syspro_total} calls)",
        syspro_total as f64 / orders
    );
    println!(
        "commerce calls / order {:.4} ({commerce_total} calls)",
        commerce_total as f64 / orders
    );
    println!(
        "connector cpu / order  {:.1} us ({cpu:.2} s; simulators {sim_cpu:.2} s)",
        cpu * 1e6 / orders
    );
    println!(
        "peak rss               {:.1} MiB (process; {rss_after_seeding:.1} MiB after seeding the simulators)",
        vm_mib("VmHWM")
    );
    println!("syspro calls           {:?}", stats.business_object_calls);
    println!("commerce calls         {commerce_calls:?}");
    if !total.errors.is_empty() {
        println!(
            "errors                 {:?}",
            &total.errors[..total.errors.len().min(5)]
        );
    }
    if !total.halted.is_empty() {
        println!(
            "halted (first 3)       {:?}",
            &total.halted[..total.halted.len().min(3)]
        );
    }
    Ok(())
}
