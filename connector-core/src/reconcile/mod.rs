//! Month-end reconciliation: proves that every Commerce invoice (and, when the connection posts
//! them, every credit memo) of a date range is in SYSPRO, once, for the right amount, on the right
//! customer, with a balanced GL journal that matches it.
//!
//! The two sides are matched through the deterministic SYSPRO invoice number (and the journal
//! reference derived from it), exactly as the engine posts them:
//!
//! 1. SYSPRO's AR documents dated in the range are read page by page (OData `ArInvoice` filtered on
//!    `InvoiceDate`, or COMFND when OData is not configured) into a compact index keyed by invoice
//!    number; the GL journal entries of the range (`GenTransaction`) are folded into one small
//!    summary per journal reference (its total, debits and amount per GL account).
//! 2. Commerce invoices created in the range are read page by page, then the credit memos; each is
//!    planned with the connection's mapper (the same plan the engine would post), looked up in the
//!    indexes and classified. A matched document is handed to the caller at once and not kept;
//!    exceptions are kept for the report. Each document removes what it matched from the indexes,
//!    so the indexes shrink as the run goes.
//! 3. What is left in the SYSPRO index with one of the connection's invoice prefixes, or with a
//!    journal of the same reference, is "in SYSPRO but not in Commerce"; a journal left with one of
//!    the connection's journal references is an orphan journal.
//!
//! The two sides cannot be merged in one ordered pass: SYSPRO orders its rows by invoice number or
//! reference, while Commerce can only be read in an order of its own ids, and the number template
//! decides how the two relate. So memory is bounded by the SYSPRO side of the range (about a
//! hundred bytes per AR document and per journal), never by the Commerce documents, the matched
//! list or the Commerce payloads. Each document that is not in SYSPRO is explained from the state
//! store: the record's state and the reason its last transition recorded (halted, waiting for a
//! retry, dead), or "never seen".

mod report;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use adobe_commerce_client::models::{CreditMemo, Invoice, Order};
use adobe_commerce_client::{Client as CommerceClient, Filter, SearchCriteria, SortDirection};
use futures::StreamExt;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use syspro_client::{ODataClient, SysproClient};
use time::{Date, OffsetDateTime, Time};

use crate::config::{
    ConnectionConfig, INVOICE_NUMBER_PLACEHOLDERS, JOURNAL_REFERENCE_PLACEHOLDERS, Template,
    Trigger,
};
use crate::engine::convert;
use crate::mapping::{Mapper, MappingContext, ReferenceData};
use crate::plan::{CreditMemoDetails, CustomerAction, PostingPlan, SourceDocument, to_cents};
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
    #[error("Commerce {kind} {entity_id} cannot be read")]
    Conversion {
        /// `invoice` or `credit memo`.
        kind: &'static str,
        /// The document's `entity_id`.
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
    /// A GL journal with one of the connection's journal references whose AR document is neither
    /// in Commerce's range nor in SYSPRO.
    OrphanJournal,
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
            Self::OrphanJournal => "orphan_journal",
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
            Self::OrphanJournal => "GL journal without its AR document",
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
    /// Commerce grand total; negative for a credit memo, so that sums net refunds against
    /// invoices. For an orphan journal, `None`.
    pub commerce_amount: Option<Decimal>,
    /// SYSPRO's value of the AR document, with the same sign as `commerce_amount` (a credit note
    /// is negative). For an orphan journal, the journal's debits.
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

/// Sums over documents. Amounts are net: credit memos and credit notes count negative.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Commerce documents (invoices and credit memos).
    pub documents: u64,
    /// Of them, credit memos.
    pub credit_memos: u64,
    /// Of them, matched.
    pub matched: u64,
    /// Exceptions (documents with a finding other than matched, plus SYSPRO documents unknown to
    /// Commerce and orphan journals).
    pub exceptions: u64,
    /// Sum of Commerce grand totals, net of credit memos.
    pub commerce_amount: Decimal,
    /// Sum of the SYSPRO values found for them (and of unknown SYSPRO documents), net of credit
    /// notes.
    pub syspro_amount: Decimal,
}

impl Totals {
    /// Counts one Commerce document's line in these totals, with its signed amounts.
    fn add(&mut self, line: &DocumentResult) {
        self.documents += 1;
        if line.kind.as_deref() == Some(Side::CreditMemo.kind()) {
            self.credit_memos += 1;
        }
        if line.finding == Finding::Matched {
            self.matched += 1;
        } else {
            self.exceptions += 1;
        }
        self.commerce_amount += line.commerce_amount.unwrap_or_default();
        self.syspro_amount += line.syspro_amount.unwrap_or_default();
    }
}

/// Sums per GL account: what the Commerce documents map to, and what SYSPRO's journals hold for
/// them (and orphan journals hold). Positive is a debit; a credit memo's reversing journal nets
/// against its invoice's.
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
    /// Commerce documents read (invoices and credit memos).
    pub commerce_documents: u64,
    /// Of them, credit memos.
    pub commerce_credit_memos: u64,
    /// Whether credit memos were read and matched against SYSPRO credit notes: only when the
    /// connection posts them (`mapping.credit_memos.enabled` on an invoice-triggered connection).
    pub credit_memos_reconciled: bool,
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
    /// What a reader must know about the scope of the totals: how credit memos were treated.
    pub notes: Vec<String>,
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
            let memos = if self.credit_memos_reconciled {
                format!(" ({} credit memo(s))", self.commerce_credit_memos)
            } else {
                String::new()
            };
            return format!(
                "RECONCILED: all {} Commerce document(s){memos} of {range} are in SYSPRO once, for \
                 the right amount, on the right customer, with matching journals",
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
    debits: Decimal,
    entries: u32,
    date: Option<Date>,
    by_account: Vec<(String, Decimal)>,
}

