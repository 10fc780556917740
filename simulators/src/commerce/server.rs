//! The HTTP side: one fallback handler that routes by hand (store codes make axum's router awkward and
//! hand routing is quicker), auth, faults, the REST endpoints and the `/__sim/` inspection API.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::clock::SimClock;
use super::dataset::{Dataset, NewOrder, Rendered};
use super::faults::{CommerceFaults, Early};
use super::oauth::{self, Integration, NonceStore, rawurldecode};
use super::rng::SimRng;
use super::search::{
    self, ApiError, CREDITMEMO_COLUMNS, CUSTOMER_COLUMNS, Collection, Criteria, INVOICE_COLUMNS,
    ORDER_COLUMNS, PRODUCT_COLUMNS, leaf, parse_query,
};
use super::webhook::{self, Delivery, WebhookKey};

/// An issued IMS access token.
#[derive(Debug, Clone)]
struct ImsToken {
    expires_at: i64,
    has_commerce_scope: bool,
}

/// Server state shared by all requests. Locks are never held across an `.await`.
pub(crate) struct Shared {
    pub seed: u64,
    pub data: RwLock<Dataset>,
    pub faults: RwLock<CommerceFaults>,
    nonces: Mutex<NonceStore>,
    ims_tokens: Mutex<HashMap<String, ImsToken>>,
    pub calls: Mutex<BTreeMap<String, u64>>,
    api_sequence: AtomicU64,
    pub clock: SimClock,
    pub integration: Integration,
    pub admin_username: String,
    pub admin_password: String,
    pub admin_token: String,
    pub ims_client_id: String,
    pub ims_client_secret: String,
    pub ims_org_id: String,
    pub ims_lifetime_secs: i64,
    pub integration_bearer: bool,
    pub webhook_key: WebhookKey,
    pub webhook_url: RwLock<Option<String>>,
    pub webhooks_on_change: bool,
    deliveries: Mutex<Vec<Delivery>>,
    webhook_sequence: AtomicU64,
    http: reqwest::Client,
    /// Bumped by every change of `data` (see [`Shared::write_data`]).
    data_generation: AtomicU64,
    /// The latest search's hits, reused by the next pages of the same search.
    search_cache: Mutex<Option<CachedSearch>>,
}

/// The hits of one search (filters and sort order, paging aside) over one generation of the data.
struct CachedSearch {
    key: String,
    generation: u64,
    hits: Arc<Vec<usize>>,
}

/// Inputs to [`Shared::new`] besides the data set.
pub(crate) struct SharedInit {
    pub seed: u64,
    pub data: Dataset,
    pub faults: CommerceFaults,
    pub ims_lifetime_secs: i64,
    pub integration_bearer: bool,
    pub webhook_key: WebhookKey,
    pub webhook_url: Option<String>,
    pub webhooks_on_change: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(init: SharedInit) -> Self {
        let mut rng = SimRng::derived(init.seed, 10);
        let integration = Integration {
            consumer_id: 1,
            consumer_key: rng.alnum(32),
            consumer_secret: rng.alnum(32),
            access_token: rng.alnum(32),
            access_token_secret: rng.alnum(32),
        };
        let admin_password = format!("Adm1n-{}", rng.alnum(12));
        let admin_token = format!("eyJhZG1pbiI6MX0.{}", rng.alnum(40));
        let ims_client_id = rng.alnum(32);
        let ims_client_secret = format!("p8e-{}", rng.alnum(28));
        let ims_org_id = format!("{}@AdobeOrg", rng.alnum(24).to_uppercase());
        Self {
            seed: init.seed,
            data: RwLock::new(init.data),
            faults: RwLock::new(init.faults),
            nonces: Mutex::new(NonceStore::default()),
            ims_tokens: Mutex::new(HashMap::new()),
            calls: Mutex::new(BTreeMap::new()),
            api_sequence: AtomicU64::new(0),
            clock: SimClock::default(),
            integration,
            admin_username: "admin".to_owned(),
            admin_password,
            admin_token,
            ims_client_id,
            ims_client_secret,
            ims_org_id,
            ims_lifetime_secs: init.ims_lifetime_secs,
            integration_bearer: init.integration_bearer,
            webhook_key: init.webhook_key,
            webhook_url: RwLock::new(init.webhook_url),
            webhooks_on_change: init.webhooks_on_change,
            deliveries: Mutex::new(Vec::new()),
            webhook_sequence: AtomicU64::new(0),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
            data_generation: AtomicU64::new(0),
            search_cache: Mutex::new(None),
        }
    }

    /// The data, to change: every change makes a new generation, so no cached search outlives it.
    fn write_data(&self) -> std::sync::RwLockWriteGuard<'_, Dataset> {
        let guard = write(&self.data);
        self.data_generation.fetch_add(1, Ordering::AcqRel);
        guard
    }

    fn count(&self, key: &str) {
        *lock(&self.calls).entry(key.to_owned()).or_insert(0) += 1;
    }
}

const JSON_TYPE: &str = "application/json; charset=utf-8";

fn json_response(status: u16, body: String) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_TYPE));
    resp
}

fn error_response(e: &ApiError) -> Response {
    json_response(e.status, e.body().to_string())
}

