//! After a run: the simulated SYSPRO ledger against the simulated shop's orders, the connector's
//! records by state, and (for chaos runs) the audit trail of every posted record.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use connector_core::audit::{AuditKind, AuditLog as _, AuditQuery};
use connector_core::state::{
    ConnectionName, EntityKind, RecordFilter, RecordState, SqliteStore, StateStore as _,
};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

/// A Commerce order as far as the check needs it.
#[derive(Debug, Deserialize)]
struct Order {
    entity_id: i64,
    increment_id: String,
    grand_total: Value,
}

/// An AR invoice on the simulated ledger.
#[derive(Debug, Deserialize)]
struct ArInvoice {
    invoice: String,
    #[serde(default)]
    reference: String,
    invoice_value: Value,
}

/// A GL journal on the simulated ledger.
#[derive(Debug, Deserialize)]
struct Journal {
    #[serde(default)]
    journal_reference: String,
    lines: Vec<JournalLine>,
}

#[derive(Debug, Deserialize)]
struct JournalLine {
    entry_amount: Value,
}

/// Which seeded orders the connector cannot post, from the fake Commerce's `/__sim/special`.
#[derive(Debug, Deserialize)]
struct Special {
    unmapped_sku_order_ids: Vec<i64>,
    not_in_erp_customer_order_ids: Vec<i64>,
}

/// The ledger compared with Commerce.
#[derive(Debug, Default)]
pub struct LedgerCheck {
    /// Orders the shop holds.
    pub orders: usize,
    /// Orders that must halt: an unmapped SKU, or a customer that cannot be matched when
    /// customer creation is off.
    pub expected_halted: BTreeSet<i64>,
    /// Orders with an AR invoice on the ledger.
    pub on_ledger: usize,
    /// Extra AR invoices for an order already on the ledger, plus extra journals for one invoice.
    pub duplicate_invoices: usize,
    pub duplicate_journals: usize,
    /// Postable orders without an AR invoice, and AR invoices without a journal.
    pub missing_invoices: usize,
    pub missing_journals: usize,
    /// AR invoices whose value differs from the order's grand total.
    pub amount_mismatches: usize,
    /// Journals whose entries do not sum to zero.
    pub unbalanced_journals: usize,
    /// AR invoices for orders that should have halted, or for no known order.
    pub unexpected_invoices: usize,
}

fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

async fn get<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: String,
) -> anyhow::Result<T> {
    let body = http
        .get(&url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("cannot read {url}"))?
        .bytes()
        .await
        .with_context(|| format!("cannot read the answer of {url}"))?;
    serde_json::from_slice(&body).with_context(|| format!("{url} answered unexpected JSON"))
}

/// Orders that must halt: an unmapped SKU, or (when the connector may not create customers) a
/// customer missing from SYSPRO.
pub async fn expected_halted(
    http: &reqwest::Client,
    commerce_url: &str,
    customers_created: bool,
) -> anyhow::Result<BTreeSet<i64>> {
    let special: Special = get(http, format!("{commerce_url}/__sim/special")).await?;
    let mut ids: BTreeSet<i64> = special.unmapped_sku_order_ids.into_iter().collect();
    if !customers_created {
        ids.extend(special.not_in_erp_customer_order_ids);
    }
    Ok(ids)
}

