//! The engine on a state store and audit log of the embedder's own.
//!
//! [`CountingStore`] implements [`StateStore`] and [`AuditLog`] by delegating every call to
//! another store (here [`MemoryStore`]; [`connector_core::state::SqliteStore`] works the same) and
//! counting what passes through: documents taken in, state transitions, claims for posting and
//! audit entries. A service would do the same to feed its own metrics, mirror transitions to a
//! message bus, or add a cache in front of a shared database. Because it only delegates, it keeps
//! every guarantee of the store it wraps, which the crate's conformance suite checks
//! (`connector_core::store_conformance_tests!`, run against it in this package's tests).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use connector_core::audit::{AuditEntry, AuditLog, AuditPage, AuditQuery, NewAuditEntry};
use connector_core::clock::{Clock, SystemClock};
use connector_core::engine::{CycleSummary, Engine, EngineOptions};
use connector_core::state::{
    ConnectionName, CycleReport, EntityKind, HolderId, Intake, IntakeOutcome, Lease, LeaseOutcome,
    MemoryStore, Notification, Record, RecordFilter, RecordKey, RecordState, StateCounts,
    StateStore, StoreError, StreamName, Transition,
};
use simulators::Sims;
use time::OffsetDateTime;

use crate::ExampleError;
use crate::playground;

/// What went through a [`CountingStore`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreActivity {
    /// Documents stored as new records.
    pub intake_created: u64,
    /// Documents already stored in the same version (the overlap window re-reads them).
    pub intake_unchanged: u64,
    /// New versions of records not yet posted.
    pub intake_updated: u64,
    /// New versions of records already posted (recorded, never posted again).
    pub intake_changed_after_posting: u64,
    /// Transitions made, by (from, to) state.
    pub transitions: BTreeMap<(RecordState, RecordState), u64>,
    /// Transitions the store refused (wrong state, version conflict, illegal move).
    pub refused_transitions: u64,
    /// Records claimed for posting (`mapped` or `retry_wait` to `posting`).
    pub claimed: u64,
    /// Audit entries appended by the engine, by kind (`read`, `sent`, ...; transitions write their own entry inside
    /// the store and are counted under `transitions`).
    pub audit_entries: BTreeMap<&'static str, u64>,
    /// Watermark advances that moved a stream forward.
    pub watermark_advances: u64,
}

impl StoreActivity {
    /// Transitions that ended in `state`.
    pub fn transitions_to(&self, state: RecordState) -> u64 {
        self.transitions
            .iter()
            .filter(|((_, to), _)| *to == state)
            .map(|(_, n)| n)
            .sum()
    }
}

impl fmt::Display for StoreActivity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "intake: {} created, {} unchanged, {} updated, {} changed after posting",
            self.intake_created,
            self.intake_unchanged,
            self.intake_updated,
            self.intake_changed_after_posting
        )?;
        writeln!(f, "claimed for posting: {}", self.claimed)?;
        writeln!(f, "transitions:")?;
        for ((from, to), n) in &self.transitions {
            writeln!(f, "  {:>10} -> {:<10} {n:>5}", from.as_str(), to.as_str())?;
        }
        if self.refused_transitions > 0 {
            writeln!(f, "  refused: {}", self.refused_transitions)?;
        }
        writeln!(f, "audit entries appended:")?;
        for (kind, n) in &self.audit_entries {
            writeln!(f, "  {kind:<10} {n:>5}")?;
        }
        write!(f, "watermark advances: {}", self.watermark_advances)
    }
}

/// A [`StateStore`] + [`AuditLog`] that delegates to `S` and counts what passes through.
#[derive(Debug)]
pub struct CountingStore<S> {
    inner: S,
    activity: Mutex<StoreActivity>,
}

