//! Credit memos (refunds) and their lines.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::enums::CreditMemoState;
use super::ids::{
    CreditMemoId, CreditMemoItemId, InvoiceId, OrderAddressId, OrderId, OrderItemId, ProductId,
    StoreId,
};
use super::invoice::SalesComment;
use super::order::Order;
use super::serde_helpers;

/// A credit memo (`sales-data-creditmemo-interface`), as returned by `GET /V1/creditmemo/{id}` and each
/// entry of `GET /V1/creditmemos`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreditMemo {
    /// Internal credit memo id used in URLs (`/V1/creditmemo/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<CreditMemoId>,
    /// Customer-facing credit memo number.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub increment_id: Option<String>,
    /// Order refunded (schema-required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<OrderId>,
    /// Invoice refunded against, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_id: Option<InvoiceId>,
    /// Open, refunded or cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<CreditMemoState>,
    /// Secondary status code.
    #[serde(
        default,
        with = "serde_helpers::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub creditmemo_status: Option<i64>,
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
    /// Last change (UTC).
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
    /// Net adjustment (refund fee and extra refund).
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub adjustment: Option<Decimal>,
    /// `adjustment` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_adjustment: Option<Decimal>,
    /// Extra amount refunded.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub adjustment_positive: Option<Decimal>,
    /// `adjustment_positive` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_adjustment_positive: Option<Decimal>,
    /// Fee withheld from the refund.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub adjustment_negative: Option<Decimal>,
    /// `adjustment_negative` in base currency.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_adjustment_negative: Option<Decimal>,
    /// Billing address on the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address_id: Option<OrderAddressId>,
    /// Shipping address on the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address_id: Option<OrderAddressId>,
    /// Gateway transaction id of the refund.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<String>,
    /// Whether the credit memo email went out.
    #[serde(
        default,
        with = "serde_helpers::opt_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub email_sent: Option<bool>,
    /// Credit memo lines (schema-required).
    #[serde(default, deserialize_with = "serde_helpers::null_as_default")]
    pub items: Vec<CreditMemoItem>,
    /// Comments.
    #[serde(default, deserialize_with = "serde_helpers::null_as_default")]
    pub comments: Vec<SalesComment>,
    /// Module data, kept open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_attributes: Option<serde_json::Value>,
}

/// One credit memo line (`sales-data-creditmemo-item-interface`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreditMemoItem {
    /// Id of this line (schema-required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<CreditMemoItemId>,
    /// Credit memo the line belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<CreditMemoId>,
    /// Order line refunded (schema-required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_item_id: Option<OrderItemId>,
    /// Catalog product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<ProductId>,
    /// SKU.
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

impl CreditMemo {
    /// The lines whose amounts make up the credit memo totals, each product counted once; see
    /// [`Invoice::priced_items`](super::Invoice::priced_items).
    pub fn priced_items<'a>(
        &'a self,
        order: &'a Order,
    ) -> impl Iterator<Item = &'a CreditMemoItem> {
        self.items.iter().filter(move |line| {
            line.order_item_id
                .and_then(|id| order.role_of(id))
                .is_none_or(|role| role.carries_money())
        })
    }
}
