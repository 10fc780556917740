//! The `sales_order` target of the default mapper: worked examples, the documented refusals, the
//! SORTOI document built from a plan, and properties over generated documents.

use std::collections::BTreeSet;

use connector_core::config::{MappingConfig, PostingTarget};
use connector_core::engine::convert;
use connector_core::mapping::{DefaultMapper, Mapper, MappingError, money_lines};
use connector_core::plan::{
    CreditMemoDetails, CustomerAction, DocumentKind, FreightCharge, PostingPlan, SourceDocument,
    SourceLine, to_cents,
};
use proptest::prelude::*;
use rust_decimal::Decimal;
use syspro_client::bo;

use crate::support::{ctx, dec, document, line, mapping_with, reference, with_consistent_totals};

const SALES_ORDERS: &str = r#"
[sales_orders]
stock_code_prefixes = ["TS-", "MUG-"]
warehouse = "FG"
[sales_orders.stock_codes]
"candle" = "CNDL01"
"BOOK-9" = "BK9"
"GIFT-CARD" = "GC"
"KIT" = "KIT01"
"FREE-PEN" = "PEN01"

[stores.default]"#;

fn so_mapping(extra: &[(&str, &str)]) -> MappingConfig {
    let mut edits = vec![("\n[stores.default]", SALES_ORDERS)];
    edits.extend_from_slice(extra);
    mapping_with(&edits)
}

fn so_mapper(m: MappingConfig) -> DefaultMapper {
    DefaultMapper::new(m, PostingTarget::SalesOrder)
}

fn plan(doc: &SourceDocument) -> Result<PostingPlan, MappingError> {
    let r = reference();
    so_mapper(so_mapping(&[])).plan(doc, &ctx(&r))
}

fn child(
    item_id: u64,
    parent: u64,
    sku: &str,
    total: &str,
    discount: &str,
    tax: &str,
) -> SourceLine {
    SourceLine {
        parent_item_id: Some(parent),
        ..line(item_id, sku, total, discount, tax)
    }
}

/// A configurable T-shirt (two at 25.00, 5.00 off), a dynamic bundle of a candle and a book, a
/// free pen, shipping with a discount, and a rounding cent on the grand total.
fn mixed_order() -> SourceDocument {
    let mut doc = document();
    doc.kind = DocumentKind::Order;
    doc.increment_id = "000000120".into();
    let mut shirt = line(1, "TS-RED-M", "50.00", "5.00", "3.71");
    shirt.product_type = "configurable".into();
    shirt.qty = dec("2");
    let mut bundle = line(3, "KIT", "0", "0", "0");
    bundle.product_type = "bundle".into();
    doc.lines = vec![
        shirt,
        child(2, 1, "TS-RED-M", "0", "0", "0"),
        bundle,
        child(4, 3, "CANDLE", "12.00", "0", "0.99"),
        child(5, 3, "BOOK-9", "20.00", "2.00", "1.49"),
        line(6, "FREE-PEN", "0", "0", "0"),
    ];
    doc.shipping_amount = dec("10.00");
    doc.shipping_discount = dec("2.50");
    doc.shipping_tax = dec("0.62");
    with_consistent_totals(doc, "0.01")
}

