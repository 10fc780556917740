//! The default mapper: worked examples with every journal line asserted, customers, and each
//! mapping error.

use connector_core::config::PostingTarget;
use connector_core::mapping::{DefaultMapper, Mapper, MappingContext, MappingError};
use connector_core::plan::{
    AccountPurpose, AmountSource, ArTransactionType, CustomerAction, CustomerMatch, JournalLine,
    PostingPlan, SourceDocument,
};
use rust_decimal::Decimal;
use time::macros::date;

use crate::support::{
    ctx, dec, document, line, mapper, mapping, mapping_with, reference, with_consistent_totals,
};

/// A configurable T-shirt (parent priced, child not) with a 10% discount, a mug in category 12
/// bought twice with a discount, 8.25% tax on rows and shipping, and a grand total one cent above
/// the sum of the rounded parts (Commerce's total-based tax rounding).
fn configurable_order() -> SourceDocument {
    let mut doc = document();
    let mut parent = line(1, "TS-RED-M", "50.00", "5.00", "3.71");
    parent.product_type = "configurable".to_owned();
    let mut child = line(2, "TS-RED-M", "0", "0", "0");
    child.parent_item_id = Some(1);
    let mut mug = line(3, "MUG-1", "24.00", "2.40", "1.78");
    mug.qty = dec("2");
    mug.category_ids = vec![7, 12];
    doc.lines = vec![parent, child, mug];
    doc.shipping_amount = dec("10.00");
    doc.shipping_tax = dec("0.83");
    doc.tax_total = dec("6.32");
    doc.discount_total = dec("7.40");
    doc.grand_total = dec("82.93");
    doc
}

fn entries(plan: &PostingPlan) -> Vec<(AccountPurpose, &str, Decimal)> {
    plan.journal
        .as_ref()
        .expect("a journal")
        .lines
        .iter()
        .map(|l: &JournalLine| (l.purpose, l.ledger_code.as_str(), l.amount))
        .collect()
}

#[test]
fn configurable_order_with_discount_row_tax_and_shipping_tax() {
    let r = reference();
    let plan = mapper(mapping())
        .plan(&configurable_order(), &ctx(&r))
        .unwrap();

    let inv = &plan.ar_invoice;
    assert_eq!(inv.transaction_type, ArTransactionType::Invoice);
    assert_eq!(inv.customer.as_deref(), Some("ACME01"));
    assert_eq!(inv.invoice, "W1-000000123");
    assert_eq!(inv.invoice_date, date!(2026 - 03 - 04));
    assert_eq!(inv.reference, "000000123");
    assert_eq!(inv.invoice_value, dec("82.93"));
    assert_eq!(inv.tax_value, dec("6.32"));
    assert_eq!(inv.product_class, "WEB");
    assert_eq!(inv.branch, "10");
    assert_eq!(inv.currency, "USD");
    assert_eq!(
        plan.customer,
        CustomerAction::Existing {
            code: "ACME01".to_owned(),
            matched_by: CustomerMatch::TableById
        }
    );

    let journal = plan.journal.as_ref().unwrap();
    assert_eq!(journal.reference, "W1-000000123");
    assert_eq!(journal.notation, "Commerce invoice 000000123");
    assert_eq!(journal.journal_date, date!(2026 - 03 - 04));
    use AccountPurpose::*;
    assert_eq!(
        entries(&plan),
        vec![
            (Clearing, "1250", dec("82.93")),
            (Revenue, "4010", dec("-50.00")),
            (Revenue, "4020", dec("-24.00")),
            (Freight, "4100", dec("-10.00")),
            (Discount, "4900", dec("7.40")),
            (Tax, "2200", dec("-6.32")),
            (Rounding, "7900", dec("-0.01")),
        ]
    );
    assert!(journal.is_balanced());
    assert_eq!(journal.total_debits(), dec("90.33"));
    assert_eq!(journal.total_credits(), dec("90.33"));
    assert_eq!(plan.rounding, dec("-0.01"));

    // The configurable child carries nothing and lands nowhere.
    assert!(
        plan.allocations
            .iter()
            .all(|a| !matches!(a.source, AmountSource::Line { item_id: 2, .. }))
    );
    let parent: Vec<_> = plan
        .allocations
        .iter()
        .filter(|a| matches!(a.source, AmountSource::Line { item_id: 1, .. }))
        .map(|a| (a.purpose, a.account.as_str(), a.amount))
        .collect();
    assert_eq!(
        parent,
        vec![
            (Revenue, "4010", dec("-50.00")),
            (Discount, "4900", dec("5.00")),
            (Tax, "2200", dec("-3.71"))
        ]
    );
}

