//! Sales orders and their lines, addresses, payment, history and shipping.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::enums::{AddressType, OrderState, OrderStatus, ProductType};
use super::ids::{
    CustomerAddressId, CustomerId, OrderAddressId, OrderId, OrderItemId, ProductId, StoreId,
};
use super::serde_helpers;

/// A sales order (`sales-data-order-interface`), as returned by `GET /V1/orders/{id}` and each entry
/// of `GET /V1/orders`.
///
/// Every field is optional: Commerce omits fields whose value is null and writes explicit `null` for
/// some it declares required, and a `fields` projection can drop anything. Money is exact
/// [`Decimal`]; see [`Order::priced_items`] before summing lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// Internal order id used in URLs (`/V1/orders/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<OrderId>,
    /// Customer-facing order number; text because of leading zeros and prefixes (`000000003`, `WA0003003`).
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub increment_id: Option<String>,
    /// Workflow state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<OrderState>,
    /// Store-configurable status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<OrderStatus>,
    /// When the order was placed (UTC).
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
    /// Store view the order was placed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_id: Option<StoreId>,
    /// Website, store and store view names joined by newlines.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub store_name: Option<String>,
    /// Registered customer; absent on guest orders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<CustomerId>,
    /// Whether the order was placed without an account.
    #[serde(
        default,
        with = "serde_helpers::opt_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub customer_is_guest: Option<bool>,
    /// Buyer email (schema-required, present on guest orders too).
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub customer_email: Option<String>,
    /// Buyer first name.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub customer_firstname: Option<String>,
    /// Buyer middle name.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub customer_middlename: Option<String>,
    /// Buyer last name.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub customer_lastname: Option<String>,
    /// Buyer name prefix.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub customer_prefix: Option<String>,
    /// Buyer name suffix.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub customer_suffix: Option<String>,
    /// Customer group at the time of ordering (0 = not logged in).
    #[serde(
        default,
        with = "serde_helpers::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub customer_group_id: Option<i64>,
    /// Buyer tax/VAT number as entered.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub customer_taxvat: Option<String>,
    /// Note left by the buyer.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub customer_note: Option<String>,
    /// Cart the order was converted from.
    #[serde(
        default,
        with = "serde_helpers::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub quote_id: Option<i64>,
    /// Currency of the `base_*` amounts (the website base currency).
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_currency_code: Option<String>,
    /// Currency the buyer paid in (the plain amounts).
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
    /// Total charged, in order currency (schema-required).
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub grand_total: Option<Decimal>,
    /// Total charged, in base currency (schema-required).
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
    /// Shipping charge before tax.
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
    /// Shipping charge including tax.
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
    /// Discount applied to shipping.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub shipping_discount_amount: Option<Decimal>,
    /// `shipping_discount_amount` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_shipping_discount_amount: Option<Decimal>,
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
    /// Label of the applied discount (coupon code or rule label).
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
    /// Tax hidden in shipping discounts.
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
    /// Amount captured so far.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_paid: Option<Decimal>,
    /// `total_paid` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_total_paid: Option<Decimal>,
    /// Amount still due.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_due: Option<Decimal>,
    /// `total_due` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_total_due: Option<Decimal>,
    /// Amount invoiced so far.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_invoiced: Option<Decimal>,
    /// `total_invoiced` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_total_invoiced: Option<Decimal>,
    /// Amount refunded so far.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_refunded: Option<Decimal>,
    /// `total_refunded` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_total_refunded: Option<Decimal>,
    /// Amount cancelled.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_canceled: Option<Decimal>,
    /// `total_canceled` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_total_canceled: Option<Decimal>,
    /// Sum of ordered quantities.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_qty_ordered: Option<Decimal>,
    /// Number of order lines, children included.
    #[serde(
        default,
        with = "serde_helpers::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_item_count: Option<i64>,
    /// Total weight.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub weight: Option<Decimal>,
    /// Whether nothing in the order ships.
    #[serde(
        default,
        with = "serde_helpers::opt_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_virtual: Option<bool>,
    /// Whether the confirmation email went out.
    #[serde(
        default,
        with = "serde_helpers::opt_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub email_sent: Option<bool>,
    /// Coupon entered at checkout.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub coupon_code: Option<String>,
    /// Comma-separated ids of the cart price rules applied.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub applied_rule_ids: Option<String>,
    /// Carrier and method label.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub shipping_description: Option<String>,
    /// Buyer IP address.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub remote_ip: Option<String>,
    /// Order lines, parents and children alike (schema-required).
    #[serde(default, deserialize_with = "serde_helpers::null_as_default")]
    pub items: Vec<OrderItem>,
    /// Billing address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<OrderAddress>,
    /// Payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<OrderPayment>,
    /// Comments and status changes, newest first.
    #[serde(default, deserialize_with = "serde_helpers::null_as_default")]
    pub status_histories: Vec<OrderStatusHistory>,
    /// Module data; shipping lives here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_attributes: Option<OrderExtensionAttributes>,
}

