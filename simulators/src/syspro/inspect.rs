//! `/__sim/`: JSON inspection and control of the fake for tests, demos and benchmarks.
//!
//! | Method and path | What |
//! |---|---|
//! | `GET /__sim/` | this index |
//! | `GET /__sim/invoices` | AR documents, each with the GL postings SYSPRO's AR-to-GL integration makes |
//! | `POST /__sim/invoices` | add an AR document directly (seeding) |
//! | `GET`, `PATCH`, `DELETE /__sim/invoices/{customer}/{invoice}[?document_type=I]` | read, alter (`invoice_value`, `tax_value`, `balance`, `reference`, `invoice_date`) or delete one behind the client's back |
//! | `GET /__sim/journals` | GL journals with lines |
//! | `GET /__sim/customers` | customers |
//! | `GET /__sim/sales-orders` | imported sales orders |
//! | `GET /__sim/reference` | chart of accounts, product classes, branches, terms |
//! | `GET`, `PUT /__sim/faults` | fault settings; `PUT` changes only the fields it names |
//! | `GET /__sim/stats`, `POST /__sim/stats/reset` | call counts and busy time; reset them |
//! | `GET /__sim/sessions`, `POST /__sim/sessions/expire` | open sessions; end them all as if idle |

use std::str::FromStr;

use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::state::{Invoice, Journal, State};
use super::tables::{format_date, money, parse_date};
use super::{OperatorStats, Shared, SysproFaults, SysproStats};

fn reply(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn ok(body: Value) -> Response {
    reply(StatusCode::OK, body)
}

fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    let message: String = message.into();
    reply(status, json!({ "error": message }))
}

pub(crate) fn stats(st: &State) -> SysproStats {
    let operators = st
        .operator_totals
        .iter()
        .map(|(op, t)| {
            (
                op.clone(),
                OperatorStats {
                    logons: t.logons,
                    evictions: t.evictions,
                    calls: t.calls,
                    busy_ms: t.busy.as_millis() as u64,
                    session_busy_ms: t.session_busy.as_millis() as u64,
                    session_open: st.operator_sessions.contains_key(op),
                },
            )
        })
        .collect();
    SysproStats {
        endpoint_calls: st.endpoint_calls.clone(),
        business_object_calls: st.business_object_calls.clone(),
        operators,
    }
}

pub(crate) fn reset_counters(st: &mut State) {
    st.endpoint_calls.clear();
    st.business_object_calls.clear();
    for totals in st.operator_totals.values_mut() {
        totals.logons = 0;
        totals.evictions = 0;
        totals.calls = 0;
        totals.busy = std::time::Duration::ZERO;
        totals.session_busy = std::time::Duration::ZERO;
    }
    for session in st.sessions.values_mut() {
        session.busy = std::time::Duration::ZERO;
        session.calls = 0;
    }
}

fn invoice_json(st: &State, i: &Invoice) -> Value {
    let ar_control = st
        .ledger
        .branches
        .get(&i.branch)
        .map_or("00-1200", |b| b.ar_control_gl_code.as_str());
    let sales = st
        .ledger
        .product_classes
        .get(&i.product_class)
        .map_or("", |p| p.sales_gl_code.as_str());
    json!({
        "customer": i.customer,
        "invoice": i.invoice,
        "document_type": i.document_type.to_string(),
        "invoice_date": format_date(i.invoice_date),
        "due_date": format_date(i.due_date),
        "reference": i.reference,
        "invoice_value": money(i.invoice_value),
        "tax_value": money(i.tax_value),
        "balance": money(i.balance),
        "product_class": i.product_class,
        "branch": i.branch,
        "terms_code": i.terms_code,
        "currency": i.currency,
        "trn_year": i.trn_year,
        "trn_month": i.trn_month,
        "posting_sequence": i.posting_sequence,
        "ar_to_gl": [
            { "gl_code": ar_control, "amount": money(i.invoice_value) },
            { "gl_code": sales, "amount": money(-(i.invoice_value - i.tax_value)) },
            { "gl_code": "00-2200", "amount": money(-i.tax_value) },
        ],
    })
}

