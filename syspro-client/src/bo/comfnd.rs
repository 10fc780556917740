//! COMFND: generic table find (Query/Query), with typed look-ups for the tables the connector
//! reads (customers by e-mail, an AR invoice by customer and number, a GL account by code).

use rust_decimal::Decimal;
use serde::Serialize;
use time::Date;

use super::xml::{Node, XmlOut, check_len, child_counter, parse, parse_amount, parse_date};
use super::{CUSTOMER_MAX_LEN, GL_CODE_MAX_LEN, INVOICE_MAX_LEN};
use crate::client::SysproClient;
use crate::error::Error;

/// Business object name sent as `BusinessObject`.
pub const COMFND: &str = "COMFND";

/// Rows asked for by the typed look-ups: enough to notice an unexpected duplicate.
const LOOKUP_ROWS: u32 = 10;

/// Comparison in a `<Where>` expression (`<Condition>`).
///
/// `EQ` is confirmed in SYSPRO traffic; the others are SYSPRO's usual operator codes but have not
/// been seen in a capture (inferred) — check them against COMFND.XSD on a real install before relying
/// on them for anything that posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Condition {
    /// `EQ`
    Eq,
    /// `NE`
    Ne,
    /// `LT`
    Lt,
    /// `LE`
    Le,
    /// `GT`
    Gt,
    /// `GE`
    Ge,
    /// `LIKE` (SQL pattern, `%` as wildcard)
    Like,
}

impl Condition {
    fn code(self) -> &'static str {
        match self {
            Self::Eq => "EQ",
            Self::Ne => "NE",
            Self::Lt => "LT",
            Self::Le => "LE",
            Self::Gt => "GT",
            Self::Ge => "GE",
            Self::Like => "LIKE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
enum AndOr {
    And,
    Or,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Expression {
    and_or: Option<AndOr>,
    column: String,
    condition: Condition,
    value: String,
}

/// A `<Where>` clause: expressions joined left to right with `And`/`Or`.
///
/// Each expression is written in its own brackets, exactly like SYSPRO's sample; there is no
/// nesting, so `a.and(b).or(c)` follows SQL precedence (`AND` before `OR`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Where {
    expressions: Vec<Expression>,
}

impl Where {
    /// A clause with one expression.
    pub fn new(column: impl Into<String>, condition: Condition, value: impl Into<String>) -> Self {
        Self {
            expressions: vec![Expression {
                and_or: None,
                column: column.into(),
                condition,
                value: value.into(),
            }],
        }
    }

    /// `column EQ value`.
    pub fn eq(column: impl Into<String>, value: impl Into<String>) -> Self {
        Self::new(column, Condition::Eq, value)
    }

    /// Adds `And column condition value`.
    pub fn and(
        mut self,
        column: impl Into<String>,
        condition: Condition,
        value: impl Into<String>,
    ) -> Self {
        self.push(AndOr::And, column.into(), condition, value.into());
        self
    }

    /// Adds `Or column condition value`.
    pub fn or(
        mut self,
        column: impl Into<String>,
        condition: Condition,
        value: impl Into<String>,
    ) -> Self {
        self.push(AndOr::Or, column.into(), condition, value.into());
        self
    }

    fn push(&mut self, and_or: AndOr, column: String, condition: Condition, value: String) {
        self.expressions.push(Expression {
            and_or: Some(and_or),
            column,
            condition,
            value,
        });
    }

    fn validate(&self) -> Result<(), Error> {
        for (n, expression) in self.expressions.iter().enumerate() {
            check_identifier(&format!("where[{n}].column"), &expression.column)?;
        }
        Ok(())
    }

    fn write(&self, out: &mut XmlOut) {
        out.open("Where");
        for expression in &self.expressions {
            out.open("Expression");
            match expression.and_or {
                Some(AndOr::And) => out.text("AndOr", "And"),
                Some(AndOr::Or) => out.text("AndOr", "Or"),
                None => {}
            }
            out.text("OpenBracket", "(");
            out.text("Column", &expression.column);
            out.text("Condition", expression.condition.code());
            out.text("Value", &expression.value);
            out.text("CloseBracket", ")");
            out.close("Expression");
        }
        out.close("Where");
    }
}

/// Table and column names are SYSPRO identifiers; refusing anything else keeps a caller's
/// data out of places where it would change the query's meaning.
fn check_identifier(field: &str, name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !well_formed {
        return Err(Error::InvalidInput {
            field: field.to_owned(),
            expected: format!("a SYSPRO table or column name (letters, digits, '_'), got {name:?}"),
        });
    }
    check_len(field, name, 64)
}

/// A COMFND query: a table, the columns to return, an optional filter and ordering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComFind {
    table: String,
    columns: Vec<String>,
    filter: Option<Where>,
    order_by: Vec<String>,
    return_rows: u32,
}

impl ComFind {
    /// A query on `table` returning at most 100 rows; add columns before sending.
    pub fn new(table: impl Into<String>) -> Self {
        Self {
            table: table.into(),
            columns: Vec::new(),
            filter: None,
            order_by: Vec::new(),
            return_rows: 100,
        }
    }

