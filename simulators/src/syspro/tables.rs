//! SYSPRO tables as COMFND, COMFCH, COMBRW and OData see them: column names and types, and the
//! ledger's records read as rows. String comparisons ignore case and trailing spaces, like the
//! SQL Server collation SYSPRO databases usually run on.

use std::borrow::Cow;
use std::cmp::Ordering;

use rust_decimal::Decimal;
use time::Date;

use super::state::{Customer, GlAccount, Invoice, Journal, JournalLine, Ledger, SalesOrder};

/// A column's type, which decides how filter values are read and compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ColType {
    Str,
    /// Money or quantity with two decimals.
    Decimal,
    Int,
    Date,
}

/// One column of a table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Column {
    pub name: &'static str,
    pub ty: ColType,
}

const fn col(name: &'static str, ty: ColType) -> Column {
    Column { name, ty }
}

const AR_CUSTOMER: &[Column] = &[
    col("Customer", ColType::Str),
    col("Name", ColType::Str),
    col("ShortName", ColType::Str),
    col("Email", ColType::Str),
    col("Branch", ColType::Str),
    col("TermsCode", ColType::Str),
    col("Currency", ColType::Str),
    col("CreditLimit", ColType::Decimal),
    col("Telephone", ColType::Str),
    col("Contact", ColType::Str),
    col("Salesperson", ColType::Str),
    col("CustomerOnHold", ColType::Str),
];

const AR_INVOICE: &[Column] = &[
    col("Customer", ColType::Str),
    col("Invoice", ColType::Str),
    col("DocumentType", ColType::Str),
    col("InvoiceDate", ColType::Date),
    col("DueDate", ColType::Date),
    col("Branch", ColType::Str),
    col("TermsCode", ColType::Str),
    col("Reference", ColType::Str),
    col("CustomerPoNumber", ColType::Str),
    col("SalesOrder", ColType::Str),
    col("TrnYear", ColType::Int),
    col("TrnMonth", ColType::Int),
    col("OrigInvValue", ColType::Decimal),
    // Named as in ARSQRY's `InvoiceDetail`, which mirrors this table's columns.
    col("CurrencyValue", ColType::Decimal),
    col("TaxValue", ColType::Decimal),
    col("InvoiceBal1", ColType::Decimal),
    col("Currency", ColType::Str),
    col("ProductClass", ColType::Str),
];

const GEN_MASTER: &[Column] = &[
    col("Company", ColType::Str),
    col("GlCode", ColType::Str),
    col("Description", ColType::Str),
    col("AccountType", ColType::Str),
    col("GlGroup", ColType::Str),
];

const SOR_MASTER: &[Column] = &[
    col("SalesOrder", ColType::Str),
    col("Customer", ColType::Str),
    col("CustomerName", ColType::Str),
    col("CustomerPoNumber", ColType::Str),
    col("OrderDate", ColType::Date),
    col("OrderStatus", ColType::Str),
    col("Branch", ColType::Str),
    col("Email", ColType::Str),
];

/// One row per entry of a posted GL journal. SYSPRO's data dictionary names the table
/// `GenTransaction`; the column names are inferred from it. `Reference` is the journal's
/// reference (the connector puts the AR invoice number there), `EntryValue` is signed: positive
/// is a debit, negative a credit, as GENTJL's `EntryAmount`.
const GEN_TRANSACTION: &[Column] = &[
    col("GlCode", ColType::Str),
    col("GlYear", ColType::Int),
    col("GlPeriod", ColType::Int),
    col("Journal", ColType::Int),
    col("EntryNumber", ColType::Int),
    col("TransactionDate", ColType::Date),
    col("Reference", ColType::Str),
    col("Comment", ColType::Str),
    col("EntryValue", ColType::Decimal),
    col("JournalType", ColType::Str),
    col("Notation", ColType::Str),
];

/// The tables the fake serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Table {
    ArCustomer,
    ArInvoice,
    GenMaster,
    SorMaster,
    GenTransaction,
}

impl Table {
    pub const ALL: [Table; 5] = [
        Table::ArCustomer,
        Table::ArInvoice,
        Table::GenMaster,
        Table::SorMaster,
        Table::GenTransaction,
    ];

