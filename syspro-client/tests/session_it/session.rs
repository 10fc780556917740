//! Logon, session reuse, expiry, eviction, idle renewal, close and drop.

use std::sync::Arc;
use std::time::Duration;

use syspro_client::{Error, ManualClock, SysproClient};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

use crate::support::*;

const SESSION: &str = "3EA613166FE4BF47925DF1CEA14E910100";
const COMFND_IN: &str = "<Query><TableName>ArCustomer</TableName></Query>";

fn query_mock(session: &str, body: impl Into<Vec<u8>>) -> Mock {
    Mock::given(method("GET"))
        .and(path(rest("Query/Query")))
        .and(query_param("UserId", session))
        .and(query_param("BusinessObject", "COMFND"))
        .and(query_param("XmlIn", COMFND_IN))
        .respond_with(enet_ok(body))
}

#[tokio::test]
async fn logon_trims_the_session_id_and_close_logs_off() {
    let server = server().await;
    logon(fixture("enet/logon_ok.txt"))
        .expect(1)
        .mount(&server)
        .await;
    query_mock(SESSION, "<ArCustomer/>")
        .expect(2)
        .mount(&server)
        .await;
    logoff(SESSION).expect(1).mount(&server).await;

    let client = client(&server);
    assert_eq!(
        client.query("COMFND", COMFND_IN).await.expect("query"),
        "<ArCustomer/>"
    );
    // A clone shares the session: no second logon.
    let clone = client.clone();
    clone
        .query("COMFND", COMFND_IN)
        .await
        .expect("query on clone");
    client.close().await.expect("close");

    let logons = requests_to(&server, "Logon").await;
    assert_eq!(logons.len(), 1);
    assert!(param(&logons[0], "LanguageCode").is_none());
    assert_eq!(
        param(&requests_to(&server, "Logoff").await[0], "UserId").as_deref(),
        Some(SESSION)
    );
}

#[tokio::test]
async fn logon_failure_text_becomes_logon_failed() {
    let server = server().await;
    logon(fixture("enet/logon_bad_password.txt"))
        .expect(1)
        .mount(&server)
        .await;

    let client = client(&server);
    let err = client.query("COMFND", COMFND_IN).await.unwrap_err();
    match &err {
        Error::LogonFailed { message } => assert_eq!(message, "Invalid operator password"),
        other => panic!("expected LogonFailed, got {other:?}"),
    }
    assert!(!err.is_retryable());
    client
        .close()
        .await
        .expect("close without session sends nothing");
}

#[tokio::test]
async fn language_code_is_sent_when_configured() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(rest("Logon")))
        .and(query_param("LanguageCode", "05"))
        .respond_with(enet_ok("ID-1"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(rest("GetLogonProfile")))
        .and(query_param("UserId", "ID-1"))
        .respond_with(enet_ok(fixture("enet/logon_profile.xml")))
        .expect(1)
        .mount(&server)
        .await;
    logoff("ID-1").expect(1).mount(&server).await;

    let client = SysproClient::new(config(&server).language_code("05").build().expect("config"))
        .expect("client");
    let profile = client.get_logon_profile().await.expect("profile");
    assert!(
        profile.starts_with("<UserInfo><CompanyName>Outdoor"),
        "{profile}"
    );
    client.close().await.expect("close");
}

#[tokio::test]
async fn an_html_page_instead_of_a_session_id_is_reported() {
    let server = server().await;
    logon("<html><body>IIS welcome</body></html>")
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).get_logon_profile().await.unwrap_err();
    assert!(
        matches!(&err, Error::Output { business_object, .. } if business_object == "Logon"),
        "{err:?}"
    );
}

