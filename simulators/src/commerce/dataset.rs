//! The seeded generator and the in-memory shop it fills, with the few mutations the simulator offers
//! (new orders, touches, late invoices, customer updates). Every record keeps its rendered JSON beside
//! it, so list answers are assembled from ready strings.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::clock::format_ts;
use super::model::{
    Address, Buyer, CreditMemo, History, Invoice, Line, LineMoney, Order, OrderState, price_line,
    render_product,
};
use super::rng::SimRng;
use super::stores::{
    COMPANIES, DE_PLACES, FIRST_NAMES, LAST_NAMES, Product, ProductType, STREETS, StoreView,
    US_PLACES, catalogue, store_views,
};

/// 2026-01-05 00:00:00 UTC: generated orders start here, so a seed always gives the same timestamps.
pub(crate) const EPOCH: i64 = 1_767_571_200;
/// Generated orders spread over two weeks from [`EPOCH`].
const SPAN: i64 = 14 * 86_400;

/// Customer attributes a `PUT /V1/customers/{id}` may set; other codes are dropped silently.
pub(crate) const CUSTOMER_ATTRIBUTES: &[&str] = &["erp_customer_code", "erp_sync_note"];

/// A record with its JSON, kept together so reads never re-render.
#[derive(Clone, Debug)]
pub(crate) struct Rendered {
    pub value: Value,
    pub json: String,
}

impl Rendered {
    pub(crate) fn new(value: Value) -> Self {
        let json = serde_json::to_string(&value).unwrap_or_else(|_| "null".to_owned());
        Self { value, json }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct CustomerRec {
    pub id: i64,
    pub in_erp: bool,
    pub store_id: i64,
    pub website_id: i64,
    pub display_name: String,
    pub address: Address,
    pub group_id: i64,
    pub rendered: Rendered,
}

impl CustomerRec {
    pub(crate) fn email(&self) -> &str {
        self.rendered
            .value
            .get("email")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
    fn field(&self, key: &str) -> String {
        self.rendered
            .value
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }
}

/// Generation knobs (a subset of the public config).
#[derive(Clone, Debug)]
pub(crate) struct GenConfig {
    pub seed: u64,
    pub orders: usize,
    pub guest_share: f64,
    pub unmapped_sku_share: f64,
    pub not_in_erp_share: f64,
    pub invoiced_share: f64,
}

/// What a caller of `POST /__sim/orders` may pin down; everything else is drawn at random.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewOrder {
    pub store: Option<String>,
    pub customer_id: Option<i64>,
    #[serde(default)]
    pub guest: bool,
    pub skus: Option<Vec<String>>,
    #[serde(default)]
    pub unmapped_sku: bool,
    #[serde(default)]
    pub not_in_erp: bool,
    #[serde(default)]
    pub invoice: bool,
}

#[derive(Debug)]
pub(crate) struct OrderRec {
    pub order: Order,
    pub rendered: Rendered,
}

#[derive(Debug)]
pub(crate) struct DocRec<T> {
    pub doc: T,
    pub rendered: Rendered,
}

#[derive(Debug, Default)]
struct Sequences {
    order: i64,
    invoice: i64,
    creditmemo: i64,
    item: i64,
    doc_item: i64,
    order_address: i64,
    history: i64,
    per_store_order: BTreeMap<i64, i64>,
    per_store_invoice: BTreeMap<i64, i64>,
    per_store_creditmemo: BTreeMap<i64, i64>,
}

fn next(counter: &mut i64) -> i64 {
    *counter += 1;
    *counter
}

fn increment(map: &mut BTreeMap<i64, i64>, store: &StoreView) -> String {
    let n = map.entry(store.id).or_insert(0);
    *n += 1;
    format!("{}{:09}", store.increment_prefix, n)
}

/// Options for one generated order.
#[derive(Clone, Copy, Debug, Default)]
struct Draw {
    guest: bool,
    unmapped: bool,
    not_in_erp: bool,
}

#[derive(Debug)]
pub(crate) struct Dataset {
    pub stores: Vec<StoreView>,
    pub products: Vec<Product>,
    pub product_json: Vec<Rendered>,
    pub customers: BTreeMap<i64, CustomerRec>,
    pub orders: BTreeMap<i64, OrderRec>,
    pub invoices: BTreeMap<i64, DocRec<Invoice>>,
    pub creditmemos: BTreeMap<i64, DocRec<CreditMemo>>,
    seq: Sequences,
    additions: SimRng,
}

fn ascii_fold(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            'ä' => out.push_str("ae"),
            'ö' => out.push_str("oe"),
            'ü' => out.push_str("ue"),
            'ß' => out.push_str("ss"),
            'á' | 'à' => out.push('a'),
            'é' | 'è' => out.push('e'),
            'í' => out.push('i'),
            'ó' => out.push('o'),
            'ú' => out.push('u'),
            'ñ' => out.push('n'),
            c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_lowercase()),
            _ => {}
        }
    }
    out
}

