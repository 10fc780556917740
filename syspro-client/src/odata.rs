//! Read-only access to the SYSPRO OData (v4) service: a `$filter` builder with correct literal
//! quoting, paged reads as a [`Stream`], typed rows for the tables the connector reads, and
//! `$metadata` discovery.
//!
//! SYSPRO documents the service as OData 4.0 over HTTPS with Basic authentication. Its URL layout,
//! entity names, date types and paging behaviour differ between installs and are not confirmed,
//! so the base URL comes entirely from configuration, both server-driven paging
//! (`@odata.nextLink`) and client paging (`$top`/`$skip`) are supported, and the typed rows accept
//! unknown columns and loosely typed values.
//!
//! ```no_run
//! use futures::StreamExt;
//! use secrecy::SecretString;
//! use syspro_client::{ArCustomer, Error, Filter, ODataClient, ODataConfig, Order};
//!
//! # async fn run() -> Result<(), Error> {
//! let config = ODataConfig::builder(
//!     "https://erp01/SYSPRO8Odata/SYSPROOData/EDU1", // service root as published on the site
//!     "WEBINT",
//!     SecretString::from("odata password".to_owned()),
//! )
//! .max_rows(10_000)
//! .build()?;
//! let odata = ODataClient::new(config)?;
//!
//! println!("entity sets: {:?}", odata.entity_sets().await?); // from $metadata
//!
//! let mut customers = odata
//!     .entity_set::<ArCustomer>()
//!     .filter(Filter::eq("Email", "o'brien@example.com")) // quoted as 'o''brien@example.com'
//!     .select(["Customer", "Name", "Email"])
//!     .order_by("Customer", Order::Ascending)
//!     .stream();
//! while let Some(customer) = customers.next().await {
//!     let customer = customer?;
//!     println!("{} {:?}", customer.customer, customer.name);
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::Arc;

use futures::Stream;
use futures::stream::{self, BoxStream, StreamExt};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rust_decimal::Decimal;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use time::{Date, OffsetDateTime};
use url::Url;

use crate::config::ODataConfig;
use crate::error::{Error, Scrubber, redact_url, truncate_body};
use crate::response::decode_body;

/// Characters left as they are in OData query option values (RFC 3986 unreserved).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A row without a fixed shape: column name to JSON value.
pub type Row = serde_json::Map<String, serde_json::Value>;

/// A typed row of a known SYSPRO table, read from the entity set of the same name.
pub trait EntitySet: DeserializeOwned + Send + 'static {
    /// The entity set (table) name, e.g. `ArCustomer`.
    const NAME: &'static str;
}

/// Client for the SYSPRO OData service. Cheap to clone.
#[derive(Clone)]
pub struct ODataClient {
    inner: Arc<ODataInner>,
}

struct ODataInner {
    config: ODataConfig,
    http: reqwest::Client,
    scrubber: Scrubber,
}

impl fmt::Debug for ODataClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ODataClient")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl ODataClient {
    /// Creates a client; nothing is sent until a query runs.
    ///
    /// # Errors
    ///
    /// [`Error::HttpClient`] when the HTTP client cannot be set up.
    pub fn new(config: ODataConfig) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout())
            .timeout(config.call_timeout())
            .build()
            .map_err(|source| Error::HttpClient { source })?;
        let scrubber = Scrubber::new([config.password().expose_secret()]);
        Ok(ODataClient {
            inner: Arc::new(ODataInner {
                config,
                http,
                scrubber,
            }),
        })
    }

    /// A query on the entity set of a typed row, e.g. `client.entity_set::<ArCustomer>()`.
    pub fn entity_set<T: EntitySet>(&self) -> Query<T> {
        Query::new(self.clone(), T::NAME.to_owned())
    }

    /// A query on any entity set, returning rows as JSON objects.
    pub fn table(&self, entity_set: impl Into<String>) -> Query<Row> {
        Query::new(self.clone(), entity_set.into())
    }

    /// A query on any entity set, returning rows of a caller-defined type.
    pub fn query<T: DeserializeOwned + Send + 'static>(
        &self,
        entity_set: impl Into<String>,
    ) -> Query<T> {
        Query::new(self.clone(), entity_set.into())
    }

    /// Reads `$metadata` and returns the names of the entity sets the service publishes (tables
    /// and Business Activity Queries the operator may read).
    ///
    /// # Errors
    ///
    /// Transport and HTTP errors, or [`Error::Decode`] when the document is not CSDL XML.
    pub async fn entity_sets(&self) -> Result<Vec<String>, Error> {
        let url = self.resource_url("$metadata");
        let text = self.get(&url, "application/xml").await?;
        parse_entity_sets(&text).map_err(|message| Error::Decode {
            call: "$metadata".to_owned(),
            url: redact_url(&url),
            message,
            body: truncate_body(&self.inner.scrubber.scrub(&text)),
        })
    }

    fn resource_url(&self, resource: &str) -> Url {
        let mut url = self.inner.config.base_url().clone();
        let path = format!("{}/{resource}", url.path().trim_end_matches('/'));
        url.set_path(&path);
        url
    }

    async fn get(&self, url: &Url, accept: &str) -> Result<String, Error> {
        let call = url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .unwrap_or("OData")
            .to_owned();
        tracing::debug!(url = %redact_url(url), "OData request");
        let config = &self.inner.config;
        let response = self
            .inner
            .http
            .get(url.clone())
            .basic_auth(config.username(), Some(config.password().expose_secret()))
            .header(reqwest::header::ACCEPT, accept)
            .header("OData-MaxVersion", "4.0")
            .send()
            .await
            .map_err(|err| Error::from_reqwest(&call, url, err))?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .bytes()
            .await
            .map_err(|err| Error::from_reqwest(&call, url, err))?;
        let text = decode_body(&bytes, content_type.as_deref());
        if !status.is_success() {
            return Err(Error::Status {
                call,
                url: redact_url(url),
                status: status.as_u16(),
                body: truncate_body(&self.inner.scrubber.scrub(&text)),
            });
        }
        Ok(text)
    }

    /// Follows a `nextLink` only to the service's own origin, so the Basic credentials never go
    /// anywhere else.
    fn resolve_next_link(&self, current: &Url, link: &str) -> Result<Url, Error> {
        let next = current.join(link).map_err(|_| Error::Decode {
            call: "nextLink".to_owned(),
            url: redact_url(current),
            message: "@odata.nextLink is not a valid URL".to_owned(),
            body: String::new(),
        })?;
        if next.origin() != self.inner.config.base_url().origin() {
            return Err(Error::Decode {
                call: "nextLink".to_owned(),
                url: redact_url(current),
                message: format!(
                    "@odata.nextLink points to another server ({}); not following it with the \
                     OData credentials",
                    redact_url(&next)
                ),
                body: String::new(),
            });
        }
        Ok(next)
    }
}

