//! One handler per Commerce resource, with request builders that end in `.send()`.
//!
//! ```no_run
//! # async fn run(client: adobe_commerce_client::Client) -> Result<(), adobe_commerce_client::Error> {
//! use adobe_commerce_client::models::OrderId;
//! use adobe_commerce_client::search::SearchCriteria;
//! use futures::TryStreamExt;
//!
//! let order = client.orders().get(OrderId(3)).send().await?;
//! let page = client.invoices().search(SearchCriteria::new().page_size(50)).send().await?;
//! let all: Vec<_> = client.credit_memos().search(SearchCriteria::new()).stream().try_collect().await?;
//! let product = client.products().get("HD01/M").send().await?;
//! # let _ = (order, page, all, product);
//! # Ok(())
//! # }
//! ```
//!
//! Store scope comes from the client: `client.with_store("de").orders()` reads through
//! `/rest/de/V1/...` (or the `Store` header on SaaS). Sales lists are not filtered by the store in
//! the URL; add [`SearchCriteria::store_id`] for that.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::client::{ApiRequest, Client, encode_path_segment};
use crate::error::Error;
use crate::models::{
    CreditMemo, CreditMemoId, Customer, CustomerId, Invoice, InvoiceId, Order, OrderId, Product,
    SearchResults, StoreId,
};
use crate::page::{Entity, FetchPage, ItemStream, Page, PageStream};
use crate::search::SearchCriteria;

impl Client {
    /// Sales orders: `/V1/orders`.
    pub fn orders(&self) -> OrdersHandler {
        OrdersHandler {
            client: self.clone(),
        }
    }

    /// Invoices: `/V1/invoices`.
    pub fn invoices(&self) -> InvoicesHandler {
        InvoicesHandler {
            client: self.clone(),
        }
    }

    /// Credit memos: `/V1/creditmemos` (list) and `/V1/creditmemo/{id}` (one).
    pub fn credit_memos(&self) -> CreditMemosHandler {
        CreditMemosHandler {
            client: self.clone(),
        }
    }

    /// Customers: `/V1/customers/search` and `/V1/customers/{id}`.
    pub fn customers(&self) -> CustomersHandler {
        CustomersHandler {
            client: self.clone(),
        }
    }

    /// Catalog products: `/V1/products`.
    pub fn products(&self) -> ProductsHandler {
        ProductsHandler {
            client: self.clone(),
        }
    }
}

/// Reads one entity by id (or SKU).
#[must_use = "a request does nothing until `.send()` is awaited"]
pub struct GetRequest<T> {
    client: Client,
    path: String,
    query: Vec<(String, String)>,
    entity: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for GetRequest<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetRequest")
            .field("path", &self.path)
            .field("query", &self.query)
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned> GetRequest<T> {
    fn new(client: &Client, path: String) -> Self {
        GetRequest {
            client: client.clone(),
            path,
            query: Vec::new(),
            entity: PhantomData,
        }
    }

    /// Returns only these fields (Commerce's `fields` parameter, e.g.
    /// `entity_id,increment_id,items[sku,qty_ordered]`); fields left out decode as `None`.
    pub fn fields(mut self, projection: impl Into<String>) -> Self {
        self.query.push(("fields".to_owned(), projection.into()));
        self
    }

    /// The request that [`send`](Self::send) executes.
    pub fn to_request(&self) -> ApiRequest {
        ApiRequest::get(self.path.clone()).queries(self.query.clone())
    }

    /// Reads the entity.
    ///
    /// # Errors
    ///
    /// Any [`Error`] from the client; a missing entity is an `Api` error with status 404.
    pub async fn send(self) -> Result<T, Error> {
        let request = self.to_request();
        self.client.execute(request).await
    }
}

impl GetRequest<Product> {
    /// Reads the product's values for one store view (`storeId`), rather than the client's store
    /// scope.
    pub fn store_id(mut self, store: StoreId) -> Self {
        self.query.push(("storeId".to_owned(), store.to_string()));
        self
    }
}

/// Searches one resource with [`SearchCriteria`].
#[must_use = "a request does nothing until `.send()` is awaited or `.stream()` is polled"]
pub struct SearchRequest<T> {
    client: Client,
    path: &'static str,
    criteria: SearchCriteria,
    entity: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for SearchRequest<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchRequest")
            .field("path", &self.path)
            .field("criteria", &self.criteria)
            .finish_non_exhaustive()
    }
}

