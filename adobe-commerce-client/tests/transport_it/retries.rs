//! Retries: 429 with and without Retry-After, 5xx, timeouts, connect failures, rate limiting.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use adobe_commerce_client::client::{HttpRequest, HttpResponse, TransportFailure};
use adobe_commerce_client::{
    ApiRequest, Client, Credentials, Error, HttpTransport, RetryPolicy, TimeoutLayer, Timeouts,
    TransportErrorKind,
};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{ManualClock, RecordingSleeper, exact_retries, server, start_time};

fn client(server: &MockServer, policy: RetryPolicy, sleeper: &RecordingSleeper) -> Client {
    Client::builder(server.uri())
        .credentials(Credentials::bearer("test-token"))
        .retry(policy)
        .sleeper(Arc::new(sleeper.clone()))
        .build()
        .expect("client")
}

async fn mount_once(server: &MockServer, route: &str, template: ResponseTemplate, times: u64) {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(template)
        .up_to_n_times(times)
        .expect(times)
        .with_priority(1)
        .mount(server)
        .await;
}

async fn mount_ok(server: &MockServer, route: &str, times: u64) {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"entity_id": 12})))
        .expect(times)
        .with_priority(2)
        .mount(server)
        .await;
}

fn throttled() -> ResponseTemplate {
    ResponseTemplate::new(429).set_body_json(json!({"message": "Too Many Requests", "trace": null}))
}

#[tokio::test]
async fn throttled_with_retry_after_seconds_waits_as_told() {
    let server = server().await;
    mount_once(
        &server,
        "/rest/V1/orders/12",
        throttled().insert_header("Retry-After", "7"),
        1,
    )
    .await;
    mount_ok(&server, "/rest/V1/orders/12", 1).await;
    let sleeper = RecordingSleeper::default();
    let order: Value = client(&server, exact_retries(4), &sleeper)
        .execute(ApiRequest::get("orders/12"))
        .await
        .expect("second attempt succeeds");
    assert_eq!(order["entity_id"], 12);
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(7)]);
}

#[tokio::test]
async fn throttled_with_retry_after_http_date_waits_until_that_date() {
    let server = server().await;
    // start_time() is 2024-05-01 12:00:00 UTC.
    let at = "Wed, 01 May 2024 12:00:42 GMT";
    mount_once(
        &server,
        "/rest/V1/orders/12",
        throttled().insert_header("Retry-After", at),
        1,
    )
    .await;
    mount_ok(&server, "/rest/V1/orders/12", 1).await;
    let sleeper = RecordingSleeper::default();
    let client = Client::builder(server.uri())
        .credentials(Credentials::bearer("test-token"))
        .retry(exact_retries(4))
        .sleeper(Arc::new(sleeper.clone()))
        .clock(Arc::new(ManualClock::at(start_time())))
        .build()
        .expect("client");
    let _: Value = client
        .execute(ApiRequest::get("orders/12"))
        .await
        .expect("success");
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(42)]);
}

#[tokio::test]
async fn throttled_without_retry_after_backs_off_exponentially_from_five_seconds() {
    let server = server().await;
    mount_once(&server, "/rest/V1/orders/12", throttled(), 2).await;
    mount_ok(&server, "/rest/V1/orders/12", 1).await;
    let sleeper = RecordingSleeper::default();
    let _: Value = client(&server, exact_retries(4), &sleeper)
        .execute(ApiRequest::get("orders/12"))
        .await
        .expect("third attempt succeeds");
    assert_eq!(
        sleeper.waits(),
        vec![Duration::from_secs(5), Duration::from_secs(10)]
    );
}

#[tokio::test]
async fn throttled_backoff_with_full_jitter_stays_under_the_ceiling() {
    let server = server().await;
    mount_once(&server, "/rest/V1/orders/12", throttled(), 3).await;
    mount_ok(&server, "/rest/V1/orders/12", 1).await;
    let sleeper = RecordingSleeper::default();
    let policy = RetryPolicy {
        max_attempts: 4,
        ..RetryPolicy::default()
    };
    let _: Value = client(&server, policy, &sleeper)
        .execute(ApiRequest::get("orders/12"))
        .await
        .expect("fourth attempt succeeds");
    let waits = sleeper.waits();
    assert_eq!(waits.len(), 3);
    for (wait, ceiling) in waits.iter().zip([5, 10, 20]) {
        assert!(*wait <= Duration::from_secs(ceiling), "{waits:?}");
    }
}

