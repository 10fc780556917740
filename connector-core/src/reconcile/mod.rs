//! Month-end reconciliation: proves that every Commerce invoice of a date range is in SYSPRO, once,
//! for the right amount, on the right customer, with a balanced GL journal that matches it.
//!
//! The two sides are matched through the deterministic SYSPRO invoice number (and the journal
//! reference derived from it), exactly as the engine posts them:
//!
//! 1. SYSPRO's AR documents dated in the range are read page by page (OData `ArInvoice` filtered on
//!    `InvoiceDate`, or COMFND when OData is not configured) into a compact index keyed by invoice
//!    number; the GL journal entries of the range (`GenTransaction`) are folded into one small
//!    summary per journal reference (its total and its amount per GL account).
//! 2. Commerce invoices created in the range are read page by page; each is planned with the
//!    connection's mapper (the same plan the engine would post), looked up in the indexes and
//!    classified. A matched document is handed to the caller at once and not kept; exceptions are
//!    kept for the report.
//! 3. What is left in the SYSPRO index with one of the connection's invoice prefixes, or with a
//!    journal of the same reference, is "in SYSPRO but not in Commerce".
//!
//! Memory is bounded by the SYSPRO side of the range (about a hundred bytes per AR document and per
//! journal), never by the Commerce documents, the matched list or the Commerce payloads. Each
//! document that is not in SYSPRO is explained from the state store: the record's state and the
//! reason its last transition recorded (halted, waiting for a retry, dead), or "never seen".

mod report;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use adobe_commerce_client::models::{Invoice, Order};
use adobe_commerce_client::{Client as CommerceClient, Filter, SearchCriteria, SortDirection};
use futures::StreamExt;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use syspro_client::{ODataClient, SysproClient};
use time::{Date, OffsetDateTime, Time};

use crate::config::{ConnectionConfig, Template};
use crate::engine::convert;
use crate::mapping::{Mapper, MappingContext, ReferenceData};
use crate::plan::{CustomerAction, PostingPlan, SourceDocument, to_cents};
use crate::state::{EntityKind, RecordKey, RecordState, StateStore};

pub use report::{CSV_COLUMNS, csv_report, escape_html, html_report, row_cells};

/// Why a reconciliation could not be completed (as opposed to finding exceptions, which is a
/// result).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReconcileError {
    /// The range or a setting cannot be used.
    #[error("invalid {field}: expected {expected}")]
    InvalidInput {
        /// The argument or setting.
        field: String,
        /// What would have been accepted.
        expected: String,
    },
    /// Reading Commerce failed.
    #[error("reading Commerce {what} failed")]
    Commerce {
        /// What was being read.
        what: &'static str,
        /// The client's error.
        #[source]
        source: adobe_commerce_client::Error,
    },
    /// Reading SYSPRO failed.
    #[error("reading SYSPRO {what} failed")]
    Syspro {
        /// What was being read.
        what: &'static str,
        /// The client's error.
        #[source]
        source: syspro_client::Error,
    },
    /// A Commerce document could not be turned into the engine's form.
    #[error("Commerce invoice {entity_id} cannot be read")]
    Conversion {
        /// The invoice's `entity_id`.
        entity_id: u64,
        /// What was wrong.
        #[source]
        source: convert::ConversionError,
    },
    /// The state store could not be read.
    #[error("reading the state store failed")]
    Store(#[from] crate::state::StoreError),
    /// The caller's handler of matched documents failed (e.g. writing them out).
    #[error("handling a matched document failed: {0}")]
    Sink(String),
}

/// How SYSPRO's ledger is read: OData when the connection has it, else COMFND over e.net.
#[derive(Debug, Clone)]
pub enum LedgerReader {
    /// The read-only OData service.
    OData(ODataClient),
    /// COMFND queries in an e.net session.
    Enet(SysproClient),
}

/// The date range, inclusive, in UTC (the engine dates SYSPRO documents with the UTC date of the
/// Commerce document). Serialized as `{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    /// First day.
    pub from: Date,
    /// Last day.
    pub to: Date,
}

impl DateRange {
    /// A range from `from` to `to`, both included.
    ///
    /// # Errors
    /// [`ReconcileError::InvalidInput`] when `to` is before `from`.
    pub fn new(from: Date, to: Date) -> Result<Self, ReconcileError> {
        if to < from {
            return Err(ReconcileError::InvalidInput {
                field: "to".to_owned(),
                expected: format!("a date on or after {from}"),
            });
        }
        Ok(Self { from, to })
    }

