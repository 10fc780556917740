//! Which item lines carry a document's money.
//!
//! Commerce reports a configurable product as a parent line with the price and a child line (the
//! chosen simple product) without one, and a dynamically priced bundle as a parent line without row
//! totals and child lines with their own prices; a fixed-price bundle prices the parent. Summing
//! parents and children would count the money twice (a known cause of over-billing).
//!
//! The rule, which covers all three without naming product types: within a parent and its
//! descendants, the parent carries the money when it has any non-zero amount; otherwise each child
//! is looked at the same way. A parent *and* a child both carrying amounts is not a shape Commerce
//! produces, so it is an error rather than a guess. Lines without any amount carry no money and need
//! no GL account.

use std::collections::{BTreeMap, BTreeSet};

use super::MappingError;
use crate::plan::{SourceDocument, SourceLine};

/// The lines whose amounts are booked, in document order.
///
/// # Errors
/// [`MappingError::ParentAndChildrenPriced`] when a parent and one of its descendants both carry
/// amounts; [`MappingError::MalformedLines`] for duplicate item ids or a parent cycle.
pub fn money_lines(doc: &SourceDocument) -> Result<Vec<&SourceLine>, MappingError> {
    let mut by_id: BTreeMap<u64, &SourceLine> = BTreeMap::new();
    for line in &doc.lines {
        if by_id.insert(line.item_id, line).is_some() {
            return Err(MappingError::MalformedLines {
                item_id: line.item_id,
                reason: "the item id appears on two lines".to_owned(),
            });
        }
    }
    let parent_of = |line: &SourceLine| {
        line.parent_item_id
            .filter(|p| *p != line.item_id && by_id.contains_key(p))
    };
    let mut children: BTreeMap<u64, Vec<&SourceLine>> = BTreeMap::new();
    for line in &doc.lines {
        if let Some(parent) = parent_of(line) {
            children.entry(parent).or_default().push(line);
        }
    }

    let mut chosen: BTreeSet<u64> = BTreeSet::new();
    let mut visited: BTreeSet<u64> = BTreeSet::new();
    for root in doc.lines.iter().filter(|l| parent_of(l).is_none()) {
        choose(root, &children, &mut chosen, &mut visited)?;
    }
    if let Some(stray) = doc.lines.iter().find(|l| !visited.contains(&l.item_id)) {
        return Err(MappingError::MalformedLines {
            item_id: stray.item_id,
            reason: "its parent_item_id chain loops back to itself".to_owned(),
        });
    }
    Ok(doc
        .lines
        .iter()
        .filter(|l| chosen.contains(&l.item_id))
        .collect())
}