#[tokio::test]
async fn throttling_that_outlasts_the_attempts_returns_the_429() {
    let server = server().await;
    mount_once(
        &server,
        "/rest/V1/orders/12",
        throttled().insert_header("Retry-After", "1"),
        3,
    )
    .await;
    let sleeper = RecordingSleeper::default();
    let err = client(&server, exact_retries(3), &sleeper)
        .execute::<Value>(ApiRequest::get("orders/12"))
        .await
        .expect_err("still throttled");
    assert_eq!(err.status(), Some(429));
    assert!(err.is_retryable());
    assert_eq!(sleeper.waits().len(), 2);
}

#[tokio::test]
async fn service_unavailable_then_success_for_a_read() {
    let server = server().await;
    mount_once(&server, "/rest/V1/orders/12", ResponseTemplate::new(503), 1).await;
    mount_ok(&server, "/rest/V1/orders/12", 1).await;
    let sleeper = RecordingSleeper::default();
    let order: Value = client(&server, exact_retries(4), &sleeper)
        .execute(ApiRequest::get("orders/12"))
        .await
        .expect("retried");
    assert_eq!(order["entity_id"], 12);
    assert_eq!(sleeper.waits(), vec![Duration::from_millis(500)]);
}

#[tokio::test]
async fn bad_gateway_on_a_write_is_not_repeated_unless_idempotent() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/rest/V1/orders/12/comments"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad gateway</html>"))
        .expect(1)
        .mount(&server)
        .await;
    let sleeper = RecordingSleeper::default();
    let client = client(&server, exact_retries(4), &sleeper);
    let err = client
        .execute::<Value>(ApiRequest::post(
            "orders/12/comments",
            json!({"statusHistory": {}}),
        ))
        .await
        .expect_err("502");
    assert_eq!(err.status(), Some(502));
    assert!(err.to_string().contains("Bad Gateway"), "{err}");
    assert!(sleeper.waits().is_empty());
}

#[tokio::test]
async fn server_errors_that_are_not_transient_are_not_retried() {
    let server = server().await;
    mount_once(
        &server,
        "/rest/V1/orders/12",
        ResponseTemplate::new(500).set_body_json(json!({
            "message": "Internal Error. Details are available in Magento log file. Report ID: webapi-1"
        })),
        1,
    )
    .await;
    let sleeper = RecordingSleeper::default();
    let err = client(&server, exact_retries(4), &sleeper)
        .execute::<Value>(ApiRequest::get("orders/12"))
        .await
        .expect_err("500");
    assert_eq!(err.status(), Some(500));
    assert!(!err.is_retryable());
    assert!(sleeper.waits().is_empty());
}

fn short_attempts() -> Timeouts {
    Timeouts {
        attempt: Duration::from_millis(200),
        ..Timeouts::default()
    }
}

#[tokio::test]
async fn post_is_not_retried_after_an_attempt_timeout() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/rest/V1/orders/12/comments"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
        .expect(1)
        .mount(&server)
        .await;
    let sleeper = RecordingSleeper::default();
    let client = Client::builder(server.uri())
        .credentials(Credentials::bearer("test-token"))
        .retry(exact_retries(4))
        .timeouts(short_attempts())
        .sleeper(Arc::new(sleeper.clone()))
        .build()
        .expect("client");
    let err = client
        .execute::<Value>(ApiRequest::post("orders/12/comments", json!({})))
        .await
        .expect_err("timed out");
    assert!(matches!(
        err,
        Error::Timeout {
            layer: TimeoutLayer::Attempt,
            ..
        }
    ));
    assert!(sleeper.waits().is_empty());
}

#[tokio::test]
async fn idempotent_post_is_retried_after_an_attempt_timeout() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/rest/V1/orders/12/comments"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
        .expect(2)
        .mount(&server)
        .await;
    let sleeper = RecordingSleeper::default();
    let client = Client::builder(server.uri())
        .credentials(Credentials::bearer("test-token"))
        .retry(exact_retries(2))
        .timeouts(short_attempts())
        .sleeper(Arc::new(sleeper.clone()))
        .build()
        .expect("client");
    let err = client
        .execute::<Value>(ApiRequest::post("orders/12/comments", json!({})).idempotent(true))
        .await
        .expect_err("timed out twice");
    assert!(matches!(
        err,
        Error::Timeout {
            layer: TimeoutLayer::Attempt,
            ..
        }
    ));
    assert_eq!(sleeper.waits(), vec![Duration::from_millis(500)]);
}