fn sim_error(status: u16, message: impl Into<String>) -> Response {
    json_response(status, json!({"error": message.into()}).to_string())
}

fn route_not_found() -> ApiError {
    ApiError::new(404, "Request does not match any route.", Value::Null)
}

/// Entry point for every request.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 8 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or("").to_owned();
    if let Some(rest) = path.strip_prefix("/__sim") {
        return sim_api(&shared, &parts.method, rest, &body).await;
    }
    if path == "/ims/token/v3" && parts.method == Method::POST {
        return ims_token(&shared, &parts.headers, &query, &body);
    }
    api(&shared, &parts.method, &parts.headers, &path, &query, &body).await
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavour {
    /// `/rest[/<store>]/V1/...`, OAuth or bearer.
    Paas,
    /// `/V1/...` with a `Store` header, IMS tokens only.
    Saas,
}

const STORE_CODES: &[&str] = &["default", "all", "web", "marketplace", "b2b"];

/// Splits a path into flavour and the part after `V1/`.
fn split_path(path: &str) -> Option<(Flavour, &str)> {
    if let Some(rest) = path.strip_prefix("/rest/") {
        if let Some(v1) = rest.strip_prefix("V1/") {
            return Some((Flavour::Paas, v1));
        }
        let (code, tail) = rest.split_once('/')?;
        if STORE_CODES.contains(&code) {
            return tail.strip_prefix("V1/").map(|v1| (Flavour::Paas, v1));
        }
        return None;
    }
    path.strip_prefix("/V1/").map(|v1| (Flavour::Saas, v1))
}

#[derive(Debug)]
enum Endpoint<'a> {
    Orders,
    Order(&'a str),
    Invoices,
    Invoice(&'a str),
    Creditmemos,
    Creditmemo(&'a str),
    CustomersSearch,
    Customer(&'a str),
    CustomerUpdate(&'a str),
    Products,
    Product(&'a str),
    AdminToken,
}

impl Endpoint<'_> {
    fn key(&self) -> &'static str {
        match self {
            Self::Orders => "GET /V1/orders",
            Self::Order(_) => "GET /V1/orders/{id}",
            Self::Invoices => "GET /V1/invoices",
            Self::Invoice(_) => "GET /V1/invoices/{id}",
            Self::Creditmemos => "GET /V1/creditmemos",
            Self::Creditmemo(_) => "GET /V1/creditmemo/{id}",
            Self::CustomersSearch => "GET /V1/customers/search",
            Self::Customer(_) => "GET /V1/customers/{id}",
            Self::CustomerUpdate(_) => "PUT /V1/customers/{id}",
            Self::Products => "GET /V1/products",
            Self::Product(_) => "GET /V1/products/{sku}",
            Self::AdminToken => "POST /V1/integration/admin/token",
        }
    }

    /// The ACL resource named in a 401.
    fn resource(&self) -> &'static str {
        match self {
            Self::Orders | Self::Order(_) => "Magento_Sales::actions_view",
            Self::Invoices | Self::Invoice(_) => "Magento_Sales::sales_invoice",
            Self::Creditmemos | Self::Creditmemo(_) => "Magento_Sales::sales_creditmemo",
            Self::CustomersSearch | Self::Customer(_) => "Magento_Customer::customer",
            Self::CustomerUpdate(_) => "Magento_Customer::manage",
            Self::Products | Self::Product(_) => "Magento_Catalog::products",
            Self::AdminToken => "anonymous",
        }
    }
}

fn endpoint<'a>(method: &Method, v1: &'a str) -> Option<Endpoint<'a>> {
    let v1 = v1.strip_suffix('/').unwrap_or(v1);
    let (head, tail) = match v1.split_once('/') {
        Some((h, t)) => (h, Some(t)),
        None => (v1, None),
    };
    let single = tail.filter(|t| !t.is_empty() && !t.contains('/'));
    match (method, head, tail) {
        (&Method::GET, "orders", None) => Some(Endpoint::Orders),
        (&Method::GET, "orders", Some(_)) => single.map(Endpoint::Order),
        (&Method::GET, "invoices", None) => Some(Endpoint::Invoices),
        (&Method::GET, "invoices", Some(_)) => single.map(Endpoint::Invoice),
        (&Method::GET, "creditmemos", None) => Some(Endpoint::Creditmemos),
        (&Method::GET, "creditmemo", Some(_)) => single.map(Endpoint::Creditmemo),
        (&Method::GET, "customers", Some("search")) => Some(Endpoint::CustomersSearch),
        (&Method::GET, "customers", Some(_)) => single.map(Endpoint::Customer),
        (&Method::PUT, "customers", Some(_)) => single.map(Endpoint::CustomerUpdate),
        (&Method::GET, "products", None) => Some(Endpoint::Products),
        (&Method::GET, "products", Some(t)) if !t.is_empty() => Some(Endpoint::Product(t)),
        (&Method::POST, "integration", Some("admin/token")) => Some(Endpoint::AdminToken),
        _ => None,
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn api(
    shared: &Arc<Shared>,
    method: &Method,
    headers: &HeaderMap,
    path: &str,
    query: &str,
    body: &Bytes,
) -> Response {
    let Some((flavour, v1)) = split_path(path) else {
        shared.count("unrouted");
        return error_response(&route_not_found());
    };
    if flavour == Flavour::Saas {
        let store = header_str(headers, "store").unwrap_or("default");
        if !STORE_CODES.contains(&store) {
            return error_response(&ApiError::new(
                404,
                "The store that was requested wasn't found. Verify the store and try again.",
                Value::Null,
            ));
        }
    }
    let Some(ep) = endpoint(method, v1) else {
        shared.count("unrouted");
        return error_response(&route_not_found());
    };
    shared.count(ep.key());
    let sequence = shared.api_sequence.fetch_add(1, Ordering::Relaxed);
    let faults = read(&shared.faults).clone();
    let faults = if faults.meet(ep.key()) {
        faults
    } else {
        CommerceFaults {
            max_page_size: faults.max_page_size,
            ..CommerceFaults::default()
        }
    };
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    match faults.early(shared.seed, sequence) {
        Some(Early::Hang) => tokio::time::sleep(Duration::from_millis(faults.hang_ms)).await,
        Some(Early::RateLimited) => {
            let mut resp = json_response(
                429,
                json!({"message": "Too Many Requests", "trace": null}).to_string(),
            );
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if let Some(secs) = faults.retry_after_secs
                && let Ok(v) = HeaderValue::from_str(&secs.to_string())
            {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return resp;
        }
        Some(Early::SlowRateLimited) => {
            tokio::time::sleep(Duration::from_millis(faults.slow_429_delay_ms)).await;
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::CONTENT_TYPE, "text/plain")],
                "Limit Exceeded",
            )
                .into_response();
        }
        Some(Early::ServerError) => {
            let status = faults.server_error_status;
            if status == 500 {
                let e = ApiError::new(
                    500,
                    format!(
                        "Internal Error. Details are available in Magento log file. Report ID: webapi-{sequence:013x}"
                    ),
                    Value::Null,
                );
                return error_response(&e);
            }
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let html = format!(
                "<html><body><h1>{} {}</h1></body></html>",
                code.as_u16(),
                code.canonical_reason().unwrap_or("Error")
            );
            return (code, [(header::CONTENT_TYPE, "text/html")], html).into_response();
        }
        None => {}
    }
    if !matches!(ep, Endpoint::AdminToken)
        && let Err(e) = authorize(
            shared,
            flavour,
            method,
            headers,
            path,
            query,
            body,
            ep.resource(),
        )
    {
        return error_response(&e);
    }
    let nulls = faults.nulls(shared.seed, sequence);
    // Searching and rendering a page of a large shop takes a while: it runs off the async
    // workers, so the SYSPRO fake served by the same process answers on time meanwhile.
    let result = {
        let (shared, method, path, query, body, faults) = (
            Arc::clone(shared),
            method.clone(),
            path.to_owned(),
            query.to_owned(),
            body.clone(),
            faults.clone(),
        );
        let work = tokio::task::spawn_blocking(move || {
            let routed = split_path(&path)
                .and_then(|(flavour, v1)| endpoint(&method, v1).map(|ep| (flavour, ep)));
            match routed {
                Some((flavour, ep)) => {
                    execute(&shared, flavour, &ep, &query, &body, nulls, &faults)
                }
                None => Err(route_not_found()),
            }
        });
        match work.await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {
                return error_response(&ApiError::new(503, "Service shutting down", Value::Null));
            }
        }
    };
    match result {
        Ok(text) => {
            if faults.truncate(shared.seed, sequence) {
                let mut cut = text.len() / 2;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                return json_response(200, text[..cut].to_owned());
            }
            json_response(200, text)
        }
        Err(e) => error_response(&e),
    }
}

