//! Cross-field rules checked after parsing; each problem names the key path it is about.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use rust_decimal::Decimal;

use super::mapping::{
    CUSTOMER_CODE_PLACEHOLDERS, FreightHandling, INVOICE_NUMBER_PLACEHOLDERS,
    JOURNAL_REFERENCE_PLACEHOLDERS, MappingConfig, NOTATION_PLACEHOLDERS, RevenueSelector,
    TaxPosting,
};
use super::{
    CommerceAuthKind, CommerceConfig, CommerceFlavour, Config, ConnectionConfig, PostingTarget,
    SecretName, Trigger,
};

/// One thing wrong with a configuration, at one key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Dotted key path, e.g. `connection[0].schedule.max_interval`.
    pub key_path: String,
    /// What is wrong and what is expected.
    pub message: String,
}

impl ConfigProblem {
    pub(crate) fn new(key_path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key_path: key_path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.key_path, self.message)
    }
}

/// Largest page size Commerce accepts when its web API input limits are on.
const MAX_PAGE_SIZE: u32 = 300;

struct Problems(Vec<ConfigProblem>);

impl Problems {
    fn add(&mut self, key_path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigProblem::new(key_path, message));
    }

    fn non_empty(&mut self, key_path: impl Into<String>, value: &str) {
        if value.trim().is_empty() {
            self.add(key_path, "must not be empty");
        }
    }

    fn http_url(&mut self, key_path: impl Into<String>, value: &str) {
        let rest = value
            .strip_prefix("https://")
            .or_else(|| value.strip_prefix("http://"));
        match rest {
            Some(host) if !host.is_empty() && !host.starts_with('/') && !host.contains(' ') => {}
            _ => self.add(
                key_path,
                format!("{value:?} is not a URL; expected http:// or https:// followed by a host"),
            ),
        }
    }
}

impl Config {
    /// Every cross-field problem of an already parsed configuration.
    pub fn problems(&self) -> Vec<ConfigProblem> {
        let mut p = Problems(Vec::new());
        if !self.store.url.contains("://") && !self.store.url.starts_with("sqlite:") {
            p.add(
                "store.url",
                format!(
                    "{:?} is not a store URL; expected e.g. \"sqlite://ml-connector.db\"",
                    self.store.url
                ),
            );
        }
        if self.store.lease_time.get() < Duration::from_secs(3) {
            p.add(
                "store.lease_time",
                format!(
                    "{} is too short to be renewed in time; expected at least 3s",
                    self.store.lease_time
                ),
            );
        }
        if self.connections.is_empty() {
            p.add("connection", "at least one [[connection]] is required");
        }
        let mut names = BTreeSet::new();
        for (i, c) in self.connections.iter().enumerate() {
            let at = format!("connection[{i}]");
            if c.name.is_empty()
                || !c
                    .name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
            {
                p.add(
                    format!("{at}.name"),
                    format!(
                        "{:?} is not a connection name; expected letters, digits, `-` or `_`",
                        c.name
                    ),
                );
            }
            if !names.insert(c.name.as_str()) {
                p.add(
                    format!("{at}.name"),
                    format!("the connection name {:?} is used twice", c.name),
                );
            }
            check_connection(&mut p, &at, c);
        }
        p.0
    }
}

fn check_connection(p: &mut Problems, at: &str, c: &ConnectionConfig) {
    check_commerce(p, &format!("{at}.commerce"), &c.commerce);

    let s = &c.syspro;
    p.http_url(format!("{at}.syspro.enet_url"), &s.enet_url);
    p.non_empty(format!("{at}.syspro.company_id"), &s.company_id);
    p.non_empty(format!("{at}.syspro.operator"), &s.operator);
    match (&s.odata_url, &s.secrets.odata_password) {
        (Some(url), Some(_)) => p.http_url(format!("{at}.syspro.odata_url"), url),
        (Some(_), None) => p.add(
            format!("{at}.syspro.secrets.odata_password"),
            "missing: odata_url is set, so name the vault entry of the OData password",
        ),
        (None, Some(_)) => p.add(
            format!("{at}.syspro.secrets.odata_password"),
            "set, but there is no syspro.odata_url to use it with",
        ),
        (None, None) => {}
    }
    if s.idle_timeout.get() < Duration::from_secs(60) {
        p.add(
            format!("{at}.syspro.idle_timeout"),
            format!("{} is too short; expected at least \"1m\"", s.idle_timeout),
        );
    }
    if !(Duration::from_secs(5)..=Duration::from_secs(30 * 60)).contains(&s.call_timeout.get()) {
        p.add(
            format!("{at}.syspro.call_timeout"),
            format!(
                "{} is out of range; expected from \"5s\" to \"30m\"",
                s.call_timeout
            ),
        );
    }

    let sched = &c.schedule;
    if sched.min_interval.get() < Duration::from_secs(1) {
        p.add(
            format!("{at}.schedule.min_interval"),
            "must be at least \"1s\"",
        );
    }
    if sched.max_interval < sched.min_interval {
        p.add(
            format!("{at}.schedule.max_interval"),
            format!(
                "{} is shorter than min_interval ({}); expected max_interval >= min_interval",
                sched.max_interval, sched.min_interval
            ),
        );
    }
    if c.batch_size == 0 {
        p.add(format!("{at}.batch_size"), "must be at least 1");
    }
    if c.max_attempts == 0 {
        p.add(format!("{at}.max_attempts"), "must be at least 1");
    }
    if c.overlap.get() > Duration::from_secs(86_400) {
        p.add(
            format!("{at}.overlap"),
            format!(
                "{} is longer than a day; expected at most \"1d\"",
                c.overlap
            ),
        );
    }

    let store_codes: BTreeSet<&str> = c.commerce.stores.iter().map(|s| s.code.as_str()).collect();
    check_mapping(p, &format!("{at}.mapping"), &c.mapping, &store_codes);
    check_sales_orders(p, &format!("{at}.mapping"), c);
}

