//! Invoices and their lines.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::enums::InvoiceState;
use super::ids::{
    InvoiceId, InvoiceItemId, OrderAddressId, OrderId, OrderItemId, ProductId, StoreId,
};
use super::order::Order;
use super::serde_helpers;

/// An invoice (`sales-data-invoice-interface`), as returned by `GET /V1/invoices/{id}` and each entry of
/// `GET /V1/invoices`.
///
/// Lines carry only `order_item_id`; use [`Invoice::priced_items`] with the order to count each
/// product once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    /// Internal invoice id used in URLs (`/V1/invoices/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<InvoiceId>,
    /// Customer-facing invoice number.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub increment_id: Option<String>,
    /// Order invoiced (schema-required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<OrderId>,
    /// Open, paid or cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<InvoiceState>,
    /// Store view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_id: Option<StoreId>,
    /// Creation time (UTC).
    #[serde(
        default,
        with = "serde_helpers::opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<OffsetDateTime>,
    /// Last change (UTC); the incremental-sync watermark field.
    #[serde(
        default,
        with = "serde_helpers::opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<OffsetDateTime>,
    /// Currency of the `base_*` amounts.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_currency_code: Option<String>,
    /// Currency of the plain amounts.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub order_currency_code: Option<String>,
    /// Global (installation) currency.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub global_currency_code: Option<String>,
    /// Store view display currency.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub store_currency_code: Option<String>,
    /// Rate converting base to order currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_to_order_rate: Option<Decimal>,
    /// Rate converting base to global currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_to_global_rate: Option<Decimal>,
    /// Document total, order currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub grand_total: Option<Decimal>,
    /// `grand_total` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_grand_total: Option<Decimal>,
    /// Sum of line row totals before tax, shipping and discount.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub subtotal: Option<Decimal>,
    /// `subtotal` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_subtotal: Option<Decimal>,
    /// Subtotal including tax.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub subtotal_incl_tax: Option<Decimal>,
    /// `subtotal_incl_tax` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_subtotal_incl_tax: Option<Decimal>,
    /// Total tax (lines and shipping).
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub tax_amount: Option<Decimal>,
    /// `tax_amount` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_tax_amount: Option<Decimal>,
    /// Shipping before tax.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub shipping_amount: Option<Decimal>,
    /// `shipping_amount` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_shipping_amount: Option<Decimal>,
    /// Tax on shipping.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub shipping_tax_amount: Option<Decimal>,
    /// `shipping_tax_amount` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_shipping_tax_amount: Option<Decimal>,
    /// Shipping including tax.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub shipping_incl_tax: Option<Decimal>,
    /// `shipping_incl_tax` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_shipping_incl_tax: Option<Decimal>,
    /// Total discount; negative when a discount applies.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub discount_amount: Option<Decimal>,
    /// `discount_amount` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_discount_amount: Option<Decimal>,
    /// Label of the applied discount.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub discount_description: Option<String>,
    /// Tax hidden in discounts on tax-inclusive prices.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub discount_tax_compensation_amount: Option<Decimal>,
    /// `discount_tax_compensation_amount` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_discount_tax_compensation_amount: Option<Decimal>,
    /// Tax hidden in the shipping discount.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub shipping_discount_tax_compensation_amount: Option<Decimal>,
    /// `shipping_discount_tax_compensation_amount` in base currency (Commerce's spelling).
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_shipping_discount_tax_compensation_amnt: Option<Decimal>,
    /// Amount of this invoice refunded, base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_total_refunded: Option<Decimal>,
    /// Sum of invoiced quantities (schema-required).
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_qty: Option<Decimal>,
    /// Billing address on the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address_id: Option<OrderAddressId>,
    /// Shipping address on the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address_id: Option<OrderAddressId>,
    /// Gateway transaction id of the capture.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<String>,
    /// Whether the capture can still be voided.
    #[serde(
        default,
        with = "serde_helpers::opt_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub can_void_flag: Option<bool>,
    /// Whether the invoice email went out.
    #[serde(
        default,
        with = "serde_helpers::opt_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub email_sent: Option<bool>,
    /// Whether a credit memo has drawn on this invoice.
    #[serde(
        default,
        with = "serde_helpers::opt_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_used_for_refund: Option<bool>,
    /// Invoice lines (schema-required).
    #[serde(default, deserialize_with = "serde_helpers::null_as_default")]
    pub items: Vec<InvoiceItem>,
    /// Comments.
    #[serde(default, deserialize_with = "serde_helpers::null_as_default")]
    pub comments: Vec<SalesComment>,
    /// Module data, kept open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_attributes: Option<serde_json::Value>,
}

