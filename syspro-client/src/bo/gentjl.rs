//! GENTJL: post general ledger journals (Transaction/Post).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;

use super::output::{FieldError, Messages, StatusOfItems};
use super::xml::{
    Node, XmlOut, check_date, check_money, check_opt_len, child_amount, child_counter,
    output_error, parse, parse_date, require_text,
};
use super::{GL_CODE_MAX_LEN, IgnoreWarnings, ccyy_mm_dd};
use crate::client::SysproClient;
use crate::error::Error;

/// Business object name sent as `BusinessObject`.
pub const GENTJL: &str = "GENTJL";

/// Kind of journal (`JournalType`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum JournalType {
    /// `N`: a normal journal.
    #[default]
    #[serde(rename = "N", alias = "Normal")]
    Normal,
}

impl JournalType {
    fn code(self) -> &'static str {
        match self {
            Self::Normal => "N",
        }
    }
}

/// GENTJL parameters (`<PostGlJournal><Parameters>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GlJournalParameters {
    /// `IgnoreWarnings` (`N`, `Y` or `W`).
    pub ignore_warnings: IgnoreWarnings,
    /// `ApplyIfEntireDocumentValid`.
    pub apply_if_entire_document_valid: bool,
    /// `ValidateOnly`: a dry run.
    pub validate_only: bool,
    /// `ValidatePasswords`; omitted when `None`.
    pub validate_passwords: Option<bool>,
    /// `IgnoreAnalysis`: post without GL analysis entries; omitted when `None`.
    pub ignore_analysis: Option<bool>,
}

impl Default for GlJournalParameters {
    fn default() -> Self {
        Self {
            ignore_warnings: IgnoreWarnings::AsErrors,
            apply_if_entire_document_valid: true,
            validate_only: false,
            validate_passwords: None,
            ignore_analysis: None,
        }
    }
}

/// One journal line (`<JournalDetails>`).
///
/// **Sign convention of [`amount`](Self::amount)** (`EntryAmount`): a positive amount debits the
/// ledger code, a negative amount credits it. SYSPRO's documents do not state this in words; it is
/// the usual reading of a signed GL entry amount (inferred), so build lines with
/// [`GlJournalLine::debit`] and [`GlJournalLine::credit`] rather than by hand, and the convention
/// lives in one place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlJournalLine {
    /// `LedgerCode`, e.g. `00-4010`.
    pub ledger_code: String,
    /// `EntryAmount`: positive = debit, negative = credit, two decimals.
    pub amount: Decimal,
    /// `Reference`.
    #[serde(default)]
    pub reference: Option<String>,
    /// `Comment`.
    #[serde(default)]
    pub comment: Option<String>,
}

impl GlJournalLine {
    /// Debits `ledger_code` with `amount` (given as a positive number).
    pub fn debit(ledger_code: impl Into<String>, amount: Decimal) -> Self {
        Self {
            ledger_code: ledger_code.into(),
            amount: amount.abs(),
            reference: None,
            comment: None,
        }
    }

    /// Credits `ledger_code` with `amount` (given as a positive number).
    pub fn credit(ledger_code: impl Into<String>, amount: Decimal) -> Self {
        Self {
            ledger_code: ledger_code.into(),
            amount: -amount.abs(),
            reference: None,
            comment: None,
        }
    }

    /// Sets the line reference.
    pub fn with_reference(mut self, reference: impl Into<String>) -> Self {
        self.reference = Some(reference.into());
        self
    }

    /// Sets the line comment.
    pub fn with_comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    /// Whether this line debits its ledger code.
    pub fn is_debit(&self) -> bool {
        self.amount.is_sign_positive()
    }
}

/// One journal (`<Item>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlJournal {
    /// `JournalType`.
    #[serde(default)]
    pub journal_type: JournalType,
    /// `PostJournal`: post immediately (`true`) or leave the journal unposted for review.
    #[serde(default = "yes")]
    pub post_journal: bool,
    /// `JournalDate`.
    #[serde(with = "ccyy_mm_dd")]
    pub journal_date: Date,
    /// `PostingYear`, e.g. 2026.
    pub posting_year: u16,
    /// `PostingPeriod`, 1 to 13 (sent as two digits).
    pub posting_period: u8,
    /// `JournalReference`, e.g. the AR invoice number the journal belongs to.
    #[serde(default)]
    pub reference: Option<String>,
    /// `Notation`.
    #[serde(default)]
    pub notation: Option<String>,
    /// `Source` (SYSPRO 8), e.g. `AR`.
    #[serde(default)]
    pub source: Option<String>,
    /// The lines; debits must equal credits.
    pub lines: Vec<GlJournalLine>,
}

