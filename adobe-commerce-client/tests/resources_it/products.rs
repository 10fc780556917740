use adobe_commerce_client::models::{ProductId, ProductType, StoreId};
use adobe_commerce_client::{Filter, SearchCriteria};
use futures::TryStreamExt;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::support::{self, Collection, fixture};

#[tokio::test]
async fn get_product_percent_encodes_the_sku() {
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/rest/V1/products/HD01%2FM"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("product.json")))
        .expect(1)
        .mount(&server)
        .await;
    let product = support::client(&server)
        .products()
        .get("HD01/M")
        .send()
        .await
        .expect("product");
    assert_eq!(product.id, Some(ProductId(610)));
    assert_eq!(product.type_id, Some(ProductType::Configurable));
}

#[tokio::test]
async fn get_product_with_spaces_and_store_id() {
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/rest/all/V1/products/GIFT%20CARD%2650"))
        .and(query_param("storeId", "3"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": 5, "sku": "GIFT CARD&50"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let product = support::client(&server)
        .with_store("all")
        .products()
        .get("GIFT CARD&50")
        .store_id(StoreId(3))
        .send()
        .await
        .expect("product");
    assert_eq!(product.sku.as_deref(), Some("GIFT CARD&50"));
}

#[tokio::test]
async fn search_products_by_sku_avoids_the_path() {
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/rest/V1/products"))
        .and(query_param(
            "searchCriteria[filter_groups][0][filters][0][field]",
            "sku",
        ))
        .and(query_param(
            "searchCriteria[filter_groups][0][filters][0][value]",
            "HD01/M",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [fixture("product.json")],
            "search_criteria": {"filter_groups": []},
            "total_count": 1
        })))
        .expect(1)
        .mount(&server)
        .await;
    let page = support::client(&server)
        .products()
        .search(SearchCriteria::new().filter(Filter::eq("sku", "HD01/M")))
        .send()
        .await
        .expect("page");
    assert_eq!(page.items[0].sku.as_deref(), Some("HD01/M"));
}

#[tokio::test]
async fn stream_products() {
    let server = support::server().await;
    let products = (1..=4)
        .map(|id| json!({"id": id, "sku": format!("SKU-{id}"), "price": 9.99}))
        .collect();
    let collection = Collection::new(products);
    Mock::given(method("GET"))
        .and(path("/rest/V1/products"))
        .respond_with(collection.responder())
        .expect(2)
        .mount(&server)
        .await;
    let all: Vec<_> = support::client(&server)
        .products()
        .search(SearchCriteria::new().page_size(2))
        .stream()
        .try_collect()
        .await
        .expect("products");
    let skus: Vec<_> = all.iter().map(|p| p.sku.clone().unwrap()).collect();
    assert_eq!(skus, vec!["SKU-1", "SKU-2", "SKU-3", "SKU-4"]);
}