/// One order line (`sales-data-order-item-interface`).
///
/// Configurable and bundle products produce a parent line plus child lines; see
/// [`Order::priced_items`] for which of them carries the money.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderItem {
    /// Id of this line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<OrderItemId>,
    /// Order the line belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<OrderId>,
    /// Parent line for a child of a configurable or bundle; absent on top-level lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_item_id: Option<OrderItemId>,
    /// Cart line the order line came from.
    #[serde(
        default,
        with = "serde_helpers::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub quote_item_id: Option<i64>,
    /// Catalog product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<ProductId>,
    /// Product type of this line (`simple`, `configurable`, `bundle`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_type: Option<ProductType>,
    /// SKU (schema-required). For a configurable, parent and child carry the chosen simple's SKU.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub sku: Option<String>,
    /// Product name at the time of ordering.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// Store view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_id: Option<StoreId>,
    /// Whether the line ships.
    #[serde(
        default,
        with = "serde_helpers::opt_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_virtual: Option<bool>,
    /// Whether quantities may be fractional.
    #[serde(
        default,
        with = "serde_helpers::opt_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_qty_decimal: Option<bool>,
    /// Whether the line ships free.
    #[serde(
        default,
        with = "serde_helpers::opt_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub free_shipping: Option<bool>,
    /// Whether discounts were suppressed.
    #[serde(
        default,
        with = "serde_helpers::opt_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub no_discount: Option<bool>,
    /// Quantity ordered.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub qty_ordered: Option<Decimal>,
    /// Quantity invoiced.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub qty_invoiced: Option<Decimal>,
    /// Quantity shipped.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub qty_shipped: Option<Decimal>,
    /// Quantity refunded.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub qty_refunded: Option<Decimal>,
    /// Quantity cancelled.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub qty_canceled: Option<Decimal>,
    /// Quantity backordered.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub qty_backordered: Option<Decimal>,
    /// Unit price before tax, order currency.
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
    /// Catalog price before special prices.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub original_price: Option<Decimal>,
    /// `original_price` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_original_price: Option<Decimal>,
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
    /// Line total before tax and discount.
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
    /// Row amount invoiced so far.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub row_invoiced: Option<Decimal>,
    /// `row_invoiced` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_row_invoiced: Option<Decimal>,
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
    /// Tax rate applied, in percent.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub tax_percent: Option<Decimal>,
    /// Tax invoiced so far.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub tax_invoiced: Option<Decimal>,
    /// `tax_invoiced` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_tax_invoiced: Option<Decimal>,
    /// Discount on the line (positive on lines).
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
    /// Discount rate, in percent.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub discount_percent: Option<Decimal>,
    /// Discount invoiced so far.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub discount_invoiced: Option<Decimal>,
    /// `discount_invoiced` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_discount_invoiced: Option<Decimal>,
    /// Tax hidden in the discount on tax-inclusive prices.
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
    /// Amount refunded on the line.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub amount_refunded: Option<Decimal>,
    /// `amount_refunded` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_amount_refunded: Option<Decimal>,
    /// Unit weight.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub weight: Option<Decimal>,
    /// Line weight.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub row_weight: Option<Decimal>,
    /// Comma-separated ids of the price rules applied.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub applied_rule_ids: Option<String>,
    /// Creation time (UTC).
    #[serde(
        default,
        with = "serde_helpers::opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<OffsetDateTime>,
    /// Last change (UTC).
    #[serde(
        default,
        with = "serde_helpers::opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<OffsetDateTime>,
    /// Copy of the parent line, present on child lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_item: Option<Box<OrderItem>>,
    /// Chosen options (configurable attributes, bundle selections, custom options), kept open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_option: Option<serde_json::Value>,
    /// Module data, kept open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_attributes: Option<serde_json::Value>,
}