#[tokio::test]
async fn session_expiry_mid_sequence_relogs_on_and_retries_once() {
    let server = server().await;
    logon("SESSION-A")
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    logon("SESSION-B").expect(1).mount(&server).await;
    query_mock("SESSION-A", "<first/>")
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    query_mock("SESSION-A", fixture("enet/invalid_session.txt"))
        .expect(1)
        .mount(&server)
        .await;
    query_mock("SESSION-B", "<second/>")
        .expect(2)
        .mount(&server)
        .await;
    logoff("SESSION-B").expect(1).mount(&server).await;

    let client = client(&server);
    assert_eq!(
        client.query("COMFND", COMFND_IN).await.expect("first"),
        "<first/>"
    );
    // The session expires on SYSPRO's side: the call is repeated once on a fresh session.
    assert_eq!(
        client.query("COMFND", COMFND_IN).await.expect("second"),
        "<second/>"
    );
    assert_eq!(
        client.query("COMFND", COMFND_IN).await.expect("third"),
        "<second/>"
    );
    client.close().await.expect("close");
    assert_eq!(requests_to(&server, "Query/Query").await.len(), 4);
}

#[tokio::test]
async fn a_post_is_repeated_after_invalid_session_exactly_once() {
    let server = server().await;
    logon("SESSION-A").expect(2).mount(&server).await;
    Mock::given(method("GET"))
        .and(path(rest("Transaction/Post")))
        .respond_with(enet_ok(fixture("enet/invalid_session.txt")))
        .expect(2)
        .mount(&server)
        .await;
    logoff("SESSION-A").expect(0).mount(&server).await;

    let client = client(&server);
    let err = client
        .transaction_post(
            "ARSTIN",
            "<PostArInvoices/>",
            "<PostArInvoices><Item/></PostArInvoices>",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::SessionInvalid { business_object: Some(bo) } if bo == "ARSTIN"),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(!err.is_outcome_unknown());
    // Both attempts sent the same documents.
    let posts = requests_to(&server, "Transaction/Post").await;
    assert_eq!(param(&posts[0], "XmlIn"), param(&posts[1], "XmlIn"));
    // The invalid session was forgotten, so close has nothing to log off.
    client.close().await.expect("close");
}

#[tokio::test]
async fn eviction_by_a_second_logon_is_healed_by_relogon() {
    let server = server().await;
    let double = EnetDouble::default();
    double.mount(&server).await;
    Mock::given(method("GET"))
        .and(path(rest("Logoff")))
        .respond_with(enet_ok("0"))
        .mount(&server)
        .await;

    let integration = client(&server);
    let person = client(&server); // same operator, e.g. someone at a SYSPRO screen
    assert!(
        integration
            .query("COMFND", COMFND_IN)
            .await
            .expect("1")
            .contains("SESSION-1")
    );
    assert!(
        person
            .query("COMFND", COMFND_IN)
            .await
            .expect("2")
            .contains("SESSION-2")
    );
    // SESSION-1 was evicted by SESSION-2: the integration logs on again and carries on.
    assert!(
        integration
            .query("COMFND", COMFND_IN)
            .await
            .expect("3")
            .contains("SESSION-3")
    );
    assert_eq!(double.logons(), 3);
    let queries = requests_to(&server, "Query/Query").await;
    assert_eq!(
        queries.len(),
        4,
        "one failed attempt plus three answered calls"
    );
    integration.close().await.expect("close");
    person.close().await.expect("close");
}