#[allow(clippy::too_many_arguments)]
fn authorize(
    shared: &Shared,
    flavour: Flavour,
    method: &Method,
    headers: &HeaderMap,
    path: &str,
    query: &str,
    body: &Bytes,
    resource: &str,
) -> Result<(), ApiError> {
    let denied = || {
        ApiError::new(
            401,
            "The consumer isn't authorized to access %resources.",
            json!({"resources": resource}),
        )
    };
    let auth = header_str(headers, "authorization").unwrap_or("");
    let bearer = auth
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("bearer "))
        .map(|_| auth[7..].trim());
    match flavour {
        Flavour::Saas => {
            let Some(token) = bearer else {
                return Err(denied());
            };
            let now = shared.clock.now();
            let tokens = lock(&shared.ims_tokens);
            match tokens.get(token) {
                Some(t) if t.expires_at > now && t.has_commerce_scope => Ok(()),
                _ => Err(denied()),
            }
        }
        Flavour::Paas => {
            if let Some(token) = bearer {
                let ok = token == shared.admin_token
                    || (shared.integration_bearer && token == shared.integration.access_token);
                return if ok { Ok(()) } else { Err(denied()) };
            }
            if !auth.to_ascii_lowercase().contains("oauth ") {
                return Err(denied());
            }
            let form = header_str(headers, "content-type")
                .filter(|ct| ct.starts_with("application/x-www-form-urlencoded"))
                .and_then(|_| std::str::from_utf8(body).ok());
            let host = header_str(headers, "host").unwrap_or("127.0.0.1");
            let req = oauth::Request {
                method: method.as_str(),
                host,
                path,
                query,
                form_body: form,
                header: auth,
            };
            let now = shared.clock.now();
            let mut nonces = lock(&shared.nonces);
            oauth::verify(&req, &shared.integration, &mut nonces, now)
        }
    }
}