#[test]
fn a_mixed_order_becomes_one_stock_line_per_priced_item_plus_free_items_and_freight() {
    let doc = mixed_order();
    let plan = plan(&doc).expect("plans");
    let so = plan.sales_order.as_ref().expect("a sales order");
    assert!(plan.journal.is_none(), "no GL journal for a sales order");
    assert!(convert::ar_invoice_item(&plan).is_none(), "no ARSTIN item");
    assert_eq!(so.customer_po_number, "W1-000000120");
    assert_eq!(so.customer.as_deref(), Some("ACME01"));
    assert_eq!(so.order_date, doc.created_at.date());
    assert_eq!(so.branch, "10");
    assert_eq!(so.email.as_deref(), Some("jane@example.com"));
    assert_eq!(so.customer_name, None, "only guests carry a name");
    let got: Vec<(u16, u64, &str, String, String, String)> = so
        .lines
        .iter()
        .map(|l| {
            (
                l.customer_po_line,
                l.item_id,
                l.stock_code.as_str(),
                l.quantity.to_string(),
                l.price.to_string(),
                l.value.to_string(),
            )
        })
        .collect();
    let s = |t: &str| t.to_owned();
    assert_eq!(
        got,
        vec![
            (1, 1, "TS-RED-M", s("2"), s("22.5"), s("45.00")),
            (2, 4, "CNDL01", s("1"), s("12"), s("12.00")),
            (3, 5, "BK9", s("1"), s("18"), s("18.00")),
            (4, 6, "PEN01", s("1"), s("0"), s("0")),
        ]
    );
    assert!(
        so.lines
            .iter()
            .all(|l| l.warehouse.as_deref() == Some("FG"))
    );
    assert!(so.lines.iter().all(|l| l.unit_of_measure == "EA"));
    assert_eq!(
        so.freight,
        Some(FreightCharge::Freight {
            customer_po_line: 5,
            value: dec("7.50")
        })
    );
    assert_eq!(so.value(), dec("82.50"));
    assert_eq!(so.commerce_tax, dec("6.81"));
    assert_eq!(plan.rounding, dec("0.01"));
    assert_eq!(
        so.value() + so.commerce_tax + plan.rounding,
        doc.grand_total,
        "value + Commerce's tax + rounding is the grand total"
    );
    let ship_to = so.ship_to.as_ref().expect("ship-to");
    assert_eq!(ship_to.lines, ["1 Main St", "Springfield, IL", "US"]);
    assert_eq!(ship_to.postal_code.as_deref(), Some("62701"));
}

#[test]
fn the_sortoi_document_carries_exactly_the_plan() {
    let plan = plan(&mixed_order()).expect("plans");
    let order = convert::sales_order(&plan).expect("a SORTOI order");
    let import = bo::SalesOrderImport {
        parameters: convert::sales_order_parameters(),
        orders: vec![order],
    };
    let xml = import.document_xml().expect("within SORTOI's limits");
    for part in [
        "<CustomerPoNumber>W1-000000120</CustomerPoNumber>",
        "<Customer>ACME01</Customer>",
        "<OrderDate>2026-03-04</OrderDate>",
        "<ShipAddress2>Springfield, IL</ShipAddress2>",
        "<Branch>10</Branch>",
        "<StockCode>TS-RED-M</StockCode><StockDescription>TS-RED-M product</StockDescription><Warehouse>FG</Warehouse><OrderQty>2</OrderQty><OrderUom>EA</OrderUom><Price>22.50</Price><PriceUom>EA</PriceUom>",
        "<StockCode>PEN01</StockCode>",
        "<FreightLine><CustomerPoLine>0005</CustomerPoLine><LineActionType>A</LineActionType><FreightValue>7.50</FreightValue></FreightLine>",
    ] {
        assert!(xml.contains(part), "{part} missing from {xml}");
    }
    let parameters = import.parameters_xml().expect("parameters");
    for part in [
        "<AlwaysUsePriceEntered>Y</AlwaysUsePriceEntered>",
        "<AllowZeroPrice>Y</AllowZeroPrice>",
        "<AllowDuplicateOrderNumbers>N</AllowDuplicateOrderNumbers>",
        "<CheckForCustomerPoNumbers>Y</CheckForCustomerPoNumbers>",
    ] {
        assert!(
            parameters.contains(part),
            "{part} missing from {parameters}"
        );
    }
}

#[test]
fn guests_go_to_the_cash_customer_with_their_name_on_the_order() {
    let mut doc = mixed_order();
    doc.customer.is_guest = true;
    doc.customer.id = None;
    let plan = plan(&doc).expect("plans");
    assert_eq!(
        plan.customer,
        CustomerAction::Cash {
            code: "CASH01".into()
        }
    );
    let so = plan.sales_order.unwrap();
    assert_eq!(so.customer.as_deref(), Some("CASH01"));
    assert_eq!(so.customer_name.as_deref(), Some("Jane Doe"));
}