/// An address stored on an order (`sales-data-order-address-interface`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderAddress {
    /// Id of the address row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<OrderAddressId>,
    /// Order the address belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<OrderId>,
    /// Address-book entry it was copied from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_address_id: Option<CustomerAddressId>,
    /// Customer, if registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<CustomerId>,
    /// `billing` or `shipping` (schema-required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_type: Option<AddressType>,
    /// Email on the address.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub email: Option<String>,
    /// Name prefix.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub prefix: Option<String>,
    /// First name (schema-required).
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub firstname: Option<String>,
    /// Middle name.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub middlename: Option<String>,
    /// Last name (schema-required).
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub lastname: Option<String>,
    /// Name suffix.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub suffix: Option<String>,
    /// Company.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub company: Option<String>,
    /// Street lines.
    #[serde(default, deserialize_with = "serde_helpers::null_as_default")]
    pub street: Vec<String>,
    /// City (schema-required).
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub city: Option<String>,
    /// Region name.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub region: Option<String>,
    /// Region code.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub region_code: Option<String>,
    /// Region id.
    #[serde(
        default,
        with = "serde_helpers::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub region_id: Option<i64>,
    /// Postal code (schema-required; may be empty or a number on some stores).
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub postcode: Option<String>,
    /// ISO 3166-1 alpha-2 country code (schema-required).
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub country_id: Option<String>,
    /// Telephone (schema-required; may be empty).
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub telephone: Option<String>,
    /// Fax.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub fax: Option<String>,
    /// VAT number entered on the address.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub vat_id: Option<String>,
}

/// The payment of an order (`sales-data-order-payment-interface`). Card data is never complete here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderPayment {
    /// Id of the payment row.
    #[serde(
        default,
        with = "serde_helpers::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub entity_id: Option<i64>,
    /// Order the payment belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<OrderId>,
    /// Payment method code, e.g. `checkmo`, `banktransfer` (schema-required).
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub method: Option<String>,
    /// Gateway account status (schema-required, usually `null`).
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub account_status: Option<String>,
    /// Method-specific strings, e.g. the method title (schema-required).
    #[serde(default, deserialize_with = "serde_helpers::null_as_default")]
    pub additional_information: Vec<String>,
    /// Card type.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub cc_type: Option<String>,
    /// Last four card digits (schema-required, usually `null`).
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub cc_last4: Option<String>,
    /// Card holder.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub cc_owner: Option<String>,
    /// Card expiry month.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub cc_exp_month: Option<String>,
    /// Card expiry year.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub cc_exp_year: Option<String>,
    /// Last gateway transaction id.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_trans_id: Option<String>,
    /// Purchase order number.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub po_number: Option<String>,
    /// Amount ordered.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub amount_ordered: Option<Decimal>,
    /// `amount_ordered` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_amount_ordered: Option<Decimal>,
    /// Amount authorised.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub amount_authorized: Option<Decimal>,
    /// `amount_authorized` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_amount_authorized: Option<Decimal>,
    /// Amount captured.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub amount_paid: Option<Decimal>,
    /// `amount_paid` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_amount_paid: Option<Decimal>,
    /// Amount refunded.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub amount_refunded: Option<Decimal>,
    /// `amount_refunded` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_amount_refunded: Option<Decimal>,
    /// Amount cancelled.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub amount_canceled: Option<Decimal>,
    /// `amount_canceled` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_amount_canceled: Option<Decimal>,
    /// Shipping amount.
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
    /// Shipping captured.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub shipping_captured: Option<Decimal>,
    /// `shipping_captured` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_shipping_captured: Option<Decimal>,
    /// Module data, kept open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_attributes: Option<serde_json::Value>,
}