fn parse_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().map_err(|_| {
        ApiError::new(
            400,
            "The \"%value\" value's type is invalid. The \"%type\" type was expected. Verify and try again.",
            json!({"value": raw, "type": "int"}),
        )
    })
}

fn entity_missing() -> ApiError {
    ApiError::new(
        404,
        "The entity that was requested doesn't exist. Verify the entity and try again.",
        Value::Null,
    )
}

#[derive(Clone, Copy)]
enum ListKind {
    Orders,
    Invoices,
    Creditmemos,
    Customers,
    Products,
}

impl ListKind {
    const fn name(self) -> &'static str {
        match self {
            Self::Orders => "orders",
            Self::Invoices => "invoices",
            Self::Creditmemos => "creditmemos",
            Self::Customers => "customers",
            Self::Products => "products",
        }
    }
}

/// Required fields that the null fault blanks, per collection.
fn null_field(kind: ListKind) -> Option<&'static str> {
    match kind {
        ListKind::Orders => Some("customer_email"),
        ListKind::Invoices => Some("total_qty"),
        _ => None,
    }
}

fn blank(value: &mut Value, field: &str) {
    if let Some(m) = value.as_object_mut() {
        m.insert(field.to_owned(), Value::Null);
    }
}

fn single(rendered: &Rendered, query: &str, null: Option<&str>) -> String {
    let q = parse_query(query);
    let fields = leaf(&q, "fields").filter(|f| !f.is_empty());
    if fields.is_none() && null.is_none() {
        return rendered.json.clone();
    }
    let mut v = rendered.value.clone();
    if let Some(f) = null {
        blank(&mut v, f);
    }
    if let Some(spec) = fields {
        v = search::project(&v, &search::parse_fields(spec));
    }
    v.to_string()
}

fn list(
    shared: &Shared,
    kind: ListKind,
    query: &str,
    nulls: bool,
    faults: &CommerceFaults,
) -> Result<String, ApiError> {
    let q = parse_query(query);
    let mut crit: Criteria = search::criteria(&q)?.ok_or_else(|| {
        ApiError::new(
            400,
            "\"%fieldName\" is required. Enter and try again.",
            json!({"fieldName": "searchCriteria"}),
        )
    })?;
    let echo = search::echo(&crit);
    let mut default_page_size = None;
    if let Some(max) = faults.max_page_size {
        if crit.page_size.is_some_and(|p| p > i64::from(max)) {
            return Err(ApiError::new(
                400,
                "Maximum SearchCriteria pageSize is %max",
                json!({"max": max}),
            ));
        }
        default_page_size = Some(20);
    }
    if matches!(kind, ListKind::Customers | ListKind::Products) {
        for f in crit.groups.iter_mut().flatten() {
            if f.field == "entity_id" {
                f.field = "id".to_owned();
            }
        }
        for s in &mut crit.sorts {
            if s.field == "entity_id" {
                s.field = "id".to_owned();
            }
        }
    }
    let data = read(&shared.data);
    let (records, columns): (Vec<&Rendered>, &[&str]) = match kind {
        ListKind::Orders => (
            data.orders.values().map(|r| &r.rendered).collect(),
            ORDER_COLUMNS,
        ),
        ListKind::Invoices => (
            data.invoices.values().map(|r| &r.rendered).collect(),
            INVOICE_COLUMNS,
        ),
        ListKind::Creditmemos => (
            data.creditmemos.values().map(|r| &r.rendered).collect(),
            CREDITMEMO_COLUMNS,
        ),
        ListKind::Customers => (
            data.customers.values().map(|r| &r.rendered).collect(),
            CUSTOMER_COLUMNS,
        ),
        ListKind::Products => (data.product_json.iter().collect(), PRODUCT_COLUMNS),
    };
    // A stream is read page after page with the same search; its hits are selected and sorted
    // once per generation of the data, not again for every page.
    let generation = shared.data_generation.load(Ordering::Acquire);
    let key = format!(
        "{} {}",
        kind.name(),
        search::echo(&Criteria {
            page_size: None,
            current_page: None,
            ..crit.clone()
        })
    );
    let collection = Collection { records, columns };
    let cached = lock(&shared.search_cache)
        .as_ref()
        .filter(|c| c.generation == generation && c.key == key)
        .map(|c| Arc::clone(&c.hits));
    let hits = match cached {
        Some(hits) => hits,
        None => {
            let hits = Arc::new(search::select(&collection, &crit)?);
            *lock(&shared.search_cache) = Some(CachedSearch {
                key,
                generation,
                hits: Arc::clone(&hits),
            });
            hits
        }
    };
    let (positions, total_count) = search::paginate(&hits, &crit, default_page_size);
    let page = search::Page {
        items: positions
            .into_iter()
            .map(|p| collection.records[p])
            .collect(),
        total_count,
    };
    let fields = leaf(&q, "fields").filter(|f| !f.is_empty());
    let null = if nulls { null_field(kind) } else { None };
    if fields.is_none() && null.is_none() {
        let mut out =
            String::with_capacity(page.items.iter().map(|r| r.json.len() + 1).sum::<usize>() + 256);
        out.push_str("{\"items\":[");
        for (i, r) in page.items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&r.json);
        }
        out.push_str("],\"search_criteria\":");
        out.push_str(&echo.to_string());
        out.push_str(",\"total_count\":");
        out.push_str(&page.total_count.to_string());
        out.push('}');
        return Ok(out);
    }
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|r| {
            let mut v = r.value.clone();
            if let Some(f) = null {
                blank(&mut v, f);
            }
            v
        })
        .collect();
    let mut v = json!({"items": items, "search_criteria": echo, "total_count": page.total_count});
    if let Some(spec) = fields {
        v = search::project(&v, &search::parse_fields(spec));
    }
    Ok(v.to_string())
}

