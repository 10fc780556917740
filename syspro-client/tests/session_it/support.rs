//! Shared test helpers: credentials, fixtures, a catch-all mock and a small stateful e.net double.

use std::sync::{Arc, Mutex, PoisonError};

use secrecy::SecretString;
use syspro_client::{EnetConfig, SysproClient};
use wiremock::matchers::{any, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Operator password with characters that need percent-encoding.
pub const OPERATOR_PASSWORD: &str = "Op3r@tor Pa$$&word";
/// Company password with characters that need percent-encoding.
pub const COMPANY_PASSWORD: &str = "C0mpany+S3cret/=";
/// REST base path used by every e.net test.
pub const REST: &str = "/SYSPROWCFService/Rest";

/// The path of an e.net method under the test base.
pub fn rest(method: &str) -> String {
    format!("{REST}/{method}")
}

/// Reads a fixture file as bytes.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// Reads a UTF-8 fixture file as text.
pub fn fixture_text(name: &str) -> String {
    String::from_utf8(fixture(name)).expect("UTF-8 fixture")
}

/// A 200 answer with an octet-stream body, the way SYSPRO 7 REST answers.
pub fn enet_ok(body: impl Into<Vec<u8>>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.into(), "application/octet-stream")
}

/// Starts a server whose unmatched requests fail the test loudly (at the latest when the server
/// is dropped).
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

/// The usual configuration against `server`.
pub fn config(server: &MockServer) -> syspro_client::EnetConfigBuilder {
    EnetConfig::builder(
        format!("{}{REST}", server.uri()),
        "EDU1",
        "ADMIN",
        SecretString::from(OPERATOR_PASSWORD.to_owned()),
    )
    .company_password(SecretString::from(COMPANY_PASSWORD.to_owned()))
}

/// A client with the usual configuration.
pub fn client(server: &MockServer) -> SysproClient {
    SysproClient::new(config(server).build().expect("config")).expect("client")
}

/// A `/Logon` mock that checks every credential and answers `body`.
pub fn logon(body: impl Into<Vec<u8>>) -> Mock {
    Mock::given(method("GET"))
        .and(path(rest("Logon")))
        .and(query_param("Operator", "ADMIN"))
        .and(query_param("OperatorPassword", OPERATOR_PASSWORD))
        .and(query_param("CompanyId", "EDU1"))
        .and(query_param("CompanyPassword", COMPANY_PASSWORD))
        .respond_with(enet_ok(body))
}

/// A `/Logoff` mock for `session`.
pub fn logoff(session: &str) -> Mock {
    Mock::given(method("GET"))
        .and(path(rest("Logoff")))
        .and(query_param("UserId", session))
        .respond_with(enet_ok("0"))
}

/// The requests the server received for one e.net method.
pub async fn requests_to(server: &MockServer, method: &str) -> Vec<Request> {
    let wanted = rest(method);
    server
        .received_requests()
        .await
        .expect("request recording is on")
        .into_iter()
        .filter(|r| r.url.path() == wanted)
        .collect()
}

/// A query parameter of a received request, decoded.
pub fn param(request: &Request, name: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A stateful e.net double: each logon issues a new session id and evicts the previous one (one
/// session per operator), and session-bound calls answer the invalid-session error for any other
/// id.
#[derive(Clone, Default)]
pub struct EnetDouble {
    state: Arc<Mutex<DoubleState>>,
}

#[derive(Default)]
struct DoubleState {
    logons: usize,
    current: Option<String>,
}

impl EnetDouble {
    /// Mounts `/Logon` and `Query/Query` on `server`.
    pub async fn mount(&self, server: &MockServer) {
        Mock::given(method("GET"))
            .and(path(rest("Logon")))
            .respond_with(DoubleLogon(self.clone()))
            .mount(server)
            .await;
        Mock::given(method("GET"))
            .and(path(rest("Query/Query")))
            .respond_with(DoubleQuery(self.clone()))
            .mount(server)
            .await;
    }

    /// How many logons were answered.
    pub fn logons(&self) -> usize {
        self.lock().logons
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DoubleState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct DoubleLogon(EnetDouble);

impl Respond for DoubleLogon {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock();
        state.logons += 1;
        let id = format!("SESSION-{}", state.logons);
        state.current = Some(id.clone());
        enet_ok(format!("{id}  "))
    }
}

struct DoubleQuery(EnetDouble);

impl Respond for DoubleQuery {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let state = self.0.lock();
        let user = param(request, "UserId");
        if user.is_some() && user == state.current {
            enet_ok(format!(
                "<Answer><Session>{}</Session></Answer>",
                user.unwrap_or_default()
            ))
        } else {
            enet_ok(fixture("enet/invalid_session.txt"))
        }
    }
}