    /// Table names are matched ignoring case, as SQL Server does.
    pub fn from_name(name: &str) -> Option<Table> {
        Self::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name.trim()))
    }

    pub fn name(self) -> &'static str {
        match self {
            Table::ArCustomer => "ArCustomer",
            Table::ArInvoice => "ArInvoice",
            Table::GenMaster => "GenMaster",
            Table::SorMaster => "SorMaster",
            Table::GenTransaction => "GenTransaction",
        }
    }

    pub fn columns(self) -> &'static [Column] {
        match self {
            Table::ArCustomer => AR_CUSTOMER,
            Table::ArInvoice => AR_INVOICE,
            Table::GenMaster => GEN_MASTER,
            Table::SorMaster => SOR_MASTER,
            Table::GenTransaction => GEN_TRANSACTION,
        }
    }

    pub fn key_columns(self) -> &'static [&'static str] {
        match self {
            Table::ArCustomer => &["Customer"],
            Table::ArInvoice => &["Customer", "Invoice", "DocumentType"],
            Table::GenMaster => &["Company", "GlCode"],
            Table::SorMaster => &["SalesOrder"],
            Table::GenTransaction => &["GlYear", "GlPeriod", "Journal", "EntryNumber"],
        }
    }

    /// Finds a column ignoring case; returns its canonical spelling.
    pub fn column(self, name: &str) -> Option<Column> {
        self.columns()
            .iter()
            .copied()
            .find(|c| c.name.eq_ignore_ascii_case(name.trim()))
    }

    /// All rows in key order.
    pub fn rows<'a>(self, ledger: &'a Ledger) -> Box<dyn Iterator<Item = Row<'a>> + 'a> {
        match self {
            Table::ArCustomer => Box::new(ledger.customers.values().map(Row::Customer)),
            Table::ArInvoice => Box::new(ledger.invoices.values().map(Row::Invoice)),
            Table::GenMaster => Box::new(ledger.gl_accounts.values().map(Row::Gl)),
            Table::SorMaster => Box::new(ledger.sales_orders.values().map(Row::Order)),
            // Only posted journals reach the GL; a saved (unposted) journal has no transactions.
            Table::GenTransaction => Box::new(
                ledger
                    .journals
                    .values()
                    .filter(|j| j.status == 'P')
                    .flat_map(|j| j.lines.iter().map(move |l| Row::GlEntry(j, l))),
            ),
        }
    }
}

/// A record read as a table row.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Row<'a> {
    Customer(&'a Customer),
    Invoice(&'a Invoice),
    Gl(&'a GlAccount),
    Order(&'a SalesOrder),
    GlEntry(&'a Journal, &'a JournalLine),
}

/// A column value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Val<'a> {
    Str(Cow<'a, str>),
    Num(Decimal),
    Int(i64),
    Date(Date),
}

fn s(text: &str) -> Val<'_> {
    Val::Str(Cow::Borrowed(text))
}

fn yn(flag: bool) -> Val<'static> {
    Val::Str(Cow::Borrowed(if flag { "Y" } else { "N" }))
}

impl<'a> Row<'a> {
    /// The value of a column given by its canonical name.
    pub fn get(&self, column: &str) -> Option<Val<'a>> {
        Some(match *self {
            Row::Customer(c) => match column {
                "Customer" => s(&c.customer),
                "Name" => s(&c.name),
                "ShortName" => s(&c.short_name),
                "Email" => s(&c.email),
                "Branch" => s(&c.branch),
                "TermsCode" => s(&c.terms_code),
                "Currency" => s(&c.currency),
                "CreditLimit" => Val::Num(c.credit_limit),
                "Telephone" => s(&c.telephone),
                "Contact" => s(&c.contact),
                "Salesperson" => s(&c.salesperson),
                "CustomerOnHold" => yn(c.customer_on_hold),
                _ => return None,
            },
            Row::Invoice(i) => match column {
                "Customer" => s(&i.customer),
                "Invoice" => s(&i.invoice),
                "DocumentType" => Val::Str(Cow::Owned(i.document_type.to_string())),
                "InvoiceDate" => Val::Date(i.invoice_date),
                "DueDate" => Val::Date(i.due_date),
                "Branch" => s(&i.branch),
                "TermsCode" => s(&i.terms_code),
                "Reference" => s(&i.reference),
                "CustomerPoNumber" => s(&i.customer_po_number),
                "SalesOrder" => s(&i.sales_order),
                "TrnYear" => Val::Int(i64::from(i.trn_year)),
                "TrnMonth" => Val::Int(i64::from(i.trn_month)),
                "OrigInvValue" | "CurrencyValue" => Val::Num(i.invoice_value),
                "TaxValue" => Val::Num(i.tax_value),
                "InvoiceBal1" => Val::Num(i.balance),
                "Currency" => s(&i.currency),
                "ProductClass" => s(&i.product_class),
                _ => return None,
            },
            Row::Gl(g) => match column {
                "Company" => s(""),
                "GlCode" => s(&g.gl_code),
                "Description" => s(&g.description),
                "AccountType" => Val::Str(Cow::Owned(g.account_type.to_string())),
                "GlGroup" => s(&g.gl_group),
                _ => return None,
            },
            Row::Order(o) => match column {
                "SalesOrder" => s(&o.sales_order),
                "Customer" => s(&o.customer),
                "CustomerName" => s(&o.customer_name),
                "CustomerPoNumber" => s(&o.customer_po_number),
                "OrderDate" => Val::Date(o.order_date),
                "OrderStatus" => s(&o.order_status),
                "Branch" => s(&o.branch),
                "Email" => s(&o.email),
                _ => return None,
            },
            Row::GlEntry(j, l) => match column {
                "GlCode" => s(&l.ledger_code),
                "GlYear" => Val::Int(i64::from(j.gl_year)),
                "GlPeriod" => Val::Int(i64::from(j.gl_period)),
                "Journal" => Val::Int(i64::from(j.gl_journal)),
                "EntryNumber" => Val::Int(i64::from(l.entry_number)),
                "TransactionDate" => Val::Date(j.journal_date),
                "Reference" => s(&j.journal_reference),
                "Comment" => s(&l.comment),
                "EntryValue" => Val::Num(l.entry_amount),
                "JournalType" => s(&j.journal_type),
                "Notation" => s(&j.notation),
                _ => return None,
            },
        })
    }
}