impl<T> SearchRequest<T>
where
    T: DeserializeOwned + Entity + Send + 'static,
{
    fn new(client: &Client, path: &'static str, criteria: SearchCriteria) -> Self {
        SearchRequest {
            client: client.clone(),
            path,
            criteria,
            entity: PhantomData,
        }
    }

    /// The request that [`send`](Self::send) executes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the criteria break a limit (see [`SearchCriteria::validate`]).
    pub fn to_request(&self) -> Result<ApiRequest, Error> {
        Ok(ApiRequest::get(self.path).queries(self.criteria.to_query_pairs()?))
    }

    /// Reads the one page the criteria select.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for criteria that break a limit (nothing is sent), otherwise any
    /// [`Error`] from the client.
    pub async fn send(self) -> Result<Page<T>, Error> {
        let request = self.to_request()?;
        let results: SearchResults<T> = self.client.execute(request).await?;
        Ok(Page::from_results(
            results,
            self.criteria.requested_page().unwrap_or(1),
            self.criteria.requested_page_size(),
        ))
    }

    /// Every page, from the criteria's page on; see [`crate::page`] for how paging ends.
    pub fn pages(self) -> PageStream<T> {
        let client = self.client;
        let path = self.path;
        let fetch: FetchPage<T> = Arc::new(move |criteria: SearchCriteria| {
            let client = client.clone();
            Box::pin(async move {
                let request = ApiRequest::get(path).queries(criteria.to_query_pairs()?);
                client.execute::<SearchResults<T>>(request).await
            })
        });
        PageStream::new(fetch, self.criteria)
    }

    /// Every matching entity, each id once; see [`crate::page`] for how paging ends.
    pub fn stream(self) -> ItemStream<T> {
        self.pages().items()
    }
}

/// Sales orders.
#[derive(Debug, Clone)]
pub struct OrdersHandler {
    client: Client,
}

impl OrdersHandler {
    /// `GET /V1/orders/{id}` (the `entity_id`, not the increment id).
    pub fn get(&self, id: OrderId) -> GetRequest<Order> {
        GetRequest::new(&self.client, format!("orders/{id}"))
    }

    /// `GET /V1/orders` with search criteria.
    pub fn search(&self, criteria: SearchCriteria) -> SearchRequest<Order> {
        SearchRequest::new(&self.client, "orders", criteria)
    }
}

/// Invoices.
#[derive(Debug, Clone)]
pub struct InvoicesHandler {
    client: Client,
}

impl InvoicesHandler {
    /// `GET /V1/invoices/{id}`.
    pub fn get(&self, id: InvoiceId) -> GetRequest<Invoice> {
        GetRequest::new(&self.client, format!("invoices/{id}"))
    }

    /// `GET /V1/invoices` with search criteria.
    pub fn search(&self, criteria: SearchCriteria) -> SearchRequest<Invoice> {
        SearchRequest::new(&self.client, "invoices", criteria)
    }
}

/// Credit memos.
#[derive(Debug, Clone)]
pub struct CreditMemosHandler {
    client: Client,
}

impl CreditMemosHandler {
    /// `GET /V1/creditmemo/{id}` (singular, unlike the list).
    pub fn get(&self, id: CreditMemoId) -> GetRequest<CreditMemo> {
        GetRequest::new(&self.client, format!("creditmemo/{id}"))
    }

    /// `GET /V1/creditmemos` with search criteria.
    pub fn search(&self, criteria: SearchCriteria) -> SearchRequest<CreditMemo> {
        SearchRequest::new(&self.client, "creditmemos", criteria)
    }
}

/// Customers.
#[derive(Debug, Clone)]
pub struct CustomersHandler {
    client: Client,
}

impl CustomersHandler {
    /// `GET /V1/customers/{id}`.
    pub fn get(&self, id: CustomerId) -> GetRequest<Customer> {
        GetRequest::new(&self.client, format!("customers/{id}"))
    }

    /// `GET /V1/customers/search` with search criteria.
    pub fn search(&self, criteria: SearchCriteria) -> SearchRequest<Customer> {
        SearchRequest::new(&self.client, "customers/search", criteria)
    }

