use std::sync::Arc;

use connector_core::audit::{AuditKind, AuditLog, AuditQuery};
use connector_core::clock::Clock;
use connector_core::state::{MemoryStore, RecordState, StateStore};
use ml_connector_examples::counting_store::{CountingStore, run_counting_store_on};
use ml_connector_examples::playground::{self, MARKETPLACE_STORE, WEB_REVENUE_ACCOUNT};
use rust_decimal::Decimal;

async fn open(clock: Arc<dyn Clock>) -> CountingStore<MemoryStore> {
    CountingStore::new(MemoryStore::new(clock))
}

// The wrapper keeps every guarantee of the store it wraps.
connector_core::store_conformance_tests!(open);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_counting_store_sees_every_intake_transition_and_claim() {
    let sims = playground::start_simulators(40).await.expect("simulators");
    let (report, store) = run_counting_store_on(&sims).await.expect("two cycles");
    let a = &report.activity;
    assert!(report.first.errors.is_empty(), "{:?}", report.first.errors);

    // Intake: one record per document, and the second cycle's overlap re-reads change nothing.
    let records = report.states.total();
    assert!(records > 0);
    assert_eq!(a.intake_created, records);
    assert_eq!(
        a.intake_created as usize,
        report.first.intake_new + report.second.intake_new
    );
    assert_eq!(report.second.intake_new, 0);
    assert_eq!(
        a.intake_unchanged as usize,
        report.first.intake_unchanged + report.second.intake_unchanged
    );

    // Transitions: every posted record went through the wrapper, and every record that entered
    // `posting` (claimed, or moved there directly) left it again.
    let posted = report.states.get(RecordState::Posted);
    assert!(posted > 0);
    assert_eq!(a.transitions_to(RecordState::Posted), posted);
    assert_eq!(
        a.transitions_to(RecordState::Mapped),
        records,
        "every record was mapped once"
    );
    let entered_posting = a.claimed + a.transitions_to(RecordState::Posting);
    let left_posting: u64 = a
        .transitions
        .iter()
        .filter(|((from, _), _)| *from == RecordState::Posting)
        .map(|(_, n)| n)
        .sum();
    assert_eq!(entered_posting, left_posting, "{a}");
    assert_eq!(a.refused_transitions, 0);
    assert!(a.watermark_advances > 0);
    assert_eq!(report.states, store.inner().counts(None).await.unwrap());

    // Audit entries the engine appended are counted by kind and are in the wrapped log.
    let sent = store
        .inner()
        .query(&AuditQuery {
            kind: Some(AuditKind::Sent),
            limit: 100_000,
            ..AuditQuery::default()
        })
        .await
        .expect("audit query")
        .entries
        .len() as u64;
    assert!(sent > 0);
    assert_eq!(a.audit_entries.get("sent").copied(), Some(sent));

    // With the default mapper (no store rule), marketplace product revenue follows the SKU rules
    // to the web store account: the custom mapper's rule is what changes that.
    let config = playground::connection_config(&sims).expect("config");
    let accounts = playground::revenue_accounts(&config.mapping);
    let revenue = playground::posted_revenue(&sims, &*store, &config, &accounts)
        .await
        .expect("revenue");
    assert!(
        revenue.iter().any(|l| l.store == MARKETPLACE_STORE
            && l.account == WEB_REVENUE_ACCOUNT
            && l.amount > Decimal::ZERO),
        "{revenue:?}"
    );

    sims.shutdown().await;
}
