//! OAuth 1.0a verification, bearer tokens and IMS-style tokens.

use std::time::Duration;

use serde_json::Value;
use simulators::commerce::CommerceSimConfig;

use crate::common::{Signing, fresh_nonce, http, sc, start, start_with, unix_now};

async fn send(url: &str, header: Option<String>) -> (u16, Value) {
    let mut req = http().get(url);
    if let Some(h) = header {
        req = req.header("authorization", h);
    }
    let resp = req.send().await.expect("sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn oauth_signatures_are_verified() {
    let sim = start(10).await;
    let creds = sim.oauth();
    let url = format!("{}/rest/default/V1/orders", sim.base_url());
    let query = sc(&[
        ("[filter_groups][0][filters][0][field]", "updated_at"),
        (
            "[filter_groups][0][filters][0][value]",
            "2024-01-01 00:00:00",
        ),
        ("[filter_groups][0][filters][0][condition_type]", "gteq"),
        ("[pageSize]", "3"),
    ]);
    let full = format!("{url}?{query}");
    let signing = |nonce: String, method: &'static str| Signing {
        creds: &creds,
        method: "GET",
        url: &url,
        query: &query,
        nonce,
        timestamp: unix_now(),
        signature_method: method,
    };

    // A good signature.
    let nonce = fresh_nonce();
    let good = signing(nonce.clone(), "HMAC-SHA256").header();
    let (status, body) = send(&full, Some(good.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"].as_array().map(Vec::len), Some(3));

    // The same nonce again is refused, even with a valid signature.
    let (status, body) = send(&full, Some(good)).await;
    assert_eq!(status, 401);
    assert_eq!(
        body["message"],
        "The nonce is already being used by the consumer with ID %1"
    );
    assert_eq!(body["parameters"], serde_json::json!(["1"]));

    // A signature over different parameters fails.
    let other = Signing {
        query: "searchCriteria%5BpageSize%5D=4",
        ..signing(fresh_nonce(), "HMAC-SHA256")
    }
    .header();
    let (status, body) = send(&full, Some(other)).await;
    assert_eq!(status, 401);
    assert_eq!(
        body["message"],
        "The signature is invalid. Verify and try again."
    );

    // A signature made with a wrong secret fails too.
    let mut wrong = creds.clone();
    wrong.consumer_secret = "x".repeat(32);
    let bad = Signing {
        creds: &wrong,
        ..signing(fresh_nonce(), "HMAC-SHA256")
    }
    .header();
    assert_eq!(send(&full, Some(bad)).await.0, 401);

    // HMAC-SHA1 is refused as by 2.4.4+.
    let sha1 = signing(fresh_nonce(), "HMAC-SHA1").header();
    let (status, body) = send(&full, Some(sha1)).await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "Signature method %1 is not supported");
    assert_eq!(body["parameters"], serde_json::json!(["HMAC-SHA1"]));

    // A timestamp outside the 600 s window.
    let stale = Signing {
        timestamp: unix_now() - 3_600,
        ..signing(fresh_nonce(), "HMAC-SHA256")
    }
    .header();
    assert_eq!(send(&full, Some(stale)).await.0, 400);

    // No credentials at all.
    let (status, body) = send(&full, None).await;
    assert_eq!(status, 401);
    assert_eq!(
        body["message"],
        "The consumer isn't authorized to access %resources."
    );
    assert_eq!(
        body["parameters"]["resources"],
        "Magento_Sales::actions_view"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn bearer_tokens() {
    let sim = start(5).await;
    let url = format!(
        "{}/rest/V1/orders?{}",
        sim.base_url(),
        sc(&[("[pageSize]", "1")])
    );
    assert_eq!(
        send(&url, Some(format!("Bearer {}", sim.bearer_token())))
            .await
            .0,
        200
    );
    // Integration tokens are not bearer tokens unless the store allows it (off since 2.4.4).
    assert_eq!(
        send(&url, Some(format!("Bearer {}", sim.oauth().access_token)))
            .await
            .0,
        401
    );
    let (user, password) = sim.admin_credentials();
    let token: Value = http()
        .post(format!(
            "{}/rest/V1/integration/admin/token",
            sim.base_url()
        ))
        .json(&serde_json::json!({"username": user, "password": password}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json string");
    assert_eq!(token.as_str(), Some(sim.bearer_token().as_str()));
    sim.shutdown().await;

    let sim = start_with(CommerceSimConfig {
        orders: 5,
        integration_bearer: true,
        ..CommerceSimConfig::default()
    })
    .await;
    let url = format!(
        "{}/rest/V1/orders?{}",
        sim.base_url(),
        sc(&[("[pageSize]", "1")])
    );
    assert_eq!(
        send(&url, Some(format!("Bearer {}", sim.oauth().access_token)))
            .await
            .0,
        200
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn ims_tokens_expire() {
    let sim = start_with(CommerceSimConfig {
        orders: 5,
        ims_token_lifetime: Duration::from_secs(120),
        ..CommerceSimConfig::default()
    })
    .await;
    let ims = sim.ims_credentials();
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&scope={}",
        ims.client_id,
        ims.client_secret,
        crate::common::enc(&ims.scope)
    );
    let resp = http()
        .post(&ims.token_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 200);
    let token: Value = resp.json().await.expect("json");
    assert_eq!(token["token_type"], "bearer");
    assert_eq!(token["expires_in"], 120);
    let access = token["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let saas = format!(
        "{}/V1/orders?{}",
        sim.base_url(),
        sc(&[("[pageSize]", "2")])
    );
    let call = |auth: String| {
        let saas = saas.clone();
        async move {
            let resp = http()
                .get(saas)
                .header("authorization", auth)
                .header("Store", "web")
                .send()
                .await
                .expect("sent");
            resp.status().as_u16()
        }
    };
    assert_eq!(call(format!("Bearer {access}")).await, 200);
    // SaaS paths take IMS tokens only.
    assert_eq!(call(format!("Bearer {}", sim.bearer_token())).await, 401);
    sim.advance_clock(Duration::from_secs(121));
    assert_eq!(
        call(format!("Bearer {access}")).await,
        401,
        "the token has expired"
    );

    let bad = http()
        .post(&ims.token_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={}&client_secret=nope",
            ims.client_id
        ))
        .send()
        .await
        .expect("sent");
    assert_eq!(bad.status().as_u16(), 401);
    let body: Value = bad.json().await.expect("json");
    assert_eq!(body["error"], "invalid_client");
    sim.shutdown().await;
}