    /// Adds columns to return (at least one is required).
    pub fn columns<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.columns.extend(columns.into_iter().map(Into::into));
        self
    }

    /// Sets the `<Where>` clause.
    pub fn filter(mut self, filter: Where) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Adds an `<OrderBy>` column.
    pub fn order_by(mut self, column: impl Into<String>) -> Self {
        self.order_by.push(column.into());
        self
    }

    /// Sets `<ReturnRows>` (1 or more).
    pub fn return_rows(mut self, rows: u32) -> Self {
        self.return_rows = rows;
        self
    }

    /// `ArCustomer` rows whose `Email` equals `email`.
    pub fn ar_customer_by_email(email: &str) -> Self {
        Self::new("ArCustomer")
            .columns(ArCustomerRow::COLUMNS.iter().copied())
            .filter(Where::eq("Email", email))
            .order_by("Customer")
            .return_rows(LOOKUP_ROWS)
    }

    /// The `ArInvoice` row(s) for `customer` + `invoice`.
    pub fn ar_invoice(customer: &str, invoice: &str) -> Self {
        Self::new("ArInvoice")
            .columns(ArInvoiceRow::COLUMNS.iter().copied())
            .filter(Where::eq("Customer", customer).and("Invoice", Condition::Eq, invoice))
            .return_rows(LOOKUP_ROWS)
    }

    /// The `GenMaster` row for `gl_code`.
    pub fn gen_master(gl_code: &str) -> Self {
        Self::new("GenMaster")
            .columns(GenMasterRow::COLUMNS.iter().copied())
            .filter(Where::eq("GlCode", gl_code))
            .return_rows(LOOKUP_ROWS)
    }

    /// The COMFND `XmlIn`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a malformed table or column name, no columns, or zero rows.
    pub fn query_xml(&self) -> Result<String, Error> {
        check_identifier("table", &self.table)?;
        if self.columns.is_empty() {
            return Err(Error::InvalidInput {
                field: "columns".into(),
                expected: "at least one column to return".into(),
            });
        }
        for (n, column) in self.columns.iter().enumerate() {
            check_identifier(&format!("columns[{n}]"), column)?;
        }
        for (n, column) in self.order_by.iter().enumerate() {
            check_identifier(&format!("order_by[{n}]"), column)?;
        }
        if let Some(filter) = &self.filter {
            filter.validate()?;
        }
        if self.return_rows == 0 {
            return Err(Error::InvalidInput {
                field: "return_rows".into(),
                expected: "at least 1".into(),
            });
        }
        let mut out = XmlOut::new();
        out.open_root("Query", "COMFND.XSD");
        out.text("TableName", &self.table);
        out.text("ReturnRows", &self.return_rows.to_string());
        out.open("Columns");
        for column in &self.columns {
            out.text("Column", column);
        }
        out.close("Columns");
        if let Some(filter) = &self.filter {
            filter.write(&mut out);
        }
        if !self.order_by.is_empty() {
            out.open("OrderBy");
            for column in &self.order_by {
                out.text("Column", column);
            }
            out.close("OrderBy");
        }
        out.close("Query");
        out.finish()
    }
}

/// One returned row: column name → trimmed text, in output order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Row {
    columns: Vec<(String, String)>,
}

