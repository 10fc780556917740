//! The mapping section of a connection: how Commerce customers, stores, SKUs and totals become SYSPRO
//! customer codes, branches, product classes and GL accounts.
//!
//! # Revenue account precedence
//!
//! Each money-carrying Commerce line is credited to exactly one revenue account, chosen by the first
//! step below that matches (see [`crate::mapping::resolve_revenue_account`]):
//!
//! 1. a rule on the line's exact SKU;
//! 2. a rule on a prefix of the SKU, the longest matching prefix winning;
//! 3. a rule on one of the line's category ids, the rule listed first in the file winning when
//!    several categories match (list specific categories before broad ones);
//! 4. a rule on the line's attribute set id;
//! 5. the store's `revenue_account`;
//! 6. otherwise the document halts with "no GL account for SKU ...".
//!
//! Within each of steps 1 to 4 a rule scoped to the document's store (`store = "code"`) is tried
//! before a rule without a store. The kind of selector comes first on purpose: a global rule on an
//! exact SKU (a gift card that is a liability, not revenue) must not be overridden by a store's broad
//! category rule.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Deserialize;

use super::template::Template;
use super::values::decimal_from_str_or_int;

/// How one connection maps Commerce documents onto SYSPRO.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingConfig {
    /// ISO currency codes the connection posts (e.g. `["USD"]`); a document in another currency halts.
    pub currencies: Vec<String>,
    /// The product class every AR invoice is posted with; SYSPRO's AR-to-GL integration books the
    /// invoice to this class's sales account, which the GL journal then clears.
    pub clearing_product_class: String,
    /// The largest difference between Commerce's grand total and the sum of the mapped parts that may
    /// be booked to the rounding account (default `"0.05"`). A larger one halts the document: it means
    /// an amount was missed, not rounded.
    #[serde(
        default = "default_rounding_tolerance",
        deserialize_with = "decimal_from_str_or_int"
    )]
    pub rounding_tolerance: Decimal,
    /// SYSPRO invoice number, journal reference and notation.
    #[serde(default)]
    pub invoice: InvoiceNumbering,
    /// How Commerce customers find their SYSPRO customer code.
    #[serde(default)]
    pub customers: CustomerMapping,
    /// Settings per Commerce store, keyed by store code.
    pub stores: BTreeMap<String, StoreMapping>,
    /// The fixed GL accounts of the journal.
    pub accounts: AccountMapping,
    /// Revenue account rules; see the module documentation for their precedence.
    #[serde(default)]
    pub revenue: Vec<RevenueRule>,
    /// Commerce credit memos posted as SYSPRO credit notes (off by default).
    #[serde(default)]
    pub credit_memos: CreditMemoMapping,
    /// SORTOI sales orders, for connections with `target = "sales_order"`.
    #[serde(default)]
    pub sales_orders: SalesOrderMapping,
}

/// How a document becomes a SORTOI sales order (`target = "sales_order"`).
///
/// The order's `CustomerPoNumber` is `invoice.number_template`, so a document keeps the key it would
/// have as an AR invoice; SORTOI allows 30 characters for it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesOrderMapping {
    /// Commerce SKU (compared without regard to case) to SYSPRO stock code.
    #[serde(default)]
    pub stock_codes: BTreeMap<String, String>,
    /// SKU prefixes (compared without regard to case) whose SKUs are SYSPRO stock codes as they
    /// are. A SKU neither in `stock_codes` nor starting with one of these halts the document.
    #[serde(default)]
    pub stock_code_prefixes: Vec<String>,
    /// `OrderUom` and `PriceUom` of every stock line (default `"EA"`).
    #[serde(default = "default_unit_of_measure")]
    pub unit_of_measure: String,
    /// Warehouse of the stock lines when the store names none (`stores.<code>.warehouse`); without
    /// either SYSPRO uses the stock item's default warehouse.
    #[serde(default)]
    pub warehouse: Option<String>,
    /// How the shipping charge is sent (default `freight_line`).
    #[serde(default)]
    pub freight: FreightHandling,
    /// The product class of the miscellaneous charge line that carries the shipping charge; required
    /// with `freight = "misc_charge"`.
    #[serde(default)]
    pub freight_product_class: Option<String>,
}

fn default_unit_of_measure() -> String {
    "EA".to_owned()
}