/// Compares two strings the way a case-insensitive SQL collation does (trailing spaces ignored).
pub(crate) fn compare_text(a: &str, b: &str) -> Ordering {
    let a = a.trim_end();
    let b = b.trim_end();
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
}

/// Compares a value with another of the same kind; `None` when the kinds differ.
pub(crate) fn compare(a: &Val<'_>, b: &Val<'_>) -> Option<Ordering> {
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => Some(compare_text(x, y)),
        (Val::Num(x), Val::Num(y)) => Some(x.cmp(y)),
        (Val::Int(x), Val::Int(y)) => Some(x.cmp(y)),
        (Val::Num(x), Val::Int(y)) => Some(x.cmp(&Decimal::from(*y))),
        (Val::Int(x), Val::Num(y)) => Some(Decimal::from(*x).cmp(y)),
        (Val::Date(x), Val::Date(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// SQL `LIKE` with `%` and `_`, ignoring case.
pub(crate) fn like(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text
        .trim_end()
        .chars()
        .flat_map(char::to_lowercase)
        .collect();
    let p: Vec<char> = pattern.chars().flat_map(char::to_lowercase).collect();
    let (mut ti, mut pi) = (0usize, 0usize);
    let (mut star_p, mut star_t) = (None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '_' || (p[pi] != '%' && p[pi] == t[ti])) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star_p = Some(pi);
            star_t = ti;
            pi += 1;
        } else if let Some(sp) = star_p {
            pi = sp + 1;
            star_t += 1;
            ti = star_t;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '%' {
        pi += 1;
    }
    pi == p.len()
}

/// Reads a text value as the column's type (COMFND `<Value>`, COMFCH keys).
pub(crate) fn coerce<'v>(ty: ColType, text: &'v str) -> Result<Val<'v>, String> {
    let t = text.trim();
    match ty {
        ColType::Str => Ok(Val::Str(Cow::Borrowed(text))),
        ColType::Decimal => t
            .parse::<Decimal>()
            .map(Val::Num)
            .map_err(|_| format!("'{t}' is not a numeric value")),
        ColType::Int => t
            .parse::<i64>()
            .map(Val::Int)
            .map_err(|_| format!("'{t}' is not a whole number")),
        ColType::Date => parse_date(t)
            .map(Val::Date)
            .ok_or_else(|| format!("'{t}' is not a date (CCYY-MM-DD)")),
    }
}

/// `CCYY-MM-DD`, also accepting a trailing time part (`T00:00:00`, `Z`).
pub(crate) fn parse_date(text: &str) -> Option<Date> {
    let day = text.get(..10)?;
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(day, &format).ok()
}

/// `CCYY-MM-DD`.
pub(crate) fn format_date(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// `CCYYMMDD`, the GL output date format.
pub(crate) fn format_date_compact(date: Date) -> String {
    format!(
        "{:04}{:02}{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// Money with two decimals.
pub(crate) fn money(value: Decimal) -> String {
    format!("{:.2}", value.round_dp(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_matches_sql_wildcards_ignoring_case() {
        assert!(like("Müller Gärten", "m%gärten"));
        assert!(like("ABC", "A_C"));
        assert!(like("ABC", "%"));
        assert!(!like("ABC", "A_"));
        assert!(like("abc  ", "abc"));
        assert!(!like("xabc", "abc%"));
    }

    #[test]
    fn text_comparison_ignores_case_and_trailing_spaces() {
        assert_eq!(compare_text("Abc ", "aBC"), Ordering::Equal);
        assert_eq!(compare_text("a", "B"), Ordering::Less);
    }

    #[test]
    fn dates_read_with_or_without_time() {
        let d = parse_date("2024-02-29T00:00:00Z").unwrap();
        assert_eq!(format_date(d), "2024-02-29");
        assert_eq!(format_date_compact(d), "20240229");
        assert!(parse_date("2024-02-30").is_none());
    }
}