fn yes() -> bool {
    true
}

impl GlJournal {
    /// A normal journal that posts immediately.
    pub fn new(
        journal_date: Date,
        posting_year: u16,
        posting_period: u8,
        lines: Vec<GlJournalLine>,
    ) -> Self {
        Self {
            journal_type: JournalType::Normal,
            post_journal: true,
            journal_date,
            posting_year,
            posting_period,
            reference: None,
            notation: None,
            source: None,
            lines,
        }
    }

    /// Sum of all line amounts: zero when the journal balances.
    pub fn imbalance(&self) -> Decimal {
        self.lines.iter().map(|l| l.amount).sum()
    }

    fn validate(&self, index: usize) -> Result<(), Error> {
        let field = |name: &str| format!("journals[{index}].{name}");
        check_date(&field("journal_date"), self.journal_date)?;
        if !(1900..=9999).contains(&self.posting_year) {
            return Err(Error::InvalidInput {
                field: field("posting_year"),
                expected: format!("a four-digit year (got {})", self.posting_year),
            });
        }
        if !(1..=13).contains(&self.posting_period) {
            return Err(Error::InvalidInput {
                field: field("posting_period"),
                expected: format!("a period from 1 to 13 (got {})", self.posting_period),
            });
        }
        check_opt_len(&field("reference"), self.reference.as_deref(), usize::MAX)?;
        if self.lines.len() < 2 {
            return Err(Error::InvalidInput {
                field: field("lines"),
                expected: "at least one debit and one credit line".into(),
            });
        }
        for (n, line) in self.lines.iter().enumerate() {
            let line_field = |name: &str| format!("journals[{index}].lines[{n}].{name}");
            require_text(
                &line_field("ledger_code"),
                &line.ledger_code,
                GL_CODE_MAX_LEN,
            )?;
            check_money(&line_field("amount"), line.amount)?;
            if line.amount.is_zero() {
                return Err(Error::InvalidInput {
                    field: line_field("amount"),
                    expected: "a non-zero amount".into(),
                });
            }
        }
        let imbalance = self.imbalance();
        if !imbalance.is_zero() {
            return Err(Error::InvalidInput {
                field: field("lines"),
                expected: format!(
                    "debits equal to credits (debits exceed credits by {})",
                    imbalance.normalize()
                ),
            });
        }
        Ok(())
    }

    fn write(&self, out: &mut XmlOut) {
        out.open("Item");
        out.text("JournalType", self.journal_type.code());
        out.flag("PostJournal", self.post_journal);
        out.date("JournalDate", self.journal_date);
        out.opt_text("JournalReference", self.reference.as_deref());
        out.opt_text("Notation", self.notation.as_deref());
        out.text("PostingPeriod", &format!("{:02}", self.posting_period));
        out.text("PostingYear", &self.posting_year.to_string());
        out.opt_text("Source", self.source.as_deref());
        for line in &self.lines {
            out.open("JournalDetails");
            out.text("LedgerCode", &line.ledger_code);
            out.opt_text("Reference", line.reference.as_deref());
            out.money("EntryAmount", line.amount);
            out.opt_text("Comment", line.comment.as_deref());
            out.close("JournalDetails");
        }
        out.close("Item");
    }
}

/// A whole GENTJL call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlJournalPosting {
    /// Posting parameters.
    #[serde(default)]
    pub parameters: GlJournalParameters,
    /// The journals, each balanced on its own.
    pub journals: Vec<GlJournal>,
}

impl GlJournalPosting {
    /// A posting of the given journals with default parameters.
    pub fn new(journals: Vec<GlJournal>) -> Self {
        Self {
            parameters: GlJournalParameters::default(),
            journals,
        }
    }

    /// Checks dates, periods, ledger codes, amounts and that each journal balances.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the first offending field, e.g. `journals[0].lines`.
    pub fn validate(&self) -> Result<(), Error> {
        if self.journals.is_empty() {
            return Err(Error::InvalidInput {
                field: "journals".into(),
                expected: "at least one journal".into(),
            });
        }
        for (index, journal) in self.journals.iter().enumerate() {
            journal.validate(index)?;
        }
        Ok(())
    }

