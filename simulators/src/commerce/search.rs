//! `searchCriteria` as Commerce reads it: PHP-style bracketed query keys, snake_case or camelCase names
//! (Commerce converts every key to UpperCamelCase before looking for a getter), filter groups ANDed,
//! filters inside a group ORed, MySQL-like comparisons, sort orders (DESC when no direction), and the
//! collection's paging that returns the LAST page for any page past the end.

use std::cmp::Ordering;
use std::str::FromStr;

use percent_encoding::percent_decode_str;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

/// A request rejected with Commerce's error body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub message: String,
    pub parameters: Value,
}

impl ApiError {
    pub(crate) fn new(status: u16, message: impl Into<String>, parameters: Value) -> Self {
        Self {
            status,
            message: message.into(),
            parameters,
        }
    }

    pub(crate) fn body(&self) -> Value {
        let mut m = Map::new();
        m.insert("message".into(), json!(self.message));
        let empty = match &self.parameters {
            Value::Null => true,
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            _ => false,
        };
        if !empty {
            m.insert("parameters".into(), self.parameters.clone());
        }
        Value::Object(m)
    }
}

/// A decoded query value: a leaf string or an ordered map of bracketed keys (PHP arrays keep insertion
/// order, and so does the echo of `search_criteria`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Leaf(String),
    Map(Vec<(String, Node)>),
}

impl Node {
    fn child_mut(&mut self, key: &str) -> &mut Node {
        if !matches!(self, Node::Map(_)) {
            *self = Node::Map(Vec::new());
        }
        let Node::Map(entries) = self else {
            unreachable!("just made a map")
        };
        let pos = match entries.iter().position(|(k, _)| k == key) {
            Some(p) => p,
            None => {
                entries.push((key.to_owned(), Node::Map(Vec::new())));
                entries.len() - 1
            }
        };
        &mut entries[pos].1
    }
}

/// Decodes a form/query component as PHP's `urldecode` does (`+` is a space).
pub(crate) fn form_decode(s: &str) -> String {
    let replaced = s.replace('+', " ");
    percent_decode_str(&replaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// Splits `name[a][b]` into `["name", "a", "b"]`; `[]` appends (as a numeric index).
fn key_path(key: &str) -> Vec<String> {
    let Some(open) = key.find('[') else {
        return vec![key.to_owned()];
    };
    let mut out = vec![key[..open].to_owned()];
    let mut rest = &key[open..];
    while let Some(stripped) = rest.strip_prefix('[') {
        match stripped.find(']') {
            Some(close) => {
                out.push(stripped[..close].to_owned());
                rest = &stripped[close + 1..];
            }
            None => break,
        }
    }
    out
}

/// Parses a raw query string into PHP's `$_GET` tree.
pub(crate) fn parse_query(raw: &str) -> Node {
    let mut root = Node::Map(Vec::new());
    for piece in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        let key = form_decode(k);
        let value = form_decode(v);
        let path = key_path(&key);
        let mut node = &mut root;
        for (i, seg) in path.iter().enumerate() {
            let seg = if seg.is_empty() {
                match node {
                    Node::Map(entries) => entries.len().to_string(),
                    Node::Leaf(_) => "0".to_owned(),
                }
            } else {
                seg.clone()
            };
            node = node.child_mut(&seg);
            if i == path.len() - 1 {
                *node = Node::Leaf(value.clone());
            }
        }
    }
    root
}

pub(crate) fn get<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    match node {
        Node::Map(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
        Node::Leaf(_) => None,
    }
}

pub(crate) fn leaf<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    match get(node, key) {
        Some(Node::Leaf(s)) => Some(s),
        _ => None,
    }
}

