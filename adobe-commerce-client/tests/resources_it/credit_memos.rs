use adobe_commerce_client::SearchCriteria;
use adobe_commerce_client::models::{CreditMemoId, CreditMemoState};
use futures::TryStreamExt;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::support::{self, Collection, fixture};

#[tokio::test]
async fn get_credit_memo_uses_the_singular_path() {
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/rest/V1/creditmemo/301"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("credit_memo.json")))
        .expect(1)
        .mount(&server)
        .await;
    let memo = support::client(&server)
        .credit_memos()
        .get(CreditMemoId(301))
        .send()
        .await
        .expect("credit memo");
    assert_eq!(memo.state, Some(CreditMemoState::Refunded));
    assert_eq!(memo.items.len(), 1);
}

#[tokio::test]
async fn search_credit_memos_uses_the_plural_path() {
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/rest/V1/creditmemos"))
        .and(query_param("searchCriteria[pageSize]", "20"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [fixture("credit_memo.json")],
            "search_criteria": {"filter_groups": [], "page_size": 20},
            "total_count": 1
        })))
        .expect(1)
        .mount(&server)
        .await;
    let page = support::client(&server)
        .credit_memos()
        .search(SearchCriteria::new().page_size(20))
        .send()
        .await
        .expect("page");
    assert_eq!(page.items[0].entity_id, Some(CreditMemoId(301)));
}

#[tokio::test]
async fn stream_credit_memos() {
    let server = support::server().await;
    let memos = (1..=3)
        .map(|id| json!({"entity_id": id, "order_id": 1, "items": []}))
        .collect();
    let collection = Collection::new(memos);
    Mock::given(method("GET"))
        .and(path("/rest/V1/creditmemos"))
        .respond_with(collection.responder())
        .expect(1)
        .mount(&server)
        .await;
    let all: Vec<_> = support::client(&server)
        .credit_memos()
        .search(SearchCriteria::new())
        .stream()
        .try_collect()
        .await
        .expect("memos");
    assert_eq!(all.len(), 3);
    assert_eq!(
        collection.requests(),
        vec![(1, 100)],
        "default stream page size"
    );
}
