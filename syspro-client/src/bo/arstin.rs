//! ARSTIN: post stand-alone AR invoices, credit notes and debit notes (Transaction/Post).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;

use super::output::{FieldError, Messages, StatusOfItems};
use super::xml::{
    XmlOut, check_date, check_money, check_opt_len, check_opt_money, check_scale, child_counter,
    parse, require_text,
};
use super::{CUSTOMER_MAX_LEN, INVOICE_MAX_LEN, PostingPeriod, ccyy_mm_dd};
use crate::client::SysproClient;
use crate::error::Error;

/// Business object name sent as `BusinessObject`.
pub const ARSTIN: &str = "ARSTIN";

/// Kind of AR document an ARSTIN item creates (`TransactionType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArTransactionType {
    /// `I`: an invoice.
    #[serde(rename = "I", alias = "Invoice")]
    Invoice,
    /// `C`: a credit note. Its value is still sent positive; SYSPRO negates it.
    #[serde(rename = "C", alias = "CreditNote")]
    CreditNote,
    /// `D`: a debit note.
    #[serde(rename = "D", alias = "DebitNote")]
    DebitNote,
}

impl ArTransactionType {
    fn code(self) -> &'static str {
        match self {
            Self::Invoice => "I",
            Self::CreditNote => "C",
            Self::DebitNote => "D",
        }
    }
}

/// ARSTIN parameters (`<PostArInvoices><Parameters>`).
///
/// Defaults follow SYSPRO's: warnings not ignored, all-or-nothing, real posting, current period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArInvoicePostingParameters {
    /// `IgnoreWarnings`.
    pub ignore_warnings: bool,
    /// `ApplyIfEntireDocumentValid`: with `false`, valid items post even when others fail.
    pub apply_if_entire_document_valid: bool,
    /// `ValidateOnly`: a dry run; nothing is posted.
    pub validate_only: bool,
    /// `PostingPeriod`.
    pub posting_period: PostingPeriod,
    /// `AutomaticTaxCalculation` (SYSPRO 8); omitted when `None`.
    pub automatic_tax_calculation: Option<bool>,
}

impl Default for ArInvoicePostingParameters {
    fn default() -> Self {
        Self {
            ignore_warnings: false,
            apply_if_entire_document_valid: true,
            validate_only: false,
            posting_period: PostingPeriod::Current,
            automatic_tax_calculation: None,
        }
    }
}

/// One AR document to post (`<Item>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArInvoiceItem {
    /// `TransactionType`.
    pub transaction_type: ArTransactionType,
    /// `Customer` (mandatory).
    pub customer: String,
    /// `PostToExistingInvoice`: credit/debit notes against an existing invoice number.
    #[serde(default)]
    pub post_to_existing_invoice: Option<bool>,
    /// `Invoice`. `Some` sends `GenerateInvoiceNumber=N` with this number, which is what makes
    /// a posting idempotent; `None` lets SYSPRO number the document (`GenerateInvoiceNumber=Y`).
    #[serde(default)]
    pub invoice: Option<String>,
    /// `InvoiceDate`; SYSPRO uses today when omitted.
    #[serde(default, with = "ccyy_mm_dd::option")]
    pub invoice_date: Option<Date>,
    /// `Reference`.
    #[serde(default)]
    pub reference: Option<String>,
    /// `InvoiceValue`: never negative, in cents (two decimals).
    pub invoice_value: Decimal,
    /// `ExchangeRate` for foreign-currency customers.
    #[serde(default)]
    pub exchange_rate: Option<Decimal>,
    /// `TaxValue`.
    #[serde(default)]
    pub tax_value: Option<Decimal>,
    /// `CostValue`.
    #[serde(default)]
    pub cost_value: Option<Decimal>,
    /// `ProductClass` (mandatory): its sales account receives the revenue.
    pub product_class: String,
    /// `InvoiceTerms`.
    #[serde(default)]
    pub invoice_terms: Option<String>,
    /// `GeographicArea`.
    #[serde(default)]
    pub geographic_area: Option<String>,
    /// `Salesperson`.
    #[serde(default)]
    pub salesperson: Option<String>,
    /// `Branch`.
    #[serde(default)]
    pub branch: Option<String>,
}

