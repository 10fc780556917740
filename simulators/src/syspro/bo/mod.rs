//! Business objects: dispatch by method and name, plus the helpers they share (parameter flags,
//! SYSPRO number and date formats, field-level error elements).

mod arsscs;
mod arstin;
mod gentjl;
mod queries;
mod sortoi;

use rust_decimal::Decimal;
use time::Date;

use super::SysproCredentials;
use super::enet::{CallInput, NOT_LICENSED, Op};
use super::state::State;
use super::tables::{format_date, parse_date};
use super::xml::{self, Node, XmlOut};

/// What `GetVersion` answers and output roots carry in `Version`.
pub(crate) const VERSION: &str = "8.0.161";

/// Runs a business object and returns the answer body (XML or `ERROR:` text).
pub(crate) fn run(st: &mut State, op: Op, business_object: &str, input: &CallInput) -> Vec<u8> {
    let result = match (op, business_object) {
        (Op::Query, "COMFND") => queries::comfnd(st, &input.xml_in),
        (Op::Query, "ARSQRY") => queries::arsqry(st, &input.xml_in),
        (Op::Query, "GENQGL") => queries::genqgl(st, &input.xml_in),
        (Op::Browse, _) => queries::combrw(st, &input.xml_in),
        (Op::Fetch, _) => queries::comfch(st, &input.xml_in),
        (Op::Post | Op::PostLd, "ARSTIN") => arstin::post(st, input),
        (Op::Post | Op::PostLd, "GENTJL") => gentjl::post(st, input),
        (Op::Post | Op::PostLd, "SORTOI") => sortoi::post(st, input),
        (Op::SetupAdd, "ARSSCS") => arsscs::setup(st, input, arsscs::Action::Add),
        (Op::SetupUpdate, "ARSSCS") => arsscs::setup(st, input, arsscs::Action::Update),
        (Op::SetupDelete, "ARSSCS") => arsscs::setup(st, input, arsscs::Action::Delete),
        (_, "COMFND" | "ARSQRY" | "GENQGL" | "ARSTIN" | "GENTJL" | "SORTOI" | "ARSSCS") => {
            Err(format!(
                "Business object {business_object} cannot be called with method {}",
                op.endpoint()
            ))
        }
        // Build objects and anything else are not registered on this install.
        _ => return NOT_LICENSED.as_bytes().to_vec(),
    };
    match result {
        Ok(body) => body,
        Err(message) => xml::to_windows_1252(&format!("ERROR: {message}")),
    }
}

/// The operator and company profile (`GetLogonProfile`).
pub(crate) fn logon_profile(st: &State, operator: &str, creds: &SysproCredentials) -> Vec<u8> {
    let mut out = XmlOut::with_plain_root("UserInfo");
    out.leaf("CompanyName", "ML Connector Demo Company")
        .leaf("CompanyId", &creds.company_id)
        .leaf("OperatorCode", operator)
        .leaf("Operator", operator)
        .leaf("OperatorGroup", "INTEG")
        .leaf("OperatorEmailAddress", "integration@example.com")
        .leaf("OperatorLocation", "")
        .leaf("OperatorLanguageCode", "EN")
        .leaf("SystemLanguage", "05")
        .leaf("AccountingDate", &format_date(st.company_date))
        .leaf("CompanyDate", &format_date(st.company_date))
        .leaf("DefaultArBranch", "WB")
        .leaf("DefaultApBranch", "")
        .leaf("DefaultBank", "")
        .leaf("DefaultWarehouse", "FG")
        .leaf("DefaultCustomer", "WEBCASH")
        .leaf("SystemSiteId", "0")
        .leaf("SystemNationalityCode", "USA")
        .leaf("LocalCurrencyCode", "USD")
        .leaf("CurrencyDescription", "US Dollar")
        .leaf("DecimalFormat", "1")
        .leaf("DateFormat", "01")
        .leaf("FunctionalRole", "")
        .leaf("DatabaseType", "SQL")
        .leaf("SysproVersion", VERSION)
        .leaf("EnetVersion", VERSION)
        .leaf("SysproServerBitWidth", "64");
    out.finish()
}

/// Reads a document and checks its root element.
pub(super) fn read_doc(text: &str, root: &str, what: &str) -> Result<Node, String> {
    if text.trim().is_empty() {
        return Err(format!("{what} is required"));
    }
    let node = xml::parse(text).map_err(|e| format!("{what}: {e}"))?;
    if node.name != root {
        return Err(format!(
            "{what}: root element must be '{root}', found '{}'",
            node.name
        ));
    }
    Ok(node)
}

/// Reads `XmlParameters`; an empty string means every parameter takes its default.
pub(super) fn read_params(text: &str, root: &str) -> Result<Option<Node>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let node = read_doc(text, root, "XmlParameters")?;
    Ok(node.child("Parameters").cloned())
}

/// A one-letter parameter, upper-cased, or its default when absent or empty.
pub(super) fn flag(params: &Option<Node>, name: &str, default: char) -> char {
    params
        .as_ref()
        .and_then(|p| p.text_of(name))
        .and_then(|t| t.chars().next())
        .map_or(default, |c| c.to_ascii_uppercase())
}

/// A field-level rejection, written the way SYSPRO nests it under the offending element.
#[derive(Debug, Clone)]
pub(super) struct FieldError {
    pub field: String,
    pub value: String,
    pub number: u32,
    pub description: String,
}

impl FieldError {
    pub fn new(field: &str, value: &str, number: u32, description: String) -> Self {
        Self {
            field: field.to_owned(),
            value: value.to_owned(),
            number,
            description,
        }
    }