fn pick_store(rng: &mut SimRng, stores: &[StoreView]) -> usize {
    let total: u64 = stores.iter().map(|s| s.order_share).sum();
    let mut roll = rng.below(total.max(1));
    for (i, s) in stores.iter().enumerate() {
        if roll < s.order_share {
            return i;
        }
        roll -= s.order_share;
    }
    0
}

fn make_address(rng: &mut SimRng, id: i64, first: &str, last: &str, store: &StoreView) -> Address {
    let place = if store.id == 2 {
        *rng.pick(DE_PLACES)
    } else {
        *rng.pick(US_PLACES)
    };
    let (city, region, code, region_id, zip, country) = place;
    let number = rng.range(1, 240);
    let street = rng.pick(STREETS);
    Address {
        id,
        firstname: first.to_owned(),
        lastname: last.to_owned(),
        company: (store.id == 3).then(|| (*rng.pick(COMPANIES)).to_owned()),
        street: if country == "DE" {
            vec![format!("{street} {number}")]
        } else {
            vec![format!("{number} {street}")]
        },
        city: city.to_owned(),
        region: region.to_owned(),
        region_code: code.to_owned(),
        region_id,
        postcode: format!("{zip}{:02}", rng.range(0, 99)),
        country_id: country.to_owned(),
        telephone: if country == "DE" {
            format!("+49 30 {:07}", rng.range(1_000_000, 9_999_999))
        } else {
            format!("(555) {:03}-{:04}", rng.range(200, 999), rng.range(0, 9999))
        },
    }
}

impl Dataset {
    pub(crate) fn generate(cfg: &GenConfig) -> Self {
        let stores = store_views();
        let products = catalogue();
        let product_json = products
            .iter()
            .map(|p| {
                Rendered::new(render_product(
                    p,
                    &products,
                    EPOCH - 200 * 86_400 + p.id * 3_600,
                ))
            })
            .collect();
        let mut ds = Self {
            stores,
            products,
            product_json,
            customers: BTreeMap::new(),
            orders: BTreeMap::new(),
            invoices: BTreeMap::new(),
            creditmemos: BTreeMap::new(),
            seq: Sequences::default(),
            additions: SimRng::derived(cfg.seed, 3),
        };
        ds.generate_customers(cfg);
        ds.generate_orders(cfg);
        ds
    }

