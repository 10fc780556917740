//! Typed models of the Commerce REST entities this crate reads.
//!
//! The shapes follow the Commerce 2.4.8 OpenAPI definitions, read leniently because of how
//! Commerce writes JSON:
//!
//! * A getter that returns `null` is left out of the output unless the interface marks it
//!   required, in which case an explicit `null` appears. Almost every field is therefore an
//!   `Option` that also accepts `null`, and lists read `null` as empty.
//! * Money and quantities are JSON numbers (`165`, `165.5`); they decode exactly into
//!   [`rust_decimal::Decimal`], and numeric strings are accepted too. Decimals serialise as
//!   strings, so re-encoding never loses precision.
//! * Flags are `0`/`1`; they decode into `bool` (`true`/`false` and strings of either are
//!   accepted).
//! * Timestamps are `YYYY-MM-DD HH:MM:SS` in UTC without an offset; they decode into
//!   [`time::OffsetDateTime`] in UTC and serialise back in the same format. A malformed value
//!   fails with a message that names it.
//! * Server-controlled codes (order state and status, product type, invoice state, ...) keep
//!   values this crate does not know in an `Unknown` variant.
//! * Fields this crate does not model are ignored; open structures (`extension_attributes`,
//!   `product_option`, custom attribute values) are kept as [`serde_json::Value`].

mod credit_memo;
mod customer;
mod enums;
mod ids;
mod invoice;
mod order;
mod product;
pub(crate) mod serde_helpers;

use serde::{Deserialize, Serialize};

pub use credit_memo::{CreditMemo, CreditMemoItem};
pub use customer::{Customer, CustomerAddress, Region};
pub use enums::{
    AddressType, CreditMemoState, InvoiceState, OrderState, OrderStatus, ProductStatus,
    ProductType, ProductVisibility,
};
pub use ids::{
    CreditMemoId, CreditMemoItemId, CustomerAddressId, CustomerId, InvoiceId, InvoiceItemId,
    OrderAddressId, OrderId, OrderItemId, ProductId, StoreId, WebsiteId,
};
pub use invoice::{Invoice, InvoiceItem, SalesComment};
pub use order::{
    LineRole, Order, OrderAddress, OrderExtensionAttributes, OrderItem, OrderPayment,
    OrderStatusHistory, PaymentAdditionalInfo, Shipping, ShippingAssignment, ShippingTotal,
};
pub use product::Product;
pub use serde_helpers::{format_timestamp, parse_timestamp};

/// A store-defined attribute (`framework-attribute-interface`) on a customer, address or product.
///
/// The schema declares `value` a string, but multi-select and category attributes arrive as
/// arrays, so it is kept as raw JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomAttribute {
    /// Attribute code, e.g. `syspro_customer_code`. The interface marks it required, so Commerce
    /// writes an explicit `null` when a module leaves it unset; that reads as empty.
    #[serde(default, deserialize_with = "serde_helpers::null_as_default")]
    pub attribute_code: String,
    /// Attribute value.
    #[serde(default)]
    pub value: serde_json::Value,
}

pub(crate) fn find_custom_attribute<'a>(
    attributes: &'a [CustomAttribute],
    code: &str,
) -> Option<&'a serde_json::Value> {
    attributes
        .iter()
        .find(|a| a.attribute_code == code)
        .map(|a| &a.value)
}

/// The envelope every search endpoint answers with (`*-search-result-interface`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>", serialize = "T: Serialize"))]
pub struct SearchResults<T> {
    /// The entities on this page.
    #[serde(default, deserialize_with = "serde_helpers::null_as_default")]
    pub items: Vec<T>,
    /// The criteria echoed back; values come back as strings and `current_page` as requested.
    #[serde(default)]
    pub search_criteria: Option<serde_json::Value>,
    /// Size of the whole filtered collection, not of this page. Absent only when a `fields`
    /// projection leaves it out.
    #[serde(default, with = "serde_helpers::opt_int")]
    pub total_count: Option<i64>,
}

#[cfg(test)]
mod tests;
