//! Query business objects: COMFND (generic find), COMFCH (fetch by key), COMBRW (browse),
//! ARSQRY (customer statement) and GENQGL (ledger code validation).

use std::cmp::Ordering;

use rust_decimal::Decimal;

use super::super::state::{Invoice, State};
use super::super::tables::{
    ColType, Column, Row, Table, Val, coerce, compare, compare_text, format_date, like, money,
};
use super::super::xml::{Node, XmlOut, padded};
use super::read_doc;

/// Renders a column value the way COMFND writes it: numbers right-aligned in a padded field.
fn render(val: &Val<'_>) -> String {
    match val {
        Val::Str(s) => s.to_string(),
        Val::Num(n) => padded(&money(*n), 14),
        Val::Int(i) => i.to_string(),
        Val::Date(d) => format_date(*d),
    }
}

fn table_of(name: &str) -> Result<Table, String> {
    Table::from_name(name).ok_or_else(|| format!("Table '{}' not found", name.trim()))
}

fn column_of(table: Table, name: &str) -> Result<Column, String> {
    table.column(name).ok_or_else(|| {
        format!(
            "Column '{}' not found in table '{}'",
            name.trim(),
            table.name()
        )
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Condition {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Like,
}

#[derive(Debug)]
enum Expr {
    Test {
        column: Column,
        condition: Condition,
        value: String,
    },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

#[derive(Debug)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Test(Expr),
}

fn where_tokens(table: Table, node: &Node) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    for (n, expression) in node.children_named("Expression").enumerate() {
        if n > 0 {
            let and_or = expression.field("AndOr");
            tokens.push(match and_or.to_ascii_uppercase().as_str() {
                "" | "AND" => Token::And,
                "OR" => Token::Or,
                other => return Err(format!("AndOr '{other}' is invalid; expected And or Or")),
            });
        }
        for _ in expression
            .field("OpenBracket")
            .chars()
            .filter(|c| *c == '(')
        {
            tokens.push(Token::Open);
        }
        let column = column_of(table, expression.field("Column"))?;
        let condition_text = expression.field("Condition").to_ascii_uppercase();
        let condition = match condition_text.as_str() {
            "EQ" | "" => Condition::Eq,
            "NE" => Condition::Ne,
            "LT" => Condition::Lt,
            "GT" => Condition::Gt,
            "LE" => Condition::Le,
            "GE" => Condition::Ge,
            "LIKE" => Condition::Like,
            other => return Err(format!("Condition '{other}' is invalid")),
        };
        let value = expression
            .child("Value")
            .map(|v| v.text.clone())
            .unwrap_or_default();
        if condition != Condition::Like {
            coerce(column.ty, &value).map_err(|e| format!("Column '{}': {e}", column.name))?;
        }
        tokens.push(Token::Test(Expr::Test {
            column,
            condition,
            value,
        }));
        for _ in expression
            .field("CloseBracket")
            .chars()
            .filter(|c| *c == ')')
        {
            tokens.push(Token::Close);
        }
    }
    Ok(tokens)
}

/// SQL precedence: AND binds tighter than OR, brackets group.
struct Parser {
    tokens: std::iter::Peekable<std::vec::IntoIter<Token>>,
}

impl Parser {
    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while matches!(self.tokens.peek(), Some(Token::Or)) {
            self.tokens.next();
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.primary()?;
        while matches!(self.tokens.peek(), Some(Token::And)) {
            self.tokens.next();
            left = Expr::And(Box::new(left), Box::new(self.primary()?));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.tokens.next() {
            Some(Token::Open) => {
                let inner = self.or()?;
                match self.tokens.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => Err("Where clause brackets do not match".to_owned()),
                }
            }
            Some(Token::Test(e)) => Ok(e),
            _ => Err("Where clause is incomplete".to_owned()),
        }
    }
}

fn parse_where(table: Table, node: &Node) -> Result<Option<Expr>, String> {
    let tokens = where_tokens(table, node)?;
    if tokens.is_empty() {
        return Ok(None);
    }
    let mut parser = Parser {
        tokens: tokens.into_iter().peekable(),
    };
    let expr = parser.or()?;
    if parser.tokens.next().is_some() {
        return Err("Where clause brackets do not match".to_owned());
    }
    Ok(Some(expr))
}

fn matches(expr: &Expr, row: &Row<'_>) -> bool {
    match expr {
        Expr::And(a, b) => matches(a, row) && matches(b, row),
        Expr::Or(a, b) => matches(a, row) || matches(b, row),
        Expr::Test {
            column,
            condition,
            value,
        } => {
            let Some(actual) = row.get(column.name) else {
                return false;
            };
            if *condition == Condition::Like {
                return like(render(&actual).trim_start(), value);
            }
            let Ok(wanted) = coerce(column.ty, value) else {
                return false;
            };
            let Some(ord) = compare(&actual, &wanted) else {
                return false;
            };
            match condition {
                Condition::Eq => ord == Ordering::Equal,
                Condition::Ne => ord != Ordering::Equal,
                Condition::Lt => ord == Ordering::Less,
                Condition::Gt => ord == Ordering::Greater,
                Condition::Le => ord != Ordering::Greater,
                Condition::Ge => ord != Ordering::Less,
                Condition::Like => false,
            }
        }
    }
}

fn order_rows(rows: &mut [Row<'_>], columns: &[Column]) {
    if columns.is_empty() {
        return;
    }
    rows.sort_by(|a, b| {
        for c in columns {
            let (Some(x), Some(y)) = (a.get(c.name), b.get(c.name)) else {
                continue;
            };
            let ord = compare(&x, &y).unwrap_or(Ordering::Equal);
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
}

/// COMFND: `<Query><TableName/><ReturnRows/><Columns/><Where/><OrderBy/></Query>`.
pub(super) fn comfnd(st: &State, xml_in: &str) -> Result<Vec<u8>, String> {
    let query = read_doc(xml_in, "Query", "XmlIn")?;
    let table = table_of(query.field("TableName"))?;
    let limit = match query.field("ReturnRows") {
        "" => usize::MAX,
        text => match text.parse::<usize>() {
            Ok(0) => usize::MAX,
            Ok(n) => n,
            Err(_) => return Err(format!("ReturnRows '{text}' is not numeric")),
        },
    };
    let all_columns = query.field("AllColumns").eq_ignore_ascii_case("Y");
    let mut columns = Vec::new();
    if !all_columns && let Some(list) = query.child("Columns") {
        for c in list.children_named("Column") {
            columns.push(column_of(table, &c.text)?);
        }
    }
    if columns.is_empty() {
        columns = table.columns().to_vec();
    }
    let filter = match query.child("Where") {
        Some(w) => parse_where(table, w)?,
        None => None,
    };
    let mut order = Vec::new();
    if let Some(o) = query.child("OrderBy") {
        for c in o.children_named("Column") {
            order.push(column_of(table, &c.text)?);
        }
    }
    let mut rows: Vec<Row<'_>> = table
        .rows(&st.ledger)
        .filter(|r| filter.as_ref().is_none_or(|f| matches(f, r)))
        .collect();
    order_rows(&mut rows, &order);
    rows.truncate(limit);

    let mut out = XmlOut::with_root(table.name());
    out.open("HeaderDetails")
        .leaf("TableName", table.name())
        .leaf("ReturnRows", query.field("ReturnRows"))
        .close();
    for row in &rows {
        out.open("Row");
        for c in &columns {
            let value = row.get(c.name).map(|v| render(&v)).unwrap_or_default();
            out.leaf(c.name, &value);
        }
        out.close();
    }
    out.leaf("RowsReturned", &padded(&rows.len().to_string(), 8));
    Ok(out.finish())
}

/// Finds one row by the key fields COMFCH and COMBRW use.
fn fetch_row<'a>(st: &'a State, table: Table, fetch: &Node) -> Option<Row<'a>> {
    let key = fetch.field("Key");
    let optional = |n: usize| fetch.field(&format!("OptionalKey{n}")).to_owned();
    let ledger = &st.ledger;
    match table {
        Table::ArCustomer => ledger.customers.get(key).map(Row::Customer),
        Table::ArInvoice => {
            let document_type = optional(2).chars().next().unwrap_or('I');
            ledger
                .invoices
                .get(&(key.to_owned(), optional(1), document_type))
                .map(Row::Invoice)
        }
        Table::GenMaster => ledger
            .gl_accounts
            .get(key)
            .or_else(|| ledger.gl_accounts.get(&optional(1)))
            .map(Row::Gl),
        Table::SorMaster => {
            let wanted = key.trim_start_matches('0');
            ledger
                .sales_orders
                .values()
                .find(|o| o.sales_order.trim_start_matches('0') == wanted)
                .map(Row::Order)
        }
        // Key: GL year, period, journal number, entry number.
        Table::GenTransaction => {
            let year = key.trim().parse::<i32>().ok()?;
            let period = optional(1).trim().parse::<u8>().ok()?;
            let journal = optional(2).trim().parse::<u32>().ok()?;
            let entry = optional(3).trim().parse::<u32>().ok()?;
            let found = ledger
                .journals
                .get(&(year, period, journal))
                .filter(|j| j.status == 'P')?;
            found
                .lines
                .iter()
                .find(|l| l.entry_number == entry)
                .map(|l| Row::GlEntry(found, l))
        }
    }
}

/// COMFCH: `<Fetch><TableName/><Key/><OptionalKey1/>...</Fetch>` → one record, root = table.
pub(super) fn comfch(st: &State, xml_in: &str) -> Result<Vec<u8>, String> {
    let fetch = read_doc(xml_in, "Fetch", "XmlIn")?;
    let table = table_of(fetch.field("TableName"))?;
    let row = fetch_row(st, table, &fetch).ok_or_else(|| {
        format!(
            "Key '{}' not found in table '{}'",
            fetch.field("Key"),
            table.name()
        )
    })?;
    let mut out = XmlOut::with_root(table.name());
    for c in table.columns() {
        let value = row.get(c.name).map(|v| render(&v)).unwrap_or_default();
        out.leaf(c.name, &value);
    }
    Ok(out.finish())
}

fn data_type(ty: ColType) -> &'static str {
    match ty {
        ColType::Str => "AlphaNumeric",
        ColType::Decimal | ColType::Int => "Numeric",
        ColType::Date => "Date",
    }
}

/// COMBRW: rows from a start key with optional column filters, plus the next key for paging.
pub(super) fn combrw(st: &State, xml_in: &str) -> Result<Vec<u8>, String> {
    let browse = read_doc(xml_in, "Browse", "XmlIn")?;
    let details = browse.child("BrowseDetails");
    let table_name = details
        .and_then(|d| d.text_of("TableName"))
        .filter(|t| !t.is_empty())
        .unwrap_or(browse.field("BrowseName"));
    let table = table_of(table_name)?;
    let mut columns = Vec::new();
    if let Some(d) = details {
        for c in d.children_named("Column") {
            columns.push(column_of(table, c.field("ColumnName"))?);
        }
    }
    if columns.is_empty() {
        columns = table.columns().to_vec();
    }
    let mut filters = Vec::new();
    for f in browse.children_named("Filter") {
        let name = f.field("ColumnFilterName");
        if name.is_empty() {
            continue;
        }
        filters.push((
            column_of(table, name)?,
            f.field("ColumnFilterValue").to_owned(),
        ));
    }
    let limit = browse
        .field("ReturnRows")
        .parse::<usize>()
        .unwrap_or(10)
        .max(1);
    let key_column = table.key_columns()[0];
    let start = browse.field("StartAtKey").to_owned();
    let strictly_after = browse.field("StartCondition").eq_ignore_ascii_case("GT");
    let mut rows = table.rows(&st.ledger).filter(|r| {
        let key = r.get(key_column).map(|v| render(&v)).unwrap_or_default();
        let from_start = start.is_empty()
            || match compare_text(&key, &start) {
                Ordering::Greater => true,
                Ordering::Equal => !strictly_after,
                Ordering::Less => false,
            };
        from_start
            && filters.iter().all(|(c, v)| {
                r.get(c.name)
                    .is_some_and(|x| compare_text(render(&x).trim(), v) == Ordering::Equal)
            })
    });
    let page: Vec<Row<'_>> = rows.by_ref().take(limit).collect();
    let next = rows.next();

    let mut out = XmlOut::with_root("Browse");
    out.open("HeaderDetails")
        .leaf("TableName", table.name())
        .leaf(
            "Title",
            details.map(|d| d.field("Title")).unwrap_or_default(),
        )
        .close();
    for row in &page {
        out.open("Row");
        for c in &columns {
            let value = row.get(c.name).map(|v| render(&v)).unwrap_or_default();
            out.open(c.name)
                .leaf("Value", value.trim())
                .leaf("DataType", data_type(c.ty))
                .close();
        }
        out.close();
    }
    let key_of = |r: &Row<'_>| r.get(key_column).map(|v| render(&v)).unwrap_or_default();
    out.open("NextPrevKey")
        .leaf("PrevKey", &page.first().map(key_of).unwrap_or_default())
        .leaf("NextKey", &next.as_ref().map(key_of).unwrap_or_default())
        .close();
    out.leaf("RowsReturned", &padded(&page.len().to_string(), 8));
    Ok(out.finish())
}

/// GENQGL: validates a ledger code; an unknown code is an exception (`ERROR:` text), as query
/// objects raise for an invalid key.
pub(super) fn genqgl(st: &State, xml_in: &str) -> Result<Vec<u8>, String> {
    let query = read_doc(xml_in, "Query", "XmlIn")?;
    let key = query
        .child("key")
        .or_else(|| query.child("Key"))
        .ok_or_else(|| "Query/key is required".to_owned())?;
    let code = key.field("LedgerCode");
    if code.is_empty() {
        return Err("Ledger code is required".to_owned());
    }
    let structured = code.len() == 7
        && code.as_bytes()[2] == b'-'
        && code
            .bytes()
            .enumerate()
            .all(|(i, b)| i == 2 || b.is_ascii_alphanumeric());
    if !structured {
        return Err(format!(
            "Ledger code '{code}' does not match the ledger structure (NN-NNNN)"
        ));
    }
    let account = st
        .ledger
        .gl_accounts
        .get(code)
        .ok_or_else(|| format!("Ledger code '{code}' not found"))?;
    let mut out = XmlOut::with_root("GLStructureQuery");
    system_information(&mut out, st);
    out.open("LedgerDetails")
        .leaf("LedgerCode", &account.gl_code)
        .leaf("Description", &account.description)
        .leaf("AccountType", &account.account_type.to_string())
        .leaf("GlGroup", &account.gl_group)
        .close();
    Ok(out.finish())
}

fn system_information(out: &mut XmlOut, st: &State) {
    out.open("SystemInformation")
        .leaf("CompanyDate", &format_date(st.company_date))
        .leaf("Currency", "USD")
        .close();
}

/// ARSQRY: customer header, open (or all) documents and totals. An unknown customer is an
/// exception (`ERROR:` text).
pub(super) fn arsqry(st: &State, xml_in: &str) -> Result<Vec<u8>, String> {
    let query = read_doc(xml_in, "Query", "XmlIn")?;
    let code = query
        .child("Key")
        .map(|k| k.field("Customer"))
        .unwrap_or_default();
    let customer = st
        .ledger
        .customers
        .get(code)
        .ok_or_else(|| format!("Customer '{code}' not found"))?;
    let options = query.child("Option");
    let option = |name: &str| options.map(|o| o.field(name)).unwrap_or_default();
    let include_zero = option("IncludeZeroBalances").eq_ignore_ascii_case("Y");
    let include_transactions = !option("IncludeTransactions").eq_ignore_ascii_case("N");

    let mut out = XmlOut::with_root("ARStatement");
    system_information(&mut out, st);
    out.open("Header")
        .leaf("Customer", &customer.customer)
        .leaf("Name", &customer.name)
        .leaf("ShortName", &customer.short_name)
        .leaf("TermsCode", &customer.terms_code)
        .leaf("Currency", &customer.currency)
        .leaf("CreditLimit", &padded(&money(customer.credit_limit), 14))
        .leaf("CreditStatus", "0")
        .leaf(
            "CustomerOnHold",
            if customer.customer_on_hold { "Y" } else { "N" },
        )
        .leaf("Branch", &customer.branch)
        .leaf("Email", &customer.email)
        .close();
    let invoices: Vec<&Invoice> = st
        .ledger
        .invoices
        .range((code.to_owned(), String::new(), '\0')..)
        .take_while(|((c, _, _), _)| c == code)
        .map(|(_, i)| i)
        .filter(|i| include_zero || !i.balance.is_zero())
        .collect();
    let mut total = Decimal::ZERO;
    for invoice in &invoices {
        total += invoice.balance;
        out.open("InvoiceDetail")
            .leaf("DocumentType", &invoice.document_type.to_string())
            .leaf("Invoice", &invoice.invoice)
            .leaf("InvoiceDate", &format_date(invoice.invoice_date))
            .leaf("DueDate", &format_date(invoice.due_date))
            .leaf("CustomerPoNumber", &invoice.customer_po_number)
            .leaf("CurrencyValue", &padded(&money(invoice.invoice_value), 14))
            .leaf("InvoiceBal", &padded(&money(invoice.balance), 14))
            .leaf("Branch", &invoice.branch)
            .leaf("SalesOrder", &invoice.sales_order);
        if include_transactions {
            out.open("TransDetail")
                .leaf("Reference", &invoice.reference)
                .leaf("TrnValue", &padded(&money(invoice.invoice_value), 14))
                .leaf("JournalDate", &format_date(invoice.invoice_date))
                .close();
        }
        out.close();
    }
    out.open("TotalSection")
        .leaf("NumberOfInvoices", &padded(&invoices.len().to_string(), 8))
        .leaf("TotalBalance", &padded(&money(total), 14))
        .close();
    Ok(out.finish())
}
