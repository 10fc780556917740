//! The Commerce client: URL shapes, headers, timeouts, retries, rate limiting and JSON decoding.
//!
//! Requests are plain data ([`ApiRequest`]); one transport seam ([`HttpTransport`]) carries them, so
//! tests and embedders can replace the network. [`Client`] is cheap to clone: the connection pool,
//! credentials cache and rate limiter are shared by every clone and every [`Client::with_store`] view.

use std::fmt;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use url::Url;

use crate::auth::{AuthContext, Authorizer, Credentials, percent_encode};
use crate::error::{ApiError, BoxError, Error, TimeoutLayer, keep_body};
use crate::retry::{RateLimiter, RetryDecision, RetryPolicy, classify};

// ---- time -----------------------------------------------------------------------------------------

/// Wall-clock time source: OAuth timestamps, IMS token expiry and `Retry-After` HTTP dates.
pub trait Clock: Send + Sync {
    /// The current UTC time.
    fn now(&self) -> OffsetDateTime;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads the wall clock
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// Future returned by a [`Sleeper`].
pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Waits between retries. The default uses `tokio::time::sleep`, so tests with paused time work;
/// a replacement can record the waits instead of sleeping.
pub trait Sleeper: Send + Sync {
    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> SleepFuture;
}

/// Sleeps with `tokio::time`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> SleepFuture {
        Box::pin(tokio::time::sleep(duration))
    }
}

// ---- transport seam -------------------------------------------------------------------------------

/// One HTTP request as the transport sees it: URL final, headers complete, body serialised.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// HTTP method.
    pub method: Method,
    /// Full URL, query included.
    pub url: Url,
    /// All headers; credential values are marked sensitive.
    pub headers: HeaderMap,
    /// Body bytes, if any.
    pub body: Option<Vec<u8>>,
}

/// One HTTP answer, body read completely.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Whole body.
    pub body: Vec<u8>,
}

/// Where a transport failed; decides whether a write may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportFailureKind {
    /// No connection: nothing was sent.
    Connect,
    /// The connect timeout expired: nothing was sent.
    ConnectTimeout,
    /// Failed after the connection was made; the request may have been processed.
    Request,
    /// The answer's body could not be read.
    Body,
}

/// A transport failure with its cause (which must not contain the URL's credentials).
#[derive(Debug)]
pub struct TransportFailure {
    /// Where it failed.
    pub kind: TransportFailureKind,
    /// The cause.
    pub source: BoxError,
}

/// Carries one HTTP exchange. The default is [`ReqwestTransport`]; tests or embedders may replace it.
#[async_trait::async_trait]
pub trait HttpTransport: Send + Sync {
    /// Sends the request and reads the whole answer.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportFailure>;
}

/// The default transport over a shared `reqwest` connection pool.
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    /// A transport with the given connect timeout.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if the TLS backend cannot be initialised.
    pub fn new(connect_timeout: Duration) -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .build()
            .map_err(|_| Error::invalid("HTTP client", "a TLS backend that can be initialised"))?;
        Ok(ReqwestTransport { client })
    }

    /// Wraps an existing `reqwest` client (its own timeouts and proxies apply).
    pub fn from_client(client: reqwest::Client) -> Self {
        ReqwestTransport { client }
    }
}

fn reqwest_failure(err: reqwest::Error, reading_body: bool) -> TransportFailure {
    let kind = if err.is_connect() && err.is_timeout() {
        TransportFailureKind::ConnectTimeout
    } else if err.is_connect() {
        TransportFailureKind::Connect
    } else if reading_body || err.is_body() || err.is_decode() {
        TransportFailureKind::Body
    } else {
        TransportFailureKind::Request
    };
    TransportFailure {
        kind,
        source: Box::new(err.without_url()),
    }
}

#[async_trait::async_trait]
impl HttpTransport for ReqwestTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportFailure> {
        let mut builder = self
            .client
            .request(request.method, request.url)
            .headers(request.headers);
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| reqwest_failure(e, false))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| reqwest_failure(e, true))?;
        Ok(HttpResponse {
            status,
            headers,
            body: body.to_vec(),
        })
    }
}

// ---- requests ---------------------------------------------------------------------------------------