/// Commerce's `snakeCaseToUpperCamelCase`: `filter_groups` and `filterGroups` both become `FilterGroups`.
fn upper_camel(key: &str) -> String {
    key.split('_')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Filter {
    pub field: String,
    pub value: Option<String>,
    pub condition: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sort {
    pub field: String,
    pub direction: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Criteria {
    pub groups: Vec<Vec<Filter>>,
    pub sorts: Vec<Sort>,
    pub page_size: Option<i64>,
    pub current_page: Option<i64>,
}

fn not_supported(field: &str) -> ApiError {
    ApiError::new(
        400,
        "\"%field\" is not supported. Correct the field name and try again.",
        json!({"field": field}),
    )
}

fn int_value(raw: &str) -> Result<i64, ApiError> {
    raw.trim().parse::<i64>().map_err(|_| {
        ApiError::new(
            400,
            "The \"%value\" value's type is invalid. The \"%type\" type was expected. Verify and try again.",
            json!({"value": raw, "type": "int"}),
        )
    })
}

fn entries(node: &Node) -> Vec<(&str, &Node)> {
    match node {
        Node::Map(e) => e.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        Node::Leaf(_) => Vec::new(),
    }
}

/// Reads `searchCriteria` from the parsed query. `Ok(None)` means the parameter is absent, which the
/// caller turns into Commerce's "is required" error.
pub(crate) fn criteria(query: &Node) -> Result<Option<Criteria>, ApiError> {
    let Some(sc) = get(query, "searchCriteria").or_else(|| get(query, "search_criteria")) else {
        return Ok(None);
    };
    let mut out = Criteria::default();
    for (key, value) in entries(sc) {
        match upper_camel(key).as_str() {
            "FilterGroups" => {
                for (_, group) in entries(value) {
                    let mut filters = Vec::new();
                    for (gkey, list) in entries(group) {
                        if upper_camel(gkey) != "Filters" {
                            return Err(not_supported(gkey));
                        }
                        for (_, f) in entries(list) {
                            let mut filter = Filter {
                                field: String::new(),
                                value: None,
                                condition: None,
                            };
                            for (fkey, fval) in entries(f) {
                                let Node::Leaf(text) = fval else {
                                    return Err(not_supported(fkey));
                                };
                                match upper_camel(fkey).as_str() {
                                    "Field" => filter.field = text.clone(),
                                    "Value" => filter.value = Some(text.clone()),
                                    "ConditionType" => filter.condition = Some(text.clone()),
                                    _ => return Err(not_supported(fkey)),
                                }
                            }
                            if filter.field.is_empty() {
                                return Err(ApiError::new(
                                    400,
                                    "\"%fieldName\" is required. Enter and try again.",
                                    json!({"fieldName": "field"}),
                                ));
                            }
                            filters.push(filter);
                        }
                    }
                    out.groups.push(filters);
                }
            }
            "SortOrders" => {
                for (_, s) in entries(value) {
                    let mut sort = Sort {
                        field: String::new(),
                        direction: None,
                    };
                    for (skey, sval) in entries(s) {
                        let Node::Leaf(text) = sval else {
                            return Err(not_supported(skey));
                        };
                        match upper_camel(skey).as_str() {
                            "Field" => sort.field = text.clone(),
                            "Direction" => {
                                let upper = text.to_uppercase();
                                if upper != "ASC" && upper != "DESC" {
                                    return Err(ApiError::new(
                                        400,
                                        "Sort order \"%1\" is not supported. Use \"ASC\" or \"DESC\".",
                                        json!([text]),
                                    ));
                                }
                                sort.direction = Some(upper);
                            }
                            _ => return Err(not_supported(skey)),
                        }
                    }
                    out.sorts.push(sort);
                }
            }
            "PageSize" => {
                if let Node::Leaf(t) = value {
                    out.page_size = Some(int_value(t)?);
                }
            }
            "CurrentPage" => {
                if let Node::Leaf(t) = value {
                    out.current_page = Some(int_value(t)?);
                }
            }
            _ => return Err(not_supported(key)),
        }
    }
    Ok(Some(out))
}

/// A field's value seen the way MySQL compares it with a string literal.
fn as_decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Some(Decimal::from(i)),
            None => Decimal::from_str(&n.to_string()).ok(),
        },
        Value::Bool(b) => Some(if *b { Decimal::ONE } else { Decimal::ZERO }),
        _ => None,
    }
}

/// MySQL casts a non-numeric string to its leading number, or 0.
fn literal_decimal(s: &str) -> Decimal {
    let t = s.trim();
    let end = t
        .char_indices()
        .take_while(|(i, c)| {
            c.is_ascii_digit() || *c == '.' || (*i == 0 && (*c == '-' || *c == '+'))
        })
        .map(|(i, c)| i + c.len_utf8())
        .last()
        .unwrap_or(0);
    Decimal::from_str(&t[..end]).unwrap_or(Decimal::ZERO)
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_owned()),
        _ => None,
    }
}

/// Case-insensitive comparison without allocating (ASCII folding; the shop's data is mostly ASCII).
fn ci_cmp(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// A filter literal, parsed once per request rather than once per record.
struct Literal {
    text: String,
    number: Decimal,
}

impl Literal {
    fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            number: literal_decimal(text),
        }
    }
}

