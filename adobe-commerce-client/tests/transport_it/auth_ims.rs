//! IMS client credentials: one token request for many callers, expiry, refresh after 401.

use std::sync::Arc;
use std::time::Duration;

use adobe_commerce_client::{
    ApiRequest, Client, Credentials, Flavour, ImsCredentials, RetryPolicy,
};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{ManualClock, server, start_time};

fn token(access_token: &str, expires_in: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(
        json!({"access_token": access_token, "token_type": "bearer", "expires_in": expires_in}),
    )
}

fn ims_client(server: &MockServer, clock: &ManualClock) -> Client {
    Client::builder(format!("{}/tenant-1", server.uri()))
        .flavour(Flavour::SaaS)
        .credentials(Credentials::ims(
            ImsCredentials::new("client-abc", "ims-secret")
                .org_id("ORG@AdobeOrg")
                .token_url(format!("{}/ims/token/v3", server.uri()))
                .refresh_margin(Duration::from_secs(300)),
        ))
        .clock(Arc::new(clock.clone()))
        .retry(RetryPolicy::none())
        .build()
        .expect("client")
}

async fn mount_api(server: &MockServer, bearer: &str, times: u64) {
    Mock::given(method("GET"))
        .and(path("/tenant-1/V1/orders/1"))
        .and(header("authorization", format!("Bearer {bearer}").as_str()))
        .and(header("x-api-key", "client-abc"))
        .and(header("x-gw-ims-org-id", "ORG@AdobeOrg"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"entity_id": 1})))
        .expect(times)
        .mount(server)
        .await;
}

#[tokio::test]
async fn twenty_concurrent_calls_share_one_token_request() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/ims/token/v3"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(token("tok-1", 86_399).set_delay(Duration::from_millis(200)))
        .expect(1)
        .mount(&server)
        .await;
    mount_api(&server, "tok-1", 20).await;
    let client = ims_client(&server, &ManualClock::at(start_time()));
    let calls = (0..20).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.execute::<Value>(ApiRequest::get("orders/1")).await })
    });
    for call in futures::future::join_all(calls).await {
        let order = call.expect("task").expect("call");
        assert_eq!(order["entity_id"], 1);
    }
    let received = server.received_requests().await.expect("recording on");
    let form = received
        .iter()
        .find(|r| r.url.path() == "/ims/token/v3")
        .map(|r| String::from_utf8(r.body.clone()).expect("utf-8"))
        .expect("token request");
    let fields: Vec<&str> = form.split('&').collect();
    assert!(fields.contains(&"grant_type=client_credentials"), "{form}");
    assert!(fields.contains(&"client_id=client-abc"), "{form}");
    assert!(fields.contains(&"client_secret=ims-secret"), "{form}");
    assert!(
        fields.contains(
            &"scope=AdobeID%2Copenid%2Cemail%2Cprofile%2Cadditional_info.roles%2Cadditional_info.projectedProductContext%2Ccommerce.accs"
        ),
        "{form}"
    );
}

#[tokio::test]
async fn token_is_reused_until_the_refresh_margin_then_replaced() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/ims/token/v3"))
        .respond_with(token("tok-1", 3600))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/ims/token/v3"))
        .respond_with(token("tok-2", 3600))
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    mount_api(&server, "tok-1", 2).await;
    mount_api(&server, "tok-2", 1).await;
    let clock = ManualClock::at(start_time());
    let client = ims_client(&server, &clock);
    let _: Value = client
        .execute(ApiRequest::get("orders/1"))
        .await
        .expect("first");
    // 3299 s later the token is still more than 300 s from expiry.
    clock.advance(Duration::from_secs(3299));
    let _: Value = client
        .execute(ApiRequest::get("orders/1"))
        .await
        .expect("cached");
    clock.advance(Duration::from_secs(2));
    let _: Value = client
        .execute(ApiRequest::get("orders/1"))
        .await
        .expect("refreshed");
}

