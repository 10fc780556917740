//! OAuth 1.0a and bearer headers as Commerce receives them. The signature is recomputed here from
//! the documented rules (Magento's header parsing, RFC 5849 base string), not with the crate's signer.

use std::sync::Arc;

use adobe_commerce_client::{ApiRequest, Client, Credentials, Error, RetryPolicy};
use base64::Engine as _;
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::{ManualClock, server, start_time};

const CONSUMER_KEY: &str = "0123456789abcdefghijklmnopqrstuv";
const CONSUMER_SECRET: &str = "vutsrqponmlkjihgfedcba9876543210";
const ACCESS_TOKEN: &str = "abcdefghijklmnopqrstuvwxyz012345";
const TOKEN_SECRET: &str = "543210zyxwvutsrqponmlkjihgfedcba";

/// PHP `rawurlencode`: everything but `A-Z a-z 0-9 - _ . ~` as uppercase `%XX`.
fn rawurlencode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// PHP `rawurldecode`: `%XX` sequences only; `+` stays a plus.
fn rawurldecode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ascii");
            out.push(u8::from_str_radix(hex, 16).expect("hex"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf-8")
}

/// Magento's `_processHeader`: after `OAuth `, split on `,`, trim, split on the first `=`, keep
/// `oauth_*` names, strip quotes, rawurldecode both sides.
fn parse_authorization(value: &str) -> Vec<(String, String)> {
    let rest = value.strip_prefix("OAuth ").expect("OAuth scheme");
    rest.split(',')
        .map(str::trim)
        .filter_map(|part| part.split_once('='))
        .filter(|(name, _)| name.starts_with("oauth_"))
        .map(|(name, quoted)| (rawurldecode(name), rawurldecode(quoted.trim_matches('"'))))
        .collect()
}

/// Magento builds the signed URL from `scheme://HttpHost/RequestUri`, so the Host header is used.
fn expected_signature(sent: &wiremock::Request, oauth: &[(String, String)]) -> String {
    let method = sent.method.as_str();
    let url = &sent.url;
    let host = sent.headers["host"].to_str().expect("ascii host");
    let mut params: Vec<(String, String)> = oauth
        .iter()
        .filter(|(k, _)| k != "oauth_signature")
        .cloned()
        .collect();
    for piece in url
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = piece.split_once('=').expect("every query piece has one =");
        params.push((rawurldecode(k), rawurldecode(v)));
    }
    let mut encoded: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", rawurlencode(k), rawurlencode(v)))
        .collect();
    encoded.sort();
    // Mock servers listen on a non-default port, so the port stays in the base string URI.
    assert!(host.contains(':'), "{host}");
    let base_uri = format!(
        "{}://{}{}",
        url.scheme(),
        host.to_ascii_lowercase(),
        url.path()
    );
    let base = format!(
        "{method}&{}&{}",
        rawurlencode(&base_uri),
        rawurlencode(&encoded.join("&"))
    );
    let key = format!(
        "{}&{}",
        rawurlencode(CONSUMER_SECRET),
        rawurlencode(TOKEN_SECRET)
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("key");
    mac.update(base.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn oauth_client(base: String) -> Client {
    Client::builder(base)
        .credentials(Credentials::oauth1(
            CONSUMER_KEY,
            CONSUMER_SECRET,
            ACCESS_TOKEN,
            TOKEN_SECRET,
        ))
        .clock(Arc::new(ManualClock::at(start_time())))
        .retry(RetryPolicy::none())
        .build()
        .expect("client")
}

#[tokio::test]
async fn oauth_header_signs_search_criteria_brackets_and_spaces() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/rest/default/V1/orders"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"items": [], "total_count": 0})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let request = ApiRequest::get("orders")
        .query(
            "searchCriteria[filter_groups][0][filters][0][field]",
            "updated_at",
        )
        .query(
            "searchCriteria[filter_groups][0][filters][0][value]",
            "2024-01-01 00:00:00",
        )
        .query(
            "searchCriteria[filter_groups][0][filters][0][condition_type]",
            "gteq",
        )
        .query("searchCriteria[sortOrders][0][field]", "entity_id")
        .query("searchCriteria[sortOrders][0][direction]", "ASC")
        .query("searchCriteria[pageSize]", "100")
        .query("searchCriteria[currentPage]", "1")
        .query("fields", "items[entity_id,increment_id],total_count");
    let _: Value = oauth_client(server.uri())
        .with_store("default")
        .execute(request)
        .await
        .expect("signed call");

    let received = server.received_requests().await.expect("recording on");
    let sent = &received[0];
    let query = sent.url.query().expect("query");
    assert!(query.contains("2024-01-01%2000%3A00%3A00"), "{query}");
    assert!(!query.contains('+'), "{query}");
    assert!(
        query.contains("searchCriteria%5BpageSize%5D=100"),
        "{query}"
    );
    let authorization = sent
        .headers
        .get("authorization")
        .expect("authorization header")
        .to_str()
        .expect("ascii");
    let oauth = parse_authorization(authorization);
    let get = |name: &str| {
        oauth
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{name} missing from {authorization}"))
    };
    assert_eq!(get("oauth_consumer_key"), CONSUMER_KEY);
    assert_eq!(get("oauth_token"), ACCESS_TOKEN);
    assert_eq!(get("oauth_signature_method"), "HMAC-SHA256");
    assert_eq!(get("oauth_version"), "1.0");
    assert_eq!(
        get("oauth_timestamp"),
        start_time().unix_timestamp().to_string()
    );
    let nonce = get("oauth_nonce");
    assert!(nonce.len() <= 32 && nonce.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(get("oauth_signature"), expected_signature(sent, &oauth));
}

#[tokio::test]
async fn oauth_json_body_is_not_signed_and_each_attempt_gets_a_new_nonce() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/rest/V1/orders/42/comments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!(true)))
        .expect(2)
        .mount(&server)
        .await;
    let client = oauth_client(server.uri());
    for _ in 0..2 {
        let ok: bool = client
            .execute(ApiRequest::post(
                "orders/42/comments",
                json!({"statusHistory": {"comment": "paid & shipped", "is_customer_notified": 0}}),
            ))
            .await
            .expect("signed post");
        assert!(ok);
    }
    let received = server.received_requests().await.expect("recording on");
    let mut nonces = Vec::new();
    for sent in &received {
        assert_eq!(
            sent.headers.get("content-type").map(|v| v.as_bytes()),
            Some(&b"application/json"[..])
        );
        let oauth = parse_authorization(sent.headers["authorization"].to_str().expect("ascii"));
        let signature = oauth
            .iter()
            .find(|(k, _)| k == "oauth_signature")
            .map(|(_, v)| v.clone())
            .expect("signature");
        assert_eq!(signature, expected_signature(sent, &oauth));
        nonces.push(
            oauth
                .iter()
                .find(|(k, _)| k == "oauth_nonce")
                .map(|(_, v)| v.clone())
                .expect("nonce"),
        );
    }
    assert_ne!(nonces[0], nonces[1]);
}

#[tokio::test]
async fn oauth_refuses_two_digit_search_criteria_indexes_before_sending() {
    let server = server().await;
    let err = oauth_client(server.uri())
        .execute::<Value>(ApiRequest::get("orders").query(
            "searchCriteria[filter_groups][10][filters][0][field]",
            "sku",
        ))
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert!(
        server
            .received_requests()
            .await
            .expect("recording on")
            .is_empty()
    );
}

#[tokio::test]
async fn bearer_token_is_sent_as_is() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/rest/V1/orders/7"))
        .and(header("authorization", "Bearer integration-token-123"))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"entity_id": 7})))
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::builder(server.uri())
        .credentials(Credentials::bearer("integration-token-123"))
        .build()
        .expect("client");
    let order: Value = client
        .execute(ApiRequest::get("orders/7"))
        .await
        .expect("ok");
    assert_eq!(order["entity_id"], 7);
    let received = server.received_requests().await.expect("recording on");
    let agent = received[0].headers["user-agent"].to_str().expect("ascii");
    assert!(agent.starts_with("adobe-commerce-client/"), "{agent}");
}
