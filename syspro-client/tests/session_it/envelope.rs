//! Response shapes: Windows-1252 XML, JSON-quoted and `<string>`-wrapped bodies, `ERROR:` texts
//! with HTTP 200, HTTP failures and timeouts.

use std::time::Duration;

use syspro_client::{Error, SysproClient};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

const FIND: &str = "<Query><TableName>ArCustomer</TableName></Query>";

async fn logged_on(server: &MockServer) -> SysproClient {
    logon("SESSION-A").mount(server).await;
    logoff("SESSION-A").mount(server).await;
    client(server)
}

fn answer(endpoint: &str, body: ResponseTemplate) -> Mock {
    Mock::given(method("GET"))
        .and(path(rest(endpoint)))
        .and(query_param("UserId", "SESSION-A"))
        .respond_with(body)
}

#[tokio::test]
async fn windows_1252_output_with_non_ascii_names_is_decoded() {
    let server = server().await;
    let client = logged_on(&server).await;
    let raw = fixture("enet/comfnd_arcustomer_1252.xml");
    assert!(
        std::str::from_utf8(&raw).is_err(),
        "fixture must really be Windows-1252"
    );
    answer("Query/Query", enet_ok(raw))
        .expect(1)
        .mount(&server)
        .await;

    let xml = client.query("COMFND", FIND).await.expect("query");
    assert!(
        xml.starts_with("<ArCustomer Language='05'"),
        "declaration removed: {xml}"
    );
    assert!(xml.contains("<Name>Müller Großhandel GmbH</Name>"), "{xml}");
    assert!(xml.contains("<Name>Café Noël – £/€</Name>"), "{xml}");
    assert!(xml.contains("<RowsReturned>       2</RowsReturned>"));
    client.close().await.expect("close");
}

#[tokio::test]
async fn json_quoted_bodies_are_unwrapped_for_logon_and_output() {
    let server = server().await;
    logon("\"SESSION-A  \"").expect(1).mount(&server).await;
    logoff("SESSION-A").expect(1).mount(&server).await;
    answer(
        "Query/Query",
        ResponseTemplate::new(200).set_body_raw(
            fixture("enet/comfnd_arcustomer_json_quoted.txt"),
            "application/json",
        ),
    )
    .expect(1)
    .mount(&server)
    .await;

    let client = client(&server);
    let xml = client.query("COMFND", FIND).await.expect("query");
    assert_eq!(
        xml,
        "<ArCustomer><Row><Customer>CAF002</Customer><Name>Café \"Le Coin\"</Name></Row>\
         <RowsReturned>       1</RowsReturned></ArCustomer>"
    );
    client.close().await.expect("close");
}

#[tokio::test]
async fn string_wrapped_bodies_are_unwrapped() {
    let server = server().await;
    let client = logged_on(&server).await;
    answer(
        "Transaction/Post",
        ResponseTemplate::new(200).set_body_raw(
            fixture("enet/postarinvoices_string_wrapped.xml"),
            "application/xml",
        ),
    )
    .expect(1)
    .mount(&server)
    .await;

    let xml = client
        .transaction_post("ARSTIN", "<PostArInvoices/>", "<PostArInvoices/>")
        .await
        .expect("post");
    assert_eq!(
        xml,
        "<postarinvoices><Item><Invoice>ML&100288</Invoice></Item></postarinvoices>"
    );
    client.close().await.expect("close");
}

#[tokio::test]
async fn lower_case_transaction_output_is_returned_decoded() {
    let server = server().await;
    let client = logged_on(&server).await;
    answer(
        "Transaction/Post",
        enet_ok(fixture("enet/postarinvoices_out.xml")),
    )
    .expect(1)
    .mount(&server)
    .await;
    let xml = client
        .transaction_post("ARSTIN", "<PostArInvoices/>", "<PostArInvoices/>")
        .await
        .expect("post");
    assert!(xml.starts_with("<postarinvoices "), "{xml}");
    assert!(xml.contains("<Invoice>ML100288</Invoice>"));
    client.close().await.expect("close");
}

#[tokio::test]
async fn not_licensed_names_the_business_object() {
    let server = server().await;
    let client = logged_on(&server).await;
    answer(
        "Transaction/Post",
        enet_ok(fixture("enet/not_licensed.txt")),
    )
    .expect(1)
    .mount(&server)
    .await;
    let err = client
        .transaction_post("ARSTPY", "<PostArPayment/>", "<PostArPayment/>")
        .await
        .unwrap_err();
    match &err {
        Error::NotLicensed {
            business_object,
            message,
        } => {
            assert_eq!(business_object.as_deref(), Some("ARSTPY"));
            assert_eq!(message, "e.net exception raised: 100000");
        }
        other => panic!("expected NotLicensed, got {other:?}"),
    }
    assert!(err.to_string().contains("ARSTPY"));
    assert!(!err.is_retryable());
    client.close().await.expect("close");
}

