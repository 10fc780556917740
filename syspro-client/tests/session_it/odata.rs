//! OData reads: Basic auth, paging with and without nextLink, the row cap, filter quoting,
//! typed rows and `$metadata`.

use base64::Engine as _;
use futures::StreamExt;
use rust_decimal::Decimal;
use secrecy::SecretString;
use syspro_client::{
    ArCustomer, ArInvoice, Error, Filter, GenMaster, ODataClient, ODataConfig, Order,
};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::server;

const ODATA_PASSWORD: &str = "OData-Pa$$w0rd";
const BASE: &str = "/SYSPRO8Odata/SYSPROOData/EDU1";

fn odata(server: &MockServer, page_size: u32, max_rows: u64) -> ODataClient {
    let config = ODataConfig::builder(
        format!("{}{BASE}", server.uri()),
        "ADMIN",
        SecretString::from(ODATA_PASSWORD.to_owned()),
    )
    .page_size(page_size)
    .max_rows(max_rows)
    .build()
    .expect("config");
    ODataClient::new(config).expect("client")
}

fn basic_auth() -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("ADMIN:{ODATA_PASSWORD}"));
    format!("Basic {token}")
}

fn json_fixture(server: &MockServer, name: &str) -> ResponseTemplate {
    let text =
        crate::support::fixture_text(name).replace("{BASE}", &format!("{}{BASE}", server.uri()));
    ResponseTemplate::new(200).set_body_raw(text, "application/json; odata.metadata=minimal")
}

fn rows(start: usize, count: usize) -> ResponseTemplate {
    let value: Vec<serde_json::Value> = (start..start + count)
        .map(|n| serde_json::json!({ "GlCode": format!("00-{n:04}"), "Description": "x" }))
        .collect();
    ResponseTemplate::new(200).set_body_json(serde_json::json!({ "value": value }))
}

#[tokio::test]
async fn next_links_are_followed_with_basic_auth() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(format!("{BASE}/ArCustomer")))
        .and(query_param_is_missing("$skiptoken"))
        .and(query_param("$top", "1000"))
        .and(query_param("$orderby", "Customer asc"))
        .and(header("authorization", basic_auth().as_str()))
        .respond_with(json_fixture(&server, "odata/arcustomer_page1.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{BASE}/ArCustomer")))
        .and(query_param("$skiptoken", "000011"))
        .and(header("authorization", basic_auth().as_str()))
        .respond_with(json_fixture(&server, "odata/arcustomer_page2.json"))
        .expect(1)
        .mount(&server)
        .await;

    let customers = odata(&server, 1000, 10_000)
        .entity_set::<ArCustomer>()
        .order_by("Customer", Order::Ascending)
        .fetch_all()
        .await
        .expect("customers");
    assert_eq!(customers.len(), 3);
    assert_eq!(customers[0].customer, "000010");
    assert_eq!(customers[0].name.as_deref(), Some("Müller GmbH"));
    assert_eq!(customers[0].credit_limit, Some(Decimal::new(15005, 1)));
    assert_eq!(
        customers[0].extra.get("Balance1"),
        Some(&serde_json::json!("  250.00"))
    );
    assert_eq!(customers[1].credit_limit, Some(Decimal::new(200000, 2)));
    assert_eq!(customers[2].name.as_deref(), Some("Café Noël"));
    assert_eq!(customers[2].email, None);
}

#[tokio::test]
async fn without_next_link_pages_advance_with_skip() {
    let server = server().await;
    let set = format!("{BASE}/GenMaster");
    Mock::given(method("GET"))
        .and(path(set.as_str()))
        .and(query_param("$top", "2"))
        .and(query_param_is_missing("$skip"))
        .respond_with(rows(0, 2))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(set.as_str()))
        .and(query_param("$top", "2"))
        .and(query_param("$skip", "2"))
        .respond_with(rows(2, 2))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(set.as_str()))
        .and(query_param("$top", "2"))
        .and(query_param("$skip", "4"))
        .respond_with(rows(4, 1))
        .expect(1)
        .mount(&server)
        .await;

    let codes: Vec<String> = odata(&server, 2, 100)
        .entity_set::<GenMaster>()
        .select(["GlCode", "Description"])
        .stream()
        .map(|row| row.expect("row").gl_code)
        .collect()
        .await;
    assert_eq!(
        codes,
        ["00-0000", "00-0001", "00-0002", "00-0003", "00-0004"]
    );
}

