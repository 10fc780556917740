//! Posted GL journal entries (`GenTransaction`) and AR documents by date: COMFND look-ups by
//! reference, key-paged range reads, and the OData queries.

use std::sync::Mutex;

use futures::StreamExt;
use rust_decimal::Decimal;
use secrecy::SecretString;
use syspro_client::bo::{Condition, Where};
use syspro_client::{Error, ODataClient, ODataConfig};
use time::macros::date;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

use crate::support::{
    SESSION_TRIMMED, client, enet_ok, mount_call, mount_logon, param, received, rest, server,
};

fn gen_transaction_rows(rows: &[(&str, &str, &str)]) -> String {
    let body: String = rows
        .iter()
        .enumerate()
        .map(|(n, (reference, code, value))| {
            format!(
                "<Row><GlCode>{code}</GlCode><GlYear>2026</GlYear><GlPeriod>3</GlPeriod>\
                 <Journal>{}</Journal><EntryNumber>{}</EntryNumber>\
                 <TransactionDate>2026-03-14</TransactionDate><Reference>{reference}</Reference>\
                 <Comment>Commerce invoice</Comment><EntryValue>{value:>14}</EntryValue></Row>",
                n / 3 + 1,
                n % 3 + 1
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"Windows-1252\"?><GenTransaction Language='05' \
         Language2='EN' CssStyle='' DecFormat='1' DateFormat='01' Role='01' Version='8.0.161' \
         OperatorPrimaryRole='   '><HeaderDetails><TableName>GenTransaction</TableName>\
         </HeaderDetails>{body}<RowsReturned>{:>8}</RowsReturned></GenTransaction>",
        rows.len()
    )
}

#[tokio::test]
async fn journal_entries_are_found_by_reference() {
    let server = server().await;
    mount_logon(&server).await;
    mount_call(
        &server,
        "Query/Query",
        "COMFND",
        gen_transaction_rows(&[
            ("WB100001", "00-4999", "115.00"),
            ("WB100001", "00-4010", "-100.00"),
            ("WB100001", "00-4100", "-15.00"),
        ]),
    )
    .await;
    let client = client(&server);

    let entries = client
        .find_gl_journal_entries("WB100001")
        .await
        .expect("answered");

    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0].gl_code, "00-4999");
    assert!(entries[0].is_debit());
    assert_eq!(entries[1].entry_value, Decimal::new(-10000, 2));
    assert_eq!(entries[2].entry_number, Some(3));
    assert_eq!(entries[2].reference.as_deref(), Some("WB100001"));
    let total: Decimal = entries.iter().map(|e| e.entry_value).sum();
    assert_eq!(total, Decimal::ZERO);
    let xml_in = param(&received(&server, "Query/Query").await, "XmlIn").unwrap();
    assert!(
        xml_in.contains("<TableName>GenTransaction</TableName>"),
        "{xml_in}"
    );
    assert!(
        xml_in
            .contains("<Column>Reference</Column><Condition>EQ</Condition><Value>WB100001</Value>"),
        "{xml_in}"
    );
}

#[tokio::test]
async fn a_blank_reference_is_refused_before_sending() {
    let server = server().await;
    let client = client(&server);
    let err = client.find_gl_journal_entries("  ").await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "reference"));
}

