//! The read-only OData v4 service: Basic auth, `$metadata`, entity sets `ArCustomer`,
//! `ArInvoice`, `GenMaster` and `SorMaster` with `$filter`, `$select`, `$orderby`, `$top`,
//! `$skip`, `$count`, and server-driven paging at 5,000 rows (`@odata.nextLink`).

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::time::Duration;

use axum::extract::{Query, Request};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rust_decimal::Decimal;
use time::Date;

use super::Shared;
use super::tables::{
    ColType, Column, Row, Table, Val, compare, compare_text, format_date, parse_date,
};

/// Path of the OData service; the company id follows.
pub(crate) const SERVICE_PREFIX: &str = "/SYSPRO8Odata/SYSPROOData";

/// The most rows one response carries.
pub(crate) const PAGE_CAP: usize = 5_000;

const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'$')
    .remove(b'\'')
    .remove(b',')
    .remove(b'(')
    .remove(b')');

fn odata_error(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "{{\"error\":{{\"code\":\"\",\"message\":{}}}}}",
        serde_json::to_string(message).unwrap_or_default()
    );
    (
        status,
        [(
            header::CONTENT_TYPE,
            "application/json; odata.metadata=minimal",
        )],
        body,
    )
        .into_response()
}

fn authorised(shared: &Shared, request: &Request) -> bool {
    let Some(value) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return false;
    };
    let creds = &shared.credentials;
    text.split_once(':').is_some_and(|(user, password)| {
        user.eq_ignore_ascii_case(&creds.odata_username) && password == creds.odata_password
    })
}

/// Serves one OData request.
pub(crate) async fn handle(shared: &Shared, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let rest = &path[SERVICE_PREFIX.len()..];
    if !authorised(shared, &request) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"SYSPRO OData\"")],
            "",
        )
            .into_response();
    }
    if request.method() != Method::GET {
        return odata_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "The SYSPRO OData service is read-only",
        );
    }
    let mut segments = rest.trim_matches('/').splitn(2, '/');
    let company = segments.next().unwrap_or_default();
    let resource = segments.next().unwrap_or_default();
    if !company.eq_ignore_ascii_case(&shared.credentials.company_id) {
        return odata_error(
            StatusCode::NOT_FOUND,
            &format!("Company '{company}' is not published to OData"),
        );
    }
    let latency = Duration::from_millis(shared.lock().faults.latency_ms);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let root = format!(
        "{}{}/{}",
        shared.base_url, SERVICE_PREFIX, shared.credentials.company_id
    );
    if resource.is_empty() {
        shared.lock().count_endpoint("OData service document");
        return json(service_document(&root));
    }
    if resource == "$metadata" {
        shared.lock().count_endpoint("OData $metadata");
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/xml")],
            metadata(),
        )
            .into_response();
    }
    let Some(table) = Table::ALL.into_iter().find(|t| t.name() == resource) else {
        return odata_error(
            StatusCode::NOT_FOUND,
            &format!("Resource not found for the segment '{resource}'"),
        );
    };
    let params: Vec<(String, String)> = match Query::try_from_uri(request.uri()) {
        Ok(Query(p)) => p,
        Err(_) => return odata_error(StatusCode::BAD_REQUEST, "The query string is malformed"),
    };
    let mut st = shared.lock();
    st.count_endpoint(&format!("OData {}", table.name()));
    match query(&st.ledger, table, &params, &root) {
        Ok(body) => json(body),
        Err(message) => odata_error(StatusCode::BAD_REQUEST, &message),
    }
}

fn json(body: String) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/json; odata.metadata=minimal",
        )],
        body,
    )
        .into_response()
}

fn service_document(root: &str) -> String {
    let mut out = format!("{{\"@odata.context\":\"{root}/$metadata\",\"value\":[");
    for (n, t) in Table::ALL.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"name\":\"{0}\",\"kind\":\"EntitySet\",\"url\":\"{0}\"}}",
            t.name()
        );
    }
    out.push_str("]}");
    out
}

fn edm_type(ty: ColType) -> &'static str {
    match ty {
        ColType::Str => "Edm.String",
        ColType::Decimal => "Edm.Decimal\" Precision=\"14\" Scale=\"2",
        ColType::Int => "Edm.Int32",
        ColType::Date => "Edm.DateTimeOffset",
    }
}