    /// The `XmlParameters` document.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] if a value cannot be written.
    pub fn parameters_xml(&self) -> Result<String, Error> {
        let p = &self.parameters;
        let mut out = XmlOut::new();
        out.open_root("PostGlJournal", "GENTJL.XSD");
        out.open("Parameters");
        out.text("IgnoreWarnings", p.ignore_warnings.code());
        out.flag(
            "ApplyIfEntireDocumentValid",
            p.apply_if_entire_document_valid,
        );
        out.flag("ValidateOnly", p.validate_only);
        out.text("ActionType", "A");
        out.opt_flag("ValidatePasswords", p.validate_passwords);
        out.opt_flag("IgnoreAnalysis", p.ignore_analysis);
        out.close("Parameters");
        out.close("PostGlJournal");
        out.finish()
    }

    /// The `XmlIn` document, after [`GlJournalPosting::validate`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the first invalid field.
    pub fn document_xml(&self) -> Result<String, Error> {
        self.validate()?;
        let mut out = XmlOut::new();
        out.open_root("PostGlJournal", "GENTJLDOC.XSD");
        for journal in &self.journals {
            journal.write(&mut out);
        }
        out.close("PostGlJournal");
        out.finish()
    }
}

/// What SYSPRO reported for one journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GlJournalResult {
    /// `Transaction/Key/GlYear`.
    pub gl_year: Option<u16>,
    /// `Transaction/Key/GlPeriod`.
    pub gl_period: Option<u8>,
    /// `Transaction/Key/GlJournal`, zero padding removed.
    pub gl_journal: Option<u64>,
    /// `JournalDate` (SYSPRO writes `CCYYMMDD` here).
    pub journal_date: Option<Date>,
    /// `NumOfEntries`.
    pub entries: Option<u64>,
    /// `DebitAmount`.
    pub debit_amount: Option<Decimal>,
    /// `CreditAmount`.
    pub credit_amount: Option<Decimal>,
    /// `Jnlstatus` (e.g. `P` posted).
    pub status: Option<String>,
    /// Errors and warnings reported inside this journal.
    pub messages: Messages,
}

impl GlJournalResult {
    /// Posted (or valid): no errors and a journal number assigned.
    pub fn is_success(&self) -> bool {
        self.messages.is_clean() && self.gl_journal.is_some_and(|n| n > 0)
    }
}

/// Parsed GENTJL output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GlJournalPostingResult {
    /// One entry per `<Item>`.
    pub journals: Vec<GlJournalResult>,
    /// `StatusOfItems/JournalsProcessed`.
    pub journals_processed: Option<u64>,
    /// `StatusOfItems/JournalsInvalid`.
    pub journals_invalid: Option<u64>,
    /// `StatusOfItems/PostingsProcessed`.
    pub postings_processed: Option<u64>,
    /// `StatusOfItems/PostingsInvalid`.
    pub postings_invalid: Option<u64>,
    /// Every counter under `StatusOfItems`.
    pub status: StatusOfItems,
    /// Errors and warnings outside any journal.
    pub messages: Messages,
}

fn small_number<T: TryFrom<u64>>(node: &Node, name: &str) -> Result<Option<T>, Error> {
    child_counter(GENTJL, node, name)?
        .map(|n| {
            T::try_from(n).map_err(|_| output_error(GENTJL, format!("{name} {n} out of range")))
        })
        .transpose()
}

impl GlJournalPostingResult {
    /// Parses a GENTJL output (root `<postgljournal>` in any case).
    ///
    /// # Errors
    ///
    /// [`Error::Output`] when the text is not XML or a number cannot be read.
    pub fn parse(xml: &str) -> Result<Self, Error> {
        let root = parse(GENTJL, xml)?;
        let mut journals = Vec::new();
        for item in root.children_named("Item") {
            let empty = Node::default();
            let transaction = item.child("Transaction").unwrap_or(&empty);
            let key = transaction.child("Key").unwrap_or(&empty);
            journals.push(GlJournalResult {
                gl_year: small_number(key, "GlYear")?,
                gl_period: small_number(key, "GlPeriod")?,
                gl_journal: child_counter(GENTJL, key, "GlJournal")?,
                journal_date: transaction.child_text("JournalDate").and_then(parse_date),
                entries: child_counter(GENTJL, transaction, "NumOfEntries")?,
                debit_amount: child_amount(GENTJL, transaction, "DebitAmount")?,
                credit_amount: child_amount(GENTJL, transaction, "CreditAmount")?,
                status: transaction.child_string("Jnlstatus"),
                messages: Messages::collect(item),
            });
        }
        let status = StatusOfItems::read(GENTJL, &root)?;
        Ok(Self {
            journals,
            journals_processed: status.get("JournalsProcessed"),
            journals_invalid: status.get("JournalsInvalid"),
            postings_processed: status.get("PostingsProcessed"),
            postings_invalid: status.get("PostingsInvalid"),
            status,
            messages: Messages::collect_outside(&root, &["Item"]),
        })
    }

