//! The `/__sim/` API: new, touched and late-invoiced orders, call counts and signed webhooks.

use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use base64::Engine;
use reqwest::Method;
use rsa::pkcs8::DecodePublicKey;
use serde_json::{Value, json};

use crate::common::{get, sc, sim_get, sim_send, start};

#[tokio::test]
async fn touch_and_late_invoice_move_updated_at() {
    let sim = start(40).await;
    let special = sim_get(&sim, "/special").await;
    let open = special["uninvoiced_order_ids"]
        .as_array()
        .and_then(|a| {
            a.iter().filter_map(Value::as_i64).find(|id| {
                !special["canceled_order_ids"]
                    .as_array()
                    .is_some_and(|c| c.contains(&json!(id)))
            })
        })
        .expect("an open order");
    let (status, invoice) = sim_send(
        &sim,
        Method::POST,
        &format!("/orders/{open}/invoice"),
        json!({}),
    )
    .await;
    assert_eq!(status, 201, "{invoice}");
    assert_eq!(invoice["order_id"], open);
    let (status, _) = sim_send(
        &sim,
        Method::POST,
        &format!("/orders/{open}/invoice"),
        json!({}),
    )
    .await;
    assert_eq!(status, 409);

    let (status, touched) = sim_send(
        &sim,
        Method::POST,
        "/orders/3/touch",
        json!({"comment": "Address fixed"}),
    )
    .await;
    assert_eq!(status, 200);
    let since = touched["updated_at"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let q = sc(&[
        ("[filter_groups][0][filters][0][field]", "updated_at"),
        ("[filter_groups][0][filters][0][value]", &since),
        ("[filter_groups][0][filters][0][condition_type]", "gteq"),
    ]);
    let (_, changed) = get(&sim, "/rest/V1/orders", &q).await;
    let ids = crate::common::ids(&changed);
    assert!(ids.contains(&3) && ids.contains(&open), "{ids:?}");

    let (status, created) = sim_send(
        &sim,
        Method::POST,
        "/orders",
        json!({"store": "b2b", "skus": ["HW-BOLT-M8"], "invoice": true}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["store_id"], 3);
    assert_eq!(created["entity_id"], 41);
    assert_eq!(
        sim_send(&sim, Method::POST, "/orders", json!({"skus": ["AP-TEE"]}))
            .await
            .0,
        400
    );

    let calls = sim_get(&sim, "/calls").await;
    assert!(calls["GET /V1/orders"].as_u64() >= Some(1));
    sim_send(&sim, Method::POST, "/calls/reset", json!({})).await;
    assert_eq!(sim_get(&sim, "/calls").await, json!({}));
    sim.shutdown().await;
}

type Captured = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

#[tokio::test]
async fn webhooks_are_signed_over_the_base64_body() {
    let captured: Captured = Arc::default();
    let sink = Arc::clone(&captured);
    let app = axum::Router::new().fallback(move |headers: HeaderMap, body: axum::body::Bytes| {
        let sink = Arc::clone(&sink);
        async move {
            sink.lock().expect("lock").push((headers, body.to_vec()));
            axum::Json(json!({"op": "success"}))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let receiver = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let sim = start(10).await;
    let (status, delivery) = sim_send(
        &sim,
        Method::POST,
        "/webhooks/send",
        json!({"order_id": 2, "url": receiver}),
    )
    .await;
    assert_eq!(status, 200, "{delivery}");
    assert_eq!(delivery["status"], 200);

    let (headers, body) = captured
        .lock()
        .expect("lock")
        .first()
        .cloned()
        .expect("one delivery");
    let signature = headers
        .get("x-adobe-commerce-webhook-signature")
        .and_then(|v| v.to_str().ok())
        .expect("signature header");
    assert!(headers.contains_key("x-adobe-commerce-request-id"));
    let key = rsa::PublicKey::from_public_key_pem(&sim.webhook_public_key_pem()).expect("pem");
    let signed = base64::engine::general_purpose::STANDARD.encode(&body);
    let sig = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .expect("base64 signature");
    key.pkcs1v15_verify::<rsa::sha2::Sha256>(signed.as_bytes(), &sig)
        .expect("signature verifies");
    assert!(
        key.pkcs1v15_verify::<rsa::sha2::Sha256>(b"tampered", &sig)
            .is_err()
    );

    let payload: Value = serde_json::from_slice(&body).expect("json body");
    assert_eq!(payload["eventName"], "sales_order_save_commit_after");
    assert_eq!(payload["data"]["order"]["entity_id"], "2");
    assert!(
        payload["data"]["order"]["grand_total"]
            .as_str()
            .is_some_and(|s| s.contains('.'))
    );
    let listed = sim_get(&sim, "/webhooks").await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    sim.shutdown().await;
    server.abort();
}