fn execute(
    shared: &Shared,
    flavour: Flavour,
    ep: &Endpoint<'_>,
    query: &str,
    body: &Bytes,
    nulls: bool,
    faults: &CommerceFaults,
) -> Result<String, ApiError> {
    let null_order = nulls.then_some("customer_email");
    let null_invoice = nulls.then_some("total_qty");
    match ep {
        Endpoint::Orders => list(shared, ListKind::Orders, query, nulls, faults),
        Endpoint::Invoices => list(shared, ListKind::Invoices, query, nulls, faults),
        Endpoint::Creditmemos => list(shared, ListKind::Creditmemos, query, nulls, faults),
        Endpoint::CustomersSearch => list(shared, ListKind::Customers, query, nulls, faults),
        Endpoint::Products => list(shared, ListKind::Products, query, nulls, faults),
        Endpoint::Order(raw) => {
            let id = parse_id(raw)?;
            let data = read(&shared.data);
            data.orders
                .get(&id)
                .map(|r| single(&r.rendered, query, null_order))
                .ok_or_else(entity_missing)
        }
        Endpoint::Invoice(raw) => {
            let id = parse_id(raw)?;
            let data = read(&shared.data);
            data.invoices
                .get(&id)
                .map(|r| single(&r.rendered, query, null_invoice))
                .ok_or_else(entity_missing)
        }
        Endpoint::Creditmemo(raw) => {
            let id = parse_id(raw)?;
            let data = read(&shared.data);
            data.creditmemos
                .get(&id)
                .map(|r| single(&r.rendered, query, None))
                .ok_or_else(entity_missing)
        }
        Endpoint::Customer(raw) => {
            let id = parse_id(raw)?;
            let data = read(&shared.data);
            data.customers
                .get(&id)
                .map(|r| single(&r.rendered, query, None))
                .ok_or_else(|| customer_missing(id))
        }
        Endpoint::CustomerUpdate(raw) => {
            let id = parse_id(raw)?;
            let input: Value = serde_json::from_slice(body)
                .map_err(|_| ApiError::new(400, "Decoding error: %1", json!(["Syntax error"])))?;
            let now = shared.clock.now();
            let mut data = shared.write_data();
            match data.update_customer(id, &input, now) {
                Ok(Some(v)) => Ok(v.to_string()),
                Ok(None) => Err(customer_missing(id)),
                Err(e) => Err(ApiError::new(400, e.message, e.parameters)),
            }
        }
        Endpoint::Product(raw) => {
            let sku = rawurldecode(raw);
            let data = read(&shared.data);
            let pos = data
                .products
                .iter()
                .position(|p| p.sku.eq_ignore_ascii_case(&sku));
            pos.map(|i| single(&data.product_json[i], query, None)).ok_or_else(|| {
                ApiError::new(404, "The product that was requested doesn't exist. Verify the product and try again.", Value::Null)
            })
        }
        Endpoint::AdminToken => {
            if flavour == Flavour::Saas {
                return Err(route_not_found());
            }
            let input: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let user = input.get("username").and_then(Value::as_str);
            let pass = input.get("password").and_then(Value::as_str);
            if user == Some(shared.admin_username.as_str())
                && pass == Some(shared.admin_password.as_str())
            {
                Ok(json!(shared.admin_token).to_string())
            } else {
                Err(ApiError::new(
                    401,
                    "The account sign-in was incorrect or your account is disabled temporarily. Please wait and try again later.",
                    Value::Null,
                ))
            }
        }
    }
}

fn customer_missing(id: i64) -> ApiError {
    ApiError::new(
        404,
        "No such entity with %fieldName = %fieldValue",
        json!({"fieldName": "customerId", "fieldValue": id}),
    )
}