impl LedgerCheck {
    /// Reads both simulators' `/__sim/` views and compares them. `customers_created` says whether
    /// the connector may create missing customers (then their orders are postable).
    pub async fn read(
        commerce_url: &str,
        syspro_url: &str,
        customers_created: bool,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::new();
        let orders: Vec<Order> = get(&http, format!("{commerce_url}/__sim/orders")).await?;
        let expected_halted = expected_halted(&http, commerce_url, customers_created).await?;
        let invoices: Vec<ArInvoice> = get(&http, format!("{syspro_url}/__sim/invoices")).await?;
        let journals: Vec<Journal> = get(&http, format!("{syspro_url}/__sim/journals")).await?;

        let by_increment: BTreeMap<&str, &Order> = orders
            .iter()
            .map(|o| (o.increment_id.as_str(), o))
            .collect();

        let mut check = Self {
            orders: orders.len(),
            ..Self::default()
        };
        let mut journals_by_ref: BTreeMap<&str, Vec<&Journal>> = BTreeMap::new();
        for j in &journals {
            let sum: Decimal = j
                .lines
                .iter()
                .map(|l| decimal(&l.entry_amount).unwrap_or_default())
                .sum();
            if !sum.is_zero() || j.lines.is_empty() {
                check.unbalanced_journals += 1;
            }
            journals_by_ref
                .entry(j.journal_reference.trim())
                .or_default()
                .push(j);
        }

        let mut per_order: BTreeMap<i64, usize> = BTreeMap::new();
        for i in &invoices {
            let reference = i.reference.trim();
            if reference.is_empty() || i.invoice.starts_with('H') {
                continue; // history seeded before the run
            }
            let Some(order) = by_increment.get(reference) else {
                check.unexpected_invoices += 1;
                continue;
            };
            if expected_halted.contains(&order.entity_id) {
                check.unexpected_invoices += 1;
            }
            *per_order.entry(order.entity_id).or_default() += 1;
            if decimal(&i.invoice_value) != decimal(&order.grand_total) {
                check.amount_mismatches += 1;
            }
            match journals_by_ref.get(i.invoice.trim()).map(Vec::as_slice) {
                None | Some([]) => check.missing_journals += 1,
                Some(found) => check.duplicate_journals += found.len() - 1,
            }
        }
        check.on_ledger = per_order.len();
        check.duplicate_invoices = per_order.values().map(|n| n - 1).sum();
        check.missing_invoices = orders
            .iter()
            .filter(|o| !expected_halted.contains(&o.entity_id))
            .filter(|o| !per_order.contains_key(&o.entity_id))
            .count();
        check.expected_halted = expected_halted;
        Ok(check)
    }

    /// Orders posted more than once (AR invoices and journals).
    pub fn duplicates(&self) -> usize {
        self.duplicate_invoices + self.duplicate_journals
    }

    /// Postable orders missing on the ledger, or posted without their journal.
    pub fn missing(&self) -> usize {
        self.missing_invoices + self.missing_journals
    }
}

/// The connector's order records by state.
#[derive(Debug, Default)]
pub struct RecordCheck {
    pub records: usize,
    pub posted: usize,
    pub halted: BTreeSet<i64>,
    pub dead: usize,
    /// Still received, mapped, posting or waiting for a retry.
    pub open: usize,
    /// Posted records whose audit trail lacks the read, the rendered plan, the post (or its
    /// reconciliation) or a state transition; `None` when not checked.
    pub audit_incomplete: Option<usize>,
}

impl RecordCheck {
    /// Reads every record of `kind` in `connection`; with `audit`, checks each posted record's
    /// timeline too.
    pub async fn read(
        store: &SqliteStore,
        connection: &ConnectionName,
        kind: EntityKind,
        audit: bool,
    ) -> anyhow::Result<Self> {
        let mut check = Self {
            audit_incomplete: audit.then_some(0),
            ..Self::default()
        };
        let mut filter = RecordFilter {
            connection: Some(connection.clone()),
            kind: Some(kind),
            limit: 1000,
            ..RecordFilter::default()
        };
        loop {
            let page = store.list(&filter).await?;
            let Some(last) = page.last().map(|r| r.key.clone()) else {
                break;
            };
            for record in page {
                check.records += 1;
                match record.state {
                    RecordState::Posted => {
                        check.posted += 1;
                        if audit && !timeline_complete(store, &record.key).await? {
                            check.audit_incomplete = check.audit_incomplete.map(|n| n + 1);
                        }
                    }
                    RecordState::Halted => {
                        check
                            .halted
                            .insert(record.key.commerce_id.parse().unwrap_or(-1));
                    }
                    RecordState::Dead => check.dead += 1,
                    RecordState::Received
                    | RecordState::Mapped
                    | RecordState::Posting
                    | RecordState::RetryWait => check.open += 1,
                }
            }
            filter.after = Some(last);
        }
        Ok(check)
    }
}

/// Whether a posted record's timeline shows it read, rendered, sent (or found already posted)
/// and moved through its states.
async fn timeline_complete(
    store: &SqliteStore,
    key: &connector_core::state::RecordKey,
) -> anyhow::Result<bool> {
    let mut kinds = BTreeSet::new();
    let mut query = AuditQuery {
        limit: 500,
        ..AuditQuery::for_record(key.clone())
    };
    loop {
        let page = store.query(&query).await?;
        kinds.extend(page.entries.iter().map(|e| e.kind.as_str()));
        match page.next_before {
            Some(before) => query.before = Some(before),
            None => break,
        }
    }
    let has = |k: AuditKind| kinds.contains(k.as_str());
    Ok(has(AuditKind::Read)
        && has(AuditKind::Rendered)
        && has(AuditKind::Transition)
        && (has(AuditKind::Sent) || has(AuditKind::Decided)))
}
