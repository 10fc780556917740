//! Commerce's error bodies, decode failures, and secrets kept out of every error.

use std::sync::Arc;

use adobe_commerce_client::{ApiRequest, Client, Credentials, Error, ImsCredentials, RetryPolicy};
use serde::Deserialize;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{RecordingSleeper, everything_printed, server};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/transport");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("fixture")
}

fn bearer_client(server: &MockServer) -> Client {
    Client::builder(server.uri())
        .credentials(Credentials::bearer("SECRET-BEARER-0123456789"))
        .retry(RetryPolicy::none())
        .build()
        .expect("client")
}

#[tokio::test]
async fn unauthorized_renders_commerce_message_and_hints_at_both_causes() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/rest/V1/orders/12"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("content-type", "application/json; charset=UTF-8")
                .set_body_string(fixture("error-401-acl.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = bearer_client(&server)
        .execute::<Value>(ApiRequest::get("orders/12"))
        .await
        .expect_err("401");
    assert_eq!(err.status(), Some(401));
    assert!(!err.is_retryable());
    let api = err.api_error().expect("api error");
    assert_eq!(
        api.message,
        "The consumer isn't authorized to access Magento_Sales::actions_view."
    );
    assert_eq!(
        api.raw_message.as_deref(),
        Some("The consumer isn't authorized to access %resources.")
    );
    assert_eq!(
        api.parameters,
        Some(json!({"resources": "Magento_Sales::actions_view"}))
    );
    let text = err.to_string();
    assert!(text.contains("HTTP 401"), "{text}");
    assert!(text.contains("ACL resource"), "{text}");
    assert!(text.contains("standalone Bearer"), "{text}");
    assert!(api.body.contains("%resources"));
}

#[tokio::test]
async fn not_found_keeps_status_message_and_body() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/rest/V1/orders/999"))
        .respond_with(ResponseTemplate::new(404).set_body_string(fixture("error-404-order.json")))
        .expect(1)
        .mount(&server)
        .await;
    let err = bearer_client(&server)
        .execute::<Value>(ApiRequest::get("orders/999"))
        .await
        .expect_err("404");
    assert_eq!(err.status(), Some(404));
    assert!(!err.is_retryable());
    let api = err.api_error().expect("api error");
    assert_eq!(
        api.message,
        "The entity that was requested doesn't exist. Verify the entity and try again."
    );
    assert!(!err.to_string().contains("ACL"));
}

#[tokio::test]
async fn named_parameters_are_substituted() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/rest/V1/customers/999"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "message": "No such entity with %fieldName = %fieldValue",
            "parameters": {"fieldName": "customerId", "fieldValue": 999}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = bearer_client(&server)
        .execute::<Value>(ApiRequest::get("customers/999"))
        .await
        .expect_err("404");
    assert!(
        err.to_string()
            .contains("No such entity with customerId = 999"),
        "{err}"
    );
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct OrderList {
    items: Vec<OrderRow>,
    total_count: u64,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct OrderRow {
    entity_id: u64,
    increment_id: String,
}

#[tokio::test]
async fn malformed_json_names_the_path_and_keeps_the_body() {
    let server = server().await;
    let body = fixture("orders-wrong-type.json");
    Mock::given(method("GET"))
        .and(path("/rest/V1/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_string(body.clone()))
        .expect(1)
        .mount(&server)
        .await;
    let err = bearer_client(&server)
        .execute::<OrderList>(ApiRequest::get("orders").query("searchCriteria[pageSize]", "2"))
        .await
        .expect_err("decode error");
    match &err {
        Error::Decode {
            status,
            path,
            body: kept,
            ..
        } => {
            assert_eq!(*status, 200);
            assert_eq!(path, "items[1].entity_id");
            assert_eq!(kept, &body);
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert_eq!(err.status(), Some(200));
    assert!(err.to_string().contains("items[1].entity_id"));
}

#[tokio::test]
async fn truncated_json_is_a_decode_error_at_the_root() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/rest/V1/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"items":[{"entity_id":1"#))
        .expect(1)
        .mount(&server)
        .await;
    let err = bearer_client(&server)
        .execute::<OrderList>(ApiRequest::get("orders"))
        .await
        .expect_err("decode error");
    assert!(matches!(err, Error::Decode { status: 200, .. }), "{err:?}");
}

/// Every failure path that had a secret in reach, printed in full, shows none of them.
#[tokio::test]
async fn no_secret_reaches_any_error() {
    let server = server().await;
    const SECRETS: [&str; 6] = [
        "SECRET-CONSUMER-KEY-00000000000",
        "SECRET-CONSUMER-SECRET-00000000",
        "SECRET-ACCESS-TOKEN-00000000000",
        "SECRET-TOKEN-SECRET-00000000000",
        "SECRET-IMS-CLIENT-SECRET",
        "SECRET-ACCESS-TOKEN-FROM-IMS",
    ];
    Mock::given(method("GET"))
        .and(path("/rest/V1/orders/1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "message": "The signature is invalid. Verify and try again."
        })))
        .expect(1)
        .mount(&server)
        .await;
    // IMS: first a refusal, then a success answer without `expires_in` that carries a token.
    Mock::given(method("POST"))
        .and(path("/ims/token/v3"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_client", "error_description": "invalid client_secret parameter"
        })))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/ims/token/v3"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": SECRETS[5], "token_type": "bearer"})),
        )
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;

    let mut errors: Vec<Error> = Vec::new();
    let oauth = Client::builder(server.uri())
        .credentials(Credentials::oauth1(
            SECRETS[0], SECRETS[1], SECRETS[2], SECRETS[3],
        ))
        .retry(RetryPolicy::none())
        .build()
        .expect("client");
    errors.push(
        oauth
            .execute::<Value>(ApiRequest::get("orders/1"))
            .await
            .expect_err("401"),
    );
    let ims = Client::builder(format!("{}/tenant", server.uri()))
        .flavour(adobe_commerce_client::Flavour::SaaS)
        .credentials(Credentials::ims(
            ImsCredentials::new("client-id", SECRETS[4])
                .token_url(format!("{}/ims/token/v3", server.uri())),
        ))
        .retry(RetryPolicy::none())
        .sleeper(Arc::new(RecordingSleeper::default()))
        .build()
        .expect("client");
    let rejected = ims
        .execute::<Value>(ApiRequest::get("orders/1"))
        .await
        .expect_err("token refused");
    assert!(rejected.to_string().contains("credentials"), "{rejected}");
    assert!(everything_printed(&rejected).contains("invalid_client"));
    errors.push(rejected);
    let undecodable = ims
        .execute::<Value>(ApiRequest::get("orders/1"))
        .await
        .expect_err("token answer without expires_in");
    assert!(
        everything_printed(&undecodable).contains("expires_in"),
        "{undecodable:?}"
    );
    errors.push(undecodable);
    errors.push(
        Client::builder("https://user:SECRET-CONSUMER-SECRET-00000000@shop.example.com")
            .credentials(Credentials::bearer("x"))
            .build()
            .expect_err("user info"),
    );

    for err in &errors {
        let printed = everything_printed(err);
        for secret in SECRETS {
            assert!(!printed.contains(secret), "{secret} leaked in: {printed}");
        }
    }
    let debug = format!("{oauth:?} {ims:?}");
    for secret in SECRETS {
        assert!(
            !debug.contains(secret),
            "{secret} leaked in client Debug: {debug}"
        );
    }
}