/// `POST /ims/token/v3`: form-encoded (or query) client credentials, RFC 6749 style errors.
fn ims_token(shared: &Shared, headers: &HeaderMap, query: &str, body: &Bytes) -> Response {
    shared.count("POST /ims/token/v3");
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    for raw in [query, std::str::from_utf8(body).unwrap_or("")] {
        for piece in raw.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
            params.insert(search::form_decode(k), search::form_decode(v));
        }
    }
    let form = header_str(headers, "content-type")
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let oauth_error = |status: u16, error: &str, description: &str| {
        json_response(
            status,
            json!({"error": error, "error_description": description}).to_string(),
        )
    };
    if !form && !body.is_empty() {
        return oauth_error(
            400,
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded",
        );
    }
    if params.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(
            400,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    if params.get("client_id") != Some(&shared.ims_client_id) {
        return oauth_error(400, "invalid_client", "invalid client_id parameter");
    }
    if params.get("client_secret") != Some(&shared.ims_client_secret) {
        return oauth_error(401, "invalid_client", "invalid client_secret parameter");
    }
    let scopes = params.get("scope").cloned().unwrap_or_default();
    let has_commerce_scope = scopes.split(',').any(|s| s.trim() == "commerce.accs");
    let token = {
        let n = shared.webhook_sequence.fetch_add(1, Ordering::Relaxed);
        let mut rng = SimRng::derived(
            shared.seed ^ 0x1A5,
            n.wrapping_add(u64::try_from(shared.clock.now()).unwrap_or(0)),
        );
        format!("eyJhbGciOiJSUzI1NiJ9.{}", rng.alnum(64))
    };
    let expires_at = shared.clock.now() + shared.ims_lifetime_secs;
    lock(&shared.ims_tokens).insert(
        token.clone(),
        ImsToken {
            expires_at,
            has_commerce_scope,
        },
    );
    json_response(
        200,
        json!({"access_token": token, "token_type": "bearer", "expires_in": shared.ims_lifetime_secs}).to_string(),
    )
}

fn ids<'a>(iter: impl Iterator<Item = &'a i64>) -> Vec<i64> {
    iter.copied().collect()
}

/// Lists of order ids with a property a connector must handle specially, and the SKU prefixes.
pub(crate) fn special(data: &Dataset) -> Value {
    use super::stores::ProductType;
    let orders = || data.orders.values().map(|r| &r.order);
    let not_in_erp: Vec<i64> = data
        .customers
        .values()
        .filter(|c| !c.in_erp)
        .map(|c| c.id)
        .collect();
    let by_customer = |want_in_erp: bool| -> Vec<i64> {
        orders()
            .filter(|o| match o.buyer {
                super::model::Buyer::Registered { id, .. } => {
                    not_in_erp.contains(&id) != want_in_erp
                }
                super::model::Buyer::Guest => false,
            })
            .map(|o| o.entity_id)
            .collect()
    };
    json!({
        "unmapped_sku_prefix": "CLR-",
        "mapped_sku_prefixes": ["AP-", "HW-", "GR-", "SV-"],
        "unmapped_sku_order_ids": ids(orders().filter(|o| o.lines.iter().any(|l| l.sku.starts_with("CLR-"))).map(|o| &o.entity_id)),
        "not_in_erp_customer_ids": not_in_erp,
        "not_in_erp_customer_order_ids": by_customer(false),
        "guest_order_ids": ids(orders().filter(|o| matches!(o.buyer, super::model::Buyer::Guest)).map(|o| &o.entity_id)),
        "foreign_currency_order_ids": ids(orders().filter(|o| o.order_currency != o.store.base_currency).map(|o| &o.entity_id)),
        "configurable_order_ids": ids(orders().filter(|o| o.lines.iter().any(|l| l.product_type == ProductType::Configurable)).map(|o| &o.entity_id)),
        "bundle_order_ids": ids(orders().filter(|o| o.lines.iter().any(|l| l.product_type == ProductType::Bundle)).map(|o| &o.entity_id)),
        "uninvoiced_order_ids": ids(orders().filter(|o| o.invoice_id.is_none()).map(|o| &o.entity_id)),
        "canceled_order_ids": ids(orders().filter(|o| o.status == "canceled").map(|o| &o.entity_id)),
        "refunded_order_ids": ids(orders().filter(|o| o.creditmemo_id.is_some()).map(|o| &o.entity_id)),
    })
}

fn values_json<'a>(items: impl Iterator<Item = &'a Rendered>) -> String {
    let mut out = String::from("[");
    for (i, r) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&r.json);
    }
    out.push(']');
    out
}

fn body_json(body: &Bytes) -> Result<Value, Box<Response>> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| Box::new(sim_error(400, format!("request body is not JSON: {e}"))))
}

/// Sends a webhook for an order or invoice and records the delivery.
pub(crate) async fn send_webhook(
    shared: &Arc<Shared>,
    order_id: Option<i64>,
    invoice_id: Option<i64>,
    event: Option<String>,
    url: Option<String>,
) -> Result<Delivery, (u16, String)> {
    let url = url.or_else(|| read(&shared.webhook_url).clone()).ok_or((
        400,
        "no webhook url configured; send \"url\" or configure one".to_owned(),
    ))?;
    let (event, payload) = {
        let data = read(&shared.data);
        if let Some(id) = invoice_id {
            let inv = data
                .invoices
                .get(&id)
                .ok_or((404, format!("invoice {id} does not exist")))?;
            let event = event.unwrap_or_else(|| "sales_order_invoice_save_after".to_owned());
            let p = webhook::payload(&event, "invoice", &inv.rendered.value);
            (event, p)
        } else {
            let id = order_id.ok_or((400, "send \"order_id\" or \"invoice_id\"".to_owned()))?;
            let order = data
                .orders
                .get(&id)
                .ok_or((404, format!("order {id} does not exist")))?;
            let event = event.unwrap_or_else(|| "sales_order_save_commit_after".to_owned());
            let p = webhook::payload(&event, "order", &order.rendered.value);
            (event, p)
        }
    };
    let n = shared.webhook_sequence.fetch_add(1, Ordering::Relaxed);
    let request_id = format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        shared.seed as u32,
        n & 0xffff,
        n & 0xfff,
        (n >> 12) & 0xfff,
        n
    );
    let body = serde_json::to_vec(&payload).unwrap_or_default();
    let delivery = webhook::deliver(
        &shared.http,
        &shared.webhook_key,
        &url,
        request_id,
        &event,
        body,
    )
    .await;
    lock(&shared.deliveries).push(delivery.clone());
    Ok(delivery)
}