#[tokio::test]
async fn the_row_cap_stops_with_an_error_instead_of_dropping_rows() {
    let server = server().await;
    let set = format!("{BASE}/GenMaster");
    Mock::given(method("GET"))
        .and(path(set.as_str()))
        .and(query_param_is_missing("$skip"))
        .respond_with(rows(0, 2))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(set.as_str()))
        .and(query_param("$skip", "2"))
        .and(query_param("$top", "2"))
        .respond_with(rows(2, 2))
        .expect(1)
        .mount(&server)
        .await;

    let results: Vec<Result<GenMaster, Error>> = odata(&server, 2, 3)
        .entity_set::<GenMaster>()
        .stream()
        .collect()
        .await;
    assert_eq!(results.len(), 4);
    assert!(results[..3].iter().all(Result::is_ok));
    assert!(
        matches!(&results[3], Err(Error::RowCapReached { cap: 3, entity_set }) if entity_set == "GenMaster"),
        "{:?}",
        results[3]
    );
}

#[tokio::test]
async fn an_explicit_top_within_the_cap_is_honoured_without_error() {
    let server = server().await;
    let set = format!("{BASE}/GenMaster");
    Mock::given(method("GET"))
        .and(path(set.as_str()))
        .and(query_param("$top", "2"))
        .and(query_param("$skip", "5"))
        .respond_with(rows(5, 2))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(set.as_str()))
        .and(query_param("$top", "1"))
        .and(query_param("$skip", "7"))
        .respond_with(rows(7, 1))
        .expect(1)
        .mount(&server)
        .await;
    let rows = odata(&server, 2, 3)
        .entity_set::<GenMaster>()
        .skip(5)
        .top(3)
        .fetch_all()
        .await
        .expect("rows");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2].gl_code, "00-0007");
}

#[tokio::test]
async fn exactly_the_cap_is_not_an_error() {
    let server = server().await;
    let set = format!("{BASE}/GenMaster");
    Mock::given(method("GET"))
        .and(path(set.as_str()))
        .and(query_param_is_missing("$skip"))
        .respond_with(rows(0, 2))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(set.as_str()))
        .and(query_param("$skip", "2"))
        .respond_with(rows(2, 1))
        .expect(1)
        .mount(&server)
        .await;
    let rows = odata(&server, 2, 3)
        .entity_set::<GenMaster>()
        .fetch_all()
        .await
        .expect("rows");
    assert_eq!(rows.len(), 3);
}