/// One invoice line (`sales-data-invoice-item-interface`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceItem {
    /// Id of this line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<InvoiceItemId>,
    /// Invoice the line belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<InvoiceId>,
    /// Order line invoiced (schema-required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_item_id: Option<OrderItemId>,
    /// Catalog product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<ProductId>,
    /// SKU (schema-required).
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub sku: Option<String>,
    /// Product name.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// Quantity (schema-required).
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub qty: Option<Decimal>,
    /// Unit price before tax.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub price: Option<Decimal>,
    /// `price` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_price: Option<Decimal>,
    /// Unit price including tax.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub price_incl_tax: Option<Decimal>,
    /// `price_incl_tax` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_price_incl_tax: Option<Decimal>,
    /// Line total before tax and discount; absent on a dynamic bundle's parent line.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub row_total: Option<Decimal>,
    /// `row_total` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_row_total: Option<Decimal>,
    /// Line total including tax.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub row_total_incl_tax: Option<Decimal>,
    /// `row_total_incl_tax` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_row_total_incl_tax: Option<Decimal>,
    /// Tax on the line.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub tax_amount: Option<Decimal>,
    /// `tax_amount` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_tax_amount: Option<Decimal>,
    /// Discount on the line.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub discount_amount: Option<Decimal>,
    /// `discount_amount` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_discount_amount: Option<Decimal>,
    /// Tax hidden in the discount.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub discount_tax_compensation_amount: Option<Decimal>,
    /// `discount_tax_compensation_amount` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_discount_tax_compensation_amount: Option<Decimal>,
    /// Cost, base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_cost: Option<Decimal>,
    /// Module data, kept open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_attributes: Option<serde_json::Value>,
}

/// A comment on an invoice or credit memo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SalesComment {
    /// Id of the comment.
    #[serde(
        default,
        with = "serde_helpers::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub entity_id: Option<i64>,
    /// Invoice or credit memo the comment belongs to.
    #[serde(
        default,
        with = "serde_helpers::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub parent_id: Option<i64>,
    /// Comment text.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub comment: Option<String>,
    /// Whether the buyer was notified.
    #[serde(
        default,
        with = "serde_helpers::opt_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_customer_notified: Option<bool>,
    /// Whether the buyer can see it.
    #[serde(
        default,
        with = "serde_helpers::opt_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_visible_on_front: Option<bool>,
    /// When it was written (UTC).
    #[serde(
        default,
        with = "serde_helpers::opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<OffsetDateTime>,
}

impl Invoice {
    /// The lines whose amounts make up the invoice totals, each product counted once.
    ///
    /// Invoice lines carry no product type or parent link, so the order they belong to decides (see
    /// [`LineRole`](super::LineRole)). A line whose order line is not in `order` is kept, since no
    /// other line can carry its amounts.
    pub fn priced_items<'a>(&'a self, order: &'a Order) -> impl Iterator<Item = &'a InvoiceItem> {
        self.items.iter().filter(move |line| {
            line.order_item_id
                .and_then(|id| order.role_of(id))
                .is_none_or(|role| role.carries_money())
        })
    }
}
