//! `demo`: the whole job on built-in simulators, for a first-time user with nothing configured.
//!
//! Both simulators run in this process on loopback. The working folder keeps the configuration,
//! the mapping, the vault, its key and the SQLite database, so a second run continues from the same
//! state: every record already posted stays posted and nothing is sent twice.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use connector_core::engine::CycleSummary;
use connector_core::state::{ConnectionName, EntityKind, RecordFilter, RecordState};
use connector_core::vault::{FileVault, MasterKey, SecretStore};
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde_json::{Value, json};
use simulators::{SimConfig, Sims};

use super::sync::engine;
use crate::cli::DemoArgs;
use crate::context::{Context, load_config, open_store};
use crate::output::Progress;

/// The demo's connection.
const CONNECTION: &str = "demo-shop";

/// The demo mapping, written once so a person can fix it and replay. It uses the simulated shop's
/// three store views (`web`, `marketplace`, `b2b`), its SKU prefixes (`AP-`, `HW-`, `GR-`, `SV-`;
/// the clearance `CLR-` SKUs are deliberately left unmapped) and the simulated SYSPRO company's
/// chart of accounts, product classes, branches and cash customers.
const DEMO_MAPPING: &str = r#"# Mapping of the demo connection. Clearance SKUs (CLR-...) have no revenue rule, so their
# invoices halt. To replay them, add a rule such as
#
#   [[revenue]]
#   sku_prefix = "CLR-"
#   account = "00-4010"
#
# and run `ml-connector demo --replay` with the same --dir.
currencies = ["USD", "EUR"]
clearing_product_class = "ECOM"     # its sales account is 00-4999, the clearing account

[customers]
match_by_email = true

[customers.create]
enabled = true
code_template = "ML{customer_id:06}"
branch = "WB"
terms_code = "00"

[stores.web]
invoice_prefix = "W"
branch = "WB"
cash_customer = "WEBCASH"

[stores.marketplace]
invoice_prefix = "M"
branch = "MK"
cash_customer = "MKTCASH"

[stores.b2b]
invoice_prefix = "B"
branch = "B2"
cash_customer = "B2BCASH"

[accounts]
clearing = "00-4999"
freight = "00-4100"
discount = "00-4200"
tax_posting = "syspro"              # SYSPRO books the ARSTIN TaxValue to 00-2200 itself
rounding = "00-9999"

[[revenue]]
sku_prefix = "AP-"
account = "00-4010"

[[revenue]]
sku_prefix = "HW-"
account = "00-4010"

[[revenue]]
sku_prefix = "GR-"
account = "00-4010"

[[revenue]]
sku_prefix = "SV-"
account = "00-4010"

[[revenue]]
sku_prefix = "AP-"
store = "marketplace"
account = "00-4030"

[[revenue]]
sku_prefix = "HW-"
store = "marketplace"
account = "00-4030"

[[revenue]]
sku_prefix = "GR-"
store = "marketplace"
account = "00-4030"

[[revenue]]
sku_prefix = "SV-"
store = "marketplace"
account = "00-4030"

[[revenue]]
sku_prefix = "AP-"
store = "b2b"
account = "00-4020"

[[revenue]]
sku_prefix = "HW-"
store = "b2b"
account = "00-4020"

[[revenue]]
sku_prefix = "GR-"
store = "b2b"
account = "00-4020"

[[revenue]]
sku_prefix = "SV-"
store = "b2b"
account = "00-4020"
"#;

/// The demo configuration for simulators at these URLs.
fn demo_config(commerce_url: &str, enet_url: &str, odata_url: &str) -> String {
    let connection = simulator_connection(
        CONNECTION,
        commerce_url,
        enet_url,
        odata_url,
        "batch_size = 50",
        "page_size = 100",
    );
    format!(
        r#"# Written by `ml-connector demo` on every run (the simulators get new ports each time).
# The mapping is in mapping.toml beside this file and is kept between runs.

[store]
url = "sqlite://ml-connector.db"

{connection}
[connection.schedule]
min_interval = "30s"
max_interval = "5m"
"#
    )
}