/// One API call as plain data.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    /// HTTP method.
    pub method: Method,
    /// Path relative to `/V1/`, e.g. "orders/12" or "products/ABC%2F1": segments already
    /// percent-encoded by the caller (use [`encode_path_segment`]).
    pub path: String,
    /// Query pairs, not yet encoded, in order; encoded with RFC 3986 (`%20`, never `+`).
    pub query: Vec<(String, String)>,
    /// JSON body, if any (never part of an OAuth signature).
    pub body: Option<serde_json::Value>,
    /// Whether repeating the call is harmless (GET, or PUT of the same value); only then are
    /// failures whose outcome is unknown retried.
    pub idempotent: bool,
}

impl ApiRequest {
    /// A request with any method; idempotent for GET, HEAD, PUT and DELETE.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        let idempotent = matches!(
            method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE
        );
        ApiRequest {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            idempotent,
        }
    }

    /// A read.
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    /// A replacement of a value (idempotent).
    pub fn put(path: impl Into<String>, body: serde_json::Value) -> Self {
        Self::new(Method::PUT, path).body(body)
    }

    /// A creation or action (not idempotent unless marked with [`ApiRequest::idempotent`]).
    pub fn post(path: impl Into<String>, body: serde_json::Value) -> Self {
        Self::new(Method::POST, path).body(body)
    }

    /// Sets the JSON body.
    pub fn body(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Adds one query pair (not yet encoded).
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Adds query pairs (not yet encoded), in order.
    pub fn queries(mut self, pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        self.query.extend(pairs);
        self
    }

    /// Declares whether repeating the call is harmless.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }
}

/// Percent-encodes one path segment (a SKU such as `ABC/1` becomes `ABC%2F1`).
pub fn encode_path_segment(segment: &str) -> String {
    percent_encode(segment)
}

// ---- configuration ---------------------------------------------------------------------------------

/// Which deployment the base URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavour {
    /// Adobe Commerce on cloud infrastructure, on premises, or Magento Open Source:
    /// `{base}/rest[/{store}]/V1/{path}`.
    #[default]
    PaaS,
    /// Adobe Commerce as a Cloud Service: `{base}/V1/{path}` with the store in the `Store` header.
    SaaS,
}

/// Layered, finite timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing a connection.
    pub connect: Duration,
    /// One attempt: sending the request and reading the whole answer.
    pub attempt: Duration,
    /// The whole operation, retries and waits included.
    pub operation: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            attempt: Duration::from_secs(60),
            operation: Duration::from_secs(300),
        }
    }
}

/// Builds a [`Client`], validating everything before the first call.
pub struct ClientBuilder {
    base_url: String,
    credentials: Option<Credentials>,
    flavour: Flavour,
    store: Option<String>,
    timeouts: Timeouts,
    retry: RetryPolicy,
    rate_limit: Option<u32>,
    user_agent: Option<String>,
    transport: Option<Arc<dyn HttpTransport>>,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("flavour", &self.flavour)
            .field("store", &self.store)
            .field("timeouts", &self.timeouts)
            .field("retry", &self.retry)
            .field("rate_limit", &self.rate_limit)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// How the client authenticates (required).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// PaaS (default) or SaaS URL shape.
    pub fn flavour(mut self, flavour: Flavour) -> Self {
        self.flavour = flavour;
        self
    }

    /// Store view code for every call (PaaS: in the path; SaaS: in the `Store` header).
    pub fn store(mut self, store_code: impl Into<String>) -> Self {
        self.store = Some(store_code.into());
        self
    }

    /// Replaces the timeouts.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Replaces the retry policy.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Limits calls to this host to `per_second` requests per second (bursts of the same size).
    /// Off by default.
    pub fn rate_limit(mut self, per_second: u32) -> Self {
        self.rate_limit = Some(per_second);
        self
    }