fn choose(
    line: &SourceLine,
    children: &BTreeMap<u64, Vec<&SourceLine>>,
    chosen: &mut BTreeSet<u64>,
    visited: &mut BTreeSet<u64>,
) -> Result<(), MappingError> {
    // Iterative walk of the subtree: records every descendant as visited and finds priced ones.
    let mut stack: Vec<&SourceLine> = children.get(&line.item_id).cloned().unwrap_or_default();
    let mut priced_descendant = false;
    visited.insert(line.item_id);
    let mut subtree = Vec::new();
    while let Some(next) = stack.pop() {
        if !visited.insert(next.item_id) {
            continue;
        }
        priced_descendant |= next.carries_money();
        subtree.push(next);
        if let Some(more) = children.get(&next.item_id) {
            stack.extend(more.iter().copied());
        }
    }
    match (line.carries_money(), priced_descendant) {
        (true, true) => Err(MappingError::ParentAndChildrenPriced {
            parent_item_id: line.item_id,
            sku: line.sku.clone(),
        }),
        (true, false) => {
            chosen.insert(line.item_id);
            Ok(())
        }
        (false, false) => Ok(()),
        (false, true) => {
            // Re-examine each direct child as the parent of its own subtree.
            for node in &subtree {
                visited.remove(&node.item_id);
            }
            for child in children.get(&line.item_id).into_iter().flatten() {
                choose(child, children, chosen, visited)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use time::macros::datetime;

    use super::*;
    use crate::plan::{DocumentKind, SourceCustomer};

    fn line(item_id: u64, parent: Option<u64>, kind: &str, row_total: i64) -> SourceLine {
        SourceLine {
            item_id,
            parent_item_id: parent,
            product_type: kind.to_owned(),
            sku: format!("SKU-{item_id}"),
            name: format!("Item {item_id}"),
            qty: Decimal::ONE,
            row_total: Decimal::new(row_total, 2),
            row_tax: Decimal::ZERO,
            row_discount: Decimal::ZERO,
            category_ids: vec![],
            attribute_set_id: None,
        }
    }

    fn doc(lines: Vec<SourceLine>) -> SourceDocument {
        SourceDocument {
            kind: DocumentKind::Order,
            entity_id: 1,
            increment_id: "000000001".into(),
            order_increment_id: "000000001".into(),
            store_id: 1,
            store_code: "default".into(),
            currency: "USD".into(),
            created_at: datetime!(2026-01-02 03:04:05 UTC),
            updated_at: datetime!(2026-01-02 03:04:05 UTC),
            customer: SourceCustomer::default(),
            lines,
            shipping_amount: Decimal::ZERO,
            shipping_tax: Decimal::ZERO,
            shipping_discount: Decimal::ZERO,
            discount_total: Decimal::ZERO,
            tax_total: Decimal::ZERO,
            grand_total: Decimal::ZERO,
        }
    }

    fn ids(doc: &SourceDocument) -> Vec<u64> {
        money_lines(doc)
            .unwrap()
            .iter()
            .map(|l| l.item_id)
            .collect()
    }

    #[test]
    fn configurable_parent_carries_the_money_once() {
        let d = doc(vec![
            line(1, None, "configurable", 5000),
            line(2, Some(1), "simple", 0),
            line(3, None, "simple", 1000),
        ]);
        assert_eq!(ids(&d), [1, 3]);
    }

    #[test]
    fn dynamic_bundle_children_carry_the_money() {
        let d = doc(vec![
            line(10, None, "bundle", 0),
            line(11, Some(10), "simple", 1500),
            line(12, Some(10), "simple", 2500),
            line(13, Some(10), "simple", 0),
        ]);
        assert_eq!(ids(&d), [11, 12]);
    }

    #[test]
    fn fixed_price_bundle_parent_carries_the_money() {
        let d = doc(vec![
            line(10, None, "bundle", 9900),
            line(11, Some(10), "simple", 0),
            line(12, Some(10), "simple", 0),
        ]);
        assert_eq!(ids(&d), [10]);
    }

    #[test]
    fn priced_parent_and_priced_child_is_refused() {
        let d = doc(vec![
            line(1, None, "configurable", 5000),
            line(2, Some(1), "simple", 5000),
        ]);
        assert!(matches!(
            money_lines(&d),
            Err(MappingError::ParentAndChildrenPriced {
                parent_item_id: 1,
                ..
            })
        ));
    }

    #[test]
    fn a_child_whose_parent_is_absent_counts_on_its_own() {
        let d = doc(vec![line(2, Some(99), "simple", 700)]);
        assert_eq!(ids(&d), [2]);
    }

    #[test]
    fn duplicate_ids_and_cycles_are_refused() {
        let d = doc(vec![line(1, None, "simple", 1), line(1, None, "simple", 1)]);
        assert!(matches!(
            money_lines(&d),
            Err(MappingError::MalformedLines { item_id: 1, .. })
        ));
        let d = doc(vec![
            line(1, Some(2), "simple", 1),
            line(2, Some(1), "simple", 1),
        ]);
        assert!(matches!(
            money_lines(&d),
            Err(MappingError::MalformedLines { .. })
        ));
    }

    #[test]
    fn zero_value_lines_are_not_money_lines() {
        let d = doc(vec![
            line(1, None, "simple", 0),
            line(2, None, "virtual", 100),
        ]);
        assert_eq!(ids(&d), [2]);
    }
}