/// Sort direction for [`Query::order_by`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Smallest first.
    Ascending,
    /// Largest first.
    Descending,
}

/// A read of one entity set, built with `$filter`, `$select`, `$orderby`, `$top` and `$skip`, and
/// run with [`Query::stream`] or [`Query::fetch_all`].
///
/// When the server sends `@odata.nextLink` it is followed; otherwise the client pages with
/// `$skip` in steps of the configured page size, which needs an [`Query::order_by`] on a unique
/// key for stable results. A query never yields more than `ODataConfig::max_rows` rows: one more
/// row ends the stream with [`Error::RowCapReached`] instead of silently dropping data.
#[must_use = "a query does nothing until it is streamed or fetched"]
pub struct Query<T> {
    client: ODataClient,
    entity_set: String,
    filter: Option<Filter>,
    select: Vec<String>,
    order_by: Vec<(String, Order)>,
    top: Option<u64>,
    skip: u64,
    rows: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Query<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query")
            .field("entity_set", &self.entity_set)
            .field("filter", &self.filter)
            .field("select", &self.select)
            .field("order_by", &self.order_by)
            .field("top", &self.top)
            .field("skip", &self.skip)
            .finish()
    }
}

impl<T: DeserializeOwned + Send + 'static> Query<T> {
    fn new(client: ODataClient, entity_set: String) -> Self {
        Query {
            client,
            entity_set,
            filter: None,
            select: Vec::new(),
            order_by: Vec::new(),
            top: None,
            skip: 0,
            rows: PhantomData,
        }
    }

    /// Sets `$filter` (replacing any earlier filter; combine with [`Filter::and`]).
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Adds columns to `$select`.
    pub fn select<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.select.extend(columns.into_iter().map(Into::into));
        self
    }

    /// Adds a column to `$orderby`.
    pub fn order_by(mut self, column: impl Into<String>, order: Order) -> Self {
        self.order_by.push((column.into(), order));
        self
    }

    /// Returns at most `rows` rows (`$top` over the whole query).
    pub fn top(mut self, rows: u64) -> Self {
        self.top = Some(rows);
        self
    }

    /// Skips the first `rows` rows (`$skip`).
    pub fn skip(mut self, rows: u64) -> Self {
        self.skip = rows;
        self
    }

    /// The query options (without `$top`/`$skip`) as a percent-encoded query string.
    fn options(&self) -> Result<Vec<String>, Error> {
        check_identifier("entity_set", &self.entity_set)?;
        let mut options = Vec::new();
        if let Some(filter) = &self.filter {
            options.push(format!("$filter={}", encode(&filter.render()?)));
        }
        if !self.select.is_empty() {
            for column in &self.select {
                check_identifier("select", column)?;
            }
            options.push(format!("$select={}", encode(&self.select.join(","))));
        }
        if !self.order_by.is_empty() {
            let mut parts = Vec::new();
            for (column, order) in &self.order_by {
                check_identifier("order_by", column)?;
                let direction = match order {
                    Order::Ascending => "asc",
                    Order::Descending => "desc",
                };
                parts.push(format!("{column} {direction}"));
            }
            options.push(format!("$orderby={}", encode(&parts.join(","))));
        }
        Ok(options)
    }

    /// Streams every row, page by page, as the consumer asks for them.
    pub fn stream(self) -> BoxStream<'static, Result<T, Error>> {
        let cap = self.client.inner.config.max_rows();
        let (limit, cap_limited) = match self.top {
            Some(top) if top <= cap => (top, false),
            // One row past the cap tells "exactly at the cap" from "more than the cap".
            _ => (cap.saturating_add(1), true),
        };
        let options = match self.options() {
            Ok(options) => options,
            Err(err) => return stream::once(async move { Err(err) }).boxed(),
        };
        let state = Pager {
            client: self.client.clone(),
            entity_set: self.entity_set.clone(),
            options,
            page_size: u64::from(self.client.inner.config.page_size()),
            limit,
            cap,
            cap_limited,
            yielded: 0,
            buffer: VecDeque::new(),
            next: Next::Window { skip: self.skip },
            window: Window::default(),
            finished: false,
        };
        paged_rows::<T>(state).boxed()
    }

    /// Reads every row into a vector.
    ///
    /// # Errors
    ///
    /// The first error of the stream.
    pub async fn fetch_all(self) -> Result<Vec<T>, Error> {
        let mut stream = self.stream();
        let mut rows = Vec::new();
        while let Some(row) = stream.next().await {
            rows.push(row?);
        }
        Ok(rows)
    }
}

