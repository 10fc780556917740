//! One page of search results, and streams over every page of a search.
//!
//! Commerce answers a page number past the end with the *last page again* instead of an empty
//! page, so paging must stop by `total_count`: the last page is
//! `max(1, ceil(total_count / page_size))`. The streams here re-read `total_count` on every page,
//! because entities are created and updated while a search is paged:
//!
//! * `total_count` grows: paging continues to the new last page.
//! * `total_count` shrinks below the page requested: the answer is Commerce repeating its new last
//!   page; its entities not seen before are yielded and the stream ends
//!   ([`StopReason::PastLastPage`]).
//! * A page that starts with the same entity as the previous page means Commerce is not advancing
//!   (for example a proxy dropping the query string). The stream yields that page's unseen
//!   entities and then **ends cleanly** with [`StopReason::NotAdvancing`] and a warning in the log,
//!   rather than failing: with the recommended sort (`updated_at`, then `entity_id`, ascending)
//!   the next incremental poll resumes from the last entity seen, so nothing is lost, and a
//!   half-read listing is still usable. Callers that need to know check
//!   [`PageStream::stop_reason`] once the stream has ended.
//!
//! Entities are de-duplicated by id across pages (rows move between pages while paging), so each
//! id is yielded at most once per stream. [`PageStream::repeated`] names the entities whose rows
//! were dropped so (not counting a page that did not advance). With the recommended sort, an
//! entity updated after its page was read moves to the end and comes again; every row after its
//! old place moved up one, so the first row of the next page was never served. Rows before that
//! old place did not move: a caller that must see every row reads the search again from the
//! `updated_at` the entity had when it was first served ([`PageStream::moved_from`]).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use futures::future::BoxFuture;
use serde::Serialize;
use time::OffsetDateTime;

use crate::error::Error;
use crate::models::{CreditMemo, Customer, Invoice, Order, Product, SearchResults};
use crate::search::SearchCriteria;

/// Page size used by streams when the criteria set none (Commerce would otherwise return the
/// whole collection in one answer).
pub const DEFAULT_STREAM_PAGE_SIZE: u32 = 100;

/// One page of a search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    /// Entities on this page (in a stream: only those not yielded by an earlier page).
    pub items: Vec<T>,
    /// Size of the whole filtered collection when this page was read. `None` only when a `fields`
    /// projection left it out.
    pub total_count: Option<u64>,
    /// The page number requested (Commerce echoes the request, not the page it actually served).
    pub current_page: u32,
    /// The page size requested; `None` means Commerce returned every match at once.
    pub page_size: Option<u32>,
    /// The criteria as Commerce echoed them (`Value::Null` when left out).
    pub search_criteria: serde_json::Value,
}

impl<T> Page<T> {
    pub(crate) fn from_results(
        results: SearchResults<T>,
        current_page: u32,
        page_size: Option<u32>,
    ) -> Self {
        Page {
            items: results.items,
            total_count: results.total_count.map(|t| u64::try_from(t).unwrap_or(0)),
            current_page,
            page_size,
            search_criteria: results.search_criteria.unwrap_or(serde_json::Value::Null),
        }
    }

    /// The last page number by `total_count`: `max(1, ceil(total_count / page_size))`.
    pub fn last_page(&self) -> u32 {
        match (self.total_count, self.page_size) {
            (Some(total), Some(size)) => last_page(total, size),
            _ => 1,
        }
    }

    /// Whether no page follows this one.
    pub fn is_last(&self) -> bool {
        self.current_page >= self.last_page()
    }
}

/// `max(1, ceil(total / size))`, saturating at `u32::MAX`.
pub fn last_page(total: u64, size: u32) -> u32 {
    let size = u64::from(size.max(1));
    let pages = total.div_ceil(size).max(1);
    u32::try_from(pages).unwrap_or(u32::MAX)
}

/// Entities that searches return, identified for de-duplication across pages.
pub trait Entity {
    /// The entity's id (`entity_id`, or `id` for customers and products); `None` when a `fields`
    /// projection left it out, in which case the entity is never treated as a duplicate.
    fn entity_key(&self) -> Option<u64>;

    /// When the entity last changed (`updated_at`, else `created_at`); `None` when unknown.
    fn changed_at(&self) -> Option<OffsetDateTime> {
        None
    }
}

impl Entity for Order {
    fn entity_key(&self) -> Option<u64> {
        self.entity_id.map(|id| id.get())
    }