#[tokio::test]
async fn operation_timeout_bounds_the_whole_call() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/rest/V1/orders/12"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let client = Client::builder(server.uri())
        .credentials(Credentials::bearer("test-token"))
        .timeouts(Timeouts {
            operation: Duration::from_millis(300),
            ..Timeouts::default()
        })
        .build()
        .expect("client");
    let err = client
        .execute::<Value>(ApiRequest::get("orders/12"))
        .await
        .expect_err("operation timeout");
    assert!(
        matches!(
            err,
            Error::Timeout {
                layer: TimeoutLayer::Operation,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn connect_failures_are_retried_even_for_writes_because_nothing_was_sent() {
    // A port that was just free: connections are refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let sleeper = RecordingSleeper::default();
    let client = Client::builder(format!("http://127.0.0.1:{port}"))
        .credentials(Credentials::bearer("test-token"))
        .retry(exact_retries(3))
        .sleeper(Arc::new(sleeper.clone()))
        .build()
        .expect("client");
    let err = client
        .execute::<Value>(ApiRequest::post("orders", json!({})))
        .await
        .expect_err("refused");
    match &err {
        Error::Transport {
            kind, method, path, ..
        } => {
            assert_eq!(*kind, TransportErrorKind::Connect);
            assert_eq!(method, "POST");
            assert_eq!(path, "/rest/V1/orders");
        }
        other => panic!("expected a connect failure, got {other:?}"),
    }
    assert!(err.is_retryable());
    assert_eq!(sleeper.waits().len(), 2);
    // The transport error's source carries no URL.
    assert!(!crate::support::everything_printed(&err).contains(&format!(":{port}/")));
}

#[tokio::test]
async fn rate_limit_is_shared_by_clones_and_spaces_requests_after_the_burst() {
    let server = server().await;
    mount_ok(&server, "/rest/V1/orders/12", 4).await;
    mount_ok(&server, "/rest/default/V1/orders/12", 4).await;
    let client = Client::builder(server.uri())
        .credentials(Credentials::bearer("test-token"))
        .rate_limit(5)
        .build()
        .expect("client");
    let scoped = client.with_store("default");
    let start = tokio::time::Instant::now();
    for _ in 0..4 {
        let _: Value = client
            .execute(ApiRequest::get("orders/12"))
            .await
            .expect("ok");
        let _: Value = scoped
            .execute(ApiRequest::get("orders/12"))
            .await
            .expect("ok");
    }
    // A burst of 5, then one request every 200 ms: the last 3 need at least 600 ms.
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(550), "{elapsed:?}");
}

/// A scripted transport without sockets, so tokio's paused clock drives every wait.
struct Scripted {
    answers: Mutex<Vec<HttpResponse>>,
    seen: Mutex<Vec<HttpRequest>>,
}

#[async_trait::async_trait]
impl HttpTransport for Scripted {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportFailure> {
        self.seen.lock().expect("seen").push(request);
        let mut answers = self.answers.lock().expect("answers");
        Ok(answers.remove(0))
    }
}

fn answer(status: u16, headers: &[(&'static str, &'static str)], body: &str) -> HttpResponse {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.insert(*k, v.parse().expect("header"));
    }
    HttpResponse {
        status,
        headers: map,
        body: body.as_bytes().to_vec(),
    }
}

#[tokio::test(start_paused = true)]
async fn default_sleeper_uses_tokio_time_so_paused_tests_see_the_waits() {
    let transport = Arc::new(Scripted {
        answers: Mutex::new(vec![
            answer(
                429,
                &[("retry-after", "30")],
                r#"{"message":"Too Many Requests"}"#,
            ),
            answer(503, &[], ""),
            answer(200, &[], r#"{"ok":true}"#),
        ]),
        seen: Mutex::new(Vec::new()),
    });
    let client = Client::builder("https://shop.example.com")
        .credentials(Credentials::bearer("test-token"))
        .retry(exact_retries(4))
        .transport(transport.clone())
        .build()
        .expect("client");
    let start = tokio::time::Instant::now();
    let answer: Value = client
        .execute(ApiRequest::get("orders/12"))
        .await
        .expect("third attempt");
    assert_eq!(answer, json!({"ok": true}));
    // 30 s as told, then 1 s (second retry: 500 ms doubled).
    assert_eq!(start.elapsed(), Duration::from_secs(31));
    assert_eq!(transport.seen.lock().expect("seen").len(), 3);
}