/// The request that fetches the next page.
#[derive(Debug)]
enum Next {
    /// A client-paged window starting at `skip`.
    Window { skip: u64 },
    /// A server-provided next link.
    Link(Url),
    /// No more pages.
    Done,
    /// Paging cannot go on; reported once the rows already read have been yielded.
    Failed(Error),
}

/// Progress through one `$top`/`$skip` window (which the server may split with next links).
#[derive(Debug, Default)]
struct Window {
    skip: u64,
    top: u64,
    rows: u64,
}

struct Pager {
    client: ODataClient,
    entity_set: String,
    options: Vec<String>,
    page_size: u64,
    limit: u64,
    cap: u64,
    cap_limited: bool,
    yielded: u64,
    buffer: VecDeque<serde_json::Value>,
    next: Next,
    window: Window,
    finished: bool,
}

/// One page of an OData collection answer.
#[derive(Debug, Deserialize)]
struct PageBody {
    value: Vec<serde_json::Value>,
    #[serde(rename = "@odata.nextLink", alias = "odata.nextLink", default)]
    next_link: Option<String>,
}

fn paged_rows<T: DeserializeOwned + Send + 'static>(
    pager: Pager,
) -> impl Stream<Item = Result<T, Error>> + Send + 'static {
    stream::unfold(pager, |mut pager| async move {
        loop {
            if pager.finished {
                return None;
            }
            if let Some(value) = pager.buffer.pop_front() {
                if pager.cap_limited && pager.yielded >= pager.cap {
                    pager.finished = true;
                    let err = Error::RowCapReached {
                        entity_set: pager.entity_set.clone(),
                        cap: pager.cap,
                    };
                    return Some((Err(err), pager));
                }
                pager.yielded += 1;
                let row = decode_row::<T>(&pager.entity_set, pager.yielded, value);
                if row.is_err() {
                    pager.finished = true;
                }
                return Some((row, pager));
            }
            if let Err(err) = pager.fetch_next().await {
                pager.finished = true;
                return Some((Err(err), pager));
            }
        }
    })
}

impl Pager {
    /// Fetches the next page into the buffer, or marks the stream finished.
    async fn fetch_next(&mut self) -> Result<(), Error> {
        let remaining = self.limit.saturating_sub(self.yielded);
        let url = match std::mem::replace(&mut self.next, Next::Done) {
            Next::Done => {
                self.finished = true;
                return Ok(());
            }
            Next::Failed(err) => return Err(err),
            _ if remaining == 0 => {
                self.finished = true;
                return Ok(());
            }
            Next::Window { skip } => {
                let top = self.page_size.min(remaining);
                self.window = Window { skip, top, rows: 0 };
                let mut query = self.options.clone();
                query.push(format!("$top={top}"));
                if skip > 0 {
                    query.push(format!("$skip={skip}"));
                }
                let mut url = self.client.resource_url(&self.entity_set);
                url.set_query(Some(&query.join("&")));
                url
            }
            Next::Link(url) => url,
        };
        let text = self.client.get(&url, "application/json").await?;
        let decode_error = |message: String| Error::Decode {
            call: self.entity_set.clone(),
            url: redact_url(&url),
            message,
            body: truncate_body(&self.client.inner.scrubber.scrub(&text)),
        };
        let mut deserializer = serde_json::Deserializer::from_str(&text);
        let page: PageBody = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|err| decode_error(format!("at {}: {}", err.path(), err.inner())))?;
        let received = page.value.len() as u64;
        self.window.rows += received;
        let keep = usize::try_from(remaining).unwrap_or(usize::MAX);
        self.buffer.extend(page.value.into_iter().take(keep));
        self.next = match page.next_link {
            Some(link) => match self.client.resolve_next_link(&url, &link) {
                Ok(next) if next == url => Next::Failed(decode_error(
                    "@odata.nextLink repeats the page just read; paging does not advance"
                        .to_owned(),
                )),
                Ok(next) => Next::Link(next),
                Err(err) => Next::Failed(err),
            },
            None if received > 0 && self.window.rows >= self.window.top => Next::Window {
                skip: self.window.skip + self.window.rows,
            },
            None => Next::Done,
        };
        Ok(())
    }
}

fn decode_row<T: DeserializeOwned>(
    entity_set: &str,
    row_number: u64,
    value: serde_json::Value,
) -> Result<T, Error> {
    serde_path_to_error::deserialize(value).map_err(|err| Error::Decode {
        call: entity_set.to_owned(),
        url: String::new(),
        message: format!("row {row_number} at {}: {}", err.path(), err.inner()),
        body: String::new(),
    })
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, QUERY_VALUE).to_string()
}

