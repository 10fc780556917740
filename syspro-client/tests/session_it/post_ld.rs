//! Choosing between `GET Transaction/Post` and `POST Transaction/PostLD`.

use syspro_client::{LargeDocumentTransport, SysproClient};
use wiremock::matchers::{body_string, header, method, path, query_param};
use wiremock::{Mock, MockServer};

use crate::support::*;

const PARAMETERS: &str =
    "<PostArInvoices><Parameters><ValidateOnly>N</ValidateOnly></Parameters></PostArInvoices>";

/// An ARSTIN document with `items` items; 60 items make a URL far beyond 8 KiB.
fn document(items: usize) -> String {
    let mut xml = String::from("<PostArInvoices>");
    for n in 0..items {
        xml.push_str(&format!(
            "<Item><TransactionType>I</TransactionType><Customer>MUL001</Customer>\
             <GenerateInvoiceNumber>N</GenerateInvoiceNumber><Invoice>ML{n:06}</Invoice>\
             <InvoiceDate>2026-11-26</InvoiceDate><Reference>1000{n:05} &amp; co</Reference>\
             <InvoiceValue>119.00</InvoiceValue><TaxValue>19.00</TaxValue>\
             <ProductClass>WEB</ProductClass></Item>"
        ));
    }
    xml.push_str("</PostArInvoices>");
    xml
}

fn expected_post_ld_body(document: &str) -> String {
    format!(
        "<TransactionPostLD xmlns=\"http://SYSPROWcfService\"><UserId>SESSION-A</UserId>\
         <BusinessObject>ARSTIN</BusinessObject><XmlParameters><![CDATA[{PARAMETERS}]]></XmlParameters>\
         <XmlIn><![CDATA[{document}]]></XmlIn></TransactionPostLD>"
    )
}

fn post_ld(document: &str) -> Mock {
    Mock::given(method("POST"))
        .and(path(rest("Transaction/PostLD")))
        .and(header("content-type", "application/xml"))
        .and(body_string(expected_post_ld_body(document)))
        .respond_with(enet_ok(fixture("enet/postarinvoices_out.xml")))
}

fn get_post(document: &str) -> Mock {
    Mock::given(method("GET"))
        .and(path(rest("Transaction/Post")))
        .and(query_param("UserId", "SESSION-A"))
        .and(query_param("BusinessObject", "ARSTIN"))
        .and(query_param("XmlParameters", PARAMETERS))
        .and(query_param("XmlIn", document))
        .respond_with(enet_ok(fixture("enet/postarinvoices_out.xml")))
}

async fn session(server: &MockServer) {
    logon("SESSION-A").expect(1).mount(server).await;
    logoff("SESSION-A").expect(1).mount(server).await;
}

fn client_with(server: &MockServer, transport: LargeDocumentTransport) -> SysproClient {
    SysproClient::new(
        config(server)
            .large_documents(transport)
            .build()
            .expect("config"),
    )
    .expect("client")
}

#[tokio::test]
async fn a_large_document_goes_to_post_ld_by_default() {
    let server = server().await;
    session(&server).await;
    let large = document(60);
    assert!(large.len() > 8 * 1024);
    post_ld(&large).expect(1).mount(&server).await;

    let client = client(&server);
    let out = client
        .transaction_post("ARSTIN", PARAMETERS, &large)
        .await
        .expect("post");
    assert!(out.contains("<Invoice>ML100288</Invoice>"));
    client.close().await.expect("close");
    // The session id travelled in the body, not the URL.
    let posted = &requests_to(&server, "Transaction/PostLD").await[0];
    assert!(posted.url.query().is_none());
}

#[tokio::test]
async fn a_small_document_stays_a_get() {
    let server = server().await;
    session(&server).await;
    let small = document(1);
    get_post(&small).expect(1).mount(&server).await;

    let client = client(&server);
    client
        .transaction_post("ARSTIN", PARAMETERS, &small)
        .await
        .expect("post");
    client.close().await.expect("close");
    // Spaces travel as %20, never as `+`.
    let sent = &requests_to(&server, "Transaction/Post").await[0];
    assert!(
        sent.url
            .query()
            .expect("query")
            .contains("%20%26amp%3B%20co")
    );
}

#[tokio::test]
async fn always_and_never_override_the_threshold() {
    let server = server().await;
    logon("SESSION-A").expect(2).mount(&server).await;
    logoff("SESSION-A").expect(2).mount(&server).await;
    let small = document(1);
    let large = document(60);
    post_ld(&small).expect(1).mount(&server).await;
    get_post(&large).expect(1).mount(&server).await;

    let always = client_with(&server, LargeDocumentTransport::AlwaysPostLd);
    always
        .transaction_post("ARSTIN", PARAMETERS, &small)
        .await
        .expect("post ld");
    always.close().await.expect("close");
    let never = client_with(&server, LargeDocumentTransport::NeverPostLd);
    never
        .transaction_post("ARSTIN", PARAMETERS, &large)
        .await
        .expect("get");
    never.close().await.expect("close");
}

#[tokio::test]
async fn the_threshold_is_configurable() {
    let server = server().await;
    session(&server).await;
    let small = document(1);
    post_ld(&small).expect(1).mount(&server).await;
    let client = client_with(
        &server,
        LargeDocumentTransport::Auto {
            url_length_threshold: 512,
        },
    );
    client
        .transaction_post("ARSTIN", PARAMETERS, &small)
        .await
        .expect("post ld");
    client.close().await.expect("close");
}

#[tokio::test]
async fn a_document_containing_a_cdata_terminator_survives() {
    let server = server().await;
    session(&server).await;
    let tricky = "<PostArInvoices><Item><Reference>a]]>b</Reference></Item></PostArInvoices>";
    Mock::given(method("POST"))
        .and(path(rest("Transaction/PostLD")))
        .and(body_string(format!(
            "<TransactionPostLD xmlns=\"http://SYSPROWcfService\"><UserId>SESSION-A</UserId>\
             <BusinessObject>ARSTIN</BusinessObject><XmlParameters><![CDATA[{PARAMETERS}]]></XmlParameters>\
             <XmlIn><![CDATA[<PostArInvoices><Item><Reference>a]]]]><![CDATA[>b</Reference></Item></PostArInvoices>]]></XmlIn></TransactionPostLD>"
        )))
        .respond_with(enet_ok("<postarinvoices/>"))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_with(&server, LargeDocumentTransport::AlwaysPostLd);
    client
        .transaction_post("ARSTIN", PARAMETERS, tricky)
        .await
        .expect("post ld");
    client.close().await.expect("close");
}
