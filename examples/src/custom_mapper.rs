//! A connection posted with a custom [`Mapper`]: the default mapping, plus a business rule that
//! books all product revenue of one store (the marketplace) to that store's own GL account,
//! whatever the SKU rules say.
//!
//! Wrapping [`DefaultMapper`] keeps everything the engine relies on (customer matching,
//! deterministic invoice numbers, freight, discounts, rounding and the balance checks) and changes
//! only where the revenue lands. The rule moves whole journal entries between accounts, so the
//! journal still balances and the AR invoice still equals Commerce's grand total.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use connector_core::clock::{Clock, SystemClock};
use connector_core::engine::{CycleSummary, Engine, EngineOptions};
use connector_core::mapping::{DefaultMapper, Mapper, MappingContext, MappingError};
use connector_core::plan::{AccountPurpose, JournalLine, PostingPlan, SourceDocument};
use connector_core::state::{EntityKind, RecordState, SqliteStore};
use rust_decimal::Decimal;
use simulators::Sims;

use crate::ExampleError;
use crate::playground::{self, RevenueLine};

/// Books every revenue amount of one store's documents to one GL account.
///
/// The engine validates against SYSPRO only the GL accounts the mapping names, so the account
/// given here must also be named in the mapping (the example names it as the store's
/// `revenue_account`); otherwise the rule halts the store's documents with "GL account does not
/// exist in SYSPRO" rather than posting to an account nobody checked.
#[derive(Debug, Clone)]
pub struct StoreRevenueMapper {
    inner: DefaultMapper,
    store: String,
    account: String,
}

impl StoreRevenueMapper {
    /// The default mapping of `inner`, with the revenue of `store` (a Commerce store code) moved
    /// to `account`.
    pub fn new(inner: DefaultMapper, store: impl Into<String>, account: impl Into<String>) -> Self {
        Self {
            inner,
            store: store.into(),
            account: account.into(),
        }
    }
}

impl Mapper for StoreRevenueMapper {
    fn plan(
        &self,
        doc: &SourceDocument,
        ctx: &MappingContext<'_>,
    ) -> Result<PostingPlan, MappingError> {
        let mut plan = self.inner.plan(doc, ctx)?;
        if doc.store_code != self.store {
            return Ok(plan);
        }
        let Some(journal) = plan.journal.as_mut() else {
            // AR-only target or a zero-value document: no revenue entries to move.
            return Ok(plan);
        };
        if !ctx.reference.gl_accounts.contains(&self.account) {
            return Err(MappingError::GlAccountNotInSyspro {
                account: self.account.clone(),
                purpose: format!("revenue of store {:?} (store revenue rule)", self.store),
            });
        }
        for allocation in &mut plan.allocations {
            if allocation.purpose == AccountPurpose::Revenue {
                allocation.account.clone_from(&self.account);
            }
        }
        let revenue: Decimal = journal
            .lines
            .iter()
            .filter(|l| l.purpose == AccountPurpose::Revenue)
            .map(|l| l.amount)
            .sum();
        journal
            .lines
            .retain(|l| l.purpose != AccountPurpose::Revenue);
        if !revenue.is_zero() {
            // Entries stay in the default mapper's order: clearing, revenue, freight, ...
            let at = journal
                .lines
                .iter()
                .position(|l| l.purpose > AccountPurpose::Revenue)
                .unwrap_or(journal.lines.len());
            journal.lines.insert(
                at,
                JournalLine {
                    ledger_code: self.account.clone(),
                    amount: revenue,
                    purpose: AccountPurpose::Revenue,
                    comment: format!("revenue {}", plan.ar_invoice.invoice),
                },
            );
        }
        if !journal.is_balanced() {
            return Err(MappingError::Unbalanced {
                debits: journal.total_debits(),
                credits: journal.total_credits(),
            });
        }
        Ok(plan)
    }
}

/// What one cycle with the custom mapper did.
#[derive(Debug, Clone)]
pub struct CustomMapperReport {
    /// The engine's own summary of the cycle.
    pub cycle: CycleSummary,
    /// Commerce invoices now posted to SYSPRO.
    pub posted_invoices: usize,
    /// Halted records: Commerce id and reason.
    pub halted: Vec<(String, String)>,
    /// Product revenue on the ledger per store, account and currency.
    pub revenue: Vec<RevenueLine>,
}