/// One status-history comment on an order (`sales-data-order-status-history-interface`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderStatusHistory {
    /// Id of the history entry.
    #[serde(
        default,
        with = "serde_helpers::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub entity_id: Option<i64>,
    /// Order the entry belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<OrderId>,
    /// Comment text (schema-required, may be `null`).
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub comment: Option<String>,
    /// Order status recorded with the entry.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    /// Whether the buyer was notified (schema-required, may be `null`).
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
    /// Which document the entry is about (`order`, `invoice`, ...).
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub entity_name: Option<String>,
    /// When it was written (UTC).
    #[serde(
        default,
        with = "serde_helpers::opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<OffsetDateTime>,
}

/// One shipping assignment (`sales-data-shipping-assignment-interface`): where a set of lines ships and
/// what that shipping costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShippingAssignment {
    /// Address, method and shipping totals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping: Option<Shipping>,
    /// Lines that ship together.
    #[serde(default, deserialize_with = "serde_helpers::null_as_default")]
    pub items: Vec<OrderItem>,
    /// Inventory source stock.
    #[serde(
        default,
        with = "serde_helpers::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub stock_id: Option<i64>,
}

/// Shipping of an assignment (`sales-data-shipping-interface`). A virtual order has no address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shipping {
    /// Ship-to address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<OrderAddress>,
    /// Carrier and method code, e.g. `flatrate_flatrate`.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub method: Option<String>,
    /// Shipping amounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<ShippingTotal>,
}

/// Shipping amounts of an assignment (`sales-data-total-interface`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShippingTotal {
    /// Shipping charge before tax.
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
    /// Shipping charge including tax.
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
    /// Discount on shipping.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub shipping_discount_amount: Option<Decimal>,
    /// `shipping_discount_amount` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_shipping_discount_amount: Option<Decimal>,
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
    /// Shipping invoiced so far.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub shipping_invoiced: Option<Decimal>,
    /// `shipping_invoiced` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_shipping_invoiced: Option<Decimal>,
    /// Shipping refunded so far.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub shipping_refunded: Option<Decimal>,
    /// `shipping_refunded` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_shipping_refunded: Option<Decimal>,
}

/// A key/value pair from `payment_additional_info`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentAdditionalInfo {
    /// Key.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub key: Option<String>,
    /// Value (often JSON-encoded text).
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<String>,
}

/// `extension_attributes` of an order (`sales-data-order-extension-interface`).
///
/// The shipping assignments and payment details are typed because mapping needs them; everything
/// else (taxes, gift cards, company attributes, custom fees, fields added by extensions) is kept in
/// [`other`](Self::other) as raw JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderExtensionAttributes {
    /// Where lines ship and what shipping costs; one entry per destination.
    #[serde(default, deserialize_with = "serde_helpers::null_as_default")]
    pub shipping_assignments: Vec<ShippingAssignment>,
    /// Payment details as key/value pairs.
    #[serde(default, deserialize_with = "serde_helpers::null_as_default")]
    pub payment_additional_info: Vec<PaymentAdditionalInfo>,
    /// Every other extension attribute, verbatim.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// How an order line relates to the money on the order.
