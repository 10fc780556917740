//! Helpers shared by the business-object tests.

use secrecy::SecretString;
use syspro_client::{EnetConfig, SysproClient};
use wiremock::matchers::{any, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub const REST: &str = "/SYSPROWCFService/Rest";
pub const SESSION: &str = "3EA613166FE4BF47925DF1CEA14E910100  ";
pub const SESSION_TRIMMED: &str = "3EA613166FE4BF47925DF1CEA14E910100";

pub fn rest(method: &str) -> String {
    format!("{REST}/{method}")
}

/// A recorded output under `tests/fixtures/bo/`, as text.
pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/bo/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// The fixture encoded as Windows-1252 bytes, the way SYSPRO sends it.
pub fn fixture_cp1252(name: &str) -> Vec<u8> {
    let text = fixture(name);
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&text);
    assert!(
        !unmappable,
        "fixture {name} must be representable in Windows-1252"
    );
    bytes.into_owned()
}

pub fn enet_ok(body: impl Into<Vec<u8>>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.into(), "application/octet-stream")
}

/// A server whose unexpected requests fail the test when it is dropped.
pub async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(418).set_body_string("unexpected request"))
        .with_priority(u8::MAX)
        .named("catch-all: no test expects this request")
        .expect(0)
        .mount(&server)
        .await;
    server
}

pub fn client(server: &MockServer) -> SysproClient {
    let config = EnetConfig::builder(
        format!("{}{REST}", server.uri()),
        "EDU1",
        "ADMIN",
        SecretString::from("secret".to_owned()),
    )
    .build()
    .expect("config");
    SysproClient::new(config).expect("client")
}

/// Logon answering the usual session id (with SYSPRO's two trailing spaces), once.
pub async fn mount_logon(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path(rest("Logon")))
        .and(query_param("Operator", "ADMIN"))
        .and(query_param("CompanyId", "EDU1"))
        .respond_with(enet_ok(SESSION))
        .expect(1)
        .named("logon")
        .mount(server)
        .await;
}

/// A business-object call on `endpoint` (e.g. `Transaction/Post`) answering `body`, once.
pub async fn mount_call(
    server: &MockServer,
    endpoint: &str,
    business_object: &str,
    body: impl Into<Vec<u8>>,
) {
    Mock::given(method("GET"))
        .and(path(rest(endpoint)))
        .and(query_param("UserId", SESSION_TRIMMED))
        .and(query_param("BusinessObject", business_object))
        .respond_with(enet_ok(body))
        .expect(1)
        .named(format!("{endpoint} {business_object}"))
        .mount(server)
        .await;
}

/// The decoded value of query parameter `name` in `request`.
pub fn param(request: &Request, name: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The one received request whose path ends with `endpoint`.
pub async fn received(server: &MockServer, endpoint: &str) -> Request {
    let requests = server.received_requests().await.expect("recording on");
    let mut matching: Vec<Request> = requests
        .into_iter()
        .filter(|r| r.url.path() == rest(endpoint))
        .collect();
    assert_eq!(matching.len(), 1, "exactly one {endpoint} request");
    matching.remove(0)
}