    fn changed_at(&self) -> Option<OffsetDateTime> {
        self.updated_at.or(self.created_at)
    }
}

impl Entity for Invoice {
    fn entity_key(&self) -> Option<u64> {
        self.entity_id.map(|id| id.get())
    }

    fn changed_at(&self) -> Option<OffsetDateTime> {
        self.updated_at.or(self.created_at)
    }
}

impl Entity for CreditMemo {
    fn entity_key(&self) -> Option<u64> {
        self.entity_id.map(|id| id.get())
    }

    fn changed_at(&self) -> Option<OffsetDateTime> {
        self.updated_at.or(self.created_at)
    }
}

impl Entity for Customer {
    fn entity_key(&self) -> Option<u64> {
        self.id.map(|id| id.get())
    }

    fn changed_at(&self) -> Option<OffsetDateTime> {
        self.updated_at.or(self.created_at)
    }
}

impl Entity for Product {
    fn entity_key(&self) -> Option<u64> {
        self.id.map(|id| id.get())
    }

    fn changed_at(&self) -> Option<OffsetDateTime> {
        self.updated_at.or(self.created_at)
    }
}

impl Entity for serde_json::Value {
    fn entity_key(&self) -> Option<u64> {
        let id = self.get("entity_id").or_else(|| self.get("id"))?;
        id.as_u64()
            .or_else(|| id.as_str().and_then(|s| s.trim().parse().ok()))
    }
}

/// Why a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The page read was the last one by `total_count`.
    LastPage,
    /// Commerce returned a page without entities.
    EmptyPage,
    /// The page requested was past the last page by `total_count` (the collection shrank, or
    /// paging started past the end); Commerce served its last page again.
    PastLastPage,
    /// Page `page` started with the same entity as the page before it.
    NotAdvancing {
        /// The page number requested.
        page: u32,
    },
    /// The answer had no `total_count` (a `fields` projection left it out), so the page read was
    /// treated as the last.
    MissingTotalCount,
    /// A request failed; the error was the stream's last item.
    Failed,
}

/// Reads one page of a search; the resource handlers supply one bound to a client and endpoint.
pub type FetchPage<T> = Arc<
    dyn Fn(SearchCriteria) -> BoxFuture<'static, Result<SearchResults<T>, Error>> + Send + Sync,
>;

/// A stream of the pages of a search, each page holding only entities not seen before.
pub struct PageStream<T> {
    fetch: FetchPage<T>,
    criteria: SearchCriteria,
    page_size: u32,
    first_page: u32,
    next_page: u32,
    /// Every entity served, with when it had last changed then.
    seen: HashMap<u64, Option<OffsetDateTime>>,
    repeated: Vec<u64>,
    previous_first: Option<u64>,
    in_flight: Option<BoxFuture<'static, Result<SearchResults<T>, Error>>>,
    pending_error: Option<Error>,
    stop: Option<StopReason>,
}

// No field is structurally pinned: the in-flight future is boxed.
impl<T> Unpin for PageStream<T> {}

impl<T> fmt::Debug for PageStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageStream")
            .field("criteria", &self.criteria)
            .field("page_size", &self.page_size)
            .field("next_page", &self.next_page)
            .field("seen", &self.seen.len())
            .field("stop", &self.stop)
            .finish_non_exhaustive()
    }
}

impl<T: Entity> PageStream<T> {
    /// Pages through `criteria` with `fetch`, starting at the criteria's page (or 1) and using its
    /// page size (or [`DEFAULT_STREAM_PAGE_SIZE`]). Invalid criteria are reported as the stream's
    /// first item.
    pub fn new(fetch: FetchPage<T>, criteria: SearchCriteria) -> Self {
        let page_size = criteria
            .requested_page_size()
            .unwrap_or(DEFAULT_STREAM_PAGE_SIZE);
        let first_page = criteria.requested_page().unwrap_or(1);
        let criteria = criteria.page_size(page_size);
        let pending_error = criteria.validate().err();
        PageStream {
            fetch,
            criteria,
            page_size,
            first_page,
            next_page: first_page,
            seen: HashMap::new(),
            repeated: Vec::new(),
            previous_first: None,
            in_flight: None,
            pending_error,
            stop: None,
        }
    }

