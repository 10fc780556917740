//! Shared helpers: a client with bearer credentials, a loud catch-all mock, fixtures and a
//! responder that pages a collection the way Commerce does.

use std::sync::{Arc, Mutex};

use adobe_commerce_client::{Client, Credentials, RetryPolicy};
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const TOKEN: &str = "test-bearer-token";

/// A mock server whose unmatched requests fail the test (the catch-all expects zero calls and
/// answers 599 so the client error also names the stray request).
pub async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(599).set_body_string("unexpected request"))
        .with_priority(u8::MAX)
        .expect(0)
        .named("catch-all: no request may reach it")
        .mount(&server)
        .await;
    server
}

/// A PaaS client with bearer credentials and no retries, pointed at `server`.
pub fn client(server: &MockServer) -> Client {
    Client::builder(server.uri())
        .credentials(Credentials::bearer(TOKEN))
        .retry(RetryPolicy::none())
        .build()
        .expect("client builds")
}

pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/resources/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn bearer() -> (&'static str, String) {
    ("authorization", format!("Bearer {TOKEN}"))
}

type Script = Box<dyn Fn(u32, &mut Vec<Value>) + Send + Sync>;

/// A collection served page by page with Magento's clamping: a page number past the end returns
/// the last page again. `before` may change the collection before each request is answered.
pub struct Collection {
    items: Mutex<Vec<Value>>,
    requests: Mutex<Vec<(u32, u32)>>,
    before: Script,
    ignore_page: bool,
}

impl Collection {
    pub fn new(items: Vec<Value>) -> Arc<Self> {
        Self::scripted(items, |_, _| {})
    }

    pub fn scripted(
        items: Vec<Value>,
        before: impl Fn(u32, &mut Vec<Value>) + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Collection {
            items: Mutex::new(items),
            requests: Mutex::new(Vec::new()),
            before: Box::new(before),
            ignore_page: false,
        })
    }

    /// A broken server that always serves page 1 whatever is asked.
    pub fn ignoring_page(items: Vec<Value>) -> Arc<Self> {
        Arc::new(Collection {
            items: Mutex::new(items),
            requests: Mutex::new(Vec::new()),
            before: Box::new(|_, _| {}),
            ignore_page: true,
        })
    }

    /// `(currentPage, pageSize)` of every request answered, in order.
    pub fn requests(&self) -> Vec<(u32, u32)> {
        self.requests.lock().unwrap().clone()
    }

    pub fn responder(self: &Arc<Self>) -> CollectionResponder {
        CollectionResponder(Arc::clone(self))
    }
}

pub struct CollectionResponder(Arc<Collection>);

fn query_u32(request: &Request, key: &str) -> Option<u32> {
    request
        .url
        .query_pairs()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.parse().ok())
}

impl Respond for CollectionResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let collection = &self.0;
        let page = query_u32(request, "searchCriteria[currentPage]").unwrap_or(1);
        let size = query_u32(request, "searchCriteria[pageSize]").unwrap_or(u32::MAX);
        collection.requests.lock().unwrap().push((page, size));
        let mut items = collection.items.lock().unwrap();
        (collection.before)(page, &mut items);
        let total = items.len();
        let size_usize = size as usize;
        let last = total.div_ceil(size_usize).max(1);
        let served = if collection.ignore_page {
            1
        } else {
            (page as usize).clamp(1, last)
        };
        let page_items: Vec<Value> = items
            .iter()
            .skip((served - 1) * size_usize)
            .take(size_usize)
            .cloned()
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({
            "items": page_items,
            "search_criteria": {
                "filter_groups": [],
                "page_size": size,
                "current_page": page
            },
            "total_count": total
        }))
    }
}

pub fn order(id: u64) -> Value {
    json!({
        "entity_id": id,
        "increment_id": format!("{id:09}"),
        "grand_total": 10.5,
        "base_grand_total": 10.5,
        "customer_email": "buyer@example.com",
        "updated_at": "2026-03-01 00:00:00",
        "items": []
    })
}

pub fn ids_of<T>(items: &[T], key: impl Fn(&T) -> Option<u64>) -> Vec<u64> {
    items.iter().map(|i| key(i).expect("id present")).collect()
}