/// One `[[connection]]`, named `name`, to the built-in simulators (their three stores, company `EDU1`, operator
/// `MLCONNECT`, secrets under the vault names `commerce.*` and `syspro.*`), shared by the demo and
/// the bench. `connection_lines` and `commerce_lines` are extra keys of `[[connection]]` and
/// `[connection.commerce]`.
pub(crate) fn simulator_connection(
    name: &str,
    commerce_url: &str,
    enet_url: &str,
    odata_url: &str,
    connection_lines: &str,
    commerce_lines: &str,
) -> String {
    format!(
        r#"[[connection]]
name = "{name}"
mapping_file = "mapping.toml"
{connection_lines}

[connection.commerce]
base_url = "{commerce_url}"
flavour = "paas"
{commerce_lines}

[connection.commerce.auth]
kind = "oauth1"

[connection.commerce.auth.secrets]
consumer_key = "commerce.consumer_key"
consumer_secret = "commerce.consumer_secret"
access_token = "commerce.access_token"
access_token_secret = "commerce.access_token_secret"

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
enet_url = "{enet_url}"
odata_url = "{odata_url}"
company_id = "EDU1"
operator = "MLCONNECT"
# The simulators answer within a second: a post whose answer never came is looked up after 20 s.
call_timeout = "10s"

[connection.syspro.secrets]
operator_password = "syspro.operator_password"
company_password = "syspro.company_password"
odata_password = "syspro.odata_password"
"#
    )
}

/// Runs `demo`.
pub async fn demo(ctx: &Context, args: &DemoArgs) -> anyhow::Result<()> {
    let started = tokio::time::Instant::now();
    let dir = &args.dir;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the demo folder {}", dir.display()))?;
    let sims = Sims::start(SimConfig::new(args.seed, args.orders, Duration::ZERO))
        .await
        .context("cannot start the simulators on 127.0.0.1")?;
    let result = run_demo(ctx, args, dir, &sims, started).await;
    sims.shutdown().await;
    result
}