    /// Why the stream ended; `None` while it is still running.
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.stop
    }

    /// The entities whose rows were dropped so far because they came on an earlier page: rows
    /// moved between pages while paging, so another row may have been skipped (see the
    /// [module docs](self)). The rows of a page that did not advance are not counted.
    pub fn repeated(&self) -> &[u64] {
        &self.repeated
    }

    /// `None` while no row came again ([`PageStream::repeated`]). Otherwise where a search read
    /// again would miss nothing: the earliest [`Entity::changed_at`] a repeated entity had when it
    /// was first served (rows before its old place did not move), or `Some(None)` (from the
    /// start) when one of them had none.
    pub fn moved_from(&self) -> Option<Option<OffsetDateTime>> {
        if self.repeated.is_empty() {
            return None;
        }
        Some(
            self.repeated
                .iter()
                .map(|id| self.seen.get(id).copied().flatten())
                .collect::<Option<Vec<_>>>()
                .and_then(|times| times.into_iter().min()),
        )
    }

    /// A stream of the entities instead of the pages.
    pub fn items(self) -> ItemStream<T> {
        ItemStream {
            pages: self,
            buffer: VecDeque::new(),
        }
    }

    fn accept(&mut self, results: SearchResults<T>) -> Page<T> {
        let requested = self.next_page;
        let mut page = Page::from_results(results, requested, Some(self.page_size));
        let first_key = page.items.first().and_then(Entity::entity_key);
        self.stop = match page.total_count {
            None => Some(StopReason::MissingTotalCount),
            Some(total) => {
                let last = last_page(total, self.page_size);
                if page.items.is_empty() {
                    Some(StopReason::EmptyPage)
                } else if requested > last {
                    tracing::debug!(
                        requested,
                        last,
                        total,
                        "search collection shrank while paging; ending at its new last page"
                    );
                    Some(StopReason::PastLastPage)
                } else if requested > self.first_page
                    && first_key.is_some()
                    && first_key == self.previous_first
                {
                    tracing::warn!(
                        page = requested,
                        first_entity = first_key,
                        "search page did not advance (same first entity as the previous page); ending the listing early"
                    );
                    Some(StopReason::NotAdvancing { page: requested })
                } else if requested >= last {
                    Some(StopReason::LastPage)
                } else {
                    None
                }
            }
        };
        self.previous_first = first_key;
        self.next_page = requested.saturating_add(1);
        let seen = &mut self.seen;
        let repeated = &mut self.repeated;
        let advancing = !matches!(self.stop, Some(StopReason::NotAdvancing { .. }));
        page.items.retain(|item| match item.entity_key() {
            Some(key) => {
                let new = !seen.contains_key(&key);
                if new {
                    seen.insert(key, item.changed_at());
                } else if advancing {
                    repeated.push(key);
                }
                new
            }
            None => true,
        });
        page
    }
}

impl<T: Entity> Stream for PageStream<T> {
    type Item = Result<Page<T>, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(err) = this.pending_error.take() {
            this.stop = Some(StopReason::Failed);
            return Poll::Ready(Some(Err(err)));
        }
        if this.stop.is_some() {
            return Poll::Ready(None);
        }
        let in_flight = this.in_flight.get_or_insert_with(|| {
            let criteria = this.criteria.clone().current_page(this.next_page);
            (this.fetch)(criteria)
        });
        let result = match in_flight.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(result) => result,
        };
        this.in_flight = None;
        match result {
            Ok(results) => Poll::Ready(Some(Ok(this.accept(results)))),
            Err(err) => {
                this.stop = Some(StopReason::Failed);
                Poll::Ready(Some(Err(err)))
            }
        }
    }
}

/// A stream of every entity of a search, each id at most once; see the [module docs](self).
pub struct ItemStream<T> {
    pages: PageStream<T>,
    buffer: VecDeque<T>,
}

impl<T> Unpin for ItemStream<T> {}

impl<T> fmt::Debug for ItemStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ItemStream")
            .field("pages", &self.pages)
            .field("buffered", &self.buffer.len())
            .finish()
    }
}

impl<T: Entity> ItemStream<T> {
    /// Why the stream ended; `None` while it is still running.
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.pages.stop_reason()
    }

    /// See [`PageStream::repeated`].
    pub fn repeated(&self) -> &[u64] {
        self.pages.repeated()
    }

    /// See [`PageStream::moved_from`].
    pub fn moved_from(&self) -> Option<Option<OffsetDateTime>> {
        self.pages.moved_from()
    }
}

