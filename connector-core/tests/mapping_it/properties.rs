//! Properties of the default mapper over generated documents: parent/child lines (configurable,
//! dynamic and fixed-price bundles), discounts, row and shipping tax, zero-value lines, guests,
//! mixed currencies, both discount treatments and both tax postings.

use std::collections::{BTreeMap, BTreeSet};

use connector_core::config::{MappingConfig, TaxPosting};
use connector_core::mapping::{Mapper, MappingError, money_lines, resolve_revenue_account};
use connector_core::plan::{
    AccountPurpose, AmountSource, ArTransactionType, CreditMemoDetails, DocumentKind, PostingPlan,
    SourceDocument, SourceLine,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

use crate::support::{ctx, document, mapper, mapping, reference};

#[derive(Debug, Clone)]
struct Amounts {
    total: i64,
    discount: i64,
    tax: i64,
}

fn amounts() -> impl Strategy<Value = Amounts> {
    prop_oneof![
        1 => Just(Amounts { total: 0, discount: 0, tax: 0 }),
        5 => (1i64..50_000).prop_flat_map(|total| (Just(total), 0..=total, 0..=total / 4 + 1))
            .prop_map(|(total, discount, tax)| Amounts { total, discount, tax }),
    ]
}

#[derive(Debug, Clone)]
struct Product {
    sku: &'static str,
    categories: Vec<u64>,
    attribute_set: Option<u64>,
}

fn product() -> impl Strategy<Value = Product> {
    (
        prop::sample::select(vec![
            "GIFT-CARD",
            "gift-card",
            "TS-RED-M",
            "ts-blue",
            "MUG-1",
            "CANDLE",
            "BOOK-9",
        ]),
        prop::collection::vec(prop::sample::select(vec![3u64, 7, 12]), 0..3),
        prop::option::of(prop::sample::select(vec![4u64, 9])),
    )
        .prop_map(|(sku, categories, attribute_set)| Product {
            sku,
            categories,
            attribute_set,
        })
}

#[derive(Debug, Clone)]
enum Group {
    Simple(Product, Amounts),
    Configurable(Product, Amounts),
    DynamicBundle(Vec<(Product, Amounts)>),
    FixedBundle(Product, Amounts, usize),
}

fn group() -> impl Strategy<Value = Group> {
    prop_oneof![
        3 => (product(), amounts()).prop_map(|(p, a)| Group::Simple(p, a)),
        2 => (product(), amounts()).prop_map(|(p, a)| Group::Configurable(p, a)),
        1 => prop::collection::vec((product(), amounts()), 1..4).prop_map(Group::DynamicBundle),
        1 => (product(), amounts(), 1usize..4).prop_map(|(p, a, n)| Group::FixedBundle(p, a, n)),
    ]
}

#[derive(Debug, Clone)]
struct Scenario {
    groups: Vec<Group>,
    shipping: Amounts,
    currency: &'static str,
    guest: bool,
    store: &'static str,
    /// Cents added to the grand total / tax total / discount total to mimic Commerce's rounding.
    grand_jitter: i64,
    tax_jitter: i64,
    discount_jitter: i64,
    discount_account: bool,
    tax_posting: TaxPosting,
}

fn scenario(grand_jitter: impl Strategy<Value = i64>) -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec(group(), 0..6),
        amounts(),
        prop::sample::select(vec!["USD", "EUR", "JPY"]),
        any::<bool>(),
        prop::sample::select(vec!["default", "wholesale"]),
        grand_jitter,
        -2i64..=2,
        -2i64..=2,
        any::<bool>(),
        prop::sample::select(vec![TaxPosting::Journal, TaxPosting::Syspro]),
    )
        .prop_map(
            |(
                groups,
                shipping,
                currency,
                guest,
                store,
                grand_jitter,
                tax_jitter,
                discount_jitter,
                discount_account,
                tax_posting,
            )| {
                Scenario {
                    groups,
                    shipping,
                    currency,
                    guest,
                    store,
                    grand_jitter,
                    tax_jitter,
                    discount_jitter,
                    discount_account,
                    tax_posting,
                }
            },
        )
}