impl ArInvoiceItem {
    /// An invoice with a number chosen by the caller, so that a retry can never create a second
    /// document (SYSPRO rejects a number that already exists).
    pub fn invoice(
        customer: impl Into<String>,
        invoice: impl Into<String>,
        invoice_date: Date,
        invoice_value: Decimal,
        product_class: impl Into<String>,
    ) -> Self {
        Self {
            transaction_type: ArTransactionType::Invoice,
            customer: customer.into(),
            post_to_existing_invoice: None,
            invoice: Some(invoice.into()),
            invoice_date: Some(invoice_date),
            reference: None,
            invoice_value,
            exchange_rate: None,
            tax_value: None,
            cost_value: None,
            product_class: product_class.into(),
            invoice_terms: None,
            geographic_area: None,
            salesperson: None,
            branch: None,
        }
    }

    /// Same as [`ArInvoiceItem::invoice`] with `TransactionType=C`.
    pub fn credit_note(
        customer: impl Into<String>,
        invoice: impl Into<String>,
        invoice_date: Date,
        value: Decimal,
        product_class: impl Into<String>,
    ) -> Self {
        Self {
            transaction_type: ArTransactionType::CreditNote,
            ..Self::invoice(customer, invoice, invoice_date, value, product_class)
        }
    }

    fn validate(&self, index: usize) -> Result<(), Error> {
        let field = |name: &str| format!("items[{index}].{name}");
        require_text(&field("customer"), &self.customer, CUSTOMER_MAX_LEN)?;
        if let Some(invoice) = &self.invoice {
            require_text(&field("invoice"), invoice, INVOICE_MAX_LEN)?;
        }
        if let Some(date) = self.invoice_date {
            check_date(&field("invoice_date"), date)?;
        }
        if self.invoice_value.is_sign_negative() {
            return Err(Error::InvalidInput {
                field: field("invoice_value"),
                expected: "a value of zero or more (credit notes are negated by SYSPRO)".into(),
            });
        }
        check_money(&field("invoice_value"), self.invoice_value)?;
        check_opt_money(&field("tax_value"), self.tax_value)?;
        check_opt_money(&field("cost_value"), self.cost_value)?;
        if let Some(rate) = self.exchange_rate {
            check_scale(&field("exchange_rate"), rate, 6)?;
        }
        require_text(&field("product_class"), &self.product_class, usize::MAX)?;
        check_opt_len(&field("reference"), self.reference.as_deref(), usize::MAX)?;
        check_opt_len(&field("branch"), self.branch.as_deref(), usize::MAX)?;
        Ok(())
    }

    fn write(&self, out: &mut XmlOut) {
        out.open("Item");
        out.text("TransactionType", self.transaction_type.code());
        out.text("Customer", &self.customer);
        out.opt_flag("PostToExistingInvoice", self.post_to_existing_invoice);
        out.flag("GenerateInvoiceNumber", self.invoice.is_none());
        out.opt_text("Invoice", self.invoice.as_deref());
        out.opt_date("InvoiceDate", self.invoice_date);
        out.opt_text("Reference", self.reference.as_deref());
        out.money("InvoiceValue", self.invoice_value);
        out.opt_decimal("ExchangeRate", self.exchange_rate);
        out.opt_money("TaxValue", self.tax_value);
        out.opt_money("CostValue", self.cost_value);
        out.text("ProductClass", &self.product_class);
        out.opt_text("InvoiceTerms", self.invoice_terms.as_deref());
        out.opt_text("GeographicArea", self.geographic_area.as_deref());
        out.opt_text("Salesperson", self.salesperson.as_deref());
        out.opt_text("Branch", self.branch.as_deref());
        out.close("Item");
    }
}

/// A whole ARSTIN call: parameters plus one or more documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArInvoicePosting {
    /// Posting parameters.
    #[serde(default)]
    pub parameters: ArInvoicePostingParameters,
    /// The documents, reported back in this order by `ItemNumber`.
    pub items: Vec<ArInvoiceItem>,
}

impl ArInvoicePosting {
    /// A posting of the given documents with default parameters.
    pub fn new(items: Vec<ArInvoiceItem>) -> Self {
        Self {
            parameters: ArInvoicePostingParameters::default(),
            items,
        }
    }