impl Default for SalesOrderMapping {
    fn default() -> Self {
        Self {
            stock_codes: BTreeMap::new(),
            stock_code_prefixes: Vec::new(),
            unit_of_measure: default_unit_of_measure(),
            warehouse: None,
            freight: FreightHandling::default(),
            freight_product_class: None,
        }
    }
}

impl SalesOrderMapping {
    /// The SYSPRO stock code of a SKU: its `stock_codes` entry, or the SKU itself when it starts
    /// with one of `stock_code_prefixes`; `None` when neither applies.
    pub fn stock_code(&self, sku: &str) -> Option<String> {
        let lower = sku.to_lowercase();
        if let Some((_, code)) = self
            .stock_codes
            .iter()
            .find(|(known, _)| known.to_lowercase() == lower)
        {
            return Some(code.clone());
        }
        self.stock_code_prefixes
            .iter()
            .any(|p| lower.starts_with(&p.to_lowercase()))
            .then(|| sku.to_owned())
    }
}

/// How a sales order carries the document's shipping charge (net of its discount).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FreightHandling {
    /// A SORTOI `FreightLine`.
    #[default]
    FreightLine,
    /// A SORTOI `MiscChargeLine` on `freight_product_class`.
    MiscCharge,
}

/// Commerce credit memos (refunds) as ARSTIN credit notes plus a reversing GL journal.
///
/// Off by default: a connection that turns it on reads every credit memo changed since the stream's
/// first poll, so refunds already entered in SYSPRO by hand would be credited twice. Only
/// connections with `trigger = "invoice"` read credit memos (an order-triggered connection has no
/// posted invoice to credit).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditMemoMapping {
    /// Read the credit memo stream and post each memo (default false).
    #[serde(default)]
    pub enabled: bool,
    /// SYSPRO `Invoice` of the credit note (default `"{store_prefix}CR{increment_id}"`, the memo's
    /// increment id). Same placeholders and length limit as `invoice.number_template`.
    #[serde(default = "default_credit_note_template")]
    pub number_template: Template,
    /// GL account of a memo's adjustment refund (`adjustment_positive`, debited) and adjustment fee
    /// (`adjustment_negative`, credited). A memo with an adjustment and no account halts.
    #[serde(default)]
    pub adjustment_account: Option<String>,
}

fn default_credit_note_template() -> Template {
    Template::built_in("{store_prefix}CR{increment_id}")
}

impl Default for CreditMemoMapping {
    fn default() -> Self {
        Self {
            enabled: false,
            number_template: default_credit_note_template(),
            adjustment_account: None,
        }
    }
}

fn default_rounding_tolerance() -> Decimal {
    Decimal::new(5, 2)
}

/// How SYSPRO keys are derived from the Commerce document.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoiceNumbering {
    /// SYSPRO `Invoice` for the ARSTIN item (default `"{store_prefix}{increment_id}"`). Placeholders:
    /// `store_prefix`, `store_code`, `store_id`, `increment_id`, `order_increment_id`, `entity_id`.
    #[serde(default = "default_number_template")]
    pub number_template: Template,
    /// The longest invoice number SYSPRO accepts (default 20, the width SYSPRO documents for its
    /// document keys such as `SalesOrder`; raise or lower it to your site's invoice key width).
    #[serde(default = "default_max_length")]
    pub max_length: usize,
    /// GENTJL `JournalReference` (default `"{invoice}"`). Placeholders: those of `number_template`
    /// plus `invoice`.
    #[serde(default = "default_journal_reference")]
    pub journal_reference_template: Template,
    /// GENTJL `Notation` (default `"Commerce {kind} {increment_id}"`). Placeholders: those of
    /// `journal_reference_template` plus `kind` (`invoice`, `order` or `credit memo`).
    #[serde(default = "default_notation")]
    pub notation_template: Template,
}

fn default_number_template() -> Template {
    Template::built_in("{store_prefix}{increment_id}")
}
fn default_journal_reference() -> Template {
    Template::built_in("{invoice}")
}
fn default_notation() -> Template {
    Template::built_in("Commerce {kind} {increment_id}")
}
fn default_code_template() -> Template {
    Template::built_in("WEB{customer_id:06}")
}
fn default_max_length() -> usize {
    20
}

impl Default for InvoiceNumbering {
    fn default() -> Self {
        Self {
            number_template: default_number_template(),
            max_length: default_max_length(),
            journal_reference_template: default_journal_reference(),
            notation_template: default_notation(),
        }
    }
}

