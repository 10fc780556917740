//! ARSQRY: query one customer's header and invoices (Query/Query).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;

use super::CUSTOMER_MAX_LEN;
use super::comfnd::Row;
use super::output::Messages;
use super::xml::{Node, XmlOut, child_amount, parse, parse_date, require_text};
use crate::client::SysproClient;
use crate::error::Error;

/// Business object name sent as `BusinessObject`.
pub const ARSQRY: &str = "ARSQRY";

/// What to ask ARSQRY about one customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerQuery {
    /// `Key/Customer`.
    pub customer: String,
    /// `Option/IncludeZeroBalances`: also list fully paid invoices (needed to answer "was this
    /// invoice already posted?").
    #[serde(default)]
    pub include_zero_balances: bool,
    /// `Option/IncludeTransactions`: include each invoice's transaction detail.
    #[serde(default)]
    pub include_transactions: bool,
    /// `Option/IncludeFutures`: include future-dated documents.
    #[serde(default)]
    pub include_futures: bool,
}

impl CustomerQuery {
    /// A query for `customer` listing open and paid invoices, without transaction detail.
    pub fn new(customer: impl Into<String>) -> Self {
        Self {
            customer: customer.into(),
            include_zero_balances: true,
            include_transactions: false,
            include_futures: true,
        }
    }

    /// The ARSQRY `XmlIn`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming `customer` when it is blank or too long.
    pub fn query_xml(&self) -> Result<String, Error> {
        require_text("customer", &self.customer, CUSTOMER_MAX_LEN)?;
        let mut out = XmlOut::new();
        out.open_root("Query", "ARSQRY.XSD");
        out.open("Key");
        out.text("Customer", &self.customer);
        out.close("Key");
        out.open("Option");
        out.flag("IncludeFutures", self.include_futures);
        out.flag("IncludeTransactions", self.include_transactions);
        out.flag("IncludeZeroBalances", self.include_zero_balances);
        out.close("Option");
        out.close("Query");
        out.finish()
    }
}

/// The customer master data ARSQRY returns in `<Header>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerHeader {
    /// `Customer`.
    pub customer: String,
    /// `Name`.
    pub name: Option<String>,
    /// `Branch`.
    pub branch: Option<String>,
    /// `TermsCode`.
    pub terms_code: Option<String>,
    /// `Currency`.
    pub currency: Option<String>,
    /// `Email`.
    pub email: Option<String>,
    /// `CreditLimit`.
    pub credit_limit: Option<Decimal>,
    /// `CreditStatus`.
    pub credit_status: Option<String>,
    /// `CustomerOnHold` (`Y`/`N`).
    pub on_hold: Option<bool>,
    /// Every simple header element, trimmed, for fields not typed above.
    pub fields: Row,
}

/// One AR document listed by ARSQRY (`<InvoiceDetail>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerInvoice {
    /// `Invoice`.
    pub invoice: String,
    /// `DocumentType`.
    pub document_type: Option<String>,
    /// `InvoiceDate`, when written as `CCYY-MM-DD` or `CCYYMMDD`.
    pub invoice_date: Option<Date>,
    /// `DueDate`, same rule.
    pub due_date: Option<Date>,
    /// `CustomerPoNumber`.
    pub customer_po_number: Option<String>,
    /// `CurrencyValue`: the document's original value.
    pub currency_value: Option<Decimal>,
    /// `InvoiceBal`: what is still owed.
    pub balance: Option<Decimal>,
    /// `Branch`.
    pub branch: Option<String>,
    /// `SalesOrder`.
    pub sales_order: Option<String>,
}

/// Parsed ARSQRY output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerStatement {
    /// The customer.
    pub header: CustomerHeader,
    /// The customer's AR documents.
    pub invoices: Vec<CustomerInvoice>,
}

impl CustomerStatement {
    /// Reads an ARSQRY output; `Ok(None)` when SYSPRO reports the customer unknown (an error
    /// message, or no `Header/Customer`).
    ///
    /// # Errors
    ///
    /// [`Error::Output`] when the output is not XML or an amount cannot be read.
    pub fn parse(xml: &str) -> Result<Option<Self>, Error> {
        let root = parse(ARSQRY, xml)?;
        if !Messages::collect(&root).is_clean() {
            return Ok(None);
        }
        let Some(header) = root.child("Header") else {
            return Ok(None);
        };
        let Some(customer) = header.child_string("Customer") else {
            return Ok(None);
        };
        let header = CustomerHeader {
            customer,
            name: header.child_string("Name"),
            branch: header.child_string("Branch"),
            terms_code: header.child_string("TermsCode"),
            currency: header.child_string("Currency"),
            email: header.child_string("Email"),
            credit_limit: child_amount(ARSQRY, header, "CreditLimit")?,
            credit_status: header.child_string("CreditStatus"),
            on_hold: header
                .child_text("CustomerOnHold")
                .map(|t| t.eq_ignore_ascii_case("Y")),
            fields: Row::from_node(header),
        };
        let mut invoices = Vec::new();
        for (_, detail) in root.descendants() {
            if detail.is("InvoiceDetail") {
                invoices.push(read_invoice(detail)?);
            }
        }
        invoices.retain(|i| !i.invoice.is_empty());
        Ok(Some(Self { header, invoices }))
    }

