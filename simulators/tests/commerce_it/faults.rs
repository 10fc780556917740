//! Fault injection at start and at run time.

use serde_json::{Value, json};
use simulators::commerce::{CommerceFaults, CommerceSimConfig};

use crate::common::{get, get_text, sc, sim_send, start, start_with};

#[tokio::test]
async fn rate_limits_with_and_without_retry_after() {
    let sim = start(10).await;
    let faults = CommerceFaults {
        rate_limit_rate: 1.0,
        retry_after_secs: Some(7),
        ..CommerceFaults::default()
    };
    let (status, _) = sim_send(&sim, reqwest::Method::PUT, "/faults", json!(faults)).await;
    assert_eq!(status, 200);
    let url = format!(
        "{}/rest/V1/orders?{}",
        sim.base_url(),
        sc(&[("[pageSize]", "1")])
    );
    let resp = crate::common::http()
        .get(&url)
        .header("authorization", format!("Bearer {}", sim.bearer_token()))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("7")
    );
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body, json!({"message": "Too Many Requests", "trace": null}));

    sim.set_faults(CommerceFaults {
        rate_limit_rate: 1.0,
        ..CommerceFaults::default()
    })
    .expect("valid");
    let (status, _) = get(&sim, "/rest/V1/orders", &sc(&[("[pageSize]", "1")])).await;
    assert_eq!(status, 429);

    sim.set_faults(CommerceFaults {
        slow_429_rate: 1.0,
        slow_429_delay_ms: 50,
        ..CommerceFaults::default()
    })
    .expect("valid");
    let (status, text) = get_text(&sim, "/rest/V1/orders", &sc(&[("[pageSize]", "1")])).await;
    assert_eq!((status, text.as_str()), (429, "Limit Exceeded"));

    sim.set_faults(CommerceFaults {
        server_error_rate: 1.0,
        server_error_status: 503,
        ..CommerceFaults::default()
    })
    .expect("valid");
    assert_eq!(
        get(&sim, "/rest/V1/orders", &sc(&[("[pageSize]", "1")]))
            .await
            .0,
        503
    );

    sim.set_faults(CommerceFaults::default()).expect("valid");
    assert_eq!(
        get(&sim, "/rest/V1/orders", &sc(&[("[pageSize]", "1")]))
            .await
            .0,
        200
    );
    assert!(
        sim.set_faults(CommerceFaults {
            hang_rate: 2.0,
            ..CommerceFaults::default()
        })
        .is_err()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_can_be_kept_to_named_endpoints() {
    let sim = start(10).await;
    let faults = json!({"server_error_rate": 1.0, "only_endpoints": ["GET /V1/orders"]});
    let (status, _) = sim_send(&sim, reqwest::Method::PUT, "/faults", faults).await;
    assert_eq!(status, 200);
    let page = sc(&[("[pageSize]", "1")]);
    assert_eq!(get(&sim, "/rest/V1/orders", &page).await.0, 503);
    assert_eq!(get(&sim, "/rest/V1/invoices", &page).await.0, 200);
    // The page size limit is no fault: it stays for every endpoint.
    sim.set_faults(CommerceFaults {
        max_page_size: Some(5),
        only_endpoints: vec!["GET /V1/orders".to_owned()],
        ..CommerceFaults::default()
    })
    .expect("valid");
    let large = sc(&[("[pageSize]", "50")]);
    assert_eq!(get(&sim, "/rest/V1/invoices", &large).await.0, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn page_size_cap_truncation_and_nulls() {
    let sim = start_with(CommerceSimConfig {
        orders: 40,
        faults: CommerceFaults {
            max_page_size: Some(300),
            ..CommerceFaults::default()
        },
        ..CommerceSimConfig::default()
    })
    .await;
    let (status, body) = get(&sim, "/rest/V1/orders", &sc(&[("[pageSize]", "500")])).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"message": "Maximum SearchCriteria pageSize is %max", "parameters": {"max": 300}})
    );
    let (status, body) = get(&sim, "/rest/V1/orders", "searchCriteria=").await;
    assert_eq!(status, 200);
    assert_eq!(
        body["items"].as_array().map(Vec::len),
        Some(20),
        "default page size under input limits"
    );
    assert_eq!(body["total_count"], 40);

    sim.set_faults(CommerceFaults {
        truncate_rate: 1.0,
        ..CommerceFaults::default()
    })
    .expect("valid");
    let (status, text) = get_text(&sim, "/rest/V1/orders", &sc(&[("[pageSize]", "3")])).await;
    assert_eq!(status, 200);
    assert!(
        serde_json::from_str::<Value>(&text).is_err(),
        "truncated body must not parse"
    );

    sim.set_faults(CommerceFaults {
        null_required_rate: 1.0,
        ..CommerceFaults::default()
    })
    .expect("valid");
    let (_, body) = get(&sim, "/rest/V1/orders", &sc(&[("[pageSize]", "3")])).await;
    assert!(
        body["items"][0]
            .as_object()
            .is_some_and(|o| o.get("customer_email") == Some(&Value::Null))
    );
    let (_, body) = get(&sim, "/rest/V1/invoices", &sc(&[("[pageSize]", "3")])).await;
    assert!(
        body["items"][0]
            .as_object()
            .is_some_and(|o| o.get("total_qty") == Some(&Value::Null))
    );
    sim.shutdown().await;
}