#[test]
fn without_a_discount_account_revenue_and_freight_are_net_and_exact_totals_need_no_rounding() {
    let r = reference();
    let m = mapping_with(&[("discount = \"4900\"\n", "")]);
    let mut doc = configurable_order();
    doc.shipping_discount = dec("1.00");
    let doc = with_consistent_totals(doc, "0");
    let plan = mapper(m).plan(&doc, &ctx(&r)).unwrap();
    use AccountPurpose::*;
    assert_eq!(
        entries(&plan),
        vec![
            (Clearing, "1250", dec("81.92")),
            (Revenue, "4010", dec("-45.00")),
            (Revenue, "4020", dec("-21.60")),
            (Freight, "4100", dec("-9.00")),
            (Tax, "2200", dec("-6.32")),
        ]
    );
    assert_eq!(plan.rounding, Decimal::ZERO);
    assert!(plan.allocations.iter().all(|a| a.purpose != Rounding));
}

#[test]
fn tax_booked_by_syspro_is_left_out_of_the_journal() {
    let r = reference();
    let m = mapping_with(&[("tax = \"2200\"\n", "tax_posting = \"syspro\"\n")]);
    let plan = mapper(m).plan(&configurable_order(), &ctx(&r)).unwrap();
    assert_eq!(plan.ar_invoice.invoice_value, dec("82.93"));
    assert_eq!(plan.ar_invoice.tax_value, dec("6.32"));
    use AccountPurpose::*;
    assert_eq!(
        entries(&plan),
        vec![
            (Clearing, "1250", dec("76.61")),
            (Revenue, "4010", dec("-50.00")),
            (Revenue, "4020", dec("-24.00")),
            (Freight, "4100", dec("-10.00")),
            (Discount, "4900", dec("7.40")),
            (Rounding, "7900", dec("-0.01")),
        ]
    );
}

#[test]
fn dynamic_bundle_children_are_booked_by_their_own_skus() {
    let r = reference();
    let mut doc = document();
    let mut bundle = line(10, "KIT", "0", "0", "0");
    bundle.product_type = "bundle".to_owned();
    let mut shirt = line(11, "TS-BLUE-S", "20.00", "0", "1.65");
    shirt.parent_item_id = Some(10);
    let mut card = line(12, "gift-card", "30.00", "0", "0");
    card.parent_item_id = Some(10);
    doc.lines = vec![bundle, shirt, card];
    let doc = with_consistent_totals(doc, "0");
    let plan = mapper(mapping()).plan(&doc, &ctx(&r)).unwrap();
    use AccountPurpose::*;
    assert_eq!(
        entries(&plan),
        vec![
            (Clearing, "1250", dec("51.65")),
            (Revenue, "2400", dec("-30.00")),
            (Revenue, "4010", dec("-20.00")),
            (Tax, "2200", dec("-1.65")),
        ]
    );
}

#[test]
fn ar_only_uses_the_store_product_class_and_no_journal() {
    let r = reference();
    let mut doc = configurable_order();
    doc.lines[2].sku = "UNMAPPED".to_owned();
    doc.lines[2].category_ids.clear();
    let m = mapping_with(&[("revenue_account = \"4000\"\n", "")]);
    let plan = DefaultMapper::new(m, PostingTarget::ArOnly)
        .plan(&doc, &ctx(&r))
        .unwrap();
    assert_eq!(plan.ar_invoice.product_class, "WEBAR");
    assert_eq!(plan.ar_invoice.invoice_value, dec("82.93"));
    assert!(plan.journal.is_none());
    assert!(plan.allocations.is_empty());
}

#[test]
fn zero_value_document_has_an_invoice_and_no_journal() {
    let r = reference();
    let mut doc = document();
    doc.lines = vec![line(1, "FREEBIE", "0", "0", "0")];
    let plan = mapper(mapping()).plan(&doc, &ctx(&r)).unwrap();
    assert_eq!(plan.ar_invoice.invoice_value, Decimal::ZERO);
    assert!(plan.journal.is_none());
}

// ---- customers ----

fn customer_of(
    doc: &SourceDocument,
    m: connector_core::config::MappingConfig,
    code: Option<&str>,
) -> Result<PostingPlan, MappingError> {
    let r = reference();
    mapper(m).plan(
        doc,
        &MappingContext {
            customer_code: code,
            reference: &r,
        },
    )
}