#[tokio::test]
async fn an_idle_session_is_renewed_before_the_next_call() {
    let server = server().await;
    logon("SESSION-A")
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    logon("SESSION-B").expect(1).mount(&server).await;
    query_mock("SESSION-A", "<a/>")
        .expect(2)
        .mount(&server)
        .await;
    query_mock("SESSION-B", "<b/>")
        .expect(1)
        .mount(&server)
        .await;
    logoff("SESSION-A").expect(1).mount(&server).await;
    logoff("SESSION-B").expect(1).mount(&server).await;

    let clock = ManualClock::new();
    let config = config(&server)
        .idle_timeout(Duration::from_secs(600))
        .idle_margin(Duration::from_secs(60))
        .build()
        .expect("config");
    let client = SysproClient::with_clock(config, Arc::new(clock.clone())).expect("client");

    assert_eq!(client.query("COMFND", COMFND_IN).await.expect("1"), "<a/>");
    clock.advance(Duration::from_secs(8 * 60)); // idle 8 min: still fine
    assert_eq!(client.query("COMFND", COMFND_IN).await.expect("2"), "<a/>");
    clock.advance(Duration::from_secs(9 * 60 + 30)); // idle 9.5 min: inside the margin
    assert_eq!(client.query("COMFND", COMFND_IN).await.expect("3"), "<b/>");
    client.close().await.expect("close");

    // The stale session was logged off before the new logon; no call was wasted on it.
    let logoffs = requests_to(&server, "Logoff").await;
    assert_eq!(param(&logoffs[0], "UserId").as_deref(), Some("SESSION-A"));
}

/// Records when each request arrived, and answers slowly.
struct SlowRecorder {
    arrivals: Arc<std::sync::Mutex<Vec<std::time::Instant>>>,
}

impl Respond for SlowRecorder {
    #[allow(clippy::disallowed_methods)] // measuring real overlap of HTTP calls
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        self.arrivals
            .lock()
            .expect("lock")
            .push(std::time::Instant::now());
        enet_ok("<ok/>").set_delay(Duration::from_millis(80))
    }
}

/// A server with one logon (answered after `logon_delay`), `queries` slow COMFND queries expected
/// and one logoff; the queries' arrival times are recorded.
async fn slow_session(
    logon_delay: Duration,
    queries: u64,
) -> (
    wiremock::MockServer,
    Arc<std::sync::Mutex<Vec<std::time::Instant>>>,
) {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(rest("Logon")))
        .respond_with(enet_ok("SESSION-A").set_delay(logon_delay))
        .expect(1)
        .mount(&server)
        .await;
    let arrivals = Arc::new(std::sync::Mutex::new(Vec::new()));
    Mock::given(method("GET"))
        .and(path(rest("Query/Query")))
        .respond_with(SlowRecorder {
            arrivals: arrivals.clone(),
        })
        .expect(queries)
        .mount(&server)
        .await;
    logoff("SESSION-A").expect(1).mount(&server).await;
    (server, arrivals)
}

/// Each of the calls [`SlowRecorder`] saw arrived after the one before had been answered.
fn assert_one_at_a_time(arrivals: &std::sync::Mutex<Vec<std::time::Instant>>) {
    let mut arrivals = arrivals.lock().expect("lock").clone();
    arrivals.sort();
    for pair in arrivals.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(70),
            "calls overlapped on the session: {:?}",
            pair[1] - pair[0]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_share_one_logon_and_never_overlap() {
    let (server, arrivals) = slow_session(Duration::from_millis(80), 4).await;
    let client = client(&server);
    let calls = (0..4).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.query("COMFND", COMFND_IN).await })
    });
    for call in futures::future::join_all(calls).await {
        assert_eq!(call.expect("task").expect("query"), "<ok/>");
    }
    client.close().await.expect("close");
    assert_one_at_a_time(&arrivals);
}

/// On a thread of its own, the client reads each answer and sends the next queued call while the
/// caller's runtime is busy: here its only thread is blocked the whole time.
#[tokio::test]
#[allow(clippy::disallowed_methods)] // blocking the caller's one thread is the point
async fn on_its_own_thread_calls_go_on_while_the_callers_runtime_is_busy() {
    let (server, arrivals) = slow_session(Duration::ZERO, 3).await;

    let config = config(&server).own_thread(true).build().expect("config");
    assert!(config.own_thread());
    let client = SysproClient::new(config).expect("client");
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.query("COMFND", COMFND_IN).await })
        })
        .collect();
    // Each task hands its call to the client's thread at its first poll.
    tokio::task::yield_now().await;
    let blocked_until = std::time::Instant::now() + Duration::from_secs(2);
    while std::time::Instant::now() < blocked_until && arrivals.lock().expect("lock").len() < 3 {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        arrivals.lock().expect("lock").len(),
        3,
        "every call went out while the caller's runtime was blocked"
    );
    for call in futures::future::join_all(calls).await {
        assert_eq!(call.expect("task").expect("query"), "<ok/>");
    }
    client.close().await.expect("close");
    assert_one_at_a_time(&arrivals);
}