    fn contains(&self, date: Date) -> bool {
        self.from <= date && date <= self.to
    }
}

impl Serialize for DateRange {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut range = serializer.serialize_struct("DateRange", 2)?;
        range.serialize_field("from", &self.from.to_string())?;
        range.serialize_field("to", &self.to.to_string())?;
        range.end()
    }
}

/// What a document's reconciliation found. The order is the order of the report's sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// In Commerce, but SYSPRO has no AR document with its number.
    NotInSyspro,
    /// SYSPRO holds the number more than once (several customers or document types).
    Duplicate,
    /// The SYSPRO value differs from Commerce's grand total.
    AmountMismatch,
    /// The SYSPRO document is on another customer than the mapping gives.
    CustomerMismatch,
    /// The invoice is in SYSPRO but its GL journal is not.
    JournalMissing,
    /// The journal's debits and credits differ.
    JournalUnbalanced,
    /// The journal's amounts per GL account differ from what the invoice maps to.
    JournalMismatch,
    /// In SYSPRO with one of the connection's invoice prefixes or journal references, but no
    /// Commerce document in the range has that number.
    UnknownToCommerce,
    /// Everything agrees.
    Matched,
}

impl Finding {
    /// Short text for tables and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotInSyspro => "not_in_syspro",
            Self::Duplicate => "duplicate",
            Self::AmountMismatch => "amount_mismatch",
            Self::CustomerMismatch => "customer_mismatch",
            Self::JournalMissing => "journal_missing",
            Self::JournalUnbalanced => "journal_unbalanced",
            Self::JournalMismatch => "journal_mismatch",
            Self::UnknownToCommerce => "unknown_to_commerce",
            Self::Matched => "matched",
        }
    }

    /// A heading for a person.
    pub fn title(self) -> &'static str {
        match self {
            Self::NotInSyspro => "In Commerce, not in SYSPRO",
            Self::Duplicate => "In SYSPRO more than once",
            Self::AmountMismatch => "Amount differs",
            Self::CustomerMismatch => "Customer differs",
            Self::JournalMissing => "GL journal missing",
            Self::JournalUnbalanced => "GL journal does not balance",
            Self::JournalMismatch => "GL journal does not match its invoice",
            Self::UnknownToCommerce => "In SYSPRO, not in Commerce",
            Self::Matched => "Matched",
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One document's line in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentResult {
    /// The first (most serious) finding.
    pub finding: Finding,
    /// Every finding, when there are several.
    pub findings: Vec<Finding>,
    /// `invoice` or `credit_memo`; `None` for a SYSPRO document unknown to Commerce.
    pub kind: Option<String>,
    /// Commerce `entity_id`.
    pub entity_id: Option<u64>,
    /// Commerce increment id.
    pub increment_id: Option<String>,
    /// Store view code.
    pub store: Option<String>,
    /// Document currency.
    pub currency: Option<String>,
    /// Document date, `YYYY-MM-DD` (Commerce creation date, UTC; SYSPRO's invoice date
    /// otherwise).
    pub date: Option<String>,
    /// The SYSPRO invoice number.
    pub invoice: Option<String>,
    /// Commerce grand total.
    pub commerce_amount: Option<Decimal>,
    /// SYSPRO's value of the AR document.
    pub syspro_amount: Option<Decimal>,
    /// The SYSPRO customer the mapping gives (or the email it matches by).
    pub expected_customer: Option<String>,
    /// The SYSPRO customer of the AR document.
    pub syspro_customer: Option<String>,
    /// The journal reference.
    pub journal: Option<String>,
    /// The record's state in the state store, or `never_seen`.
    pub record_state: Option<String>,
    /// What a person needs to know: the record's reason, the differences found.
    pub detail: String,
    /// The document's page in the Commerce admin.
    pub admin_url: Option<String>,
}

/// Sums over documents.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Commerce documents.
    pub documents: u64,
    /// Of them, matched.
    pub matched: u64,
    /// Exceptions (documents with a finding other than matched, plus SYSPRO documents unknown to
    /// Commerce).
    pub exceptions: u64,
    /// Sum of Commerce grand totals.
    pub commerce_amount: Decimal,
    /// Sum of the SYSPRO values found for them (and of unknown SYSPRO documents).
    pub syspro_amount: Decimal,
}

/// Sums per GL account: what the Commerce documents map to, and what SYSPRO's journals hold for
/// them. Positive is a debit.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AccountTotals {
    /// From the mapping of the Commerce documents.
    pub expected: Decimal,
    /// From SYSPRO's journal entries with the documents' references.
    pub posted: Decimal,
}