/// Compares a field value with a literal: numerically for number columns, otherwise as text under a
/// case-insensitive collation (timestamps in `YYYY-MM-DD HH:MM:SS` sort correctly as text).
fn compare(field: &Value, literal: &Literal) -> Option<Ordering> {
    match field {
        Value::String(s) => Some(ci_cmp(s, &literal.text)),
        other => as_decimal(other).map(|d| d.cmp(&literal.number)),
    }
}

/// SQL `LIKE` with `%` and `_`, case-insensitive.
fn like(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let (mut ti, mut pi) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '_' || (p[pi] != '%' && p[pi] == t[ti])) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '%' {
        pi += 1;
    }
    pi == p.len()
}

fn is_null(v: Option<&Value>) -> bool {
    matches!(v, None | Some(Value::Null))
}

/// Does one record satisfy one filter? NULL never matches a comparison (SQL three-valued logic), so
/// `neq` and `nin` also leave out records whose field is NULL.
fn matches(record: &Value, f: &Prepared<'_>) -> Result<bool, ApiError> {
    let field = record.get(f.field);
    let cond = f.cond.as_str();
    if cond == "null" {
        return Ok(is_null(field));
    }
    if cond == "notnull" {
        return Ok(!is_null(field));
    }
    let Some(value) = field.filter(|v| !v.is_null()) else {
        return if KNOWN_CONDITIONS.contains(&cond) {
            Ok(false)
        } else {
            Err(bad_condition(cond))
        };
    };
    let cmp = || compare(value, &f.literal);
    let text = || as_text(value).unwrap_or_default();
    let needle = f.literal.text.trim();
    let in_set = |t: String| {
        t.split(',')
            .any(|part| part.trim().eq_ignore_ascii_case(needle))
    };
    Ok(match cond {
        "eq" => cmp() == Some(Ordering::Equal),
        "neq" => cmp().is_some_and(|o| o != Ordering::Equal),
        "gt" => cmp() == Some(Ordering::Greater),
        "gteq" | "moreq" | "from" => cmp().is_some_and(|o| o != Ordering::Less),
        "lt" => cmp() == Some(Ordering::Less),
        "lteq" | "to" => cmp().is_some_and(|o| o != Ordering::Greater),
        "in" => f
            .list
            .iter()
            .any(|l| compare(value, l) == Some(Ordering::Equal)),
        "nin" => f
            .list
            .iter()
            .all(|l| compare(value, l).is_some_and(|o| o != Ordering::Equal)),
        "like" => like(&text(), &f.literal.text),
        "nlike" => !like(&text(), &f.literal.text),
        "finset" => in_set(text()),
        "nfinset" => !in_set(text()),
        other => return Err(bad_condition(other)),
    })
}

/// A filter with its literals parsed.
struct Prepared<'a> {
    field: &'a str,
    cond: String,
    literal: Literal,
    list: Vec<Literal>,
}

fn prepare(f: &Filter) -> Prepared<'_> {
    let literal = f.value.clone().unwrap_or_default();
    Prepared {
        field: &f.field,
        cond: f.condition.as_deref().unwrap_or("eq").to_lowercase(),
        list: literal.split(',').map(|s| Literal::new(s.trim())).collect(),
        literal: Literal::new(&literal),
    }
}

const KNOWN_CONDITIONS: &[&str] = &[
    "eq", "neq", "gt", "gteq", "moreq", "from", "lt", "lteq", "to", "in", "nin", "like", "nlike",
    "finset", "nfinset",
];

fn bad_condition(cond: &str) -> ApiError {
    ApiError::new(
        400,
        "Invalid value of \"%value\" provided for the %fieldName field.",
        json!({"value": cond, "fieldName": "condition_type"}),
    )
}

/// A searchable collection: its records and the columns a filter or sort may name.
pub(crate) struct Collection<'a> {
    pub records: Vec<&'a super::dataset::Rendered>,
    pub columns: &'a [&'a str],
}

/// One answer page: the matching records in order, plus the total before paging.
pub(crate) struct Page<'a> {
    pub items: Vec<&'a super::dataset::Rendered>,
    pub total_count: usize,
}

/// An unknown column is an SQL error in Commerce, which reaches the client as a masked 500.
fn unknown_column() -> ApiError {
    ApiError::new(
        500,
        "Internal Error. Details are available in Magento log file. Report ID: webapi-5f3a9c1d2b7e4",
        Value::Null,
    )
}