#[tokio::test]
async fn calls_after_close_fail_and_close_is_idempotent() {
    let server = server().await;
    logon("SESSION-A").expect(1).mount(&server).await;
    query_mock("SESSION-A", "<a/>")
        .expect(1)
        .mount(&server)
        .await;
    logoff("SESSION-A").expect(1).mount(&server).await;

    let client = client(&server);
    client.query("COMFND", COMFND_IN).await.expect("query");
    client.close().await.expect("close");
    client.close().await.expect("second close sends nothing");
    let err = client.clone().query("COMFND", COMFND_IN).await.unwrap_err();
    assert!(matches!(err, Error::Closed), "{err:?}");
}

#[tokio::test]
async fn dropping_without_close_logs_off_in_the_background() {
    let server = server().await;
    logon("SESSION-A").expect(1).mount(&server).await;
    query_mock("SESSION-A", "<a/>")
        .expect(1)
        .mount(&server)
        .await;
    logoff("SESSION-A").expect(1).mount(&server).await;

    let client = client(&server);
    client.query("COMFND", COMFND_IN).await.expect("query");
    drop(client);

    for _ in 0..100 {
        if !requests_to(&server, "Logoff").await.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no logoff after drop");
}

/// A runtime not entered by the caller, a server on it answering one logon and one query, and a
/// client (on its own thread or not) that has made that query; with `logoff_too`, a logoff too.
fn a_session_outside_the_runtime(
    own_thread: bool,
    logoff_too: bool,
) -> (tokio::runtime::Runtime, wiremock::MockServer, SysproClient) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (server, client) = runtime.block_on(async {
        let server = server().await;
        logon("SESSION-A").expect(1).mount(&server).await;
        query_mock("SESSION-A", "<a/>")
            .expect(1)
            .mount(&server)
            .await;
        if logoff_too {
            logoff("SESSION-A").expect(1).mount(&server).await;
        }
        let config = config(&server)
            .own_thread(own_thread)
            .build()
            .expect("config");
        let client = SysproClient::new(config).expect("client");
        client.query("COMFND", COMFND_IN).await.expect("query");
        (server, client)
    });
    (runtime, server, client)
}

#[test]
fn dropping_outside_a_runtime_does_not_block_or_panic() {
    let (runtime, server, client) = a_session_outside_the_runtime(false, false);
    // No runtime is entered here: the drop must return at once without sending anything.
    drop(client);
    runtime.block_on(async {
        assert!(requests_to(&server, "Logoff").await.is_empty());
    });
    drop(server);
}

/// A client with a thread of its own sends the logoff from that thread, so a drop anywhere (here
/// outside any runtime) still frees the SYSPRO seat.
#[test]
fn a_client_on_its_own_thread_logs_off_when_dropped_outside_a_runtime() {
    let (runtime, server, client) = a_session_outside_the_runtime(true, true);
    drop(client);
    runtime.block_on(async {
        for _ in 0..100 {
            if !requests_to(&server, "Logoff").await.is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no logoff after drop");
    });
}

#[tokio::test]
async fn get_version_needs_no_session() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(rest("GetVersion")))
        .respond_with(enet_ok(fixture("enet/get_version.txt")))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    assert_eq!(client.get_version().await.expect("version"), "8.0.161");
    client.close().await.expect("close");
}

#[tokio::test]
async fn bad_business_object_names_are_refused_before_sending() {
    let server = server().await;
    let err = client(&server)
        .query("COM FND", "<Query/>")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput { field, .. } if field == "business_object"),
        "{err:?}"
    );
}