impl JournalSummary {
    fn add(&mut self, gl_code: &str, value: Decimal, date: Option<Date>) {
        let value = money(value);
        self.total += value;
        if value.is_sign_positive() {
            self.debits += value;
        }
        self.entries += 1;
        if self.date.is_none() {
            self.date = date;
        }
        match self.by_account.iter_mut().find(|(c, _)| c == gl_code) {
            Some((_, amount)) => *amount += value,
            None => self.by_account.push((gl_code.to_owned(), value)),
        }
    }
}

/// Which Commerce document a line reconciles, and the SYSPRO document type it must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// A Commerce invoice: a SYSPRO invoice (type `I`, or any type but `C`).
    Invoice,
    /// A Commerce credit memo: a SYSPRO credit note (type `C`).
    CreditMemo,
}

impl Side {
    /// The `kind` written in reports and records.
    fn kind(self) -> &'static str {
        match self {
            Self::Invoice => "invoice",
            Self::CreditMemo => "credit_memo",
        }
    }

    /// The Commerce admin's name of the document (its admin URL path).
    fn admin_kind(self) -> &'static str {
        match self {
            Self::Invoice => "invoice",
            Self::CreditMemo => "creditmemo",
        }
    }

    /// Whether a SYSPRO AR document of `document_type` can be this side's document.
    fn accepts(self, document_type: Option<&str>) -> bool {
        let credit = document_type.is_some_and(|t| t.trim().eq_ignore_ascii_case("C"));
        match self {
            Self::Invoice => !credit,
            Self::CreditMemo => credit,
        }
    }

    /// `+1` for an invoice, `-1` for a credit memo: what a magnitude is multiplied by in totals.
    fn sign(self) -> Decimal {
        match self {
            Self::Invoice => Decimal::ONE,
            Self::CreditMemo => Decimal::NEGATIVE_ONE,
        }
    }

    fn entity(self) -> EntityKind {
        match self {
            Self::Invoice => EntityKind::Invoice,
            Self::CreditMemo => EntityKind::CreditMemo,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Invoice => "invoice",
            Self::CreditMemo => "credit note",
        }
    }
}

/// The fixed text around the per-document part of the connection's journal references in one
/// store: a reference that starts with `prefix` and ends with `suffix`, with something between,
/// is one the connector could have posted.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ReferencePattern {
    store: String,
    prefix: String,
    suffix: String,
}

impl ReferencePattern {
    fn matches(&self, reference: &str) -> bool {
        reference.len() > self.prefix.len() + self.suffix.len()
            && reference.starts_with(&self.prefix)
            && reference.ends_with(&self.suffix)
    }
}

/// Stands for a per-document value when templates are rendered without a document; longer than
/// any zero-padding width, so padding never leaks into the fixed text.
const VARYING: &str = "\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}\u{1}";

/// The journal reference patterns of `connection`, per store and per numbering (invoices, and
/// credit notes when `credit_memos`). A pattern with neither prefix nor suffix would match every
/// journal of the ledger, so it is left out: such a connection has no orphan-journal check.
fn reference_patterns(connection: &ConnectionConfig, credit_memos: bool) -> Vec<ReferencePattern> {
    let mapping = &connection.mapping;
    let mut numberings = vec![&mapping.invoice.number_template];
    if credit_memos {
        numberings.push(&mapping.credit_memos.number_template);
    }
    let mut patterns = Vec::new();
    for (code, store) in &mapping.stores {
        let store_id = connection
            .commerce
            .stores
            .iter()
            .find(|s| &s.code == code)
            .map(|s| s.id.to_string())
            .unwrap_or_default();
        let fixed = |name: &str| -> Option<std::borrow::Cow<'_, str>> {
            Some(std::borrow::Cow::Owned(match name {
                "store_prefix" => store.invoice_prefix.clone(),
                "store_code" => code.clone(),
                "store_id" => store_id.clone(),
                _ => VARYING.to_owned(),
            }))
        };
        for template in &numberings {
            let Ok(number) = template.render(INVOICE_NUMBER_PLACEHOLDERS, fixed) else {
                continue;
            };
            let Ok(reference) = mapping.invoice.journal_reference_template.render(
                JOURNAL_REFERENCE_PLACEHOLDERS,
                |name| match name {
                    "invoice" => Some(std::borrow::Cow::Owned(number.clone())),
                    other => fixed(other),
                },
            ) else {
                continue;
            };
            let (Some(first), Some(last)) = (reference.find('\u{1}'), reference.rfind('\u{1}'))
            else {
                continue;
            };
            let pattern = ReferencePattern {
                store: code.clone(),
                prefix: reference[..first].to_owned(),
                suffix: reference[last + 1..].to_owned(),
            };
            if (!pattern.prefix.is_empty() || !pattern.suffix.is_empty())
                && !patterns.contains(&pattern)
            {
                patterns.push(pattern);
            }
        }
    }
    patterns
}

