//! Restart after a crash between two steps: a store that fails at a chosen write stands in for the
//! process dying there. A new engine on the same state then finishes the work with nothing posted
//! twice and nothing lost.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use connector_core::audit::{AuditEntry, AuditLog, AuditPage, AuditQuery, NewAuditEntry};
use connector_core::state::{
    ConnectionName, EntityKind, HolderId, Intake, IntakeOutcome, Lease, LeaseOutcome, MemoryStore,
    Record, RecordFilter, RecordKey, RecordState, StateCounts, StateStore, StoreError, StreamName,
    Transition,
};
use serde_json::json;
use time::OffsetDateTime;

use crate::support::*;

/// Where the simulated crash happens.
#[derive(Clone, Copy, Debug)]
enum CrashAt {
    /// After SYSPRO accepted the invoice, before its answer is recorded (journal never sent).
    InvoiceAnswer,
    /// After SYSPRO accepted invoice and journal, before the record is marked posted.
    MarkPosted,
}

struct CrashingStore {
    inner: MemoryStore,
    at: CrashAt,
    armed: AtomicBool,
}

fn crash() -> StoreError {
    StoreError::Database {
        path: PathBuf::from("crash-test"),
        operation: "write",
        subject: "simulated crash".to_owned(),
        source: sqlx::Error::PoolClosed,
    }
}

impl CrashingStore {
    fn hit(&self) -> Result<(), StoreError> {
        if self.armed.load(Ordering::SeqCst) {
            Err(crash())
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl StateStore for CrashingStore {
    async fn intake(&self, intake: Intake) -> Result<IntakeOutcome, StoreError> {
        self.inner.intake(intake).await
    }
    async fn transition(&self, transition: Transition) -> Result<Record, StoreError> {
        if matches!(self.at, CrashAt::MarkPosted)
            && transition.to.state() == RecordState::Posted
            && transition.key.kind == EntityKind::Order
        {
            self.hit()?;
        }
        self.inner.transition(transition).await
    }
    async fn claim_due(
        &self,
        connection: &ConnectionName,
        kind: Option<EntityKind>,
        limit: usize,
    ) -> Result<Vec<Record>, StoreError> {
        self.inner.claim_due(connection, kind, limit).await
    }
    async fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        self.inner.get(key).await
    }
    async fn list(&self, filter: &RecordFilter) -> Result<Vec<Record>, StoreError> {
        self.inner.list(filter).await
    }
    async fn stale_posting(
        &self,
        connection: &ConnectionName,
        entered_before: OffsetDateTime,
    ) -> Result<Vec<Record>, StoreError> {
        self.inner.stale_posting(connection, entered_before).await
    }
    async fn counts(&self, connection: Option<&ConnectionName>) -> Result<StateCounts, StoreError> {
        self.inner.counts(connection).await
    }
    async fn watermark(
        &self,
        connection: &ConnectionName,
        stream: &StreamName,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        self.inner.watermark(connection, stream).await
    }
    async fn advance_watermark(
        &self,
        connection: &ConnectionName,
        stream: &StreamName,
        to: OffsetDateTime,
    ) -> Result<OffsetDateTime, StoreError> {
        self.inner.advance_watermark(connection, stream, to).await
    }
    async fn acquire_lease(
        &self,
        connection: &ConnectionName,
        holder: &HolderId,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StoreError> {
        self.inner.acquire_lease(connection, holder, ttl).await
    }
    async fn renew_lease(
        &self,
        connection: &ConnectionName,
        holder: &HolderId,
        ttl: Duration,
    ) -> Result<Lease, StoreError> {
        self.inner.renew_lease(connection, holder, ttl).await
    }
    async fn release_lease(
        &self,
        connection: &ConnectionName,
        holder: &HolderId,
    ) -> Result<bool, StoreError> {
        self.inner.release_lease(connection, holder).await
    }
    async fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        self.inner.leases().await
    }
}

#[async_trait]
impl AuditLog for CrashingStore {
    async fn append(&self, entry: NewAuditEntry) -> Result<AuditEntry, StoreError> {
        if matches!(self.at, CrashAt::InvoiceAnswer) && entry.message.starts_with("ARSTIN accepted")
        {
            self.hit()?;
        }
        self.inner.append(entry).await
    }
    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        self.inner.query(query).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_a_crash_between_steps_resumes_without_duplicates_or_losses() {
    for at in [CrashAt::InvoiceAnswer, CrashAt::MarkPosted] {
        let h = Harness::start(shop(2)).await;
        let shared = MemoryStore::new(std::sync::Arc::new(h.clock.clone()));
        let crashing = Arc::new(CrashingStore {
            inner: shared.clone(),
            at,
            armed: AtomicBool::new(false),
        });
        let engine = h.engine(&Setup::default(), crashing.clone()).await;
        engine.run_cycle().await.expect("first cycle");
        for _ in 0..3 {
            h.sim_post("orders", json!({"store": "web"})).await;
        }
        crashing.armed.store(true, Ordering::SeqCst);
        let crashed = engine.run_cycle().await;
        assert!(
            crashed.is_err(),
            "{at:?}: the cycle dies at the chosen step"
        );
        engine.close().await;
        let stuck = in_state(&shared, EntityKind::Order, RecordState::Posting).await;
        assert!(!stuck.is_empty(), "{at:?}: a record is left in posting");

        // Restart on the same state, without the fault.
        let restarted = h.engine(&Setup::default(), Arc::new(shared.clone())).await;
        let summary = restarted.run_cycle().await.expect("cycle after restart");
        assert!(summary.reconciled >= stuck.len(), "{at:?}: {summary:?}");
        assert!(summary.halted.is_empty(), "{at:?}: {:?}", summary.halted);
        let orders = h.commerce_orders().await;
        let posted = in_state(&shared, EntityKind::Order, RecordState::Posted).await;
        assert_eq!(
            posted.len(),
            orders.len(),
            "{at:?}: nothing lost {summary:?} {:?}",
            not_posted(&shared, EntityKind::Order).await
        );
        assert_posted_once(&h, &posted, &grand_totals(&orders)).await;
        h.sims.shutdown().await;
    }
}
