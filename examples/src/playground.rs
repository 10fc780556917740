//! The simulators every example runs against, the connection configuration they share, and readers
//! for the simulated SYSPRO ledger.
//!
//! A service would load its configuration from a file (`Config::load`) and keep credentials in the
//! vault; the examples render the same TOML with the simulators' addresses and hand the engine the
//! simulators' credentials directly, so they run on a machine with nothing configured.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use connector_core::config::{Config, ConnectionConfig, MappingConfig};
use connector_core::engine::convert::invoice_from_payload;
use connector_core::state::{
    ConnectionName, EntityKind, Record, RecordFilter, RecordState, StateStore,
};
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde_json::Value;
use simulators::commerce::CommerceSimConfig;
use simulators::syspro::SysproSimConfig;
use simulators::{SimConfig, Sims};

use crate::ExampleError;

/// The connection name every example uses.
pub const CONNECTION: &str = "shop";

/// The marketplace store's code in the simulated shop (store id 2, EUR, Germany).
pub const MARKETPLACE_STORE: &str = "marketplace";

/// "Revenue - marketplace" in the simulated SYSPRO's chart of accounts.
pub const MARKETPLACE_REVENUE_ACCOUNT: &str = "00-4030";

/// "Revenue - web store": where the mapping's SKU-prefix rules send product revenue.
pub const WEB_REVENUE_ACCOUNT: &str = "00-4010";

/// Simulator settings: a seeded shop of `orders` orders, every one invoiced, some guests, some
/// customers SYSPRO does not know yet and a few lines with the deliberately unmapped `CLR-` SKUs
/// (those documents halt, which the summaries show). SYSPRO starts with an empty AR history so its
/// ledger holds only what the example posts.
pub fn simulator_config(orders: usize) -> SimConfig {
    SimConfig {
        commerce: CommerceSimConfig {
            seed: 42,
            orders,
            guest_share: 0.25,
            unmapped_sku_share: 0.1,
            not_in_erp_share: 0.2,
            invoiced_share: 1.0,
            webhooks_on_change: false,
            ..CommerceSimConfig::default()
        },
        syspro: SysproSimConfig {
            seed: 42,
            history_invoices: 0,
            ..SysproSimConfig::default()
        },
    }
}

/// Starts the fake Commerce and the fake SYSPRO on free ports of 127.0.0.1.
///
/// # Errors
/// [`ExampleError::Simulators`] when a server cannot start.
pub async fn start_simulators(orders: usize) -> Result<Sims, ExampleError> {
    Sims::start(simulator_config(orders))
        .await
        .map_err(ExampleError::Simulators)
}

/// The connection's configuration, as a service would keep it in `ml-connector.toml`, pointed at
/// the simulators. Secrets are named, never written: see [`simulator_secrets`].
///
/// The mapping sends every product family's revenue to the web store account by SKU prefix (B2B
/// apparel to the B2B account), names the marketplace account as the marketplace store's default
/// revenue account (so the engine validates it against SYSPRO with GENQGL), creates SYSPRO customers
/// it cannot match, and posts guests to each store's cash customer.
///
/// # Errors
/// [`ExampleError::Config`] if the rendered configuration is refused.
pub fn connection_config(sims: &Sims) -> Result<ConnectionConfig, ExampleError> {
    let syspro = sims.syspro.credentials();
    let text = format!(
        r#"
[[connection]]
name = "{CONNECTION}"
trigger = "invoice"
batch_size = 20

[connection.commerce]
base_url = "{commerce}"
flavour = "paas"
page_size = 50

[connection.commerce.auth]
kind = "oauth1"

[connection.commerce.auth.secrets]
consumer_key = "commerce-consumer-key"
consumer_secret = "commerce-consumer-secret"
access_token = "commerce-access-token"
access_token_secret = "commerce-access-token-secret"

[[connection.commerce.stores]]
code = "web"
id = 1

[[connection.commerce.stores]]
code = "{MARKETPLACE_STORE}"
id = 2

[[connection.commerce.stores]]
code = "b2b"
id = 3

[connection.syspro]
enet_url = "{enet}"
company_id = "{company}"
operator = "{operator}"

[connection.syspro.secrets]
operator_password = "syspro-operator-password"
company_password = "syspro-company-password"

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

[connection.mapping.stores.{MARKETPLACE_STORE}]
invoice_prefix = "M"
branch = "MK"
cash_customer = "MKTCASH"
revenue_account = "{MARKETPLACE_REVENUE_ACCOUNT}"

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
account = "{WEB_REVENUE_ACCOUNT}"

[[connection.mapping.revenue]]
sku_prefix = "HW-"
account = "{WEB_REVENUE_ACCOUNT}"

[[connection.mapping.revenue]]
sku_prefix = "GR-"
account = "{WEB_REVENUE_ACCOUNT}"

[[connection.mapping.revenue]]
sku_prefix = "SV-"
account = "{WEB_REVENUE_ACCOUNT}"

[[connection.mapping.revenue]]
sku_prefix = "AP-"
store = "b2b"
account = "00-4020"
"#,
        commerce = sims.commerce.base_url(),
        enet = sims.syspro.enet_url(),
        company = syspro.company_id,
        operator = syspro.operator,
    );
    let mut config = Config::from_toml_str(&text, "examples.toml").map_err(ExampleError::Config)?;
    Ok(config.connections.remove(0))
}