/// Placeholders of [`InvoiceNumbering::number_template`].
pub const INVOICE_NUMBER_PLACEHOLDERS: &[&str] = &[
    "store_prefix",
    "store_code",
    "store_id",
    "increment_id",
    "order_increment_id",
    "entity_id",
];
/// Placeholders of [`InvoiceNumbering::journal_reference_template`].
pub const JOURNAL_REFERENCE_PLACEHOLDERS: &[&str] = &[
    "store_prefix",
    "store_code",
    "store_id",
    "increment_id",
    "order_increment_id",
    "entity_id",
    "invoice",
];
/// Placeholders of [`InvoiceNumbering::notation_template`].
pub const NOTATION_PLACEHOLDERS: &[&str] = &[
    "store_prefix",
    "store_code",
    "store_id",
    "increment_id",
    "order_increment_id",
    "entity_id",
    "invoice",
    "kind",
];
/// Placeholders of [`CustomerCreation::code_template`].
pub const CUSTOMER_CODE_PLACEHOLDERS: &[&str] = &["customer_id", "store_code", "store_id"];

/// Customer matching, in the order the design gives: explicit table, SYSPRO customer with the same
/// email, creation; guests go to their store's cash customer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerMapping {
    /// Commerce customer id (written as a string key, e.g. `"42" = "ACME01"`) to SYSPRO code.
    #[serde(default)]
    pub by_id: BTreeMap<String, String>,
    /// Commerce customer email (compared without regard to case) to SYSPRO code.
    #[serde(default)]
    pub by_email: BTreeMap<String, String>,
    /// Look for a SYSPRO customer with the same email before creating one (default true).
    #[serde(default = "yes")]
    pub match_by_email: bool,
    /// Creating SYSPRO customers for Commerce customers that have none.
    #[serde(default)]
    pub create: CustomerCreation,
    /// Keeping SYSPRO customers in step with later changes of their Commerce customer.
    #[serde(default)]
    pub update: CustomerUpdate,
    /// Writing the SYSPRO customer code back to a Commerce customer attribute (off by default).
    #[serde(default)]
    pub write_back: CustomerWriteBack,
}

impl CustomerMapping {
    /// Whether customer changes are sent to SYSPRO: `update.enabled`, or when it is not written,
    /// `create.enabled` (a team that lets the connector create customers lets it keep them
    /// current; one that only matches existing customers keeps SYSPRO's master data as it is).
    #[must_use]
    pub fn update_enabled(&self) -> bool {
        self.update.enabled.unwrap_or(self.create.enabled)
    }
}

/// Settings for sending Commerce customer changes to SYSPRO (ARSSCS Setup/Update).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerUpdate {
    /// Send changes; when absent, the value of `create.enabled` (see
    /// [`CustomerMapping::update_enabled`]).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// The SYSPRO customer fields kept in step (default: all of them). Other fields (branch,
    /// terms, class, currency, credit settings) belong to SYSPRO and are never changed.
    #[serde(default = "all_customer_fields")]
    pub fields: Vec<CustomerField>,
    /// Also update customers found through `customers.by_id` or `customers.by_email` (default
    /// false): those tables usually point at accounts kept by the finance team, often shared by
    /// several Commerce logins.
    #[serde(default)]
    pub table_mapped: bool,
}

impl Default for CustomerUpdate {
    fn default() -> Self {
        Self {
            enabled: None,
            fields: all_customer_fields(),
            table_mapped: false,
        }
    }
}

fn all_customer_fields() -> Vec<CustomerField> {
    CustomerField::ALL.to_vec()
}

/// A SYSPRO customer field that can be kept in step with Commerce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerField {
    /// `Name` and `ShortName`, from the first and last name (the email when both are empty).
    Name,
    /// `Email`.
    Email,
    /// `Telephone`, from the default billing address (else the default shipping address).
    Telephone,
    /// `SoldToAddr1..5` and `SoldPostalCode`, from the default billing address.
    SoldTo,
    /// `ShipToAddr1..5` and `ShipPostalCode`, from the default shipping address.
    ShipTo,
}

impl CustomerField {
    /// Every field, in the order they are listed in documentation.
    pub const ALL: [Self; 5] = [
        Self::Name,
        Self::Email,
        Self::Telephone,
        Self::SoldTo,
        Self::ShipTo,
    ];