#[tokio::test]
async fn other_error_text_is_a_rejection_and_is_not_retried() {
    let server = server().await;
    let client = logged_on(&server).await;
    Mock::given(method("GET"))
        .and(path(rest("Setup/Add")))
        .and(query_param("BusinessObject", "ARSSCS"))
        .and(query_param("XmlParameters", "<SetupArCustomer/>"))
        .respond_with(enet_ok(fixture("enet/rejected.txt")))
        .expect(1)
        .mount(&server)
        .await;
    let err = client
        .setup_add(
            "ARSSCS",
            "<SetupArCustomer/>",
            "<SetupArCustomer><Item/></SetupArCustomer>",
        )
        .await
        .unwrap_err();
    match &err {
        Error::Rejected {
            business_object,
            message,
        } => {
            assert_eq!(business_object.as_deref(), Some("ARSSCS"));
            assert_eq!(message, "Invalid business object 'ARSXXX'");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(!err.is_retryable());
    client.close().await.expect("close");
}

#[tokio::test]
async fn every_method_uses_its_path_and_parameters() {
    let server = server().await;
    let client = logged_on(&server).await;
    for (endpoint, body) in [
        ("Query/Browse", "<browse/>"),
        ("Query/Fetch", "<fetch/>"),
        ("Transaction/Build", "<build/>"),
        ("Setup/Update", "<update/>"),
        ("Setup/Delete", "<delete/>"),
    ] {
        answer(endpoint, enet_ok(body))
            .expect(1)
            .mount(&server)
            .await;
    }
    assert_eq!(
        client.browse("<Browse/>").await.expect("browse"),
        "<browse/>"
    );
    assert_eq!(client.fetch("<Fetch/>").await.expect("fetch"), "<fetch/>");
    assert_eq!(
        client
            .transaction_build("SORRSL", "<Build/>")
            .await
            .expect("build"),
        "<build/>"
    );
    assert_eq!(
        client
            .setup_update("ARSSCS", "<P/>", "<D/>")
            .await
            .expect("update"),
        "<update/>"
    );
    assert_eq!(
        client
            .setup_delete("ARSSCS", "<P/>", "<D/>")
            .await
            .expect("delete"),
        "<delete/>"
    );
    client.close().await.expect("close");

    let browse = &requests_to(&server, "Query/Browse").await[0];
    assert_eq!(param(browse, "XmlIn").as_deref(), Some("<Browse/>"));
    assert!(param(browse, "BusinessObject").is_none());
    let build = &requests_to(&server, "Transaction/Build").await[0];
    assert_eq!(param(build, "BusinessObject").as_deref(), Some("SORRSL"));
    assert_eq!(param(build, "XmlIn").as_deref(), Some("<Build/>"));
    assert!(param(build, "XmlParameters").is_none());
    let delete = &requests_to(&server, "Setup/Delete").await[0];
    assert_eq!(param(delete, "XmlParameters").as_deref(), Some("<P/>"));
    assert_eq!(param(delete, "XmlIn").as_deref(), Some("<D/>"));
}

#[tokio::test]
async fn http_failures_keep_status_and_a_truncated_body_without_the_session_id() {
    let server = server().await;
    let client = logged_on(&server).await;
    let long_fault = format!("<Fault>SESSION-A {}</Fault>", "x".repeat(5000));
    answer(
        "Query/Query",
        ResponseTemplate::new(500).set_body_string(long_fault),
    )
    .expect(1)
    .mount(&server)
    .await;
    let err = client.query("COMFND", FIND).await.unwrap_err();
    match &err {
        Error::Status {
            status, body, url, ..
        } => {
            assert_eq!(*status, 500);
            assert!(body.len() < 700 && body.ends_with("(truncated)"), "{body}");
            assert!(!body.contains("SESSION-A"), "{body}");
            assert!(url.contains("UserId=***"), "{url}");
            assert!(url.contains("BusinessObject=COMFND"), "{url}");
        }
        other => panic!("expected Status, got {other:?}"),
    }
    assert!(err.is_retryable() && err.is_outcome_unknown());
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("SESSION-A"), "{shown}");
    client.close().await.expect("close");
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout_with_unknown_outcome() {
    let server = server().await;
    logon("SESSION-A").mount(&server).await;
    logoff("SESSION-A").mount(&server).await;
    answer(
        "Transaction/Post",
        enet_ok("<late/>").set_delay(Duration::from_secs(3)),
    )
    .mount(&server)
    .await;
    let config = config(&server)
        .call_timeout(Duration::from_millis(300))
        .build()
        .expect("config");
    let client = SysproClient::new(config).expect("client");
    let err = client
        .transaction_post("ARSTIN", "<PostArInvoices/>", "<PostArInvoices/>")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.is_retryable() && err.is_outcome_unknown());
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains("SESSION-A") && !shown.contains("PostArInvoices"),
        "{shown}"
    );
    client.close().await.expect("close");
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    // Bind and release a port so nothing listens on it.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let config = syspro_client::EnetConfig::builder(
        format!("http://127.0.0.1:{port}{REST}"),
        "EDU1",
        "ADMIN",
        secrecy::SecretString::from(OPERATOR_PASSWORD.to_owned()),
    )
    .build()
    .expect("config");
    let err = SysproClient::new(config)
        .expect("client")
        .get_logon_profile()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(err.is_retryable() && !err.is_outcome_unknown());
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains(OPERATOR_PASSWORD) && !shown.contains("Op3r%40tor"),
        "{shown}"
    );
}