    /// Checks every field SYSPRO would otherwise reject (or silently misread).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the first offending field, e.g. `items[2].invoice_value`.
    pub fn validate(&self) -> Result<(), Error> {
        if self.items.is_empty() {
            return Err(Error::InvalidInput {
                field: "items".into(),
                expected: "at least one AR document".into(),
            });
        }
        let mut numbers = std::collections::HashSet::new();
        for (index, item) in self.items.iter().enumerate() {
            item.validate(index)?;
            if let Some(invoice) = &item.invoice
                && !numbers.insert((
                    item.customer.trim(),
                    item.transaction_type.code(),
                    invoice.trim(),
                ))
            {
                return Err(Error::InvalidInput {
                    field: format!("items[{index}].invoice"),
                    expected: format!("a document number not repeated in the batch ({invoice})"),
                });
            }
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
        out.open_root("PostArInvoices", "ARSTIN.XSD");
        out.open("Parameters");
        out.flag("IgnoreWarnings", p.ignore_warnings);
        out.flag(
            "ApplyIfEntireDocumentValid",
            p.apply_if_entire_document_valid,
        );
        out.flag("ValidateOnly", p.validate_only);
        out.text("PostingPeriod", p.posting_period.code());
        out.opt_flag("AutomaticTaxCalculation", p.automatic_tax_calculation);
        out.close("Parameters");
        out.close("PostArInvoices");
        out.finish()
    }

    /// The `XmlIn` document, after [`ArInvoicePosting::validate`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the first invalid field.
    pub fn document_xml(&self) -> Result<String, Error> {
        self.validate()?;
        let mut out = XmlOut::new();
        out.open_root("PostArInvoices", "ARSTINDOC.XSD");
        for item in &self.items {
            item.write(&mut out);
        }
        out.close("PostArInvoices");
        out.finish()
    }
}

/// What SYSPRO reported for one posted (or validated) AR document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArInvoiceItemResult {
    /// `ItemNumber`: 1-based position in the posted document.
    pub item_number: Option<u32>,
    /// `Customer` echoed back.
    pub customer: Option<String>,
    /// `Invoice`: the document number SYSPRO used (generated or supplied).
    pub invoice: Option<String>,
    /// `DocumentType` (`I`, `C`, `D`).
    pub document_type: Option<String>,
    /// `TransactionType` echoed back.
    pub transaction_type: Option<String>,
    /// Errors and warnings reported inside this item.
    pub messages: Messages,
}

impl ArInvoiceItemResult {
    /// Posted (or valid, for a validate-only run): no errors and a document number present.
    /// An empty `Invoice` is a failure even without an error message.
    pub fn is_success(&self) -> bool {
        self.messages.is_clean() && self.invoice.is_some()
    }
}

/// Parsed ARSTIN output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArInvoicePostingResult {
    /// One entry per `<Item>` in the output, in output order.
    pub items: Vec<ArInvoiceItemResult>,
    /// `StatusOfItems/ItemsValidated`.
    pub items_validated: Option<u64>,
    /// `StatusOfItems/InvalidItems`.
    pub invalid_items: Option<u64>,
    /// Every counter under `StatusOfItems`.
    pub status: StatusOfItems,
    /// Errors and warnings outside any item.
    pub messages: Messages,
}

impl ArInvoicePostingResult {
    /// Parses an ARSTIN output (root `<postarinvoices>` in any case).
    ///
    /// # Errors
    ///
    /// [`Error::Output`] when the text is not XML or a number cannot be read.
    pub fn parse(xml: &str) -> Result<Self, Error> {
        let root = parse(ARSTIN, xml)?;
        let mut items = Vec::new();
        for item in root.children_named("Item") {
            let item_number = child_counter(ARSTIN, item, "ItemNumber")?
                .map(|n| {
                    u32::try_from(n).map_err(|_| {
                        super::xml::output_error(ARSTIN, format!("ItemNumber {n} out of range"))
                    })
                })
                .transpose()?;
            items.push(ArInvoiceItemResult {
                item_number,
                customer: item.child_string("Customer"),
                invoice: item.child_string("Invoice"),
                document_type: item.child_string("DocumentType"),
                transaction_type: item.child_string("TransactionType"),
                messages: Messages::collect(item),
            });
        }
        let status = StatusOfItems::read(ARSTIN, &root)?;
        Ok(Self {
            items,
            items_validated: status.get("ItemsValidated"),
            invalid_items: status.get("InvalidItems"),
            status,
            messages: Messages::collect_outside(&root, &["Item"]),
        })
    }

    /// The result for the n-th posted item (1-based, as SYSPRO numbers them).
    pub fn item(&self, item_number: u32) -> Option<&ArInvoiceItemResult> {
        self.items
            .iter()
            .find(|i| i.item_number == Some(item_number))
    }