fn metadata() -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
<edmx:Edmx Version=\"4.0\" xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\">\n\
<edmx:DataServices>\n\
<Schema Namespace=\"SYSPRO\" xmlns=\"http://docs.oasis-open.org/odata/ns/edm\">\n",
    );
    for t in Table::ALL {
        let _ = write!(out, "<EntityType Name=\"{}\"><Key>", t.name());
        for k in t.key_columns() {
            let _ = write!(out, "<PropertyRef Name=\"{k}\"/>");
        }
        out.push_str("</Key>");
        for c in t.columns() {
            let nullable = if t.key_columns().contains(&c.name) {
                "false"
            } else {
                "true"
            };
            let _ = write!(
                out,
                "<Property Name=\"{}\" Type=\"{}\" Nullable=\"{nullable}\"/>",
                c.name,
                edm_type(c.ty)
            );
        }
        out.push_str("</EntityType>\n");
    }
    out.push_str("<EntityContainer Name=\"SYSPROOData\">\n");
    for t in Table::ALL {
        let _ = writeln!(
            out,
            "<EntitySet Name=\"{0}\" EntityType=\"SYSPRO.{0}\"/>",
            t.name()
        );
    }
    out.push_str("</EntityContainer>\n</Schema>\n</edmx:DataServices>\n</edmx:Edmx>\n");
    out
}