impl<T: Entity> Stream for ItemStream<T> {
    type Item = Result<T, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(item) = this.buffer.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            match Pin::new(&mut this.pages).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(err))) => return Poll::Ready(Some(Err(err))),
                Poll::Ready(Some(Ok(page))) => this.buffer.extend(page.items),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use serde_json::{Value, json};
    use std::collections::HashSet;
    use std::sync::Mutex;

    type Script = Box<dyn Fn(u32, &mut Vec<u64>) + Send + Sync>;

    /// A fake collection served the way Commerce serves it: pages past the end repeat the last
    /// page. `script` can change the collection before each request.
    struct Fake {
        ids: Mutex<Vec<u64>>,
        requests: Mutex<Vec<u32>>,
        script: Script,
        ignore_page: bool,
    }

    fn fetcher(fake: Arc<Fake>) -> FetchPage<Value> {
        Arc::new(move |criteria: SearchCriteria| {
            let fake = Arc::clone(&fake);
            Box::pin(async move {
                let page = criteria.requested_page().unwrap_or(1);
                let size = criteria.requested_page_size().unwrap() as usize;
                fake.requests.lock().unwrap().push(page);
                let mut ids = fake.ids.lock().unwrap();
                (fake.script)(page, &mut ids);
                let last = last_page(ids.len() as u64, size as u32) as usize;
                let served = if fake.ignore_page {
                    1
                } else {
                    (page as usize).clamp(1, last)
                };
                let items: Vec<Value> = ids
                    .iter()
                    .skip((served - 1) * size)
                    .take(size)
                    .map(|id| json!({ "entity_id": id }))
                    .collect();
                Ok(SearchResults {
                    items,
                    search_criteria: Some(json!({"filter_groups": [], "current_page": page})),
                    total_count: Some(ids.len() as i64),
                })
            })
        })
    }

    fn fake(
        ids: Vec<u64>,
        script: impl Fn(u32, &mut Vec<u64>) + Send + Sync + 'static,
    ) -> Arc<Fake> {
        Arc::new(Fake {
            ids: Mutex::new(ids),
            requests: Mutex::new(Vec::new()),
            script: Box::new(script),
            ignore_page: false,
        })
    }

    async fn collect(stream: &mut ItemStream<Value>) -> Vec<u64> {
        let mut out = Vec::new();
        while let Some(item) = stream.next().await {
            out.push(item.expect("no error").entity_key().unwrap());
        }
        out
    }

    #[test]
    fn last_page_formula() {
        assert_eq!(last_page(0, 10), 1);
        assert_eq!(last_page(1, 10), 1);
        assert_eq!(last_page(10, 10), 1);
        assert_eq!(last_page(11, 10), 2);
        assert_eq!(last_page(u64::MAX, 1), u32::MAX);
    }

    #[tokio::test]
    async fn stops_by_total_count_without_reading_past_the_end() {
        let fake = fake((1..=25).collect(), |_, _| {});
        let mut stream = PageStream::new(
            fetcher(Arc::clone(&fake)),
            SearchCriteria::new().page_size(10),
        )
        .items();
        assert_eq!(collect(&mut stream).await, (1..=25).collect::<Vec<_>>());
        assert_eq!(*fake.requests.lock().unwrap(), vec![1, 2, 3]);
        assert_eq!(stream.stop_reason(), Some(StopReason::LastPage));
    }

    #[tokio::test]
    async fn exact_multiple_needs_no_extra_request() {
        let fake = fake((1..=20).collect(), |_, _| {});
        let mut stream = PageStream::new(
            fetcher(Arc::clone(&fake)),
            SearchCriteria::new().page_size(10),
        )
        .items();
        assert_eq!(collect(&mut stream).await.len(), 20);
        assert_eq!(*fake.requests.lock().unwrap(), vec![1, 2]);
    }

    #[tokio::test]
    async fn growing_collection_is_followed() {
        // Five new entities arrive after page 1 was read.
        let fake = fake((1..=15).collect(), |page, ids| {
            if page == 2 {
                ids.extend(16..=20);
            }
        });
        let mut stream = PageStream::new(
            fetcher(Arc::clone(&fake)),
            SearchCriteria::new().page_size(10),
        )
        .items();
        assert_eq!(collect(&mut stream).await, (1..=20).collect::<Vec<_>>());
        assert_eq!(*fake.requests.lock().unwrap(), vec![1, 2]);
    }

    #[tokio::test]
    async fn shrinking_collection_ends_at_the_new_last_page() {
        // After page 2, ten entities vanish: page 3 no longer exists and Commerce repeats page 2.
        let fake = fake((1..=30).collect(), |page, ids| {
            if page == 3 {
                ids.retain(|id| *id > 10);
            }
        });
        let mut stream = PageStream::new(
            fetcher(Arc::clone(&fake)),
            SearchCriteria::new().page_size(10),
        )
        .items();
        let got = collect(&mut stream).await;
        // Page 2 as served at request 3 holds 21..=30, which were never seen.
        assert_eq!(got, (1..=30).collect::<Vec<_>>());
        assert_eq!(*fake.requests.lock().unwrap(), vec![1, 2, 3]);
        assert_eq!(stream.stop_reason(), Some(StopReason::PastLastPage));
    }

    #[tokio::test]
    async fn duplicates_from_shifting_rows_are_dropped() {
        // An entity is inserted at the front after page 1, shifting 10 onto page 2.
        let fake = fake((10..=29).collect(), |page, ids| {
            if page == 2 {
                ids.insert(0, 5);
            }
        });
        let mut stream = PageStream::new(
            fetcher(Arc::clone(&fake)),
            SearchCriteria::new().page_size(10),
        )
        .items();
        let got = collect(&mut stream).await;
        let unique: HashSet<u64> = got.iter().copied().collect();
        assert_eq!(unique.len(), got.len(), "no id twice: {got:?}");
        assert!(got.contains(&19) && got.contains(&20));
        assert_eq!(stream.repeated(), [19]);
    }

    #[tokio::test]
    async fn an_entity_updated_after_its_page_is_counted_when_it_comes_again() {
        // 3 is updated after page 1 was read: it moves to the end, so 11 moves onto page 1 and is
        // never served. The stream cannot see the gap, but it counts 3 coming again.
        let moving = fake((1..=20).collect(), |page, ids| {
            if page == 2 {
                ids.retain(|id| *id != 3);
                ids.push(3);
            }
        });
        let mut stream =
            PageStream::new(fetcher(moving), SearchCriteria::new().page_size(10)).items();
        let got = collect(&mut stream).await;
        assert!(!got.contains(&11), "{got:?}");
        assert_eq!(stream.repeated(), [3]);
        // These entities carry no time: read again from the start.
        assert_eq!(stream.moved_from(), Some(None));
        let quiet = fake((1..=20).collect(), |_, _| {});
        let mut stream =
            PageStream::new(fetcher(quiet), SearchCriteria::new().page_size(10)).items();
        assert_eq!(collect(&mut stream).await.len(), 20);
        assert!(stream.repeated().is_empty());
        assert_eq!(stream.moved_from(), None);
    }

    #[tokio::test]
    async fn non_advancing_pages_end_the_stream_cleanly() {
        let fake = Arc::new(Fake {
            ids: Mutex::new((1..=30).collect()),
            requests: Mutex::new(Vec::new()),
            script: Box::new(|_, _| {}),
            ignore_page: true,
        });
        let mut stream = PageStream::new(
            fetcher(Arc::clone(&fake)),
            SearchCriteria::new().page_size(10),
        )
        .items();
        assert_eq!(collect(&mut stream).await, (1..=10).collect::<Vec<_>>());
        assert_eq!(*fake.requests.lock().unwrap(), vec![1, 2]);
        assert_eq!(
            stream.stop_reason(),
            Some(StopReason::NotAdvancing { page: 2 })
        );
        // The page served again is no sign of rows moving.
        assert!(stream.repeated().is_empty(), "{:?}", stream.repeated());
    }

    #[tokio::test]
    async fn invalid_criteria_are_the_first_item() {
        let fake = fake(vec![1], |_, _| {});
        let mut stream = PageStream::new(
            fetcher(Arc::clone(&fake)),
            SearchCriteria::new().page_size(301),
        );
        match stream.next().await {
            Some(Err(Error::InvalidInput { field, .. })) => {
                assert_eq!(field, "searchCriteria[pageSize]");
            }
            other => panic!("expected InvalidInput, got {other:?}"),
        }
        assert!(stream.next().await.is_none());
        assert!(fake.requests.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn empty_collection_is_one_request() {
        let fake = fake(Vec::new(), |_, _| {});
        let mut stream = PageStream::new(fetcher(Arc::clone(&fake)), SearchCriteria::new());
        let page = stream.next().await.unwrap().unwrap();
        assert!(page.items.is_empty());
        assert_eq!(page.page_size, Some(DEFAULT_STREAM_PAGE_SIZE));
        assert!(stream.next().await.is_none());
        assert_eq!(stream.stop_reason(), Some(StopReason::EmptyPage));
    }
}
