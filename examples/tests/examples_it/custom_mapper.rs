use std::collections::BTreeMap;
use std::sync::Arc;

use connector_core::clock::SystemClock;
use connector_core::engine::convert::invoice_from_payload;
use connector_core::state::{EntityKind, Record, RecordState, SqliteStore};
use ml_connector_examples::custom_mapper::run_custom_mapper_on;
use ml_connector_examples::playground::{
    self, LedgerJournal, MARKETPLACE_REVENUE_ACCOUNT, MARKETPLACE_STORE, WEB_REVENUE_ACCOUNT,
};
use rust_decimal::Decimal;

const MARKETPLACE_STORE_ID: u64 = 2;

fn store_id(record: &Record) -> u64 {
    let (_, order) = invoice_from_payload(&record.payload).expect("invoice payload");
    order.store_id.expect("order store id").0
}

async fn journals(sims: &simulators::Sims) -> BTreeMap<String, LedgerJournal> {
    playground::ledger_journals(sims)
        .await
        .expect("ledger journals")
        .into_iter()
        .map(|j| (j.reference.clone(), j))
        .collect()
}

async fn reopen_posted(dir: &std::path::Path) -> Vec<Record> {
    let store = SqliteStore::open(dir.join("state.db"), Arc::new(SystemClock))
        .await
        .expect("reopen the state file");
    let posted = playground::records_in_state(&store, EntityKind::Invoice, RecordState::Posted)
        .await
        .expect("posted records");
    store.close().await;
    posted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marketplace_revenue_lands_on_the_marketplace_account_in_syspro() {
    let sims = playground::start_simulators(60).await.expect("simulators");
    let dir = playground::scratch_dir("it-custom-mapper").expect("scratch dir");
    let report = run_custom_mapper_on(&sims, &dir, MARKETPLACE_REVENUE_ACCOUNT)
        .await
        .expect("custom mapper run");
    assert!(report.cycle.errors.is_empty(), "{:?}", report.cycle.errors);
    for (id, reason) in &report.halted {
        assert!(
            reason.contains("CLR-"),
            "only unmapped clearance SKUs halt, but {id}: {reason}"
        );
    }

    // The report's revenue table: marketplace revenue only on the marketplace account.
    let marketplace: Vec<_> = report
        .revenue
        .iter()
        .filter(|l| l.store == MARKETPLACE_STORE)
        .collect();
    assert!(!marketplace.is_empty(), "the shop has marketplace invoices");
    for line in &marketplace {
        assert_eq!(line.account, MARKETPLACE_REVENUE_ACCOUNT, "{line:?}");
        assert!(line.amount > Decimal::ZERO, "{line:?}");
    }
    assert!(
        report
            .revenue
            .iter()
            .filter(|l| l.store != MARKETPLACE_STORE)
            .all(|l| l.account != MARKETPLACE_REVENUE_ACCOUNT),
        "other stores keep their mapped accounts: {:?}",
        report.revenue
    );

    // The same, read record by record from the state file and the ledger itself.
    let posted = reopen_posted(&dir).await;
    assert_eq!(posted.len(), report.posted_invoices);
    let ledger = journals(&sims).await;
    let invoices = playground::ledger_invoices(&sims).await.expect("invoices");
    assert_eq!(
        invoices.len(),
        posted.len(),
        "one AR invoice per posted record"
    );
    let mut marketplace_journals = 0;
    for record in &posted {
        let reference = record.syspro.journal.as_deref().expect("journal reference");
        let journal = &ledger[reference];
        let sum: Decimal = journal.lines.iter().map(|l| l.amount).sum();
        assert!(sum.is_zero(), "journal {reference} balances: {journal:?}");
        let on = |code: &str| journal.lines.iter().any(|l| l.ledger_code == code);
        if store_id(record) == MARKETPLACE_STORE_ID {
            marketplace_journals += 1;
            assert!(!on(WEB_REVENUE_ACCOUNT), "{journal:?}");
            let revenue: Vec<_> = journal
                .lines
                .iter()
                .filter(|l| l.ledger_code == MARKETPLACE_REVENUE_ACCOUNT)
                .collect();
            assert_eq!(revenue.len(), 1, "one revenue entry: {journal:?}");
            assert!(revenue[0].amount < Decimal::ZERO, "a credit: {journal:?}");
        } else {
            assert!(!on(MARKETPLACE_REVENUE_ACCOUNT), "{journal:?}");
        }
    }
    assert!(marketplace_journals > 0);

    sims.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_the_engine_did_not_validate_halts_the_store_instead_of_posting() {
    // 00-1400 (inventory) exists in SYSPRO, but the mapping does not name it, so the engine never
    // validated it: the rule must refuse to use it.
    let unvalidated = "00-1400";
    let sims = playground::start_simulators(60).await.expect("simulators");
    let dir = playground::scratch_dir("it-custom-mapper-unvalidated").expect("scratch dir");
    let report = run_custom_mapper_on(&sims, &dir, unvalidated)
        .await
        .expect("custom mapper run");

    let refused: Vec<_> = report
        .halted
        .iter()
        .filter(|(_, reason)| reason.contains(unvalidated))
        .collect();
    assert!(!refused.is_empty(), "marketplace invoices halt: {report}");
    for (_, reason) in &refused {
        assert!(reason.contains("does not exist in SYSPRO"), "{reason}");
    }
    let posted = reopen_posted(&dir).await;
    assert!(!posted.is_empty(), "the other stores still post");
    assert!(
        posted.iter().all(|r| store_id(r) != MARKETPLACE_STORE_ID),
        "no marketplace invoice posted"
    );
    assert!(
        journals(&sims)
            .await
            .values()
            .flat_map(|j| &j.lines)
            .all(|l| l.ledger_code != unvalidated),
        "nothing booked to {unvalidated}"
    );

    sims.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