/// Column and entity set names: OData identifiers, optionally a `/` navigation path.
fn check_identifier(field: &str, name: &str) -> Result<(), Error> {
    let valid_segment = |segment: &str| {
        let mut chars = segment.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if name.split('/').all(valid_segment) {
        Ok(())
    } else {
        Err(Error::invalid_input(
            field,
            format!("an OData identifier (letters, digits, underscores), got {name:?}"),
        ))
    }
}

/// Reads the `Name` of every `EntitySet` in a CSDL `$metadata` document.
fn parse_entity_sets(xml: &str) -> Result<Vec<String>, String> {
    use quick_xml::events::Event;

    let mut reader = quick_xml::Reader::from_str(xml);
    let mut names = Vec::new();
    let mut saw_edmx = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(element) | Event::Empty(element)) => {
                let local = element.local_name();
                let local = local.as_ref();
                if local.eq_ignore_ascii_case("Edmx") || local.eq_ignore_ascii_case("Schema") {
                    saw_edmx = true;
                }
                if local == "EntitySet" {
                    for attribute in element.attributes() {
                        let attribute = attribute.map_err(|e| e.to_string())?;
                        if attribute.key.as_ref() == "Name" {
                            let value = attribute
                                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .map_err(|e| e.to_string())?;
                            names.push(value.into_owned());
                        }
                    }
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(err) => return Err(format!("malformed $metadata XML: {err}")),
        }
    }
    if !saw_edmx {
        return Err("not a CSDL document (no Edmx or Schema element)".to_owned());
    }
    Ok(names)
}

// ---- $filter --------------------------------------------------------------------------------

/// A literal value in a `$filter`, rendered in OData v4 syntax.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Literal {
    /// `'text'`, with `'` doubled.
    String(String),
    /// `42`.
    Integer(i64),
    /// `12.50`: money and quantities stay exact.
    Decimal(Decimal),
    /// `true` / `false`.
    Boolean(bool),
    /// `2024-01-31` (`Edm.Date`, unquoted).
    Date(Date),
    /// `2024-01-31T00:00:00Z` (`Edm.DateTimeOffset`, RFC 3339, unquoted).
    DateTimeOffset(OffsetDateTime),
    /// `null`.
    Null,
}

impl Literal {
    fn render(&self) -> Result<String, Error> {
        Ok(match self {
            Literal::String(text) => format!("'{}'", text.replace('\'', "''")),
            Literal::Integer(n) => n.to_string(),
            Literal::Decimal(d) => d.to_string(),
            Literal::Boolean(b) => b.to_string(),
            Literal::Date(date) => date
                .format(time::macros::format_description!("[year]-[month]-[day]"))
                .map_err(|_| Error::invalid_input("filter", "a date between years 0 and 9999"))?,
            Literal::DateTimeOffset(at) => at
                .format(&time::format_description::well_known::Rfc3339)
                .map_err(|_| {
                    Error::invalid_input("filter", "a date-time representable in RFC 3339")
                })?,
            Literal::Null => "null".to_owned(),
        })
    }
}