/// SORTOI's `Warehouse` field width.
const WAREHOUSE_MAX_LEN: usize = 10;

fn check_sales_orders(p: &mut Problems, at: &str, c: &ConnectionConfig) {
    let m = &c.mapping;
    let so = &m.sales_orders;
    let key = format!("{at}.sales_orders");
    let selling = c.target == PostingTarget::SalesOrder;
    if selling && m.credit_memos.enabled && c.trigger == Trigger::Invoice {
        p.add(
            format!("{at}.credit_memos.enabled"),
            "credit memos are posted as AR credit notes against AR invoices, which target \"sales_order\" does not post; turn credit memos off or choose another target",
        );
    }
    if selling && so.stock_codes.is_empty() && so.stock_code_prefixes.is_empty() {
        p.add(
            key.clone(),
            "target \"sales_order\" needs stock_codes or stock_code_prefixes, or every document would halt for want of a SYSPRO stock code",
        );
    }
    p.non_empty(format!("{key}.unit_of_measure"), &so.unit_of_measure);
    let mut skus: BTreeMap<String, &str> = BTreeMap::new();
    for (sku, code) in &so.stock_codes {
        let entry = format!("{key}.stock_codes.{sku:?}");
        if sku.trim().is_empty() {
            p.add(entry.clone(), "a SKU must not be empty");
        }
        if let Some(first) = skus.insert(sku.to_lowercase(), sku) {
            p.add(
                entry.clone(),
                format!("{sku:?} and {first:?} are the same SKU (SKUs are compared without case)"),
            );
        }
        p.non_empty(entry, code);
    }
    for (i, prefix) in so.stock_code_prefixes.iter().enumerate() {
        p.non_empty(format!("{key}.stock_code_prefixes[{i}]"), prefix);
    }
    let mut warehouse = |path: String, value: &str| {
        if value.trim().is_empty() {
            p.add(path, "must not be empty");
        } else if value.chars().count() > WAREHOUSE_MAX_LEN {
            p.add(
                path,
                format!(
                    "{value:?} is longer than {WAREHOUSE_MAX_LEN} characters, the width of SORTOI's Warehouse"
                ),
            );
        }
    };
    if let Some(w) = &so.warehouse {
        warehouse(format!("{key}.warehouse"), w);
    }
    for (code, store) in &m.stores {
        if let Some(w) = &store.warehouse {
            warehouse(format!("{at}.stores.{code}.warehouse"), w);
        }
    }
    match (so.freight, &so.freight_product_class) {
        (FreightHandling::MiscCharge, None) => p.add(
            format!("{key}.freight_product_class"),
            "missing: freight = \"misc_charge\" needs the product class of the charge line",
        ),
        (FreightHandling::MiscCharge, Some(class)) => {
            p.non_empty(format!("{key}.freight_product_class"), class);
        }
        (FreightHandling::FreightLine, Some(_)) => p.add(
            format!("{key}.freight_product_class"),
            "only used with freight = \"misc_charge\"",
        ),
        (FreightHandling::FreightLine, None) => {}
    }
}