async fn run_demo(
    ctx: &Context,
    args: &DemoArgs,
    dir: &Path,
    sims: &Sims,
    started: tokio::time::Instant,
) -> anyhow::Result<()> {
    let config_path = dir.join("ml-connector.toml");
    let mapping_path = dir.join("mapping.toml");
    let key_path = dir.join("ml-connector.key");
    std::fs::write(
        &config_path,
        demo_config(
            &sims.commerce.base_url(),
            &sims.syspro.enet_url(),
            &sims.syspro.odata_url(),
        ),
    )
    .with_context(|| format!("cannot write {}", config_path.display()))?;
    if !mapping_path.exists() {
        std::fs::write(&mapping_path, DEMO_MAPPING)
            .with_context(|| format!("cannot write {}", mapping_path.display()))?;
    }
    let key = if key_path.exists() {
        MasterKey::from_file(&key_path)?
    } else {
        connector_core::vault::keygen(&key_path)?
    };
    let vault = FileVault::new(dir.join("ml-connector.vault"), key, Arc::clone(&ctx.clock));
    let name = ConnectionName::new(CONNECTION)?;
    let oauth = sims.commerce.oauth();
    let creds = sims.syspro.credentials();
    for (secret, value) in [
        ("commerce.consumer_key", oauth.consumer_key),
        ("commerce.consumer_secret", oauth.consumer_secret),
        ("commerce.access_token", oauth.access_token),
        ("commerce.access_token_secret", oauth.access_token_secret),
        ("syspro.operator_password", creds.operator_password),
        ("syspro.company_password", creds.company_password),
        ("syspro.odata_password", creds.odata_password),
    ] {
        vault.set(&name, secret, SecretString::from(value)).await?;
    }
    let config = load_config(&config_path)?;
    let connection = config
        .connection(CONNECTION)
        .context("the demo configuration lost its connection")?;
    let store = open_store(&dir.join("ml-connector.db"), Arc::clone(&ctx.clock)).await?;
    let vault: Arc<dyn SecretStore> = Arc::new(vault);
    let engine = engine(ctx, connection, &store, vault).await?;

    let before = documents_by_state(&store, &name).await?;
    let progress = record_progress(
        Progress::wanted(&ctx.out, &ctx.log),
        store.clone(),
        name.clone(),
    );
    let mut total = CycleSummary::default();
    // Cycles until nothing new turns up; the first reads everything, later ones pick up what the
    // first created (customers, then their documents).
    for _ in 0..5 {
        let s = engine.run_cycle().await?;
        let busy = s.intake_new > 0 || s.posted > 0;
        add(&mut total, s);
        if !busy {
            break;
        }
    }
    if args.replay {
        add(&mut total, engine.replay_halted(true, false).await?);
    }
    engine.close().await;
    progress.stop().await;

    let after = documents_by_state(&store, &name).await?;
    let halted = after.halted;
    let documents = after.documents;
    let ledger = Ledger::read(&sims.syspro.base_url()).await?;
    let seconds = started.elapsed().as_secs_f64();
    let config_arg = config_path.display().to_string();
    let summary = json!({
        "dir": dir,
        "config": config_arg,
        "orders": documents,
        "read": total.read,
        "posted": after.posted - before.posted,
        "posted_total": after.posted,
        "posted_before": before.posted,
        "customer_records_synced": total.posted.saturating_sub(after.posted - before.posted),
        "invoices_posted": ledger.invoices,
        "journals_posted": ledger.journals,
        "customers_created": total.customers_created,
        "halted": halted.len(),
        "halted_records": halted.iter().map(|(k, why)| json!({ "record": k, "reason": why })).collect::<Vec<_>>(),
        "duplicates": ledger.duplicates,
        "gl_totals": ledger.gl_totals.iter().map(|(k, v)| (k.clone(), json!(v.to_string()))).collect::<serde_json::Map<_, _>>(),
        "seconds": seconds,
    });
    if ctx.out.json {
        return ctx.out.print_json(&summary);
    }
    let out = &ctx.out;
    println!("{}", out.bold("ml-connector demo"));
    println!("  working folder:      {}", dir.display());
    println!(
        "  Commerce documents:  {documents} ({} read this run)",
        total.read
    );
    println!(
        "  documents posted:    {} this run, {} in all",
        after.posted - before.posted,
        after.posted
    );
    println!(
        "  SYSPRO ledger:       {} AR invoices, {} GL journals",
        ledger.invoices, ledger.journals
    );
    println!("  customers created:   {}", total.customers_created);
    println!("  duplicates:          {}", ledger.duplicates);
    println!("  halted:              {}", halted.len());
    for (key, why) in halted.iter().take(10) {
        println!("    {key}: {why}");
    }
    if halted.len() > 10 {
        println!("    ... and {} more", halted.len() - 10);
    }
    println!("  GL totals (debit +, credit -):");
    for (account, amount) in &ledger.gl_totals {
        println!("    {account}  {amount:>14}");
    }
    println!("  time taken:          {seconds:.1} s");
    println!();
    println!("Look around:");
    println!("  ml-connector --config {config_arg} status");
    println!("  ml-connector --config {config_arg} audit list --status halted");
    if let Some((key, _)) = halted.first() {
        println!("  ml-connector --config {config_arg} audit show {key}");
    }
    println!("Replay the halted records after fixing the mapping:");
    println!(
        "  edit {} (add a revenue rule for the CLR- SKUs), then",
        dir.join("mapping.toml").display()
    );
    println!("  ml-connector demo --dir {} --replay", dir.display());
    Ok(())
}

/// The connection's Commerce documents (invoices and orders, not customers) by state.
struct DocumentStates {
    documents: usize,
    posted: usize,
    /// Record key and reason of each halted document.
    halted: Vec<(String, String)>,
}

async fn documents_by_state(
    store: &dyn connector_core::state::StateStore,
    name: &ConnectionName,
) -> anyhow::Result<DocumentStates> {
    let mut states = DocumentStates {
        documents: 0,
        posted: 0,
        halted: Vec::new(),
    };
    for kind in [EntityKind::Invoice, EntityKind::Order] {
        let mut filter = RecordFilter {
            connection: Some(name.clone()),
            kind: Some(kind),
            limit: 1000,
            ..RecordFilter::default()
        };
        loop {
            let page = store.list(&filter).await?;
            let Some(last) = page.last().map(|r| r.key.clone()) else {
                break;
            };
            states.documents += page.len();
            for record in page {
                match record.state {
                    RecordState::Posted => states.posted += 1,
                    RecordState::Halted => states
                        .halted
                        .push((record.key.to_string(), record.reason.unwrap_or_default())),
                    _ => {}
                }
            }
            filter.after = Some(last);
        }
    }
    Ok(states)
}

