//! Paging against a server that behaves like Magento: pages past the end repeat the last page,
//! and the collection may change between requests.

use adobe_commerce_client::SearchCriteria;
use adobe_commerce_client::page::StopReason;
use futures::StreamExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::support::{self, Collection, order};

async fn mount(server: &MockServer, collection: &std::sync::Arc<Collection>) {
    Mock::given(method("GET"))
        .and(path("/rest/V1/orders"))
        .respond_with(collection.responder())
        .mount(server)
        .await;
}

async fn stream_ids(
    server: &MockServer,
    criteria: SearchCriteria,
) -> (Vec<u64>, Option<StopReason>) {
    let mut stream = support::client(server).orders().search(criteria).stream();
    let mut ids = Vec::new();
    while let Some(order) = stream.next().await {
        ids.push(order.expect("no error").entity_id.unwrap().get());
    }
    (ids, stream.stop_reason())
}

#[tokio::test]
async fn never_asks_past_the_last_page() {
    let server = support::server().await;
    let collection = Collection::new((1..=30).map(order).collect());
    mount(&server, &collection).await;
    let (ids, stop) = stream_ids(&server, SearchCriteria::new().page_size(10)).await;
    assert_eq!(ids, (1..=30).collect::<Vec<_>>());
    assert_eq!(collection.requests(), vec![(1, 10), (2, 10), (3, 10)]);
    assert_eq!(stop, Some(StopReason::LastPage));
}

#[tokio::test]
async fn starting_past_the_end_reads_the_clamped_last_page_once() {
    let server = support::server().await;
    let collection = Collection::new((1..=15).map(order).collect());
    mount(&server, &collection).await;
    let (ids, stop) =
        stream_ids(&server, SearchCriteria::new().page_size(10).current_page(5)).await;
    assert_eq!(ids, (11..=15).collect::<Vec<_>>());
    assert_eq!(collection.requests(), vec![(5, 10)]);
    assert_eq!(stop, Some(StopReason::PastLastPage));
}

#[tokio::test]
async fn total_count_growing_mid_stream_is_followed() {
    let server = support::server().await;
    let collection = Collection::scripted((1..=20).map(order).collect(), |page, items| {
        if page == 2 {
            items.extend((21..=25).map(order));
        }
    });
    mount(&server, &collection).await;
    let (ids, stop) = stream_ids(&server, SearchCriteria::new().page_size(10)).await;
    assert_eq!(ids, (1..=25).collect::<Vec<_>>());
    assert_eq!(collection.requests(), vec![(1, 10), (2, 10), (3, 10)]);
    assert_eq!(stop, Some(StopReason::LastPage));
}

#[tokio::test]
async fn total_count_shrinking_mid_stream_stops_at_the_new_last_page() {
    let server = support::server().await;
    // Before page 3 is answered, orders 1..=15 drop out of the filter (e.g. their status changed):
    // 15 remain, the last page is 2, and Commerce answers page 3 with page 2 again.
    let collection = Collection::scripted((1..=30).map(order).collect(), |page, items| {
        if page == 3 {
            items.retain(|o| o["entity_id"].as_u64().unwrap() > 15);
        }
    });
    mount(&server, &collection).await;
    let (ids, stop) = stream_ids(&server, SearchCriteria::new().page_size(10)).await;
    // Page 2 as served then holds 26..=30, not seen before; nothing is yielded twice.
    let mut expected: Vec<u64> = (1..=20).collect();
    expected.extend(26..=30);
    assert_eq!(ids, expected);
    assert_eq!(collection.requests().len(), 3);
    assert_eq!(stop, Some(StopReason::PastLastPage));
}

#[tokio::test]
async fn rows_shifting_between_pages_are_not_yielded_twice() {
    let server = support::server().await;
    // A new order sorts first after page 1 was read, pushing order 10 onto page 2.
    let collection = Collection::scripted((10..=29).map(order).collect(), |page, items| {
        if page == 2 && items.len() == 20 {
            items.insert(0, order(5));
        }
    });
    mount(&server, &collection).await;
    let (ids, _) = stream_ids(&server, SearchCriteria::new().page_size(10)).await;
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "an id was yielded twice: {ids:?}");
    assert_eq!(sorted, (10..=29).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_page_that_does_not_advance_ends_the_stream() {
    let server = support::server().await;
    let collection = Collection::ignoring_page((1..=30).map(order).collect());
    mount(&server, &collection).await;
    let (ids, stop) = stream_ids(&server, SearchCriteria::new().page_size(10)).await;
    assert_eq!(ids, (1..=10).collect::<Vec<_>>());
    assert_eq!(collection.requests(), vec![(1, 10), (2, 10)]);
    assert_eq!(stop, Some(StopReason::NotAdvancing { page: 2 }));
}

#[tokio::test]
async fn an_error_ends_the_stream_after_being_yielded() {
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/rest/V1/orders"))
        .respond_with(
            wiremock::ResponseTemplate::new(400)
                .set_body_json(serde_json::json!({"message": "Maximum SearchCriteria pageSize is %max", "parameters": {"max": 300}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut stream = support::client(&server)
        .orders()
        .search(SearchCriteria::new().page_size(10))
        .stream();
    let err = stream.next().await.expect("one item").expect_err("error");
    assert_eq!(err.status(), Some(400));
    assert!(stream.next().await.is_none());
    assert_eq!(stream.stop_reason(), Some(StopReason::Failed));
}

#[tokio::test]
async fn pages_report_their_position_and_total() {
    let server = support::server().await;
    let collection = Collection::new((1..=12).map(order).collect());
    mount(&server, &collection).await;
    let pages: Vec<_> = support::client(&server)
        .orders()
        .search(SearchCriteria::new().page_size(5))
        .pages()
        .collect()
        .await;
    let pages: Vec<_> = pages.into_iter().map(|p| p.expect("page")).collect();
    let summary: Vec<(u32, usize, Option<u64>, bool)> = pages
        .iter()
        .map(|p| (p.current_page, p.items.len(), p.total_count, p.is_last()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, 5, Some(12), false),
            (2, 5, Some(12), false),
            (3, 2, Some(12), true)
        ]
    );
    assert_eq!(pages[2].last_page(), 3);
    assert_eq!(pages[0].search_criteria["page_size"], 5);
}