#[tokio::test]
async fn unauthorized_answer_drops_the_token_and_retries_once_with_a_new_one() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/ims/token/v3"))
        .respond_with(token("tok-revoked", 86_399))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/ims/token/v3"))
        .respond_with(token("tok-fresh", 86_399))
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/tenant-1/V1/orders/1"))
        .and(header("authorization", "Bearer tok-revoked"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "message": "The consumer isn't authorized to access %resources.",
            "parameters": {"resources": "Magento_Sales::sales"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    mount_api(&server, "tok-fresh", 2).await;
    let client = ims_client(&server, &ManualClock::at(start_time()));
    let _: Value = client
        .execute(ApiRequest::get("orders/1"))
        .await
        .expect("succeeds with the new token");
    // The new token is cached for the next call.
    let _: Value = client
        .execute(ApiRequest::get("orders/1"))
        .await
        .expect("cached");
}

#[tokio::test]
async fn persistent_unauthorized_is_returned_after_one_refresh() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/ims/token/v3"))
        .respond_with(token("tok-x", 86_399))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/tenant-1/V1/orders/1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "message": "The consumer isn't authorized to access %resources.",
            "parameters": {"resources": "Magento_Sales::sales"}
        })))
        .expect(2)
        .mount(&server)
        .await;
    let client = ims_client(&server, &ManualClock::at(start_time()));
    let err = client
        .execute::<Value>(ApiRequest::get("orders/1"))
        .await
        .expect_err("still 401");
    assert_eq!(err.status(), Some(401));
    assert!(err.to_string().contains("Magento_Sales::sales"), "{err}");
}

#[tokio::test]
async fn saas_store_header_and_url_shape() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/ims/token/v3"))
        .respond_with(token("tok-1", 86_399))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/tenant-1/V1/products/24-MB01%2F2"))
        .and(header("store", "de_store"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"sku": "24-MB01/2"})))
        .expect(1)
        .mount(&server)
        .await;
    let client = ims_client(&server, &ManualClock::at(start_time())).with_store("de_store");
    let product: Value = client
        .execute(ApiRequest::get(format!(
            "products/{}",
            adobe_commerce_client::encode_path_segment("24-MB01/2")
        )))
        .await
        .expect("product");
    assert_eq!(product["sku"], "24-MB01/2");
    let received = server.received_requests().await.expect("recording on");
    let api = received
        .iter()
        .find(|r| r.url.path().starts_with("/tenant-1/"))
        .expect("api call");
    assert!(!api.url.path().contains("/rest"));
}

#[tokio::test]
async fn token_endpoint_outage_is_retried_and_api_key_can_be_left_out() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path("/ims/token/v3"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/ims/token/v3"))
        .respond_with(token("tok-1", 86_399))
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/tenant-1/V1/orders/1/comments"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!(true)))
        .expect(1)
        .mount(&server)
        .await;
    let sleeper = crate::support::RecordingSleeper::default();
    let client = Client::builder(format!("{}/tenant-1", server.uri()))
        .flavour(Flavour::SaaS)
        .credentials(Credentials::ims(
            ImsCredentials::new("client-abc", "ims-secret")
                .send_api_key(false)
                .token_url(format!("{}/ims/token/v3", server.uri())),
        ))
        .retry(crate::support::exact_retries(3))
        .sleeper(Arc::new(sleeper.clone()))
        .build()
        .expect("client");
    // A non-idempotent write: the token outage happened before the call was sent, so it is retried.
    let ok: bool = client
        .execute(ApiRequest::post("orders/1/comments", json!({})))
        .await
        .expect("second attempt");
    assert!(ok);
    assert_eq!(sleeper.waits().len(), 1);
    let received = server.received_requests().await.expect("recording on");
    let api = received
        .iter()
        .find(|r| r.url.path().starts_with("/tenant-1/"))
        .expect("api call");
    assert!(api.headers.get("x-api-key").is_none());
    assert!(api.headers.get("x-gw-ims-org-id").is_none());
}