#[tokio::test]
async fn filter_literals_are_quoted_and_encoded() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(format!("{BASE}/ArCustomer")))
        .and(query_param(
            "$filter",
            "Email eq 'o''brien@example.com' and (Branch eq '10' or CreditLimit ge 100.50)",
        ))
        .respond_with(json_fixture(&server, "odata/arcustomer_page2.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{BASE}/ArInvoice")))
        .and(query_param(
            "$filter",
            "Customer eq '000010' and InvoiceDate ge 2024-03-01 and LastUpdated lt 2024-03-31T23:00:00+02:00",
        ))
        .respond_with(json_fixture(&server, "odata/arinvoice_page.json"))
        .expect(1)
        .mount(&server)
        .await;

    let client = odata(&server, 1000, 100);
    let filter = Filter::eq("Email", "o'brien@example.com")
        .and(Filter::eq("Branch", "10").or(Filter::ge("CreditLimit", Decimal::new(10050, 2))));
    let customers = client
        .entity_set::<ArCustomer>()
        .filter(filter)
        .fetch_all()
        .await
        .expect("customers");
    assert_eq!(customers.len(), 1);

    let filter = Filter::eq("Customer", "000010")
        .and(Filter::ge(
            "InvoiceDate",
            time::macros::date!(2024 - 03 - 01),
        ))
        .and(Filter::lt(
            "LastUpdated",
            time::macros::datetime!(2024-03-31 23:00:00 +02:00),
        ));
    let invoices = client
        .entity_set::<ArInvoice>()
        .filter(filter)
        .fetch_all()
        .await
        .expect("invoices");
    assert_eq!(invoices[0].invoice, "ML000123");
    assert_eq!(
        invoices[0].invoice_date,
        Some(time::macros::date!(2024 - 03 - 05))
    );
    assert_eq!(invoices[0].currency_value, Some(Decimal::new(19999, 2)));

    // The `+` of the offset travelled percent-encoded, not as a space.
    let received = server.received_requests().await.expect("recording");
    let invoice_query = received
        .iter()
        .find(|r| r.url.path().ends_with("ArInvoice"))
        .and_then(|r| r.url.query().map(str::to_owned))
        .expect("invoice request");
    assert!(invoice_query.contains("%2B02%3A00"), "{invoice_query}");
}

#[tokio::test]
async fn untyped_rows_and_metadata() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(format!("{BASE}/$metadata")))
        .and(header("authorization", basic_auth().as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            crate::support::fixture("odata/metadata.xml"),
            "application/xml",
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{BASE}/GenMaster")))
        .respond_with(json_fixture(&server, "odata/genmaster_page.json"))
        .expect(2)
        .mount(&server)
        .await;

    let client = odata(&server, 1000, 100);
    assert_eq!(
        client.entity_sets().await.expect("metadata"),
        ["ArCustomer", "ArInvoice", "GenMaster"]
    );
    let raw = client.table("GenMaster").fetch_all().await.expect("rows");
    assert_eq!(raw[0]["GlCode"], "00-4010        ");
    let typed = client
        .entity_set::<GenMaster>()
        .fetch_all()
        .await
        .expect("rows");
    assert_eq!(typed[0].gl_code, "00-4010");
    assert_eq!(typed[0].description.as_deref(), Some("Sales - web store"));
    assert_eq!(typed[1].account_type.as_deref(), Some("L"));
}

#[tokio::test]
async fn a_next_link_to_another_server_is_not_followed() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(format!("{BASE}/GenMaster")))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "value": [{ "GlCode": "00-1000" }],
            "@odata.nextLink": "https://elsewhere.example/steal?$skiptoken=1"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let results: Vec<Result<GenMaster, Error>> = odata(&server, 1000, 100)
        .entity_set::<GenMaster>()
        .stream()
        .collect()
        .await;
    assert!(results[0].is_ok());
    let err = results.last().expect("error").as_ref().unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert!(err.to_string().contains("another server"), "{err}");
}

#[tokio::test]
async fn refused_credentials_and_bad_rows_are_typed_errors() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(format!("{BASE}/ArCustomer")))
        .respond_with(ResponseTemplate::new(401).set_body_string(format!(
            "{{\"error\":{{\"code\":\"401\",\"message\":\"bad password {ODATA_PASSWORD}\"}}}}"
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{BASE}/GenMaster")))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "value": [{ "GlCode": "00-1000" }, { "Description": "no code" }]
        })))
        .expect(1)
        .mount(&server)
        .await;

    let client = odata(&server, 1000, 100);
    let err = client
        .entity_set::<ArCustomer>()
        .fetch_all()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Status { status: 401, .. }), "{err:?}");
    assert!(!err.is_retryable());
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(ODATA_PASSWORD), "{shown}");

    let err = client
        .entity_set::<GenMaster>()
        .fetch_all()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("row 2"), "{err}");
    assert!(err.to_string().contains("GlCode"), "{err}");

    let err = client
        .entity_set::<GenMaster>()
        .filter(Filter::eq("GlCode) or (1", 1))
        .fetch_all()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "filter"),
        "{err:?}"
    );
}