impl Row {
    /// Every childless element of `node` as a column.
    pub(crate) fn from_node(node: &Node) -> Self {
        Self {
            columns: node
                .children
                .iter()
                .filter(|c| c.children.is_empty())
                .map(|c| (c.name.clone(), c.text().to_owned()))
                .collect(),
        }
    }

    /// A column's trimmed text (column names compared ignoring ASCII case); `None` if absent.
    pub fn get(&self, column: &str) -> Option<&str> {
        self.columns
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(column))
            .map(|(_, value)| value.as_str())
    }

    /// A column's text, `None` when absent or empty.
    pub fn non_empty(&self, column: &str) -> Option<&str> {
        self.get(column).filter(|v| !v.is_empty())
    }

    /// A column read as an amount (`None` when absent, empty or not a number).
    pub fn decimal(&self, column: &str) -> Option<Decimal> {
        self.get(column).and_then(parse_amount)
    }

    /// A column read as a date: `CCYY-MM-DD`, `CCYYMMDD`, or either followed by a time.
    pub fn date(&self, column: &str) -> Option<Date> {
        let text = self.get(column)?;
        parse_date(text).or_else(|| text.get(..10).and_then(parse_date))
    }

    /// All columns in output order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.columns.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Parsed COMFND output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindResult {
    /// Root element name (SYSPRO names it after the table).
    pub table: String,
    /// The rows.
    pub rows: Vec<Row>,
    /// `RowsReturned` as SYSPRO counted it.
    pub rows_returned: Option<u64>,
}

impl FindResult {
    /// Parses a COMFND output.
    ///
    /// # Errors
    ///
    /// [`Error::Output`] when the output is not XML or `RowsReturned` is not a number.
    pub fn parse(xml: &str) -> Result<Self, Error> {
        let root = parse(COMFND, xml)?;
        Ok(Self {
            table: root.name.clone(),
            rows: root.children_named("Row").map(Row::from_node).collect(),
            rows_returned: child_counter(COMFND, &root, "RowsReturned")?,
        })
    }
}

/// An `ArCustomer` row from [`ComFind::ar_customer_by_email`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArCustomerRow {
    /// `Customer`.
    pub customer: String,
    /// `Name`.
    pub name: Option<String>,
    /// `ShortName`.
    pub short_name: Option<String>,
    /// `Email`.
    pub email: Option<String>,
    /// `Branch`.
    pub branch: Option<String>,
    /// `Currency`.
    pub currency: Option<String>,
}

impl ArCustomerRow {
    /// Columns requested; names inferred from SYSPRO's data dictionary as COMFND clients use it.
    pub const COLUMNS: &'static [&'static str] = &[
        "Customer",
        "Name",
        "ShortName",
        "Email",
        "Branch",
        "Currency",
    ];

    /// Reads a row; `None` when `Customer` is empty.
    pub fn from_row(row: &Row) -> Option<Self> {
        Some(Self {
            customer: row.non_empty("Customer")?.to_owned(),
            name: row.non_empty("Name").map(str::to_owned),
            short_name: row.non_empty("ShortName").map(str::to_owned),
            email: row.non_empty("Email").map(str::to_owned),
            branch: row.non_empty("Branch").map(str::to_owned),
            currency: row.non_empty("Currency").map(str::to_owned),
        })
    }
}

/// An `ArInvoice` row from [`ComFind::ar_invoice`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArInvoiceRow {
    /// `Customer`.
    pub customer: String,
    /// `Invoice`.
    pub invoice: String,
    /// `DocumentType`.
    pub document_type: Option<String>,
    /// `InvoiceDate`.
    pub invoice_date: Option<Date>,
    /// `CurrencyValue`.
    pub currency_value: Option<Decimal>,
}

impl ArInvoiceRow {
    /// Columns requested; names inferred from SYSPRO's data dictionary.
    pub const COLUMNS: &'static [&'static str] = &[
        "Customer",
        "Invoice",
        "DocumentType",
        "InvoiceDate",
        "CurrencyValue",
    ];

    /// Reads a row; `None` when `Customer` or `Invoice` is empty.
    pub fn from_row(row: &Row) -> Option<Self> {
        Some(Self {
            customer: row.non_empty("Customer")?.to_owned(),
            invoice: row.non_empty("Invoice")?.to_owned(),
            document_type: row.non_empty("DocumentType").map(str::to_owned),
            invoice_date: row.date("InvoiceDate"),
            currency_value: row.decimal("CurrencyValue"),
        })
    }
}