/// How a document's SYSPRO AR entries compare with what Commerce and the mapping give.
#[derive(Debug, Default)]
struct LedgerMatch {
    findings: Vec<Finding>,
    details: Vec<String>,
    /// The entry compared (on the expected customer when there are several).
    entry: Option<LedgerInvoice>,
    /// Entries under the number of the other document type, handed back to the index.
    other_types: Vec<LedgerInvoice>,
}

/// Compares the AR entries SYSPRO holds under a document's number with the Commerce amount
/// (a magnitude) and the expected customer: not there, there more than once, another amount.
/// Entries of the other type (an invoice where a credit note is expected, or the reverse) do not
/// count as the document; they are handed back.
fn match_ledger(
    side: Side,
    number: Option<&str>,
    commerce_amount: Decimal,
    expected_customer: Option<&str>,
    found: Option<Vec<LedgerInvoice>>,
) -> LedgerMatch {
    let mut out = LedgerMatch::default();
    let (mut entries, others): (Vec<_>, Vec<_>) = found
        .unwrap_or_default()
        .into_iter()
        .partition(|e| side.accepts(e.document_type.as_deref()));
    out.other_types = others;
    if entries.is_empty() {
        out.findings.push(Finding::NotInSyspro);
        if let (Some(number), Some(other)) = (number, out.other_types.first()) {
            out.details.push(format!(
                "SYSPRO holds {number} only as a {} on customer {}, not as a {}",
                document_name(other.document_type.as_deref()),
                other.customer,
                side.name()
            ));
        }
        return out;
    }
    if entries.len() > 1 {
        out.findings.push(Finding::Duplicate);
        out.details.push(format!(
            "SYSPRO holds {} documents numbered {}: {}",
            entries.len(),
            number.unwrap_or_default(),
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
    let pick = entries
        .iter()
        .position(|e| Some(e.customer.as_str()) == expected_customer)
        .unwrap_or(0);
    let entry = entries.swap_remove(pick);
    let value = entry.value.map(|v| v.abs());
    if value != Some(commerce_amount) {
        out.findings.push(Finding::AmountMismatch);
        out.details.push(format!(
            "SYSPRO {} value {} differs from Commerce grand total {commerce_amount}",
            side.name(),
            value.map_or_else(|| "(none)".to_owned(), |v| v.to_string())
        ));
    }
    out.entry = Some(entry);
    out
}

/// Compares a journal as posted with the lines the mapping plans for it: missing, out of
/// balance, or another amount on some GL account.
fn check_journal(
    reference: &str,
    planned: &[(String, Decimal)],
    posted: Option<&JournalSummary>,
) -> (Vec<Finding>, Vec<String>) {
    let Some(summary) = posted else {
        return (
            vec![Finding::JournalMissing],
            vec![format!("no GL journal with reference {reference}")],
        );
    };
    let mut findings = Vec::new();
    let mut details = Vec::new();
    if !summary.total.is_zero() {
        findings.push(Finding::JournalUnbalanced);
        details.push(format!(
            "GL journal {reference} is out of balance by {}",
            summary.total
        ));
    }
    let differences = account_differences(
        planned.iter().map(|(c, a)| (c.as_str(), *a)),
        &summary.by_account,
    );
    if !differences.is_empty() {
        findings.push(Finding::JournalMismatch);
        details.push(format!(
            "GL journal {reference} differs from the document's mapping: {}",
            differences.join("; ")
        ));
    }
    (findings, details)
}

/// The note on credit memos every report carries.
fn credit_memo_note(reconciled: bool, trigger: Trigger) -> String {
    if reconciled {
        "Credit memos were reconciled against SYSPRO credit notes; amounts are net: credit memos \
         and credit notes count negative, and their reversing journals net against the invoices' \
         journals per GL account."
            .to_owned()
    } else if trigger == Trigger::Invoice {
        "Credit memos were not reconciled: this connection does not post them \
         (mapping.credit_memos.enabled is off)."
            .to_owned()
    } else {
        "Credit memos were not reconciled: only invoice-triggered connections post them.".to_owned()
    }
}

/// Reconciles one connection. Build it with the clients the engine would use.
pub struct Reconciler {
    connection: Arc<ConnectionConfig>,
    commerce: CommerceClient,
    ledger: LedgerReader,
    store: Arc<dyn StateStore>,
    mapper: Arc<dyn Mapper>,
    patterns: Vec<ReferencePattern>,
}

impl fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reconciler")
            .field("connection", &self.connection.name)
            .field("ledger", &self.ledger)
            .finish_non_exhaustive()
    }
}

/// Refuses a connection whose postings are not AR invoices: a sales-order connection leaves no
/// AR invoice or journal of its own to compare.
fn reconcilable(connection: &ConnectionConfig) -> Result<(), ReconcileError> {
    if connection.target == crate::config::PostingTarget::SalesOrder {
        return Err(ReconcileError::InvalidInput {
            field: format!("connection {}", connection.name),
            expected: "a connection that posts AR invoices: this one has target = \"sales_order\", and reconciliation compares AR invoices and GL journals with Commerce".to_owned(),
        });
    }
    Ok(())
}

/// The SYSPRO side of the range, shrinking as Commerce documents claim their entries.
struct Ledger {
    invoices: HashMap<String, Vec<LedgerInvoice>>,
    journals: HashMap<String, JournalSummary>,
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
        let patterns = reference_patterns(&connection, credit_memos_enabled(&connection));
        Self {
            connection,
            commerce,
            ledger,
            store,
            mapper,
            patterns,
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
        reconcilable(&self.connection)?;
        let credit_memos = credit_memos_enabled(&self.connection);
        let mut ledger = Ledger {
            invoices: self.read_ledger_invoices(range).await?,
            journals: self.read_journals(range).await?,
        };
        let mut result = Reconciliation {
            connection: self.connection.name.clone(),
            range,
            commerce_documents: 0,
            commerce_credit_memos: 0,
            credit_memos_reconciled: credit_memos,
            syspro_documents: 0,
            matched: 0,
            exceptions: Vec::new(),
            by_store: BTreeMap::new(),
            by_currency: BTreeMap::new(),
            by_gl_account: BTreeMap::new(),
            notes: vec![credit_memo_note(credit_memos, self.connection.trigger)],
        };
        let ours: usize = ledger
            .invoices
            .iter()
            .filter(|(number, _)| self.is_ours(number, &ledger.journals))
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
            let orders = self
                .orders_of(page.items.iter().map(|i| i.order_id))
                .await?;
            for invoice in &page.items {
                let entity_id = invoice.entity_id.map_or(0, |id| id.get());
                let order = order_of(&orders, invoice.order_id, "invoice", entity_id)?;
                let doc = convert::invoice_document(&self.connection, invoice, order).map_err(
                    |source| ReconcileError::Conversion {
                        kind: "invoice",
                        entity_id,
                        source,
                    },
                )?;
                if !range.contains(doc.created_at.date()) {
                    continue;
                }
                let line = self
                    .reconcile_document(&doc, None, &reference, &mut ledger, &mut result)
                    .await?;
                record_line(&mut result, line, on_matched)?;
            }
        }
        if credit_memos {
            self.reconcile_credit_memos(range, &reference, &mut ledger, &mut result, on_matched)
                .await?;
        }

        self.report_unknown(&mut ledger, &mut result);
        self.report_orphan_journals(ledger.journals, &mut result);
        result.exceptions.sort_by(|a, b| {
            (a.finding, &a.invoice, &a.journal, a.entity_id).cmp(&(
                b.finding,
                &b.invoice,
                &b.journal,
                b.entity_id,
            ))
        });
        Ok(result)
    }

    /// Reads the credit memos created in the range page by page, with their orders and the
    /// invoices they refund (one search each per page), and reconciles each one.
    async fn reconcile_credit_memos(
        &self,
        range: DateRange,
        reference: &ReferenceData,
        ledger: &mut Ledger,
        result: &mut Reconciliation,
        on_matched: &mut (dyn FnMut(&DocumentResult) -> Result<(), String> + Send),
    ) -> Result<(), ReconcileError> {
        let mut pages = self
            .commerce
            .credit_memos()
            .search(self.criteria(range))
            .pages();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|source| ReconcileError::Commerce {
                what: "credit memos",
                source,
            })?;
            let memos: &[CreditMemo] = &page.items;
            let orders = self.orders_of(memos.iter().map(|m| m.order_id)).await?;
            let invoices = self.invoices_of(memos).await?;
            for memo in memos {
                let entity_id = memo.entity_id.map_or(0, |id| id.get());
                let order = order_of(&orders, memo.order_id, "credit memo", entity_id)?;
                let invoice = memo.invoice_id.and_then(|id| invoices.get(&id.get()));
                let (doc, details) =
                    match convert::credit_memo_document(&self.connection, memo, order, invoice) {
                        Ok(converted) => converted,
                        // A cancelled memo posts nothing: there is nothing to find in SYSPRO.
                        Err(convert::ConversionError::Cancelled { .. }) => continue,
                        Err(source) => {
                            return Err(ReconcileError::Conversion {
                                kind: "credit memo",
                                entity_id,
                                source,
                            });
                        }
                    };
                if !range.contains(doc.created_at.date()) {
                    continue;
                }
                let line = self
                    .reconcile_document(&doc, Some(&details), reference, ledger, result)
                    .await?;
                result.commerce_credit_memos += 1;
                record_line(result, line, on_matched)?;
            }
        }
        Ok(())
    }

    /// SYSPRO documents of the connection that no Commerce document claimed.
    fn report_unknown(&self, ledger: &mut Ledger, result: &mut Reconciliation) {
        let invoices = std::mem::take(&mut ledger.invoices);
        for (number, left) in invoices {
            if !self.is_ours(&number, &ledger.journals) {
                continue;
            }
            let store = self.store_of_number(&number);
            let journal_reference = self.reference_of_number(&number, store.as_deref());
            let journal = ledger.journals.remove(&journal_reference);
            if let Some(summary) = &journal {
                add_posted(result, &summary.by_account);
            }
            for found in left {
                let credit = Side::CreditMemo.accepts(found.document_type.as_deref());
                let value = found.value.map(|v| if credit { -v.abs() } else { v.abs() });
                if let Some(store) = &store {
                    let t = result.by_store.entry(store.clone()).or_default();
                    t.exceptions += 1;
                    t.syspro_amount += value.unwrap_or_default();
                }
                result.exceptions.push(DocumentResult {
                    finding: Finding::UnknownToCommerce,
                    findings: vec![Finding::UnknownToCommerce],
                    kind: None,
                    entity_id: None,
                    increment_id: None,
                    store: store.clone(),
                    currency: None,
                    date: found.date.map(|d| d.to_string()),
                    invoice: Some(number.clone()),
                    commerce_amount: None,
                    syspro_amount: value,
                    expected_customer: None,
                    syspro_customer: Some(found.customer.clone()),
                    journal: journal.is_some().then(|| journal_reference.clone()),
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
    }

    /// Journals left over with one of the connection's references: their AR document is neither
    /// in Commerce's range nor in SYSPRO.
    fn report_orphan_journals(
        &self,
        journals: HashMap<String, JournalSummary>,
        result: &mut Reconciliation,
    ) {
        for (reference, summary) in journals {
            let Some(pattern) = self.patterns.iter().find(|p| p.matches(&reference)) else {
                continue;
            };
            add_posted(result, &summary.by_account);
            let t = result.by_store.entry(pattern.store.clone()).or_default();
            t.exceptions += 1;
            let accounts = summary
                .by_account
                .iter()
                .map(|(code, amount)| format!("{code} {amount}"))
                .collect::<Vec<_>>()
                .join(", ");
            let balance = if summary.total.is_zero() {
                "balanced".to_owned()
            } else {
                format!("out of balance by {}", summary.total)
            };
            result.exceptions.push(DocumentResult {
                finding: Finding::OrphanJournal,
                findings: vec![Finding::OrphanJournal],
                kind: None,
                entity_id: None,
                increment_id: None,
                store: Some(pattern.store.clone()),
                currency: None,
                date: summary.date.map(|d| d.to_string()),
                invoice: None,
                commerce_amount: None,
                syspro_amount: Some(summary.debits),
                expected_customer: None,
                syspro_customer: None,
                journal: Some(reference.clone()),
                record_state: None,
                detail: format!(
                    "GL journal {reference} ({} entries, debits {}, {balance}: {accounts}) has no \
                     AR document in SYSPRO and no Commerce document in the range",
                    summary.entries, summary.debits
                ),
                admin_url: None,
            });
        }
    }

    /// Documents created in the range, in the connection's stores, oldest first.
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

    /// The orders of one page of documents, read with one search.
    async fn orders_of(
        &self,
        ids: impl Iterator<Item = Option<adobe_commerce_client::models::OrderId>>,
    ) -> Result<HashMap<u64, Order>, ReconcileError> {
        let ids: Vec<u64> = ids.flatten().map(|id| id.get()).collect();
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

    /// The invoices one page of credit memos refund, read with one search.
    async fn invoices_of(
        &self,
        memos: &[CreditMemo],
    ) -> Result<HashMap<u64, Invoice>, ReconcileError> {
        let ids: Vec<u64> = memos
            .iter()
            .filter_map(|m| m.invoice_id.map(|id| id.get()))
            .filter(|id| *id > 0)
            .collect();
        let mut invoices = HashMap::new();
        if ids.is_empty() {
            return Ok(invoices);
        }
        let criteria = SearchCriteria::new()
            .filter(Filter::in_list("entity_id", ids.iter()))
            .page_size(self.connection.commerce.page_size.max(1));
        let mut stream = self.commerce.invoices().search(criteria).stream();
        while let Some(invoice) = stream.next().await {
            let invoice = invoice.map_err(|source| ReconcileError::Commerce {
                what: "refunded invoices",
                source,
            })?;
            if let Some(id) = invoice.entity_id {
                invoices.insert(id.get(), invoice);
            }
        }
        Ok(invoices)
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
                        journals.entry(reference.clone()).or_default().add(
                            &row.gl_code,
                            row.entry_value,
                            row.transaction_date,
                        );
                    }
                }
            }
            LedgerReader::Enet(enet) => {
                let mut rows = enet.gl_journal_entries_between(range.from, range.to);
                while let Some(row) = rows.next().await {
                    let row = row.map_err(err)?;
                    if let Some(reference) = &row.reference {
                        journals.entry(reference.clone()).or_default().add(
                            &row.gl_code,
                            row.entry_value,
                            row.transaction_date,
                        );
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

    /// The journal reference the connector gives an AR document numbered `number`: the
    /// reference template rendered with that number. A template that needs more than the number
    /// and the store (e.g. the increment id) cannot be rendered here; the number itself is used.
    fn reference_of_number(&self, number: &str, store: Option<&str>) -> String {
        let mapping = &self.connection.mapping;
        let store_mapping = store.and_then(|s| mapping.stores.get(s));
        let store_id = store.and_then(|code| {
            self.connection
                .commerce
                .stores
                .iter()
                .find(|s| s.code == code)
                .map(|s| s.id.to_string())
        });
        mapping
            .invoice
            .journal_reference_template
            .render(JOURNAL_REFERENCE_PLACEHOLDERS, |name| {
                Some(std::borrow::Cow::Owned(match name {
                    "invoice" => number.to_owned(),
                    "store_prefix" => store_mapping?.invoice_prefix.clone(),
                    "store_code" => store?.to_owned(),
                    "store_id" => store_id.clone()?,
                    _ => return None,
                }))
            })
            .unwrap_or_else(|_| number.to_owned())
    }

    fn admin_url(&self, doc: &SourceDocument, side: Side) -> Option<String> {
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
                    "kind" => side.admin_kind().to_owned(),
                    "entity_id" => entity_id.clone(),
                    "increment_id" => doc.increment_id.clone(),
                    "store_code" => doc.store_code.clone(),
                    _ => return None,
                }))
            })
            .ok()
    }

    /// Reconciles one Commerce document (`memo` present for a credit memo): plans it, claims its
    /// AR entries and journal from `ledger`, compares them, and adds it to the totals.
    async fn reconcile_document(
        &self,
        doc: &SourceDocument,
        memo: Option<&CreditMemoDetails>,
        reference: &ReferenceData,
        ledger: &mut Ledger,
        result: &mut Reconciliation,
    ) -> Result<DocumentResult, ReconcileError> {
        let side = if memo.is_some() {
            Side::CreditMemo
        } else {
            Side::Invoice
        };
        let key = RecordKey::new(
            crate::state::ConnectionName::new(&self.connection.name)?,
            side.entity(),
            doc.entity_id.to_string(),
        );
        let record = self.store.get(&key).await?;
        let ctx = MappingContext {
            customer_code: None,
            reference,
        };
        let plan = match memo {
            Some(details) => self.mapper.plan_credit_memo(doc, details, &ctx),
            None => self.mapper.plan(doc, &ctx),
        }
        .ok();
        let number = plan
            .as_ref()
            .map(|p| p.ar_invoice.invoice.clone())
            .or_else(|| record.as_ref().and_then(|r| r.syspro.invoice.clone()));
        let journal_reference = plan
            .as_ref()
            .and_then(|p| p.journal.as_ref().map(|j| j.reference.clone()))
            .or_else(|| record.as_ref().and_then(|r| r.syspro.journal.clone()));
        let magnitude = money(to_cents(doc.grand_total).abs());
        let mut line = DocumentResult {
            finding: Finding::Matched,
            findings: Vec::new(),
            kind: Some(side.kind().to_owned()),
            entity_id: Some(doc.entity_id),
            increment_id: Some(doc.increment_id.clone()),
            store: Some(doc.store_code.clone()),
            currency: Some(doc.currency.clone()),
            date: Some(doc.created_at.date().to_string()),
            invoice: number.clone(),
            commerce_amount: Some(magnitude * side.sign()),
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
            admin_url: self.admin_url(doc, side),
        };
        let found = number.as_ref().and_then(|n| ledger.invoices.remove(n));
        let matched = match_ledger(
            side,
            number.as_deref(),
            magnitude,
            line.expected_customer.as_deref(),
            found,
        );
        if let Some(n) = &number
            && !matched.other_types.is_empty()
        {
            ledger.invoices.insert(n.clone(), matched.other_types);
        }
        line.findings = matched.findings;
        let mut details = matched.details;
        // The journal is the document's whether or not its AR entry is there, so it is claimed
        // either way and never reported as an orphan.
        let journal = journal_reference
            .as_ref()
            .and_then(|r| ledger.journals.remove(r));
        let planned: Vec<(String, Decimal)> = plan
            .as_ref()
            .and_then(|p| p.journal.as_ref())
            .map(|j| {
                let mut by_account: BTreeMap<&str, Decimal> = BTreeMap::new();
                for l in &j.lines {
                    *by_account.entry(l.ledger_code.as_str()).or_default() += l.amount;
                }
                by_account
                    .into_iter()
                    .map(|(code, amount)| (code.to_owned(), money(amount)))
                    .collect()
            })
            .unwrap_or_default();
        match &matched.entry {
            None => {
                details.insert(0, not_in_syspro_reason(record.as_ref()));
                if number.is_none() {
                    details.push("no SYSPRO invoice number can be derived".to_owned());
                }
                if let (Some(reference), Some(summary)) = (&journal_reference, &journal) {
                    details.push(format!(
                        "its GL journal {reference} is in SYSPRO (debits {})",
                        summary.debits
                    ));
                }
            }
            Some(entry) => {
                line.syspro_amount = entry.value.map(|v| v.abs() * side.sign());
                line.syspro_customer = Some(entry.customer.clone());
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
                if let (Some(reference), Some(_)) = (
                    &journal_reference,
                    plan.as_ref().and_then(|p| p.journal.as_ref()),
                ) {
                    let (findings, more) = check_journal(reference, &planned, journal.as_ref());
                    line.findings.extend(findings);
                    details.extend(more);
                }
            }
        }
        for (code, amount) in &planned {
            result
                .by_gl_account
                .entry(code.clone())
                .or_default()
                .expected += *amount;
        }
        if let Some(summary) = &journal {
            add_posted(result, &summary.by_account);
        }
        line.findings.sort();
        line.findings.dedup();
        if let Some(first) = line.findings.first() {
            line.finding = *first;
        } else {
            line.findings.push(Finding::Matched);
        }
        if details.is_empty() {
            details.push(format!(
                "in SYSPRO once as a {}, same amount, same customer, journal matches",
                side.name()
            ));
        }
        line.detail = details.join("; ");
        result
            .by_store
            .entry(doc.store_code.clone())
            .or_default()
            .add(&line);
        result
            .by_currency
            .entry(doc.currency.clone())
            .or_default()
            .add(&line);
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

/// Counts one document in the totals and hands a matched one to the caller.
fn record_line(
    result: &mut Reconciliation,
    line: DocumentResult,
    on_matched: &mut (dyn FnMut(&DocumentResult) -> Result<(), String> + Send),
) -> Result<(), ReconcileError> {
    result.commerce_documents += 1;
    if line.finding == Finding::Matched {
        result.matched += 1;
        on_matched(&line).map_err(ReconcileError::Sink)
    } else {
        result.exceptions.push(line);
        Ok(())
    }
}

/// Adds a posted journal's amounts to the per-account totals.
fn add_posted(result: &mut Reconciliation, by_account: &[(String, Decimal)]) {
    for (code, amount) in by_account {
        result.by_gl_account.entry(code.clone()).or_default().posted += *amount;
    }
}

/// The order a document belongs to, from the page's order search.
fn order_of<'a>(
    orders: &'a HashMap<u64, Order>,
    order_id: Option<adobe_commerce_client::models::OrderId>,
    kind: &str,
    entity_id: u64,
) -> Result<&'a Order, ReconcileError> {
    order_id
        .and_then(|id| orders.get(&id.get()))
        .ok_or_else(|| ReconcileError::InvalidInput {
            field: format!("Commerce {kind} {entity_id}"),
            expected: format!("a {kind} whose order can be read"),
        })
}