impl<S> CountingStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            activity: Mutex::new(StoreActivity::default()),
        }
    }

    /// The counts so far.
    pub fn activity(&self) -> StoreActivity {
        self.activity
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    // The lock is taken only after the delegated call has returned, never across an `.await`.
    fn count(&self, update: impl FnOnce(&mut StoreActivity)) {
        update(&mut self.activity.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

#[async_trait]
impl<S: StateStore> StateStore for CountingStore<S> {
    async fn intake(&self, intake: Intake) -> Result<IntakeOutcome, StoreError> {
        let outcome = self.inner.intake(intake).await?;
        self.count(|a| match &outcome {
            IntakeOutcome::Created(_) => a.intake_created += 1,
            IntakeOutcome::Unchanged(_) => a.intake_unchanged += 1,
            IntakeOutcome::Updated(_) => a.intake_updated += 1,
            IntakeOutcome::ChangedAfterPosting(_) => a.intake_changed_after_posting += 1,
        });
        Ok(outcome)
    }

    async fn transition(&self, transition: Transition) -> Result<Record, StoreError> {
        let from = transition.from;
        let result = self.inner.transition(transition).await;
        self.count(|a| match &result {
            Ok(record) => *a.transitions.entry((from, record.state)).or_default() += 1,
            Err(_) => a.refused_transitions += 1,
        });
        result
    }

    async fn intake_many(&self, intakes: Vec<Intake>) -> Result<Vec<IntakeOutcome>, StoreError> {
        let outcomes = self.inner.intake_many(intakes).await?;
        self.count(|a| {
            for outcome in &outcomes {
                match outcome {
                    IntakeOutcome::Created(_) => a.intake_created += 1,
                    IntakeOutcome::Unchanged(_) => a.intake_unchanged += 1,
                    IntakeOutcome::Updated(_) => a.intake_updated += 1,
                    IntakeOutcome::ChangedAfterPosting(_) => a.intake_changed_after_posting += 1,
                }
            }
        });
        Ok(outcomes)
    }

    async fn transition_many(
        &self,
        transitions: Vec<Transition>,
    ) -> Result<Vec<Result<Record, StoreError>>, StoreError> {
        let from: Vec<RecordState> = transitions.iter().map(|t| t.from).collect();
        let results = self.inner.transition_many(transitions).await?;
        self.count(|a| {
            for (from, result) in from.iter().zip(&results) {
                match result {
                    Ok(record) => *a.transitions.entry((*from, record.state)).or_default() += 1,
                    Err(_) => a.refused_transitions += 1,
                }
            }
        });
        Ok(results)
    }

    async fn claim_due(
        &self,
        connection: &ConnectionName,
        kind: Option<EntityKind>,
        limit: usize,
    ) -> Result<Vec<Record>, StoreError> {
        let claimed = self.inner.claim_due(connection, kind, limit).await?;
        self.count(|a| a.claimed += claimed.len() as u64);
        Ok(claimed)
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
        // One extra read tells a real advance from a no-op; the count is for reporting only, so
        // it need not be atomic with the write.
        let before = self.inner.watermark(connection, stream).await?;
        let after = self.inner.advance_watermark(connection, stream, to).await?;
        if before != Some(after) {
            self.count(|a| a.watermark_advances += 1);
        }
        Ok(after)
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

    async fn push_notification(&self, key: &RecordKey) -> Result<Notification, StoreError> {
        self.inner.push_notification(key).await
    }

    async fn take_notifications(
        &self,
        connection: &ConnectionName,
        limit: usize,
    ) -> Result<Vec<Notification>, StoreError> {
        self.inner.take_notifications(connection, limit).await
    }

    async fn record_cycle(&self, report: &CycleReport) -> Result<(), StoreError> {
        self.inner.record_cycle(report).await
    }

    async fn cycle_reports(&self) -> Result<Vec<CycleReport>, StoreError> {
        self.inner.cycle_reports().await
    }
}

#[async_trait]
impl<S: AuditLog> AuditLog for CountingStore<S> {
    async fn append(&self, entry: NewAuditEntry) -> Result<AuditEntry, StoreError> {
        let kind = entry.kind;
        let appended = self.inner.append(entry).await?;
        self.count(|a| *a.audit_entries.entry(kind.as_str()).or_default() += 1);
        Ok(appended)
    }

    async fn append_many(&self, entries: Vec<NewAuditEntry>) -> Result<(), StoreError> {
        let kinds: Vec<&'static str> = entries.iter().map(|e| e.kind.as_str()).collect();
        self.inner.append_many(entries).await?;
        self.count(|a| {
            for kind in kinds {
                *a.audit_entries.entry(kind).or_default() += 1;
            }
        });
        Ok(())
    }

    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        self.inner.query(query).await
    }
}

/// What two cycles on a [`CountingStore`] did.
#[derive(Debug, Clone)]
pub struct CountingStoreReport {
    /// The first cycle, which finds every document.
    pub first: CycleSummary,
    /// The second cycle, which re-reads the overlap window and finds nothing new.
    pub second: CycleSummary,
    /// Records per state afterwards, as the wrapped store reports them.
    pub states: StateCounts,
    /// What the counting store saw.
    pub activity: StoreActivity,
}

impl fmt::Display for CountingStoreReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "cycle 1: read {}, posted {}, halted {}; cycle 2: read {}, new {}, posted {}",
            self.first.read,
            self.first.posted,
            self.first.halted.len(),
            self.second.read,
            self.second.intake_new,
            self.second.posted
        )?;
        let states: Vec<String> = self
            .states
            .0
            .iter()
            .map(|(state, n)| format!("{state} {n}"))
            .collect();
        writeln!(f, "records by state: {}", states.join(", "))?;
        write!(f, "{}", self.activity)
    }
}

/// Starts the simulators with a shop of `orders` orders, runs [`run_counting_store_on`] and stops
/// them again.
///
/// # Errors
/// As [`run_counting_store_on`]; [`ExampleError::Simulators`] when they cannot start.
pub async fn run_counting_store(orders: usize) -> Result<CountingStoreReport, ExampleError> {
    let sims = playground::start_simulators(orders).await?;
    let result = run_counting_store_on(&sims).await.map(|(report, _)| report);
    sims.shutdown().await;
    result
}

/// Runs two poll cycles of the examples' connection with the default mapper on a
/// [`CountingStore`] around a [`MemoryStore`], and returns the report and the store (so callers
/// can look inside).
///
/// # Errors
/// [`ExampleError`] when the engine cannot be built or a cycle fails as a whole.
pub async fn run_counting_store_on(
    sims: &Sims,
) -> Result<(CountingStoreReport, Arc<CountingStore<MemoryStore>>), ExampleError> {
    let config = playground::connection_config(sims)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Arc::new(CountingStore::new(MemoryStore::new(clock.clone())));
    let engine = Engine::builder(config, store.clone(), store.clone(), clock)
        .resolved_secrets(playground::simulator_secrets(sims))
        .options(EngineOptions {
            holder: "counting-store-example".to_owned(),
            ..EngineOptions::default()
        })
        .build()
        .await?;
    let cycles = async {
        let first = engine.run_cycle().await?;
        let second = engine.run_cycle().await?;
        Ok::<_, ExampleError>((first, second))
    }
    .await;
    engine.close().await;
    let (first, second) = cycles?;
    let connection = ConnectionName::new(playground::CONNECTION)?;
    let report = CountingStoreReport {
        first,
        second,
        states: store.counts(Some(&connection)).await?,
        activity: store.activity(),
    };
    Ok((report, store))
}
