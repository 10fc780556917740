//! PaaS URL shapes: `/rest/V1/...` and store-scoped `/rest/<store>/V1/...`.

use adobe_commerce_client::{ApiRequest, Client, Credentials, Error};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::server;

#[tokio::test]
async fn paas_urls_default_and_store_scoped_share_one_client() {
    let server = server().await;
    for route in [
        "/rest/V1/invoices/3",
        "/rest/fr_store/V1/invoices/3",
        "/rest/all/V1/invoices/3",
    ] {
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"route": route})))
            .expect(1)
            .mount(&server)
            .await;
    }
    let client = Client::builder(format!("{}/", server.uri()))
        .credentials(Credentials::bearer("t"))
        .build()
        .expect("client");
    let default: Value = client
        .execute(ApiRequest::get("invoices/3"))
        .await
        .expect("default");
    assert_eq!(default["route"], "/rest/V1/invoices/3");
    let scoped = client.with_store("fr_store");
    assert_eq!(scoped.store(), Some("fr_store"));
    let fr: Value = scoped
        .execute(ApiRequest::get("/invoices/3"))
        .await
        .expect("store view");
    assert_eq!(fr["route"], "/rest/fr_store/V1/invoices/3");
    let all: Value = client
        .with_store("all")
        .execute(ApiRequest::get("invoices/3"))
        .await
        .expect("all");
    assert_eq!(all["route"], "/rest/all/V1/invoices/3");
    // The store header is a SaaS thing only.
    let received = server.received_requests().await.expect("recording on");
    assert!(received.iter().all(|r| r.headers.get("store").is_none()));
}

#[tokio::test]
async fn builder_store_applies_to_every_call_and_bad_store_codes_are_refused() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/rest/default/V1/customers/5"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 5})))
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::builder(server.uri())
        .credentials(Credentials::bearer("t"))
        .store("default")
        .build()
        .expect("client");
    let customer: Value = client
        .execute(ApiRequest::get("customers/5"))
        .await
        .expect("ok");
    assert_eq!(customer["id"], 5);
    let err = client
        .with_store("de/../../admin")
        .execute::<Value>(ApiRequest::get("customers/5"))
        .await
        .expect_err("refused");
    match err {
        Error::InvalidInput { field, .. } => assert_eq!(field, "store code"),
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}