impl From<&str> for Literal {
    fn from(value: &str) -> Self {
        Literal::String(value.to_owned())
    }
}
impl From<String> for Literal {
    fn from(value: String) -> Self {
        Literal::String(value)
    }
}
impl From<&String> for Literal {
    fn from(value: &String) -> Self {
        Literal::String(value.clone())
    }
}
impl From<i64> for Literal {
    fn from(value: i64) -> Self {
        Literal::Integer(value)
    }
}
impl From<i32> for Literal {
    fn from(value: i32) -> Self {
        Literal::Integer(i64::from(value))
    }
}
impl From<u32> for Literal {
    fn from(value: u32) -> Self {
        Literal::Integer(i64::from(value))
    }
}
impl From<Decimal> for Literal {
    fn from(value: Decimal) -> Self {
        Literal::Decimal(value)
    }
}
impl From<bool> for Literal {
    fn from(value: bool) -> Self {
        Literal::Boolean(value)
    }
}
impl From<Date> for Literal {
    fn from(value: Date) -> Self {
        Literal::Date(value)
    }
}
impl From<OffsetDateTime> for Literal {
    fn from(value: OffsetDateTime) -> Self {
        Literal::DateTimeOffset(value)
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Comparison {
    fn keyword(self) -> &'static str {
        match self {
            Comparison::Eq => "eq",
            Comparison::Ne => "ne",
            Comparison::Gt => "gt",
            Comparison::Ge => "ge",
            Comparison::Lt => "lt",
            Comparison::Le => "le",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Compare {
        column: String,
        op: Comparison,
        value: Literal,
    },
    Contains {
        column: String,
        text: String,
    },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

/// A `$filter` expression, built from comparisons and combined with [`Filter::and`],
/// [`Filter::or`] and [`Filter::not`]. Column names are checked when the query runs.
///
/// ```
/// use syspro_client::odata::Filter;
/// let filter = Filter::eq("Email", "o'brien@example.com").and(Filter::gt("CreditLimit", 0));
/// assert_eq!(
///     filter.to_string(),
///     "Email eq 'o''brien@example.com' and CreditLimit gt 0"
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Filter(Expr);

impl Filter {
    fn compare(column: impl Into<String>, op: Comparison, value: impl Into<Literal>) -> Self {
        Filter(Expr::Compare {
            column: column.into(),
            op,
            value: value.into(),
        })
    }

    /// `column eq value`.
    pub fn eq(column: impl Into<String>, value: impl Into<Literal>) -> Self {
        Filter::compare(column, Comparison::Eq, value)
    }
    /// `column ne value`.
    pub fn ne(column: impl Into<String>, value: impl Into<Literal>) -> Self {
        Filter::compare(column, Comparison::Ne, value)
    }
    /// `column gt value`.
    pub fn gt(column: impl Into<String>, value: impl Into<Literal>) -> Self {
        Filter::compare(column, Comparison::Gt, value)
    }
    /// `column ge value`.
    pub fn ge(column: impl Into<String>, value: impl Into<Literal>) -> Self {
        Filter::compare(column, Comparison::Ge, value)
    }
    /// `column lt value`.
    pub fn lt(column: impl Into<String>, value: impl Into<Literal>) -> Self {
        Filter::compare(column, Comparison::Lt, value)
    }
    /// `column le value`.
    pub fn le(column: impl Into<String>, value: impl Into<Literal>) -> Self {
        Filter::compare(column, Comparison::Le, value)
    }
    /// `contains(column,'text')`.
    pub fn contains(column: impl Into<String>, text: impl Into<String>) -> Self {
        Filter(Expr::Contains {
            column: column.into(),
            text: text.into(),
        })
    }
    /// Both conditions.
    pub fn and(self, other: Filter) -> Self {
        Filter(Expr::And(Box::new(self.0), Box::new(other.0)))
    }
    /// Either condition.
    pub fn or(self, other: Filter) -> Self {
        Filter(Expr::Or(Box::new(self.0), Box::new(other.0)))
    }
    /// The opposite condition.
    #[allow(clippy::should_implement_trait)] // reads as the OData keyword, like `and`/`or`
    pub fn not(self) -> Self {
        Filter(Expr::Not(Box::new(self.0)))
    }

    /// The expression in OData syntax, with column names checked.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a column name that is not an OData identifier.
    pub fn render(&self) -> Result<String, Error> {
        render_expr(&self.0, true)
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match render_expr(&self.0, false) {
            Ok(text) => f.write_str(&text),
            Err(_) => f.write_str("<invalid filter>"),
        }
    }
}

fn render_expr(expr: &Expr, check: bool) -> Result<String, Error> {
    let column_ok = |column: &str| {
        if check {
            check_identifier("filter", column)
        } else {
            Ok(())
        }
    };
    // An `and` operand that is an `or` (and the reverse) is parenthesised, so precedence never
    // depends on how the tree was built; chains of the same operator stay flat.
    let operand = |inner: &Expr, parent_is_and: bool| -> Result<String, Error> {
        let text = render_expr(inner, check)?;
        Ok(match inner {
            Expr::Or(..) if parent_is_and => format!("({text})"),
            Expr::And(..) if !parent_is_and => format!("({text})"),
            _ => text,
        })
    };
    Ok(match expr {
        Expr::Compare { column, op, value } => {
            column_ok(column)?;
            format!("{column} {} {}", op.keyword(), value.render()?)
        }
        Expr::Contains { column, text } => {
            column_ok(column)?;
            format!(
                "contains({column},{})",
                Literal::String(text.clone()).render()?
            )
        }
        Expr::And(left, right) => {
            format!("{} and {}", operand(left, true)?, operand(right, true)?)
        }
        Expr::Or(left, right) => format!("{} or {}", operand(left, false)?, operand(right, false)?),
        Expr::Not(inner) => format!("not ({})", render_expr(inner, check)?),
    })
}

// ---- typed rows -----------------------------------------------------------------------------

/// A customer (`ArCustomer`). The key `Customer` is confirmed; the other column names follow the
/// ARSSCS and ARSQRY field names and are expected, not confirmed, to match the table; anything
/// else the service returns is kept in `extra`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ArCustomer {
    /// Customer code (key), trimmed.
    #[serde(deserialize_with = "trimmed")]
    pub customer: String,
    /// Customer name.
    #[serde(default, deserialize_with = "opt_trimmed")]
    pub name: Option<String>,
    /// Short name.
    #[serde(default, deserialize_with = "opt_trimmed")]
    pub short_name: Option<String>,
    /// E-mail address, the connector's match key for Commerce customers.
    #[serde(default, deserialize_with = "opt_trimmed")]
    pub email: Option<String>,
    /// Telephone.
    #[serde(default, deserialize_with = "opt_trimmed")]
    pub telephone: Option<String>,
    /// AR branch.
    #[serde(default, deserialize_with = "opt_trimmed")]
    pub branch: Option<String>,
    /// Salesperson.
    #[serde(default, deserialize_with = "opt_trimmed")]
    pub salesperson: Option<String>,
    /// Customer class.
    #[serde(default, deserialize_with = "opt_trimmed")]
    pub customer_class: Option<String>,
    /// Terms code.
    #[serde(default, deserialize_with = "opt_trimmed")]
    pub terms_code: Option<String>,
    /// Currency code.
    #[serde(default, deserialize_with = "opt_trimmed")]
    pub currency: Option<String>,
    /// Credit limit.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub credit_limit: Option<Decimal>,
    /// On-hold flag as SYSPRO stores it (`Y`/`N`).
    #[serde(default, deserialize_with = "opt_trimmed")]
    pub customer_on_hold: Option<String>,
    /// Every other column, untouched.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl EntitySet for ArCustomer {
    const NAME: &'static str = "ArCustomer";
}

/// An AR invoice (`ArInvoice`). `Customer` and `Invoice` (with `DocumentType`) are the expected
/// key; all column names are inferred from SYSPRO's data dictionary usage and not yet confirmed
/// over OData, so every field but the key is optional and anything else lands in `extra`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ArInvoice {
    /// Customer code, trimmed.
    #[serde(deserialize_with = "trimmed")]
    pub customer: String,
    /// Invoice number, trimmed.
    #[serde(deserialize_with = "trimmed")]
    pub invoice: String,
    /// Document type (`I` invoice, `C` credit note, `D` debit note).
    #[serde(default, deserialize_with = "opt_trimmed")]
    pub document_type: Option<String>,
    /// Invoice date; a date-time column is cut to its date.
    #[serde(default, deserialize_with = "opt_date")]
    pub invoice_date: Option<Date>,
    /// AR branch.
    #[serde(default, deserialize_with = "opt_trimmed")]
    pub branch: Option<String>,
    /// Salesperson.
    #[serde(default, deserialize_with = "opt_trimmed")]
    pub salesperson: Option<String>,
    /// Customer purchase order number.
    #[serde(default, deserialize_with = "opt_trimmed")]
    pub customer_po_number: Option<String>,
    /// Sales order the invoice came from, if any.
    #[serde(default, deserialize_with = "opt_trimmed")]
    pub sales_order: Option<String>,
    /// Invoice value in the customer's currency (name as in ARSQRY's output).
    #[serde(default, deserialize_with = "opt_decimal")]
    pub currency_value: Option<Decimal>,
    /// Original invoice value (`OrigInvValue`).
    #[serde(default, deserialize_with = "opt_decimal")]
    pub orig_inv_value: Option<Decimal>,
    /// The document's reference (the connector writes the Commerce increment id there).
    #[serde(default, deserialize_with = "opt_trimmed")]
    pub reference: Option<String>,
    /// Currency code.
    #[serde(default, deserialize_with = "opt_trimmed")]
    pub currency: Option<String>,
    /// Every other column, untouched.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl EntitySet for ArInvoice {
    const NAME: &'static str = "ArInvoice";
}

/// A GL account (`GenMaster`). `GlCode`, `Description` and `AccountType` are used by existing
/// SYSPRO clients; `Company` is expected as part of the key. Anything else lands in `extra`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct GenMaster {
    /// GL company.
    #[serde(default, deserialize_with = "opt_trimmed")]
    pub company: Option<String>,
    /// GL code (e.g. `00-4010`), trimmed.
    #[serde(deserialize_with = "trimmed")]
    pub gl_code: String,
    /// Account description.
    #[serde(default, deserialize_with = "opt_trimmed")]
    pub description: Option<String>,
    /// Account type (`A` asset, `L` liability, `C` capital, `R` revenue, `E` expense, `S`
    /// statistical).
    #[serde(default, deserialize_with = "opt_trimmed")]
    pub account_type: Option<String>,
    /// GL group.
    #[serde(default, deserialize_with = "opt_trimmed")]
    pub gl_group: Option<String>,
    /// Every other column, untouched.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl EntitySet for GenMaster {
    const NAME: &'static str = "GenMaster";
}

/// One entry of a posted GL journal (`GenTransaction`). The table is listed among SYSPRO's OData
/// entity sets; its column names are inferred from SYSPRO's data dictionary and not confirmed over
/// OData, so everything but `GlCode` and `EntryValue` is optional and other columns land in
/// `extra`. `EntryValue` follows GENTJL's sign convention: positive is a debit, negative a credit.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct GenTransaction {
    /// GL account debited or credited, trimmed.
    #[serde(deserialize_with = "trimmed")]
    pub gl_code: String,
    /// GL year.
    #[serde(default, deserialize_with = "opt_integer")]
    pub gl_year: Option<i64>,
    /// GL period.
    #[serde(default, deserialize_with = "opt_integer")]
    pub gl_period: Option<i64>,
    /// Journal number within the year and period.
    #[serde(default, deserialize_with = "opt_integer")]
    pub journal: Option<i64>,
    /// Entry number within the journal.
    #[serde(default, deserialize_with = "opt_integer")]
    pub entry_number: Option<i64>,
    /// The journal date; a date-time column is cut to its date.
    #[serde(default, deserialize_with = "opt_date")]
    pub transaction_date: Option<Date>,
    /// The journal's reference (the connector writes the AR invoice number there by default).
    #[serde(default, deserialize_with = "opt_trimmed")]
    pub reference: Option<String>,
    /// Entry comment.
    #[serde(default, deserialize_with = "opt_trimmed")]
    pub comment: Option<String>,
    /// Signed value: positive is a debit, negative a credit.
    #[serde(deserialize_with = "required_decimal")]
    pub entry_value: Decimal,
    /// Every other column, untouched.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl EntitySet for GenTransaction {
    const NAME: &'static str = "GenTransaction";
}