    /// Writes `<Field><Value/><ErrorNumber/><ErrorDescription/></Field>`, the element name as given.
    pub fn write_as(&self, out: &mut XmlOut, element: &str) {
        out.open(element)
            .leaf("Value", &self.value)
            .leaf("ErrorNumber", &self.number.to_string())
            .leaf("ErrorDescription", &self.description)
            .close();
    }

    pub fn write(&self, out: &mut XmlOut) {
        let element = self.field.clone();
        self.write_as(out, &element);
    }
}

/// Error numbers this fake uses (its own numbering; SYSPRO's real numbers vary by release).
pub(super) mod codes {
    pub const REQUIRED: u32 = 100_001;
    pub const INVALID_VALUE: u32 = 100_002;
    pub const NOT_NUMERIC: u32 = 100_003;
    pub const NEGATIVE: u32 = 100_004;
    pub const INVALID_DATE: u32 = 100_005;
    pub const TOO_LONG: u32 = 100_006;
    pub const CUSTOMER_NOT_FOUND: u32 = 110_401;
    pub const CUSTOMER_EXISTS: u32 = 110_402;
    pub const CUSTOMER_HAS_TRANSACTIONS: u32 = 110_403;
    pub const INVOICE_EXISTS: u32 = 110_410;
    pub const INVOICE_NOT_FOUND: u32 = 110_411;
    pub const PRODUCT_CLASS_NOT_FOUND: u32 = 110_420;
    pub const BRANCH_NOT_FOUND: u32 = 110_421;
    pub const TERMS_NOT_FOUND: u32 = 110_422;
    pub const LEDGER_CODE_NOT_FOUND: u32 = 120_101;
    pub const JOURNAL_NOT_BALANCED: u32 = 120_102;
    pub const JOURNAL_NO_ENTRIES: u32 = 120_103;
    pub const PO_NUMBER_EXISTS: u32 = 130_201;
    pub const ACTION_NOT_SUPPORTED: u32 = 130_202;
}

/// Reads a SYSPRO number with at most `int_digits` before and `dec_digits` after the point.
/// A minus sign may lead or trail, as SYSPRO allows.
pub(super) fn parse_number(text: &str, int_digits: usize, dec_digits: usize) -> Option<Decimal> {
    let t = text.trim();
    let (negative, digits) = if let Some(rest) = t.strip_prefix('-') {
        (true, rest)
    } else if let Some(rest) = t.strip_suffix('-') {
        (true, rest)
    } else {
        (false, t)
    };
    let (int_part, dec_part) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && dec_part.is_empty())
        || !all_digits(int_part)
        || !all_digits(dec_part)
        || int_part.trim_start_matches('0').len() > int_digits
        || dec_part.len() > dec_digits
    {
        return None;
    }
    let value: Decimal = digits.parse().ok()?;
    Some(if negative { -value } else { value })
}

/// A money field (format 12.2): `Ok(None)` when absent or empty.
pub(super) fn money_field(item: &Node, name: &str) -> Result<Option<Decimal>, FieldError> {
    match item.text_of(name) {
        None | Some("") => Ok(None),
        Some(text) => parse_number(text, 12, 2).map(Some).ok_or_else(|| {
            FieldError::new(
                name,
                text,
                codes::NOT_NUMERIC,
                format!("{name} '{text}' is not numeric (expected up to 12 digits and 2 decimals)"),
            )
        }),
    }
}

/// A date field (`CCYY-MM-DD`); absent or empty gives the company date.
pub(super) fn date_field(item: &Node, name: &str, default: Date) -> Result<Date, FieldError> {
    match item.text_of(name) {
        None | Some("") => Ok(default),
        Some(text) if text.len() == 10 => parse_date(text).ok_or_else(|| bad_date(name, text)),
        Some(text) => Err(bad_date(name, text)),
    }
}

fn bad_date(name: &str, text: &str) -> FieldError {
    FieldError::new(
        name,
        text,
        codes::INVALID_DATE,
        format!("{name} '{text}' is not a valid date (CCYY-MM-DD)"),
    )
}

/// Posting year and month for a `PostingPeriod` of C (current), P (previous) or B (before
/// previous), counted from the company date.
pub(super) fn posting_period(company_date: Date, period: char) -> (i32, u8) {
    let back = match period {
        'P' => 1,
        'B' => 2,
        _ => 0,
    };
    let mut year = company_date.year();
    let mut month = i32::from(u8::from(company_date.month())) - back;
    if month < 1 {
        month += 12;
        year -= 1;
    }
    (year, month as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_syspro_formats() {
        assert_eq!(parse_number("12.99", 12, 2), Some(Decimal::new(1299, 2)));
        assert_eq!(parse_number("12.99-", 12, 2), Some(Decimal::new(-1299, 2)));
        assert_eq!(parse_number(" -5 ", 12, 2), Some(Decimal::new(-5, 0)));
        assert_eq!(parse_number(".5", 12, 2), Some(Decimal::new(5, 1)));
        assert_eq!(parse_number("12.990000000000002", 12, 2), None);
        assert_eq!(parse_number("1e5", 12, 2), None);
        assert_eq!(parse_number("", 12, 2), None);
        assert_eq!(parse_number("1234567890123", 12, 2), None);
    }

    #[test]
    fn posting_periods_count_back_across_years() {
        let d = time::macros::date!(2026 - 02 - 10);
        assert_eq!(posting_period(d, 'C'), (2026, 2));
        assert_eq!(posting_period(d, 'P'), (2026, 1));
        assert_eq!(posting_period(d, 'B'), (2025, 12));
    }
}