    /// The name used in the configuration file.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Email => "email",
            Self::Telephone => "telephone",
            Self::SoldTo => "sold_to",
            Self::ShipTo => "ship_to",
        }
    }
}

/// Settings for writing the SYSPRO customer code back to Commerce.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerWriteBack {
    /// The Commerce customer attribute that receives the code (e.g. `"erp_customer_code"`);
    /// absent means no write-back. The attribute must exist in Commerce. When a customer already
    /// holds a code there, it is also used to find the SYSPRO customer.
    #[serde(default)]
    pub attribute: Option<String>,
}

impl Default for CustomerMapping {
    fn default() -> Self {
        Self {
            by_id: BTreeMap::new(),
            by_email: BTreeMap::new(),
            match_by_email: true,
            create: CustomerCreation::default(),
            update: CustomerUpdate::default(),
            write_back: CustomerWriteBack::default(),
        }
    }
}

fn yes() -> bool {
    true
}

/// Settings for customers created in SYSPRO (ARSSCS Setup/Add).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerCreation {
    /// Off by default: a finance team opts in to customers appearing in its ledger.
    #[serde(default)]
    pub enabled: bool,
    /// The new customer's code (default `"WEB{customer_id:06}"`). Placeholders: `customer_id`,
    /// `store_code`, `store_id`.
    #[serde(default = "default_code_template")]
    pub code_template: Template,
    /// The longest customer code SYSPRO accepts (default 15). Older SYSPRO schemas annotate the
    /// customer as 7 characters; set this to your site's customer key width.
    #[serde(default = "default_code_max_length")]
    pub code_max_length: usize,
    /// Branch of new customers (when absent, the branch of the document's store).
    #[serde(default)]
    pub branch: Option<String>,
    /// Terms code of new customers.
    #[serde(default)]
    pub terms_code: Option<String>,
    /// Customer class of new customers.
    #[serde(default)]
    pub customer_class: Option<String>,
    /// Currency of new customers (when absent, the document's currency).
    #[serde(default)]
    pub currency: Option<String>,
    /// Salesperson of new customers.
    #[serde(default)]
    pub salesperson: Option<String>,
    /// Geographic area of new customers.
    #[serde(default)]
    pub area: Option<String>,
}

fn default_code_max_length() -> usize {
    15
}

impl Default for CustomerCreation {
    fn default() -> Self {
        Self {
            enabled: false,
            code_template: default_code_template(),
            code_max_length: default_code_max_length(),
            branch: None,
            terms_code: None,
            customer_class: None,
            currency: None,
            salesperson: None,
            area: None,
        }
    }
}

/// Settings of one Commerce store (keyed by its store code in [`MappingConfig::stores`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreMapping {
    /// Text put before the increment id by the `{store_prefix}` placeholder (default empty), so two
    /// stores with overlapping increment ids never produce the same SYSPRO invoice number.
    #[serde(default)]
    pub invoice_prefix: String,
    /// SYSPRO branch of this store's AR invoices.
    pub branch: String,
    /// SYSPRO customer that receives this store's guest orders; without one, guest documents halt.
    #[serde(default)]
    pub cash_customer: Option<String>,
    /// Revenue account used when no revenue rule matches a line.
    #[serde(default)]
    pub revenue_account: Option<String>,
    /// Product class of the AR invoice for the `ar_only` target (default: the clearing product
    /// class).
    #[serde(default)]
    pub product_class: Option<String>,
    /// ARSTIN `InvoiceTerms` for this store's invoices (default: the customer's terms in SYSPRO).
    #[serde(default)]
    pub invoice_terms: Option<String>,
    /// SYSPRO warehouse of this store's sales order lines (`target = "sales_order"`; default
    /// `sales_orders.warehouse`).
    #[serde(default)]
    pub warehouse: Option<String>,
}

/// Whether the tax of a document is moved by the GL journal or left to SYSPRO's AR integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxPosting {
    /// The clearing account receives the whole invoice value and the journal credits the tax account.
    #[default]
    Journal,
    /// SYSPRO books the ARSTIN `TaxValue` itself; the journal clears only the value net of tax.
    Syspro,
}