/// The simulators' credentials under the vault entry names [`connection_config`] uses, for
/// `EngineBuilder::resolved_secrets` (a service would pass its vault to `EngineBuilder::secrets`).
pub fn simulator_secrets(sims: &Sims) -> Vec<(String, SecretString)> {
    let oauth = sims.commerce.oauth();
    let syspro = sims.syspro.credentials();
    [
        ("commerce-consumer-key", oauth.consumer_key),
        ("commerce-consumer-secret", oauth.consumer_secret),
        ("commerce-access-token", oauth.access_token),
        ("commerce-access-token-secret", oauth.access_token_secret),
        ("syspro-operator-password", syspro.operator_password),
        ("syspro-company-password", syspro.company_password),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), SecretString::from(value)))
    .collect()
}

/// Every GL account the mapping may credit with product revenue: the accounts of its revenue rules
/// and the stores' default revenue accounts.
pub fn revenue_accounts(mapping: &MappingConfig) -> BTreeSet<String> {
    mapping
        .revenue
        .iter()
        .map(|rule| rule.account.clone())
        .chain(
            mapping
                .stores
                .values()
                .filter_map(|store| store.revenue_account.clone()),
        )
        .collect()
}

/// A fresh scratch directory under the system temporary directory, e.g. for an SQLite state file.
///
/// # Errors
/// [`ExampleError::Io`] when it cannot be created.
pub fn scratch_dir(label: &str) -> Result<PathBuf, ExampleError> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "ml-connector-examples-{label}-{}-{n}",
        std::process::id()
    ));
    // A directory left by an earlier run with the same process id holds nothing worth keeping.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|source| ExampleError::Io {
        what: "the scratch directory",
        source,
    })?;
    Ok(dir)
}

/// One GL journal on the simulated SYSPRO ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerJournal {
    /// `JournalReference` (the engine uses the SYSPRO invoice number).
    pub reference: String,
    /// Entries: positive amounts are debits, negative amounts credits.
    pub lines: Vec<LedgerLine>,
}

/// One journal entry on the simulated ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerLine {
    /// The GL account.
    pub ledger_code: String,
    /// Signed amount: positive = debit.
    pub amount: Decimal,
}

/// One AR document on the simulated ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerInvoice {
    /// SYSPRO customer code.
    pub customer: String,
    /// Invoice number.
    pub invoice: String,
    /// Invoice value.
    pub invoice_value: Decimal,
}

async fn inspect(sims: &Sims, path: &'static str) -> Result<Vec<Value>, ExampleError> {
    let url = format!("{}{path}", sims.syspro.base_url());
    let ledger = |source| ExampleError::Ledger { path, source };
    let body: Value = reqwest::get(&url)
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(ledger)?
        .json()
        .await
        .map_err(ledger)?;
    match body {
        Value::Array(items) => Ok(items),
        _ => Err(ExampleError::LedgerShape {
            field: path.to_owned(),
            expected: "a JSON array",
        }),
    }
}

fn text(value: &Value, field: &str) -> Result<String, ExampleError> {
    value[field]
        .as_str()
        .map(|s| s.trim().to_owned())
        .ok_or_else(|| ExampleError::LedgerShape {
            field: field.to_owned(),
            expected: "a string",
        })
}

fn money(value: &Value, field: &str) -> Result<Decimal, ExampleError> {
    let shape = || ExampleError::LedgerShape {
        field: field.to_owned(),
        expected: "a decimal amount",
    };
    match &value[field] {
        Value::String(s) => s.trim().parse().map_err(|_| shape()),
        Value::Number(n) => n.to_string().parse().map_err(|_| shape()),
        _ => Err(shape()),
    }
}