    /// Every error in the output, item-level first.
    pub fn errors(&self) -> impl Iterator<Item = &FieldError> {
        self.items
            .iter()
            .flat_map(|i| i.messages.errors.iter())
            .chain(self.messages.errors.iter())
    }

    /// Whether every item succeeded and SYSPRO counted no invalid item.
    pub fn is_success(&self) -> bool {
        !self.items.is_empty()
            && self.items.iter().all(ArInvoiceItemResult::is_success)
            && self.messages.is_clean()
            && self.invalid_items.unwrap_or(0) == 0
    }
}

impl SysproClient {
    /// Posts (or with `validate_only`, validates) AR invoices, credit and debit notes with ARSTIN.
    ///
    /// Per-item rejections are not errors: inspect [`ArInvoicePostingResult::items`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent; [`Error::Output`] when SYSPRO's answer
    /// cannot be read; any session or transport error of [`SysproClient::transaction_post`].
    pub async fn post_ar_invoices(
        &self,
        posting: &ArInvoicePosting,
    ) -> Result<ArInvoicePostingResult, Error> {
        let document = posting.document_xml()?;
        let parameters = posting.parameters_xml()?;
        let output = self
            .transaction_post(ARSTIN, &parameters, &document)
            .await?;
        ArInvoicePostingResult::parse(&output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bo::test_support::{dec, fixture};
    use time::macros::date;

    fn sample() -> ArInvoicePosting {
        let mut item = ArInvoiceItem::invoice(
            "WEB001",
            "MG100000123",
            date!(2026 - 11 - 20),
            dec("119.00"),
            "WEB",
        );
        item.reference = Some("100000123 & \"co\" <x>".into());
        item.tax_value = Some(dec("19"));
        item.branch = Some("10".into());
        item.salesperson = Some("100".into());
        item.invoice_terms = Some("1".into());
        item.geographic_area = Some("S".into());
        ArInvoicePosting::new(vec![item])
    }

    #[test]
    fn parameters_xml_is_exact() {
        let mut posting = sample();
        posting.parameters.apply_if_entire_document_valid = false;
        posting.parameters.validate_only = true;
        assert_eq!(
            posting.parameters_xml().unwrap(),
            "<PostArInvoices xmlns:xsd=\"http://www.w3.org/2001/XMLSchema-instance\" \
             xsd:noNamespaceSchemaLocation=\"ARSTIN.XSD\"><Parameters>\
             <IgnoreWarnings>N</IgnoreWarnings>\
             <ApplyIfEntireDocumentValid>N</ApplyIfEntireDocumentValid>\
             <ValidateOnly>Y</ValidateOnly><PostingPeriod>C</PostingPeriod>\
             </Parameters></PostArInvoices>"
        );
    }

    #[test]
    fn document_xml_is_exact_with_escaping_money_and_dates() {
        assert_eq!(
            sample().document_xml().unwrap(),
            "<PostArInvoices xmlns:xsd=\"http://www.w3.org/2001/XMLSchema-instance\" \
             xsd:noNamespaceSchemaLocation=\"ARSTINDOC.XSD\"><Item>\
             <TransactionType>I</TransactionType><Customer>WEB001</Customer>\
             <GenerateInvoiceNumber>N</GenerateInvoiceNumber><Invoice>MG100000123</Invoice>\
             <InvoiceDate>2026-11-20</InvoiceDate>\
             <Reference>100000123 &amp; &quot;co&quot; &lt;x&gt;</Reference>\
             <InvoiceValue>119.00</InvoiceValue><TaxValue>19.00</TaxValue>\
             <ProductClass>WEB</ProductClass><InvoiceTerms>1</InvoiceTerms>\
             <GeographicArea>S</GeographicArea><Salesperson>100</Salesperson>\
             <Branch>10</Branch></Item></PostArInvoices>"
        );
    }

    #[test]
    fn generated_number_omits_invoice() {
        let mut posting = sample();
        posting.items[0].invoice = None;
        posting.items[0].transaction_type = ArTransactionType::CreditNote;
        let xml = posting.document_xml().unwrap();
        assert!(
            xml.contains("<TransactionType>C</TransactionType>"),
            "{xml}"
        );
        assert!(
            xml.contains("<GenerateInvoiceNumber>Y</GenerateInvoiceNumber><InvoiceDate>"),
            "{xml}"
        );
        assert!(!xml.contains("<Invoice>"), "{xml}");
    }

    fn invalid_field(posting: &ArInvoicePosting) -> String {
        match posting.document_xml() {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn validation_names_the_field() {
        let mut p = sample();
        p.items[0].invoice_value = dec("-1.00");
        assert_eq!(invalid_field(&p), "items[0].invoice_value");

        let mut p = sample();
        p.items[0].invoice_value = dec("1.001");
        assert_eq!(invalid_field(&p), "items[0].invoice_value");

        let mut p = sample();
        p.items[0].customer = " ".into();
        assert_eq!(invalid_field(&p), "items[0].customer");

        let mut p = sample();
        p.items[0].customer = "C".repeat(16);
        assert_eq!(invalid_field(&p), "items[0].customer");

        let mut p = sample();
        p.items[0].invoice = Some("I".repeat(21));
        assert_eq!(invalid_field(&p), "items[0].invoice");

        let mut p = sample();
        p.items[0].product_class = String::new();
        assert_eq!(invalid_field(&p), "items[0].product_class");

        let mut p = sample();
        p.items[0].tax_value = Some(dec("0.125"));
        assert_eq!(invalid_field(&p), "items[0].tax_value");

        let mut p = sample();
        p.items.push(p.items[0].clone());
        assert_eq!(invalid_field(&p), "items[1].invoice");

        let p = ArInvoicePosting::new(vec![]);
        assert_eq!(invalid_field(&p), "items");
    }

    #[test]
    fn deserializes_from_json() {
        let posting: ArInvoicePosting = serde_json::from_str(
            r#"{"parameters":{"validate_only":true},
                "items":[{"transaction_type":"I","customer":"WEB001","invoice":"MG1",
                          "invoice_date":"2026-11-20","invoice_value":"10.50",
                          "tax_value":1.5,"product_class":"WEB"}]}"#,
        )
        .unwrap();
        assert!(posting.parameters.validate_only);
        assert!(posting.parameters.apply_if_entire_document_valid);
        assert_eq!(posting.items[0].invoice_date, Some(date!(2026 - 11 - 20)));
        assert_eq!(posting.items[0].invoice_value, dec("10.50"));
        assert_eq!(posting.items[0].tax_value, Some(dec("1.5")));
        let typo = serde_json::from_str::<ArInvoicePosting>(
            r#"{"items":[{"transaction_type":"I","customer":"A","invoice_value":"1",
                "product_class":"W","TaxCode":"X"}]}"#,
        );
        assert!(typo.is_err(), "unknown fields must be refused");
    }

