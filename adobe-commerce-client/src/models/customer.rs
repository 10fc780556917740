//! Customers and their address books.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::CustomAttribute;
use super::ids::{CustomerAddressId, CustomerId, StoreId, WebsiteId};
use super::serde_helpers;

/// A registered customer (`customer-data-customer-interface`), as returned by
/// `GET /V1/customers/{id}` and each entry of `GET /V1/customers/search`.
///
/// `default_billing`/`default_shipping` are address ids written as strings here, while each address
/// says `default_billing: true` as a boolean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// Customer id used in URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<CustomerId>,
    /// Customer group.
    #[serde(
        default,
        with = "serde_helpers::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub group_id: Option<i64>,
    /// Id of the default billing address, as text.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub default_billing: Option<String>,
    /// Id of the default shipping address, as text.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub default_shipping: Option<String>,
    /// Pending email-confirmation key, if any.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub confirmation: Option<String>,
    /// Registration time (UTC).
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
    /// Store view name the account was created in.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_in: Option<String>,
    /// Date of birth (`YYYY-MM-DD`), as entered.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub dob: Option<String>,
    /// Email (schema-required).
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub email: Option<String>,
    /// First name (schema-required).
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub firstname: Option<String>,
    /// Last name (schema-required).
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub lastname: Option<String>,
    /// Middle name.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub middlename: Option<String>,
    /// Name prefix.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub prefix: Option<String>,
    /// Name suffix.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub suffix: Option<String>,
    /// Gender code (store-defined option id).
    #[serde(
        default,
        with = "serde_helpers::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub gender: Option<i64>,
    /// Store view the account belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_id: Option<StoreId>,
    /// Website the account belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website_id: Option<WebsiteId>,
    /// Tax/VAT number.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub taxvat: Option<String>,
    /// Whether VAT validation may move the customer between groups.
    #[serde(
        default,
        with = "serde_helpers::opt_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub disable_auto_group_change: Option<bool>,
    /// Address book.
    #[serde(default, deserialize_with = "serde_helpers::null_as_default")]
    pub addresses: Vec<CustomerAddress>,
    /// Module data (e.g. `is_subscribed`), kept open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_attributes: Option<serde_json::Value>,
    /// Store-defined attributes.
    #[serde(default, deserialize_with = "serde_helpers::null_as_default")]
    pub custom_attributes: Vec<CustomAttribute>,
}

/// An address-book entry of a customer (`customer-data-address-interface`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerAddress {
    /// Address id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<CustomerAddressId>,
    /// Owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<CustomerId>,
    /// Region as code, name and id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
    /// Region id.
    #[serde(
        default,
        with = "serde_helpers::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub region_id: Option<i64>,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub country_id: Option<String>,
    /// Street lines.
    #[serde(default, deserialize_with = "serde_helpers::null_as_default")]
    pub street: Vec<String>,
    /// Company.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub company: Option<String>,
    /// Telephone.
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
    /// Postal code.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub postcode: Option<String>,
    /// City.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub city: Option<String>,
    /// First name.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub firstname: Option<String>,
    /// Last name.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub lastname: Option<String>,
    /// Middle name.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub middlename: Option<String>,
    /// Name prefix.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub prefix: Option<String>,
    /// Name suffix.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub suffix: Option<String>,
    /// VAT number.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub vat_id: Option<String>,
    /// Whether this is the default shipping address.
    #[serde(
        default,
        with = "serde_helpers::opt_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub default_shipping: Option<bool>,
    /// Whether this is the default billing address.
    #[serde(
        default,
        with = "serde_helpers::opt_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub default_billing: Option<bool>,
    /// Module data, kept open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_attributes: Option<serde_json::Value>,
    /// Store-defined attributes.
    #[serde(default, deserialize_with = "serde_helpers::null_as_default")]
    pub custom_attributes: Vec<CustomAttribute>,
}

/// A region on a customer address (`customer-data-region-interface`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Region {
    /// Region code, e.g. `NY`.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub region_code: Option<String>,
    /// Region name.
    #[serde(
        default,
        with = "serde_helpers::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub region: Option<String>,
    /// Region id.
    #[serde(
        default,
        with = "serde_helpers::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub region_id: Option<i64>,
}

impl Customer {
    /// The value of a custom attribute, if set.
    pub fn custom_attribute(&self, code: &str) -> Option<&serde_json::Value> {
        super::find_custom_attribute(&self.custom_attributes, code)
    }

    /// The default billing address from the address book.
    pub fn default_billing_address(&self) -> Option<&CustomerAddress> {
        self.addresses
            .iter()
            .find(|a| a.default_billing == Some(true))
            .or_else(|| {
                let id = self
                    .default_billing
                    .as_deref()?
                    .trim()
                    .parse::<u64>()
                    .ok()?;
                self.addresses
                    .iter()
                    .find(|a| a.id.map(|i| i.get()) == Some(id))
            })
    }
}