/// A `GenMaster` row from [`ComFind::gen_master`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GenMasterRow {
    /// `GlCode`.
    pub gl_code: String,
    /// `Description`.
    pub description: Option<String>,
    /// `AccountType` (`A`, `L`, `C`, `R`, `E`, `S`).
    pub account_type: Option<String>,
}

impl GenMasterRow {
    /// Columns requested.
    pub const COLUMNS: &'static [&'static str] = &["GlCode", "Description", "AccountType"];

    /// Reads a row; `None` when `GlCode` is empty.
    pub fn from_row(row: &Row) -> Option<Self> {
        Some(Self {
            gl_code: row.non_empty("GlCode")?.to_owned(),
            description: row.non_empty("Description").map(str::to_owned),
            account_type: row.non_empty("AccountType").map(str::to_owned),
        })
    }
}

fn check_key(field: &str, value: &str, max: usize) -> Result<(), Error> {
    super::xml::require_text(field, value, max)
}

impl SysproClient {
    /// Runs a COMFND query.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a malformed query; [`Error::Output`] when the answer cannot be
    /// read; session and transport errors (and [`Error::Rejected`]) of [`SysproClient::query`].
    pub async fn find(&self, find: &ComFind) -> Result<FindResult, Error> {
        let xml_in = find.query_xml()?;
        let output = self.query(COMFND, &xml_in).await?;
        FindResult::parse(&output)
    }

    /// Customers whose e-mail address equals `email` exactly.
    ///
    /// # Errors
    ///
    /// As [`SysproClient::find`]; [`Error::InvalidInput`] for a blank address.
    pub async fn find_customers_by_email(&self, email: &str) -> Result<Vec<ArCustomerRow>, Error> {
        check_key("email", email, 255)?;
        let result = self.find(&ComFind::ar_customer_by_email(email)).await?;
        Ok(result
            .rows
            .iter()
            .filter_map(ArCustomerRow::from_row)
            .collect())
    }

    /// The AR document `invoice` of `customer`, if SYSPRO holds it: the check made before a
    /// posting whose outcome is unknown is attempted again.
    ///
    /// # Errors
    ///
    /// As [`SysproClient::find`]; [`Error::InvalidInput`] for a blank or over-long key.
    pub async fn find_ar_invoice(
        &self,
        customer: &str,
        invoice: &str,
    ) -> Result<Option<ArInvoiceRow>, Error> {
        check_key("customer", customer, CUSTOMER_MAX_LEN)?;
        check_key("invoice", invoice, INVOICE_MAX_LEN)?;
        let result = self.find(&ComFind::ar_invoice(customer, invoice)).await?;
        Ok(result.rows.iter().find_map(ArInvoiceRow::from_row))
    }