fn add(total: &mut CycleSummary, s: CycleSummary) {
    total.read += s.read;
    total.intake_new += s.intake_new;
    total.intake_unchanged += s.intake_unchanged;
    total.posted += s.posted;
    total.customers_created += s.customers_created;
    total.retried += s.retried;
    total.dead += s.dead;
    total.halted.extend(s.halted);
    total.errors.extend(s.errors);
}

/// What the simulated SYSPRO ledger holds, read through its inspection API.
struct Ledger {
    invoices: usize,
    journals: usize,
    /// Commerce references or invoice numbers that appear on more than one AR invoice.
    duplicates: usize,
    /// Net amount per GL account from the AR-to-GL postings and the journals.
    gl_totals: BTreeMap<String, Decimal>,
}

impl Ledger {
    async fn read(base_url: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::new();
        let get = |path: &'static str| {
            let http = http.clone();
            let url = format!("{base_url}/__sim/{path}");
            async move {
                let value: Value = http
                    .get(&url)
                    .send()
                    .await
                    .and_then(reqwest::Response::error_for_status)
                    .with_context(|| format!("cannot read the simulated ledger at {url}"))?
                    .json()
                    .await
                    .with_context(|| {
                        format!("the simulated ledger at {url} answered something else than JSON")
                    })?;
                anyhow::Ok(value)
            }
        };
        let invoices = get("invoices").await?;
        let journals = get("journals").await?;
        let mut gl_totals: BTreeMap<String, Decimal> = BTreeMap::new();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut count = 0;
        for i in invoices.as_array().into_iter().flatten() {
            let Some(reference) = i["reference"].as_str().filter(|r| !r.is_empty()) else {
                continue; // history seeded before the demo
            };
            if i["invoice"].as_str().is_some_and(|n| n.starts_with('H')) {
                continue;
            }
            count += 1;
            *seen.entry(reference.to_owned()).or_default() += 1;
            for line in i["ar_to_gl"].as_array().into_iter().flatten() {
                add_amount(&mut gl_totals, &line["gl_code"], &line["amount"]);
            }
        }
        let mut journal_count = 0;
        for j in journals.as_array().into_iter().flatten() {
            journal_count += 1;
            for line in j["lines"].as_array().into_iter().flatten() {
                add_amount(&mut gl_totals, &line["ledger_code"], &line["entry_amount"]);
            }
        }
        Ok(Self {
            invoices: count,
            journals: journal_count,
            duplicates: seen.values().filter(|n| **n > 1).map(|n| n - 1).sum(),
            gl_totals,
        })
    }
}

fn add_amount(totals: &mut BTreeMap<String, Decimal>, account: &Value, amount: &Value) {
    let Some(account) = account.as_str().filter(|a| !a.is_empty()) else {
        return;
    };
    let amount: Option<Decimal> = match amount {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    };
    if let Some(amount) = amount {
        *totals.entry(account.to_owned()).or_default() += amount;
    }
}

/// A progress bar of the connection's records settling (posted, halted or dead) while cycles run.
pub fn record_progress(
    show: bool,
    store: impl connector_core::state::StateStore + Clone + 'static,
    name: ConnectionName,
) -> Progress {
    Progress::start(show, "records settled", move || {
        let store = store.clone();
        let name = name.clone();
        async move {
            let c = store.counts(Some(&name)).await.ok()?;
            let done =
                c.get(RecordState::Posted) + c.get(RecordState::Halted) + c.get(RecordState::Dead);
            Some((
                done,
                c.total(),
                format!(
                    " ({} posted, {} halted)",
                    c.get(RecordState::Posted),
                    c.get(RecordState::Halted)
                ),
            ))
        }
    })
}