    /// Replaces the `User-Agent` (default `adobe-commerce-client/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// Replaces the HTTP transport (the connect timeout is then the transport's business).
    pub fn transport(mut self, transport: Arc<dyn HttpTransport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Replaces the wall clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Replaces how the client waits between retries.
    pub fn sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// Validates the configuration and builds the client.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the setting: a base URL that is not absolute http(s) or carries
    /// user info, query or fragment; missing credentials; OAuth 1.0a with the SaaS flavour; an
    /// invalid store code; a zero timeout or rate; an unusable user agent.
    pub fn build(self) -> Result<Client, Error> {
        let base = parse_base_url(&self.base_url)?;
        let credentials = self.credentials.ok_or_else(|| {
            Error::invalid(
                "credentials",
                "OAuth 1.0a, bearer or IMS credentials (ClientBuilder::credentials)",
            )
        })?;
        if self.flavour == Flavour::SaaS && matches!(credentials, Credentials::OAuth1(_)) {
            return Err(Error::invalid(
                "credentials",
                "IMS or bearer credentials for the SaaS flavour (it does not accept OAuth 1.0a)",
            ));
        }
        if let Some(store) = &self.store {
            validate_store_code(store)?;
        }
        for (name, value) in [
            ("timeouts.connect", self.timeouts.connect),
            ("timeouts.attempt", self.timeouts.attempt),
            ("timeouts.operation", self.timeouts.operation),
        ] {
            if value.is_zero() {
                return Err(Error::invalid(name, "a duration greater than zero"));
            }
        }
        let limiter = match self.rate_limit {
            None => None,
            Some(n) => Some(RateLimiter::per_second(NonZeroU32::new(n).ok_or_else(
                || Error::invalid("rate_limit", "at least one request per second"),
            )?)),
        };
        let user_agent = HeaderValue::from_str(
            self.user_agent
                .as_deref()
                .unwrap_or(concat!("adobe-commerce-client/", env!("CARGO_PKG_VERSION"))),
        )
        .map_err(|_| Error::invalid("user_agent", "printable ASCII"))?;
        let transport = match self.transport {
            Some(t) => t,
            None => Arc::new(ReqwestTransport::new(self.timeouts.connect)?),
        };
        let authorizer = Authorizer::new(credentials)?;
        Ok(Client {
            inner: Arc::new(Inner {
                base,
                flavour: self.flavour,
                authorizer,
                transport,
                timeouts: self.timeouts,
                retry: self.retry,
                limiter,
                user_agent,
                clock: self.clock,
                sleeper: self.sleeper,
            }),
            store: self.store,
        })
    }
}

fn parse_base_url(raw: &str) -> Result<Url, Error> {
    const EXPECTED: &str = "an absolute http(s) URL without user info, query or fragment, such as \
                            https://shop.example.com or https://na1.api.commerce.adobe.com/<tenant>";
    let url = Url::parse(raw.trim()).map_err(|_| Error::invalid("base_url", EXPECTED))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(Error::invalid("base_url", EXPECTED));
    }
    Ok(url)
}

fn validate_store_code(code: &str) -> Result<(), Error> {
    let valid = code.len() <= 64
        && code.starts_with(|c: char| c.is_ascii_alphabetic())
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(Error::invalid(
            "store code",
            "a store view code (a letter followed by letters, digits or underscores), `default` or `all`",
        ))
    }
}

// ---- the client ----------------------------------------------------------------------------------

struct Inner {
    base: Url,
    flavour: Flavour,
    authorizer: Authorizer,
    transport: Arc<dyn HttpTransport>,
    timeouts: Timeouts,
    retry: RetryPolicy,
    limiter: Option<RateLimiter>,
    user_agent: HeaderValue,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
}