/// Answers key-paged COMFND reads from a fixed, sorted table of `(reference, code, value)`,
/// honouring `Reference GE x` and `ReturnRows`, and records the start key of each page.
struct PagedLedger {
    rows: Vec<(&'static str, &'static str, &'static str)>,
    starts: Mutex<Vec<Option<String>>>,
}

impl Respond for PagedLedger {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let xml_in = param(request, "XmlIn").unwrap_or_default();
        let limit: usize = between(&xml_in, "<ReturnRows>", "</ReturnRows>")
            .and_then(|n| n.parse().ok())
            .unwrap_or(usize::MAX);
        let start = xml_in
            .find("<Column>Reference</Column><Condition>GE</Condition><Value>")
            .and_then(|at| between(&xml_in[at..], "<Value>", "</Value>"))
            .map(str::to_owned);
        self.starts.lock().unwrap().push(start.clone());
        let page: Vec<_> = self
            .rows
            .iter()
            .filter(|(reference, _, _)| start.as_deref().is_none_or(|s| *reference >= s))
            .take(limit)
            .copied()
            .collect();
        enet_ok(gen_transaction_rows(&page))
    }
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

async fn mount_paged(server: &wiremock::MockServer, ledger: PagedLedger) {
    Mock::given(method("GET"))
        .and(path(rest("Query/Query")))
        .and(query_param("UserId", SESSION_TRIMMED))
        .and(query_param("BusinessObject", "COMFND"))
        .respond_with(ledger)
        .mount(server)
        .await;
}

#[tokio::test]
async fn range_reads_page_by_key_without_splitting_a_reference() {
    let server = server().await;
    mount_logon(&server).await;
    mount_paged(
        &server,
        PagedLedger {
            rows: vec![
                ("A1", "00-4999", "10.00"),
                ("B2", "00-4999", "5.00"),
                ("B2", "00-4010", "-5.00"),
                ("B2", "00-4100", "0.00"),
                ("C3", "00-4999", "1.00"),
                ("C3", "00-4010", "-1.00"),
            ],
            starts: Mutex::new(Vec::new()),
        },
    )
    .await;
    let client = client(&server);

    let rows: Vec<_> = client
        .find_paged(
            "GenTransaction",
            &["Reference", "GlCode", "EntryValue"],
            Where::new("TransactionDate", Condition::Ge, "2026-03-01"),
            "Reference",
            4,
        )
        .collect()
        .await;
    let references: Vec<String> = rows
        .into_iter()
        .map(|row| row.expect("row").get("Reference").unwrap().to_owned())
        .collect();
    assert_eq!(references, ["A1", "B2", "B2", "B2", "C3", "C3"]);

    let requests = server.received_requests().await.unwrap();
    let xml_ins: Vec<String> = requests
        .iter()
        .filter(|r| r.url.path() == rest("Query/Query"))
        .map(|r| param(r, "XmlIn").unwrap())
        .collect();
    // Page 1 reads A1, B2, B2, B2 (full: B2 may continue, so it is read again); page 2 starts
    // at B2 and reads B2 x3, C3 (full again); page 3 starts at C3 and is short.
    assert_eq!(xml_ins.len(), 3, "{xml_ins:#?}");
    assert!(xml_ins[1].contains("<Value>B2</Value>"), "{}", xml_ins[1]);
    assert!(xml_ins[2].contains("<Value>C3</Value>"), "{}", xml_ins[2]);
    assert!(
        xml_ins[0].contains("<OrderBy><Column>Reference</Column></OrderBy>"),
        "{}",
        xml_ins[0]
    );
}

#[tokio::test]
async fn a_reference_larger_than_a_page_is_an_error_not_a_gap() {
    let server = server().await;
    mount_logon(&server).await;
    mount_paged(
        &server,
        PagedLedger {
            rows: vec![
                ("A1", "00-4999", "1.00"),
                ("A1", "00-4010", "-1.00"),
                ("A1", "00-4999", "1.00"),
            ],
            starts: Mutex::new(Vec::new()),
        },
    )
    .await;
    let client = client(&server);
    let rows: Vec<_> = client
        .find_paged(
            "GenTransaction",
            &["Reference"],
            Where::new("GlYear", Condition::Eq, "2026"),
            "Reference",
            2,
        )
        .collect()
        .await;
    assert_eq!(rows.len(), 1);
    match &rows[0] {
        Err(Error::Output { message, .. }) => assert!(message.contains("A1"), "{message}"),
        other => panic!("expected an output error, got {other:?}"),
    }
}

#[tokio::test]
async fn gl_range_reads_filter_on_the_transaction_date() {
    let server = server().await;
    mount_logon(&server).await;
    mount_call(
        &server,
        "Query/Query",
        "COMFND",
        gen_transaction_rows(&[("WB1", "00-4999", "2.00"), ("WB1", "00-4010", "-2.00")]),
    )
    .await;
    let client = client(&server);
    let rows: Vec<_> = client
        .gl_journal_entries_between(date!(2026 - 03 - 01), date!(2026 - 03 - 31))
        .collect()
        .await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].as_ref().expect("row").gl_code, "00-4010");
    let xml_in = param(&received(&server, "Query/Query").await, "XmlIn").unwrap();
    assert!(
        xml_in.contains(
            "<Column>TransactionDate</Column><Condition>GE</Condition><Value>2026-03-01</Value>"
        ),
        "{xml_in}"
    );
    assert!(
        xml_in.contains(
            "<Column>TransactionDate</Column><Condition>LE</Condition><Value>2026-03-31</Value>"
        ),
        "{xml_in}"
    );

    let reversed: Vec<_> = client
        .ar_invoices_between(date!(2026 - 03 - 31), date!(2026 - 03 - 01))
        .collect()
        .await;
    assert!(matches!(
        reversed.as_slice(),
        [Err(Error::InvalidInput { field, .. })] if field == "to"
    ));
}

const ODATA_BASE: &str = "/SYSPRO8Odata/SYSPROOData/EDU1";

fn odata(server: &wiremock::MockServer) -> ODataClient {
    let config = ODataConfig::builder(
        format!("{}{ODATA_BASE}", server.uri()),
        "ADMIN",
        SecretString::from("odata-secret".to_owned()),
    )
    .build()
    .expect("config");
    ODataClient::new(config).expect("client")
}

#[tokio::test]
async fn odata_reads_gen_transaction_by_date_range_and_by_reference() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(format!("{ODATA_BASE}/GenTransaction")))
        .and(query_param(
            "$filter",
            "TransactionDate ge 2026-03-01 and TransactionDate lt 2026-04-01",
        ))
        .and(query_param(
            "$orderby",
            "Reference asc,GlYear asc,GlPeriod asc,Journal asc,EntryNumber asc",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "value": [
                {"GlCode": "00-4999", "GlYear": 2026, "GlPeriod": 3, "Journal": 1,
                 "EntryNumber": 1, "TransactionDate": "2026-03-14T00:00:00Z",
                 "Reference": "WB100001", "Comment": "", "EntryValue": 115.00},
                {"GlCode": "00-4010", "GlYear": 2026, "GlPeriod": 3, "Journal": 1,
                 "EntryNumber": 2, "TransactionDate": "2026-03-14T00:00:00Z",
                 "Reference": "WB100001", "Comment": "", "EntryValue": -115.00}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{ODATA_BASE}/GenTransaction")))
        .and(query_param("$filter", "Reference eq 'O''B-1'"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"value": []})))
        .expect(1)
        .mount(&server)
        .await;
    let client = odata(&server);

    let rows = client
        .gl_journal_entries_between(date!(2026 - 03 - 01), date!(2026 - 03 - 31))
        .fetch_all()
        .await
        .expect("rows");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].entry_value, Decimal::new(115, 0));
    assert_eq!(rows[1].entry_value, Decimal::new(-115, 0));
    assert_eq!(rows[1].transaction_date, Some(date!(2026 - 03 - 14)));
    assert_eq!(rows[0].comment, None);

    let none = client
        .gl_journal_entries("O'B-1")
        .fetch_all()
        .await
        .expect("rows");
    assert!(none.is_empty());
}