fn check_commerce(p: &mut Problems, at: &str, c: &CommerceConfig) {
    p.http_url(format!("{at}.base_url"), &c.base_url);
    if let Err(e) = c
        .admin_url_template
        .check_placeholders(super::ADMIN_URL_PLACEHOLDERS)
    {
        p.add(format!("{at}.admin_url_template"), e.to_string());
    } else if !c
        .admin_url_template
        .placeholders()
        .any(|n| n == "entity_id")
    {
        p.add(
            format!("{at}.admin_url_template"),
            "must contain {entity_id}, or every link would open the same page",
        );
    }
    if !(1..=MAX_PAGE_SIZE).contains(&c.page_size) {
        p.add(
            format!("{at}.page_size"),
            format!(
                "{} is out of range; expected 1 to {MAX_PAGE_SIZE}",
                c.page_size
            ),
        );
    }
    if c.stores.is_empty() {
        p.add(
            format!("{at}.stores"),
            "at least one store ({ code = \"default\", id = 1 }) is required",
        );
    }
    let mut codes = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for (i, s) in c.stores.iter().enumerate() {
        p.non_empty(format!("{at}.stores[{i}].code"), &s.code);
        if !codes.insert(&s.code) {
            p.add(
                format!("{at}.stores[{i}].code"),
                format!("the store code {:?} is listed twice", s.code),
            );
        }
        if !ids.insert(s.id) {
            p.add(
                format!("{at}.stores[{i}].id"),
                format!("the store id {} is listed twice", s.id),
            );
        }
    }

    let auth = &c.auth;
    match (c.flavour, auth.kind) {
        (CommerceFlavour::Saas, CommerceAuthKind::Ims)
        | (CommerceFlavour::Paas, CommerceAuthKind::Oauth1 | CommerceAuthKind::Bearer) => {}
        (CommerceFlavour::Saas, _) => p.add(
            format!("{at}.auth.kind"),
            "flavour \"saas\" accepts only IMS tokens; expected kind = \"ims\"",
        ),
        (CommerceFlavour::Paas, CommerceAuthKind::Ims) => p.add(
            format!("{at}.auth.kind"),
            "kind \"ims\" is for flavour \"saas\"; expected \"oauth1\" or \"bearer\" on PaaS",
        ),
    }
    let secrets = &auth.secrets;
    let all: [(&str, &Option<SecretName>); 7] = [
        ("consumer_key", &secrets.consumer_key),
        ("consumer_secret", &secrets.consumer_secret),
        ("access_token", &secrets.access_token),
        ("access_token_secret", &secrets.access_token_secret),
        ("token", &secrets.token),
        ("client_id", &secrets.client_id),
        ("client_secret", &secrets.client_secret),
    ];
    let (kind_name, needed): (&str, &[&str]) = match auth.kind {
        CommerceAuthKind::Oauth1 => (
            "oauth1",
            &[
                "consumer_key",
                "consumer_secret",
                "access_token",
                "access_token_secret",
            ],
        ),
        CommerceAuthKind::Bearer => ("bearer", &["token"]),
        CommerceAuthKind::Ims => ("ims", &["client_id", "client_secret"]),
    };
    for (name, value) in all {
        let key = format!("{at}.auth.secrets.{name}");
        match (needed.contains(&name), value.is_some()) {
            (true, false) => p.add(
                key,
                format!(
                    "missing: auth kind \"{kind_name}\" needs the vault entry name of its {name}"
                ),
            ),
            (false, true) => p.add(
                key,
                format!(
                    "not used by auth kind \"{kind_name}\" (it needs: {})",
                    needed.join(", ")
                ),
            ),
            _ => {}
        }
    }
    if auth.kind != CommerceAuthKind::Ims {
        if auth.token_url.is_some() {
            p.add(
                format!("{at}.auth.token_url"),
                "only used with kind = \"ims\"",
            );
        }
        if !auth.scopes.is_empty() {
            p.add(format!("{at}.auth.scopes"), "only used with kind = \"ims\"");
        }
    } else if let Some(url) = &auth.token_url {
        p.http_url(format!("{at}.auth.token_url"), url);
    }
}