#[test]
fn an_unmapped_sku_halts_naming_the_sku_and_the_settings() {
    let mut doc = mixed_order();
    doc.lines[4].sku = "POSTER-1".into();
    let err = plan(&doc).unwrap_err();
    assert!(
        matches!(&err, MappingError::NoStockCode { sku, item_id: 5, .. } if sku == "POSTER-1"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("mapping.sales_orders.stock_codes"), "{text}");
    assert!(text.contains("stock_code_prefixes"), "{text}");
}

#[test]
fn the_customer_po_number_may_use_sortoi_s_thirty_characters_and_no_more() {
    let r = reference();
    let doc = mixed_order();
    let long_prefix = "W1-ABCDEFGHIJKLMNOPQRS"; // 22 + 9 = 31 characters
    let m = so_mapping(&[(
        r#"invoice_prefix = "W1-""#,
        r#"invoice_prefix = "W1-ABCDEFGHIJKLMNOPQRS""#,
    )]);
    let err = so_mapper(m).plan(&doc, &ctx(&r)).unwrap_err();
    assert!(
        matches!(&err, MappingError::CustomerPoNumberTooLong { length: 31, max: 30, number, .. } if number.starts_with(long_prefix)),
        "{err:?}"
    );
    assert!(err.to_string().contains("mapping.invoice.number_template"));
    // 30 characters: longer than an AR invoice number may be, but a valid customer PO number.
    let m = so_mapping(&[(
        r#"invoice_prefix = "W1-""#,
        r#"invoice_prefix = "W1-ABCDEFGHIJKLMNOPQR""#,
    )]);
    let plan = so_mapper(m)
        .plan(&doc, &ctx(&r))
        .expect("30 characters fit");
    assert_eq!(
        plan.sales_order.unwrap().customer_po_number.chars().count(),
        30
    );
}

#[test]
fn addresses_are_never_cut() {
    let mut doc = mixed_order();
    let address = doc.customer.shipping_address.as_mut().unwrap();
    address.street = vec!["Unit 4".into(), "X".repeat(41)];
    let err = plan(&doc).unwrap_err();
    assert!(
        matches!(&err, MappingError::SalesOrderFieldTooLong { field, what, length: 41, max: 40, .. }
            if field == "ShipAddress2" && what == "shipping address street line 2"),
        "{err:?}"
    );

    let mut doc = mixed_order();
    let address = doc.customer.shipping_address.as_mut().unwrap();
    address.company = Some("Big Co".into());
    address.street = vec!["Building 7".into(), "Floor 3".into(), "1 Main St".into()];
    let err = plan(&doc).unwrap_err();
    assert!(
        matches!(
            err,
            MappingError::ShipAddressTooLong {
                needed: 6,
                max: 5,
                ..
            }
        ),
        "{err:?}"
    );

    let mut doc = mixed_order();
    let address = doc.customer.shipping_address.as_mut().unwrap();
    address.city = "Llanfairpwllgwyngyll".into();
    address.region = Some("Isle of Anglesey, Wales".into());
    let so = plan(&doc)
        .expect("city and region on lines of their own")
        .sales_order
        .unwrap();
    assert_eq!(
        so.ship_to.unwrap().lines,
        [
            "1 Main St",
            "Llanfairpwllgwyngyll",
            "Isle of Anglesey, Wales",
            "US"
        ]
    );

    let mut doc = mixed_order();
    doc.customer.shipping_address.as_mut().unwrap().postcode = "1234567890123456".into();
    assert!(matches!(
        plan(&doc).unwrap_err(),
        MappingError::SalesOrderFieldTooLong { field, .. } if field == "ShipPostalCode"
    ));

    let mut doc = mixed_order();
    doc.customer.shipping_address = None;
    assert_eq!(plan(&doc).unwrap().sales_order.unwrap().ship_to, None);
}

#[test]
fn quantities_and_prices_are_checked_to_the_cent() {
    let mut doc = document();
    let mut mugs = line(1, "MUG-1", "10.00", "0", "0");
    mugs.qty = dec("3");
    doc.lines = vec![mugs];
    let so = plan(&with_consistent_totals(doc.clone(), "0"))
        .unwrap()
        .sales_order
        .unwrap();
    assert_eq!(so.lines[0].price, dec("3.33333"));
    assert_eq!(to_cents(so.lines[0].price * dec("3")), dec("10.00"));

    doc.lines[0].qty = dec("3000");
    doc.lines[0].row_total = dec("0.01");
    let err = plan(&with_consistent_totals(doc.clone(), "0")).unwrap_err();
    assert!(
        matches!(err, MappingError::PriceNotExact { item_id: 1, .. }),
        "{err:?}"
    );

    doc.lines[0].qty = Decimal::ZERO;
    let err = plan(&with_consistent_totals(doc, "0")).unwrap_err();
    assert!(
        matches!(err, MappingError::InvalidQuantity { item_id: 1, .. }),
        "{err:?}"
    );
}

#[test]
fn freight_may_be_a_miscellaneous_charge_and_zero_freight_is_no_line() {
    let r = reference();
    let m = so_mapping(&[(
        "warehouse = \"FG\"",
        "warehouse = \"FG\"\nfreight = \"misc_charge\"\nfreight_product_class = \"_FRT\"",
    )]);
    let plan = so_mapper(m).plan(&mixed_order(), &ctx(&r)).unwrap();
    assert_eq!(
        plan.sales_order.as_ref().unwrap().freight,
        Some(FreightCharge::MiscCharge {
            customer_po_line: 5,
            value: dec("7.50"),
            product_class: "_FRT".into(),
            description: "Shipping".into(),
        })
    );
    let xml = bo::SalesOrderImport::new(vec![convert::sales_order(&plan).unwrap()])
        .document_xml()
        .unwrap();
    assert!(
        xml.contains(
            "<MiscChargeValue>7.50</MiscChargeValue><MiscProductClass>_FRT</MiscProductClass>"
        ),
        "{xml}"
    );

    let mut doc = mixed_order();
    doc.shipping_amount = dec("2.50");
    let doc = with_consistent_totals(doc, "0");
    assert_eq!(plan_freight(&doc), None);
}

fn plan_freight(doc: &SourceDocument) -> Option<FreightCharge> {
    plan(doc).unwrap().sales_order.unwrap().freight
}

#[test]
fn store_warehouse_wins_and_totals_are_checked_as_for_invoices() {
    let r = reference();
    let m = so_mapping(&[(r#"branch = "10""#, "branch = \"10\"\nwarehouse = \"S1\"")]);
    let plan = so_mapper(m).plan(&mixed_order(), &ctx(&r)).unwrap();
    assert!(
        plan.sales_order
            .unwrap()
            .lines
            .iter()
            .all(|l| l.warehouse.as_deref() == Some("S1"))
    );

    let mut doc = mixed_order();
    doc.grand_total += dec("1.00");
    assert!(matches!(
        plan_err(&doc),
        MappingError::RoundingOverTolerance { .. }
    ));
    let mut doc = mixed_order();
    doc.tax_total += dec("1.00");
    assert!(matches!(
        plan_err(&doc),
        MappingError::TotalsDisagree { total: "tax", .. }
    ));
}

fn plan_err(doc: &SourceDocument) -> MappingError {
    plan(doc).unwrap_err()
}

#[test]
fn credit_memos_are_not_planned_as_sales_orders() {
    let r = reference();
    let mut doc = mixed_order();
    doc.kind = DocumentKind::CreditMemo;
    let err = so_mapper(so_mapping(&[]))
        .plan_credit_memo(&doc, &CreditMemoDetails::default(), &ctx(&r))
        .unwrap_err();
    assert!(
        matches!(
            err,
            MappingError::UnsupportedDocument {
                kind: "credit memo"
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_customer_matched_by_email_has_no_document_until_resolved() {
    let mut doc = mixed_order();
    doc.customer.id = Some(5);
    let plan = plan(&doc).unwrap();
    assert!(matches!(plan.customer, CustomerAction::MatchByEmail { .. }));
    assert!(convert::sales_order(&plan).is_none());
}

// ---- properties ---------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Item {
    sku: &'static str,
    qty: Decimal,
    total: i64,
    discount: i64,
    tax: i64,
}

fn item() -> impl Strategy<Value = Item> {
    (
        prop::sample::select(vec![
            "TS-RED-M",
            "ts-blue",
            "MUG-1",
            "CANDLE",
            "BOOK-9",
            "GIFT-CARD",
        ]),
        prop::sample::select(vec!["1", "2", "3", "7", "0.5", "1.25"]),
        prop_oneof![1 => Just(0i64), 6 => 1i64..40_000],
    )
        .prop_flat_map(|(sku, qty, total)| {
            (
                Just(sku),
                Just(qty),
                Just(total),
                0..=total,
                0..=total / 5 + 1,
            )
        })
        .prop_map(|(sku, qty, total, discount, tax)| Item {
            sku,
            qty: qty.parse().unwrap(),
            total,
            discount,
            tax,
        })
}

#[derive(Debug, Clone)]
enum Group {
    Simple(Item),
    Configurable(Item),
    DynamicBundle(Vec<Item>),
    FixedBundle(Item, usize),
}

fn group() -> impl Strategy<Value = Group> {
    prop_oneof![
        3 => item().prop_map(Group::Simple),
        2 => item().prop_map(Group::Configurable),
        1 => prop::collection::vec(item(), 1..4).prop_map(Group::DynamicBundle),
        1 => (item(), 1usize..3).prop_map(|(i, n)| Group::FixedBundle(i, n)),
    ]
}

fn cents(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

fn source(id: u64, parent: Option<u64>, kind: &str, i: &Item, priced: bool) -> SourceLine {
    let pick = |c: i64| if priced { cents(c) } else { Decimal::ZERO };
    SourceLine {
        item_id: id,
        parent_item_id: parent,
        product_type: kind.to_owned(),
        sku: i.sku.to_owned(),
        name: i.sku.to_owned(),
        qty: i.qty,
        row_total: pick(i.total),
        row_tax: pick(i.tax),
        row_discount: pick(i.discount),
        category_ids: Vec::new(),
        attribute_set_id: None,
    }
}

fn build(groups: &[Group], shipping: (i64, i64, i64), guest: bool, jitter: i64) -> SourceDocument {
    let mut doc = document();
    doc.customer.is_guest = guest;
    if guest {
        doc.customer.id = None;
    }
    let mut next = 0u64;
    let mut id = || {
        next += 1;
        next
    };
    for g in groups {
        match g {
            Group::Simple(i) => doc.lines.push(source(id(), None, "simple", i, true)),
            Group::Configurable(i) => {
                let parent = id();
                doc.lines
                    .push(source(parent, None, "configurable", i, true));
                doc.lines
                    .push(source(id(), Some(parent), "simple", i, false));
            }
            Group::DynamicBundle(children) => {
                let parent = id();
                let kit = Item {
                    sku: "KIT",
                    qty: Decimal::ONE,
                    total: 0,
                    discount: 0,
                    tax: 0,
                };
                doc.lines.push(source(parent, None, "bundle", &kit, false));
                for c in children {
                    doc.lines
                        .push(source(id(), Some(parent), "simple", c, true));
                }
            }
            Group::FixedBundle(i, n) => {
                let parent = id();
                doc.lines.push(source(parent, None, "bundle", i, true));
                for _ in 0..*n {
                    doc.lines
                        .push(source(id(), Some(parent), "simple", i, false));
                }
            }
        }
    }
    let (total, discount, tax) = shipping;
    doc.shipping_amount = cents(total);
    doc.shipping_discount = cents(discount.min(total));
    doc.shipping_tax = cents(tax);
    let mut doc = with_consistent_totals(doc, "0");
    doc.grand_total = (doc.grand_total + cents(jitter)).max(Decimal::ZERO);
    doc
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn sales_order_value_tax_and_rounding_make_the_grand_total_and_every_priced_item_is_one_line(
        groups in prop::collection::vec(group(), 0..6),
        shipping in (0i64..3_000, 0i64..1_000, 0i64..300),
        guest in any::<bool>(),
        jitter in -3i64..=3,
    ) {
        let doc = build(&groups, shipping, guest, jitter);
        let plan = match plan(&doc) {
            Ok(plan) => plan,
            Err(MappingError::RoundingOverTolerance { difference, tolerance, .. }) => {
                prop_assert!(difference.abs() > tolerance);
                return Ok(());
            }
            Err(MappingError::EmptySalesOrder) => {
                prop_assert!(doc.lines.is_empty());
                return Ok(());
            }
            Err(other) => return Err(TestCaseError::fail(format!("{other}"))),
        };
        let so = plan.sales_order.as_ref().expect("a sales order");

        // The money: value + Commerce's tax + rounding is the grand total, to the cent.
        prop_assert_eq!(so.value() + so.commerce_tax + plan.rounding, to_cents(doc.grand_total));
        prop_assert!(plan.rounding.abs() <= dec("0.05"));
        let money = money_lines(&doc).unwrap();
        let tax: Decimal = money.iter().map(|l| l.row_tax).sum::<Decimal>() + doc.shipping_tax;
        prop_assert_eq!(so.commerce_tax, tax);
        let freight = doc.shipping_amount - doc.shipping_discount;
        prop_assert_eq!(so.freight.as_ref().map_or(Decimal::ZERO, FreightCharge::value), freight);
        prop_assert_eq!(so.freight.is_some(), !freight.is_zero());

        // Every priced item is exactly one line, at its net row value, whose price gives that
        // value back to the cent; other lines are free items at price zero.
        let priced: BTreeSet<u64> = money.iter().map(|l| l.item_id).collect();
        let on_lines: Vec<u64> = so.lines.iter().map(|l| l.item_id).collect();
        let unique: BTreeSet<u64> = on_lines.iter().copied().collect();
        prop_assert_eq!(unique.len(), on_lines.len(), "no item on two lines");
        prop_assert!(priced.is_subset(&unique), "every priced item has a line");
        for l in &so.lines {
            let source = doc.lines.iter().find(|s| s.item_id == l.item_id).unwrap();
            prop_assert_eq!(l.value, source.row_total - source.row_discount);
            prop_assert_eq!(l.quantity, source.qty);
            prop_assert!(l.price.scale() <= 5);
            prop_assert_eq!(to_cents(l.price * l.quantity), l.value);
            if !priced.contains(&l.item_id) {
                prop_assert!(source.parent_item_id.is_none());
                prop_assert_eq!(l.value, Decimal::ZERO);
            }
        }

        // Lines are numbered 1.. in order, freight last; the document is within SORTOI's limits.
        let numbers: Vec<u16> = so.lines.iter().map(|l| l.customer_po_line).collect();
        let expected: Vec<u16> = (1..=u16::try_from(so.lines.len()).unwrap()).collect();
        prop_assert_eq!(numbers, expected);
        let order = convert::sales_order(&plan).expect("the customer is known");
        let checked = bo::SalesOrderImport::new(vec![order]).document_xml();
        prop_assert!(checked.is_ok(), "{:?}", checked);
        prop_assert_eq!(
            so.customer.as_deref(),
            Some(if guest { "CASH01" } else { "ACME01" })
        );
    }
}