impl ODataClient {
    /// The entries of every posted GL journal whose reference is `reference`, in journal and entry
    /// order: stream it, or `fetch_all` it for the check made before a journal is sent again.
    pub fn gl_journal_entries(&self, reference: &str) -> Query<GenTransaction> {
        self.entity_set::<GenTransaction>()
            .filter(Filter::eq("Reference", reference))
            .order_by("GlYear", Order::Ascending)
            .order_by("GlPeriod", Order::Ascending)
            .order_by("Journal", Order::Ascending)
            .order_by("EntryNumber", Order::Ascending)
    }

    /// The entries of GL journals dated `from` to `to` (inclusive), ordered by reference, then GL
    /// year, period, journal and entry, so all the entries of one reference arrive together.
    ///
    /// The upper bound is written as "before the next day", so a `TransactionDate` published as a
    /// date-time later in the day `to` is still included.
    pub fn gl_journal_entries_between(&self, from: Date, to: Date) -> Query<GenTransaction> {
        self.entity_set::<GenTransaction>()
            .filter(date_range("TransactionDate", from, to))
            .order_by("Reference", Order::Ascending)
            .order_by("GlYear", Order::Ascending)
            .order_by("GlPeriod", Order::Ascending)
            .order_by("Journal", Order::Ascending)
            .order_by("EntryNumber", Order::Ascending)
    }

