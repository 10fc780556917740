use adobe_commerce_client::SearchCriteria;
use adobe_commerce_client::models::{InvoiceId, InvoiceState, OrderId};
use futures::TryStreamExt;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::support::{self, Collection, fixture};

fn invoice(id: u64) -> serde_json::Value {
    json!({"entity_id": id, "order_id": id + 1000, "state": 2, "grand_total": 5, "total_qty": 1, "items": []})
}

#[tokio::test]
async fn get_invoice() {
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/rest/V1/invoices/501"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("invoice.json")))
        .expect(1)
        .mount(&server)
        .await;
    let invoice = support::client(&server)
        .invoices()
        .get(InvoiceId(501))
        .send()
        .await
        .expect("invoice");
    assert_eq!(invoice.order_id, Some(OrderId(1001)));
    assert_eq!(invoice.state, Some(InvoiceState::Paid));
    assert_eq!(invoice.items.len(), 6);
}

#[tokio::test]
async fn search_invoices() {
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/rest/V1/invoices"))
        .and(query_param(
            "searchCriteria[filter_groups][0][filters][0][field]",
            "order_id",
        ))
        .and(query_param(
            "searchCriteria[filter_groups][0][filters][0][value]",
            "1001",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [fixture("invoice.json")],
            "search_criteria": {"filter_groups": []},
            "total_count": 1
        })))
        .expect(1)
        .mount(&server)
        .await;
    let page = support::client(&server)
        .invoices()
        .search(SearchCriteria::new().filter(adobe_commerce_client::Filter::eq("order_id", 1001)))
        .send()
        .await
        .expect("page");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].entity_id, Some(InvoiceId(501)));
    assert_eq!(page.page_size, None);
    assert!(page.is_last());
}

#[tokio::test]
async fn stream_invoices() {
    let server = support::server().await;
    let collection = Collection::new((1..=7).map(invoice).collect());
    Mock::given(method("GET"))
        .and(path("/rest/V1/invoices"))
        .respond_with(collection.responder())
        .expect(4)
        .mount(&server)
        .await;
    let invoices: Vec<_> = support::client(&server)
        .invoices()
        .search(SearchCriteria::new().page_size(2))
        .stream()
        .try_collect()
        .await
        .expect("invoices");
    let ids = support::ids_of(&invoices, |i| i.entity_id.map(|id| id.get()));
    assert_eq!(ids, (1..=7).collect::<Vec<_>>());
}