// ---- $filter ----

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(Decimal),
    Date(Date),
    Bool(bool),
    Null,
    Open,
    Close,
    Comma,
}

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push(Tok::Open);
            i += 1;
        } else if c == ')' {
            out.push(Tok::Close);
            i += 1;
        } else if c == ',' {
            out.push(Tok::Comma);
            i += 1;
        } else if c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("Unterminated string literal in $filter".to_owned()),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        s.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        s.push(*ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(s));
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            i += 1;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '.' | '-' | ':' | '+'))
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if word.len() >= 10 && word.as_bytes()[4] == b'-' && word.as_bytes()[7] == b'-' {
                let date = parse_date(&word)
                    .ok_or_else(|| format!("'{word}' is not a valid date literal"))?;
                out.push(Tok::Date(date));
            } else {
                let digits = word.trim_end_matches(['m', 'M']);
                let n = digits
                    .parse::<Decimal>()
                    .map_err(|_| format!("'{word}' is not a valid number literal"))?;
                out.push(Tok::Num(n));
            }
        } else if c.is_alphabetic() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '/' | '.'))
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            out.push(match word.as_str() {
                "true" => Tok::Bool(true),
                "false" => Tok::Bool(false),
                "null" => Tok::Null,
                _ => Tok::Ident(word),
            });
        } else {
            return Err(format!("Syntax error at position {i} in $filter"));
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone)]
enum Lit {
    Val(Val<'static>),
    Null,
}

#[derive(Debug)]
enum Filter {
    Cmp(Column, Cmp, Lit),
    Func(Func, Column, String),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

struct FilterParser {
    table: Table,
    toks: Vec<Tok>,
    pos: usize,
}

impl FilterParser {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Ident(w)) if w == word)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.pos += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.unary()?;
        while self.peek_word("and") {
            self.pos += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, String> {
        if self.peek_word("not") {
            self.pos += 1;
            return Ok(Filter::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn column(&self, name: &str) -> Result<Column, String> {
        self.table
            .columns()
            .iter()
            .copied()
            .find(|c| c.name == name)
            .ok_or_else(|| {
                format!(
                    "Could not find a property named '{name}' on type 'SYSPRO.{}'",
                    self.table.name()
                )
            })
    }

    fn primary(&mut self) -> Result<Filter, String> {
        match self.next() {
            Some(Tok::Open) => {
                let inner = self.or()?;
                match self.next() {
                    Some(Tok::Close) => Ok(inner),
                    _ => Err("')' expected in $filter".to_owned()),
                }
            }
            Some(Tok::Ident(word)) => {
                let func = match word.as_str() {
                    "contains" => Some(Func::Contains),
                    "startswith" => Some(Func::StartsWith),
                    "endswith" => Some(Func::EndsWith),
                    _ => None,
                };
                if let Some(func) = func {
                    let (
                        Some(Tok::Open),
                        Some(Tok::Ident(col)),
                        Some(Tok::Comma),
                        Some(Tok::Str(text)),
                        Some(Tok::Close),
                    ) = (
                        self.next(),
                        self.next(),
                        self.next(),
                        self.next(),
                        self.next(),
                    )
                    else {
                        return Err(format!("{word}(Property,'text') expected in $filter"));
                    };
                    let column = self.column(&col)?;
                    if column.ty != ColType::Str {
                        return Err(format!("{word} needs a string property; '{col}' is not"));
                    }
                    return Ok(Filter::Func(func, column, text));
                }
                let column = self.column(&word)?;
                let op = match self.next() {
                    Some(Tok::Ident(op)) => match op.as_str() {
                        "eq" => Cmp::Eq,
                        "ne" => Cmp::Ne,
                        "gt" => Cmp::Gt,
                        "ge" => Cmp::Ge,
                        "lt" => Cmp::Lt,
                        "le" => Cmp::Le,
                        other => return Err(format!("Unknown operator '{other}' in $filter")),
                    },
                    _ => return Err(format!("An operator is expected after '{word}' in $filter")),
                };
                let literal = match self.next() {
                    Some(Tok::Str(s)) if column.ty == ColType::Str => Lit::Val(Val::Str(s.into())),
                    Some(Tok::Num(n)) if matches!(column.ty, ColType::Decimal | ColType::Int) => {
                        Lit::Val(Val::Num(n))
                    }
                    Some(Tok::Date(d)) if column.ty == ColType::Date => Lit::Val(Val::Date(d)),
                    Some(Tok::Null) => Lit::Null,
                    Some(Tok::Bool(_) | Tok::Str(_) | Tok::Num(_) | Tok::Date(_)) => {
                        return Err(format!(
                            "A literal of the wrong type is compared with '{word}' in $filter"
                        ));
                    }
                    _ => return Err(format!("A literal is expected after '{word}' in $filter")),
                };
                Ok(Filter::Cmp(column, op, literal))
            }
            _ => Err("Syntax error in $filter".to_owned()),
        }
    }
}

fn parse_filter(table: Table, text: &str) -> Result<Filter, String> {
    let mut parser = FilterParser {
        table,
        toks: lex(text)?,
        pos: 0,
    };
    let filter = parser.or()?;
    if parser.pos < parser.toks.len() {
        return Err("Syntax error in $filter: unexpected trailing text".to_owned());
    }
    Ok(filter)
}

fn lower(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

fn eval(filter: &Filter, row: &Row<'_>) -> bool {
    match filter {
        Filter::And(a, b) => eval(a, row) && eval(b, row),
        Filter::Or(a, b) => eval(a, row) || eval(b, row),
        Filter::Not(a) => !eval(a, row),
        Filter::Func(func, column, text) => {
            let Some(Val::Str(value)) = row.get(column.name) else {
                return false;
            };
            let (value, text) = (lower(value.trim_end()), lower(text));
            match func {
                Func::Contains => value.contains(&text),
                Func::StartsWith => value.starts_with(&text),
                Func::EndsWith => value.ends_with(&text),
            }
        }
        Filter::Cmp(column, op, literal) => {
            let Some(value) = row.get(column.name) else {
                return false;
            };
            let Lit::Val(wanted) = literal else {
                // Columns are never null in this ledger.
                return *op == Cmp::Ne;
            };
            let Some(ord) = compare(&value, wanted) else {
                return false;
            };
            match op {
                Cmp::Eq => ord == Ordering::Equal,
                Cmp::Ne => ord != Ordering::Equal,
                Cmp::Gt => ord == Ordering::Greater,
                Cmp::Ge => ord != Ordering::Less,
                Cmp::Lt => ord == Ordering::Less,
                Cmp::Le => ord != Ordering::Greater,
            }
        }
    }
}

fn json_value(val: &Val<'_>) -> String {
    match val {
        Val::Str(s) => serde_json::to_string(s.as_ref()).unwrap_or_default(),
        Val::Num(n) => format!("{:.2}", n.round_dp(2)),
        Val::Int(i) => i.to_string(),
        Val::Date(d) => format!("\"{}T00:00:00Z\"", format_date(*d)),
    }
}

fn query(
    ledger: &super::state::Ledger,
    table: Table,
    params: &[(String, String)],
    root: &str,
) -> Result<String, String> {
    let mut filter_text = None;
    let mut select_text = None;
    let mut orderby_text = None;
    let mut top = None;
    let mut skip = 0usize;
    let mut count = false;
    for (k, v) in params {
        match k.as_str() {
            "$filter" => filter_text = Some(v.clone()),
            "$select" => select_text = Some(v.clone()),
            "$orderby" => orderby_text = Some(v.clone()),
            "$top" => {
                top = Some(
                    v.trim()
                        .parse::<usize>()
                        .map_err(|_| format!("$top '{v}' is not a non-negative integer"))?,
                );
            }
            "$skip" => {
                skip = v
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| format!("$skip '{v}' is not a non-negative integer"))?;
            }
            "$count" => count = v.trim() == "true",
            "$format" if !v.eq_ignore_ascii_case("json") => {
                return Err(format!("$format '{v}' is not supported; use json"));
            }
            "$format" => {}
            other if other.starts_with('$') => {
                return Err(format!("The query option '{other}' is not supported"));
            }
            _ => {}
        }
    }
    let filter = filter_text
        .as_deref()
        .map(|f| parse_filter(table, f))
        .transpose()?;
    let columns: Vec<Column> = match &select_text {
        Some(s) if s.trim() != "*" => s
            .split(',')
            .map(|name| {
                table
                    .columns()
                    .iter()
                    .copied()
                    .find(|c| c.name == name.trim())
                    .ok_or_else(|| format!("Could not find a property named '{}'", name.trim()))
            })
            .collect::<Result<_, _>>()?,
        _ => table.columns().to_vec(),
    };
    let mut order = Vec::new();
    if let Some(o) = &orderby_text {
        for part in o.split(',') {
            let mut words = part.split_whitespace();
            let name = words.next().unwrap_or_default();
            let column = table
                .columns()
                .iter()
                .copied()
                .find(|c| c.name == name)
                .ok_or_else(|| format!("Could not find a property named '{name}' for $orderby"))?;
            let descending = match words.next() {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(other) => return Err(format!("'{other}' is not asc or desc in $orderby")),
            };
            order.push((column, descending));
        }
    }

    let mut rows: Vec<Row<'_>> = table
        .rows(ledger)
        .filter(|r| filter.as_ref().is_none_or(|f| eval(f, r)))
        .collect();
    if !order.is_empty() {
        rows.sort_by(|a, b| {
            for (c, descending) in &order {
                let (Some(x), Some(y)) = (a.get(c.name), b.get(c.name)) else {
                    continue;
                };
                let ord = match (&x, &y) {
                    (Val::Str(p), Val::Str(q)) => compare_text(p, q),
                    _ => compare(&x, &y).unwrap_or(Ordering::Equal),
                };
                let ord = if *descending { ord.reverse() } else { ord };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            Ordering::Equal
        });
    }
    let total = rows.len();
    let wanted = top.unwrap_or(usize::MAX);
    let available = total.saturating_sub(skip);
    let page_len = available.min(wanted).min(PAGE_CAP);
    let more = available.min(wanted) > page_len;

    let select_suffix = match &select_text {
        Some(s) if s.trim() != "*" => format!(
            "({})",
            columns.iter().map(|c| c.name).collect::<Vec<_>>().join(",")
        ),
        _ => String::new(),
    };
    let mut out = String::with_capacity(256 + page_len * 200);
    let _ = write!(
        out,
        "{{\"@odata.context\":\"{root}/$metadata#{}{}\"",
        table.name(),
        select_suffix
    );
    if count {
        let _ = write!(out, ",\"@odata.count\":{total}");
    }
    out.push_str(",\"value\":[");
    for (n, row) in rows.iter().skip(skip).take(page_len).enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push('{');
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let value = row
                .get(c.name)
                .map_or_else(|| "null".to_owned(), |v| json_value(&v));
            let _ = write!(out, "\"{}\":{value}", c.name);
        }
        out.push('}');
    }
    out.push(']');
    if more {
        let mut link = format!("{root}/{}?", table.name());
        let mut parts = Vec::new();
        let mut push = |k: &str, v: &str| {
            parts.push(format!("{k}={}", utf8_percent_encode(v, QUERY_VALUE)));
        };
        if let Some(f) = &filter_text {
            push("$filter", f);
        }
        if let Some(s) = &select_text {
            push("$select", s);
        }
        if let Some(o) = &orderby_text {
            push("$orderby", o);
        }
        if count {
            push("$count", "true");
        }
        if let Some(t) = top {
            push("$top", &(t - page_len).to_string());
        }
        push("$skip", &(skip + page_len).to_string());
        link.push_str(&parts.join("&"));
        let _ = write!(
            out,
            ",\"@odata.nextLink\":{}",
            serde_json::to_string(&link).unwrap_or_default()
        );
    }
    out.push('}');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexes_literals_with_escaped_quotes_dates_and_numbers() {
        let toks = lex("Name eq 'O''Brien' and InvoiceDate ge 2024-01-05 and OrigInvValue gt -1.5")
            .unwrap();
        assert!(toks.contains(&Tok::Str("O'Brien".to_owned())));
        assert!(toks.contains(&Tok::Date(time::macros::date!(2024 - 01 - 05))));
        assert!(toks.contains(&Tok::Num(Decimal::new(-15, 1))));
    }

    #[test]
    fn rejects_unknown_properties_and_wrong_literal_types() {
        assert!(parse_filter(Table::ArCustomer, "Nope eq 'x'").is_err());
        assert!(parse_filter(Table::ArInvoice, "OrigInvValue eq 'x'").is_err());
        assert!(parse_filter(Table::ArInvoice, "(Customer eq 'A'").is_err());
        assert!(parse_filter(Table::ArInvoice, "Customer eq 'A' or not (TrnYear lt 2020)").is_ok());
    }
}