///
/// Configurable and bundle products appear as a parent line plus child lines (`parent_item_id`);
/// summing both counts the product twice. What the documented examples show:
///
/// * A configurable's parent line carries price, row total, tax and discount; its child (the chosen
///   simple) has price `0` and no row totals. The parent is counted.
/// * A bundle with dynamic price: the order repeats the kit's total on the parent line *and* puts
///   each selection's price on its child line, while the invoice of that order leaves the parent
///   line without row totals. Tax and discount are calculated per selection, so the children are
///   counted and the parent is not.
/// * A bundle with fixed price puts the money on the parent line and leaves the selections at zero
///   (inferred). The parent is counted.
///
/// A bundle is treated as dynamically priced when any of its child lines has a non-zero price or
/// row total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineRole {
    /// The line carries its own amounts: count it.
    Priced,
    /// A child line whose amounts are carried by its parent: skip it.
    PricedByParent,
    /// A parent line whose amounts are carried by its children: skip it.
    PricedByChildren,
}

impl LineRole {
    /// Whether amounts on a line with this role belong in totals.
    pub const fn carries_money(self) -> bool {
        matches!(self, Self::Priced)
    }
}

fn is_nonzero(value: Option<Decimal>) -> bool {
    value.is_some_and(|v| !v.is_zero())
}

impl OrderItem {
    /// Whether this is a child line of a configurable or bundle.
    pub fn is_child(&self) -> bool {
        self.parent_item_id.is_some()
    }

    fn has_own_price(&self) -> bool {
        is_nonzero(self.price) || is_nonzero(self.row_total) || is_nonzero(self.base_row_total)
    }
}

impl Order {
    /// The line with this `item_id`.
    pub fn item(&self, id: OrderItemId) -> Option<&OrderItem> {
        self.items.iter().find(|item| item.item_id == Some(id))
    }

    /// The child lines of a parent line.
    pub fn children_of(&self, parent: OrderItemId) -> impl Iterator<Item = &OrderItem> {
        self.items
            .iter()
            .filter(move |item| item.parent_item_id == Some(parent))
    }

    fn bundle_children_priced(&self, parent: OrderItemId) -> bool {
        self.children_of(parent).any(OrderItem::has_own_price)
    }

    /// Which of parent and child lines carries the money for `item`; see [`LineRole`].
    ///
    /// A child whose parent line is not in the order (for example after a `fields` projection) is
    /// treated as priced, since no other line can carry its amounts.
    pub fn line_role(&self, item: &OrderItem) -> LineRole {
        match item.parent_item_id {
            Some(parent_id) => {
                let parent_type = self
                    .item(parent_id)
                    .and_then(|parent| parent.product_type.clone())
                    .or_else(|| {
                        item.parent_item
                            .as_ref()
                            .and_then(|p| p.product_type.clone())
                    });
                let parent_present = self.item(parent_id).is_some() || item.parent_item.is_some();
                match parent_type {
                    _ if !parent_present => LineRole::Priced,
                    Some(ProductType::Bundle) if self.bundle_children_priced(parent_id) => {
                        LineRole::Priced
                    }
                    _ => LineRole::PricedByParent,
                }
            }
            None => match (&item.product_type, item.item_id) {
                (Some(ProductType::Bundle), Some(id)) if self.bundle_children_priced(id) => {
                    LineRole::PricedByChildren
                }
                _ => LineRole::Priced,
            },
        }
    }

    /// The role of the line with this `item_id`, for mapping invoice and credit memo lines (which
    /// carry only `order_item_id`) back to the order.
    pub fn role_of(&self, id: OrderItemId) -> Option<LineRole> {
        self.item(id).map(|item| self.line_role(item))
    }

    /// The lines whose amounts make up the order totals, each product counted once.
    pub fn priced_items(&self) -> impl Iterator<Item = &OrderItem> {
        self.items
            .iter()
            .filter(|item| self.line_role(item).carries_money())
    }

    /// Whether the order was placed as a guest (flag set, or no customer id).
    pub fn is_guest(&self) -> bool {
        self.customer_is_guest == Some(true) || self.customer_id.is_none()
    }

    /// The first shipping assignment, where single-address orders keep their shipping.
    pub fn primary_shipping(&self) -> Option<&Shipping> {
        self.extension_attributes
            .as_ref()?
            .shipping_assignments
            .first()?
            .shipping
            .as_ref()
    }

    /// The ship-to address; `None` for virtual orders.
    pub fn shipping_address(&self) -> Option<&OrderAddress> {
        self.primary_shipping()?.address.as_ref()
    }
}