    #[test]
    fn parses_sample_output() {
        let result = ArInvoicePostingResult::parse(&fixture("arstin_ok.xml")).unwrap();
        assert_eq!(result.items.len(), 2);
        assert_eq!(result.items[0].invoice.as_deref(), Some("100288"));
        assert_eq!(result.items[0].item_number, Some(1));
        assert_eq!(result.items[1].document_type.as_deref(), Some("C"));
        assert_eq!(result.items_validated, Some(2));
        assert_eq!(result.invalid_items, Some(0));
        assert!(result.is_success());
    }

    #[test]
    fn parses_partial_batch_with_one_invalid_item() {
        let result = ArInvoicePostingResult::parse(&fixture("arstin_partial.xml")).unwrap();
        assert_eq!(result.items.len(), 2);
        let ok = result.item(1).unwrap();
        assert!(ok.is_success());
        assert_eq!(ok.invoice.as_deref(), Some("MG100000123"));
        let bad = result.item(2).unwrap();
        assert!(!bad.is_success());
        assert_eq!(bad.messages.errors.len(), 1);
        assert_eq!(bad.messages.errors[0].field, "Customer");
        assert_eq!(bad.messages.errors[0].value.as_deref(), Some("NOPE01"));
        assert_eq!(bad.messages.errors[0].number.as_deref(), Some("100018"));
        assert!(bad.messages.errors[0].description.contains("not found"));
        assert_eq!(
            bad.messages.warnings,
            vec!["Customer is on hold".to_owned()]
        );
        assert_eq!(result.items_validated, Some(1));
        assert_eq!(result.invalid_items, Some(1));
        assert!(!result.is_success());
        assert_eq!(result.errors().count(), 1);
    }

    #[test]
    fn empty_invoice_number_is_a_failure() {
        let result = ArInvoicePostingResult::parse(
            "<postarinvoices><Item><Customer>A</Customer><Invoice>  </Invoice>\
             <ItemNumber>000001</ItemNumber></Item></postarinvoices>",
        )
        .unwrap();
        assert!(!result.items[0].is_success());
        assert!(!result.is_success());
    }
}
