//! Query business objects: GENQGL, COMFND, ARSQRY.

use syspro_client::bo::CustomerQuery;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

use crate::support::{
    SESSION_TRIMMED, client, enet_ok, fixture, fixture_cp1252, mount_call, mount_logon, param,
    received, rest, server,
};

/// Answers GENQGL by the ledger code in the request: one known code, anything else refused
/// with `ERROR:` text the way query objects answer an unknown key.
struct LedgerCodes;

impl Respond for LedgerCodes {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let xml_in = param(request, "XmlIn").unwrap_or_default();
        if xml_in.contains("<LedgerCode>00-4010</LedgerCode>") {
            enet_ok(fixture_cp1252("genqgl_valid.xml"))
        } else {
            enet_ok("ERROR: Ledger code '00-9999' not on file")
        }
    }
}

#[tokio::test]
async fn gl_codes_are_validated_one_by_one_with_syspros_message() {
    let server = server().await;
    mount_logon(&server).await;
    Mock::given(method("GET"))
        .and(path(rest("Query/Query")))
        .and(query_param("UserId", SESSION_TRIMMED))
        .and(query_param("BusinessObject", "GENQGL"))
        .respond_with(LedgerCodes)
        .expect(2)
        .mount(&server)
        .await;
    let client = client(&server);

    let verdicts = client
        .validate_gl_codes(&["00-4010", "00-9999"])
        .await
        .expect("validated");

    assert_eq!(verdicts.len(), 2);
    assert!(verdicts[0].is_valid());
    assert_eq!(verdicts[0].to_string(), "00-4010\tvalid\tSales - web store");
    assert!(!verdicts[1].is_valid());
    assert_eq!(verdicts[1].ledger_code(), "00-9999");
    assert!(
        verdicts[1]
            .to_string()
            .contains("Ledger code '00-9999' not on file"),
        "{}",
        verdicts[1]
    );
}

#[tokio::test]
async fn ar_invoice_lookup_sends_a_comfnd_where_clause() {
    let server = server().await;
    mount_logon(&server).await;
    mount_call(
        &server,
        "Query/Query",
        "COMFND",
        fixture_cp1252("comfnd_arinvoice.xml"),
    )
    .await;
    let client = client(&server);

    let found = client
        .find_ar_invoice("WEB000042", "MG100000123")
        .await
        .expect("answered")
        .expect("found");

    assert_eq!(found.invoice, "MG100000123");
    assert_eq!(found.customer, "WEB000042");
    let xml_in = param(&received(&server, "Query/Query").await, "XmlIn").unwrap();
    assert!(
        xml_in.contains("<TableName>ArInvoice</TableName>"),
        "{xml_in}"
    );
    assert!(
        xml_in
            .contains("<Column>Customer</Column><Condition>EQ</Condition><Value>WEB000042</Value>"),
        "{xml_in}"
    );
    assert!(
        xml_in.contains("<AndOr>And</AndOr><OpenBracket>(</OpenBracket><Column>Invoice</Column>"),
        "{xml_in}"
    );
}

#[tokio::test]
async fn customers_are_found_by_email_with_non_ascii_names() {
    let server = server().await;
    mount_logon(&server).await;
    mount_call(
        &server,
        "Query/Query",
        "COMFND",
        fixture_cp1252("comfnd_arcustomer.xml"),
    )
    .await;
    let client = client(&server);

    let customers = client
        .find_customers_by_email("anna@example.com")
        .await
        .expect("answered");

    assert_eq!(customers.len(), 1);
    assert_eq!(customers[0].customer, "WEB000042");
    assert_eq!(customers[0].name.as_deref(), Some("Müller & Söhne"));
    let xml_in = param(&received(&server, "Query/Query").await, "XmlIn").unwrap();
    assert!(
        xml_in.contains(
            "<Column>Email</Column><Condition>EQ</Condition><Value>anna@example.com</Value>"
        ),
        "{xml_in}"
    );
}

#[tokio::test]
async fn customer_query_reads_header_and_invoices() {
    let server = server().await;
    mount_logon(&server).await;
    mount_call(&server, "Query/Query", "ARSQRY", fixture("arsqry_ok.xml")).await;
    let client = client(&server);

    let statement = client
        .query_customer(&CustomerQuery::new("WEB000042"))
        .await
        .expect("answered")
        .expect("known customer");

    assert_eq!(statement.header.customer, "WEB000042");
    assert!(statement.invoice("MG100000123").is_some());
    let xml_in = param(&received(&server, "Query/Query").await, "XmlIn").unwrap();
    assert!(
        xml_in.contains("<Key><Customer>WEB000042</Customer></Key>"),
        "{xml_in}"
    );
}

#[tokio::test]
async fn unknown_customer_is_none() {
    let server = server().await;
    mount_logon(&server).await;
    mount_call(
        &server,
        "Query/Query",
        "ARSQRY",
        "ERROR: Customer 'NOPE' not found",
    )
    .await;
    let client = client(&server);

    let statement = client
        .query_customer(&CustomerQuery::new("NOPE"))
        .await
        .expect("answered");
    assert!(statement.is_none());
}

#[tokio::test]
async fn other_customer_query_refusals_stay_errors() {
    let server = server().await;
    mount_logon(&server).await;
    mount_call(
        &server,
        "Query/Query",
        "ARSQRY",
        "ERROR: Operator not allowed to access this program",
    )
    .await;
    let client = client(&server);

    let result = client.query_customer(&CustomerQuery::new("WEB1")).await;
    assert!(
        matches!(&result, Err(syspro_client::Error::Rejected { message, .. }) if message.contains("not allowed")),
        "{result:?}"
    );
}
