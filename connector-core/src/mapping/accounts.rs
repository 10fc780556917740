//! The revenue account of a line, by the precedence documented in [`crate::config::MappingConfig`]'s
//! module: exact SKU, longest SKU prefix, category (first rule in file order), attribute set, store
//! default; within each selector kind a rule for the document's store before a rule for every store.
//! SKUs are compared without regard to case, as Commerce itself treats them.

use crate::config::{MappingConfig, RevenueRule, RevenueSelector};
use crate::plan::SourceLine;

/// The account chosen for a line and the rule that chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevenueMatch<'a> {
    /// The GL account.
    pub account: &'a str,
    /// Index of the rule in `mapping.revenue`; `None` when the store's `revenue_account` applied.
    pub rule: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sku,
    SkuPrefix,
    Category,
    AttributeSet,
}

/// Chooses the revenue account of `line` in store `store`, or `None` when nothing matches.
pub fn resolve_revenue_account<'a>(
    mapping: &'a MappingConfig,
    store: &str,
    line: &SourceLine,
) -> Option<RevenueMatch<'a>> {
    let sku = line.sku.to_lowercase();
    for kind in [
        Kind::Sku,
        Kind::SkuPrefix,
        Kind::Category,
        Kind::AttributeSet,
    ] {
        for scope in [Some(store), None] {
            let candidates = mapping
                .revenue
                .iter()
                .enumerate()
                .filter(|(_, rule)| rule.store.as_deref() == scope);
            let found = match kind {
                Kind::SkuPrefix => candidates
                    .filter_map(|(i, rule)| match only_selector(rule) {
                        Some(RevenueSelector::SkuPrefix(p))
                            if sku.starts_with(&p.to_lowercase()) =>
                        {
                            Some((i, rule, p.len()))
                        }
                        _ => None,
                    })
                    // Longest prefix wins; on equal length (not possible for distinct valid rules)
                    // the first rule in the file.
                    .max_by(|a, b| a.2.cmp(&b.2).then(b.0.cmp(&a.0)))
                    .map(|(i, rule, _)| (i, rule)),
                _ => candidates
                    .filter(|(_, rule)| match (kind, only_selector(rule)) {
                        (Kind::Sku, Some(RevenueSelector::Sku(s))) => s.to_lowercase() == sku,
                        (Kind::Category, Some(RevenueSelector::Category(c))) => {
                            line.category_ids.contains(&c)
                        }
                        (Kind::AttributeSet, Some(RevenueSelector::AttributeSet(a))) => {
                            line.attribute_set_id == Some(a)
                        }
                        _ => false,
                    })
                    .min_by_key(|(i, _)| *i),
            };
            if let Some((i, rule)) = found {
                return Some(RevenueMatch {
                    account: &rule.account,
                    rule: Some(i),
                });
            }
        }
    }
    mapping
        .stores
        .get(store)
        .and_then(|s| s.revenue_account.as_deref())
        .map(|account| RevenueMatch {
            account,
            rule: None,
        })
}

/// A rule's selector when it has exactly one (validation refuses others; they never match).
fn only_selector(rule: &RevenueRule) -> Option<RevenueSelector<'_>> {
    match rule.selectors().as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;
    use crate::config::MappingConfig;

    fn mapping() -> MappingConfig {
        MappingConfig::from_toml_str(
            r#"
currencies = ["USD"]
clearing_product_class = "WEB"
[stores.default]
branch = "10"
revenue_account = "4999"
[stores.b2b]
branch = "20"
[accounts]
clearing = "1200"
freight = "4100"
tax = "2200"
rounding = "7900"
[[revenue]]
attribute_set_id = 9
account = "4090"
[[revenue]]
category_id = 5
account = "4050"
[[revenue]]
category_id = 6
account = "4060"
[[revenue]]
sku_prefix = "TS-"
account = "4010"
[[revenue]]
sku_prefix = "TS-RED"
account = "4011"
[[revenue]]
sku_prefix = "TS-"
store = "b2b"
account = "4210"
[[revenue]]
sku = "TS-RED-XL"
account = "4001"
[[revenue]]
category_id = 6
store = "b2b"
account = "4260"
"#,
            "inline",
        )
        .unwrap()
    }

    fn line(sku: &str, categories: &[u64], attribute_set: Option<u64>) -> SourceLine {
        SourceLine {
            item_id: 1,
            parent_item_id: None,
            product_type: "simple".into(),
            sku: sku.into(),
            name: sku.into(),
            qty: Decimal::ONE,
            row_total: Decimal::ONE,
            row_tax: Decimal::ZERO,
            row_discount: Decimal::ZERO,
            category_ids: categories.to_vec(),
            attribute_set_id: attribute_set,
        }
    }

    fn account(store: &str, l: &SourceLine) -> Option<String> {
        let m = mapping();
        resolve_revenue_account(&m, store, l).map(|r| r.account.to_owned())
    }

    #[test]
    fn exact_sku_beats_every_prefix_and_category() {
        assert_eq!(
            account("default", &line("TS-RED-XL", &[5], Some(9))).as_deref(),
            Some("4001")
        );
        // Exact SKU is compared without case.
        assert_eq!(
            account("default", &line("ts-red-xl", &[], None)).as_deref(),
            Some("4001")
        );
    }

    #[test]
    fn longest_prefix_wins() {
        assert_eq!(
            account("default", &line("TS-RED-M", &[], None)).as_deref(),
            Some("4011")
        );
        assert_eq!(
            account("default", &line("TS-BLUE-M", &[], None)).as_deref(),
            Some("4010")
        );
    }

    #[test]
    fn store_rule_beats_global_rule_of_the_same_kind_only() {
        // b2b has its own TS- prefix: it beats the global TS- and the longer global TS-RED prefix.
        assert_eq!(
            account("b2b", &line("TS-RED-M", &[], None)).as_deref(),
            Some("4210")
        );
        // ...but not the global exact SKU rule, a more specific selector kind.
        assert_eq!(
            account("b2b", &line("TS-RED-XL", &[], None)).as_deref(),
            Some("4001")
        );
        assert_eq!(
            account("b2b", &line("MUG", &[6], None)).as_deref(),
            Some("4260")
        );
        assert_eq!(
            account("default", &line("MUG", &[6], None)).as_deref(),
            Some("4060")
        );
    }

    #[test]
    fn category_rules_apply_in_file_order_then_attribute_set_then_store_default() {
        assert_eq!(
            account("default", &line("MUG", &[6, 5], Some(9))).as_deref(),
            Some("4050")
        );
        assert_eq!(
            account("default", &line("MUG", &[7], Some(9))).as_deref(),
            Some("4090")
        );
        assert_eq!(
            account("default", &line("MUG", &[7], Some(1))).as_deref(),
            Some("4999")
        );
        assert_eq!(account("b2b", &line("MUG", &[7], Some(1))), None);
    }

    #[test]
    fn the_matching_rule_is_reported() {
        let m = mapping();
        let r = resolve_revenue_account(&m, "default", &line("TS-RED-M", &[], None)).unwrap();
        assert_eq!(r.rule, Some(4));
        let r = resolve_revenue_account(&m, "default", &line("MUG", &[], None)).unwrap();
        assert_eq!(r.rule, None);
    }
}
