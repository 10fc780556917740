//! With the most verbose logging on, no password or session id reaches the log output.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use syspro_client::LargeDocumentTransport;
use syspro_client::SysproClient;
use wiremock::Mock;
use wiremock::matchers::{method, path, query_param};

use crate::support::*;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn trace_logs_hold_no_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = server().await;
    logon("SESSION-ALPHA")
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    logon("SESSION-BRAVO").mount(&server).await;
    Mock::given(method("GET"))
        .and(path(rest("Query/Query")))
        .and(query_param("UserId", "SESSION-ALPHA"))
        .respond_with(enet_ok(fixture("enet/invalid_session.txt")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(rest("Query/Query")))
        .and(query_param("UserId", "SESSION-BRAVO"))
        .respond_with(enet_ok("<ok/>"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(rest("Transaction/PostLD")))
        .respond_with(enet_ok("<postarinvoices/>"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(rest("Setup/Add")))
        .respond_with(enet_ok("ERROR: something went wrong"))
        .mount(&server)
        .await;
    logoff("SESSION-BRAVO").mount(&server).await;

    let config = config(&server)
        .large_documents(LargeDocumentTransport::AlwaysPostLd)
        .build()
        .expect("config");
    let client = SysproClient::new(config).expect("client");
    client.query("COMFND", "<Query/>").await.expect("query");
    client
        .transaction_post("ARSTIN", "<P/>", "<D/>")
        .await
        .expect("post");
    let err = client
        .setup_add("ARSSCS", "<P/>", "<D/>")
        .await
        .unwrap_err();
    tracing::error!(error = %err, debug = ?err, "as an embedding application would log it");
    client.close().await.expect("close");

    let log = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("UTF-8 log");
    assert!(log.contains("e.net request"), "logging was captured: {log}");
    for secret in [
        OPERATOR_PASSWORD,
        COMPANY_PASSWORD,
        "Op3r%40tor",
        "C0mpany%2BS3cret",
        "SESSION-ALPHA",
        "SESSION-BRAVO",
    ] {
        assert!(!log.contains(secret), "log leaks {secret}:\n{log}");
    }
}
