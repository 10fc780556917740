//! Shared builders: a mapping, SYSPRO reference data and Commerce documents.

use std::str::FromStr;

use connector_core::config::{MappingConfig, PostingTarget};
use connector_core::mapping::{DefaultMapper, MappingContext, ReferenceData};
use connector_core::plan::{Address, DocumentKind, SourceCustomer, SourceDocument, SourceLine};
use rust_decimal::Decimal;
use time::macros::datetime;

/// A mapping with every kind of revenue rule, a discount account and tax in the journal.
pub const MAPPING: &str = r#"
currencies = ["USD", "EUR"]
clearing_product_class = "WEB"

[customers.by_id]
"1042" = "ACME01"
[customers.by_email]
"Buyer@BigCo.example" = "BIGCO1"
[customers.create]
enabled = true
terms_code = "CC"

[stores.default]
invoice_prefix = "W1-"
branch = "10"
cash_customer = "CASH01"
revenue_account = "4000"
product_class = "WEBAR"

[stores.wholesale]
invoice_prefix = "W2-"
branch = "20"

[accounts]
clearing = "1250"
freight = "4100"
discount = "4900"
tax = "2200"
rounding = "7900"

[[revenue]]
sku = "GIFT-CARD"
account = "2400"
[[revenue]]
sku_prefix = "TS-"
account = "4010"
[[revenue]]
category_id = 12
account = "4020"
[[revenue]]
attribute_set_id = 4
account = "4030"
[[revenue]]
sku_prefix = "TS-"
store = "wholesale"
account = "4210"
"#;

pub fn mapping() -> MappingConfig {
    MappingConfig::from_toml_str(MAPPING, "support::MAPPING").expect("test mapping parses")
}

/// The same mapping with edits applied to its TOML text (`(old, new)` replacements).
pub fn mapping_with(edits: &[(&str, &str)]) -> MappingConfig {
    let mut text = MAPPING.to_owned();
    for (old, new) in edits {
        assert!(
            text.contains(old),
            "test edit {old:?} not found in the mapping"
        );
        text = text.replacen(old, new, 1);
    }
    MappingConfig::from_toml_str(&text, "edited mapping").expect("edited test mapping parses")
}

pub fn mapper(mapping: MappingConfig) -> DefaultMapper {
    DefaultMapper::new(mapping, PostingTarget::ArInvoiceGlJournal)
}

/// Every code the test mapping names, as if SYSPRO had them all.
pub fn reference() -> ReferenceData {
    let set = |codes: &[&str]| codes.iter().map(|c| (*c).to_owned()).collect();
    ReferenceData {
        gl_accounts: set(&[
            "1250", "4100", "4900", "2200", "7900", "2400", "4010", "4020", "4030", "4210", "4000",
        ]),
        product_classes: set(&["WEB", "WEBAR"]),
        branches: set(&["10", "20"]),
    }
}

pub fn ctx(reference: &ReferenceData) -> MappingContext<'_> {
    MappingContext {
        customer_code: None,
        reference,
    }
}

pub fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).expect("test amount")
}

pub fn line(
    item_id: u64,
    sku: &str,
    row_total: &str,
    row_discount: &str,
    row_tax: &str,
) -> SourceLine {
    SourceLine {
        item_id,
        parent_item_id: None,
        product_type: "simple".to_owned(),
        sku: sku.to_owned(),
        name: format!("{sku} product"),
        qty: Decimal::ONE,
        row_total: dec(row_total),
        row_tax: dec(row_tax),
        row_discount: dec(row_discount),
        category_ids: Vec::new(),
        attribute_set_id: None,
    }
}

pub fn address() -> Address {
    Address {
        company: None,
        street: vec!["1 Main St".to_owned()],
        city: "Springfield".to_owned(),
        region: Some("IL".to_owned()),
        postcode: "62701".to_owned(),
        country_id: "US".to_owned(),
        telephone: Some("555-0100".to_owned()),
    }
}

/// A registered customer's invoice with no lines and zero totals; tests fill in the money.
pub fn document() -> SourceDocument {
    SourceDocument {
        kind: DocumentKind::Invoice,
        entity_id: 77,
        increment_id: "000000123".to_owned(),
        order_increment_id: "000000120".to_owned(),
        store_id: 1,
        store_code: "default".to_owned(),
        currency: "USD".to_owned(),
        created_at: datetime!(2026-03-04 23:59:59 UTC),
        updated_at: datetime!(2026-03-05 00:10:00 UTC),
        customer: SourceCustomer {
            id: Some(1042),
            email: "jane@example.com".to_owned(),
            name: "Jane Doe".to_owned(),
            is_guest: false,
            billing_address: Some(address()),
            shipping_address: Some(address()),
        },
        lines: Vec::new(),
        shipping_amount: Decimal::ZERO,
        shipping_tax: Decimal::ZERO,
        shipping_discount: Decimal::ZERO,
        discount_total: Decimal::ZERO,
        tax_total: Decimal::ZERO,
        grand_total: Decimal::ZERO,
    }
}

/// Sets the header totals to the exact sums of the lines and shipping of `doc`, plus `grand_extra`
/// on the grand total (a rounding artefact).
pub fn with_consistent_totals(mut doc: SourceDocument, grand_extra: &str) -> SourceDocument {
    let money = connector_core::mapping::money_lines(&doc).expect("well-formed lines");
    let tax: Decimal = money.iter().map(|l| l.row_tax).sum::<Decimal>() + doc.shipping_tax;
    let discount: Decimal =
        money.iter().map(|l| l.row_discount).sum::<Decimal>() + doc.shipping_discount;
    let net: Decimal = money.iter().map(|l| l.row_total).sum::<Decimal>() + doc.shipping_amount;
    doc.tax_total = tax;
    doc.discount_total = discount;
    doc.grand_total = net - discount + tax + dec(grand_extra);
    doc
}