    /// The GL account `gl_code`, if it exists.
    ///
    /// # Errors
    ///
    /// As [`SysproClient::find`]; [`Error::InvalidInput`] for a blank or over-long code.
    pub async fn find_gl_account(&self, gl_code: &str) -> Result<Option<GenMasterRow>, Error> {
        check_key("gl_code", gl_code, GL_CODE_MAX_LEN)?;
        let result = self.find(&ComFind::gen_master(gl_code)).await?;
        Ok(result.rows.iter().find_map(GenMasterRow::from_row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bo::test_support::{dec, fixture};
    use time::macros::date;

    #[test]
    fn ar_invoice_query_is_exact() {
        assert_eq!(
            ComFind::ar_invoice("WEB000042", "MG100000123")
                .query_xml()
                .unwrap(),
            "<Query xmlns:xsd=\"http://www.w3.org/2001/XMLSchema-instance\" \
             xsd:noNamespaceSchemaLocation=\"COMFND.XSD\"><TableName>ArInvoice</TableName>\
             <ReturnRows>10</ReturnRows><Columns><Column>Customer</Column>\
             <Column>Invoice</Column><Column>DocumentType</Column><Column>InvoiceDate</Column>\
             <Column>CurrencyValue</Column></Columns><Where>\
             <Expression><OpenBracket>(</OpenBracket><Column>Customer</Column>\
             <Condition>EQ</Condition><Value>WEB000042</Value><CloseBracket>)</CloseBracket>\
             </Expression><Expression><AndOr>And</AndOr><OpenBracket>(</OpenBracket>\
             <Column>Invoice</Column><Condition>EQ</Condition><Value>MG100000123</Value>\
             <CloseBracket>)</CloseBracket></Expression></Where></Query>"
        );
    }

    #[test]
    fn where_builder_writes_or_and_conditions_and_escapes_values() {
        let xml = ComFind::new("ArCustomer")
            .columns(["Customer"])
            .filter(
                Where::new("Name", Condition::Like, "O'Brien & <Co>%")
                    .or("Branch", Condition::Ne, "10")
                    .and("Customer", Condition::Ge, "A"),
            )
            .order_by("Name")
            .query_xml()
            .unwrap();
        assert!(
            xml.contains(
                "<Condition>LIKE</Condition><Value>O&apos;Brien &amp; &lt;Co&gt;%</Value>"
            ),
            "{xml}"
        );
        assert!(xml.contains("<AndOr>Or</AndOr><OpenBracket>(</OpenBracket><Column>Branch</Column><Condition>NE</Condition>"), "{xml}");
        assert!(xml.contains("<AndOr>And</AndOr>"), "{xml}");
        assert!(xml.contains("<Condition>GE</Condition>"), "{xml}");
        assert!(
            xml.ends_with("<OrderBy><Column>Name</Column></OrderBy></Query>"),
            "{xml}"
        );
    }

    #[test]
    fn malformed_names_are_refused() {
        let bad = |find: ComFind| match find.query_xml() {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("expected InvalidInput, got {other:?}"),
        };
        assert_eq!(bad(ComFind::new("Ar Customer").columns(["A"])), "table");
        assert_eq!(bad(ComFind::new("ArCustomer")), "columns");
        assert_eq!(
            bad(ComFind::new("ArCustomer").columns(["A<"])),
            "columns[0]"
        );
        assert_eq!(
            bad(ComFind::new("ArCustomer")
                .columns(["A"])
                .filter(Where::eq("1x", "v"))),
            "where[0].column"
        );
        assert_eq!(
            bad(ComFind::new("ArCustomer").columns(["A"]).return_rows(0)),
            "return_rows"
        );
    }

    #[test]
    fn parses_rows_with_padding_and_typed_accessors() {
        let result = FindResult::parse(&fixture("comfnd_arinvoice.xml")).unwrap();
        assert_eq!(result.table, "ArInvoice");
        assert_eq!(result.rows_returned, Some(1));
        assert_eq!(result.rows.len(), 1);
        let row = ArInvoiceRow::from_row(&result.rows[0]).unwrap();
        assert_eq!(row.customer, "WEB000042");
        assert_eq!(row.invoice, "MG100000123");
        assert_eq!(row.invoice_date, Some(date!(2026 - 11 - 20)));
        assert_eq!(row.currency_value, Some(dec("119.00")));
        assert_eq!(result.rows[0].get("documenttype"), Some("I"));
    }

    #[test]
    fn parses_customers_and_gl_rows() {
        let result = FindResult::parse(&fixture("comfnd_arcustomer.xml")).unwrap();
        let customers: Vec<_> = result
            .rows
            .iter()
            .filter_map(ArCustomerRow::from_row)
            .collect();
        assert_eq!(customers.len(), 1);
        assert_eq!(customers[0].name.as_deref(), Some("Müller & Söhne"));
        assert_eq!(customers[0].email.as_deref(), Some("anna@example.com"));

        let gl = FindResult::parse(
            "<GenMaster><Row><GlCode>00-4010 </GlCode><Description>Sales</Description>\
             <AccountType>R</AccountType></Row><RowsReturned>     1</RowsReturned></GenMaster>",
        )
        .unwrap();
        let row = GenMasterRow::from_row(&gl.rows[0]).unwrap();
        assert_eq!(row.gl_code, "00-4010");
        assert_eq!(row.account_type.as_deref(), Some("R"));

        let empty =
            FindResult::parse("<ArCustomer><RowsReturned>0</RowsReturned></ArCustomer>").unwrap();
        assert!(empty.rows.is_empty());
        assert_eq!(empty.rows_returned, Some(0));
    }
}