    /// Every error in the output, journal-level first.
    pub fn errors(&self) -> impl Iterator<Item = &FieldError> {
        self.journals
            .iter()
            .flat_map(|j| j.messages.errors.iter())
            .chain(self.messages.errors.iter())
    }

    /// Whether every journal succeeded and SYSPRO counted nothing invalid.
    pub fn is_success(&self) -> bool {
        !self.journals.is_empty()
            && self.journals.iter().all(GlJournalResult::is_success)
            && self.messages.is_clean()
            && self.journals_invalid.unwrap_or(0) == 0
            && self.postings_invalid.unwrap_or(0) == 0
    }
}

impl SysproClient {
    /// Posts (or with `validate_only`, validates) GL journals with GENTJL.
    ///
    /// Each journal is checked to balance before anything is sent.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent (an unbalanced journal names
    /// `journals[i].lines`); [`Error::Output`] when SYSPRO's answer cannot be read; any session or
    /// transport error of [`SysproClient::transaction_post`].
    pub async fn post_gl_journal(
        &self,
        posting: &GlJournalPosting,
    ) -> Result<GlJournalPostingResult, Error> {
        let document = posting.document_xml()?;
        let parameters = posting.parameters_xml()?;
        let output = self
            .transaction_post(GENTJL, &parameters, &document)
            .await?;
        GlJournalPostingResult::parse(&output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bo::test_support::{dec, fixture};
    use time::macros::date;

    fn sample() -> GlJournalPosting {
        let mut journal = GlJournal::new(
            date!(2026 - 11 - 20),
            2026,
            11,
            vec![
                GlJournalLine::debit("00-1190", dec("119.00")).with_reference("MG100000123"),
                GlJournalLine::credit("00-4010", dec("100")).with_comment("Revenue & freight"),
                GlJournalLine::credit("00-2200", dec("19.00")),
            ],
        );
        journal.reference = Some("MG100000123".into());
        journal.notation = Some("Commerce invoice 100000123".into());
        journal.source = Some("AR".into());
        GlJournalPosting::new(vec![journal])
    }

    #[test]
    fn debit_and_credit_constructors_apply_the_sign_convention() {
        assert_eq!(GlJournalLine::debit("A", dec("-5")).amount, dec("5"));
        assert_eq!(GlJournalLine::credit("A", dec("5")).amount, dec("-5"));
        assert!(GlJournalLine::debit("A", dec("1")).is_debit());
        assert!(!GlJournalLine::credit("A", dec("1")).is_debit());
    }

    #[test]
    fn parameters_xml_is_exact() {
        let mut posting = sample();
        posting.parameters.validate_only = true;
        posting.parameters.ignore_warnings = IgnoreWarnings::AsWarnings;
        assert_eq!(
            posting.parameters_xml().unwrap(),
            "<PostGlJournal xmlns:xsd=\"http://www.w3.org/2001/XMLSchema-instance\" \
             xsd:noNamespaceSchemaLocation=\"GENTJL.XSD\"><Parameters>\
             <IgnoreWarnings>W</IgnoreWarnings>\
             <ApplyIfEntireDocumentValid>Y</ApplyIfEntireDocumentValid>\
             <ValidateOnly>Y</ValidateOnly><ActionType>A</ActionType>\
             </Parameters></PostGlJournal>"
        );
    }

    #[test]
    fn document_xml_is_exact() {
        assert_eq!(
            sample().document_xml().unwrap(),
            "<PostGlJournal xmlns:xsd=\"http://www.w3.org/2001/XMLSchema-instance\" \
             xsd:noNamespaceSchemaLocation=\"GENTJLDOC.XSD\"><Item>\
             <JournalType>N</JournalType><PostJournal>Y</PostJournal>\
             <JournalDate>2026-11-20</JournalDate>\
             <JournalReference>MG100000123</JournalReference>\
             <Notation>Commerce invoice 100000123</Notation>\
             <PostingPeriod>11</PostingPeriod><PostingYear>2026</PostingYear>\
             <Source>AR</Source>\
             <JournalDetails><LedgerCode>00-1190</LedgerCode><Reference>MG100000123</Reference>\
             <EntryAmount>119.00</EntryAmount></JournalDetails>\
             <JournalDetails><LedgerCode>00-4010</LedgerCode>\
             <EntryAmount>-100.00</EntryAmount><Comment>Revenue &amp; freight</Comment>\
             </JournalDetails>\
             <JournalDetails><LedgerCode>00-2200</LedgerCode>\
             <EntryAmount>-19.00</EntryAmount></JournalDetails>\
             </Item></PostGlJournal>"
        );
    }

    #[test]
    fn single_digit_period_is_padded() {
        let mut posting = sample();
        posting.journals[0].posting_period = 2;
        let xml = posting.document_xml().unwrap();
        assert!(xml.contains("<PostingPeriod>02</PostingPeriod>"), "{xml}");
    }

    fn invalid(posting: &GlJournalPosting) -> (String, String) {
        match posting.document_xml() {
            Err(Error::InvalidInput { field, expected }) => (field, expected),
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn unbalanced_journal_is_refused_before_sending() {
        let mut posting = sample();
        posting.journals[0].lines[2].amount = dec("-18.99");
        let (field, expected) = invalid(&posting);
        assert_eq!(field, "journals[0].lines");
        assert!(expected.contains("0.01"), "{expected}");
    }

    #[test]
    fn other_validation_names_the_field() {
        let mut p = sample();
        p.journals[0].posting_period = 14;
        assert_eq!(invalid(&p).0, "journals[0].posting_period");

        let mut p = sample();
        p.journals[0].posting_year = 26;
        assert_eq!(invalid(&p).0, "journals[0].posting_year");

        let mut p = sample();
        p.journals[0].lines[0].ledger_code = String::new();
        assert_eq!(invalid(&p).0, "journals[0].lines[0].ledger_code");

        let mut p = sample();
        p.journals[0].lines[0].amount = dec("119.001");
        assert_eq!(invalid(&p).0, "journals[0].lines[0].amount");

        let mut p = sample();
        p.journals[0].lines = vec![GlJournalLine::debit("A", dec("0"))];
        assert_eq!(invalid(&p).0, "journals[0].lines");

        let mut p = sample();
        p.journals[0]
            .lines
            .push(GlJournalLine::debit("00-1", dec("0")));
        assert_eq!(invalid(&p).0, "journals[0].lines[3].amount");

        assert_eq!(invalid(&GlJournalPosting::new(vec![])).0, "journals");
    }

    #[test]
    fn parses_output_with_padded_numbers() {
        let result = GlJournalPostingResult::parse(&fixture("gentjl_ok.xml")).unwrap();
        assert_eq!(result.journals.len(), 1);
        let journal = &result.journals[0];
        assert_eq!(journal.gl_year, Some(2026));
        assert_eq!(journal.gl_period, Some(11));
        assert_eq!(journal.gl_journal, Some(117));
        assert_eq!(journal.journal_date, Some(date!(2026 - 11 - 20)));
        assert_eq!(journal.entries, Some(3));
        assert_eq!(journal.debit_amount, Some(dec("119.00")));
        assert_eq!(journal.credit_amount, Some(dec("119.00")));
        assert_eq!(journal.status.as_deref(), Some("P"));
        assert!(journal.is_success());
        assert_eq!(result.journals_processed, Some(1));
        assert_eq!(result.journals_invalid, Some(0));
        assert_eq!(result.postings_processed, Some(1));
        assert_eq!(result.postings_invalid, Some(0));
        assert!(result.is_success());
    }

    #[test]
    fn parses_rejected_journal() {
        let result = GlJournalPostingResult::parse(&fixture("gentjl_error.xml")).unwrap();
        assert!(!result.is_success());
        assert_eq!(result.journals_invalid, Some(1));
        let errors: Vec<_> = result.errors().collect();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "LedgerCode");
        assert_eq!(errors[0].value.as_deref(), Some("99-9999"));
        assert!(!result.journals[0].is_success());
    }
}