fn spawn_change_webhook(shared: &Arc<Shared>, order_id: Option<i64>, invoice_id: Option<i64>) {
    if !shared.webhooks_on_change || read(&shared.webhook_url).is_none() {
        return;
    }
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        let _ = send_webhook(&shared, order_id, invoice_id, None, None).await;
    });
}

async fn sim_api(shared: &Arc<Shared>, method: &Method, rest: &str, body: &Bytes) -> Response {
    let segs: Vec<&str> = rest
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let now = shared.clock.now();
    match (method, segs.as_slice()) {
        (&Method::GET, []) => json_response(200, json!({
            "endpoints": [
                "GET /__sim/orders", "GET /__sim/orders/{id}", "POST /__sim/orders", "POST /__sim/orders/{id}/touch",
                "POST /__sim/orders/{id}/invoice", "POST /__sim/orders/{id}/refund", "POST /__sim/customers/{id}", "GET /__sim/invoices", "GET /__sim/creditmemos", "GET /__sim/customers",
                "GET /__sim/products", "GET /__sim/special", "GET /__sim/calls", "POST /__sim/calls/reset",
                "GET /__sim/faults", "PUT /__sim/faults", "GET /__sim/credentials", "POST /__sim/clock/advance",
                "GET /__sim/webhooks", "POST /__sim/webhooks/send", "GET /__sim/webhooks/public-key", "PUT /__sim/webhooks/url",
            ]
        }).to_string()),
        (&Method::GET, ["orders"]) => json_response(200, values_json(read(&shared.data).orders.values().map(|r| &r.rendered))),
        (&Method::GET, ["orders", id]) => {
            let data = read(&shared.data);
            match id.parse::<i64>().ok().and_then(|id| data.orders.get(&id)) {
                Some(r) => json_response(200, r.rendered.json.clone()),
                None => sim_error(404, format!("order {id} does not exist")),
            }
        }
        (&Method::GET, ["invoices"]) => json_response(200, values_json(read(&shared.data).invoices.values().map(|r| &r.rendered))),
        (&Method::GET, ["creditmemos"]) => json_response(200, values_json(read(&shared.data).creditmemos.values().map(|r| &r.rendered))),
        (&Method::GET, ["customers"]) => {
            let data = read(&shared.data);
            let list: Vec<Value> = data
                .customers
                .values()
                .map(|c| {
                    let mut v = c.rendered.value.clone();
                    if let Some(m) = v.as_object_mut() {
                        m.insert("_sim_in_erp".into(), json!(c.in_erp));
                    }
                    v
                })
                .collect();
            json_response(200, Value::Array(list).to_string())
        }
        (&Method::GET, ["products"]) => json_response(200, values_json(read(&shared.data).product_json.iter())),
        (&Method::GET, ["special"]) => json_response(200, special(&read(&shared.data)).to_string()),
        (&Method::GET, ["calls"]) => json_response(200, json!(*lock(&shared.calls)).to_string()),
        (&Method::POST, ["calls", "reset"]) => {
            lock(&shared.calls).clear();
            json_response(200, json!({}).to_string())
        }
        (&Method::GET, ["faults"]) => json_response(200, json!(*read(&shared.faults)).to_string()),
        (&Method::PUT, ["faults"]) => match serde_json::from_slice::<CommerceFaults>(body) {
            Ok(f) => match f.validate() {
                Ok(()) => {
                    *write(&shared.faults) = f.clone();
                    json_response(200, json!(f).to_string())
                }
                Err(e) => sim_error(400, e),
            },
            Err(e) => sim_error(400, format!("faults body: {e}")),
        },
        (&Method::GET, ["credentials"]) => json_response(200, json!({
            "oauth": {
                "consumer_key": shared.integration.consumer_key,
                "consumer_secret": shared.integration.consumer_secret,
                "access_token": shared.integration.access_token,
                "access_token_secret": shared.integration.access_token_secret,
            },
            "admin": {"username": shared.admin_username, "password": shared.admin_password, "token": shared.admin_token},
            "ims": {"client_id": shared.ims_client_id, "client_secret": shared.ims_client_secret, "org_id": shared.ims_org_id},
        }).to_string()),
        (&Method::POST, ["clock", "advance"]) => {
            let v = match body_json(body) {
                Ok(v) => v,
                Err(r) => return *r,
            };
            let Some(secs) = v.get("seconds").and_then(Value::as_i64) else {
                return sim_error(400, "body must be {\"seconds\": <integer>}");
            };
            shared.clock.advance(secs);
            json_response(200, json!({"offset_secs": shared.clock.offset(), "now": super::clock::format_ts(shared.clock.now())}).to_string())
        }
        (&Method::POST, ["orders"]) => {
            let spec: NewOrder = if body.is_empty() {
                NewOrder::default()
            } else {
                match serde_json::from_slice(body) {
                    Ok(s) => s,
                    Err(e) => return sim_error(400, format!("order body: {e}")),
                }
            };
            let result = {
                let mut data = shared.write_data();
                data.add_order(now, &spec).map(|id| (id, data.orders.get(&id).map(|r| r.rendered.json.clone()).unwrap_or_default()))
            };
            match result {
                Ok((id, json)) => {
                    spawn_change_webhook(shared, Some(id), None);
                    json_response(201, json)
                }
                Err(e) => sim_error(400, e),
            }
        }
        (&Method::POST, ["orders", id, "touch"]) => {
            let Ok(id) = id.parse::<i64>() else { return sim_error(400, "order id must be an integer") };
            let v = match body_json(body) {
                Ok(v) => v,
                Err(r) => return *r,
            };
            let status = v.get("status").and_then(Value::as_str);
            let comment = v.get("comment").and_then(Value::as_str);
            let json = {
                let mut data = shared.write_data();
                data.touch_order(id, now, status, comment).then(|| data.orders.get(&id).map(|r| r.rendered.json.clone()).unwrap_or_default())
            };
            match json {
                Some(j) => {
                    spawn_change_webhook(shared, Some(id), None);
                    json_response(200, j)
                }
                None => sim_error(404, format!("order {id} does not exist")),
            }
        }
        (&Method::POST, ["orders", id, "invoice"]) => {
            let Ok(id) = id.parse::<i64>() else { return sim_error(400, "order id must be an integer") };
            let result = {
                let mut data = shared.write_data();
                data.invoice_order(id, now).map(|inv| (inv, data.invoices.get(&inv).map(|r| r.rendered.json.clone()).unwrap_or_default()))
            };
            match result {
                Ok((inv, json)) => {
                    spawn_change_webhook(shared, None, Some(inv));
                    json_response(201, json)
                }
                Err(e) if e.contains("does not exist") => sim_error(404, e),
                Err(e) => sim_error(409, e),
            }
        }
        (&Method::POST, ["orders", id, "refund"]) => {
            let Ok(id) = id.parse::<i64>() else { return sim_error(400, "order id must be an integer") };
            let result = {
                let mut data = shared.write_data();
                data.refund_order(id, now).map(|memo| data.creditmemos.get(&memo).map(|r| r.rendered.json.clone()).unwrap_or_default())
            };
            match result {
                Ok(json) => json_response(201, json),
                Err(e) if e.contains("does not exist") => sim_error(404, e),
                Err(e) => sim_error(409, e),
            }
        }
        (&Method::POST, ["customers", id]) => {
            let Ok(id) = id.parse::<i64>() else { return sim_error(400, "customer id must be an integer") };
            let patch = match body_json(body) {
                Ok(v) => v,
                Err(r) => return *r,
            };
            let result = {
                let mut data = shared.write_data();
                let current = data.customers.get(&id).map(|c| c.rendered.value.clone());
                match current {
                    None => Ok(None),
                    Some(mut merged) => {
                        if let (Some(m), Some(p)) = (merged.as_object_mut(), patch.as_object()) {
                            for (k, v) in p {
                                m.insert(k.clone(), v.clone());
                            }
                        }
                        data.update_customer(id, &json!({ "customer": merged }), now)
                    }
                }
            };
            match result {
                Ok(Some(v)) => json_response(200, v.to_string()),
                Ok(None) => sim_error(404, format!("customer {id} does not exist")),
                Err(e) => sim_error(400, e.message.to_owned()),
            }
        }
        (&Method::GET, ["webhooks"]) => json_response(200, json!(*lock(&shared.deliveries)).to_string()),
        (&Method::GET, ["webhooks", "public-key"]) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/x-pem-file")], shared.webhook_key.public_pem().to_owned()).into_response()
        }
        (&Method::PUT, ["webhooks", "url"]) => {
            let v = match body_json(body) {
                Ok(v) => v,
                Err(r) => return *r,
            };
            let url = v.get("url").and_then(Value::as_str).map(str::to_owned);
            *write(&shared.webhook_url) = url.clone();
            json_response(200, json!({"url": url}).to_string())
        }
        (&Method::POST, ["webhooks", "send"]) => {
            let v = match body_json(body) {
                Ok(v) => v,
                Err(r) => return *r,
            };
            let order_id = v.get("order_id").and_then(Value::as_i64);
            let invoice_id = v.get("invoice_id").and_then(Value::as_i64);
            let event = v.get("event").and_then(Value::as_str).map(str::to_owned);
            let url = v.get("url").and_then(Value::as_str).map(str::to_owned);
            match send_webhook(shared, order_id, invoice_id, event, url).await {
                Ok(d) => json_response(200, json!(d).to_string()),
                Err((status, e)) => sim_error(status, e),
            }
        }
        _ => sim_error(404, format!("no simulator endpoint {method} /__sim{rest}")),
    }
}
