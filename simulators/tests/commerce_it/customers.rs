//! `PUT /V1/customers/{id}`.

use serde_json::{Value, json};

use crate::common::{get, start};

async fn put(sim: &simulators::commerce::CommerceSim, id: i64, body: Value) -> (u16, Value) {
    let resp = crate::common::http()
        .put(format!("{}/rest/V1/customers/{id}", sim.base_url()))
        .header("authorization", format!("Bearer {}", sim.bearer_token()))
        .json(&body)
        .send()
        .await
        .expect("sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn customer_update_writes_attributes_and_bumps_updated_at() {
    let sim = start(30).await;
    let (status, before) = get(&sim, "/rest/V1/customers/2", "").await;
    assert_eq!(status, 200);
    let mut customer = before.clone();
    customer["lastname"] = json!("Renamed");
    customer["custom_attributes"] = json!([
        {"attribute_code": "erp_customer_code", "value": "WEB00002"},
        {"attribute_code": "not_defined_here", "value": "x"}
    ]);
    let (status, after) = put(&sim, 2, json!({"customer": customer})).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["lastname"], "Renamed");
    assert_eq!(
        after["custom_attributes"],
        json!([{"attribute_code": "erp_customer_code", "value": "WEB00002"}])
    );
    assert!(after["updated_at"].as_str() > before["updated_at"].as_str());
    let (_, reread) = get(&sim, "/rest/V1/customers/2", "").await;
    assert_eq!(reread, after);

    let mut no_email = before.clone();
    if let Some(m) = no_email.as_object_mut() {
        m.remove("email");
    }
    let (status, body) = put(&sim, 2, json!({"customer": no_email})).await;
    assert_eq!(status, 400);
    assert_eq!(body["parameters"]["fieldName"], "email");
    assert_eq!(put(&sim, 9999, json!({"customer": before})).await.0, 404);
    sim.shutdown().await;
}