    /// The AR documents dated `from` to `to` (inclusive), ordered by invoice number, customer and
    /// document type.
    pub fn ar_invoices_between(&self, from: Date, to: Date) -> Query<ArInvoice> {
        self.entity_set::<ArInvoice>()
            .filter(date_range("InvoiceDate", from, to))
            .order_by("Invoice", Order::Ascending)
            .order_by("Customer", Order::Ascending)
            .order_by("DocumentType", Order::Ascending)
    }
}

/// `column ge from and column lt (to + 1 day)`; a range ending on the last representable day
/// keeps `le to`.
fn date_range(column: &str, from: Date, to: Date) -> Filter {
    let lower = Filter::ge(column, from);
    match to.next_day() {
        Some(next) => lower.and(Filter::lt(column, next)),
        None => lower.and(Filter::le(column, to)),
    }
}

/// Integers arrive as JSON numbers or padded text (`"03"`).
fn opt_integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    match opt_trimmed(deserializer)? {
        None => Ok(None),
        Some(text) => text
            .parse::<i64>()
            .map(Some)
            .map_err(|_| de::Error::custom(format!("{text:?} is not a whole number"))),
    }
}

/// A decimal that must be present.
fn required_decimal<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    opt_decimal(deserializer)?.ok_or_else(|| de::Error::custom("expected a decimal number"))
}

// ---- tolerant value decoding ----------------------------------------------------------------

/// SYSPRO pads fixed-width text columns; trims and requires a value.
fn trimmed<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match opt_trimmed(deserializer)? {
        Some(text) => Ok(text),
        None => Err(de::Error::custom("expected a non-empty text value")),
    }
}

/// Trims text; empty, blank and `null` become `None`; numbers are accepted as their text.
fn opt_trimmed<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    struct TextVisitor;
    impl<'de> Visitor<'de> for TextVisitor {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("text, a number or null")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let t = v.trim();
            Ok((!t.is_empty()).then(|| t.to_owned()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(TextVisitor)
        }
    }
    deserializer.deserialize_any(TextVisitor)
}

/// Decimals arrive as JSON numbers or (for `Edm.Decimal` with IEEE754Compatible, or padded
/// text) as strings; both are accepted. Numbers go through their shortest text form, so `12.99`
/// stays `12.99`.
fn opt_decimal<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Decimal>, D::Error> {
    struct DecimalVisitor;
    impl<'de> Visitor<'de> for DecimalVisitor {
        type Value = Option<Decimal>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a decimal number, as a number or text, or null")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let t = v.trim();
            if t.is_empty() {
                return Ok(None);
            }
            Decimal::from_str(t)
                .or_else(|_| Decimal::from_scientific(t))
                .map(Some)
                .map_err(|_| E::custom(format!("{t:?} is not a decimal number")))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(Decimal::from(v)))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(Decimal::from(v)))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            self.visit_str(&v.to_string())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(DecimalVisitor)
        }
    }
    deserializer.deserialize_any(DecimalVisitor)
}

