//! Catalog products.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::CustomAttribute;
use super::enums::{ProductStatus, ProductType, ProductVisibility};
use super::ids::ProductId;
use super::serde_helpers;

/// A catalog product (`catalog-data-product-interface`), as returned by `GET /V1/products/{sku}` and
/// each entry of `GET /V1/products`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// Product id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ProductId>,
    /// SKU (schema-required).
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub sku: Option<String>,
    /// Name in the requested store scope.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// Attribute set.
    #[serde(
        default,
        with = "serde_helpers::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub attribute_set_id: Option<i64>,
    /// Base price.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub price: Option<Decimal>,
    /// Enabled or disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ProductStatus>,
    /// Where the product is shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<ProductVisibility>,
    /// Product type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_id: Option<ProductType>,
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
    /// Weight.
    #[serde(
        default,
        with = "serde_helpers::opt_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub weight: Option<Decimal>,
    /// Website ids, category links, stock item and module data, kept open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_attributes: Option<serde_json::Value>,
    /// Related, up-sell and cross-sell links, kept open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_links: Option<serde_json::Value>,
    /// Custom options, kept open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<serde_json::Value>,
    /// Images and videos, kept open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_gallery_entries: Option<serde_json::Value>,
    /// Tier prices, kept open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier_prices: Option<serde_json::Value>,
    /// Store-defined attributes (`description`, `category_ids`, `tax_class_id`, ...).
    #[serde(default, deserialize_with = "serde_helpers::null_as_default")]
    pub custom_attributes: Vec<CustomAttribute>,
}

impl Product {
    /// The value of a custom attribute, if set. Values are usually strings but can be arrays
    /// (`category_ids`).
    pub fn custom_attribute(&self, code: &str) -> Option<&serde_json::Value> {
        super::find_custom_attribute(&self.custom_attributes, code)
    }
}