    /// Sets one custom attribute on a customer, e.g. the ERP customer code.
    ///
    /// Commerce replaces the whole customer on `PUT /V1/customers/{id}`, so the customer is read
    /// first and written back unchanged except for this attribute; fields this crate does not
    /// model survive because the customer is handled as raw JSON in between.
    pub fn update_custom_attribute(
        &self,
        id: CustomerId,
        attribute_code: impl Into<String>,
        value: impl Into<Value>,
    ) -> UpdateCustomAttribute {
        UpdateCustomAttribute {
            client: self.client.clone(),
            id,
            attribute_code: attribute_code.into(),
            value: value.into(),
        }
    }
}

/// Sets one custom attribute on a customer; see
/// [`CustomersHandler::update_custom_attribute`].
#[derive(Debug)]
#[must_use = "a request does nothing until `.send()` is awaited"]
pub struct UpdateCustomAttribute {
    client: Client,
    id: CustomerId,
    attribute_code: String,
    value: Value,
}

impl UpdateCustomAttribute {
    /// Reads the customer, sets the attribute and writes the customer back.
    ///
    /// Between the read and the write another change to the same customer would be overwritten;
    /// Commerce offers no conditional update for customers.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty attribute code (nothing is sent); any [`Error`] from
    /// the read or the write. Returns the customer as Commerce saved it.
    pub async fn send(self) -> Result<Customer, Error> {
        if self.attribute_code.trim().is_empty() {
            return Err(Error::InvalidInput {
                field: "attribute_code".to_owned(),
                expected: "a non-empty custom attribute code".to_owned(),
            });
        }
        let path = format!("customers/{}", self.id);
        let mut customer: Map<String, Value> =
            self.client.execute(ApiRequest::get(path.clone())).await?;
        set_custom_attribute(&mut customer, &self.attribute_code, self.value);
        let body = json!({ "customer": Value::Object(customer) });
        self.client.execute(ApiRequest::put(path, body)).await
    }
}

/// Replaces the attribute's value in `custom_attributes`, or appends it.
fn set_custom_attribute(customer: &mut Map<String, Value>, code: &str, value: Value) {
    let attributes = customer
        .entry("custom_attributes")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !attributes.is_array() {
        *attributes = Value::Array(Vec::new());
    }
    let Value::Array(list) = attributes else {
        return;
    };
    let existing = list
        .iter_mut()
        .find(|a| a.get("attribute_code").and_then(Value::as_str) == Some(code));
    match existing {
        Some(Value::Object(entry)) => {
            entry.insert("value".to_owned(), value);
        }
        _ => list.push(json!({ "attribute_code": code, "value": value })),
    }
}

/// Catalog products.
#[derive(Debug, Clone)]
pub struct ProductsHandler {
    client: Client,
}

impl ProductsHandler {
    /// `GET /V1/products/{sku}`, the SKU percent-encoded (`/` becomes `%2F`).
    ///
    /// Servers behind Apache without `AllowEncodedSlashes NoDecode`, and some releases with OAuth
    /// 1.0a, fail on SKUs containing `/`; [`search`](Self::search) with
    /// `Filter::eq("sku", ...)` avoids the path entirely.
    pub fn get(&self, sku: impl AsRef<str>) -> GetRequest<Product> {
        GetRequest::new(
            &self.client,
            format!("products/{}", encode_path_segment(sku.as_ref())),
        )
    }

    /// `GET /V1/products` with search criteria.
    pub fn search(&self, criteria: SearchCriteria) -> SearchRequest<Product> {
        SearchRequest::new(&self.client, "products", criteria)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_attribute_is_replaced_in_place() {
        let mut customer = json!({
            "id": 1,
            "custom_attributes": [
                {"attribute_code": "a", "value": "1"},
                {"attribute_code": "code", "value": "OLD"}
            ]
        });
        set_custom_attribute(customer.as_object_mut().unwrap(), "code", json!("NEW"));
        assert_eq!(
            customer["custom_attributes"],
            json!([
                {"attribute_code": "a", "value": "1"},
                {"attribute_code": "code", "value": "NEW"}
            ])
        );
    }

    #[test]
    fn custom_attribute_is_appended_when_missing() {
        let mut customer = json!({"id": 1});
        set_custom_attribute(customer.as_object_mut().unwrap(), "code", json!("X"));
        assert_eq!(
            customer["custom_attributes"],
            json!([{"attribute_code": "code", "value": "X"}])
        );
        let mut null_list = json!({"id": 1, "custom_attributes": null});
        set_custom_attribute(null_list.as_object_mut().unwrap(), "code", json!("Y"));
        assert_eq!(
            null_list["custom_attributes"],
            json!([{"attribute_code": "code", "value": "Y"}])
        );
    }
}
