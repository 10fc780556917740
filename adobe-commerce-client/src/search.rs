//! `searchCriteria` for the list endpoints: filter groups, sort orders and paging.
//!
//! Filters inside one group are ORed; groups are ANDed. Commerce cannot express an OR across
//! groups, and only top-level attributes can be filtered.
//!
//! ```
//! use adobe_commerce_client::models::StoreId;
//! use adobe_commerce_client::search::{Filter, SearchCriteria, SortDirection};
//!
//! let criteria = SearchCriteria::new()
//!     .filter(Filter::gteq("updated_at", "2026-03-01 00:00:00"))
//!     .any_of([Filter::eq("status", "processing"), Filter::eq("status", "complete")])
//!     .store_id(StoreId(1))
//!     .sort_by("updated_at", SortDirection::Asc)
//!     .sort_by("entity_id", SortDirection::Asc)
//!     .page_size(100);
//! let pairs = criteria.to_query_pairs().expect("valid criteria");
//! assert_eq!(pairs[0].0, "searchCriteria[filter_groups][0][filters][0][field]");
//! ```
//!
//! Every index in a query key stays at or below 9 (at most 10 filter groups, 10 filters per group
//! and 10 sort orders): Commerce releases sort signed OAuth parameters differently once an index
//! has two digits, so signatures would fail on some of them.

use std::fmt;

use time::OffsetDateTime;

use crate::error::Error;
use crate::models::{StoreId, format_timestamp};

/// The largest `pageSize` Commerce accepts when its web API input limits are on (the default
/// limit; stores may configure another).
pub const DEFAULT_MAX_PAGE_SIZE: u32 = 300;

/// Most filter groups, filters per group, or sort orders one request may carry (indexes 0..=9).
pub const MAX_INDEXED_ENTRIES: usize = 10;

/// How a filter compares its field with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Condition {
    /// Equal.
    Eq,
    /// Not equal.
    Neq,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Gteq,
    /// Greater than or equal (Commerce's alias `moreq`).
    Moreq,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lteq,
    /// Lower bound, inclusive; pair with [`Condition::To`] in a separate group.
    From,
    /// Upper bound, inclusive; pair with [`Condition::From`] in a separate group.
    To,
    /// One of a comma-separated list.
    In,
    /// None of a comma-separated list.
    Nin,
    /// SQL `LIKE`; the value carries its own `%` wildcards.
    Like,
    /// SQL `NOT LIKE`.
    Nlike,
    /// Field is `NULL`.
    Null,
    /// Field is not `NULL`.
    NotNull,
    /// Value is in the field's comma-separated set (`FIND_IN_SET`).
    Finset,
    /// Value is not in the field's comma-separated set.
    Nfinset,
}

impl Condition {
    /// The `condition_type` code Commerce expects.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Neq => "neq",
            Self::Gt => "gt",
            Self::Gteq => "gteq",
            Self::Moreq => "moreq",
            Self::Lt => "lt",
            Self::Lteq => "lteq",
            Self::From => "from",
            Self::To => "to",
            Self::In => "in",
            Self::Nin => "nin",
            Self::Like => "like",
            Self::Nlike => "nlike",
            Self::Null => "null",
            Self::NotNull => "notnull",
            Self::Finset => "finset",
            Self::Nfinset => "nfinset",
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One comparison of a field with a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    field: String,
    condition: Condition,
    value: FilterValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum FilterValue {
    Single(String),
    List(Vec<String>),
    /// `null`/`notnull` ignore the value, but Commerce requires one to be sent.
    Ignored,
}

impl Filter {
    /// A filter with any condition and a single value.
    pub fn new(field: impl Into<String>, condition: Condition, value: impl ToString) -> Self {
        Filter {
            field: field.into(),
            condition,
            value: FilterValue::Single(value.to_string()),
        }
    }