/// Dates arrive as `Edm.Date` (`2024-01-31`) or `Edm.DateTimeOffset`/`DateTime`
/// (`2024-01-31T00:00:00Z`, with or without offset); the calendar date is kept. Empty text and
/// SYSPRO's empty date `0000-00-00` become `None`.
fn opt_date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Date>, D::Error> {
    let Some(text) = opt_trimmed(deserializer)? else {
        return Ok(None);
    };
    let day = text.get(..10).unwrap_or(&text);
    if day == "0000-00-00" {
        return Ok(None);
    }
    Date::parse(
        day,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map(Some)
    .map_err(|_| de::Error::custom(format!("{text:?} is not a date (CCYY-MM-DD...)")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn string_literals_double_quotes() {
        let f = Filter::eq("Name", "O'Brien's");
        assert_eq!(f.render().expect("valid"), "Name eq 'O''Brien''s'");
    }

    #[test]
    fn number_date_and_datetime_literals() {
        let f = Filter::ge("InvoiceDate", date!(2024 - 01 - 31))
            .and(Filter::lt("Stamp", datetime!(2024-02-01 10:30:00 +02:00)))
            .and(Filter::le("CurrencyValue", Decimal::new(1250, 2)))
            .and(Filter::ne("Count", -3));
        assert_eq!(
            f.render().expect("valid"),
            "InvoiceDate ge 2024-01-31 and Stamp lt 2024-02-01T10:30:00+02:00 and \
             CurrencyValue le 12.50 and Count ne -3"
        );
    }

    #[test]
    fn or_inside_and_is_parenthesised() {
        let f = Filter::eq("Branch", "10")
            .or(Filter::eq("Branch", "20"))
            .and(Filter::contains("Name", "a'b").not());
        assert_eq!(
            f.render().expect("valid"),
            "(Branch eq '10' or Branch eq '20') and not (contains(Name,'a''b'))"
        );
        assert_eq!(
            Filter::eq("X", true)
                .or(Filter::eq("Y", Literal::Null))
                .to_string(),
            "X eq true or Y eq null"
        );
        let mixed = Filter::eq("A", 1)
            .and(Filter::eq("B", 2))
            .or(Filter::eq("C", 3));
        assert_eq!(mixed.to_string(), "(A eq 1 and B eq 2) or C eq 3");
    }

    #[test]
    fn bad_column_names_are_rejected() {
        let err = Filter::eq("Name eq 'x' or 1", 1).render().unwrap_err();
        assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "filter"));
        assert!(check_identifier("select", "Nav/Prop_1").is_ok());
        assert!(check_identifier("select", "1abc").is_err());
    }

    #[test]
    fn customer_row_tolerates_padding_strings_and_extra_columns() {
        let row: ArCustomer = serde_json::from_value(serde_json::json!({
            "Customer": "000010    ",
            "Name": "  Müller GmbH ",
            "Email": "",
            "CreditLimit": " 1500.50",
            "Currency": null,
            "Balance1": 12.5,
            "@odata.etag": "W/\"1\""
        }))
        .expect("row");
        assert_eq!(row.customer, "000010");
        assert_eq!(row.name.as_deref(), Some("Müller GmbH"));
        assert_eq!(row.email, None);
        assert_eq!(row.currency, None);
        assert_eq!(row.credit_limit, Some(Decimal::new(150050, 2)));
        assert_eq!(row.extra.get("Balance1"), Some(&serde_json::json!(12.5)));
        assert!(row.extra.contains_key("@odata.etag"));
    }

    #[test]
    fn invoice_row_reads_numbers_and_datetimes() {
        let row: ArInvoice = serde_json::from_value(serde_json::json!({
            "Customer": "000010",
            "Invoice": "ML000123  ",
            "InvoiceDate": "2024-03-05T00:00:00Z",
            "CurrencyValue": 199.99
        }))
        .expect("row");
        assert_eq!(row.invoice, "ML000123");
        assert_eq!(row.invoice_date, Some(date!(2024 - 03 - 05)));
        assert_eq!(row.currency_value, Some(Decimal::new(19999, 2)));
        let empty: ArInvoice = serde_json::from_value(serde_json::json!({
            "Customer": "1", "Invoice": "2", "InvoiceDate": "0000-00-00"
        }))
        .expect("row");
        assert_eq!(empty.invoice_date, None);
    }

    #[test]
    fn gl_transaction_row_reads_padded_numbers_and_signed_values() {
        let row: GenTransaction = serde_json::from_value(serde_json::json!({
            "GlCode": "00-4010  ",
            "GlYear": 2026,
            "GlPeriod": "03",
            "Journal": 12,
            "EntryNumber": 2,
            "TransactionDate": "2026-03-14T00:00:00Z",
            "Reference": "WB100001 ",
            "EntryValue": -100.0,
            "Source": "GJ"
        }))
        .expect("row");
        assert_eq!(row.gl_code, "00-4010");
        assert_eq!(row.gl_period, Some(3));
        assert_eq!(row.transaction_date, Some(date!(2026 - 03 - 14)));
        assert_eq!(row.reference.as_deref(), Some("WB100001"));
        assert_eq!(row.entry_value, Decimal::new(-100, 0));
        assert_eq!(row.extra.get("Source"), Some(&serde_json::json!("GJ")));
        let err = decode_row::<GenTransaction>(
            "GenTransaction",
            1,
            serde_json::json!({"GlCode": "00-4010", "EntryValue": null}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("EntryValue"), "{err}");
    }

    #[test]
    fn date_ranges_end_before_the_next_day() {
        assert_eq!(
            date_range("InvoiceDate", date!(2026 - 03 - 01), date!(2026 - 03 - 31)).to_string(),
            "InvoiceDate ge 2026-03-01 and InvoiceDate lt 2026-04-01"
        );
    }

    #[test]
    fn missing_key_names_the_column() {
        let err = decode_row::<GenMaster>("GenMaster", 3, serde_json::json!({"Description": "x"}))
            .unwrap_err();
        assert!(err.to_string().contains("row 3"), "{err}");
        assert!(err.to_string().contains("GlCode"), "{err}");
    }

    #[test]
    fn metadata_entity_sets_are_listed() {
        let xml = r#"<?xml version="1.0"?><edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices><Schema Namespace="S"><EntityContainer Name="C"><EntitySet Name="ArCustomer" EntityType="S.ArCustomer"/><EntitySet Name="GenMaster" EntityType="S.GenMaster"></EntitySet></EntityContainer></Schema></edmx:DataServices></edmx:Edmx>"#;
        assert_eq!(
            parse_entity_sets(xml).expect("csdl"),
            vec!["ArCustomer".to_owned(), "GenMaster".to_owned()]
        );
        assert!(parse_entity_sets("<html><body>login</body></html>").is_err());
    }
}