    /// The listed document with this number, if any (numbers compared trimmed).
    pub fn invoice(&self, invoice: &str) -> Option<&CustomerInvoice> {
        self.invoices.iter().find(|i| i.invoice == invoice.trim())
    }
}

fn read_invoice(detail: &Node) -> Result<CustomerInvoice, Error> {
    Ok(CustomerInvoice {
        invoice: detail.child_string("Invoice").unwrap_or_default(),
        document_type: detail.child_string("DocumentType"),
        invoice_date: detail.child_text("InvoiceDate").and_then(parse_date),
        due_date: detail.child_text("DueDate").and_then(parse_date),
        customer_po_number: detail.child_string("CustomerPoNumber"),
        currency_value: child_amount(ARSQRY, detail, "CurrencyValue")?,
        balance: child_amount(ARSQRY, detail, "InvoiceBal")?,
        branch: detail.child_string("Branch"),
        sales_order: detail.child_string("SalesOrder"),
    })
}

impl SysproClient {
    /// Reads one customer's header and invoices with ARSQRY; `Ok(None)` for an unknown customer
    /// (an output without a customer header, or SYSPRO's `ERROR: …` text saying it was not found).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a blank or over-long code; [`Error::Output`] when the answer
    /// cannot be read; [`Error::Rejected`] for any other refusal; session and transport errors of
    /// [`SysproClient::query`].
    pub async fn query_customer(
        &self,
        query: &CustomerQuery,
    ) -> Result<Option<CustomerStatement>, Error> {
        let xml_in = query.query_xml()?;
        match self.query(ARSQRY, &xml_in).await {
            Ok(output) => CustomerStatement::parse(&output),
            // Query objects answer an unknown key with `ERROR: …` text. Any other refusal stays
            // an error: reading it as "no such customer" could lead a caller to create one twice.
            Err(Error::Rejected { message, .. }) if says_not_found(&message) => Ok(None),
            Err(other) => Err(other),
        }
    }
}

/// Whether SYSPRO's refusal text says the key does not exist.
fn says_not_found(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "not found",
        "not on file",
        "does not exist",
        "invalid customer",
    ]
    .iter()
    .any(|phrase| message.contains(phrase))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bo::test_support::{dec, fixture};
    use time::macros::date;

    #[test]
    fn query_xml_is_exact() {
        assert_eq!(
            CustomerQuery::new("WEB000042").query_xml().unwrap(),
            "<Query xmlns:xsd=\"http://www.w3.org/2001/XMLSchema-instance\" \
             xsd:noNamespaceSchemaLocation=\"ARSQRY.XSD\"><Key><Customer>WEB000042</Customer>\
             </Key><Option><IncludeFutures>Y</IncludeFutures>\
             <IncludeTransactions>N</IncludeTransactions>\
             <IncludeZeroBalances>Y</IncludeZeroBalances></Option></Query>"
        );
    }

    #[test]
    fn parses_header_and_invoices() {
        let statement = CustomerStatement::parse(&fixture("arsqry_ok.xml"))
            .unwrap()
            .unwrap();
        assert_eq!(statement.header.customer, "WEB000042");
        assert_eq!(statement.header.name.as_deref(), Some("Müller & Söhne"));
        assert_eq!(statement.header.credit_limit, Some(dec("5000.00")));
        assert_eq!(statement.header.on_hold, Some(false));
        assert_eq!(statement.header.fields.get("ShortName"), Some("MULLER"));
        assert_eq!(statement.invoices.len(), 2);
        let first = statement.invoice("MG100000123").unwrap();
        assert_eq!(first.invoice_date, Some(date!(2026 - 11 - 20)));
        assert_eq!(first.currency_value, Some(dec("119.00")));
        assert_eq!(first.balance, Some(dec("0.00")));
        assert_eq!(statement.invoices[1].balance, Some(dec("-10.00")));
        assert!(statement.invoice("nope").is_none());
    }

    #[test]
    fn only_not_found_refusals_mean_unknown() {
        assert!(says_not_found("Customer 'NOPE' not found"));
        assert!(says_not_found("Customer NOT ON FILE"));
        assert!(!says_not_found(
            "Operator not allowed to access this program"
        ));
    }

    #[test]
    fn unknown_customer_is_none() {
        assert!(
            CustomerStatement::parse(
                "<ARStatement><Header><Customer><Value>X</Value>\
                 <ErrorDescription>Customer not found</ErrorDescription></Customer></Header>\
                 </ARStatement>"
            )
            .unwrap()
            .is_none()
        );
        assert!(
            CustomerStatement::parse("<ARStatement><Header/></ARStatement>")
                .unwrap()
                .is_none()
        );
    }
}