    fn list<I, V>(field: impl Into<String>, condition: Condition, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: ToString,
    {
        Filter {
            field: field.into(),
            condition,
            value: FilterValue::List(values.into_iter().map(|v| v.to_string()).collect()),
        }
    }

    /// `field = value`.
    pub fn eq(field: impl Into<String>, value: impl ToString) -> Self {
        Self::new(field, Condition::Eq, value)
    }

    /// `field != value`.
    pub fn neq(field: impl Into<String>, value: impl ToString) -> Self {
        Self::new(field, Condition::Neq, value)
    }

    /// `field > value`.
    pub fn gt(field: impl Into<String>, value: impl ToString) -> Self {
        Self::new(field, Condition::Gt, value)
    }

    /// `field >= value`.
    pub fn gteq(field: impl Into<String>, value: impl ToString) -> Self {
        Self::new(field, Condition::Gteq, value)
    }

    /// `field >= value`, spelled `moreq`.
    pub fn moreq(field: impl Into<String>, value: impl ToString) -> Self {
        Self::new(field, Condition::Moreq, value)
    }

    /// `field < value`.
    pub fn lt(field: impl Into<String>, value: impl ToString) -> Self {
        Self::new(field, Condition::Lt, value)
    }

    /// `field <= value`.
    pub fn lteq(field: impl Into<String>, value: impl ToString) -> Self {
        Self::new(field, Condition::Lteq, value)
    }

    /// Inclusive lower bound; see [`SearchCriteria::between`].
    pub fn from(field: impl Into<String>, value: impl ToString) -> Self {
        Self::new(field, Condition::From, value)
    }

    /// Inclusive upper bound; see [`SearchCriteria::between`].
    pub fn to(field: impl Into<String>, value: impl ToString) -> Self {
        Self::new(field, Condition::To, value)
    }

    /// `field IN (values…)`. Values may not contain commas (Commerce splits on them).
    pub fn in_list<I, V>(field: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: ToString,
    {
        Self::list(field, Condition::In, values)
    }

    /// `field NOT IN (values…)`. Values may not contain commas.
    pub fn not_in_list<I, V>(field: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: ToString,
    {
        Self::list(field, Condition::Nin, values)
    }

    /// `field LIKE pattern`; put the `%` wildcards in `pattern` yourself.
    pub fn like(field: impl Into<String>, pattern: impl ToString) -> Self {
        Self::new(field, Condition::Like, pattern)
    }

    /// `field NOT LIKE pattern`.
    pub fn not_like(field: impl Into<String>, pattern: impl ToString) -> Self {
        Self::new(field, Condition::Nlike, pattern)
    }

    /// `field IS NULL`.
    pub fn is_null(field: impl Into<String>) -> Self {
        Filter {
            field: field.into(),
            condition: Condition::Null,
            value: FilterValue::Ignored,
        }
    }

    /// `field IS NOT NULL`.
    pub fn not_null(field: impl Into<String>) -> Self {
        Filter {
            field: field.into(),
            condition: Condition::NotNull,
            value: FilterValue::Ignored,
        }
    }

    /// `value` is in the comma-separated set stored in `field`.
    pub fn in_set(field: impl Into<String>, value: impl ToString) -> Self {
        Self::new(field, Condition::Finset, value)
    }

    /// `value` is not in the comma-separated set stored in `field`.
    pub fn not_in_set(field: impl Into<String>, value: impl ToString) -> Self {
        Self::new(field, Condition::Nfinset, value)
    }

    /// The field compared.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The comparison.
    pub fn condition(&self) -> Condition {
        self.condition
    }

    /// The value exactly as it is sent.
    pub fn value(&self) -> String {
        match &self.value {
            FilterValue::Single(v) => v.clone(),
            FilterValue::List(values) => values.join(","),
            FilterValue::Ignored => "1".to_owned(),
        }
    }

    fn validate(&self, at: &str) -> Result<(), Error> {
        if self.field.trim().is_empty() {
            return Err(invalid(
                format!("{at}[field]"),
                "a non-empty attribute code",
            ));
        }
        if let FilterValue::List(values) = &self.value {
            if values.is_empty() {
                return Err(invalid(
                    format!("{at}[value]"),
                    format!(
                        "at least one value for `{}` on `{}`",
                        self.condition, self.field
                    ),
                ));
            }
            if let Some(bad) = values.iter().find(|v| v.contains(',')) {
                return Err(invalid(
                    format!("{at}[value]"),
                    format!(
                        "list values without commas (`{bad}` would be split by Commerce) for `{}` on `{}`",
                        self.condition, self.field
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Filters that are ORed together.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FilterGroup {
    filters: Vec<Filter>,
}

impl FilterGroup {
    /// An empty group.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an alternative.
    pub fn or(mut self, filter: Filter) -> Self {
        self.filters.push(filter);
        self
    }

    /// The alternatives, in order.
    pub fn filters(&self) -> &[Filter] {
        &self.filters
    }
}

impl FromIterator<Filter> for FilterGroup {
    fn from_iter<I: IntoIterator<Item = Filter>>(iter: I) -> Self {
        FilterGroup {
            filters: iter.into_iter().collect(),
        }
    }
}

/// Sort direction. Commerce sorts descending when a sort order has none, so it is always sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortDirection {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

impl SortDirection {
    /// `ASC` or `DESC`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Asc => "ASC",
            Self::Desc => "DESC",
        }
    }
}

/// One sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortOrder {
    /// Attribute sorted on.
    pub field: String,
    /// Direction.
    pub direction: SortDirection,
}

/// A complete `searchCriteria`, plus the optional `fields` projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchCriteria {
    filter_groups: Vec<FilterGroup>,
    sort_orders: Vec<SortOrder>,
    page_size: Option<u32>,
    current_page: Option<u32>,
    fields: Option<String>,
    max_page_size: u32,
}

impl Default for SearchCriteria {
    fn default() -> Self {
        SearchCriteria {
            filter_groups: Vec::new(),
            sort_orders: Vec::new(),
            page_size: None,
            current_page: None,
            fields: None,
            max_page_size: DEFAULT_MAX_PAGE_SIZE,
        }
    }
}

impl SearchCriteria {
    /// Criteria that match everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// ANDs one filter (a group of one).
    pub fn filter(self, filter: Filter) -> Self {
        self.group(FilterGroup::new().or(filter))
    }

    /// ANDs a group of alternatives that are ORed.
    pub fn any_of(self, filters: impl IntoIterator<Item = Filter>) -> Self {
        self.group(filters.into_iter().collect())
    }

    /// ANDs a filter group.
    pub fn group(mut self, group: FilterGroup) -> Self {
        self.filter_groups.push(group);
        self
    }

    /// `from <= field <= to`, as two groups (`from` and `to` ANDed), the way Commerce documents it.
    pub fn between(self, field: impl Into<String>, from: impl ToString, to: impl ToString) -> Self {
        let field = field.into();
        self.filter(Filter::from(field.clone(), from))
            .filter(Filter::to(field, to))
    }

    /// Changes since `since`: `updated_at >= since`, formatted as Commerce's UTC timestamp.
    ///
    /// Pair with sorting on `updated_at` then `entity_id` ascending, and keep an overlap window:
    /// rows that share the watermark second are returned again, never lost.
    pub fn updated_since(self, since: OffsetDateTime) -> Self {
        self.filter(Filter::gteq("updated_at", format_timestamp(since)))
    }

    /// Only entities of one store view (`store_id = id`). The store code in the URL does not
    /// filter sales lists; this does.
    pub fn store_id(self, store: StoreId) -> Self {
        self.filter(Filter::eq("store_id", store))
    }

    /// Adds a sort key; earlier keys take precedence.
    pub fn sort_by(mut self, field: impl Into<String>, direction: SortDirection) -> Self {
        self.sort_orders.push(SortOrder {
            field: field.into(),
            direction,
        });
        self
    }

    /// Entities per page, 1 up to the maximum page size (300 unless changed).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = Some(size);
        self
    }

    /// The page to read, from 1.
    pub fn current_page(mut self, page: u32) -> Self {
        self.current_page = Some(page);
        self
    }

    /// Raises or lowers the largest page size accepted, for stores whose input limit differs from
    /// Commerce's default of 300.
    pub fn max_page_size(mut self, max: u32) -> Self {
        self.max_page_size = max;
        self
    }

    /// Asks Commerce to return only these entity fields. The list is wrapped as
    /// `items[...]` and `total_count` and `search_criteria` are kept, which paging needs; keep the
    /// entity id in the list so pages can be de-duplicated.
    pub fn fields<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let list: Vec<String> = fields.into_iter().map(|f| f.as_ref().to_owned()).collect();
        self.fields = Some(format!(
            "items[{}],search_criteria,total_count",
            list.join(",")
        ));
        self
    }

    /// Sends a `fields` projection verbatim (for nested projections such as
    /// `items[entity_id,items[sku]],total_count`).
    pub fn fields_raw(mut self, projection: impl Into<String>) -> Self {
        self.fields = Some(projection.into());
        self
    }

    /// The filter groups, in order.
    pub fn filter_groups(&self) -> &[FilterGroup] {
        &self.filter_groups
    }

    /// The sort keys, in order.
    pub fn sort_orders(&self) -> &[SortOrder] {
        &self.sort_orders
    }

    /// The requested page size, if any.
    pub fn requested_page_size(&self) -> Option<u32> {
        self.page_size
    }

    /// The requested page, if any.
    pub fn requested_page(&self) -> Option<u32> {
        self.current_page
    }

    /// Checks the limits described on [`SearchCriteria`] and the module docs.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the offending `searchCriteria` key and what was expected.
    pub fn validate(&self) -> Result<(), Error> {
        if self.filter_groups.len() > MAX_INDEXED_ENTRIES {
            return Err(invalid(
                "searchCriteria[filter_groups]",
                format!(
                    "at most {MAX_INDEXED_ENTRIES} filter groups (got {}); indexes above 9 break OAuth signatures on some Commerce releases",
                    self.filter_groups.len()
                ),
            ));
        }
        for (g, group) in self.filter_groups.iter().enumerate() {
            let at = format!("searchCriteria[filter_groups][{g}][filters]");
            if group.filters.is_empty() {
                return Err(invalid(at, "at least one filter in the group"));
            }
            if group.filters.len() > MAX_INDEXED_ENTRIES {
                return Err(invalid(
                    at,
                    format!(
                        "at most {MAX_INDEXED_ENTRIES} filters per group (got {})",
                        group.filters.len()
                    ),
                ));
            }
            for (f, filter) in group.filters.iter().enumerate() {
                filter.validate(&format!("{at}[{f}]"))?;
            }
        }
        if self.sort_orders.len() > MAX_INDEXED_ENTRIES {
            return Err(invalid(
                "searchCriteria[sortOrders]",
                format!(
                    "at most {MAX_INDEXED_ENTRIES} sort orders (got {})",
                    self.sort_orders.len()
                ),
            ));
        }
        for (i, order) in self.sort_orders.iter().enumerate() {
            if order.field.trim().is_empty() {
                return Err(invalid(
                    format!("searchCriteria[sortOrders][{i}][field]"),
                    "a non-empty attribute code",
                ));
            }
        }
        if let Some(size) = self.page_size
            && (size == 0 || size > self.max_page_size)
        {
            return Err(invalid(
                "searchCriteria[pageSize]",
                format!("a page size from 1 to {} (got {size})", self.max_page_size),
            ));
        }
        if self.current_page == Some(0) {
            return Err(invalid(
                "searchCriteria[currentPage]",
                "a page number from 1 (got 0)",
            ));
        }
        Ok(())
    }

    /// The query pairs, unencoded and in a stable order; the transport percent-encodes them.
    ///
    /// Criteria with nothing set produce a bare `searchCriteria=` pair, because Commerce rejects
    /// list requests without any `searchCriteria` key.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when [`validate`](Self::validate) fails.
    pub fn to_query_pairs(&self) -> Result<Vec<(String, String)>, Error> {
        self.validate()?;
        let mut pairs = Vec::new();
        for (g, group) in self.filter_groups.iter().enumerate() {
            for (f, filter) in group.filters.iter().enumerate() {
                let key = format!("searchCriteria[filter_groups][{g}][filters][{f}]");
                pairs.push((format!("{key}[field]"), filter.field.clone()));
                pairs.push((format!("{key}[value]"), filter.value()));
                pairs.push((
                    format!("{key}[condition_type]"),
                    filter.condition.as_str().to_owned(),
                ));
            }
        }
        for (i, order) in self.sort_orders.iter().enumerate() {
            pairs.push((
                format!("searchCriteria[sortOrders][{i}][field]"),
                order.field.clone(),
            ));
            pairs.push((
                format!("searchCriteria[sortOrders][{i}][direction]"),
                order.direction.as_str().to_owned(),
            ));
        }
        if let Some(size) = self.page_size {
            pairs.push(("searchCriteria[pageSize]".to_owned(), size.to_string()));
        }
        if let Some(page) = self.current_page {
            pairs.push(("searchCriteria[currentPage]".to_owned(), page.to_string()));
        }
        if pairs.is_empty() {
            pairs.push(("searchCriteria".to_owned(), String::new()));
        }
        if let Some(fields) = &self.fields {
            pairs.push(("fields".to_owned(), fields.clone()));
        }
        Ok(pairs)
    }
}

fn invalid(field: impl Into<String>, expected: impl Into<String>) -> Error {
    Error::InvalidInput {
        field: field.into(),
        expected: expected.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn pairs(criteria: &SearchCriteria) -> Vec<(String, String)> {
        criteria.to_query_pairs().expect("valid criteria")
    }

    fn owned(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn invalid_field(result: Result<Vec<(String, String)>, Error>) -> (String, String) {
        match result {
            Err(Error::InvalidInput { field, expected }) => (field, expected),
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn encodes_the_documented_incremental_poll() {
        // Same pairs as the signed request in the Commerce notes (vector V2), before encoding.
        let criteria = SearchCriteria::new()
            .updated_since(datetime!(2024-01-01 00:00:00 UTC))
            .sort_by("entity_id", SortDirection::Asc)
            .page_size(100)
            .current_page(1);
        assert_eq!(
            pairs(&criteria),
            owned(&[
                (
                    "searchCriteria[filter_groups][0][filters][0][field]",
                    "updated_at"
                ),
                (
                    "searchCriteria[filter_groups][0][filters][0][value]",
                    "2024-01-01 00:00:00"
                ),
                (
                    "searchCriteria[filter_groups][0][filters][0][condition_type]",
                    "gteq"
                ),
                ("searchCriteria[sortOrders][0][field]", "entity_id"),
                ("searchCriteria[sortOrders][0][direction]", "ASC"),
                ("searchCriteria[pageSize]", "100"),
                ("searchCriteria[currentPage]", "1"),
            ])
        );
    }

    #[test]
    fn groups_are_anded_and_filters_in_a_group_ored() {
        let criteria = SearchCriteria::new()
            .any_of([
                Filter::eq("status", "pending"),
                Filter::eq("status", "processing"),
            ])
            .store_id(StoreId(3));
        assert_eq!(
            pairs(&criteria),
            owned(&[
                (
                    "searchCriteria[filter_groups][0][filters][0][field]",
                    "status"
                ),
                (
                    "searchCriteria[filter_groups][0][filters][0][value]",
                    "pending"
                ),
                (
                    "searchCriteria[filter_groups][0][filters][0][condition_type]",
                    "eq"
                ),
                (
                    "searchCriteria[filter_groups][0][filters][1][field]",
                    "status"
                ),
                (
                    "searchCriteria[filter_groups][0][filters][1][value]",
                    "processing"
                ),
                (
                    "searchCriteria[filter_groups][0][filters][1][condition_type]",
                    "eq"
                ),
                (
                    "searchCriteria[filter_groups][1][filters][0][field]",
                    "store_id"
                ),
                ("searchCriteria[filter_groups][1][filters][0][value]", "3"),
                (
                    "searchCriteria[filter_groups][1][filters][0][condition_type]",
                    "eq"
                ),
            ])
        );
    }

    #[test]
    fn every_condition_has_its_code() {
        let filters = [
            (Filter::eq("a", 1), "eq", "1"),
            (Filter::neq("a", 1), "neq", "1"),
            (Filter::gt("a", 1), "gt", "1"),
            (Filter::gteq("a", 1), "gteq", "1"),
            (Filter::moreq("a", 1), "moreq", "1"),
            (Filter::lt("a", 1), "lt", "1"),
            (Filter::lteq("a", 1), "lteq", "1"),
            (Filter::from("a", 40), "from", "40"),
            (Filter::to("a", "49.99"), "to", "49.99"),
            (Filter::in_list("a", [1, 2, 3]), "in", "1,2,3"),
            (Filter::not_in_list("a", ["x", "y"]), "nin", "x,y"),
            (Filter::like("sku", "MH%"), "like", "MH%"),
            (Filter::not_like("sku", "%-old"), "nlike", "%-old"),
            (Filter::is_null("a"), "null", "1"),
            (Filter::not_null("a"), "notnull", "1"),
            (Filter::in_set("a", 5), "finset", "5"),
            (Filter::not_in_set("a", 5), "nfinset", "5"),
        ];
        for (filter, code, value) in filters {
            assert_eq!(filter.condition().as_str(), code);
            assert_eq!(filter.value(), value, "{code}");
            let p = pairs(&SearchCriteria::new().filter(filter));
            assert_eq!(p[1].1, value);
            assert_eq!(
                p[2],
                (
                    "searchCriteria[filter_groups][0][filters][0][condition_type]".to_owned(),
                    code.to_owned()
                )
            );
        }
    }

    #[test]
    fn between_uses_two_groups() {
        let p = pairs(&SearchCriteria::new().between("price", 40, "49.99"));
        assert_eq!(
            p[0].0,
            "searchCriteria[filter_groups][0][filters][0][field]"
        );
        assert_eq!(p[2].1, "from");
        assert_eq!(
            p[3].0,
            "searchCriteria[filter_groups][1][filters][0][field]"
        );
        assert_eq!(p[5].1, "to");
    }

    #[test]
    fn empty_criteria_still_send_search_criteria() {
        assert_eq!(
            pairs(&SearchCriteria::new()),
            owned(&[("searchCriteria", "")])
        );
    }

    #[test]
    fn fields_projection_wraps_items_and_keeps_totals() {
        let p = pairs(
            &SearchCriteria::new()
                .page_size(5)
                .fields(["entity_id", "increment_id"]),
        );
        assert_eq!(
            p.last().unwrap(),
            &(
                "fields".to_owned(),
                "items[entity_id,increment_id],search_criteria,total_count".to_owned()
            )
        );
        let raw = pairs(&SearchCriteria::new().fields_raw("items[sku]"));
        assert_eq!(raw.last().unwrap().1, "items[sku]");
    }

    #[test]
    fn indexes_stay_at_or_below_nine() {
        let ok = (0..10).fold(SearchCriteria::new(), |c, i| c.filter(Filter::eq("f", i)));
        assert!(ok.validate().is_ok());
        let too_many = ok.filter(Filter::eq("f", 10));
        let (field, expected) = invalid_field(too_many.to_query_pairs());
        assert_eq!(field, "searchCriteria[filter_groups]");
        assert!(expected.contains("at most 10"), "{expected}");

        let group: FilterGroup = (0..11).map(|i| Filter::eq("f", i)).collect();
        let (field, _) = invalid_field(SearchCriteria::new().group(group).to_query_pairs());
        assert_eq!(field, "searchCriteria[filter_groups][0][filters]");

        let sorts = (0..11).fold(SearchCriteria::new(), |c, i| {
            c.sort_by(format!("f{i}"), SortDirection::Desc)
        });
        let (field, _) = invalid_field(sorts.to_query_pairs());
        assert_eq!(field, "searchCriteria[sortOrders]");
    }

    #[test]
    fn page_size_is_bounded() {
        let (field, expected) = invalid_field(SearchCriteria::new().page_size(0).to_query_pairs());
        assert_eq!(field, "searchCriteria[pageSize]");
        assert!(expected.contains("1 to 300"), "{expected}");
        assert!(SearchCriteria::new().page_size(300).validate().is_ok());
        assert!(SearchCriteria::new().page_size(301).validate().is_err());
        assert!(
            SearchCriteria::new()
                .max_page_size(1000)
                .page_size(500)
                .validate()
                .is_ok()
        );
        let (field, _) = invalid_field(SearchCriteria::new().current_page(0).to_query_pairs());
        assert_eq!(field, "searchCriteria[currentPage]");
    }

    #[test]
    fn list_values_are_checked() {
        let (field, expected) = invalid_field(
            SearchCriteria::new()
                .filter(Filter::in_list("sku", ["A,B", "C"]))
                .to_query_pairs(),
        );
        assert_eq!(field, "searchCriteria[filter_groups][0][filters][0][value]");
        assert!(expected.contains("`A,B`"), "{expected}");
        let empty: [&str; 0] = [];
        assert!(
            SearchCriteria::new()
                .filter(Filter::in_list("sku", empty))
                .validate()
                .is_err()
        );
        let (field, _) = invalid_field(
            SearchCriteria::new()
                .filter(Filter::eq(" ", 1))
                .to_query_pairs(),
        );
        assert_eq!(field, "searchCriteria[filter_groups][0][filters][0][field]");
        assert!(
            SearchCriteria::new()
                .group(FilterGroup::new())
                .validate()
                .is_err()
        );
    }
}