/// Why a document is not in SYSPRO, from its record in the state store.
fn not_in_syspro_reason(record: Option<&crate::state::Record>) -> String {
    match record {
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
    }
}

/// Whether the connection posts credit memos (the engine's rule): only invoice-triggered
/// connections with `mapping.credit_memos.enabled`.
fn credit_memos_enabled(connection: &ConnectionConfig) -> bool {
    connection.trigger == Trigger::Invoice && connection.mapping.credit_memos.enabled
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
        s.add("00-4999", Decimal::new(10, 0), Some(date!(2026 - 03 - 02)));
        s.add("00-4010", Decimal::new(-4, 0), None);
        s.add("00-4010", Decimal::new(-6, 0), Some(date!(2026 - 03 - 03)));
        assert_eq!(s.total, Decimal::ZERO);
        assert_eq!(s.entries, 3);
        assert_eq!(s.by_account.len(), 2);
        assert_eq!(s.debits, Decimal::new(1000, 2));
        assert_eq!(s.date, Some(date!(2026 - 03 - 02)), "the first date seen");
    }

    fn connection(extra_mapping: &str) -> ConnectionConfig {
        let example = include_str!("../../examples/ml-connector.example.toml");
        let line = "journal_reference_template = \"{invoice}\"";
        assert!(example.contains(line), "the example sets {line}");
        let text = example.replacen(line, extra_mapping, 1);
        crate::config::Config::from_toml_str(&text, "example")
            .expect("example configuration")
            .connections
            .remove(0)
    }

    #[test]
    fn sales_order_connections_are_refused_with_the_reason() {
        let mut c = connection("journal_reference_template = \"{invoice}\"");
        assert!(reconcilable(&c).is_ok());
        c.target = crate::config::PostingTarget::SalesOrder;
        let message = reconcilable(&c).unwrap_err().to_string();
        assert!(message.contains("sales_order"), "{message}");
    }

    fn entry(customer: &str, document_type: &str, value: i64) -> LedgerInvoice {
        LedgerInvoice {
            customer: customer.to_owned(),
            document_type: Some(document_type.to_owned()),
            value: Some(Decimal::new(value, 2)),
            date: None,
        }
    }

    fn line(kind: Side, finding: Finding, commerce: i64, syspro: Option<i64>) -> DocumentResult {
        DocumentResult {
            finding,
            findings: vec![finding],
            kind: Some(kind.kind().to_owned()),
            entity_id: Some(1),
            increment_id: None,
            store: None,
            currency: None,
            date: None,
            invoice: None,
            commerce_amount: Some(Decimal::new(commerce, 2) * kind.sign()),
            syspro_amount: syspro.map(|v| Decimal::new(v, 2) * kind.sign()),
            expected_customer: None,
            syspro_customer: None,
            journal: None,
            record_state: None,
            detail: String::new(),
            admin_url: None,
        }
    }

    #[test]
    fn a_credit_note_matches_by_magnitude_and_only_as_type_c() {
        // SYSPRO stores credit notes negative; the memo's grand total is a magnitude.
        let m = match_ledger(
            Side::CreditMemo,
            Some("W1-CR1"),
            Decimal::new(4500, 2),
            Some("ACME"),
            Some(vec![entry("ACME", "C", -4500)]),
        );
        assert!(m.findings.is_empty(), "{m:?}");
        assert_eq!(m.entry.unwrap().customer, "ACME");

        // An invoice under the credit note's number is not the credit note: it is handed back.
        let m = match_ledger(
            Side::CreditMemo,
            Some("W1-CR1"),
            Decimal::new(4500, 2),
            None,
            Some(vec![entry("ACME", "I", 4500)]),
        );
        assert_eq!(m.findings, [Finding::NotInSyspro]);
        assert_eq!(m.other_types.len(), 1);
        assert!(m.details[0].contains("only as a invoice"), "{m:?}");

        // And a credit note under an invoice's number is not the invoice.
        let m = match_ledger(
            Side::Invoice,
            Some("W1-1"),
            Decimal::new(4500, 2),
            None,
            Some(vec![entry("ACME", "C", -4500), entry("ACME", "I", 4500)]),
        );
        assert!(m.findings.is_empty(), "{m:?}");
        assert_eq!(m.other_types.len(), 1);
    }

    #[test]
    fn amounts_duplicates_and_absence_are_findings() {
        let m = match_ledger(
            Side::CreditMemo,
            Some("W1-CR1"),
            Decimal::new(4500, 2),
            Some("BETA"),
            Some(vec![entry("ACME", "C", -4500), entry("BETA", "C", -4000)]),
        );
        assert_eq!(m.findings, [Finding::Duplicate, Finding::AmountMismatch]);
        assert_eq!(
            m.entry.as_ref().unwrap().customer,
            "BETA",
            "the expected one"
        );
        assert!(m.details[1].contains("credit note value 40.00"), "{m:?}");

        let m = match_ledger(Side::Invoice, Some("W1-1"), Decimal::ONE, None, None);
        assert_eq!(m.findings, [Finding::NotInSyspro]);
        assert!(m.entry.is_none() && m.details.is_empty());
    }

    #[test]
    fn journals_are_checked_for_presence_balance_and_accounts() {
        let planned = vec![
            ("00-4999".to_owned(), Decimal::new(-4500, 2)),
            ("00-4010".to_owned(), Decimal::new(4500, 2)),
        ];
        let (findings, details) = check_journal("W1-CR1", &planned, None);
        assert_eq!(findings, [Finding::JournalMissing]);
        assert_eq!(details, ["no GL journal with reference W1-CR1"]);

        let mut posted = JournalSummary::default();
        posted.add("00-4999", Decimal::new(-4500, 2), None);
        posted.add("00-4010", Decimal::new(4500, 2), None);
        assert_eq!(check_journal("W1-CR1", &planned, Some(&posted)).0, []);
        assert_eq!(posted.debits, Decimal::new(4500, 2));

        posted.add("00-4100", Decimal::new(100, 2), None);
        let (findings, details) = check_journal("W1-CR1", &planned, Some(&posted));
        assert_eq!(
            findings,
            [Finding::JournalUnbalanced, Finding::JournalMismatch]
        );
        assert!(
            details[1].contains("00-4100 mapped 0, posted 1.00"),
            "{details:?}"
        );
    }

    #[test]
    fn totals_net_credit_memos_against_invoices() {
        let mut t = Totals::default();
        t.add(&line(Side::Invoice, Finding::Matched, 10000, Some(10000)));
        t.add(&line(Side::CreditMemo, Finding::Matched, 3000, Some(3000)));
        t.add(&line(Side::CreditMemo, Finding::NotInSyspro, 1000, None));
        assert_eq!(t.documents, 3);
        assert_eq!(t.credit_memos, 2);
        assert_eq!(t.matched, 2);
        assert_eq!(t.exceptions, 1);
        assert_eq!(t.commerce_amount, Decimal::new(6000, 2));
        assert_eq!(t.syspro_amount, Decimal::new(7000, 2));
    }

    #[test]
    fn journal_reference_patterns_follow_the_templates() {
        let c = connection("journal_reference_template = \"{invoice}\"");
        let patterns = reference_patterns(&c, true);
        assert!(
            patterns
                .iter()
                .any(|p| p.prefix == "W1-" && p.suffix.is_empty())
        );
        assert!(
            patterns
                .iter()
                .any(|p| p.prefix == "W2-" && p.store == "wholesale")
        );
        assert!(patterns.iter().any(|p| p.prefix == "W1-CR"));
        let ours = |r: &str| patterns.iter().any(|p| p.matches(r));
        assert!(ours("W1-000000123") && ours("W1-CR000000004"));
        assert!(!ours("W1-"), "the per-document part must be there");
        assert!(!ours("PAYROLL-2026-03"));

        // Fixed text after the number, and padding that must not leak into the prefix.
        let c = connection("journal_reference_template = \"{invoice}/{store_id:04}-J\"");
        let patterns = reference_patterns(&c, false);
        let first = patterns.iter().find(|p| p.store == "default").unwrap();
        assert_eq!(
            (first.prefix.as_str(), first.suffix.as_str()),
            ("W1-", "/0001-J")
        );
        assert!(first.matches("W1-000000123/0001-J"));
        assert!(!first.matches("W1-000000123"));
    }

    #[test]
    fn the_credit_memo_note_says_why_they_were_left_out() {
        assert!(credit_memo_note(true, Trigger::Invoice).contains("net"));
        assert!(
            credit_memo_note(false, Trigger::Invoice)
                .starts_with("Credit memos were not reconciled")
        );
        assert!(credit_memo_note(false, Trigger::Order).contains("invoice-triggered"));
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