#[test]
fn guests_go_to_the_store_cash_customer_or_halt_without_one() {
    let mut doc = with_consistent_totals(configurable_order(), "0");
    doc.customer.is_guest = true;
    doc.customer.id = None;
    let plan = customer_of(&doc, mapping(), Some("IGNORED")).unwrap();
    assert_eq!(
        plan.customer,
        CustomerAction::Cash {
            code: "CASH01".to_owned()
        }
    );
    assert_eq!(plan.customer_code(), Some("CASH01"));

    doc.store_code = "wholesale".to_owned();
    let err = customer_of(&doc, mapping(), None).unwrap_err();
    assert!(
        matches!(err, MappingError::NoCashCustomer { ref store, .. } if store == "wholesale"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("mapping.stores.wholesale.cash_customer"),
        "{err}"
    );
}

#[test]
fn customer_resolution_order() {
    let mut doc = with_consistent_totals(configurable_order(), "0");
    // A code the engine resolved earlier wins over the table.
    let plan = customer_of(&doc, mapping(), Some("FOUND1")).unwrap();
    assert_eq!(plan.customer_code(), Some("FOUND1"));

    // Email table, compared without case.
    doc.customer.id = Some(5);
    doc.customer.email = "buyer@bigco.EXAMPLE".to_owned();
    let plan = customer_of(&doc, mapping(), None).unwrap();
    assert_eq!(
        plan.customer,
        CustomerAction::Existing {
            code: "BIGCO1".to_owned(),
            matched_by: CustomerMatch::TableByEmail
        }
    );

    // Unknown: match by email first, with the customer to create if SYSPRO has none.
    doc.customer.email = "new@example.com".to_owned();
    let plan = customer_of(&doc, mapping(), None).unwrap();
    match &plan.customer {
        CustomerAction::MatchByEmail {
            email,
            otherwise_create: Some(new),
        } => {
            assert_eq!(email, "new@example.com");
            assert_eq!(new.code, "WEB000005");
            assert_eq!(new.branch, "10");
            assert_eq!(new.currency, "USD");
            assert_eq!(new.terms_code.as_deref(), Some("CC"));
            assert_eq!(
                new.sold_to.as_ref().map(|a| a.city.as_str()),
                Some("Springfield")
            );
        }
        other => panic!("expected MatchByEmail, got {other:?}"),
    }
    assert_eq!(plan.customer_code(), None);

    // Email matching off: create directly.
    let mut m = mapping();
    m.customers.match_by_email = false;
    let plan = customer_of(&doc, m, None).unwrap();
    assert!(matches!(&plan.customer, CustomerAction::Create(new) if new.code == "WEB000005"));
    assert_eq!(plan.customer_code(), Some("WEB000005"));
}

#[test]
fn missing_customer_when_not_matched_and_creation_disabled() {
    let mut doc = with_consistent_totals(configurable_order(), "0");
    doc.customer.id = Some(5);
    let mut m = mapping();
    m.customers.match_by_email = false;
    m.customers.create.enabled = false;
    let err = customer_of(&doc, m, None).unwrap_err();
    assert!(matches!(err, MappingError::MissingCustomer { .. }));
    let text = err.to_string();
    assert!(
        text.contains("5 <jane@example.com>") && text.contains("create.enabled is false"),
        "{text}"
    );
}

#[test]
fn customer_code_longer_than_syspro_allows_is_an_error() {
    let mut doc = with_consistent_totals(configurable_order(), "0");
    doc.customer.id = Some(123_456_789);
    let mut m = mapping();
    m.customers.create.code_max_length = 7;
    let err = customer_of(&doc, m, None).unwrap_err();
    assert!(
        matches!(&err, MappingError::CustomerCodeTooLong { code, length: 12, max: 7, .. } if code == "WEB123456789"),
        "{err}"
    );
}

// ---- mapping errors ----

fn plan_err(doc: &SourceDocument, m: connector_core::config::MappingConfig) -> MappingError {
    let r = reference();
    mapper(m).plan(doc, &ctx(&r)).unwrap_err()
}

#[test]
fn unmapped_sku_names_the_line() {
    let mut doc = configurable_order();
    doc.lines[2].sku = "CANDLE-9".to_owned();
    doc.lines[2].category_ids.clear();
    let m = mapping_with(&[("revenue_account = \"4000\"\n", "")]);
    let err = plan_err(&doc, m);
    assert!(
        matches!(&err, MappingError::NoRevenueAccount { sku, item_id: 3, store, .. } if sku == "CANDLE-9" && store == "default"),
        "{err}"
    );
    assert!(err.to_string().contains("CANDLE-9"), "{err}");
}

#[test]
fn gl_account_product_class_and_branch_must_exist_in_syspro() {
    let doc = configurable_order();
    let mut r = reference();
    r.gl_accounts.remove("4020");
    let err = mapper(mapping()).plan(&doc, &ctx(&r)).unwrap_err();
    assert!(
        matches!(&err, MappingError::GlAccountNotInSyspro { account, purpose } if account == "4020" && purpose.contains("MUG-1")),
        "{err}"
    );

    let mut r = reference();
    r.gl_accounts.remove("7900");
    let err = mapper(mapping()).plan(&doc, &ctx(&r)).unwrap_err();
    assert!(
        matches!(&err, MappingError::GlAccountNotInSyspro { purpose, .. } if purpose == "mapping.accounts.rounding"),
        "{err}"
    );

    let mut r = reference();
    r.product_classes.clear();
    let err = mapper(mapping()).plan(&doc, &ctx(&r)).unwrap_err();
    assert!(
        matches!(&err, MappingError::ProductClassNotInSyspro { product_class, .. } if product_class == "WEB"),
        "{err}"
    );

    let mut r = reference();
    r.branches.remove("10");
    let err = mapper(mapping()).plan(&doc, &ctx(&r)).unwrap_err();
    assert!(
        matches!(&err, MappingError::BranchNotInSyspro { branch, store } if branch == "10" && store == "default"),
        "{err}"
    );
}

#[test]
fn invoice_number_longer_than_syspro_allows_names_template_and_length() {
    let mut doc = configurable_order();
    doc.increment_id = "WA00000000000000123".to_owned();
    let err = plan_err(&doc, mapping());
    assert_eq!(
        err,
        MappingError::InvoiceNumberTooLong {
            template: "{store_prefix}{increment_id}".to_owned(),
            number: "W1-WA00000000000000123".to_owned(),
            length: 22,
            max: 20,
        }
    );
    assert!(
        err.to_string().contains("{store_prefix}{increment_id}"),
        "{err}"
    );
}

#[test]
fn currency_unknown_store_and_negative_amounts_are_refused() {
    let mut doc = configurable_order();
    doc.currency = "JPY".to_owned();
    assert!(
        matches!(plan_err(&doc, mapping()), MappingError::CurrencyNotAllowed { ref currency, .. } if currency == "JPY")
    );

    let mut doc = configurable_order();
    doc.store_code = "nowhere".to_owned();
    assert!(matches!(
        plan_err(&doc, mapping()),
        MappingError::UnknownStore { .. }
    ));

    let mut doc = configurable_order();
    doc.lines[2].row_tax = dec("-1.78");
    assert!(matches!(
        plan_err(&doc, mapping()),
        MappingError::NegativeAmount {
            field: "row_tax",
            ..
        }
    ));

    let mut doc = configurable_order();
    doc.grand_total = dec("-1");
    assert!(matches!(
        plan_err(&doc, mapping()),
        MappingError::NegativeInvoiceValue { .. }
    ));
}

#[test]
fn differences_above_the_tolerance_halt_instead_of_being_rounded() {
    let mut doc = configurable_order();
    doc.grand_total = dec("82.98"); // 0.06 above the parts
    let err = plan_err(&doc, mapping());
    assert_eq!(
        err,
        MappingError::RoundingOverTolerance {
            grand_total: dec("82.98"),
            parts: dec("82.92"),
            difference: dec("0.06"),
            tolerance: dec("0.05"),
        }
    );
    // Exactly at the tolerance is still rounding.
    doc.grand_total = dec("82.97");
    let r = reference();
    let plan = mapper(mapping()).plan(&doc, &ctx(&r)).unwrap();
    assert_eq!(plan.rounding, dec("-0.05"));

    // A discount on no line (the over-billing case): the header total disagrees with the lines.
    let mut doc = configurable_order();
    doc.discount_total = dec("17.40");
    doc.grand_total = dec("72.93");
    assert!(matches!(
        plan_err(&doc, mapping()),
        MappingError::TotalsDisagree {
            total: "discount",
            ..
        }
    ));
    let mut doc = configurable_order();
    doc.tax_total = dec("7.00");
    assert!(matches!(
        plan_err(&doc, mapping()),
        MappingError::TotalsDisagree { total: "tax", .. }
    ));
}

#[test]
fn priced_parent_and_child_is_an_error_not_a_double_count() {
    let mut doc = configurable_order();
    doc.lines[1].row_total = dec("50.00");
    assert!(matches!(
        plan_err(&doc, mapping()),
        MappingError::ParentAndChildrenPriced {
            parent_item_id: 1,
            ..
        }
    ));
}

#[test]
fn templates_render_every_placeholder() {
    let r = reference();
    let mut m = mapping();
    m.invoice.number_template =
        connector_core::config::Template::parse("{store_code:09}/{entity_id}").unwrap();
    m.invoice.journal_reference_template =
        connector_core::config::Template::parse("J{invoice}-{order_increment_id}").unwrap();
    m.invoice.notation_template =
        connector_core::config::Template::parse("{kind} {increment_id} {store_prefix}{store_id}")
            .unwrap();
    m.invoice.max_length = 30;
    let plan = mapper(m).plan(&configurable_order(), &ctx(&r)).unwrap();
    assert_eq!(plan.ar_invoice.invoice, "00default/77");
    let journal = plan.journal.unwrap();
    assert_eq!(journal.reference, "J00default/77-000000120");
    assert_eq!(journal.notation, "invoice 000000123 W1-1");
}