fn cents(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

fn source_line(id: u64, parent: Option<u64>, kind: &str, p: &Product, a: &Amounts) -> SourceLine {
    SourceLine {
        item_id: id,
        parent_item_id: parent,
        product_type: kind.to_owned(),
        sku: p.sku.to_owned(),
        name: p.sku.to_owned(),
        qty: Decimal::ONE,
        row_total: cents(a.total),
        row_tax: cents(a.tax),
        row_discount: cents(a.discount),
        category_ids: p.categories.clone(),
        attribute_set_id: p.attribute_set,
    }
}

const ZERO: Amounts = Amounts {
    total: 0,
    discount: 0,
    tax: 0,
};

/// Builds the document and the parts total the test expects (independently of the mapper).
fn build(s: &Scenario) -> (SourceDocument, Decimal) {
    let mut doc = document();
    doc.currency = s.currency.to_owned();
    doc.store_code = s.store.to_owned();
    doc.customer.is_guest = s.guest;
    if s.guest {
        doc.customer.id = None;
    }
    let mut next = 100u64;
    let mut id = || {
        next += 1;
        next
    };
    let (mut net, mut tax, mut discount) = (0i64, 0i64, 0i64);
    let mut count = |a: &Amounts| {
        net += a.total;
        tax += a.tax;
        discount += a.discount;
    };
    for g in &s.groups {
        match g {
            Group::Simple(p, a) => {
                doc.lines.push(source_line(id(), None, "simple", p, a));
                count(a);
            }
            Group::Configurable(p, a) => {
                let parent = id();
                doc.lines
                    .push(source_line(parent, None, "configurable", p, a));
                doc.lines
                    .push(source_line(id(), Some(parent), "simple", p, &ZERO));
                count(a);
            }
            Group::DynamicBundle(children) => {
                let parent = id();
                let bundle = Product {
                    sku: "KIT",
                    categories: vec![],
                    attribute_set: None,
                };
                doc.lines
                    .push(source_line(parent, None, "bundle", &bundle, &ZERO));
                for (p, a) in children {
                    doc.lines
                        .push(source_line(id(), Some(parent), "simple", p, a));
                    count(a);
                }
            }
            Group::FixedBundle(p, a, n) => {
                let parent = id();
                doc.lines.push(source_line(parent, None, "bundle", p, a));
                for _ in 0..*n {
                    doc.lines
                        .push(source_line(id(), Some(parent), "simple", p, &ZERO));
                }
                count(a);
            }
        }
    }
    let sh = &s.shipping;
    doc.shipping_amount = cents(sh.total);
    doc.shipping_discount = cents(sh.discount);
    doc.shipping_tax = cents(sh.tax);
    count(sh);
    let parts = net - discount + tax;
    doc.tax_total = cents(tax + s.tax_jitter);
    doc.discount_total = cents((discount + s.discount_jitter).abs());
    doc.grand_total = cents((parts + s.grand_jitter).max(0));
    (doc, cents(parts))
}

fn mapping_for(s: &Scenario) -> MappingConfig {
    let mut m = mapping();
    if !s.discount_account {
        m.accounts.discount = None;
    }
    m.accounts.tax_posting = s.tax_posting;
    m
}

/// The invariants every successful plan must hold.
fn check_plan(
    s: &Scenario,
    doc: &SourceDocument,
    parts: Decimal,
    m: &MappingConfig,
    plan: &PostingPlan,
) -> Result<(), TestCaseError> {
    let grand = doc.grand_total;
    let tax_in_journal = s.tax_posting == TaxPosting::Journal;
    prop_assert_eq!(
        plan.ar_invoice.invoice_value,
        grand,
        "AR invoice value is the grand total"
    );

    let tax_lines: Decimal = money_lines(doc)
        .unwrap()
        .iter()
        .map(|l| l.row_tax)
        .sum::<Decimal>()
        + doc.shipping_tax;
    prop_assert_eq!(plan.ar_invoice.tax_value, tax_lines);

    // The journal balances, and matches the allocations it aggregates.
    let alloc_sum: Decimal = plan.allocations.iter().map(|a| a.amount).sum();
    prop_assert_eq!(alloc_sum, Decimal::ZERO, "allocations balance");
    let mut by_key: BTreeMap<(AccountPurpose, String), Decimal> = BTreeMap::new();
    for a in &plan.allocations {
        prop_assert!(!a.amount.is_zero(), "no zero allocations");
        *by_key.entry((a.purpose, a.account.clone())).or_default() += a.amount;
    }
    by_key.retain(|_, v| !v.is_zero());
    match &plan.journal {
        Some(j) => {
            prop_assert!(j.is_balanced());
            prop_assert_eq!(j.total_debits(), j.total_credits());
            let lines: BTreeMap<(AccountPurpose, String), Decimal> = j
                .lines
                .iter()
                .map(|l| ((l.purpose, l.ledger_code.clone()), l.amount))
                .collect();
            prop_assert_eq!(
                lines.len(),
                j.lines.len(),
                "one journal line per purpose and account"
            );
            prop_assert_eq!(&lines, &by_key);
        }
        None => prop_assert!(by_key.is_empty(), "no journal only when nothing moves"),
    }

    // The clearing account is debited with what the AR invoice put there.
    let clearing: Decimal = plan
        .allocations
        .iter()
        .filter(|a| a.purpose == AccountPurpose::Clearing)
        .map(|a| a.amount)
        .sum();
    let expected_clearing = if tax_in_journal {
        grand
    } else {
        grand - tax_lines
    };
    prop_assert_eq!(clearing, expected_clearing);

    // Rounding appears exactly when the parts do not add up, and books the difference.
    let rounding: Vec<_> = plan
        .allocations
        .iter()
        .filter(|a| a.purpose == AccountPurpose::Rounding)
        .collect();
    if grand == parts {
        prop_assert!(
            rounding.is_empty(),
            "no rounding line when the parts add up"
        );
        prop_assert_eq!(plan.rounding, Decimal::ZERO);
    } else {
        prop_assert_eq!(rounding.len(), 1);
        prop_assert_eq!(rounding[0].amount, parts - grand);
        prop_assert_eq!(&rounding[0].account, &m.accounts.rounding);
        prop_assert!((grand - parts).abs() <= m.rounding_tolerance);
    }

    // Every money-carrying line lands, whole, on exactly one revenue account (the one the
    // precedence picks); lines without money and the parents/children that do not count land nowhere.
    let money: Vec<&SourceLine> = money_lines(doc).unwrap();
    let money_ids: BTreeSet<u64> = money.iter().map(|l| l.item_id).collect();
    for a in &plan.allocations {
        if let AmountSource::Line { item_id, .. } = &a.source {
            prop_assert!(
                money_ids.contains(item_id),
                "allocation for a line that carries no counted money"
            );
        }
    }
    for l in &money {
        let mine: Vec<_> = plan
            .allocations
            .iter()
            .filter(|a| matches!(&a.source, AmountSource::Line { item_id, .. } if *item_id == l.item_id))
            .collect();
        let revenue_accounts: BTreeSet<&str> = mine
            .iter()
            .filter(|a| a.purpose == AccountPurpose::Revenue)
            .map(|a| a.account.as_str())
            .collect();
        prop_assert!(
            revenue_accounts.len() <= 1,
            "line {} on several revenue accounts",
            l.item_id
        );
        let net = l.row_total - l.row_discount;
        let needs_revenue = if s.discount_account {
            !l.row_total.is_zero()
        } else {
            !net.is_zero()
        };
        if needs_revenue {
            let expected = resolve_revenue_account(m, &doc.store_code, l)
                .unwrap()
                .account;
            prop_assert_eq!(revenue_accounts.iter().next().copied(), Some(expected));
        }
        let booked: Decimal = mine.iter().map(|a| a.amount).sum();
        let expected_tax = if tax_in_journal {
            l.row_tax
        } else {
            Decimal::ZERO
        };
        prop_assert_eq!(booked, -(net + expected_tax), "the whole line is booked");
    }
    let shipping: Decimal = plan
        .allocations
        .iter()
        .filter(|a| a.source == AmountSource::Shipping)
        .map(|a| a.amount)
        .sum();
    let shipping_tax = if tax_in_journal {
        doc.shipping_tax
    } else {
        Decimal::ZERO
    };
    prop_assert_eq!(
        shipping,
        -(doc.shipping_amount - doc.shipping_discount + shipping_tax)
    );

    // Every account used is one SYSPRO knows.
    let r = reference();
    for a in &plan.allocations {
        prop_assert!(r.gl_accounts.contains(&a.account));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn plans_balance_and_match_commerce_to_the_cent(s in scenario(-5i64..=5)) {
        let (doc, parts) = build(&s);
        let m = mapping_for(&s);
        let r = reference();
        let result = mapper(m.clone()).plan(&doc, &ctx(&r));
        if s.currency == "JPY" {
            prop_assert!(matches!(result, Err(MappingError::CurrencyNotAllowed { .. })), "{result:?}");
            return Ok(());
        }
        match result {
            Ok(plan) => check_plan(&s, &doc, parts, &m, &plan)?,
            Err(MappingError::NoCashCustomer { store, .. }) => {
                prop_assert!(s.guest && store == "wholesale");
            }
            Err(MappingError::NoRevenueAccount { item_id, store, .. }) => {
                // Only the wholesale store lacks a default revenue account, and only a line that
                // no rule matches is refused.
                prop_assert_eq!(store.as_str(), "wholesale");
                let line = doc.lines.iter().find(|l| l.item_id == item_id).unwrap();
                prop_assert!(resolve_revenue_account(&m, "wholesale", line).is_none());
            }
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }

    #[test]
    fn credit_memos_reverse_the_invoice_plan_and_match_commerce_to_the_cent(
        s in scenario(-5i64..=5),
        adjustment in prop_oneof![Just(0i64), -2_000i64..=2_000],
    ) {
        let (mut doc, _) = build(&s);
        let mut m = mapping_for(&s);
        m.credit_memos.adjustment_account = Some("2400".to_owned());
        let r = reference();
        let invoice = mapper(m.clone()).plan(&doc, &ctx(&r));
        doc.kind = DocumentKind::CreditMemo;
        let without = CreditMemoDetails {
            adjustment: Decimal::ZERO,
            invoice_increment_id: Some("000000042".to_owned()),
        };
        let memo = mapper(m.clone()).plan_credit_memo(&doc, &without, &ctx(&r));
        match (&invoice, &memo) {
            (Ok(invoice), Ok(memo)) => {
                prop_assert_eq!(memo.ar_invoice.transaction_type, ArTransactionType::CreditNote);
                prop_assert_eq!(memo.ar_invoice.invoice_value, invoice.ar_invoice.invoice_value);
                prop_assert_eq!(memo.ar_invoice.tax_value, invoice.ar_invoice.tax_value);
                prop_assert_ne!(&memo.ar_invoice.invoice, &invoice.ar_invoice.invoice);
                // The credit note names the invoice it credits (store prefix + its increment id).
                prop_assert!(memo.ar_invoice.reference.ends_with("000000042"));
                prop_assert_eq!(memo.rounding, -invoice.rounding);
                let reversed = |plan: &PostingPlan| -> Vec<(String, Decimal)> {
                    plan.journal.iter().flat_map(|j| &j.lines)
                        .map(|l| (l.ledger_code.clone(), -l.amount)).collect()
                };
                let lines = |plan: &PostingPlan| -> Vec<(String, Decimal)> {
                    plan.journal.iter().flat_map(|j| &j.lines)
                        .map(|l| (l.ledger_code.clone(), l.amount)).collect()
                };
                prop_assert_eq!(lines(memo), reversed(invoice));
                for (a, b) in memo.allocations.iter().zip(&invoice.allocations) {
                    prop_assert_eq!(a.amount, -b.amount);
                    prop_assert_eq!(&a.account, &b.account);
                }
            }
            (Err(a), Err(b)) => {
                prop_assert_eq!(std::mem::discriminant(a), std::mem::discriminant(b), "{} / {}", a, b);
            }
            (a, b) => prop_assert!(false, "invoice {a:?} but credit memo {b:?}"),
        }

        // With an adjustment refunded (or a fee kept) the credit note still carries the memo's
        // grand total exactly, the journal balances and the adjustment sits on its account.
        if memo.is_err() || adjustment == 0 {
            return Ok(());
        }
        doc.grand_total += Decimal::new(adjustment, 2);
        if doc.grand_total < Decimal::ZERO {
            return Ok(());
        }
        let details = CreditMemoDetails { adjustment: Decimal::new(adjustment, 2), ..without };
        let plan = mapper(m.clone()).plan_credit_memo(&doc, &details, &ctx(&r));
        let plan = match plan {
            Ok(plan) => plan,
            Err(e) => { prop_assert!(false, "{e}"); unreachable!() }
        };
        prop_assert_eq!(plan.ar_invoice.invoice_value, doc.grand_total);
        let journal = plan.journal.as_ref().expect("a journal");
        prop_assert!(journal.is_balanced());
        let on_adjustment: Decimal = plan.allocations.iter()
            .filter(|a| a.purpose == AccountPurpose::Adjustment)
            .map(|a| a.amount)
            .sum();
        prop_assert_eq!(on_adjustment, Decimal::new(adjustment, 2));

        // Without an adjustment account the memo halts with a reason.
        m.credit_memos.adjustment_account = None;
        let refused = mapper(m).plan_credit_memo(&doc, &details, &ctx(&r));
        let is_refused = matches!(refused, Err(MappingError::NoAdjustmentAccount { .. }));
        prop_assert!(is_refused, "{:?}", refused);
    }

    #[test]
    fn differences_above_the_tolerance_are_refused(
        s in scenario(prop_oneof![-500i64..=-6, 6i64..=500]),
    ) {
        let mut s = s;
        s.currency = "USD";
        s.store = "default";
        let (doc, parts) = build(&s);
        prop_assume!(doc.grand_total != parts && (doc.grand_total - parts).abs() > Decimal::new(5, 2));
        let r = reference();
        let result = mapper(mapping_for(&s)).plan(&doc, &ctx(&r));
        let refused = matches!(result, Err(MappingError::RoundingOverTolerance { .. }));
        prop_assert!(refused, "{:?}", result);
    }
}
