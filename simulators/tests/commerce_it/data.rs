//! The generated shop: determinism and the properties a connector relies on.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde_json::Value;
use simulators::commerce::CommerceSimConfig;

use crate::common::{sim_get, start_with};

fn dec(v: &Value) -> Decimal {
    v.to_string().parse().unwrap_or_default()
}

#[tokio::test]
async fn same_seed_same_shop() {
    let config = |seed| CommerceSimConfig {
        seed,
        orders: 60,
        ..CommerceSimConfig::default()
    };
    let a = start_with(config(11)).await;
    let b = start_with(config(11)).await;
    let c = start_with(config(12)).await;
    for path in [
        "/orders",
        "/invoices",
        "/customers",
        "/creditmemos",
        "/products",
    ] {
        assert_eq!(sim_get(&a, path).await, sim_get(&b, path).await, "{path}");
    }
    assert_ne!(sim_get(&a, "/orders").await, sim_get(&c, "/orders").await);
    assert_eq!(a.oauth(), b.oauth());
    assert_eq!(
        a.customers_for_erp_matching(),
        b.customers_for_erp_matching()
    );
    for sim in [a, b, c] {
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn orders_look_like_commerce_orders() {
    let sim = start_with(CommerceSimConfig {
        seed: 5,
        orders: 400,
        unmapped_sku_share: 0.1,
        not_in_erp_share: 0.2,
        ..CommerceSimConfig::default()
    })
    .await;
    let orders = sim_get(&sim, "/orders")
        .await
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(orders.len(), 400);
    let mut per_second: HashMap<String, usize> = HashMap::new();
    let mut currencies = std::collections::BTreeSet::new();
    let (mut configurable, mut bundle, mut guests) = (0, 0, 0);
    for o in &orders {
        let grand = dec(&o["grand_total"]);
        let parts = dec(&o["subtotal"])
            + dec(&o["shipping_amount"])
            + dec(&o["tax_amount"])
            + dec(&o["discount_amount"]);
        assert_eq!(grand, parts, "order {}", o["entity_id"]);
        let items = o["items"].as_array().cloned().unwrap_or_default();
        let row_tax: Decimal = items.iter().map(|i| dec(&i["tax_amount"])).sum();
        assert_eq!(
            row_tax + dec(&o["shipping_tax_amount"]),
            dec(&o["tax_amount"])
        );
        for i in &items {
            if i["product_type"] == "configurable" {
                configurable += 1;
                let child = items
                    .iter()
                    .find(|c| c["parent_item_id"] == i["item_id"])
                    .expect("configurable child line");
                assert_eq!(
                    child["sku"], i["sku"],
                    "a configurable parent line carries the child's SKU"
                );
                assert_eq!(dec(&child["row_total"]), Decimal::ZERO);
                assert_eq!(child["parent_item"]["item_id"], i["item_id"]);
            }
            if i["product_type"] == "bundle" {
                bundle += 1;
                assert_eq!(
                    dec(&i["row_total"]),
                    Decimal::ZERO,
                    "bundle money sits on the children"
                );
            }
        }
        if o["customer_is_guest"] == 1 {
            guests += 1;
            assert!(o.get("customer_id").is_none());
        }
        currencies.insert(o["order_currency_code"].as_str().unwrap_or("").to_owned());
        *per_second
            .entry(o["created_at"].as_str().unwrap_or("").to_owned())
            .or_default() += 1;
        let created = o["created_at"].as_str().unwrap_or("");
        assert_eq!(created.len(), 19);
        assert!(o["updated_at"].as_str().unwrap_or("") >= created);
        assert!(o["store_name"].as_str().unwrap_or("").contains('\n'));
    }
    assert!(configurable > 0 && bundle > 0 && guests > 0);
    assert!(currencies.contains("USD") && currencies.contains("EUR"));
    assert!(
        per_second.values().any(|n| *n > 1),
        "several orders share one second"
    );
    // A foreign-currency order keeps both currencies consistent.
    let foreign = orders
        .iter()
        .find(|o| o["order_currency_code"] != o["base_currency_code"])
        .expect("one");
    assert_ne!(foreign["grand_total"], foreign["base_grand_total"]);

    let invoices = sim_get(&sim, "/invoices")
        .await
        .as_array()
        .cloned()
        .unwrap_or_default();
    let by_id: HashMap<i64, &Value> = orders
        .iter()
        .map(|o| (o["entity_id"].as_i64().unwrap_or(0), o))
        .collect();
    assert!(!invoices.is_empty());
    for inv in &invoices {
        let order = by_id[&inv["order_id"].as_i64().unwrap_or(0)];
        assert!(inv["created_at"].as_str() > order["created_at"].as_str());
        assert_eq!(inv["grand_total"], order["grand_total"]);
    }

    let special = sim_get(&sim, "/special").await;
    for key in [
        "unmapped_sku_order_ids",
        "not_in_erp_customer_order_ids",
        "guest_order_ids",
        "foreign_currency_order_ids",
    ] {
        assert!(
            special[key].as_array().is_some_and(|a| !a.is_empty()),
            "{key}"
        );
    }
    for id in special["unmapped_sku_order_ids"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let o = by_id[&id.as_i64().unwrap_or(0)];
        assert!(
            o["items"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|i| i["sku"].as_str().unwrap_or("").starts_with("CLR-"))
        );
    }
    let erp = sim.customers_for_erp_matching();
    assert!(!erp.is_empty());
    assert!(erp.iter().all(|(_, email)| email.ends_with("@example.com")));
    for id in special["not_in_erp_customer_order_ids"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let email = by_id[&id.as_i64().unwrap_or(0)]["customer_email"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        assert!(email.ends_with("@example.net"));
        assert!(!erp.iter().any(|(_, e)| *e == email));
    }
    sim.shutdown().await;
}
