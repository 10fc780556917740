//! A typed async client for the Adobe Commerce (Magento 2) REST API.
//!
//! It reads orders, invoices, credit memos, customers and products with exact money
//! ([`rust_decimal::Decimal`]) and UTC timestamps, pages through searches the way Commerce needs
//! (stopping by `total_count`, because a page past the end returns the last page again),
//! authenticates with OAuth 1.0a (HMAC-SHA256), a bearer token or Adobe IMS, retries what is
//! transient, and verifies Commerce webhooks.
//!
//! # Quick start
//!
//! ```no_run
//! use adobe_commerce_client::models::{CustomerId, OrderId, StoreId};
//! use adobe_commerce_client::{Client, Credentials, SearchCriteria, SortDirection};
//! use futures::TryStreamExt;
//! use time::macros::datetime;
//!
//! # async fn run() -> Result<(), adobe_commerce_client::Error> {
//! let client = Client::builder("https://shop.example.com")
//!     .credentials(Credentials::oauth1(
//!         "consumer key",
//!         "consumer secret",
//!         "access token",
//!         "access token secret",
//!     ))
//!     .build()?;
//!
//! // One order by its entity id.
//! let order = client.orders().get(OrderId(3)).send().await?;
//! for line in order.priced_items() {
//!     println!("{:?} {:?}", line.sku, line.row_total);
//! }
//!
//! // Every order of store 1 changed since a watermark, oldest first, each id once.
//! let criteria = SearchCriteria::new()
//!     .updated_since(datetime!(2026-03-01 00:00:00 UTC))
//!     .store_id(StoreId(1))
//!     .sort_by("updated_at", SortDirection::Asc)
//!     .sort_by("entity_id", SortDirection::Asc)
//!     .page_size(100);
//! let changed: Vec<_> = client.orders().search(criteria).stream().try_collect().await?;
//! println!("{} orders changed", changed.len());
//!
//! // Write an ERP customer code back to a customer attribute, through a store view's scope.
//! client
//!     .with_store("default")
//!     .customers()
//!     .update_custom_attribute(CustomerId(42), "syspro_customer_code", "JDOE01")
//!     .send()
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! * [`Client`] executes [`ApiRequest`]s: base URL and store scope, authentication, rate limit,
//!   timeouts and retries, and decoding with the JSON path of any decode error.
//! * [`resources`]: one handler per resource (`client.orders()`, `invoices()`, `credit_memos()`,
//!   `customers()`, `products()`) whose builders end in `.send()`, `.pages()` or `.stream()`.
//! * [`search`]: [`SearchCriteria`] with filter groups, every condition type, sort orders and
//!   paging, validated before anything is sent.
//! * [`page`]: [`Page`] and the streams over all pages, with their stop rules.
//! * [`models`]: the typed entities, tolerant of omitted and `null` fields and of values this
//!   crate does not know.
//! * [`webhook`]: signature verification and replies for Commerce webhooks.
//!
//! # Errors
//!
//! Every fallible call returns [`Error`], split by where the call failed: bad input caught before
//! sending ([`Error::InvalidInput`]), authentication, timeouts, transport, a Commerce rejection
//! with its message rendered and HTTP status kept, or an answer that did not decode.

// ---- transport, auth, errors, retries, webhooks -------------------------------------------------
pub mod auth;
pub mod client;
pub mod error;
pub mod retry;
pub mod webhook;

pub use auth::{Credentials, ImsCredentials, OAuth1Credentials};
pub use client::{
    ApiRequest, Client, ClientBuilder, Clock, Flavour, HttpTransport, SystemClock, Timeouts,
    encode_path_segment,
};
pub use error::{ApiError, AuthError, Error, TimeoutLayer, TransportErrorKind, WebhookError};
pub use retry::{Jitter, RetryPolicy};
pub use webhook::{SignedContent, WebhookReply, WebhookVerifier};

// ---- models, search criteria, paging, resource handlers -----------------------------------------
pub mod models;
pub mod page;
pub mod resources;
pub mod search;

pub use page::{ItemStream, Page, PageStream, StopReason};
pub use resources::{
    CreditMemosHandler, CustomersHandler, GetRequest, InvoicesHandler, OrdersHandler,
    ProductsHandler, SearchRequest, UpdateCustomAttribute,
};
pub use search::{Condition, Filter, FilterGroup, SearchCriteria, SortDirection};
