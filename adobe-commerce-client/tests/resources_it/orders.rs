use adobe_commerce_client::models::{LineRole, OrderId, OrderItemId, OrderState, StoreId};
use adobe_commerce_client::{Error, Filter, SearchCriteria, SortDirection};
use futures::TryStreamExt;
use rust_decimal::Decimal;
use time::macros::datetime;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::support::{self, Collection, bearer, fixture, order};

#[tokio::test]
async fn get_order_decodes_the_configurable_and_bundle_fixture() {
    let server = support::server().await;
    let (auth, value) = bearer();
    Mock::given(method("GET"))
        .and(path("/rest/V1/orders/1001"))
        .and(header(auth, value.as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("order_configurable_bundle.json")),
        )
        .expect(1)
        .mount(&server)
        .await;

    let order = support::client(&server)
        .orders()
        .get(OrderId(1001))
        .send()
        .await
        .expect("order");
    assert_eq!(order.entity_id, Some(OrderId(1001)));
    assert_eq!(order.state, Some(OrderState::Processing));
    assert_eq!(order.grand_total, Some(Decimal::new(16394, 2)));
    assert_eq!(
        order.role_of(OrderItemId(13)),
        Some(LineRole::PricedByParent)
    );
    assert_eq!(order.priced_items().count(), 4);
}

#[tokio::test]
async fn get_order_with_fields_projection() {
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/rest/V1/orders/7"))
        .and(query_param("fields", "entity_id,increment_id"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"entity_id": 7, "increment_id": "000000007"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let order = support::client(&server)
        .orders()
        .get(OrderId(7))
        .fields("entity_id,increment_id")
        .send()
        .await
        .expect("projected order");
    assert_eq!(order.increment_id.as_deref(), Some("000000007"));
    assert!(order.items.is_empty());
}

#[tokio::test]
async fn missing_order_is_a_404_api_error() {
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/rest/V1/orders/999"))
        .respond_with(ResponseTemplate::new(404).set_body_json(serde_json::json!({
            "message": "The entity that was requested doesn't exist. Verify the entity and try again."
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = support::client(&server)
        .orders()
        .get(OrderId(999))
        .send()
        .await
        .expect_err("404");
    assert_eq!(err.status(), Some(404));
    assert!(matches!(err, Error::Api(_)), "{err:?}");
}

#[tokio::test]
async fn search_orders_sends_the_criteria_and_reads_one_page() {
    let server = support::server().await;
    let body = serde_json::json!({
        "items": [fixture("order_guest.json")],
        "search_criteria": {"filter_groups": [{"filters": [
            {"field": "updated_at", "value": "2026-03-01 00:00:00", "condition_type": "gteq"}]}],
            "page_size": 50, "current_page": 2},
        "total_count": 51
    });
    Mock::given(method("GET"))
        .and(path("/rest/V1/orders"))
        .and(query_param(
            "searchCriteria[filter_groups][0][filters][0][field]",
            "updated_at",
        ))
        .and(query_param(
            "searchCriteria[filter_groups][0][filters][0][value]",
            "2026-03-01 00:00:00",
        ))
        .and(query_param(
            "searchCriteria[filter_groups][0][filters][0][condition_type]",
            "gteq",
        ))
        .and(query_param(
            "searchCriteria[filter_groups][1][filters][0][field]",
            "store_id",
        ))
        .and(query_param(
            "searchCriteria[filter_groups][1][filters][0][value]",
            "2",
        ))
        .and(query_param(
            "searchCriteria[sortOrders][0][field]",
            "updated_at",
        ))
        .and(query_param(
            "searchCriteria[sortOrders][0][direction]",
            "ASC",
        ))
        .and(query_param(
            "searchCriteria[sortOrders][1][field]",
            "entity_id",
        ))
        .and(query_param("searchCriteria[pageSize]", "50"))
        .and(query_param("searchCriteria[currentPage]", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;

    let criteria = SearchCriteria::new()
        .updated_since(datetime!(2026-03-01 00:00:00 UTC))
        .store_id(StoreId(2))
        .sort_by("updated_at", SortDirection::Asc)
        .sort_by("entity_id", SortDirection::Asc)
        .page_size(50)
        .current_page(2);
    let page = support::client(&server)
        .orders()
        .search(criteria)
        .send()
        .await
        .expect("page");
    assert_eq!(page.total_count, Some(51));
    assert_eq!(page.current_page, 2);
    assert_eq!(page.last_page(), 2);
    assert!(page.is_last());
    assert_eq!(page.items.len(), 1);
    assert!(page.items[0].is_guest());
    assert_eq!(page.search_criteria["page_size"], 50);
}

#[tokio::test]
async fn invalid_criteria_are_rejected_before_sending() {
    let server = support::server().await;
    let err = support::client(&server)
        .orders()
        .search(SearchCriteria::new().filter(Filter::eq("", 1)))
        .send()
        .await
        .expect_err("invalid");
    match err {
        Error::InvalidInput { field, .. } => {
            assert_eq!(field, "searchCriteria[filter_groups][0][filters][0][field]");
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[tokio::test]
async fn stream_orders_reads_every_page_once() {
    let server = support::server().await;
    let collection = Collection::new((1..=25).map(order).collect());
    Mock::given(method("GET"))
        .and(path("/rest/V1/orders"))
        .respond_with(collection.responder())
        .expect(3)
        .mount(&server)
        .await;
    let orders: Vec<_> = support::client(&server)
        .orders()
        .search(SearchCriteria::new().page_size(10))
        .stream()
        .try_collect()
        .await
        .expect("all orders");
    let ids = support::ids_of(&orders, |o| o.entity_id.map(|i| i.get()));
    assert_eq!(ids, (1..=25).collect::<Vec<_>>());
    assert_eq!(collection.requests(), vec![(1, 10), (2, 10), (3, 10)]);
}

#[tokio::test]
async fn store_scoped_client_uses_the_store_path() {
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/rest/de_store/V1/orders/1002"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("order_guest.json")))
        .expect(1)
        .mount(&server)
        .await;
    let collection = Collection::new(vec![order(1)]);
    Mock::given(method("GET"))
        .and(path("/rest/de_store/V1/orders"))
        .and(query_param(
            "searchCriteria[filter_groups][0][filters][0][field]",
            "store_id",
        ))
        .and(query_param(
            "searchCriteria[filter_groups][0][filters][0][value]",
            "2",
        ))
        .respond_with(collection.responder())
        .expect(1)
        .mount(&server)
        .await;

    let client = support::client(&server).with_store("de_store");
    let order = client
        .orders()
        .get(OrderId(1002))
        .send()
        .await
        .expect("order");
    assert_eq!(order.store_id, Some(StoreId(2)));
    let listed: Vec<_> = client
        .orders()
        .search(SearchCriteria::new().store_id(StoreId(2)))
        .stream()
        .try_collect()
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
}