/// The outcome of a reconciliation: counts, totals and the exceptions. Matched documents are
/// handed to the caller as they are found and not kept here.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reconciliation {
    /// The connection.
    pub connection: String,
    /// The range.
    pub range: DateRange,
    /// Commerce documents read.
    pub commerce_documents: u64,
    /// SYSPRO AR documents of the range that belong to this connection.
    pub syspro_documents: u64,
    /// Matched documents.
    pub matched: u64,
    /// Every document with a finding, in the order of [`Finding`], then by invoice number.
    pub exceptions: Vec<DocumentResult>,
    /// Per store view code.
    pub by_store: BTreeMap<String, Totals>,
    /// Per currency.
    pub by_currency: BTreeMap<String, Totals>,
    /// Per mapped GL account.
    pub by_gl_account: BTreeMap<String, AccountTotals>,
}

impl Reconciliation {
    /// Whether every document matched and nothing else was found.
    pub fn is_clean(&self) -> bool {
        self.exceptions.is_empty()
    }

    /// Exceptions per finding.
    pub fn exception_counts(&self) -> BTreeMap<Finding, u64> {
        let mut counts = BTreeMap::new();
        for e in &self.exceptions {
            *counts.entry(e.finding).or_insert(0) += 1;
        }
        counts
    }

    /// The one-line verdict at the top of every report.
    pub fn verdict(&self) -> String {
        let range = format!("{} to {}", self.range.from, self.range.to);
        if self.is_clean() {
            return format!(
                "RECONCILED: all {} Commerce document(s) of {range} are in SYSPRO once, for the \
                 right amount, on the right customer, with matching journals",
                self.commerce_documents
            );
        }
        let parts: Vec<String> = self
            .exception_counts()
            .into_iter()
            .map(|(f, n)| format!("{n} {}", f.title().to_lowercase()))
            .collect();
        format!(
            "NOT RECONCILED: {} exception(s) in {range} ({}); {} of {} Commerce document(s) matched",
            self.exceptions.len(),
            parts.join(", "),
            self.matched,
            self.commerce_documents
        )
    }
}

/// One SYSPRO AR document, as kept in the index.
#[derive(Debug, Clone)]
struct LedgerInvoice {
    customer: String,
    document_type: Option<String>,
    value: Option<Decimal>,
    date: Option<Date>,
}

/// One journal reference's entries, folded.
#[derive(Debug, Clone, Default)]
struct JournalSummary {
    total: Decimal,
    entries: u32,
    by_account: Vec<(String, Decimal)>,
}

impl JournalSummary {
    fn add(&mut self, gl_code: &str, value: Decimal) {
        let value = money(value);
        self.total += value;
        self.entries += 1;
        match self.by_account.iter_mut().find(|(c, _)| c == gl_code) {
            Some((_, amount)) => *amount += value,
            None => self.by_account.push((gl_code.to_owned(), value)),
        }
    }
}

/// Reconciles one connection. Build it with the clients the engine would use.
pub struct Reconciler {
    connection: Arc<ConnectionConfig>,
    commerce: CommerceClient,
    ledger: LedgerReader,
    store: Arc<dyn StateStore>,
    mapper: Arc<dyn Mapper>,
}

impl fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reconciler")
            .field("connection", &self.connection.name)
            .field("ledger", &self.ledger)
            .finish_non_exhaustive()
    }
}

impl Reconciler {
    /// A reconciler of `connection`, reading Commerce with `commerce`, SYSPRO with `ledger`, the
    /// records' states from `store`, and planning documents with `mapper` (the connection's own
    /// mapper, so invoice numbers, customers and GL accounts are the ones the engine posts).
    pub fn new(
        connection: Arc<ConnectionConfig>,
        commerce: CommerceClient,
        ledger: LedgerReader,
        store: Arc<dyn StateStore>,
        mapper: Arc<dyn Mapper>,
    ) -> Self {
        Self {
            connection,
            commerce,
            ledger,
            store,
            mapper,
        }
    }