/// One sort field of one record, looked up and read as a number once rather than at every
/// comparison of a sort.
struct SortValue<'a> {
    /// The value, `None` when missing or null (those sort first).
    value: Option<&'a Value>,
    decimal: Option<Decimal>,
    /// A string value in ASCII lower case, for comparisons without case.
    folded: Option<String>,
}

impl<'a> SortValue<'a> {
    fn of(value: Option<&'a Value>) -> Self {
        let value = value.filter(|v| !v.is_null());
        Self {
            value,
            decimal: value.and_then(as_decimal),
            folded: value.and_then(Value::as_str).map(str::to_ascii_lowercase),
        }
    }

    /// Strings compare case-insensitively, numbers numerically, anything else as text.
    fn cmp_to(&self, other: &Self) -> Ordering {
        match (self.value, other.value) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(Value::String(_)), Some(Value::String(_))) => self.folded.cmp(&other.folded),
            (Some(x), Some(y)) => match (self.decimal, other.decimal) {
                (Some(dx), Some(dy)) => dx.cmp(&dy),
                _ => ci_cmp(
                    &as_text(x).unwrap_or_default(),
                    &as_text(y).unwrap_or_default(),
                ),
            },
        }
    }
}

/// The positions in `c.records` of the records `crit` selects, in the order it asks for, without
/// paging.
pub(crate) fn select(c: &Collection<'_>, crit: &Criteria) -> Result<Vec<usize>, ApiError> {
    for f in crit.groups.iter().flatten() {
        if !c.columns.contains(&f.field.as_str()) {
            return Err(unknown_column());
        }
    }
    for s in &crit.sorts {
        if !c.columns.contains(&s.field.as_str()) {
            return Err(unknown_column());
        }
    }
    let groups: Vec<Vec<Prepared<'_>>> = crit
        .groups
        .iter()
        .map(|g| g.iter().map(prepare).collect())
        .collect();
    let mut hits = Vec::new();
    for (position, r) in c.records.iter().enumerate() {
        let mut all = true;
        for group in &groups {
            let mut any = group.is_empty();
            for f in group {
                if matches(&r.value, f)? {
                    any = true;
                    break;
                }
            }
            if !any {
                all = false;
                break;
            }
        }
        if all {
            hits.push(position);
        }
    }
    if !crit.sorts.is_empty() {
        let mut keyed: Vec<(Vec<SortValue<'_>>, usize)> = hits
            .into_iter()
            .map(|position| {
                let r = c.records[position];
                let keys = crit
                    .sorts
                    .iter()
                    .map(|s| SortValue::of(r.value.get(&s.field)))
                    .collect();
                (keys, position)
            })
            .collect();
        keyed.sort_by(|(a, _), (b, _)| {
            for ((s, x), y) in crit.sorts.iter().zip(a).zip(b) {
                let o = x.cmp_to(y);
                let o = if s.direction.as_deref() == Some("ASC") {
                    o
                } else {
                    o.reverse()
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
        hits = keyed.into_iter().map(|(_, position)| position).collect();
    }
    Ok(hits)
}

/// The page of `hits` that `crit` asks for (the last one when it asks past the end, as Commerce
/// does), and how many hits there are in all. `default_page_size` is Commerce's input-limit default
/// (used only when limits are on and no `pageSize` was sent).
pub(crate) fn paginate<T: Copy>(
    hits: &[T],
    crit: &Criteria,
    default_page_size: Option<i64>,
) -> (Vec<T>, usize) {
    let total_count = hits.len();
    let size = crit.page_size.or(default_page_size).filter(|s| *s > 0);
    let items = match size {
        None => hits.to_vec(),
        Some(size) => {
            let size_u = usize::try_from(size).unwrap_or(usize::MAX);
            let last = total_count.div_ceil(size_u).max(1);
            let requested = usize::try_from(crit.current_page.unwrap_or(1).max(1)).unwrap_or(1);
            let page = requested.min(last);
            hits.iter()
                .skip((page - 1).saturating_mul(size_u))
                .take(size_u)
                .copied()
                .collect()
        }
    };
    (items, total_count)
}

/// The `search_criteria` echo: values as strings, the page as requested (not clamped), optional parts
/// left out when they were not sent.
pub(crate) fn echo(crit: &Criteria) -> Value {
    let groups: Vec<Value> = crit
        .groups
        .iter()
        .map(|g| {
            let filters: Vec<Value> = g
                .iter()
                .map(|f| {
                    let mut m = Map::new();
                    m.insert("field".into(), json!(f.field));
                    m.insert("value".into(), json!(f.value));
                    if let Some(c) = &f.condition {
                        m.insert("condition_type".into(), json!(c));
                    }
                    Value::Object(m)
                })
                .collect();
            json!({ "filters": filters })
        })
        .collect();
    let mut m = Map::new();
    m.insert("filter_groups".into(), Value::Array(groups));
    if !crit.sorts.is_empty() {
        let sorts: Vec<Value> = crit
            .sorts
            .iter()
            .map(|s| {
                let mut o = Map::new();
                o.insert("field".into(), json!(s.field));
                if let Some(d) = &s.direction {
                    o.insert("direction".into(), json!(d));
                }
                Value::Object(o)
            })
            .collect();
        m.insert("sort_orders".into(), Value::Array(sorts));
    }
    if let Some(p) = crit.page_size {
        m.insert("page_size".into(), json!(p));
    }
    if let Some(p) = crit.current_page {
        m.insert("current_page".into(), json!(p));
    }
    Value::Object(m)
}

/// A `fields` projection such as `items[entity_id,increment_id],total_count`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fields(Vec<(String, Option<Fields>)>);

pub(crate) fn parse_fields(spec: &str) -> Fields {
    fn list(chars: &[char], pos: &mut usize) -> Fields {
        let mut out = Vec::new();
        let mut name = String::new();
        while *pos < chars.len() {
            let c = chars[*pos];
            *pos += 1;
            match c {
                ',' => {
                    if !name.trim().is_empty() {
                        out.push((name.trim().to_owned(), None));
                    }
                    name.clear();
                }
                '[' => {
                    let sub = list(chars, pos);
                    out.push((name.trim().to_owned(), Some(sub)));
                    name.clear();
                    if chars.get(*pos) == Some(&',') {
                        *pos += 1;
                    }
                }
                ']' => break,
                other => name.push(other),
            }
        }
        if !name.trim().is_empty() {
            out.push((name.trim().to_owned(), None));
        }
        Fields(out)
    }
    let chars: Vec<char> = spec.chars().collect();
    let mut pos = 0;
    list(&chars, &mut pos)
}

/// Keeps only the named keys (recursively); arrays are filtered element by element.
pub(crate) fn project(value: &Value, fields: &Fields) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|i| project(i, fields)).collect()),
        Value::Object(m) => {
            let mut out = Map::new();
            for (name, sub) in &fields.0 {
                if let Some(v) = m.get(name) {
                    out.insert(
                        name.clone(),
                        sub.as_ref().map_or_else(|| v.clone(), |s| project(v, s)),
                    );
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Filterable columns per collection (the entities' top-level scalar fields, from the OpenAPI schema).
pub(crate) const ORDER_COLUMNS: &[&str] = &[
    "entity_id",
    "increment_id",
    "state",
    "status",
    "created_at",
    "updated_at",
    "store_id",
    "customer_id",
    "customer_email",
    "customer_firstname",
    "customer_lastname",
    "customer_group_id",
    "customer_is_guest",
    "grand_total",
    "base_grand_total",
    "subtotal",
    "base_subtotal",
    "tax_amount",
    "base_tax_amount",
    "shipping_amount",
    "base_shipping_amount",
    "discount_amount",
    "base_discount_amount",
    "total_paid",
    "total_due",
    "total_invoiced",
    "total_refunded",
    "total_qty_ordered",
    "order_currency_code",
    "base_currency_code",
    "global_currency_code",
    "store_currency_code",
    "coupon_code",
    "quote_id",
    "billing_address_id",
    "is_virtual",
    "email_sent",
    "remote_ip",
    "shipping_description",
    "store_name",
    "total_item_count",
    "weight",
    "protect_code",
    "applied_rule_ids",
    "discount_description",
    "customer_middlename",
    "customer_dob",
    "customer_gender",
    "customer_note",
    "ext_order_id",
];

pub(crate) const INVOICE_COLUMNS: &[&str] = &[
    "entity_id",
    "increment_id",
    "order_id",
    "state",
    "created_at",
    "updated_at",
    "store_id",
    "grand_total",
    "base_grand_total",
    "subtotal",
    "base_subtotal",
    "tax_amount",
    "base_tax_amount",
    "shipping_amount",
    "base_shipping_amount",
    "discount_amount",
    "base_discount_amount",
    "total_qty",
    "order_currency_code",
    "base_currency_code",
    "billing_address_id",
    "shipping_address_id",
    "transaction_id",
    "email_sent",
    "can_void_flag",
    "is_used_for_refund",
    "base_total_refunded",
];

pub(crate) const CREDITMEMO_COLUMNS: &[&str] = &[
    "entity_id",
    "increment_id",
    "order_id",
    "invoice_id",
    "state",
    "creditmemo_status",
    "created_at",
    "updated_at",
    "store_id",
    "grand_total",
    "base_grand_total",
    "subtotal",
    "tax_amount",
    "shipping_amount",
    "discount_amount",
    "adjustment",
    "order_currency_code",
    "base_currency_code",
    "transaction_id",
];

pub(crate) const CUSTOMER_COLUMNS: &[&str] = &[
    "id",
    "entity_id",
    "email",
    "firstname",
    "lastname",
    "middlename",
    "prefix",
    "suffix",
    "group_id",
    "store_id",
    "website_id",
    "created_at",
    "updated_at",
    "created_in",
    "dob",
    "gender",
    "taxvat",
    "default_billing",
    "default_shipping",
    "confirmation",
    "disable_auto_group_change",
];

pub(crate) const PRODUCT_COLUMNS: &[&str] = &[
    "id",
    "entity_id",
    "sku",
    "name",
    "attribute_set_id",
    "price",
    "status",
    "visibility",
    "type_id",
    "created_at",
    "updated_at",
    "weight",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_values_order_nulls_first_text_without_case_and_numbers_by_value() {
        let cmp = |a: Value, b: Value| SortValue::of(Some(&a)).cmp_to(&SortValue::of(Some(&b)));
        assert_eq!(cmp(json!(9), json!(10)), Ordering::Less);
        assert_eq!(cmp(json!("apple"), json!("Banana")), Ordering::Less);
        assert_eq!(
            cmp(json!("10"), json!("9")),
            Ordering::Less,
            "strings stay text"
        );
        assert_eq!(cmp(Value::Null, json!(0)), Ordering::Less);
        assert_eq!(cmp(json!(1.5), json!(true)), Ordering::Greater);
        assert_eq!(
            SortValue::of(None).cmp_to(&SortValue::of(Some(&Value::Null))),
            Ordering::Equal
        );
        assert_eq!(
            cmp(json!([1]), json!("x")),
            Ordering::Less,
            "neither a number: as text"
        );
    }

    #[test]
    fn parses_snake_and_camel_keys_alike() {
        let a = parse_query(
            "searchCriteria[filter_groups][0][filters][0][field]=x&searchCriteria[filter_groups][0][filters][0][value]=1&searchCriteria[page_size]=5",
        );
        let b = parse_query(
            "searchCriteria[filterGroups][0][filters][0][field]=x&searchCriteria[filterGroups][0][filters][0][value]=1&searchCriteria[pageSize]=5",
        );
        assert_eq!(criteria(&a).ok().flatten(), criteria(&b).ok().flatten());
        let c = criteria(&a).ok().flatten().unwrap_or_default();
        assert_eq!(c.page_size, Some(5));
        assert_eq!(c.groups[0][0].field, "x");
    }

    #[test]
    fn unknown_key_is_refused() {
        let q = parse_query("searchCriteria[filter_group][0][filters][0][field]=x");
        assert_eq!(criteria(&q).err().map(|e| e.status), Some(400));
    }

    #[test]
    fn absent_criteria_is_none() {
        assert_eq!(criteria(&parse_query("fields=items")).ok(), Some(None));
        assert!(
            criteria(&parse_query("searchCriteria="))
                .ok()
                .flatten()
                .is_some()
        );
    }

    #[test]
    fn like_handles_wildcards() {
        assert!(like("AP-TEE-BLK-M", "ap-%"));
        assert!(like("CLR-MUG-01", "%mug%"));
        assert!(like("abc", "a_c"));
        assert!(!like("abc", "a_"));
    }

    #[test]
    fn plus_is_a_space_in_values() {
        let q = parse_query("a=2024-01-01+00%3A00%3A00");
        assert_eq!(leaf(&q, "a"), Some("2024-01-01 00:00:00"));
    }

    #[test]
    fn fields_projection() {
        let f = parse_fields("items[entity_id,increment_id],total_count");
        let v = json!({"items": [{"entity_id": 1, "increment_id": "x", "other": 2}], "total_count": 1, "search_criteria": {}});
        assert_eq!(
            project(&v, &f),
            json!({"items": [{"entity_id": 1, "increment_id": "x"}], "total_count": 1})
        );
    }
}
