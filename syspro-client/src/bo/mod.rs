//! Typed business-object documents and parsed outputs.
//!
//! Each business object has a plain-data request type that validates itself and renders the
//! `XmlParameters` / `XmlIn` documents SYSPRO expects, a result type parsed from the output, and a
//! method on [`SysproClient`](crate::client::SysproClient) that does both around one call:
//!
//! | Business object | Request | Client method | Result |
//! |---|---|---|---|
//! | ARSTIN | [`ArInvoicePosting`] | `post_ar_invoices` | [`ArInvoicePostingResult`] |
//! | GENTJL | [`GlJournalPosting`] | `post_gl_journal` | [`GlJournalPostingResult`] |
//! | ARSSCS | [`CustomerSetup`] | `add_customers` / `update_customers` | [`CustomerSetupResult`] |
//! | GENQGL | a GL code | `validate_gl_code(s)` | [`GlCodeValidation`] |
//! | ARSQRY | [`CustomerQuery`] | `query_customer` | [`CustomerStatement`] |
//! | COMFND | [`ComFind`] | `find` and typed helpers | [`FindResult`] |
//! | COMFND on `GenTransaction` | a journal reference or a date range | `find_gl_journal_entries`, `gl_journal_entries_between` | [`GlTransactionRow`] |
//! | SORTOI | [`SalesOrderImport`] | `import_sales_orders` | [`SalesOrderImportResult`] |
//!
//! Why typed documents: SYSPRO silently ignores elements it does not know, so a misspelled tag
//! is a silent no-op. Every element name lives in exactly one place here, every value is escaped
//! by the XML writer, money is written with two fixed decimals and dates as `CCYY-MM-DD`.
//!
//! Field-level rejections inside an otherwise successful output are data, not `Err`: each result
//! carries per-item [`Messages`] and the [`StatusOfItems`] counters.

mod arsqry;
mod arsscs;
mod arstin;
mod comfnd;
mod genqgl;
mod gentjl;
mod gltrn;
mod output;
mod sortoi;
mod xml;

use serde::{Deserialize, Serialize};

pub use arsqry::{ARSQRY, CustomerHeader, CustomerInvoice, CustomerQuery, CustomerStatement};
pub use arsscs::{
    ARSSCS, Address, CustomerRecord, CustomerSetup, CustomerSetupItemResult,
    CustomerSetupParameters, CustomerSetupResult,
};
pub use arstin::{
    ARSTIN, ArInvoiceItem, ArInvoiceItemResult, ArInvoicePosting, ArInvoicePostingParameters,
    ArInvoicePostingResult, ArTransactionType,
};
pub use comfnd::{
    ArCustomerRow, ArInvoiceRow, COMFND, ComFind, Condition, FindResult, GenMasterRow, Row, Where,
};
pub use genqgl::{GENQGL, GlCodeValidation};
pub use gentjl::{
    GENTJL, GlJournal, GlJournalLine, GlJournalParameters, GlJournalPosting,
    GlJournalPostingResult, GlJournalResult, JournalType,
};
pub use gltrn::{GEN_TRANSACTION, GlTransactionRow, JOURNAL_REFERENCE_MAX_LEN};
pub use output::{FieldError, Messages, StatusOfItems};
pub use sortoi::{
    AllocationAction, CustomerPoCheck, DuplicateOrderNumbers, FreightLine, MiscChargeLine, SORTOI,
    SalesOrder, SalesOrderImport, SalesOrderImportParameters, SalesOrderImportResult,
    SalesOrderLine, SalesOrderProcess, SalesOrderResult, StockLine, ValidationStatus,
};

/// Longest customer code SYSPRO 7 and later accept (`ArCustomer.Customer`, 15 characters).
/// Inferred from the width SYSPRO's own samples pad customer keys to (`000000000000001`).
pub const CUSTOMER_MAX_LEN: usize = 15;

/// Longest AR document number (`ArInvoice.Invoice`, 20 characters), inferred.
pub const INVOICE_MAX_LEN: usize = 20;

/// Longest GL code (`GenMaster.GlCode`, 35 characters), inferred.
pub const GL_CODE_MAX_LEN: usize = 35;

/// Which open period a transaction posts into (`PostingPeriod`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PostingPeriod {
    /// `C`: the current period.
    #[default]
    #[serde(rename = "C", alias = "Current")]
    Current,
    /// `P`: the previous period.
    #[serde(rename = "P", alias = "Previous")]
    Previous,
    /// `B`: the period before the previous one.
    #[serde(rename = "B", alias = "BeforePrevious")]
    BeforePrevious,
}