/// The GL journals on the simulated SYSPRO ledger, read through its inspection API (`/__sim/`),
/// which is independent of the SDK that posted them.
///
/// # Errors
/// [`ExampleError::Ledger`] or [`ExampleError::LedgerShape`].
pub async fn ledger_journals(sims: &Sims) -> Result<Vec<LedgerJournal>, ExampleError> {
    let mut out = Vec::new();
    for journal in inspect(sims, "/__sim/journals").await? {
        let mut lines = Vec::new();
        for line in journal["lines"].as_array().into_iter().flatten() {
            lines.push(LedgerLine {
                ledger_code: text(line, "ledger_code")?,
                amount: money(line, "entry_amount")?,
            });
        }
        out.push(LedgerJournal {
            reference: text(&journal, "journal_reference")?,
            lines,
        });
    }
    Ok(out)
}

/// The AR documents on the simulated SYSPRO ledger.
///
/// # Errors
/// [`ExampleError::Ledger`] or [`ExampleError::LedgerShape`].
pub async fn ledger_invoices(sims: &Sims) -> Result<Vec<LedgerInvoice>, ExampleError> {
    inspect(sims, "/__sim/invoices")
        .await?
        .iter()
        .map(|invoice| {
            Ok(LedgerInvoice {
                customer: text(invoice, "customer")?,
                invoice: text(invoice, "invoice")?,
                invoice_value: money(invoice, "invoice_value")?,
            })
        })
        .collect()
}

/// Product revenue of one store on one account, in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevenueLine {
    /// Commerce store code.
    pub store: String,
    /// SYSPRO GL account.
    pub account: String,
    /// The documents' currency (journals carry the Commerce document's amounts).
    pub currency: String,
    /// Revenue credited (positive), net of nothing: discounts are debited separately.
    pub amount: Decimal,
}

/// Every record of `kind` in `state` for the examples' connection, following the store's paging.
///
/// # Errors
/// [`ExampleError::Store`] when the store cannot be read.
pub async fn records_in_state(
    store: &dyn StateStore,
    kind: EntityKind,
    state: RecordState,
) -> Result<Vec<Record>, ExampleError> {
    let connection = ConnectionName::new(CONNECTION)?;
    let mut out: Vec<Record> = Vec::new();
    loop {
        let filter = RecordFilter {
            connection: Some(connection.clone()),
            state: Some(state),
            kind: Some(kind),
            after: out.last().map(|r| r.key.clone()),
            limit: 500,
        };
        let page = store.list(&filter).await?;
        let done = page.len() < filter.effective_limit();
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

/// Product revenue the posted invoice records put on the simulated SYSPRO ledger, per store, GL
/// account and currency: the credits of each record's GL journal (found by its journal reference)
/// on the accounts in `revenue_accounts`.
///
/// # Errors
/// [`ExampleError::Store`], [`ExampleError::Ledger`], [`ExampleError::LedgerShape`], or
/// [`ExampleError::Unexpected`] when a posted record's journal is missing from the ledger.
pub async fn posted_revenue(
    sims: &Sims,
    store: &dyn StateStore,
    config: &ConnectionConfig,
    revenue_accounts: &BTreeSet<String>,
) -> Result<Vec<RevenueLine>, ExampleError> {
    let journals: BTreeMap<String, LedgerJournal> = ledger_journals(sims)
        .await?
        .into_iter()
        .map(|j| (j.reference.clone(), j))
        .collect();
    let mut sums: BTreeMap<(String, String, String), Decimal> = BTreeMap::new();
    for record in records_in_state(store, EntityKind::Invoice, RecordState::Posted).await? {
        let Some(reference) = record.syspro.journal.as_deref() else {
            // A zero-value document needs no journal.
            continue;
        };
        let journal = journals.get(reference.trim()).ok_or_else(|| {
            ExampleError::Unexpected(format!(
                "record {} is posted with journal {reference}, which is not on the ledger",
                record.key
            ))
        })?;
        let (invoice, order) = invoice_from_payload(&record.payload).map_err(|e| {
            ExampleError::Unexpected(format!("record {}: stored payload: {e}", record.key))
        })?;
        let currency = order
            .order_currency_code
            .or(invoice.order_currency_code)
            .unwrap_or_default();
        let store_code = order
            .store_id
            .and_then(|id| u32::try_from(id.0).ok())
            .and_then(|id| config.store_code(id))
            .unwrap_or("unknown")
            .to_owned();
        for line in &journal.lines {
            if revenue_accounts.contains(&line.ledger_code) {
                *sums
                    .entry((
                        store_code.clone(),
                        line.ledger_code.clone(),
                        currency.clone(),
                    ))
                    .or_default() -= line.amount;
            }
        }
    }
    Ok(sums
        .into_iter()
        .map(|((store, account, currency), amount)| RevenueLine {
            store,
            account,
            currency,
            amount,
        })
        .collect())
}
