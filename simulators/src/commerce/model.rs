//! The simulated shop's records (orders, invoices, credit memos, customers) and how they are rendered
//! as Commerce REST JSON. Money is computed in `Decimal` exactly as Commerce stores it (two decimals,
//! rounded half away from zero, tax rounded per row with a running delta so rows add up to the order
//! total) and is only turned into JSON numbers at the edge, the way Commerce's REST layer casts floats.

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Map, Value, json};

use super::clock::format_ts;
use super::stores::{Product, ProductType, StoreView};

/// Rounds money the way PHP's `round()` does.
pub(crate) fn r2(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// A money or quantity value as a JSON number: whole values print as integers (`165`), others with
/// their decimals (`19.99`), as Commerce's float casting does.
pub(crate) fn num(d: Decimal) -> Value {
    let d = d.normalize();
    if d.scale() == 0
        && let Ok(i) = i64::try_from(d)
    {
        return Value::from(i);
    }
    d.to_string()
        .parse::<f64>()
        .map_or(Value::Null, Value::from)
}

/// A postal address as the generator keeps it; rendered as an order address or a customer address.
#[derive(Clone, Debug)]
pub(crate) struct Address {
    pub id: i64,
    pub firstname: String,
    pub lastname: String,
    pub company: Option<String>,
    pub street: Vec<String>,
    pub city: String,
    pub region: String,
    pub region_code: String,
    pub region_id: i64,
    pub postcode: String,
    pub country_id: String,
    pub telephone: String,
}

impl Address {
    pub(crate) fn customer_json(&self, customer_id: i64, default: bool) -> Value {
        let mut v = json!({
            "id": self.id,
            "customer_id": customer_id,
            "region": {"region_code": self.region_code, "region": self.region, "region_id": self.region_id},
            "region_id": self.region_id,
            "country_id": self.country_id,
            "street": self.street,
            "telephone": self.telephone,
            "postcode": self.postcode,
            "city": self.city,
            "firstname": self.firstname,
            "lastname": self.lastname,
            "default_shipping": default,
            "default_billing": default,
        });
        if let (Some(c), Some(m)) = (&self.company, v.as_object_mut()) {
            m.insert("company".into(), json!(c));
        }
        v
    }

    fn order_json(
        &self,
        kind: &str,
        entity_id: i64,
        order_id: i64,
        email: &str,
        customer_address_id: Option<i64>,
    ) -> Value {
        let mut v = json!({
            "address_type": kind,
            "city": self.city,
            "country_id": self.country_id,
            "email": email,
            "entity_id": entity_id,
            "firstname": self.firstname,
            "lastname": self.lastname,
            "parent_id": order_id,
            "postcode": self.postcode,
            "region": self.region,
            "region_code": self.region_code,
            "region_id": self.region_id,
            "street": self.street,
            "telephone": self.telephone,
        });
        if let Some(m) = v.as_object_mut() {
            if let Some(c) = &self.company {
                m.insert("company".into(), json!(c));
            }
            if let Some(id) = customer_address_id {
                m.insert("customer_address_id".into(), json!(id));
            }
        }
        v
    }
}

/// Who placed an order.
#[derive(Clone, Debug)]
pub(crate) enum Buyer {
    Registered {
        id: i64,
        group_id: i64,
        address_id: i64,
    },
    Guest,
}

/// One order line. Amounts are per line in both currencies; configurable children and bundle parents
/// carry zeros (the money sits on the configurable parent and on the bundle children, as in Commerce).
#[derive(Clone, Debug)]
pub(crate) struct Line {
    pub item_id: i64,
    pub parent: Option<usize>,
    pub product_id: i64,
    pub sku: String,
    pub name: String,
    pub product_type: ProductType,
    pub qty: Decimal,
    pub weight: Decimal,
    pub tax_percent: Decimal,
    pub discount_percent: Decimal,
    pub base: LineMoney,
    pub order: LineMoney,
    pub product_option: Option<Value>,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LineMoney {
    pub price: Decimal,
    pub original_price: Decimal,
    pub row_total: Decimal,
    pub tax: Decimal,
    pub discount: Decimal,
}

impl LineMoney {
    fn convert(&self, rate: Decimal) -> Self {
        Self {
            price: r2(self.price * rate),
            original_price: r2(self.original_price * rate),
            row_total: r2(self.row_total * rate),
            tax: r2(self.tax * rate),
            discount: r2(self.discount * rate),
        }
    }
}

/// Order totals in one currency. `discount` is positive here; Commerce renders it negative.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Totals {
    pub subtotal: Decimal,
    pub discount: Decimal,
    pub shipping: Decimal,
    pub shipping_tax: Decimal,
    pub item_tax: Decimal,
}

impl Totals {
    pub(crate) fn tax(&self) -> Decimal {
        self.item_tax + self.shipping_tax
    }
    pub(crate) fn grand(&self) -> Decimal {
        self.subtotal - self.discount + self.shipping + self.tax()
    }
}

/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OrderState {
    New,
    Processing,
    Complete,
    Closed,
    Canceled,
}

impl OrderState {
    fn state(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Processing => "processing",
            Self::Complete => "complete",
            Self::Closed => "closed",
            Self::Canceled => "canceled",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct History {
    pub entity_id: i64,
    pub created_at: i64,
    pub comment: Option<String>,
    pub status: String,
    pub notified: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Order {
    pub entity_id: i64,
    pub increment_id: String,
    pub store: StoreView,
    pub buyer: Buyer,
    pub email: String,
    pub firstname: String,
    pub lastname: String,
    pub billing: Address,
    pub shipping: Address,
    pub billing_address_id: i64,
    pub shipping_address_id: i64,
    pub payment_id: i64,
    pub order_currency: String,
    pub base_to_order: Decimal,
    pub coupon: Option<String>,
    pub shipping_method: (&'static str, &'static str),
    pub payment_method: (&'static str, &'static str),
    pub lines: Vec<Line>,
    pub base_totals: Totals,
    pub totals: Totals,
    pub created_at: i64,
    pub updated_at: i64,
    pub state: OrderState,
    pub status: String,
    pub histories: Vec<History>,
    pub invoice_id: Option<i64>,
    pub creditmemo_id: Option<i64>,
    pub shipped: bool,
    pub quote_id: i64,
    pub remote_ip: String,
    pub protect_code: String,
}

/// Builds one line's money in the base currency. Tax is rounded with a running delta across the order's
/// rows (Commerce's default "total" based calculation), so the row taxes sum exactly to the order tax.
pub(crate) fn price_line(
    unit_price: Decimal,
    qty: Decimal,
    tax_percent: Decimal,
    discount_percent: Decimal,
    tax_delta: &mut Decimal,
) -> LineMoney {
    let row_total = r2(unit_price * qty);
    let discount = r2(row_total * discount_percent / Decimal::ONE_HUNDRED);
    let raw_tax = (row_total - discount) * tax_percent / Decimal::ONE_HUNDRED + *tax_delta;
    let tax = r2(raw_tax);
    *tax_delta = raw_tax - tax;
    LineMoney {
        price: unit_price,
        original_price: unit_price,
        row_total,
        tax,
        discount,
    }
}

impl Order {
    /// Fills the order-currency amounts and both totals from the base-currency lines.
    pub(crate) fn finish_money(&mut self, base_shipping: Decimal) {
        let rate = self.base_to_order;
        let mut base = Totals {
            shipping: base_shipping,
            ..Totals::default()
        };
        let mut order = Totals {
            shipping: r2(base_shipping * rate),
            ..Totals::default()
        };
        for line in &mut self.lines {
            line.order = line.base.convert(rate);
            base.subtotal += line.base.row_total;
            base.discount += line.base.discount;
            base.item_tax += line.base.tax;
            order.subtotal += line.order.row_total;
            order.discount += line.order.discount;
            order.item_tax += line.order.tax;
        }
        if self.store.tax_shipping {
            base.shipping_tax = r2(base.shipping * self.store.tax_percent / Decimal::ONE_HUNDRED);
            order.shipping_tax = r2(order.shipping * self.store.tax_percent / Decimal::ONE_HUNDRED);
        }
        self.base_totals = base;
        self.totals = order;
    }

    fn invoiced(&self) -> bool {
        self.invoice_id.is_some()
    }

    fn refunded(&self) -> bool {
        self.creditmemo_id.is_some()
    }

    fn canceled(&self) -> bool {
        self.state == OrderState::Canceled
    }

    fn line_json(&self, line: &Line, with_parent: bool) -> Value {
        let ts = format_ts(self.created_at);
        let qty = line.qty;
        let q = |flag: bool| if flag { num(qty) } else { json!(0) };
        let (b, o) = (&line.base, &line.order);
        let incl = |m: &LineMoney| {
            if qty.is_zero() {
                Decimal::ZERO
            } else {
                r2((m.row_total + m.tax) / qty)
            }
        };
        let inv = self.invoiced();
        let refunded = self.refunded();
        let mut v = json!({
            "amount_refunded": if refunded { num(o.row_total) } else { json!(0) },
            "base_amount_refunded": if refunded { num(b.row_total) } else { json!(0) },
            "base_discount_amount": num(b.discount),
            "base_discount_invoiced": if inv { num(b.discount) } else { json!(0) },
            "base_discount_tax_compensation_amount": 0,
            "base_original_price": num(b.original_price),
            "base_price": num(b.price),
            "base_price_incl_tax": num(incl(b)),
            "base_row_invoiced": if inv { num(b.row_total) } else { json!(0) },
            "base_row_total": num(b.row_total),
            "base_row_total_incl_tax": num(b.row_total + b.tax),
            "base_tax_amount": num(b.tax),
            "base_tax_invoiced": if inv { num(b.tax) } else { json!(0) },
            "created_at": ts,
            "discount_amount": num(o.discount),
            "discount_invoiced": if inv { num(o.discount) } else { json!(0) },
            "discount_percent": num(line.discount_percent),
            "free_shipping": 0,
            "discount_tax_compensation_amount": 0,
            "is_qty_decimal": 0,
            "is_virtual": 0,
            "item_id": line.item_id,
            "name": line.name,
            "no_discount": 0,
            "order_id": self.entity_id,
            "original_price": num(o.original_price),
            "price": num(o.price),
            "price_incl_tax": num(incl(o)),
            "product_id": line.product_id,
            "product_type": line.product_type.as_str(),
            "qty_canceled": q(self.canceled()),
            "qty_invoiced": q(inv),
            "qty_ordered": num(qty),
            "qty_refunded": q(refunded),
            "qty_shipped": q(self.shipped),
            "quote_item_id": line.item_id + 100_000,
            "row_invoiced": if inv { num(o.row_total) } else { json!(0) },
            "row_total": num(o.row_total),
            "row_total_incl_tax": num(o.row_total + o.tax),
            "row_weight": num(line.weight * qty),
            "sku": line.sku,
            "store_id": self.store.id,
            "tax_amount": num(o.tax),
            "tax_invoiced": if inv { num(o.tax) } else { json!(0) },
            "tax_percent": num(line.tax_percent),
            "updated_at": format_ts(self.updated_at),
            "weight": num(line.weight),
        });
        if let Some(m) = v.as_object_mut() {
            if let Some(opt) = &line.product_option {
                m.insert("product_option".into(), opt.clone());
            }
            if let Some(p) = line.parent {
                let parent = &self.lines[p];
                m.insert("parent_item_id".into(), json!(parent.item_id));
                if with_parent {
                    m.insert("parent_item".into(), self.line_json(parent, false));
                }
            }
        }
        v
    }

    /// The full `sales-data-order-interface` JSON.
    pub(crate) fn render(&self) -> Value {
        let (b, o) = (&self.base_totals, &self.totals);
        let inv = self.invoiced();
        let refunded = self.refunded();
        let canceled = self.canceled();
        let items: Vec<Value> = self.lines.iter().map(|l| self.line_json(l, true)).collect();
        let top_level = self.lines.iter().filter(|l| l.parent.is_none());
        let total_qty: Decimal = top_level.clone().map(|l| l.qty).sum();
        let weight: Decimal = self
            .lines
            .iter()
            .filter(|l| l.parent.is_none())
            .map(|l| l.weight * l.qty)
            .sum();
        let zero_unless = |flag: bool, d: Decimal| if flag { num(d) } else { json!(0) };
        let customer_address_id = match self.buyer {
            Buyer::Registered { address_id, .. } => Some(address_id),
            Buyer::Guest => None,
        };
        let billing = self.billing.order_json(
            "billing",
            self.billing_address_id,
            self.entity_id,
            &self.email,
            customer_address_id,
        );
        let shipping = self.shipping.order_json(
            "shipping",
            self.shipping_address_id,
            self.entity_id,
            &self.email,
            customer_address_id,
        );
        let mut sorted: Vec<&History> = self.histories.iter().collect();
        sorted.sort_by_key(|h| std::cmp::Reverse((h.created_at, h.entity_id)));
        let histories: Vec<Value> = sorted
            .into_iter()
            .map(|h| {
                json!({
                    "comment": h.comment,
                    "created_at": format_ts(h.created_at),
                    "entity_id": h.entity_id,
                    "entity_name": if h.comment.as_deref().is_some_and(|c| c.starts_with("Invoice")) { "invoice" } else { "order" },
                    "is_customer_notified": if h.notified { json!(1) } else { json!(0) },
                    "is_visible_on_front": 0,
                    "parent_id": self.entity_id,
                    "status": h.status,
                })
            })
            .collect();
        let mut payment = json!({
            "account_status": null,
            "additional_information": [self.payment_method.1],
            "amount_ordered": num(o.grand()),
            "base_amount_ordered": num(b.grand()),
            "base_shipping_amount": num(b.shipping),
            "cc_last4": null,
            "entity_id": self.payment_id,
            "method": self.payment_method.0,
            "parent_id": self.entity_id,
            "shipping_amount": num(o.shipping),
        });
        if inv && let Some(m) = payment.as_object_mut() {
            m.insert("amount_paid".into(), num(o.grand()));
            m.insert("base_amount_paid".into(), num(b.grand()));
            m.insert("base_amount_paid_online".into(), num(b.grand()));
            if self.payment_method.0 == "braintree" {
                m.insert(
                    "last_trans_id".into(),
                    json!(format!("txn{}", self.entity_id * 7919)),
                );
            }
        }
        if self.payment_method.0 == "purchaseorder"
            && let Some(m) = payment.as_object_mut()
        {
            m.insert(
                "po_number".into(),
                json!(format!("PO-{}", 40_000 + self.entity_id)),
            );
        }
        let mut v = json!({
            "applied_rule_ids": if self.coupon.is_some() { json!("2") } else { json!("") },
            "base_currency_code": self.store.base_currency,
            "base_discount_amount": num(-b.discount),
            "base_discount_invoiced": zero_unless(inv, -b.discount),
            "base_grand_total": num(b.grand()),
            "base_discount_tax_compensation_amount": 0,
            "base_shipping_amount": num(b.shipping),
            "base_shipping_discount_amount": 0,
            "base_shipping_discount_tax_compensation_amnt": 0,
            "base_shipping_incl_tax": num(b.shipping + b.shipping_tax),
            "base_shipping_invoiced": zero_unless(inv, b.shipping),
            "base_shipping_tax_amount": num(b.shipping_tax),
            "base_subtotal": num(b.subtotal),
            "base_subtotal_incl_tax": num(b.subtotal + b.item_tax),
            "base_subtotal_invoiced": zero_unless(inv, b.subtotal),
            "base_tax_amount": num(b.tax()),
            "base_tax_invoiced": zero_unless(inv, b.tax()),
            "base_total_due": if inv || canceled { json!(0) } else { num(b.grand()) },
            "base_total_invoiced": zero_unless(inv, b.grand()),
            "base_total_paid": zero_unless(inv, b.grand()),
            "base_to_global_rate": num(self.store.base_to_global),
            "base_to_order_rate": num(self.base_to_order),
            "billing_address_id": self.billing_address_id,
            "created_at": format_ts(self.created_at),
            "customer_email": self.email,
            "customer_firstname": self.firstname,
            "customer_lastname": self.lastname,
            "customer_group_id": match self.buyer { Buyer::Registered { group_id, .. } => group_id, Buyer::Guest => 0 },
            "customer_is_guest": match self.buyer { Buyer::Registered { .. } => 0, Buyer::Guest => 1 },
            "customer_note_notify": 1,
            "discount_amount": num(-o.discount),
            "discount_invoiced": zero_unless(inv, -o.discount),
            "email_sent": 1,
            "entity_id": self.entity_id,
            "global_currency_code": "USD",
            "grand_total": num(o.grand()),
            "discount_tax_compensation_amount": 0,
            "increment_id": self.increment_id,
            "is_virtual": 0,
            "order_currency_code": self.order_currency,
            "protect_code": self.protect_code,
            "quote_id": self.quote_id,
            "remote_ip": self.remote_ip,
            "shipping_amount": num(o.shipping),
            "shipping_description": self.shipping_method.1,
            "shipping_discount_amount": 0,
            "shipping_discount_tax_compensation_amount": 0,
            "shipping_incl_tax": num(o.shipping + o.shipping_tax),
            "shipping_invoiced": zero_unless(inv, o.shipping),
            "shipping_tax_amount": num(o.shipping_tax),
            "state": self.state.state(),
            "status": self.status,
            "store_currency_code": self.store.base_currency,
            "store_id": self.store.id,
            "store_name": self.store.name,
            "store_to_base_rate": 0,
            "store_to_order_rate": 0,
            "subtotal": num(o.subtotal),
            "subtotal_incl_tax": num(o.subtotal + o.item_tax),
            "subtotal_invoiced": zero_unless(inv, o.subtotal),
            "tax_amount": num(o.tax()),
            "tax_invoiced": zero_unless(inv, o.tax()),
            "total_due": if inv || canceled { json!(0) } else { num(o.grand()) },
            "total_invoiced": zero_unless(inv, o.grand()),
            "total_item_count": self.lines.len(),
            "total_paid": zero_unless(inv, o.grand()),
            "total_qty_ordered": num(total_qty),
            "updated_at": format_ts(self.updated_at),
            "weight": num(weight),
            "items": items.clone(),
            "billing_address": billing,
            "payment": payment,
            "status_histories": histories,
            "extension_attributes": {
                "shipping_assignments": [{
                    "shipping": {
                        "address": shipping,
                        "method": self.shipping_method.0,
                        "total": {
                            "base_shipping_amount": num(b.shipping),
                            "base_shipping_incl_tax": num(b.shipping + b.shipping_tax),
                            "base_shipping_tax_amount": num(b.shipping_tax),
                            "shipping_amount": num(o.shipping),
                            "shipping_incl_tax": num(o.shipping + o.shipping_tax),
                            "shipping_tax_amount": num(o.shipping_tax),
                            "shipping_discount_amount": 0,
                        }
                    },
                    "items": items,
                }],
                "payment_additional_info": [{"key": "method_title", "value": self.payment_method.1}],
                "applied_taxes": if o.tax().is_zero() { json!([]) } else { json!([{
                    "code": format!("TAX-{}", self.store.code.to_uppercase()),
                    "title": format!("Tax {}", self.store.code),
                    "percent": num(self.store.tax_percent),
                    "amount": num(o.tax()),
                    "base_amount": num(b.tax()),
                }]) },
                "converting_from_quote": false,
            },
        });
        if let Some(m) = v.as_object_mut() {
            if let Buyer::Registered { id, .. } = self.buyer {
                m.insert("customer_id".into(), json!(id));
            }
            if let Some(code) = &self.coupon {
                m.insert("coupon_code".into(), json!(code));
                m.insert("discount_description".into(), json!(code));
            }
            if refunded {
                for (k, val) in [
                    ("total_refunded", o.grand()),
                    ("base_total_refunded", b.grand()),
                    ("total_offline_refunded", o.grand()),
                    ("base_total_offline_refunded", b.grand()),
                    ("subtotal_refunded", o.subtotal),
                    ("base_subtotal_refunded", b.subtotal),
                    ("tax_refunded", o.tax()),
                    ("base_tax_refunded", b.tax()),
                    ("shipping_refunded", o.shipping),
                    ("base_shipping_refunded", b.shipping),
                    ("discount_refunded", o.discount),
                    ("base_discount_refunded", b.discount),
                ] {
                    m.insert(k.into(), num(val));
                }
            }
            if canceled {
                for (k, val) in [
                    ("total_canceled", o.grand()),
                    ("base_total_canceled", b.grand()),
                    ("subtotal_canceled", o.subtotal),
                    ("base_subtotal_canceled", b.subtotal),
                    ("tax_canceled", o.tax()),
                    ("base_tax_canceled", b.tax()),
                    ("shipping_canceled", o.shipping),
                    ("base_shipping_canceled", b.shipping),
                    ("discount_canceled", o.discount),
                    ("base_discount_canceled", b.discount),
                ] {
                    m.insert(k.into(), num(val));
                }
            }
        }
        v
    }

    fn document_items(&self, doc_id: i64, first_item_id: i64) -> Vec<Value> {
        self.lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let (b, o) = (&line.base, &line.order);
                let entity_id = first_item_id + i64::try_from(i).unwrap_or(0);
                let mut v = json!({
                    "entity_id": entity_id,
                    "name": line.name,
                    "parent_id": doc_id,
                    "product_id": line.product_id,
                    "sku": line.sku,
                    "order_item_id": line.item_id,
                    "qty": num(line.qty),
                });
                // A bundle parent's totals live on its children; Commerce leaves them off the parent line.
                if line.product_type != ProductType::Bundle {
                    let incl = |m: &LineMoney| {
                        if line.qty.is_zero() {
                            Decimal::ZERO
                        } else {
                            r2((m.row_total + m.tax) / line.qty)
                        }
                    };
                    if let Some(m) = v.as_object_mut() {
                        for (k, val) in [
                            ("base_discount_amount", b.discount),
                            ("base_price", b.price),
                            ("base_price_incl_tax", incl(b)),
                            ("base_row_total", b.row_total),
                            ("base_row_total_incl_tax", b.row_total + b.tax),
                            ("base_tax_amount", b.tax),
                            ("discount_amount", o.discount),
                            ("price", o.price),
                            ("price_incl_tax", incl(o)),
                            ("row_total", o.row_total),
                            ("row_total_incl_tax", o.row_total + o.tax),
                            ("tax_amount", o.tax),
                        ] {
                            m.insert(k.into(), num(val));
                        }
                        m.insert("base_discount_tax_compensation_amount".into(), json!(0));
                        m.insert("discount_tax_compensation_amount".into(), json!(0));
                    }
                }
                v
            })
            .collect()
    }

    fn document_totals(&self) -> Map<String, Value> {
        let (b, o) = (&self.base_totals, &self.totals);
        let v = json!({
            "base_currency_code": self.store.base_currency,
            "base_discount_amount": num(-b.discount),
            "base_grand_total": num(b.grand()),
            "base_discount_tax_compensation_amount": 0,
            "base_shipping_amount": num(b.shipping),
            "base_shipping_incl_tax": num(b.shipping + b.shipping_tax),
            "base_shipping_tax_amount": num(b.shipping_tax),
            "base_subtotal": num(b.subtotal),
            "base_subtotal_incl_tax": num(b.subtotal + b.item_tax),
            "base_tax_amount": num(b.tax()),
            "base_to_global_rate": num(self.store.base_to_global),
            "base_to_order_rate": num(self.base_to_order),
            "billing_address_id": self.billing_address_id,
            "discount_amount": num(-o.discount),
            "email_sent": 1,
            "global_currency_code": "USD",
            "grand_total": num(o.grand()),
            "discount_tax_compensation_amount": 0,
            "order_currency_code": self.order_currency,
            "order_id": self.entity_id,
            "shipping_address_id": self.shipping_address_id,
            "shipping_amount": num(o.shipping),
            "shipping_discount_tax_compensation_amount": 0,
            "shipping_incl_tax": num(o.shipping + o.shipping_tax),
            "shipping_tax_amount": num(o.shipping_tax),
            "store_currency_code": self.store.base_currency,
            "store_id": self.store.id,
            "store_to_base_rate": 0,
            "store_to_order_rate": 0,
            "subtotal": num(o.subtotal),
            "subtotal_incl_tax": num(o.subtotal + o.item_tax),
            "tax_amount": num(o.tax()),
        });
        let mut m = match v {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        if let Some(code) = &self.coupon {
            m.insert("discount_description".into(), json!(code));
        }
        m
    }
}

/// A full invoice of one order (this shop always invoices everything at once).
#[derive(Clone, Debug)]
pub(crate) struct Invoice {
    pub entity_id: i64,
    pub increment_id: String,
    pub order_id: i64,
    pub first_item_id: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Invoice {
    pub(crate) fn render(&self, order: &Order) -> Value {
        let mut m = order.document_totals();
        let total_qty: Decimal = order
            .lines
            .iter()
            .filter(|l| l.parent.is_none())
            .map(|l| l.qty)
            .sum();
        for (k, v) in [
            ("order_id", json!(self.order_id)),
            ("can_void_flag", json!(0)),
            ("created_at", json!(format_ts(self.created_at))),
            ("entity_id", json!(self.entity_id)),
            ("increment_id", json!(self.increment_id)),
            (
                "is_used_for_refund",
                json!(if order.creditmemo_id.is_some() { 1 } else { 0 }),
            ),
            ("state", json!(2)),
            ("total_qty", num(total_qty)),
            ("updated_at", json!(format_ts(self.updated_at))),
            (
                "items",
                json!(order.document_items(self.entity_id, self.first_item_id)),
            ),
            ("comments", json!([])),
        ] {
            m.insert(k.into(), v);
        }
        if order.payment_method.0 == "braintree" {
            m.insert(
                "transaction_id".into(),
                json!(format!("txn{}", order.entity_id * 7919)),
            );
        }
        if order.creditmemo_id.is_some() {
            m.insert("base_total_refunded".into(), num(order.base_totals.grand()));
        }
        Value::Object(m)
    }
}

/// A full refund of an invoiced order.
#[derive(Clone, Debug)]
pub(crate) struct CreditMemo {
    pub entity_id: i64,
    pub increment_id: String,
    pub order_id: i64,
    pub invoice_id: i64,
    pub first_item_id: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl CreditMemo {
    pub(crate) fn render(&self, order: &Order) -> Value {
        let mut m = order.document_totals();
        for (k, v) in [
            ("order_id", json!(self.order_id)),
            ("adjustment", json!(0)),
            ("adjustment_negative", json!(0)),
            ("adjustment_positive", json!(0)),
            ("base_adjustment", json!(0)),
            ("base_adjustment_negative", json!(0)),
            ("base_adjustment_positive", json!(0)),
            ("created_at", json!(format_ts(self.created_at))),
            ("creditmemo_status", json!(2)),
            ("entity_id", json!(self.entity_id)),
            ("increment_id", json!(self.increment_id)),
            ("invoice_id", json!(self.invoice_id)),
            ("state", json!(2)),
            ("updated_at", json!(format_ts(self.updated_at))),
            (
                "items",
                json!(order.document_items(self.entity_id, self.first_item_id)),
            ),
            ("comments", json!([])),
        ] {
            m.insert(k.into(), v);
        }
        Value::Object(m)
    }
}

/// The catalogue product as `catalog-data-product-interface`.
pub(crate) fn render_product(p: &Product, catalogue: &[Product], created_at: i64) -> Value {
    let mut ext = json!({
        "website_ids": [1, 2, 3],
        "category_links": [{"position": 0, "category_id": p.category_id}],
    });
    let mut custom = vec![
        json!({"attribute_code": "description", "value": format!("<p>{}</p>", p.name)}),
        json!({"attribute_code": "category_ids", "value": [p.category_id]}),
        json!({"attribute_code": "tax_class_id", "value": "2"}),
        json!({"attribute_code": "url_key", "value": p.sku.to_lowercase()}),
    ];
    if let Some((color, size)) = p.variant_options {
        custom.push(json!({"attribute_code": "color", "value": color.to_string()}));
        custom.push(json!({"attribute_code": "size", "value": size.to_string()}));
    }
    if let Some(m) = ext.as_object_mut() {
        match p.type_id {
            ProductType::Configurable => {
                m.insert("configurable_product_links".into(), json!(p.children));
                m.insert(
                    "configurable_product_options".into(),
                    json!([
                        {"id": p.id * 10, "attribute_id": "93", "label": "Color", "position": 0, "product_id": p.id},
                        {"id": p.id * 10 + 1, "attribute_id": "144", "label": "Size", "position": 1, "product_id": p.id},
                    ]),
                );
            }
            ProductType::Bundle => {
                let links: Vec<Value> = p
                    .children
                    .iter()
                    .filter_map(|id| catalogue.iter().find(|c| c.id == *id))
                    .enumerate()
                    .map(|(i, c)| {
                        json!({
                            "id": p.id * 100 + i64::try_from(i).unwrap_or(0),
                            "sku": c.sku, "option_id": i + 1, "qty": 1, "position": i,
                            "is_default": true, "price": num(c.price), "price_type": 0, "can_change_quantity": 0,
                        })
                    })
                    .collect();
                let options: Vec<Value> = links
                    .iter()
                    .enumerate()
                    .map(|(i, l)| {
                        json!({"option_id": i + 1, "title": format!("Part {}", i + 1), "required": true,
                               "type": "select", "position": i, "sku": p.sku, "product_links": [l]})
                    })
                    .collect();
                m.insert("bundle_product_options".into(), json!(options));
            }
            ProductType::Simple => {}
        }
    }
    let mut v = json!({
        "id": p.id,
        "sku": p.sku,
        "name": p.name,
        "attribute_set_id": 4,
        "price": num(p.price),
        "status": 1,
        "visibility": p.visibility,
        "type_id": p.type_id.as_str(),
        "created_at": format_ts(created_at),
        "updated_at": format_ts(created_at),
        "extension_attributes": ext,
        "product_links": [],
        "options": [],
        "media_gallery_entries": [],
        "tier_prices": [],
        "custom_attributes": custom,
    });
    if p.type_id != ProductType::Bundle
        && let Some(m) = v.as_object_mut()
    {
        m.insert("weight".into(), num(p.weight));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_render_as_integers() {
        assert_eq!(num(Decimal::new(16500, 2)).to_string(), "165");
        assert_eq!(num(Decimal::new(1999, 2)).to_string(), "19.99");
        assert_eq!(num(Decimal::new(-50, 1)).to_string(), "-5");
    }

    #[test]
    fn row_taxes_add_up_with_delta_rounding() {
        let mut delta = Decimal::ZERO;
        let rate = Decimal::new(825, 2);
        let rows: Vec<LineMoney> = [
            Decimal::new(945, 2),
            Decimal::new(945, 2),
            Decimal::new(945, 2),
        ]
        .into_iter()
        .map(|p| price_line(p, Decimal::ONE, rate, Decimal::ZERO, &mut delta))
        .collect();
        let sum: Decimal = rows.iter().map(|r| r.tax).sum();
        assert_eq!(sum, r2(Decimal::new(2835, 2) * rate / Decimal::ONE_HUNDRED));
    }
}