fn journal_json(j: &Journal) -> Value {
    json!({
        "gl_year": j.gl_year,
        "gl_period": j.gl_period,
        "gl_journal": j.gl_journal,
        "journal_type": j.journal_type,
        "journal_date": format_date(j.journal_date),
        "journal_reference": j.journal_reference,
        "notation": j.notation,
        "source_code": j.source_code,
        "status": j.status.to_string(),
        "posting_sequence": j.posting_sequence,
        "lines": j.lines.iter().map(|l| json!({
            "entry_number": l.entry_number,
            "ledger_code": l.ledger_code,
            "entry_amount": money(l.entry_amount),
            "reference": l.reference,
            "comment": l.comment,
        })).collect::<Vec<_>>(),
    })
}

fn decimal_of(value: &Value, field: &str) -> Result<Option<Decimal>, String> {
    match value.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Decimal::from_str(s.trim())
            .map(Some)
            .map_err(|_| format!("{field}: expected a decimal string, got '{s}'")),
        Some(Value::Number(n)) => Decimal::from_str(&n.to_string())
            .map(Some)
            .map_err(|_| format!("{field}: expected a decimal, got {n}")),
        Some(other) => Err(format!("{field}: expected a decimal, got {other}")),
    }
}

fn string_of(value: &Value, field: &str) -> Option<String> {
    value.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn segment(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

pub(crate) async fn handle(shared: &Shared, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().trim_end_matches('/').to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let body = match axum::body::to_bytes(request.into_body(), 16 * 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => return problem(StatusCode::BAD_REQUEST, "body could not be read"),
    };
    let body_json = || -> Result<Value, String> {
        serde_json::from_slice::<Value>(&body).map_err(|e| format!("body: expected JSON ({e})"))
    };
    let segments: Vec<String> = path
        .trim_start_matches("/__sim")
        .split('/')
        .filter(|s| !s.is_empty())
        .map(segment)
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let mut st = shared.lock();
    match (&method, segs.as_slice()) {
        (&Method::GET, []) => ok(json!({
            "endpoints": [
                "GET /__sim/invoices", "POST /__sim/invoices",
                "GET|PATCH|DELETE /__sim/invoices/{customer}/{invoice}?document_type=I",
                "GET /__sim/journals", "GET /__sim/customers", "GET /__sim/sales-orders",
                "GET /__sim/reference", "GET|PUT /__sim/faults", "GET /__sim/stats",
                "POST /__sim/stats/reset", "GET /__sim/sessions", "POST /__sim/sessions/expire"
            ]
        })),
        (&Method::GET, ["invoices"]) => {
            let mut all: Vec<&Invoice> = st.ledger.invoices.values().collect();
            all.sort_by_key(|i| i.posting_sequence);
            ok(Value::Array(
                all.into_iter().map(|i| invoice_json(&st, i)).collect(),
            ))
        }
        (&Method::POST, ["invoices"]) => match body_json() {
            Ok(v) => add_invoice(&mut st, &v),
            Err(e) => problem(StatusCode::BAD_REQUEST, e),
        },
        (m, ["invoices", customer, invoice]) => {
            let document_type = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("document_type="))
                .and_then(|t| t.chars().next())
                .unwrap_or('I');
            let key = ((*customer).to_owned(), (*invoice).to_owned(), document_type);
            if !st.ledger.invoices.contains_key(&key) {
                return problem(
                    StatusCode::NOT_FOUND,
                    format!("no invoice {invoice} ({document_type}) for customer {customer}"),
                );
            }
            match *m {
                Method::GET => ok(invoice_json(&st, &st.ledger.invoices[&key])),
                Method::DELETE => {
                    st.ledger.invoices.remove(&key);
                    StatusCode::NO_CONTENT.into_response()
                }
                Method::PATCH => match body_json() {
                    Ok(v) => alter_invoice(&mut st, &key, &v),
                    Err(e) => problem(StatusCode::BAD_REQUEST, e),
                },
                _ => problem(StatusCode::METHOD_NOT_ALLOWED, "use GET, PATCH or DELETE"),
            }
        }
        (&Method::GET, ["journals"]) => {
            let mut all: Vec<&Journal> = st.ledger.journals.values().collect();
            all.sort_by_key(|j| j.posting_sequence);
            ok(Value::Array(all.into_iter().map(journal_json).collect()))
        }
        (&Method::GET, ["customers"]) => ok(Value::Array(
            st.ledger
                .customers
                .values()
                .map(|c| {
                    json!({
                        "customer": c.customer, "name": c.name, "short_name": c.short_name,
                        "email": c.email, "branch": c.branch, "terms_code": c.terms_code,
                        "currency": c.currency, "credit_limit": money(c.credit_limit),
                        "telephone": c.telephone, "contact": c.contact,
                        "salesperson": c.salesperson, "customer_on_hold": c.customer_on_hold,
                        "other_fields": c.other_fields,
                    })
                })
                .collect(),
        )),
        (&Method::GET, ["sales-orders"]) => ok(Value::Array(
            st.ledger
                .sales_orders
                .values()
                .map(|o| {
                    json!({
                        "sales_order": o.sales_order, "customer": o.customer,
                        "customer_name": o.customer_name,
                        "customer_po_number": o.customer_po_number,
                        "order_date": format_date(o.order_date), "order_status": o.order_status,
                        "branch": o.branch, "email": o.email,
                        "freight_value": money(o.freight_value),
                        "ship_address": o.ship_address, "ship_postal_code": o.ship_postal_code,
                        "misc_charges": o.misc_charges.iter().map(|(class, value)| json!({
                            "product_class": class, "value": money(*value),
                        })).collect::<Vec<_>>(),
                        "lines": o.lines.iter().map(|l| json!({
                            "customer_po_line": l.customer_po_line, "stock_code": l.stock_code,
                            "warehouse": l.warehouse, "order_qty": l.order_qty.to_string(),
                            "order_uom": l.order_uom, "price": l.price.to_string(),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect(),
        )),
        (&Method::GET, ["reference"]) => ok(json!({
            "company_date": format_date(st.company_date),
            "gl_accounts": st.ledger.gl_accounts.values().map(|g| json!({
                "gl_code": g.gl_code, "description": g.description,
                "account_type": g.account_type.to_string(), "gl_group": g.gl_group,
            })).collect::<Vec<_>>(),
            "product_classes": st.ledger.product_classes.values().map(|p| json!({
                "product_class": p.product_class, "description": p.description,
                "sales_gl_code": p.sales_gl_code,
            })).collect::<Vec<_>>(),
            "branches": st.ledger.branches.values().map(|b| json!({
                "branch": b.branch, "description": b.description,
                "ar_control_gl_code": b.ar_control_gl_code,
            })).collect::<Vec<_>>(),
            "terms": st.ledger.terms.values().map(|t| json!({
                "terms_code": t.terms_code, "description": t.description, "due_days": t.due_days,
            })).collect::<Vec<_>>(),
        })),
        (&Method::GET, ["faults"]) => ok(serde_json::to_value(&st.faults).unwrap_or_default()),
        (&Method::PUT, ["faults"]) => {
            let changes = match body_json() {
                Ok(Value::Object(map)) => map,
                Ok(_) => return problem(StatusCode::BAD_REQUEST, "body: expected a JSON object"),
                Err(e) => return problem(StatusCode::BAD_REQUEST, e),
            };
            let mut current = serde_json::to_value(&st.faults).unwrap_or_default();
            if let Value::Object(map) = &mut current {
                map.extend(changes);
            }
            match serde_json::from_value::<SysproFaults>(current) {
                Ok(faults) => {
                    st.faults = faults;
                    ok(serde_json::to_value(&st.faults).unwrap_or_default())
                }
                Err(e) => problem(StatusCode::BAD_REQUEST, format!("faults: {e}")),
            }
        }
        (&Method::GET, ["stats"]) => ok(serde_json::to_value(stats(&st)).unwrap_or_default()),
        (&Method::POST, ["stats", "reset"]) => {
            reset_counters(&mut st);
            ok(serde_json::to_value(stats(&st)).unwrap_or_default())
        }
        (&Method::GET, ["sessions"]) => {
            let now = tokio::time::Instant::now();
            ok(Value::Array(
                st.sessions
                    .values()
                    .map(|s| {
                        json!({
                            "operator": s.operator,
                            "idle_ms": now.duration_since(s.last_used).as_millis() as u64,
                            "calls": s.calls,
                            "busy_ms": s.busy.as_millis() as u64,
                        })
                    })
                    .collect(),
            ))
        }
        (&Method::POST, ["sessions", "expire"]) => {
            let ids: Vec<String> = st.sessions.keys().cloned().collect();
            for id in &ids {
                st.end_session(id);
            }
            ok(json!({ "expired": ids.len() }))
        }
        _ => problem(
            StatusCode::NOT_FOUND,
            format!("no inspection endpoint {method} {path}"),
        ),
    }
}

fn add_invoice(st: &mut State, v: &Value) -> Response {
    let Some(customer) = string_of(v, "customer") else {
        return problem(StatusCode::BAD_REQUEST, "customer: required");
    };
    let Some(cust) = st.ledger.customers.get(&customer).cloned() else {
        return problem(
            StatusCode::BAD_REQUEST,
            format!("customer: '{customer}' not found"),
        );
    };
    let Some(invoice) = string_of(v, "invoice") else {
        return problem(StatusCode::BAD_REQUEST, "invoice: required");
    };
    let document_type = string_of(v, "document_type")
        .and_then(|t| t.chars().next())
        .unwrap_or('I');
    let key = (customer.clone(), invoice.clone(), document_type);
    if st.ledger.invoices.contains_key(&key) {
        return problem(StatusCode::CONFLICT, "invoice: already exists");
    }
    let value = match decimal_of(v, "invoice_value") {
        Ok(Some(d)) => d,
        Ok(None) => return problem(StatusCode::BAD_REQUEST, "invoice_value: required"),
        Err(e) => return problem(StatusCode::BAD_REQUEST, e),
    };
    let tax = match decimal_of(v, "tax_value") {
        Ok(d) => d.unwrap_or_default(),
        Err(e) => return problem(StatusCode::BAD_REQUEST, e),
    };
    let date = match string_of(v, "invoice_date") {
        Some(d) => match parse_date(&d) {
            Some(d) => d,
            None => return problem(StatusCode::BAD_REQUEST, "invoice_date: expected YYYY-MM-DD"),
        },
        None => st.company_date,
    };
    let sequence = st.ledger.next_sequence();
    let record = Invoice {
        customer,
        invoice,
        document_type,
        invoice_date: date,
        due_date: date,
        reference: string_of(v, "reference").unwrap_or_default(),
        invoice_value: value,
        tax_value: tax,
        balance: value,
        product_class: string_of(v, "product_class").unwrap_or_else(|| "WEB".to_owned()),
        branch: string_of(v, "branch").unwrap_or(cust.branch),
        terms_code: cust.terms_code,
        currency: cust.currency,
        trn_year: date.year(),
        trn_month: u8::from(date.month()),
        customer_po_number: String::new(),
        sales_order: String::new(),
        posting_sequence: sequence,
    };
    let body = invoice_json(st, &record);
    st.ledger.invoices.insert(key, record);
    reply(StatusCode::CREATED, body)
}

fn alter_invoice(st: &mut State, key: &(String, String, char), v: &Value) -> Response {
    let parsed = (|| -> Result<_, String> {
        Ok((
            decimal_of(v, "invoice_value")?,
            decimal_of(v, "tax_value")?,
            decimal_of(v, "balance")?,
            match string_of(v, "invoice_date") {
                Some(d) => Some(
                    parse_date(&d).ok_or_else(|| "invoice_date: expected YYYY-MM-DD".to_owned())?,
                ),
                None => None,
            },
        ))
    })();
    let (value, tax, balance, date) = match parsed {
        Ok(p) => p,
        Err(e) => return problem(StatusCode::BAD_REQUEST, e),
    };
    let Some(invoice) = st.ledger.invoices.get_mut(key) else {
        return problem(StatusCode::NOT_FOUND, "invoice: not found");
    };
    if let Some(value) = value {
        invoice.invoice_value = value;
    }
    if let Some(tax) = tax {
        invoice.tax_value = tax;
    }
    if let Some(balance) = balance {
        invoice.balance = balance;
    }
    if let Some(date) = date {
        invoice.invoice_date = date;
    }
    if let Some(reference) = string_of(v, "reference") {
        invoice.reference = reference;
    }
    let snapshot = invoice.clone();
    ok(invoice_json(st, &snapshot))
}