/// A Commerce REST client. Cheap to clone; clones share the connection pool, credentials cache and
/// rate limiter.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    store: Option<String>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.inner.base.as_str())
            .field("flavour", &self.inner.flavour)
            .field("store", &self.store)
            .field("auth", &self.inner.authorizer)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts a builder for `base_url`, e.g. `https://shop.example.com` (PaaS: requests go to
    /// `{base}/rest[/{store}]/V1/{path}`); SaaS flavour: `https://na1.api.commerce.adobe.com/<tenant>`
    /// (requests go to `{base}/V1/{path}`, store in the `Store` header).
    pub fn builder(base_url: impl AsRef<str>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.as_ref().to_owned(),
            credentials: None,
            flavour: Flavour::default(),
            store: None,
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            rate_limit: None,
            user_agent: None,
            transport: None,
            clock: Arc::new(SystemClock),
            sleeper: Arc::new(TokioSleeper),
        }
    }

    /// Same client (shared pool, auth, limiter) scoped to a store view code. An invalid code is
    /// reported by the first call made with the returned client.
    pub fn with_store(&self, store_code: impl Into<String>) -> Client {
        Client {
            inner: Arc::clone(&self.inner),
            store: Some(store_code.into()),
        }
    }

    /// The store view code this client is scoped to, if any.
    pub fn store(&self) -> Option<&str> {
        self.store.as_deref()
    }

    /// The deployment flavour.
    pub fn flavour(&self) -> Flavour {
        self.inner.flavour
    }

    /// Executes one API call and decodes the JSON answer (decode errors name the JSON path; the raw
    /// body and HTTP status are kept in the error).
    ///
    /// # Errors
    /// Any [`Error`] variant; see the `error` module for what each means.
    pub async fn execute<T: DeserializeOwned>(&self, request: ApiRequest) -> Result<T, Error> {
        let response = self.execute_raw(request).await?;
        decode_json(response.status, &response.body)
    }

    /// Executes one API call and returns the successful answer undecoded.
    ///
    /// # Errors
    /// As [`Client::execute`], except [`Error::Decode`].
    pub async fn execute_raw(&self, request: ApiRequest) -> Result<HttpResponse, Error> {
        let operation = self.inner.timeouts.operation;
        match tokio::time::timeout(operation, self.run(request, operation)).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout {
                layer: TimeoutLayer::Operation,
                after: operation,
            }),
        }
    }

    /// The URL a request goes to (query included).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a path with `?`, `#`, whitespace or `..` segments, or an invalid
    /// store code.
    pub fn url_for(&self, request: &ApiRequest) -> Result<Url, Error> {
        let path = request.path.trim_start_matches('/');
        if path.is_empty()
            || path.contains(['?', '#'])
            || path.chars().any(char::is_whitespace)
            || path.split('/').any(|s| s == ".." || s == ".")
        {
            return Err(Error::invalid(
                "request path",
                "a path relative to /V1/ with percent-encoded segments, such as orders/12",
            ));
        }
        let mut text = self.inner.base.as_str().trim_end_matches('/').to_owned();
        match self.inner.flavour {
            Flavour::PaaS => {
                text.push_str("/rest/");
                if let Some(store) = &self.store {
                    validate_store_code(store)?;
                    text.push_str(store);
                    text.push('/');
                }
            }
            Flavour::SaaS => text.push('/'),
        }
        text.push_str("V1/");
        text.push_str(path);
        if !request.query.is_empty() {
            text.push('?');
            let query = request
                .query
                .iter()
                .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
                .collect::<Vec<_>>()
                .join("&");
            text.push_str(&query);
        }
        Url::parse(&text).map_err(|_| {
            Error::invalid(
                "request path",
                "a path that forms a valid URL with the base URL",
            )
        })
    }

    fn base_headers(&self, request: &ApiRequest) -> Result<HeaderMap, Error> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, self.inner.user_agent.clone());
        if request.body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if let (Flavour::SaaS, Some(store)) = (self.inner.flavour, &self.store) {
            validate_store_code(store)?;
            let value = HeaderValue::from_str(store)
                .map_err(|_| Error::invalid("store code", "printable ASCII"))?;
            headers.insert(HeaderName::from_static("store"), value);
        }
        Ok(headers)
    }

    async fn run(&self, request: ApiRequest, operation: Duration) -> Result<HttpResponse, Error> {
        let inner = &*self.inner;
        let deadline = tokio::time::Instant::now() + operation;
        let url = self.url_for(&request)?;
        let headers = self.base_headers(&request)?;
        let body = request
            .body
            .as_ref()
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|_| Error::invalid("request body", "JSON-serialisable data"))?;
        let path = url.path().to_owned();
        let ctx = AuthContext {
            transport: inner.transport.as_ref(),
            clock: inner.clock.as_ref(),
            attempt_timeout: inner.timeouts.attempt,
            connect_timeout: inner.timeouts.connect,
            user_agent: &inner.user_agent,
        };
        let mut attempt: u32 = 0;
        let mut refreshed_after_401 = false;
        loop {
            attempt += 1;
            if let Some(limiter) = &inner.limiter {
                limiter.until_ready().await;
            }
            let outcome = self
                .attempt(&request.method, &url, &headers, &body, &path, &ctx)
                .await;
            let (error, token_generation) = match outcome {
                Ok(response) => return Ok(response),
                Err(failure) => failure,
            };
            if error.status() == Some(401)
                && matches!(error, Error::Api(_))
                && inner.authorizer.can_refresh()
                && !refreshed_after_401
            {
                // An IMS token can be revoked or expire early; one fresh token gets one more try.
                refreshed_after_401 = true;
                inner.authorizer.invalidate(token_generation).await;
                tracing::debug!(path = %path, "401 from Commerce: retrying once with a new token");
                attempt -= 1;
                continue;
            }
            let decision = inner
                .retry
                .decide(&classify(&error), request.idempotent, attempt);
            match decision {
                RetryDecision::Retry { after } => {
                    if tokio::time::Instant::now() + after >= deadline {
                        // Waiting would only end in an operation timeout; the real cause says more.
                        return Err(error);
                    }
                    tracing::debug!(
                        method = %request.method,
                        path = %path,
                        attempt,
                        wait_ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
                        error = %error,
                        "retrying Commerce call"
                    );
                    inner.sleeper.sleep(after).await;
                }
                RetryDecision::GiveUp => return Err(error),
            }
        }
    }

    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        headers: &HeaderMap,
        body: &Option<Vec<u8>>,
        path: &str,
        ctx: &AuthContext<'_>,
    ) -> Result<HttpResponse, (Error, Option<u64>)> {
        let inner = &*self.inner;
        let auth = inner
            .authorizer
            .authorize(method, url, ctx)
            .await
            .map_err(|e| (e, None))?;
        let mut headers = headers.clone();
        for (name, value) in auth.headers {
            headers.insert(name, value);
        }
        let http = HttpRequest {
            method: method.clone(),
            url: url.clone(),
            headers,
            body: body.clone(),
        };
        let attempt_timeout = inner.timeouts.attempt;
        let response = match tokio::time::timeout(attempt_timeout, inner.transport.send(http)).await
        {
            Err(_) => {
                return Err((
                    Error::Timeout {
                        layer: TimeoutLayer::Attempt,
                        after: attempt_timeout,
                    },
                    auth.token_generation,
                ));
            }
            Ok(Err(failure)) => {
                return Err((
                    failure.into_error(method, path, inner.timeouts.connect),
                    auth.token_generation,
                ));
            }
            Ok(Ok(response)) => response,
        };
        if (200..300).contains(&response.status) {
            return Ok(response);
        }
        let retry_after = crate::retry::parse_retry_after(&response.headers, inner.clock.now());
        Err((
            Error::from(ApiError::from_response(
                response.status,
                &response.body,
                retry_after,
            )),
            auth.token_generation,
        ))
    }
}