impl fmt::Display for CustomMapperReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "read {} changes, posted {} invoices ({} customers created), {} halted",
            self.cycle.read,
            self.posted_invoices,
            self.cycle.customers_created,
            self.halted.len()
        )?;
        for (id, reason) in &self.halted {
            writeln!(f, "  halted {id}: {reason}")?;
        }
        writeln!(f, "revenue on the SYSPRO ledger:")?;
        writeln!(
            f,
            "  {:<12} {:<8} {:<4} {:>12}",
            "store", "account", "cur", "amount"
        )?;
        for line in &self.revenue {
            writeln!(
                f,
                "  {:<12} {:<8} {:<4} {:>12.2}",
                line.store, line.account, line.currency, line.amount
            )?;
        }
        Ok(())
    }
}

/// Starts the simulators with a shop of `orders` orders, runs [`run_custom_mapper_on`] with an
/// SQLite store in a scratch directory, and stops them again.
///
/// # Errors
/// As [`run_custom_mapper_on`]; [`ExampleError::Simulators`] when they cannot start.
pub async fn run_custom_mapper(orders: usize) -> Result<CustomMapperReport, ExampleError> {
    let sims = playground::start_simulators(orders).await?;
    let dir = playground::scratch_dir("custom-mapper")?;
    let result = run_custom_mapper_on(&sims, &dir, playground::MARKETPLACE_REVENUE_ACCOUNT).await;
    sims.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Runs one poll cycle of the examples' connection against running simulators, with
/// [`StoreRevenueMapper`] moving the marketplace's revenue to `marketplace_account` (the program
/// uses [`playground::MARKETPLACE_REVENUE_ACCOUNT`]) and the state kept in `state_dir/state.db`.
///
/// # Errors
/// [`ExampleError`] when the engine cannot be built, the cycle fails as a whole, or the ledger
/// cannot be read. Single documents that fail halt instead and are listed in the report.
pub async fn run_custom_mapper_on(
    sims: &Sims,
    state_dir: &Path,
    marketplace_account: &str,
) -> Result<CustomMapperReport, ExampleError> {
    let config = playground::connection_config(sims)?;
    let mapper = StoreRevenueMapper::new(
        DefaultMapper::for_connection(&config),
        playground::MARKETPLACE_STORE,
        marketplace_account,
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Arc::new(SqliteStore::open(state_dir.join("state.db"), clock.clone()).await?);
    let engine = Engine::builder(config.clone(), store.clone(), store.clone(), clock)
        .mapper(Arc::new(mapper))
        .resolved_secrets(playground::simulator_secrets(sims))
        .options(EngineOptions {
            holder: "custom-mapper-example".to_owned(),
            ..EngineOptions::default()
        })
        .build()
        .await?;

    let cycle = engine.run_cycle().await;
    engine.close().await;
    let cycle = cycle?;

    let posted =
        playground::records_in_state(&*store, EntityKind::Invoice, RecordState::Posted).await?;
    let halted = cycle
        .halted
        .iter()
        .map(|(key, reason)| (key.commerce_id.clone(), reason.clone()))
        .collect();
    let mut accounts = playground::revenue_accounts(&config.mapping);
    accounts.insert(marketplace_account.to_owned());
    let revenue = playground::posted_revenue(sims, &*store, &config, &accounts).await?;
    store.close().await;
    Ok(CustomMapperReport {
        cycle,
        posted_invoices: posted.len(),
        halted,
        revenue,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use connector_core::config::{MappingConfig, PostingTarget};
    use connector_core::mapping::ReferenceData;
    use connector_core::plan::{DocumentKind, SourceCustomer, SourceLine};
    use time::macros::datetime;

    use super::*;

    const MAPPING: &str = r#"
currencies = ["USD", "EUR"]
clearing_product_class = "ECOM"

[stores.web]
branch = "WB"
cash_customer = "WEBCASH"

[stores.marketplace]
branch = "MK"
cash_customer = "MKTCASH"

[accounts]
clearing = "00-4999"
freight = "00-4100"
discount = "00-4200"
tax_posting = "syspro"
rounding = "00-9999"

[[revenue]]
sku_prefix = "AP-"
account = "00-4010"

[[revenue]]
sku_prefix = "HW-"
account = "00-4010"
"#;

    fn money(text: &str) -> Decimal {
        text.parse().expect("an amount")
    }

    fn line(item_id: u64, sku: &str, row_total: &str, row_discount: &str) -> SourceLine {
        SourceLine {
            item_id,
            parent_item_id: None,
            product_type: "simple".to_owned(),
            sku: sku.to_owned(),
            name: sku.to_owned(),
            qty: Decimal::ONE,
            row_total: money(row_total),
            row_tax: Decimal::ZERO,
            row_discount: money(row_discount),
            category_ids: Vec::new(),
            attribute_set_id: None,
        }
    }

    /// A guest document: AP 100.00 and HW 50.00 less 10.00, shipping 4.90, no tax.
    fn document(store_id: u32, store_code: &str) -> SourceDocument {
        SourceDocument {
            kind: DocumentKind::Invoice,
            entity_id: 7,
            increment_id: "2000000007".to_owned(),
            order_increment_id: "2000000007".to_owned(),
            store_id,
            store_code: store_code.to_owned(),
            currency: "EUR".to_owned(),
            created_at: datetime!(2026-01-07 10:00 UTC),
            updated_at: datetime!(2026-01-07 10:00 UTC),
            customer: SourceCustomer {
                email: "guest@example.org".to_owned(),
                name: "A Guest".to_owned(),
                is_guest: true,
                ..SourceCustomer::default()
            },
            lines: vec![
                line(1, "AP-SOCK-01", "100.00", "0"),
                line(2, "HW-SAW-01", "50.00", "10.00"),
            ],
            shipping_amount: money("4.90"),
            shipping_tax: Decimal::ZERO,
            shipping_discount: Decimal::ZERO,
            discount_total: money("10.00"),
            tax_total: Decimal::ZERO,
            grand_total: money("144.90"),
        }
    }

    fn reference(accounts: &[&str]) -> ReferenceData {
        let set = |items: &[&str]| {
            items
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<BTreeSet<_>>()
        };
        ReferenceData {
            gl_accounts: set(accounts),
            product_classes: set(&["ECOM"]),
            branches: set(&["WB", "MK"]),
        }
    }

    fn mappers() -> (DefaultMapper, StoreRevenueMapper) {
        let mapping = MappingConfig::from_toml_str(MAPPING, "test.toml").expect("mapping");
        let default = DefaultMapper::new(mapping, PostingTarget::ArInvoiceGlJournal);
        let custom = StoreRevenueMapper::new(default.clone(), "marketplace", "00-4030");
        (default, custom)
    }

    const ALL: [&str; 6] = [
        "00-4010", "00-4030", "00-4100", "00-4200", "00-4999", "00-9999",
    ];

    #[test]
    fn the_store_s_revenue_moves_to_its_account_in_one_entry() {
        let (_, custom) = mappers();
        let reference = reference(&ALL);
        let ctx = MappingContext {
            customer_code: None,
            reference: &reference,
        };
        let plan = custom
            .plan(&document(2, "marketplace"), &ctx)
            .expect("plan");
        let journal = plan.journal.as_ref().expect("journal");
        let entries: Vec<(&str, AccountPurpose, Decimal)> = journal
            .lines
            .iter()
            .map(|l| (l.ledger_code.as_str(), l.purpose, l.amount))
            .collect();
        assert_eq!(
            entries,
            vec![
                ("00-4999", AccountPurpose::Clearing, money("144.90")),
                ("00-4030", AccountPurpose::Revenue, money("-150.00")),
                ("00-4100", AccountPurpose::Freight, money("-4.90")),
                ("00-4200", AccountPurpose::Discount, money("10.00")),
            ]
        );
        assert!(journal.is_balanced());
        assert_eq!(plan.ar_invoice.invoice_value, money("144.90"));
        assert!(
            plan.allocations
                .iter()
                .filter(|a| a.purpose == AccountPurpose::Revenue)
                .all(|a| a.account == "00-4030")
        );
    }

    #[test]
    fn other_stores_keep_the_default_plan() {
        let (default, custom) = mappers();
        let reference = reference(&ALL);
        let ctx = MappingContext {
            customer_code: None,
            reference: &reference,
        };
        let doc = document(1, "web");
        assert_eq!(
            custom.plan(&doc, &ctx).expect("custom"),
            default.plan(&doc, &ctx).expect("default")
        );
    }

    #[test]
    fn an_account_missing_from_the_reference_data_is_a_mapping_error() {
        let (_, custom) = mappers();
        let reference = reference(&["00-4010", "00-4100", "00-4200", "00-4999", "00-9999"]);
        let ctx = MappingContext {
            customer_code: None,
            reference: &reference,
        };
        let error = custom
            .plan(&document(2, "marketplace"), &ctx)
            .expect_err("00-4030 was not validated");
        assert!(
            matches!(&error, MappingError::GlAccountNotInSyspro { account, .. } if account == "00-4030"),
            "{error}"
        );
    }
}
