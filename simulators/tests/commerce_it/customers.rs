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

/// A search read page by page sees every change made between its pages: the customer updated
/// after the first page moves to the end of an `updated_at` order, as Commerce would list it.
#[tokio::test]
async fn a_search_read_page_by_page_sees_a_change_between_pages() {
    let sim = start(30).await;
    let page = |n: &str| {
        crate::common::sc(&[
            ("[pageSize]", "2"),
            ("[currentPage]", n),
            ("[sortOrders][0][field]", "updated_at"),
            ("[sortOrders][0][direction]", "ASC"),
            ("[sortOrders][1][field]", "entity_id"),
            ("[sortOrders][1][direction]", "ASC"),
        ])
    };
    let (status, first) = get(&sim, "/rest/V1/customers/search", &page("1")).await;
    assert_eq!(status, 200, "{first}");
    let total = first["total_count"].as_u64().expect("a total");
    assert!(total > 2, "{first}");
    let oldest = first["items"][0]["id"].as_i64().expect("an id");
    let (_, before) = get(&sim, &format!("/rest/V1/customers/{oldest}"), "").await;
    let mut customer = before.clone();
    customer["lastname"] = json!("Changed");
    assert_eq!(
        put(&sim, oldest, json!({"customer": customer})).await.0,
        200
    );

    let last = total.div_ceil(2).to_string();
    let (_, tail) = get(&sim, "/rest/V1/customers/search", &page(&last)).await;
    let items = tail["items"].as_array().expect("items");
    let newest = items.last().expect("a last item");
    assert_eq!(newest["id"].as_i64(), Some(oldest), "{tail}");
    assert_eq!(newest["lastname"], "Changed");
    let (_, again) = get(&sim, "/rest/V1/customers/search", &page("1")).await;
    assert_ne!(
        again["items"][0]["id"].as_i64(),
        Some(oldest),
        "the first page no longer starts with it"
    );
    sim.shutdown().await;
}