/// The GL accounts every journal may use besides revenue.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountMapping {
    /// The clearing product class's sales account: debited with what the AR invoice credited to it.
    pub clearing: String,
    /// Freight (shipping) revenue.
    pub freight: String,
    /// Discounts given, debited separately. When absent, revenue and freight are credited net of
    /// their discounts.
    #[serde(default)]
    pub discount: Option<String>,
    /// Tax collected; required when `tax_posting = "journal"`.
    #[serde(default)]
    pub tax: Option<String>,
    /// Who books the tax (default `journal`).
    #[serde(default)]
    pub tax_posting: TaxPosting,
    /// Where the difference between Commerce's grand total and the sum of the parts goes.
    pub rounding: String,
}

/// One revenue account rule: exactly one selector (`sku`, `sku_prefix`, `category_id`,
/// `attribute_set_id`), optionally limited to one store.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevenueRule {
    /// Exact SKU.
    #[serde(default)]
    pub sku: Option<String>,
    /// SKU prefix.
    #[serde(default)]
    pub sku_prefix: Option<String>,
    /// Commerce category id.
    #[serde(default)]
    pub category_id: Option<u64>,
    /// Commerce attribute set id.
    #[serde(default)]
    pub attribute_set_id: Option<u64>,
    /// Store code the rule is limited to (absent: every store).
    #[serde(default)]
    pub store: Option<String>,
    /// The SYSPRO GL account credited.
    pub account: String,
}

/// The selector of a [`RevenueRule`], once validation has made sure there is exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevenueSelector<'a> {
    /// Exact SKU.
    Sku(&'a str),
    /// SKU prefix.
    SkuPrefix(&'a str),
    /// Category id.
    Category(u64),
    /// Attribute set id.
    AttributeSet(u64),
}

impl RevenueRule {
    /// The rule's selectors; a valid rule has exactly one.
    pub fn selectors(&self) -> Vec<RevenueSelector<'_>> {
        let mut out = Vec::with_capacity(1);
        if let Some(s) = &self.sku {
            out.push(RevenueSelector::Sku(s));
        }
        if let Some(s) = &self.sku_prefix {
            out.push(RevenueSelector::SkuPrefix(s));
        }
        if let Some(c) = self.category_id {
            out.push(RevenueSelector::Category(c));
        }
        if let Some(a) = self.attribute_set_id {
            out.push(RevenueSelector::AttributeSet(a));
        }
        out
    }
}

impl MappingConfig {
    /// Parses a stand-alone mapping file's text (the format of `mapping_file`), without the
    /// cross-field checks that need the connection; [`crate::config::Config::from_toml_str`] runs them.
    ///
    /// # Errors
    /// [`super::ConfigError::Parse`] with line, column and key path.
    pub fn from_toml_str(text: &str, file: &str) -> Result<Self, super::ConfigError> {
        super::parse_toml(text, file)
    }

    /// Every GL account the mapping names, with the key path that names it; the engine validates them
    /// against SYSPRO.
    pub fn gl_accounts(&self) -> Vec<(String, &str)> {
        let mut out = vec![
            (
                "accounts.clearing".to_owned(),
                self.accounts.clearing.as_str(),
            ),
            (
                "accounts.freight".to_owned(),
                self.accounts.freight.as_str(),
            ),
            (
                "accounts.rounding".to_owned(),
                self.accounts.rounding.as_str(),
            ),
        ];
        if let Some(d) = &self.accounts.discount {
            out.push(("accounts.discount".to_owned(), d));
        }
        if let Some(t) = &self.accounts.tax {
            out.push(("accounts.tax".to_owned(), t));
        }
        for (code, store) in &self.stores {
            if let Some(a) = &store.revenue_account {
                out.push((format!("stores.{code}.revenue_account"), a));
            }
        }
        for (i, rule) in self.revenue.iter().enumerate() {
            out.push((format!("revenue[{i}].account"), &rule.account));
        }
        if let Some(a) = &self.credit_memos.adjustment_account {
            out.push(("credit_memos.adjustment_account".to_owned(), a));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_templates_are_well_formed() {
        for (text, t) in [
            ("{store_prefix}{increment_id}", default_number_template()),
            ("{invoice}", default_journal_reference()),
            ("Commerce {kind} {increment_id}", default_notation()),
            ("WEB{customer_id:06}", default_code_template()),
            (
                "{store_prefix}CR{increment_id}",
                default_credit_note_template(),
            ),
        ] {
            assert!(Template::parse(text).is_ok(), "{text}");
            assert_eq!(
                t.placeholders().count(),
                Template::parse(text).unwrap().placeholders().count()
            );
            assert_eq!(t.as_str(), text);
        }
    }
}