impl PostingPeriod {
    fn code(self) -> &'static str {
        match self {
            Self::Current => "C",
            Self::Previous => "P",
            Self::BeforePrevious => "B",
        }
    }
}

/// How a business object treats warnings (`IgnoreWarnings` of GENTJL and SORTOI).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum IgnoreWarnings {
    /// `N`: warnings are returned as errors and stop the item.
    #[default]
    #[serde(rename = "N", alias = "AsErrors")]
    AsErrors,
    /// `Y`: warnings are ignored.
    #[serde(rename = "Y", alias = "Ignore")]
    Ignore,
    /// `W`: warnings are returned as warnings; the item still goes through.
    #[serde(rename = "W", alias = "AsWarnings")]
    AsWarnings,
}

impl IgnoreWarnings {
    fn code(self) -> &'static str {
        match self {
            Self::AsErrors => "N",
            Self::Ignore => "Y",
            Self::AsWarnings => "W",
        }
    }
}

// `CCYY-MM-DD` for dates in serde documents (JSON input files, audit copies).
time::serde::format_description!(ccyy_mm_dd, Date, "[year]-[month]-[day]");

#[cfg(test)]
pub(crate) mod test_support {
    use rust_decimal::Decimal;

    pub(crate) fn dec(text: &str) -> Decimal {
        text.parse().expect("test decimal")
    }

    /// A recorded output under `tests/fixtures/bo/`.
    pub(crate) fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/bo/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::xml::{XmlOut, parse};
    use super::*;

    /// Fragments that look like SYSPRO output, glued together in any order: mostly malformed.
    fn output_like() -> impl Strategy<Value = String> {
        let fragment = prop_oneof![
            Just("<postarinvoices>".to_owned()),
            Just("</postarinvoices>".to_owned()),
            Just("<Item>".to_owned()),
            Just("</item>".to_owned()),
            Just("<Key><Customer>".to_owned()),
            Just("</Customer></Key>".to_owned()),
            Just("<StatusOfItems><ItemsProcessed>".to_owned()),
            Just("</ItemsProcessed></StatusOfItems>".to_owned()),
            Just("<ErrorDescription>".to_owned()),
            Just("</ErrorDescription>".to_owned()),
            Just("<Value/>".to_owned()),
            Just("<Row><GlCode>".to_owned()),
            Just("</GlCode></Row>".to_owned()),
            Just("<ValidationStatus><Status>".to_owned()),
            Just("<Transaction><Key><GlJournal>".to_owned()),
            Just("<Header><Customer>".to_owned()),
            Just("<InvoiceDetail><CurrencyValue>".to_owned()),
            Just("&amp;".to_owned()),
            Just("&#0;".to_owned()),
            Just("&#xFFFFFF;".to_owned()),
            Just("&bogus;".to_owned()),
            Just("<![CDATA[<x>]]>".to_owned()),
            Just("<?xml version=\"1.0\" encoding=\"Windows-1252\"?>".to_owned()),
            "[0-9 ]{0,12}",
            "[ -~]{0,10}",
            "\\PC{0,4}",
        ];
        proptest::collection::vec(fragment, 0..48).prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn parsers_never_panic(input in output_like()) {
            // Only the absence of panics matters here; errors are expected.
            let _ = ArInvoicePostingResult::parse(&input);
            let _ = GlJournalPostingResult::parse(&input);
            let _ = CustomerSetupResult::parse(&input);
            let _ = GlCodeValidation::parse("00-1000", &input);
            let _ = CustomerStatement::parse(&input);
            let _ = FindResult::parse(&input);
            let _ = SalesOrderImportResult::parse(&input);
        }

        #[test]
        fn parsers_never_panic_on_arbitrary_text(input in "\\PC{0,200}") {
            let _ = ArInvoicePostingResult::parse(&input);
            let _ = SalesOrderImportResult::parse(&input);
            let _ = FindResult::parse(&input);
        }

        #[test]
        fn written_text_reads_back_unchanged(value in "[^\\p{Cc}]{0,60}") {
            let mut out = XmlOut::new();
            out.open("Item");
            out.text("Reference", &value);
            out.close("Item");
            let xml = out.finish().expect("printable text is writable");
            let root = parse("ARSTIN", &xml).expect("written XML parses");
            prop_assert_eq!(root.child("reference").map(|n| n.text()), Some(value.trim()));
        }
    }
}