    /// Reconciles `range`. Each matched document is passed to `on_matched` as soon as it is found
    /// (write it out, count it, or drop it); exceptions and totals come back in the result.
    ///
    /// # Errors
    /// A [`ReconcileError`] when a side cannot be read or `on_matched` fails; finding exceptions
    /// is not an error.
    pub async fn run(
        &self,
        range: DateRange,
        on_matched: &mut (dyn FnMut(&DocumentResult) -> Result<(), String> + Send),
    ) -> Result<Reconciliation, ReconcileError> {
        let mut invoices = self.read_ledger_invoices(range).await?;
        let journals = self.read_journals(range).await?;
        let mut result = Reconciliation {
            connection: self.connection.name.clone(),
            range,
            commerce_documents: 0,
            syspro_documents: 0,
            matched: 0,
            exceptions: Vec::new(),
            by_store: BTreeMap::new(),
            by_currency: BTreeMap::new(),
            by_gl_account: BTreeMap::new(),
        };
        let ours: usize = invoices
            .iter()
            .filter(|(number, _)| self.is_ours(number, &journals))
            .map(|(_, found)| found.len())
            .sum();
        result.syspro_documents = ours as u64;

        let reference = self.assumed_reference();
        let mut pages = self
            .commerce
            .invoices()
            .search(self.criteria(range))
            .pages();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|source| ReconcileError::Commerce {
                what: "invoices",
                source,
            })?;
            let orders = self.orders_of(&page.items).await?;
            for invoice in &page.items {
                let Some(order) = invoice.order_id.and_then(|id| orders.get(&id.get())) else {
                    let entity_id = invoice.entity_id.map_or(0, |id| id.get());
                    return Err(ReconcileError::InvalidInput {
                        field: format!("Commerce invoice {entity_id}"),
                        expected: "an invoice whose order can be read".to_owned(),
                    });
                };
                let doc = convert::invoice_document(&self.connection, invoice, order).map_err(
                    |source| ReconcileError::Conversion {
                        entity_id: invoice.entity_id.map_or(0, |id| id.get()),
                        source,
                    },
                )?;
                if !range.contains(doc.created_at.date()) {
                    continue;
                }
                let line = self
                    .reconcile_document(&doc, &reference, &mut invoices, &journals, &mut result)
                    .await?;
                result.commerce_documents += 1;
                if line.finding == Finding::Matched {
                    result.matched += 1;
                    on_matched(&line).map_err(ReconcileError::Sink)?;
                } else {
                    result.exceptions.push(line);
                }
            }
        }

        for (number, left) in invoices {
            if !self.is_ours(&number, &journals) {
                continue;
            }
            for found in left {
                let value = found.value.unwrap_or_default();
                let store = self.store_of_number(&number);
                if let Some(store) = &store {
                    let t = result.by_store.entry(store.clone()).or_default();
                    t.exceptions += 1;
                    t.syspro_amount += value;
                }
                result.exceptions.push(DocumentResult {
                    finding: Finding::UnknownToCommerce,
                    findings: vec![Finding::UnknownToCommerce],
                    kind: None,
                    entity_id: None,
                    increment_id: None,
                    store,
                    currency: None,
                    date: found.date.map(|d| d.to_string()),
                    invoice: Some(number.clone()),
                    commerce_amount: None,
                    syspro_amount: found.value,
                    expected_customer: None,
                    syspro_customer: Some(found.customer.clone()),
                    journal: journals.contains_key(&number).then(|| number.clone()),
                    record_state: None,
                    detail: format!(
                        "SYSPRO {} {number} on customer {} has no Commerce document in the range",
                        document_name(found.document_type.as_deref()),
                        found.customer
                    ),
                    admin_url: None,
                });
            }
        }
        result.exceptions.sort_by(|a, b| {
            (a.finding, &a.invoice, a.entity_id).cmp(&(b.finding, &b.invoice, b.entity_id))
        });
        Ok(result)
    }

    /// Invoices created in the range, in the connection's stores, oldest first.
    fn criteria(&self, range: DateRange) -> SearchCriteria {
        let start = OffsetDateTime::new_utc(range.from, Time::MIDNIGHT);
        let end = OffsetDateTime::new_utc(range.to, Time::MIDNIGHT) + time::Duration::DAY
            - time::Duration::SECOND;
        let stores: Vec<u32> = self
            .connection
            .commerce
            .stores
            .iter()
            .map(|s| s.id)
            .collect();
        SearchCriteria::new()
            .filter(Filter::from("created_at", commerce_time(start)))
            .filter(Filter::to("created_at", commerce_time(end)))
            .filter(Filter::in_list("store_id", stores.iter()))
            .sort_by("entity_id", SortDirection::Asc)
            .page_size(self.connection.commerce.page_size)
    }

    /// The orders of one page of invoices, read with one search.
    async fn orders_of(&self, invoices: &[Invoice]) -> Result<HashMap<u64, Order>, ReconcileError> {
        let ids: Vec<u64> = invoices
            .iter()
            .filter_map(|i| i.order_id.map(|id| id.get()))
            .collect();
        let mut orders = HashMap::new();
        if ids.is_empty() {
            return Ok(orders);
        }
        let criteria = SearchCriteria::new()
            .filter(Filter::in_list("entity_id", ids.iter()))
            .page_size(self.connection.commerce.page_size.max(1));
        let mut stream = self.commerce.orders().search(criteria).stream();
        while let Some(order) = stream.next().await {
            let order = order.map_err(|source| ReconcileError::Commerce {
                what: "orders",
                source,
            })?;
            if let Some(id) = order.entity_id {
                orders.insert(id.get(), order);
            }
        }
        Ok(orders)
    }

    async fn read_ledger_invoices(
        &self,
        range: DateRange,
    ) -> Result<HashMap<String, Vec<LedgerInvoice>>, ReconcileError> {
        let mut index: HashMap<String, Vec<LedgerInvoice>> = HashMap::new();
        let err = |source| ReconcileError::Syspro {
            what: "AR invoices",
            source,
        };
        match &self.ledger {
            LedgerReader::OData(odata) => {
                let mut rows = odata.ar_invoices_between(range.from, range.to).stream();
                while let Some(row) = rows.next().await {
                    let row = row.map_err(err)?;
                    index
                        .entry(row.invoice.clone())
                        .or_default()
                        .push(LedgerInvoice {
                            customer: row.customer.clone(),
                            document_type: row.document_type.clone(),
                            value: row.orig_inv_value.or(row.currency_value).map(money),
                            date: row.invoice_date,
                        });
                }
            }
            LedgerReader::Enet(enet) => {
                let mut rows = enet.ar_invoices_between(range.from, range.to);
                while let Some(row) = rows.next().await {
                    let row = row.map_err(err)?;
                    index
                        .entry(row.invoice.clone())
                        .or_default()
                        .push(LedgerInvoice {
                            customer: row.customer.clone(),
                            document_type: row.document_type.clone(),
                            value: row.currency_value.map(money),
                            date: row.invoice_date,
                        });
                }
            }
        }
        Ok(index)
    }

    async fn read_journals(
        &self,
        range: DateRange,
    ) -> Result<HashMap<String, JournalSummary>, ReconcileError> {
        let mut journals: HashMap<String, JournalSummary> = HashMap::new();
        let err = |source| ReconcileError::Syspro {
            what: "GL journal entries",
            source,
        };
        match &self.ledger {
            LedgerReader::OData(odata) => {
                let mut rows = odata
                    .gl_journal_entries_between(range.from, range.to)
                    .stream();
                while let Some(row) = rows.next().await {
                    let row = row.map_err(err)?;
                    if let Some(reference) = &row.reference {
                        journals
                            .entry(reference.clone())
                            .or_default()
                            .add(&row.gl_code, row.entry_value);
                    }
                }
            }
            LedgerReader::Enet(enet) => {
                let mut rows = enet.gl_journal_entries_between(range.from, range.to);
                while let Some(row) = rows.next().await {
                    let row = row.map_err(err)?;
                    if let Some(reference) = &row.reference {
                        journals
                            .entry(reference.clone())
                            .or_default()
                            .add(&row.gl_code, row.entry_value);
                    }
                }
            }
        }
        Ok(journals)
    }

    /// Reconciling checks what was posted, not whether the mapping's codes exist in SYSPRO (a
    /// missing code shows up as a document not in SYSPRO), so every mapped code is taken as
    /// present.
    fn assumed_reference(&self) -> ReferenceData {
        let mapping = &self.connection.mapping;
        let mut data = ReferenceData::default();
        data.gl_accounts
            .extend(mapping.gl_accounts().into_iter().map(|(_, c)| c.to_owned()));
        data.product_classes
            .insert(mapping.clearing_product_class.clone());
        for store in mapping.stores.values() {
            data.branches.insert(store.branch.clone());
            if let Some(class) = &store.product_class {
                data.product_classes.insert(class.clone());
            }
        }
        data
    }

    /// A SYSPRO number is the connection's when it carries one of its stores' invoice prefixes,
    /// or when a journal with that reference was posted in the range.
    fn is_ours(&self, number: &str, journals: &HashMap<String, JournalSummary>) -> bool {
        self.store_of_number(number).is_some() || journals.contains_key(number)
    }

    fn store_of_number(&self, number: &str) -> Option<String> {
        self.connection
            .mapping
            .stores
            .iter()
            .filter(|(_, s)| !s.invoice_prefix.is_empty() && number.starts_with(&s.invoice_prefix))
            .max_by_key(|(_, s)| s.invoice_prefix.len())
            .map(|(code, _)| code.clone())
    }

    fn admin_url(&self, doc: &SourceDocument) -> Option<String> {
        let template: &Template = &self.connection.commerce.admin_url_template;
        let entity_id = doc.entity_id.to_string();
        template
            .render(crate::config::ADMIN_URL_PLACEHOLDERS, |name| {
                Some(std::borrow::Cow::Owned(match name {
                    "base_url" => self
                        .connection
                        .commerce
                        .base_url
                        .trim_end_matches('/')
                        .to_owned(),
                    "kind" => "invoice".to_owned(),
                    "entity_id" => entity_id.clone(),
                    "increment_id" => doc.increment_id.clone(),
                    "store_code" => doc.store_code.clone(),
                    _ => return None,
                }))
            })
            .ok()
    }

    async fn reconcile_document(
        &self,
        doc: &SourceDocument,
        reference: &ReferenceData,
        invoices: &mut HashMap<String, Vec<LedgerInvoice>>,
        journals: &HashMap<String, JournalSummary>,
        result: &mut Reconciliation,
    ) -> Result<DocumentResult, ReconcileError> {
        let key = RecordKey::new(
            crate::state::ConnectionName::new(&self.connection.name)?,
            EntityKind::Invoice,
            doc.entity_id.to_string(),
        );
        let record = self.store.get(&key).await?;
        let plan = self
            .mapper
            .plan(
                doc,
                &MappingContext {
                    customer_code: None,
                    reference,
                },
            )
            .ok();
        let number = plan
            .as_ref()
            .map(|p| p.ar_invoice.invoice.clone())
            .or_else(|| record.as_ref().and_then(|r| r.syspro.invoice.clone()));
        let journal_reference = plan
            .as_ref()
            .and_then(|p| p.journal.as_ref().map(|j| j.reference.clone()))
            .or_else(|| record.as_ref().and_then(|r| r.syspro.journal.clone()));
        let commerce_amount = money(to_cents(doc.grand_total));
        let mut line = DocumentResult {
            finding: Finding::Matched,
            findings: Vec::new(),
            kind: Some("invoice".to_owned()),
            entity_id: Some(doc.entity_id),
            increment_id: Some(doc.increment_id.clone()),
            store: Some(doc.store_code.clone()),
            currency: Some(doc.currency.clone()),
            date: Some(doc.created_at.date().to_string()),
            invoice: number.clone(),
            commerce_amount: Some(commerce_amount),
            syspro_amount: None,
            expected_customer: plan.as_ref().and_then(expected_customer),
            syspro_customer: None,
            journal: journal_reference.clone(),
            record_state: Some(
                record
                    .as_ref()
                    .map_or("never_seen", |r| r.state.as_str())
                    .to_owned(),
            ),
            detail: String::new(),
            admin_url: self.admin_url(doc),
        };
        let mut details = Vec::new();
        let found = number.as_ref().and_then(|n| invoices.remove(n));
        let mut posted_accounts: Vec<(String, Decimal)> = Vec::new();
        match found {
            None => {
                line.findings.push(Finding::NotInSyspro);
                details.push(match &record {
                    None => "never seen by the connector (not yet read from Commerce)".to_owned(),
                    Some(r) => {
                        let reason = r.reason.clone().unwrap_or_default();
                        let state = match r.state {
                            RecordState::Halted => "halted",
                            RecordState::RetryWait => "waiting for a retry",
                            RecordState::Dead => "dead (attempts exhausted)",
                            RecordState::Posted => "marked posted, but SYSPRO does not hold it",
                            RecordState::Posting => "being posted",
                            RecordState::Received | RecordState::Mapped => "waiting to be posted",
                        };
                        if reason.is_empty() {
                            state.to_owned()
                        } else {
                            format!("{state}: {reason}")
                        }
                    }
                });
                if number.is_none() {
                    details.push("no SYSPRO invoice number can be derived".to_owned());
                }
            }
            Some(mut entries) => {
                if entries.len() > 1 {
                    line.findings.push(Finding::Duplicate);
                    details.push(format!(
                        "SYSPRO holds {} documents numbered {}: {}",
                        entries.len(),
                        number.as_deref().unwrap_or_default(),
                        entries
                            .iter()
                            .map(|e| format!(
                                "{} {}",
                                e.customer,
                                e.document_type.as_deref().unwrap_or("?")
                            ))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                // Prefer the entry on the expected customer when there are several.
                let pick = entries
                    .iter()
                    .position(|e| Some(&e.customer) == line.expected_customer.as_ref())
                    .unwrap_or(0);
                let entry = entries.swap_remove(pick);
                let value = entry.value.map(|v| v.abs());
                line.syspro_amount = value;
                line.syspro_customer = Some(entry.customer.clone());
                if value != Some(commerce_amount) {
                    line.findings.push(Finding::AmountMismatch);
                    details.push(format!(
                        "SYSPRO value {} differs from Commerce grand total {commerce_amount}",
                        value.map_or_else(|| "(none)".to_owned(), |v| v.to_string())
                    ));
                }
                if let Some(plan) = &plan
                    && !self.customer_agrees(plan, &entry.customer).await?
                {
                    line.findings.push(Finding::CustomerMismatch);
                    details.push(format!(
                        "SYSPRO customer {} differs from the mapped customer {}",
                        entry.customer,
                        line.expected_customer.as_deref().unwrap_or("(none)")
                    ));
                }
                let planned = plan.as_ref().and_then(|p| p.journal.as_ref());
                if let (Some(planned), Some(reference)) = (planned, &journal_reference) {
                    match journals.get(reference) {
                        None => {
                            line.findings.push(Finding::JournalMissing);
                            details.push(format!("no GL journal with reference {reference}"));
                        }
                        Some(summary) => {
                            posted_accounts.clone_from(&summary.by_account);
                            if !summary.total.is_zero() {
                                line.findings.push(Finding::JournalUnbalanced);
                                details.push(format!(
                                    "GL journal {reference} is out of balance by {}",
                                    summary.total
                                ));
                            }
                            let differences = account_differences(
                                planned
                                    .lines
                                    .iter()
                                    .map(|l| (l.ledger_code.as_str(), l.amount)),
                                &summary.by_account,
                            );
                            if !differences.is_empty() {
                                line.findings.push(Finding::JournalMismatch);
                                details.push(format!(
                                    "GL journal {reference} differs from the invoice's mapping: {}",
                                    differences.join("; ")
                                ));
                            }
                        }
                    }
                }
            }
        }
        if let Some(plan) = &plan
            && let Some(journal) = &plan.journal
        {
            let mut expected: BTreeMap<&str, Decimal> = BTreeMap::new();
            for l in &journal.lines {
                *expected.entry(l.ledger_code.as_str()).or_default() += l.amount;
            }
            for (code, amount) in expected {
                let amount = money(amount);
                result
                    .by_gl_account
                    .entry(code.to_owned())
                    .or_default()
                    .expected += amount;
            }
        }
        for (code, amount) in &posted_accounts {
            result.by_gl_account.entry(code.clone()).or_default().posted += *amount;
        }
        line.findings.sort();
        line.findings.dedup();
        if let Some(first) = line.findings.first() {
            line.finding = *first;
        } else {
            line.findings.push(Finding::Matched);
        }
        if details.is_empty() {
            details.push("in SYSPRO once, same amount, same customer, journal matches".to_owned());
        }
        line.detail = details.join("; ");
        let matched = line.finding == Finding::Matched;
        add_totals(
            result.by_store.entry(doc.store_code.clone()).or_default(),
            &line,
            matched,
        );
        add_totals(
            result.by_currency.entry(doc.currency.clone()).or_default(),
            &line,
            matched,
        );
        Ok(line)
    }

    /// Whether `customer` is the SYSPRO customer the plan gives: the mapped code, or for a customer
    /// matched by email, a SYSPRO customer with that email (or the one the mapping would create).
    async fn customer_agrees(
        &self,
        plan: &PostingPlan,
        customer: &str,
    ) -> Result<bool, ReconcileError> {
        let same = |code: &str| code.trim().eq_ignore_ascii_case(customer.trim());
        match &plan.customer {
            CustomerAction::Existing { code, .. } | CustomerAction::Cash { code } => Ok(same(code)),
            CustomerAction::Create(new) => Ok(same(&new.code)),
            CustomerAction::MatchByEmail {
                email,
                otherwise_create,
            } => {
                if otherwise_create.as_ref().is_some_and(|n| same(&n.code)) {
                    return Ok(true);
                }
                let err = |source| ReconcileError::Syspro {
                    what: "customers by email",
                    source,
                };
                let codes: Vec<String> = match &self.ledger {
                    LedgerReader::OData(odata) => odata
                        .entity_set::<syspro_client::ArCustomer>()
                        .filter(syspro_client::Filter::eq("Email", email.as_str()))
                        .fetch_all()
                        .await
                        .map_err(err)?
                        .into_iter()
                        .map(|c| c.customer)
                        .collect(),
                    LedgerReader::Enet(enet) => enet
                        .find_customers_by_email(email)
                        .await
                        .map_err(err)?
                        .into_iter()
                        .map(|c| c.customer)
                        .collect(),
                };
                Ok(codes.iter().any(|c| same(c)))
            }
        }
    }
}

/// An amount at exactly two decimals, so that reports write `115.00` whichever way a side
/// spelled it (OData sends JSON numbers, which lose trailing zeros).
fn money(amount: Decimal) -> Decimal {
    let mut amount = amount.round_dp(2);
    amount.rescale(2);
    amount
}

fn add_totals(totals: &mut Totals, line: &DocumentResult, matched: bool) {
    totals.documents += 1;
    if matched {
        totals.matched += 1;
    } else {
        totals.exceptions += 1;
    }
    totals.commerce_amount += line.commerce_amount.unwrap_or_default();
    totals.syspro_amount += line.syspro_amount.unwrap_or_default();
}

fn expected_customer(plan: &PostingPlan) -> Option<String> {
    Some(match &plan.customer {
        CustomerAction::Existing { code, .. } | CustomerAction::Cash { code } => code.clone(),
        CustomerAction::Create(new) => new.code.clone(),
        CustomerAction::MatchByEmail { email, .. } => format!("by email {email}"),
    })
}

fn document_name(document_type: Option<&str>) -> &'static str {
    match document_type {
        Some("C") => "credit note",
        Some("D") => "debit note",
        _ => "invoice",
    }
}

/// `planned` and `posted` amounts per GL account that differ, as text.
fn account_differences<'a>(
    planned: impl Iterator<Item = (&'a str, Decimal)>,
    posted: &[(String, Decimal)],
) -> Vec<String> {
    let mut accounts: BTreeMap<&str, (Decimal, Decimal)> = BTreeMap::new();
    for (code, amount) in planned {
        accounts.entry(code).or_default().0 += amount;
    }
    for (code, amount) in posted {
        accounts.entry(code.as_str()).or_default().1 += *amount;
    }
    accounts
        .into_iter()
        .filter(|(_, (planned, posted))| planned != posted)
        .map(|(code, (planned, posted))| format!("{code} mapped {planned}, posted {posted}"))
        .collect()
}

/// Commerce's `searchCriteria` date format (`YYYY-MM-DD HH:MM:SS`, UTC).
fn commerce_time(at: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn account_differences_name_each_account() {
        let planned = [
            ("00-4999", Decimal::new(100, 0)),
            ("00-4010", Decimal::new(-100, 0)),
        ];
        let posted = vec![
            ("00-4999".to_owned(), Decimal::new(100, 0)),
            ("00-4010".to_owned(), Decimal::new(-90, 0)),
            ("00-4100".to_owned(), Decimal::new(-10, 0)),
        ];
        assert_eq!(
            account_differences(planned.into_iter(), &posted),
            [
                "00-4010 mapped -100, posted -90",
                "00-4100 mapped 0, posted -10"
            ]
        );
        assert!(account_differences(planned.into_iter(), &posted[..1]).len() == 1);
    }

    #[test]
    fn journal_summaries_fold_entries_per_account() {
        let mut s = JournalSummary::default();
        s.add("00-4999", Decimal::new(10, 0));
        s.add("00-4010", Decimal::new(-4, 0));
        s.add("00-4010", Decimal::new(-6, 0));
        assert_eq!(s.total, Decimal::ZERO);
        assert_eq!(s.entries, 3);
        assert_eq!(s.by_account.len(), 2);
    }

    #[test]
    fn ranges_are_inclusive_and_ordered() {
        let r = DateRange::new(date!(2026 - 03 - 01), date!(2026 - 03 - 31)).unwrap();
        assert!(r.contains(date!(2026 - 03 - 31)));
        assert!(!r.contains(date!(2026 - 04 - 01)));
        assert!(DateRange::new(date!(2026 - 03 - 02), date!(2026 - 03 - 01)).is_err());
        assert_eq!(
            commerce_time(datetime!(2026-03-31 23:59:59 UTC)),
            "2026-03-31 23:59:59"
        );
    }
}