/// Decodes a JSON answer, naming the JSON path of the first mismatch.
///
/// A body that decodes is read once, without tracking paths; only a body that fails is read
/// again to find where. The body's UTF-8 is checked once, as a whole, rather than string by
/// string as the parser would (a page of orders holds thousands of short strings).
///
/// # Errors
/// [`Error::Decode`] with the status, the path and the (cut) raw body.
pub fn decode_json<T: DeserializeOwned>(status: u16, body: &[u8]) -> Result<T, Error> {
    if let Ok(text) = std::str::from_utf8(body)
        && let Ok(value) = serde_json::from_str(text)
    {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let decoded: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    match decoded {
        Ok(value) => de.end().map(|()| value).map_err(|source| Error::Decode {
            status,
            path: ".".to_owned(),
            body: keep_body(body),
            source,
        }),
        Err(e) => {
            let path = e.path().to_string();
            Err(Error::Decode {
                status,
                path,
                body: keep_body(body),
                source: e.into_inner(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(flavour: Flavour, base: &str) -> Client {
        Client::builder(base)
            .credentials(Credentials::bearer("t"))
            .flavour(flavour)
            .build()
            .expect("client")
    }

    #[test]
    fn paas_urls_with_and_without_store() {
        let c = client(Flavour::PaaS, "https://shop.example.com/");
        let req = ApiRequest::get("orders/12");
        assert_eq!(
            c.url_for(&req).expect("url").as_str(),
            "https://shop.example.com/rest/V1/orders/12"
        );
        assert_eq!(
            c.with_store("de_store")
                .url_for(&req)
                .expect("url")
                .as_str(),
            "https://shop.example.com/rest/de_store/V1/orders/12"
        );
        let sub = client(Flavour::PaaS, "https://shop.example.com/magento");
        assert_eq!(
            sub.url_for(&req).expect("url").as_str(),
            "https://shop.example.com/magento/rest/V1/orders/12"
        );
    }

    #[test]
    fn saas_urls_have_no_rest_prefix_and_store_goes_in_a_header() {
        let c = client(Flavour::SaaS, "https://na1.api.commerce.adobe.com/TENANT");
        let req = ApiRequest::get(format!("products/{}", encode_path_segment("A/B 1")));
        assert_eq!(
            c.with_store("default").url_for(&req).expect("url").as_str(),
            "https://na1.api.commerce.adobe.com/TENANT/V1/products/A%2FB%201"
        );
        let headers = c.with_store("default").base_headers(&req).expect("headers");
        assert_eq!(
            headers.get("store").map(|v| v.as_bytes()),
            Some(&b"default"[..])
        );
    }

    #[test]
    fn query_is_encoded_with_percent_20_and_brackets() {
        let c = client(Flavour::PaaS, "https://shop.example.com");
        let req = ApiRequest::get("orders")
            .query(
                "searchCriteria[filter_groups][0][filters][0][value]",
                "2024-01-01 00:00:00",
            )
            .query("fields", "items[entity_id],total_count");
        assert_eq!(
            c.url_for(&req).expect("url").query(),
            Some(
                "searchCriteria%5Bfilter_groups%5D%5B0%5D%5Bfilters%5D%5B0%5D%5Bvalue%5D=2024-01-01%2000%3A00%3A00&fields=items%5Bentity_id%5D%2Ctotal_count"
            )
        );
    }

    #[test]
    fn builder_rejects_bad_configuration_naming_the_field() {
        let cases: Vec<(ClientBuilder, &str)> = vec![
            (
                Client::builder("shop.example.com").credentials(Credentials::bearer("t")),
                "base_url",
            ),
            (
                Client::builder("https://user:pw@shop.example.com")
                    .credentials(Credentials::bearer("t")),
                "base_url",
            ),
            (Client::builder("https://shop.example.com"), "credentials"),
            (
                Client::builder("https://x.example")
                    .flavour(Flavour::SaaS)
                    .credentials(Credentials::oauth1("a", "b", "c", "d")),
                "credentials",
            ),
            (
                Client::builder("https://x.example")
                    .credentials(Credentials::bearer("t"))
                    .store("de/../x"),
                "store code",
            ),
            (
                Client::builder("https://x.example")
                    .credentials(Credentials::bearer("t"))
                    .rate_limit(0),
                "rate_limit",
            ),
        ];
        for (builder, field) in cases {
            match builder.build() {
                Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
                other => panic!("expected InvalidInput for {field}, got {other:?}"),
            }
        }
        let err = Client::builder("https://user:hunter2@shop.example.com")
            .credentials(Credentials::bearer("t"))
            .build()
            .expect_err("user info refused");
        assert!(!format!("{err} {err:?}").contains("hunter2"));
    }

    #[test]
    fn bad_paths_are_refused_before_sending() {
        let c = client(Flavour::PaaS, "https://shop.example.com");
        for path in ["", "orders?x=1", "orders/../admin", "a b"] {
            assert!(matches!(
                c.url_for(&ApiRequest::get(path)),
                Err(Error::InvalidInput { .. })
            ));
        }
    }

    #[test]
    fn decode_errors_name_the_path_and_keep_the_body() {
        #[derive(Debug, serde::Deserialize)]
        struct Item {
            #[allow(dead_code)]
            qty: u32,
        }
        #[derive(Debug, serde::Deserialize)]
        struct Page {
            #[allow(dead_code)]
            items: Vec<Item>,
        }
        let body = br#"{"items":[{"qty":1},{"qty":"two"}]}"#;
        match decode_json::<Page>(200, body) {
            Err(Error::Decode {
                status,
                path,
                body: kept,
                ..
            }) => {
                assert_eq!(status, 200);
                assert_eq!(path, "items[1].qty");
                assert_eq!(kept.as_bytes(), body);
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
        assert!(matches!(
            decode_json::<Page>(200, br#"{"items":[]} trailing"#),
            Err(Error::Decode { .. })
        ));
    }

    #[test]
    fn a_body_that_is_not_utf8_is_a_decode_error_naming_where() {
        #[derive(Debug, serde::Deserialize)]
        struct Item {
            sku: String,
        }
        let good: Vec<Item> = decode_json(200, "[{\"sku\":\"Crème\"}]".as_bytes()).expect("UTF-8");
        assert_eq!(good[0].sku, "Crème");
        // "Crème" in Windows-1252: 0xE8 is not UTF-8.
        match decode_json::<Vec<Item>>(200, b"[{\"sku\":\"x\"},{\"sku\":\"Cr\xE8me\"}]") {
            Err(Error::Decode { path, .. }) => assert_eq!(path, "[1].sku"),
            other => panic!("expected a decode error, got {other:?}"),
        }
    }
}