    fn generate_customers(&mut self, cfg: &GenConfig) {
        let mut rng = SimRng::derived(cfg.seed, 1);
        let count = (cfg.orders / 3).max(24);
        for i in 0..count {
            let store = self.stores[pick_store(&mut rng, &self.stores)].clone();
            let id = i64::try_from(i).unwrap_or(0) + 1;
            let first = *rng.pick(FIRST_NAMES);
            let last = *rng.pick(LAST_NAMES);
            let in_erp = !rng.chance(0.12);
            let created = EPOCH - rng.range(86_400, 400 * 86_400);
            let updated = if rng.chance(0.3) {
                created + rng.range(60, 20 * 86_400)
            } else {
                created
            };
            let address = make_address(&mut rng, 1_000 + id, first, last, &store);
            let gender = rng.range(0, 3);
            self.insert_customer(
                id,
                store,
                first,
                last,
                in_erp,
                address,
                gender,
                created,
                updated.min(EPOCH - 60),
            );
        }
        // Every store view gets at least one customer of each kind, so each kind of order can occur.
        for store in self.stores.clone() {
            for wanted in [true, false] {
                let exists = self
                    .customers
                    .values()
                    .any(|c| c.store_id == store.id && c.in_erp == wanted);
                if !exists {
                    let id = i64::try_from(self.customers.len()).unwrap_or(0) + 1;
                    let first = *rng.pick(FIRST_NAMES);
                    let last = *rng.pick(LAST_NAMES);
                    let address = make_address(&mut rng, 1_000 + id, first, last, &store);
                    let created = EPOCH - rng.range(86_400, 100 * 86_400);
                    self.insert_customer(
                        id,
                        store.clone(),
                        first,
                        last,
                        wanted,
                        address,
                        0,
                        created,
                        created,
                    );
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn insert_customer(
        &mut self,
        id: i64,
        store: StoreView,
        first: &str,
        last: &str,
        in_erp: bool,
        address: Address,
        gender: i64,
        created: i64,
        updated: i64,
    ) {
        let domain = if in_erp { "example.com" } else { "example.net" };
        let email = format!("{}.{}.{id}@{domain}", ascii_fold(first), ascii_fold(last));
        let mut v = json!({
            "id": id,
            "group_id": store.customer_group,
            "default_billing": address.id.to_string(),
            "default_shipping": address.id.to_string(),
            "created_at": format_ts(created),
            "updated_at": format_ts(updated),
            "created_in": store.name.rsplit('\n').next().unwrap_or(store.code),
            "email": email,
            "firstname": first,
            "lastname": last,
            "gender": gender,
            "store_id": store.id,
            "website_id": store.website_id,
            "addresses": [address.customer_json(id, true)],
            "disable_auto_group_change": 0,
            "extension_attributes": {"is_subscribed": id % 3 == 0},
        });
        if store.id == 3
            && let Some(m) = v.as_object_mut()
        {
            m.insert(
                "taxvat".into(),
                json!(format!("US{:09}", 100_000_000 + id * 37)),
            );
        }
        let display_name = address
            .company
            .clone()
            .unwrap_or_else(|| format!("{first} {last}"));
        self.customers.insert(
            id,
            CustomerRec {
                id,
                in_erp,
                store_id: store.id,
                website_id: store.website_id,
                display_name,
                address,
                group_id: store.customer_group,
                rendered: Rendered::new(v),
            },
        );
    }

    fn generate_orders(&mut self, cfg: &GenConfig) {
        let mut rng = SimRng::derived(cfg.seed, 2);
        let n = i64::try_from(cfg.orders).unwrap_or(0).max(1);
        let step = (2 * SPAN / n).max(2);
        let mut t = EPOCH;
        // Invoices and credit memos get their ids in the order they happened, as in Commerce.
        let mut invoices: Vec<(i64, i64)> = Vec::new();
        let mut memos: Vec<(i64, i64)> = Vec::new();
        for _ in 0..cfg.orders {
            if !rng.chance(0.3) {
                t += rng.range(1, step);
            }
            let store_idx = pick_store(&mut rng, &self.stores);
            let draw = Draw {
                guest: self.stores[store_idx].id != 3 && rng.chance(cfg.guest_share),
                unmapped: rng.chance(cfg.unmapped_sku_share),
                not_in_erp: rng.chance(cfg.not_in_erp_share),
            };
            let mut order = self.build_order(&mut rng, store_idx, t, draw, None, None);
            let id = order.entity_id;
            let mut last = t;
            if rng.chance(0.03) {
                last = t + rng.range(600, 86_400);
                order.state = OrderState::Canceled;
                order.status = "canceled".into();
                self.history(
                    &mut order,
                    last,
                    Some("Order canceled: payment not received."),
                    false,
                );
            } else if rng.chance(cfg.invoiced_share) {
                let at = if rng.chance(0.5) {
                    t + rng.range(5, 300)
                } else {
                    t + rng.range(3_600, 3 * 86_400)
                };
                invoices.push((at, id));
                last = at;
                order.state = OrderState::Processing;
                order.status = "processing".into();
                order.invoice_id = Some(0);
                if rng.chance(0.6) {
                    last = at + rng.range(3_600, 2 * 86_400);
                    order.shipped = true;
                    order.state = OrderState::Complete;
                    order.status = "complete".into();
                }
                if rng.chance(0.04) {
                    last += rng.range(86_400, 5 * 86_400);
                    memos.push((last, id));
                    order.creditmemo_id = Some(0);
                    order.state = OrderState::Closed;
                    order.status = "closed".into();
                }
            }
            if rng.chance(0.1) {
                last += rng.range(60, 86_400);
                self.history(
                    &mut order,
                    last,
                    Some("Shipping address corrected at the customer's request."),
                    false,
                );
            }
            order.updated_at = last.max(order.updated_at);
            self.orders.insert(
                id,
                OrderRec {
                    rendered: Rendered::new(Value::Null),
                    order,
                },
            );
        }
        invoices.sort_unstable();
        for (at, order_id) in invoices {
            self.attach_invoice(order_id, at, false);
        }
        memos.sort_unstable();
        for (at, order_id) in memos {
            self.attach_creditmemo(order_id, at);
        }
        let ids: Vec<i64> = self.orders.keys().copied().collect();
        for id in ids {
            self.refresh_order(id);
        }
    }

    fn history(&mut self, order: &mut Order, at: i64, comment: Option<&str>, notified: bool) {
        let entity_id = next(&mut self.seq.history);
        order.histories.push(History {
            entity_id,
            created_at: at,
            comment: comment.map(str::to_owned),
            status: order.status.clone(),
            notified,
        });
        order.updated_at = order.updated_at.max(at);
    }

    fn choose_customer(&self, rng: &mut SimRng, store: &StoreView, in_erp: bool) -> Option<i64> {
        let pool: Vec<i64> = self
            .customers
            .values()
            .filter(|c| c.store_id == store.id && c.in_erp == in_erp)
            .map(|c| c.id)
            .collect();
        (!pool.is_empty()).then(|| *rng.pick(&pool))
    }

    /// Draws one order placed at `at`; `customer` and `skus` pin the buyer and the simple products.
    fn build_order(
        &mut self,
        rng: &mut SimRng,
        store_idx: usize,
        at: i64,
        draw: Draw,
        customer: Option<i64>,
        skus: Option<&[String]>,
    ) -> Order {
        let store = self.stores[store_idx].clone();
        let entity_id = next(&mut self.seq.order);
        let increment_id = increment(&mut self.seq.per_store_order, &store);
        let customer_id = customer.or_else(|| {
            if draw.guest {
                None
            } else {
                self.choose_customer(rng, &store, !draw.not_in_erp)
            }
        });
        let (buyer, email, first, last, address) =
            match customer_id.and_then(|id| self.customers.get(&id)) {
                Some(c) => (
                    Buyer::Registered {
                        id: c.id,
                        group_id: c.group_id,
                        address_id: c.address.id,
                    },
                    c.email().to_owned(),
                    c.field("firstname"),
                    c.field("lastname"),
                    c.address.clone(),
                ),
                None => {
                    let first = *rng.pick(FIRST_NAMES);
                    let last = *rng.pick(LAST_NAMES);
                    let email = format!(
                        "{}.{}.g{entity_id}@example.org",
                        ascii_fold(first),
                        ascii_fold(last)
                    );
                    let address = make_address(rng, 0, first, last, &store);
                    (
                        Buyer::Guest,
                        email,
                        first.to_owned(),
                        last.to_owned(),
                        address,
                    )
                }
            };
        let (coupon, discount) = match (store.id, rng.below(10)) {
            (3, 0) => (Some("B2B5".to_owned()), Decimal::new(5, 0)),
            (3, _) => (None, Decimal::ZERO),
            (_, 0) => (Some("SAVE10".to_owned()), Decimal::new(10, 0)),
            (_, 1) => (Some("WELCOME15".to_owned()), Decimal::new(15, 0)),
            _ => (None, Decimal::ZERO),
        };
        let mut lines: Vec<Line> = Vec::new();
        let mut delta = Decimal::ZERO;
        let mut chosen: Vec<i64> = Vec::new();
        let mut wanted: Vec<(i64, Decimal)> = Vec::new();
        let qty_for = |rng: &mut SimRng| {
            if store.id == 3 {
                Decimal::from(rng.range(2, 12))
            } else if rng.chance(0.8) {
                Decimal::ONE
            } else {
                Decimal::from(rng.range(2, 3))
            }
        };
        if let Some(skus) = skus {
            for sku in skus {
                if let Some(p) = self.products.iter().find(|p| &p.sku == sku) {
                    wanted.push((p.id, qty_for(rng)));
                }
            }
        } else {
            let top = if store.id == 3 {
                rng.range(1, 4)
            } else {
                rng.range(1, 3)
            };
            let simples: Vec<i64> = self
                .products
                .iter()
                .filter(|p| p.type_id == ProductType::Simple && p.visibility == 4 && !p.unmapped)
                .map(|p| p.id)
                .collect();
            let configurables: Vec<i64> = self
                .products
                .iter()
                .filter(|p| p.type_id == ProductType::Configurable)
                .map(|p| p.id)
                .collect();
            let bundles: Vec<i64> = self
                .products
                .iter()
                .filter(|p| p.type_id == ProductType::Bundle)
                .map(|p| p.id)
                .collect();
            for _ in 0..top {
                let roll = rng.below(100);
                let pool = if roll < 60 {
                    &simples
                } else if roll < 85 {
                    &configurables
                } else {
                    &bundles
                };
                let id = *rng.pick(pool);
                if !wanted.iter().any(|(w, _)| *w == id) {
                    wanted.push((id, qty_for(rng)));
                }
            }
            if draw.unmapped {
                let clearance: Vec<i64> = self
                    .products
                    .iter()
                    .filter(|p| p.unmapped)
                    .map(|p| p.id)
                    .collect();
                wanted.push((*rng.pick(&clearance), Decimal::ONE));
            }
        }
        for (product_id, qty) in wanted {
            let Some(p) = self.products.iter().find(|p| p.id == product_id).cloned() else {
                continue;
            };
            chosen.push(p.id);
            match p.type_id {
                ProductType::Simple => {
                    let money = price_line(p.price, qty, store.tax_percent, discount, &mut delta);
                    lines.push(self.line(
                        &p, &p.sku, &p.name, qty, &store, discount, money, None, None,
                    ));
                }
                ProductType::Configurable => {
                    let variant_id = *rng.pick(&p.children);
                    let Some(variant) = self.products.iter().find(|v| v.id == variant_id).cloned()
                    else {
                        continue;
                    };
                    let (color, size) = variant.variant_options.unwrap_or((0, 0));
                    let option = json!({"extension_attributes": {"configurable_item_options": [
                        {"option_id": "93", "option_value": color},
                        {"option_id": "144", "option_value": size},
                    ]}});
                    let money =
                        price_line(variant.price, qty, store.tax_percent, discount, &mut delta);
                    let parent_idx = lines.len();
                    lines.push(self.line(
                        &p,
                        &variant.sku,
                        &p.name,
                        qty,
                        &store,
                        discount,
                        money,
                        None,
                        Some(option),
                    ));
                    let zero = LineMoney::default();
                    lines.push(self.line(
                        &variant,
                        &variant.sku,
                        &variant.name,
                        qty,
                        &store,
                        Decimal::ZERO,
                        zero,
                        Some(parent_idx),
                        None,
                    ));
                }
                ProductType::Bundle => {
                    let parts: Vec<Product> = p
                        .children
                        .iter()
                        .filter_map(|id| self.products.iter().find(|c| c.id == *id).cloned())
                        .collect();
                    let sku = std::iter::once(p.sku.as_str())
                        .chain(parts.iter().map(|c| c.sku.as_str()))
                        .collect::<Vec<_>>()
                        .join("-");
                    let selections: Vec<Value> = parts
                        .iter()
                        .enumerate()
                        .map(|(i, c)| json!({"option_id": i + 1, "option_qty": 1, "option_selections": [p.id * 100 + i64::try_from(i).unwrap_or(0)], "extension_attributes": {"product_id": c.id}}))
                        .collect();
                    let option = json!({"extension_attributes": {"bundle_options": selections}});
                    let parent_idx = lines.len();
                    lines.push(self.line(
                        &p,
                        &sku,
                        &p.name,
                        qty,
                        &store,
                        Decimal::ZERO,
                        LineMoney::default(),
                        None,
                        Some(option),
                    ));
                    for c in parts {
                        let money =
                            price_line(c.price, qty, store.tax_percent, discount, &mut delta);
                        lines.push(self.line(
                            &c,
                            &c.sku,
                            &c.name,
                            qty,
                            &store,
                            discount,
                            money,
                            Some(parent_idx),
                            None,
                        ));
                    }
                }
            }
        }
        let base_subtotal: Decimal = lines.iter().map(|l| l.base.row_total).sum();
        let (shipping_method, base_shipping) = match store.id {
            2 => (
                ("tablerate_bestway", "Best Way - Table Rate"),
                Decimal::new(490, 2),
            ),
            3 => (
                ("flatrate_flatrate", "Flat Rate - Freight"),
                Decimal::new(2500, 2),
            ),
            _ if base_subtotal >= Decimal::new(200, 0) => (
                ("freeshipping_freeshipping", "Free Shipping - Free"),
                Decimal::ZERO,
            ),
            _ => (
                ("flatrate_flatrate", "Flat Rate - Fixed"),
                Decimal::new(500, 2),
            ),
        };
        let payment_method = match store.id {
            2 => ("paypal_express", "PayPal Express Checkout"),
            3 => ("purchaseorder", "Purchase Order"),
            _ if rng.chance(0.7) => ("braintree", "Credit Card (Braintree)"),
            _ => ("checkmo", "Check / Money order"),
        };
        let (order_currency, rate) = match store.alt_currency {
            Some((code, rate)) if rng.chance(0.12) => (code.to_owned(), rate),
            _ => (store.base_currency.to_owned(), Decimal::ONE),
        };
        let billing_address_id = next(&mut self.seq.order_address);
        let shipping_address_id = next(&mut self.seq.order_address);
        let mut order = Order {
            entity_id,
            increment_id,
            store: store.clone(),
            buyer,
            email,
            firstname: first,
            lastname: last,
            billing: address.clone(),
            shipping: address,
            billing_address_id,
            shipping_address_id,
            payment_id: entity_id,
            order_currency,
            base_to_order: rate,
            coupon,
            shipping_method,
            payment_method,
            lines,
            base_totals: Default::default(),
            totals: Default::default(),
            created_at: at,
            updated_at: at,
            state: OrderState::New,
            status: "pending".into(),
            histories: Vec::new(),
            invoice_id: None,
            creditmemo_id: None,
            shipped: false,
            quote_id: 5_000 + entity_id,
            remote_ip: format!("203.0.113.{}", rng.range(1, 254)),
            protect_code: rng.alnum(6),
        };
        order.finish_money(base_shipping);
        self.history(&mut order, at, None, true);
        order
    }

    #[allow(clippy::too_many_arguments)]
    fn line(
        &mut self,
        p: &Product,
        sku: &str,
        name: &str,
        qty: Decimal,
        store: &StoreView,
        discount: Decimal,
        base: LineMoney,
        parent: Option<usize>,
        option: Option<Value>,
    ) -> Line {
        Line {
            item_id: next(&mut self.seq.item),
            parent,
            product_id: p.id,
            sku: sku.to_owned(),
            name: name.to_owned(),
            product_type: p.type_id,
            qty,
            weight: p.weight,
            tax_percent: if base.row_total.is_zero() {
                Decimal::ZERO
            } else {
                store.tax_percent
            },
            discount_percent: if base.row_total.is_zero() {
                Decimal::ZERO
            } else {
                discount
            },
            base,
            order: LineMoney::default(),
            product_option: option,
        }
    }

    fn attach_invoice(&mut self, order_id: i64, at: i64, add_history: bool) -> Option<i64> {
        let entity_id = next(&mut self.seq.invoice);
        let first_item_id = self.seq.doc_item + 1;
        let mut rec = self.orders.remove(&order_id)?;
        self.seq.doc_item += i64::try_from(rec.order.lines.len()).unwrap_or(0);
        let increment_id = increment(&mut self.seq.per_store_invoice, &rec.order.store);
        rec.order.invoice_id = Some(entity_id);
        if rec.order.state == OrderState::New {
            rec.order.state = OrderState::Processing;
            rec.order.status = "processing".into();
        }
        let comment = format!("Invoice #{increment_id} created.");
        let keep = rec.order.updated_at;
        self.history(&mut rec.order, at, Some(&comment), true);
        if !add_history {
            // Generated orders already carry their final `updated_at` (shipment, refund, edits).
            rec.order.updated_at = keep.max(at);
        }
        let invoice = Invoice {
            entity_id,
            increment_id,
            order_id,
            first_item_id,
            created_at: at,
            updated_at: at,
        };
        self.invoices.insert(
            entity_id,
            DocRec {
                doc: invoice,
                rendered: Rendered::new(Value::Null),
            },
        );
        self.orders.insert(order_id, rec);
        Some(entity_id)
    }

    fn attach_creditmemo(&mut self, order_id: i64, at: i64) {
        let Some(rec) = self.orders.get_mut(&order_id) else {
            return;
        };
        let Some(invoice_id) = rec.order.invoice_id else {
            return;
        };
        let entity_id = next(&mut self.seq.creditmemo);
        let first_item_id = self.seq.doc_item + 1;
        self.seq.doc_item += i64::try_from(rec.order.lines.len()).unwrap_or(0);
        let increment_id = increment(&mut self.seq.per_store_creditmemo, &rec.order.store);
        rec.order.creditmemo_id = Some(entity_id);
        if let Some(inv) = self.invoices.get_mut(&invoice_id) {
            inv.doc.updated_at = inv.doc.updated_at.max(at);
        }
        let memo = CreditMemo {
            entity_id,
            increment_id,
            order_id,
            invoice_id,
            first_item_id,
            created_at: at,
            updated_at: at,
        };
        self.creditmemos.insert(
            entity_id,
            DocRec {
                doc: memo,
                rendered: Rendered::new(Value::Null),
            },
        );
    }

    /// Re-renders an order and the documents that repeat its figures.
    pub(crate) fn refresh_order(&mut self, order_id: i64) {
        let Some(rec) = self.orders.get_mut(&order_id) else {
            return;
        };
        rec.rendered = Rendered::new(rec.order.render());
        let order = &rec.order;
        if let Some(inv) = order.invoice_id.and_then(|id| self.invoices.get_mut(&id)) {
            inv.rendered = Rendered::new(inv.doc.render(order));
        }
        if let Some(memo) = order
            .creditmemo_id
            .and_then(|id| self.creditmemos.get_mut(&id))
        {
            memo.rendered = Rendered::new(memo.doc.render(order));
        }
    }

    /// `POST /__sim/orders`: places a new order at `now`.
    pub(crate) fn add_order(&mut self, now: i64, spec: &NewOrder) -> Result<i64, String> {
        let store_idx = match &spec.store {
            Some(code) => self
                .stores
                .iter()
                .position(|s| s.code == code)
                .ok_or_else(|| {
                    format!("unknown store code {code:?}; expected web, marketplace or b2b")
                })?,
            None => {
                let mut rng = self.additions.clone();
                let idx = pick_store(&mut rng, &self.stores);
                self.additions = rng;
                idx
            }
        };
        if let Some(id) = spec.customer_id {
            let c = self
                .customers
                .get(&id)
                .ok_or_else(|| format!("customer_id {id} does not exist"))?;
            if c.store_id != self.stores[store_idx].id && spec.store.is_some() {
                return Err(format!(
                    "customer {id} belongs to store_id {}, not to {:?}",
                    c.store_id, spec.store
                ));
            }
        }
        if let Some(skus) = &spec.skus {
            for sku in skus {
                let ok = self
                    .products
                    .iter()
                    .any(|p| &p.sku == sku && p.type_id == ProductType::Simple);
                if !ok {
                    return Err(format!(
                        "sku {sku:?} is not a simple product of the catalogue"
                    ));
                }
            }
        }
        let store_idx = match spec.customer_id.and_then(|id| self.customers.get(&id)) {
            Some(c) => self
                .stores
                .iter()
                .position(|s| s.id == c.store_id)
                .unwrap_or(store_idx),
            None => store_idx,
        };
        let draw = Draw {
            guest: spec.guest,
            unmapped: spec.unmapped_sku,
            not_in_erp: spec.not_in_erp,
        };
        let mut rng = self.additions.clone();
        let order = self.build_order(
            &mut rng,
            store_idx,
            now,
            draw,
            spec.customer_id,
            spec.skus.as_deref(),
        );
        self.additions = rng;
        let id = order.entity_id;
        self.orders.insert(
            id,
            OrderRec {
                order,
                rendered: Rendered::new(Value::Null),
            },
        );
        if spec.invoice {
            self.attach_invoice(id, now, true);
        }
        self.refresh_order(id);
        Ok(id)
    }

    /// `POST /__sim/orders/{id}/touch`: an edit that moves `updated_at` (optionally a new status).
    pub(crate) fn touch_order(
        &mut self,
        id: i64,
        now: i64,
        status: Option<&str>,
        comment: Option<&str>,
    ) -> bool {
        let Some(mut rec) = self.orders.remove(&id) else {
            return false;
        };
        if let Some(s) = status {
            rec.order.status = s.to_owned();
        }
        let comment = comment.unwrap_or("Order updated.");
        self.history(&mut rec.order, now, Some(comment), false);
        rec.order.updated_at = now.max(rec.order.updated_at);
        self.orders.insert(id, rec);
        self.refresh_order(id);
        true
    }

    /// `POST /__sim/orders/{id}/invoice`: invoices an order late. Errors say why it cannot be invoiced.
    pub(crate) fn invoice_order(&mut self, id: i64, now: i64) -> Result<i64, String> {
        let rec = self
            .orders
            .get(&id)
            .ok_or_else(|| format!("order {id} does not exist"))?;
        if rec.order.invoice_id.is_some() {
            return Err(format!("order {id} is already invoiced"));
        }
        if rec.order.state == OrderState::Canceled {
            return Err(format!("order {id} is canceled"));
        }
        let invoice_id = self
            .attach_invoice(id, now, true)
            .ok_or_else(|| format!("order {id} does not exist"))?;
        self.refresh_order(id);
        Ok(invoice_id)
    }

    /// `POST /__sim/orders/{id}/refund`: refunds an invoiced order in full with a credit memo at
    /// `now`. Errors say why it cannot be refunded.
    pub(crate) fn refund_order(&mut self, id: i64, now: i64) -> Result<i64, String> {
        let rec = self
            .orders
            .get(&id)
            .ok_or_else(|| format!("order {id} does not exist"))?;
        if rec.order.invoice_id.is_none() {
            return Err(format!("order {id} is not invoiced"));
        }
        if rec.order.creditmemo_id.is_some() {
            return Err(format!("order {id} is already refunded"));
        }
        self.attach_creditmemo(id, now);
        let mut rec = self
            .orders
            .remove(&id)
            .ok_or_else(|| format!("order {id} does not exist"))?;
        rec.order.state = OrderState::Closed;
        rec.order.status = "closed".into();
        let comment = "We refunded the order online.";
        self.history(&mut rec.order, now, Some(comment), true);
        rec.order.updated_at = now.max(rec.order.updated_at);
        let memo_id = rec.order.creditmemo_id.unwrap_or_default();
        self.orders.insert(id, rec);
        self.refresh_order(id);
        Ok(memo_id)
    }
}

/// Why a customer update was refused, as Commerce words it.
#[derive(Debug)]
pub(crate) struct InputError {
    pub message: &'static str,
    pub parameters: Value,
}

impl Dataset {
    /// `PUT /V1/customers/{id}` with `{"customer": {...}}`: scalar fields replaced, addresses replaced when
    /// sent, custom attributes merged by code (unknown codes dropped), `updated_at` bumped.
    pub(crate) fn update_customer(
        &mut self,
        id: i64,
        body: &Value,
        now: i64,
    ) -> Result<Option<Value>, InputError> {
        let required = |field: &str| InputError {
            message: "\"%fieldName\" is required. Enter and try again.",
            parameters: json!({"fieldName": field}),
        };
        let input = body
            .get("customer")
            .and_then(Value::as_object)
            .ok_or_else(|| required("customer"))?;
        for field in ["email", "firstname", "lastname"] {
            if input
                .get(field)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return Err(required(field));
            }
        }
        let Some(website_id) = self.customers.get(&id).map(|c| c.website_id) else {
            return Ok(None);
        };
        let email = input
            .get("email")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_lowercase();
        let taken = self
            .customers
            .values()
            .any(|c| c.id != id && c.website_id == website_id && c.email().to_lowercase() == email);
        if taken {
            return Err(InputError {
                message: "A customer with the same email address already exists in an associated website.",
                parameters: Value::Null,
            });
        }
        let Some(rec) = self.customers.get_mut(&id) else {
            return Ok(None);
        };
        let mut current = match rec.rendered.value.clone() {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        for (key, value) in input {
            match key.as_str() {
                "id" | "created_at" | "updated_at" | "created_in" => {}
                "custom_attributes" => {
                    let mut attrs: Vec<Value> = current
                        .get("custom_attributes")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    for attr in value.as_array().into_iter().flatten() {
                        let Some(code) = attr.get("attribute_code").and_then(Value::as_str) else {
                            continue;
                        };
                        if !CUSTOMER_ATTRIBUTES.contains(&code) {
                            continue;
                        }
                        let new = json!({"attribute_code": code, "value": attr.get("value").cloned().unwrap_or(Value::Null)});
                        match attrs
                            .iter_mut()
                            .find(|a| a.get("attribute_code").and_then(Value::as_str) == Some(code))
                        {
                            Some(slot) => *slot = new,
                            None => attrs.push(new),
                        }
                    }
                    if !attrs.is_empty() {
                        current.insert("custom_attributes".into(), Value::Array(attrs));
                    }
                }
                "extension_attributes" => {
                    if let (Some(Value::Object(cur)), Some(new)) =
                        (current.get_mut("extension_attributes"), value.as_object())
                    {
                        for (k, v) in new {
                            cur.insert(k.clone(), v.clone());
                        }
                    }
                }
                _ => {
                    current.insert(key.clone(), value.clone());
                }
            }
        }
        current.insert("updated_at".into(), json!(format_ts(now)));
        rec.rendered = Rendered::new(Value::Object(current));
        Ok(Some(rec.rendered.value.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(seed: u64) -> GenConfig {
        GenConfig {
            seed,
            orders: 300,
            guest_share: 0.2,
            unmapped_sku_share: 0.05,
            not_in_erp_share: 0.1,
            invoiced_share: 0.8,
        }
    }

    #[test]
    fn totals_add_up_to_the_cent() {
        let ds = Dataset::generate(&cfg(3));
        for rec in ds.orders.values() {
            let v = &rec.rendered.value;
            let f = |k: &str| {
                v.get(k)
                    .map(|x| x.to_string().parse::<Decimal>().unwrap_or_default())
                    .unwrap_or_default()
            };
            assert_eq!(
                f("grand_total"),
                f("subtotal") + f("shipping_amount") + f("tax_amount") + f("discount_amount")
            );
            assert_eq!(
                f("base_grand_total"),
                f("base_subtotal")
                    + f("base_shipping_amount")
                    + f("base_tax_amount")
                    + f("base_discount_amount")
            );
            let items = v
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let row_sum: Decimal = items
                .iter()
                .map(|i| {
                    i.get("row_total")
                        .map(|x| x.to_string().parse::<Decimal>().unwrap_or_default())
                        .unwrap_or_default()
                })
                .sum();
            assert_eq!(row_sum, f("subtotal"));
        }
    }

    #[test]
    fn invoices_come_after_their_orders() {
        let ds = Dataset::generate(&cfg(5));
        assert!(!ds.invoices.is_empty());
        for inv in ds.invoices.values() {
            let order = &ds.orders[&inv.doc.order_id].order;
            assert!(inv.doc.created_at > order.created_at);
            assert!(order.updated_at >= inv.doc.created_at);
        }
    }
}