fn check_mapping(p: &mut Problems, at: &str, m: &MappingConfig, store_codes: &BTreeSet<&str>) {
    if m.currencies.is_empty() {
        p.add(
            format!("{at}.currencies"),
            "at least one currency code is required, e.g. [\"USD\"]",
        );
    }
    for (i, cur) in m.currencies.iter().enumerate() {
        if cur.len() != 3 || !cur.chars().all(|c| c.is_ascii_uppercase()) {
            p.add(
                format!("{at}.currencies[{i}]"),
                format!(
                    "{cur:?} is not an ISO currency code; expected three capitals, e.g. \"USD\""
                ),
            );
        }
    }
    p.non_empty(
        format!("{at}.clearing_product_class"),
        &m.clearing_product_class,
    );
    if m.rounding_tolerance < Decimal::ZERO || m.rounding_tolerance > Decimal::ONE {
        p.add(
            format!("{at}.rounding_tolerance"),
            format!(
                "{} is out of range; expected an amount from \"0\" to \"1.00\"",
                m.rounding_tolerance
            ),
        );
    }

    let inv = &m.invoice;
    for (key, template, allowed) in [
        (
            "number_template",
            &inv.number_template,
            INVOICE_NUMBER_PLACEHOLDERS,
        ),
        (
            "journal_reference_template",
            &inv.journal_reference_template,
            JOURNAL_REFERENCE_PLACEHOLDERS,
        ),
        (
            "notation_template",
            &inv.notation_template,
            NOTATION_PLACEHOLDERS,
        ),
    ] {
        if let Err(e) = template.check_placeholders(allowed) {
            p.add(format!("{at}.invoice.{key}"), e.to_string());
        }
    }
    if !inv
        .number_template
        .placeholders()
        .any(|n| matches!(n, "increment_id" | "order_increment_id" | "entity_id"))
    {
        p.add(
            format!("{at}.invoice.number_template"),
            "must contain {increment_id}, {order_increment_id} or {entity_id}, or every document would get the same SYSPRO invoice number",
        );
    }
    let credit_note = &m.credit_memos.number_template;
    if let Err(e) = credit_note.check_placeholders(INVOICE_NUMBER_PLACEHOLDERS) {
        p.add(format!("{at}.credit_memos.number_template"), e.to_string());
    } else if !credit_note
        .placeholders()
        .any(|n| matches!(n, "increment_id" | "order_increment_id" | "entity_id"))
    {
        p.add(
            format!("{at}.credit_memos.number_template"),
            "must contain {increment_id}, {order_increment_id} or {entity_id}, or every credit memo would get the same SYSPRO credit note number",
        );
    }
    if let Some(a) = &m.credit_memos.adjustment_account {
        p.non_empty(format!("{at}.credit_memos.adjustment_account"), a);
    }
    if inv.max_length == 0 {
        p.add(format!("{at}.invoice.max_length"), "must be at least 1");
    } else if inv.max_length > syspro_client::bo::INVOICE_MAX_LEN {
        p.add(
            format!("{at}.invoice.max_length"),
            format!(
                "must be at most {}: SYSPRO's AR invoice number is no longer, and a longer number would be refused when posted",
                syspro_client::bo::INVOICE_MAX_LEN
            ),
        );
    }

    let cust = &m.customers;
    for (id, code) in &cust.by_id {
        let key = format!("{at}.customers.by_id.{id}");
        if id.parse::<u64>().is_err() {
            p.add(
                key.clone(),
                format!("{id:?} is not a Commerce customer id; expected digits"),
            );
        }
        p.non_empty(key, code);
    }
    let mut emails: BTreeMap<String, &str> = BTreeMap::new();
    for (email, code) in &cust.by_email {
        let key = format!("{at}.customers.by_email.{email:?}");
        if !email.contains('@') {
            p.add(key.clone(), format!("{email:?} is not an email address"));
        }
        if let Some(first) = emails.insert(email.to_lowercase(), email) {
            p.add(
                key.clone(),
                format!("{email:?} and {first:?} are the same address (emails are compared without case)"),
            );
        }
        p.non_empty(key, code);
    }
    if let Err(e) = cust
        .create
        .code_template
        .check_placeholders(CUSTOMER_CODE_PLACEHOLDERS)
    {
        p.add(
            format!("{at}.customers.create.code_template"),
            e.to_string(),
        );
    }
    if cust.create.enabled
        && !cust
            .create
            .code_template
            .placeholders()
            .any(|n| n == "customer_id")
    {
        p.add(
            format!("{at}.customers.create.code_template"),
            "must contain {customer_id}, or every created customer would get the same code",
        );
    }
    if cust.create.code_max_length == 0 {
        p.add(
            format!("{at}.customers.create.code_max_length"),
            "must be at least 1",
        );
    } else if cust.create.code_max_length > syspro_client::bo::CUSTOMER_MAX_LEN {
        p.add(
            format!("{at}.customers.create.code_max_length"),
            format!(
                "must be at most {}: SYSPRO's customer code is no longer, and a longer code would be refused when created",
                syspro_client::bo::CUSTOMER_MAX_LEN
            ),
        );
    }
    let update = &cust.update;
    if cust.update_enabled() && update.fields.is_empty() {
        p.add(
            format!("{at}.customers.update.fields"),
            "must name at least one field (name, email, telephone, sold_to, ship_to), or set customers.update.enabled = false",
        );
    }
    for (index, field) in update.fields.iter().enumerate() {
        if update.fields[..index].contains(field) {
            p.add(
                format!("{at}.customers.update.fields"),
                format!("{:?} is listed twice", field.as_str()),
            );
        }
    }
    if let Some(attribute) = &cust.write_back.attribute {
        let valid = attribute.len() <= 60
            && attribute.starts_with(|c: char| c.is_ascii_lowercase())
            && attribute
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            p.add(
                format!("{at}.customers.write_back.attribute"),
                format!(
                    "{attribute:?} is not a Commerce attribute code; expected 1 to 60 characters from a-z, 0-9 and '_', starting with a letter"
                ),
            );
        }
    }
    if let Some(cur) = &cust.create.currency
        && !m.currencies.contains(cur)
    {
        p.add(
            format!("{at}.customers.create.currency"),
            format!(
                "{cur:?} is not one of the connection's currencies ({})",
                m.currencies.join(", ")
            ),
        );
    }

    for code in store_codes {
        if !m.stores.contains_key(*code) {
            p.add(
                format!("{at}.stores"),
                format!("missing settings for the Commerce store {code:?} (listed in commerce.stores); add [connection.mapping.stores.{code}]"),
            );
        }
    }
    for (code, store) in &m.stores {
        let key = format!("{at}.stores.{code}");
        if !store_codes.contains(code.as_str()) {
            p.add(
                key.clone(),
                format!("{code:?} is not one of the connection's commerce.stores codes"),
            );
        }
        p.non_empty(format!("{key}.branch"), &store.branch);
        for (name, value) in [
            ("cash_customer", &store.cash_customer),
            ("revenue_account", &store.revenue_account),
            ("product_class", &store.product_class),
            ("invoice_terms", &store.invoice_terms),
        ] {
            if let Some(v) = value {
                p.non_empty(format!("{key}.{name}"), v);
            }
        }
    }

    let acc = &m.accounts;
    p.non_empty(format!("{at}.accounts.clearing"), &acc.clearing);
    p.non_empty(format!("{at}.accounts.freight"), &acc.freight);
    p.non_empty(format!("{at}.accounts.rounding"), &acc.rounding);
    if let Some(d) = &acc.discount {
        p.non_empty(format!("{at}.accounts.discount"), d);
    }
    match (&acc.tax, acc.tax_posting) {
        (None, TaxPosting::Journal) => p.add(
            format!("{at}.accounts.tax"),
            "missing: tax_posting = \"journal\" needs the tax GL account",
        ),
        (Some(t), _) => p.non_empty(format!("{at}.accounts.tax"), t),
        (None, TaxPosting::Syspro) => {}
    }

    let mut seen: BTreeMap<(String, Option<&str>), usize> = BTreeMap::new();
    for (i, rule) in m.revenue.iter().enumerate() {
        let key = format!("{at}.revenue[{i}]");
        p.non_empty(format!("{key}.account"), &rule.account);
        let selectors = rule.selectors();
        let selector = match selectors.as_slice() {
            [one] => one,
            [] => {
                p.add(
                    key,
                    "has no selector; expected exactly one of sku, sku_prefix, category_id, attribute_set_id",
                );
                continue;
            }
            _ => {
                p.add(
                    key,
                    "has several selectors; expected exactly one of sku, sku_prefix, category_id, attribute_set_id (write one rule per selector)",
                );
                continue;
            }
        };
        let identity = match selector {
            RevenueSelector::Sku(s) => {
                p.non_empty(format!("{key}.sku"), s);
                format!("sku = {:?}", s.to_lowercase())
            }
            RevenueSelector::SkuPrefix(s) => {
                p.non_empty(format!("{key}.sku_prefix"), s);
                format!("sku_prefix = {:?}", s.to_lowercase())
            }
            RevenueSelector::Category(c) => format!("category_id = {c}"),
            RevenueSelector::AttributeSet(a) => format!("attribute_set_id = {a}"),
        };
        if let Some(store) = &rule.store
            && !m.stores.contains_key(store)
        {
            p.add(
                format!("{key}.store"),
                format!(
                    "{store:?} is not a store of this mapping ([connection.mapping.stores.<code>])"
                ),
            );
        }
        if let Some(first) = seen.insert((identity.clone(), rule.store.as_deref()), i) {
            p.add(
                key,
                format!(
                    "repeats revenue[{first}] ({identity}{}); each selector may appear once per store",
                    rule.store
                        .as_deref()
                        .map(|s| format!(", store = {s:?}"))
                        .unwrap_or_default()
                ),
            );
        }
    }
}
