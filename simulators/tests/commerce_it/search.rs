//! searchCriteria semantics against the generated orders, checked with a local evaluation of
//! `/__sim/orders`.

use serde_json::Value;

use crate::common::{get, ids, sc, sim_get, start};

async fn all_orders(sim: &simulators::commerce::CommerceSim) -> Vec<Value> {
    sim_get(sim, "/orders")
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn where_ids(orders: &[Value], f: impl Fn(&Value) -> bool) -> Vec<i64> {
    let mut v: Vec<i64> = orders
        .iter()
        .filter(|o| f(o))
        .filter_map(|o| o["entity_id"].as_i64())
        .collect();
    v.sort_unstable();
    v
}

fn sorted(mut v: Vec<i64>) -> Vec<i64> {
    v.sort_unstable();
    v
}

#[tokio::test]
async fn groups_are_anded_and_filters_ored() {
    let sim = start(120).await;
    let orders = all_orders(&sim).await;
    let q = sc(&[
        ("[filter_groups][0][filters][0][field]", "store_id"),
        ("[filter_groups][0][filters][0][value]", "1"),
        ("[filter_groups][0][filters][1][field]", "store_id"),
        ("[filter_groups][0][filters][1][value]", "3"),
        ("[filter_groups][1][filters][0][field]", "customer_is_guest"),
        ("[filter_groups][1][filters][0][value]", "0"),
        ("[filter_groups][1][filters][0][condition_type]", "eq"),
    ]);
    let (status, body) = get(&sim, "/rest/V1/orders", &q).await;
    assert_eq!(status, 200, "{body}");
    let expected = where_ids(&orders, |o| {
        (o["store_id"] == 1 || o["store_id"] == 3) && o["customer_is_guest"] == 0
    });
    assert!(!expected.is_empty());
    assert_eq!(sorted(ids(&body)), expected);
    assert_eq!(body["total_count"].as_u64(), Some(expected.len() as u64));
    // The echo keeps the request, values as strings.
    assert_eq!(
        body["search_criteria"]["filter_groups"][0]["filters"][1]["value"],
        "3"
    );
    assert!(body["search_criteria"].get("page_size").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn every_condition_type() {
    let sim = start(80).await;
    let orders = all_orders(&sim).await;
    let id = |o: &Value| o["entity_id"].as_i64().unwrap_or(0);
    type Expect = Box<dyn Fn(&Value) -> bool>;
    let cases: Vec<(&str, &str, &str, Expect)> = vec![
        ("entity_id", "eq", "5", Box::new(move |o| id(o) == 5)),
        ("entity_id", "neq", "5", Box::new(move |o| id(o) != 5)),
        ("entity_id", "gt", "70", Box::new(move |o| id(o) > 70)),
        ("entity_id", "gteq", "70", Box::new(move |o| id(o) >= 70)),
        ("entity_id", "lt", "9", Box::new(move |o| id(o) < 9)),
        ("entity_id", "lteq", "9", Box::new(move |o| id(o) <= 9)),
        (
            "entity_id",
            "in",
            "1,3, 5",
            Box::new(move |o| [1, 3, 5].contains(&id(o))),
        ),
        (
            "entity_id",
            "nin",
            "1,3,5",
            Box::new(move |o| ![1, 3, 5].contains(&id(o))),
        ),
        (
            "increment_id",
            "like",
            "%0001_",
            Box::new(|o: &Value| {
                let s = o["increment_id"].as_str().unwrap_or("");
                s.len() >= 5 && s[..s.len() - 1].ends_with("0001")
            }),
        ),
        (
            "coupon_code",
            "null",
            "",
            Box::new(|o: &Value| o.get("coupon_code").is_none()),
        ),
        (
            "coupon_code",
            "notnull",
            "",
            Box::new(|o: &Value| o.get("coupon_code").is_some()),
        ),
        (
            "coupon_code",
            "neq",
            "SAVE10",
            Box::new(|o: &Value| o.get("coupon_code").is_some_and(|c| c != "SAVE10")),
        ),
        (
            "customer_email",
            "like",
            "%@EXAMPLE.NET",
            Box::new(|o: &Value| {
                o["customer_email"]
                    .as_str()
                    .unwrap_or("")
                    .ends_with("@example.net")
            }),
        ),
        (
            "grand_total",
            "gt",
            "100.5",
            Box::new(|o: &Value| o["grand_total"].as_f64().unwrap_or(0.0) > 100.5),
        ),
        (
            "applied_rule_ids",
            "finset",
            "2",
            Box::new(|o: &Value| o["applied_rule_ids"] == "2"),
        ),
    ];
    for (field, cond, value, expect) in cases {
        let q = sc(&[
            ("[filter_groups][0][filters][0][field]", field),
            ("[filter_groups][0][filters][0][value]", value),
            ("[filter_groups][0][filters][0][condition_type]", cond),
        ]);
        let (status, body) = get(&sim, "/rest/V1/orders", &q).await;
        assert_eq!(status, 200, "{field} {cond}: {body}");
        assert_eq!(
            sorted(ids(&body)),
            where_ids(&orders, &expect),
            "{field} {cond} {value}"
        );
    }
    // from and to, in separate groups as the docs show.
    let q = sc(&[
        ("[filter_groups][0][filters][0][field]", "entity_id"),
        ("[filter_groups][0][filters][0][value]", "10"),
        ("[filter_groups][0][filters][0][condition_type]", "from"),
        ("[filter_groups][1][filters][0][field]", "entity_id"),
        ("[filter_groups][1][filters][0][value]", "20"),
        ("[filter_groups][1][filters][0][condition_type]", "to"),
    ]);
    let (_, body) = get(&sim, "/rest/V1/orders", &q).await;
    assert_eq!(sorted(ids(&body)), (10..=20).collect::<Vec<_>>());
    // Timestamps compare as text in Commerce's format.
    let pivot = orders[40]["created_at"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let q = sc(&[
        ("[filter_groups][0][filters][0][field]", "created_at"),
        ("[filter_groups][0][filters][0][value]", &pivot),
        ("[filter_groups][0][filters][0][condition_type]", "gteq"),
    ]);
    let (_, body) = get(&sim, "/rest/V1/orders", &q).await;
    assert_eq!(
        sorted(ids(&body)),
        where_ids(&orders, |o| o["created_at"].as_str().unwrap_or("")
            >= pivot.as_str())
    );
    // An unknown condition type and an unknown column are refused.
    let q = sc(&[
        ("[filter_groups][0][filters][0][field]", "entity_id"),
        ("[filter_groups][0][filters][0][value]", "1"),
        ("[filter_groups][0][filters][0][condition_type]", "bogus"),
    ]);
    assert_eq!(get(&sim, "/rest/V1/orders", &q).await.0, 400);
    let q = sc(&[
        ("[filter_groups][0][filters][0][field]", "no_such_column"),
        ("[filter_groups][0][filters][0][value]", "1"),
    ]);
    assert_eq!(get(&sim, "/rest/V1/orders", &q).await.0, 500);
    sim.shutdown().await;
}

#[tokio::test]
async fn sorting_defaults_to_desc_and_chains() {
    let sim = start(90).await;
    let q = sc(&[
        ("[sortOrders][0][field]", "created_at"),
        ("[pageSize]", "90"),
    ]);
    let (_, body) = get(&sim, "/rest/V1/orders", &q).await;
    let times: Vec<String> = body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| o["created_at"].as_str().unwrap_or("").to_owned())
        .collect();
    let mut desc = times.clone();
    desc.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, desc);
    assert!(
        body["search_criteria"]["sort_orders"][0]
            .get("direction")
            .is_none()
    );

    let q = sc(&[
        ("[sortOrders][0][field]", "updated_at"),
        ("[sortOrders][0][direction]", "ASC"),
        ("[sortOrders][1][field]", "entity_id"),
        ("[sortOrders][1][direction]", "ASC"),
    ]);
    let (_, body) = get(&sim, "/rest/V1/orders", &q).await;
    let keys: Vec<(String, i64)> = body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            (
                o["updated_at"].as_str().unwrap_or("").to_owned(),
                o["entity_id"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    let mut expected = keys.clone();
    expected.sort();
    assert_eq!(keys, expected);
    assert_eq!(keys.len(), 90);
    sim.shutdown().await;
}

#[tokio::test]
async fn paging_clamps_to_the_last_page() {
    let sim = start(50).await;
    let page = |n: &str| {
        sc(&[
            ("[pageSize]", "7"),
            ("[currentPage]", n),
            ("[sortOrders][0][field]", "entity_id"),
            ("[sortOrders][0][direction]", "ASC"),
        ])
    };
    let (_, first) = get(&sim, "/rest/V1/orders", &page("1")).await;
    assert_eq!(ids(&first), (1..=7).collect::<Vec<_>>());
    assert_eq!(first["total_count"], 50);
    let (_, last) = get(&sim, "/rest/V1/orders", &page("8")).await;
    assert_eq!(ids(&last), vec![50]);
    let (_, past) = get(&sim, "/rest/V1/orders", &page("999")).await;
    assert_eq!(
        ids(&past),
        vec![50],
        "a page past the end returns the last page again"
    );
    assert_eq!(
        past["search_criteria"]["current_page"], 999,
        "the echo is not clamped"
    );
    let (_, zero) = get(&sim, "/rest/V1/orders", &page("0")).await;
    assert_eq!(ids(&zero), ids(&first));
    sim.shutdown().await;
}

#[tokio::test]
async fn snake_and_camel_case_are_equivalent_and_criteria_is_required() {
    let sim = start(30).await;
    let a = sc(&[
        ("[filterGroups][0][filters][0][field]", "store_id"),
        ("[filterGroups][0][filters][0][value]", "2"),
        ("[filterGroups][0][filters][0][conditionType]", "eq"),
        ("[pageSize]", "5"),
    ]);
    let b = sc(&[
        ("[filter_groups][0][filters][0][field]", "store_id"),
        ("[filter_groups][0][filters][0][value]", "2"),
        ("[filter_groups][0][filters][0][condition_type]", "eq"),
        ("[page_size]", "5"),
    ]);
    let (sa, ba) = get(&sim, "/rest/V1/orders", &a).await;
    let (sb, bb) = get(&sim, "/rest/V1/orders", &b).await;
    assert_eq!((sa, sb), (200, 200));
    assert_eq!(ba["items"], bb["items"]);
    let (status, body) = get(&sim, "/rest/V1/orders", "").await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "\"%fieldName\" is required. Enter and try again."
    );
    assert_eq!(body["parameters"]["fieldName"], "searchCriteria");
    let (status, body) = get(&sim, "/rest/V1/orders", "searchCriteria=").await;
    assert_eq!(status, 200);
    assert_eq!(body["total_count"], 30);
    let (status, _) = get(
        &sim,
        "/rest/V1/orders",
        &sc(&[("[filter_group][0][filters][0][field]", "x")]),
    )
    .await;
    assert_eq!(status, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn fields_projection_and_single_records() {
    let sim = start(20).await;
    let q = format!(
        "{}&fields={}",
        sc(&[("[pageSize]", "2")]),
        crate::common::enc("items[entity_id,increment_id],total_count")
    );
    let (_, body) = get(&sim, "/rest/V1/orders", &q).await;
    assert_eq!(body["total_count"], 20);
    assert!(body.get("search_criteria").is_none());
    let first = body["items"][0].as_object().cloned().unwrap_or_default();
    assert_eq!(
        first.keys().cloned().collect::<Vec<_>>(),
        vec!["entity_id".to_owned(), "increment_id".to_owned()]
    );

    let (status, order) = get(&sim, "/rest/default/V1/orders/3", "").await;
    assert_eq!(status, 200);
    assert_eq!(order["entity_id"], 3);
    let (status, body) = get(&sim, "/rest/V1/orders/99999", "").await;
    assert_eq!(status, 404);
    assert_eq!(
        body["message"],
        "The entity that was requested doesn't exist. Verify the entity and try again."
    );
    let (status, body) = get(&sim, "/rest/V1/customers/99999", "").await;
    assert_eq!(status, 404);
    assert_eq!(body["parameters"]["fieldName"], "customerId");
    assert_eq!(get(&sim, "/rest/V1/orders/abc", "").await.0, 400);
    let (status, product) = get(&sim, "/rest/all/V1/products/AP%2DTEE%2DBLK%2DM", "").await;
    assert_eq!(
        (status, product["sku"].as_str()),
        (200, Some("AP-TEE-BLK-M"))
    );
    let (status, body) = get(&sim, "/rest/V1/products/NOPE-1", "").await;
    assert_eq!(status, 404);
    assert_eq!(
        body["message"],
        "The product that was requested doesn't exist. Verify the product and try again."
    );
    let (status, body) = get(&sim, "/rest/nowhere/V1/orders", &sc(&[("[pageSize]", "1")])).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (404, Some("Request does not match any route."))
    );
    for path in [
        "/rest/web/V1/invoices",
        "/rest/b2b/V1/creditmemos",
        "/rest/V1/customers/search",
        "/rest/marketplace/V1/products",
    ] {
        let (status, body) = get(&sim, path, &sc(&[("[pageSize]", "1")])).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(body["total_count"].is_u64());
    }
    sim.shutdown().await;
}
