//! A state store and audit log held in memory, for tests and for trying the engine out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::expiry;
use super::logic::{self, IntakeKind, IntakePlan};
use super::payload::Payload;
use super::{
    ConnectionName, CycleReport, EntityKind, HolderId, Intake, IntakeOutcome, Lease, LeaseOutcome,
    Notification, Record, RecordFilter, RecordKey, RecordState, StateCounts, StateStore,
    StoreError, StreamName, Transition,
};
use crate::audit::{AuditEntry, AuditId, AuditLog, AuditPage, AuditQuery, NewAuditEntry};
use crate::clock::{Clock, truncate_to_micros};

#[derive(Debug, Default)]
struct Inner {
    records: BTreeMap<RecordKey, Record>,
    audit: Vec<AuditEntry>,
    watermarks: HashMap<(ConnectionName, StreamName), OffsetDateTime>,
    leases: BTreeMap<ConnectionName, Lease>,
    notifications: Vec<Notification>,
    cycles: BTreeMap<ConnectionName, CycleReport>,
}

impl Inner {
    fn append(&mut self, entry: NewAuditEntry, now: OffsetDateTime) -> AuditEntry {
        let id = AuditId(i64::try_from(self.audit.len()).unwrap_or(i64::MAX - 1) + 1);
        let stored = AuditEntry {
            id,
            at: now,
            key: entry.key,
            kind: entry.kind,
            message: entry.message,
            document: entry.document.map(Payload::into_value),
        };
        self.audit.push(stored.clone());
        stored
    }
}

/// What applying a batch to a set of records changed, for a store to write in one go.
#[derive(Debug, Default)]
pub(super) struct BatchWrites {
    /// Every record that changed, once each, in key order (the order databases lock rows in).
    pub(super) changed: BTreeSet<RecordKey>,
    /// The audit entries to append, in the order the changes happened.
    pub(super) audits: Vec<NewAuditEntry>,
    /// The records that took a new payload (each with a `read` entry holding it).
    pub(super) new_payloads: BTreeSet<RecordKey>,
}

/// Applies `intakes` in order to `records`, each seeing the effect of the ones before it (the same
/// key twice creates and then updates, or leaves unchanged).
///
/// The memory store applies batches to all its records; the database stores apply the same function to
/// the records a batch concerns, read in one statement, so every store decides a batch alike and alike
/// to a sequence of single calls.
pub(super) fn apply_intakes(
    records: &mut BTreeMap<RecordKey, Record>,
    intakes: Vec<Intake>,
    now: OffsetDateTime,
) -> Result<(Vec<IntakeOutcome>, BatchWrites), StoreError> {
    let mut outcomes = Vec::with_capacity(intakes.len());
    let mut writes = BatchWrites::default();
    for intake in intakes {
        let key = intake.key.clone();
        match logic::plan_intake(records.get(&key), intake, now) {
            IntakePlan::Unchanged => {
                let record = records
                    .get(&key)
                    .cloned()
                    .ok_or(StoreError::NotFound { key })?;
                outcomes.push(IntakeOutcome::Unchanged(record));
            }
            IntakePlan::Write {
                record,
                audits,
                kind,
            } => {
                let record = *record;
                records.insert(key.clone(), record.clone());
                if matches!(kind, IntakeKind::Created | IntakeKind::Updated) {
                    writes.new_payloads.insert(key.clone());
                }
                writes.changed.insert(key);
                writes.audits.extend(audits);
                outcomes.push(match kind {
                    IntakeKind::Created => IntakeOutcome::Created(record),
                    IntakeKind::Updated => IntakeOutcome::Updated(record),
                    IntakeKind::ChangedAfterPosting => IntakeOutcome::ChangedAfterPosting(record),
                });
            }
        }
    }
    Ok((outcomes, writes))
}

/// Applies `transitions` in order to `records`, each seeing the effect of the ones before it. A
/// transition the rules refuse gets its error in the list and changes nothing.
pub(super) fn apply_transitions(
    records: &mut BTreeMap<RecordKey, Record>,
    transitions: Vec<Transition>,
    now: OffsetDateTime,
) -> (Vec<Result<Record, StoreError>>, BatchWrites) {
    let mut results = Vec::with_capacity(transitions.len());
    let mut writes = BatchWrites::default();
    for transition in transitions {
        let applied = logic::check_allowed(&transition)
            .and_then(|()| {
                records
                    .get(&transition.key)
                    .ok_or_else(|| StoreError::NotFound {
                        key: transition.key.clone(),
                    })
            })
            .and_then(|current| logic::apply_transition(current, &transition, now));
        results.push(applied.map(|(updated, audit)| {
            records.insert(transition.key.clone(), updated.clone());
            writes.changed.insert(transition.key);
            writes.audits.push(audit);
            updated
        }));
    }
    (results, writes)
}

/// The keys a batch of transitions must read: those of the transitions the table allows at all.
pub(super) fn keys_to_read(transitions: &[Transition]) -> BTreeSet<RecordKey> {
    transitions
        .iter()
        .filter(|t| logic::check_allowed(t).is_ok())
        .map(|t| t.key.clone())
        .collect()
}

/// Names a batch in error messages: its first record, and how many others it holds.
pub(super) fn batch_subject<'a>(mut keys: impl ExactSizeIterator<Item = &'a RecordKey>) -> String {
    let others = keys.len().saturating_sub(1);
    match (keys.next(), others) {
        (None, _) => "no records".to_owned(),
        (Some(first), 0) => first.to_string(),
        (Some(first), others) => format!("{first} and {others} more"),
    }
}

/// Keeps everything in process memory; nothing survives a restart.
///
/// Each call holds one lock for its whole duration, which gives it the same all-or-nothing behaviour
/// as a database transaction.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
    clock: Arc<dyn Clock>,
}

impl MemoryStore {
    /// An empty store stamping times from `clock`.
    #[must_use]
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner::default())),
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied change: every method builds the
        // new values first and writes them in statements that do not panic.
        self.inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn now(&self) -> OffsetDateTime {
        truncate_to_micros(self.clock.now())
    }
}

#[async_trait]
impl StateStore for MemoryStore {
    async fn intake(&self, intake: Intake) -> Result<IntakeOutcome, StoreError> {
        let now = self.now();
        let mut inner = self.lock();
        let key = intake.key.clone();
        match logic::plan_intake(inner.records.get(&key), intake, now) {
            IntakePlan::Unchanged => {
                let record = inner
                    .records
                    .get(&key)
                    .cloned()
                    .ok_or(StoreError::NotFound { key })?;
                Ok(IntakeOutcome::Unchanged(record))
            }
            IntakePlan::Write {
                record,
                audits,
                kind,
            } => {
                let record = *record;
                inner.records.insert(key, record.clone());
                for entry in audits {
                    inner.append(entry, now);
                }
                Ok(match kind {
                    IntakeKind::Created => IntakeOutcome::Created(record),
                    IntakeKind::Updated => IntakeOutcome::Updated(record),
                    IntakeKind::ChangedAfterPosting => IntakeOutcome::ChangedAfterPosting(record),
                })
            }
        }
    }

    async fn transition(&self, transition: Transition) -> Result<Record, StoreError> {
        logic::check_allowed(&transition)?;
        let now = self.now();
        let mut inner = self.lock();
        let current = inner
            .records
            .get(&transition.key)
            .ok_or_else(|| StoreError::NotFound {
                key: transition.key.clone(),
            })?;
        let (updated, audit) = logic::apply_transition(current, &transition, now)?;
        inner.records.insert(transition.key, updated.clone());
        inner.append(audit, now);
        Ok(updated)
    }

    async fn intake_many(&self, intakes: Vec<Intake>) -> Result<Vec<IntakeOutcome>, StoreError> {
        if intakes.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now();
        let mut inner = self.lock();
        let (outcomes, writes) = apply_intakes(&mut inner.records, intakes, now)?;
        for entry in writes.audits {
            inner.append(entry, now);
        }
        Ok(outcomes)
    }

    async fn transition_many(
        &self,
        transitions: Vec<Transition>,
    ) -> Result<Vec<Result<Record, StoreError>>, StoreError> {
        if transitions.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now();
        let mut inner = self.lock();
        let (results, writes) = apply_transitions(&mut inner.records, transitions, now);
        for entry in writes.audits {
            inner.append(entry, now);
        }
        Ok(results)
    }

    async fn claim_due(
        &self,
        connection: &ConnectionName,
        kind: Option<EntityKind>,
        limit: usize,
    ) -> Result<Vec<Record>, StoreError> {
        let now = self.now();
        let mut inner = self.lock();
        let mut due: Vec<&Record> = inner
            .records
            .values()
            .filter(|r| r.key.connection == *connection)
            .filter(|r| kind.is_none_or(|k| k == r.key.kind))
            .filter(|r| logic::is_due(r, now))
            .collect();
        due.sort_by(|a, b| {
            logic::due_since(a)
                .cmp(&logic::due_since(b))
                .then_with(|| a.key.cmp(&b.key))
        });
        let claimed: Vec<(Record, NewAuditEntry)> = due
            .into_iter()
            .take(limit)
            .map(|record| logic::claim(record, now))
            .collect();
        let mut records = Vec::with_capacity(claimed.len());
        for (record, audit) in claimed {
            inner.records.insert(record.key.clone(), record.clone());
            inner.append(audit, now);
            records.push(record);
        }
        Ok(records)
    }

    async fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        Ok(self.lock().records.get(key).cloned())
    }

    async fn list(&self, filter: &RecordFilter) -> Result<Vec<Record>, StoreError> {
        Ok(self
            .lock()
            .records
            .values()
            .filter(|r| filter.matches(r))
            .take(filter.effective_limit())
            .cloned()
            .collect())
    }

    async fn stale_posting(
        &self,
        connection: &ConnectionName,
        entered_before: OffsetDateTime,
    ) -> Result<Vec<Record>, StoreError> {
        let mut stale: Vec<Record> = self
            .lock()
            .records
            .values()
            .filter(|r| {
                r.key.connection == *connection
                    && r.state == RecordState::Posting
                    && r.state_since <= entered_before
            })
            .cloned()
            .collect();
        stale.sort_by(|a, b| {
            a.state_since
                .cmp(&b.state_since)
                .then_with(|| a.key.cmp(&b.key))
        });
        Ok(stale)
    }

    async fn counts(&self, connection: Option<&ConnectionName>) -> Result<StateCounts, StoreError> {
        let mut counts = StateCounts::default();
        for record in self.lock().records.values() {
            if connection.is_none_or(|c| *c == record.key.connection) {
                *counts.0.entry(record.state).or_insert(0) += 1;
            }
        }
        Ok(counts)
    }

    async fn watermark(
        &self,
        connection: &ConnectionName,
        stream: &StreamName,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        Ok(self
            .lock()
            .watermarks
            .get(&(connection.clone(), stream.clone()))
            .copied())
    }

    async fn advance_watermark(
        &self,
        connection: &ConnectionName,
        stream: &StreamName,
        to: OffsetDateTime,
    ) -> Result<OffsetDateTime, StoreError> {
        let to = truncate_to_micros(to);
        let mut inner = self.lock();
        let current = inner
            .watermarks
            .entry((connection.clone(), stream.clone()))
            .or_insert(to);
        if to > *current {
            *current = to;
        }
        Ok(*current)
    }

    async fn acquire_lease(
        &self,
        connection: &ConnectionName,
        holder: &HolderId,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StoreError> {
        let now = self.now();
        let mut inner = self.lock();
        let lease =
            match logic::plan_acquire(inner.leases.get(connection), connection, holder, ttl, now) {
                Ok(lease) => lease,
                Err(other) => return Ok(LeaseOutcome::HeldByOther(other)),
            };
        inner.leases.insert(connection.clone(), lease.clone());
        Ok(LeaseOutcome::Acquired(lease))
    }

    async fn renew_lease(
        &self,
        connection: &ConnectionName,
        holder: &HolderId,
        ttl: Duration,
    ) -> Result<Lease, StoreError> {
        let now = self.now();
        let mut inner = self.lock();
        match inner.leases.get_mut(connection) {
            Some(lease) if lease.holder == *holder => {
                lease.expires_at = expiry(now, ttl);
                Ok(lease.clone())
            }
            _ => Err(StoreError::LeaseLost {
                connection: connection.clone(),
                holder: holder.clone(),
            }),
        }
    }

    async fn release_lease(
        &self,
        connection: &ConnectionName,
        holder: &HolderId,
    ) -> Result<bool, StoreError> {
        let now = self.now();
        let mut inner = self.lock();
        match inner.leases.get_mut(connection) {
            Some(lease) if lease.holder == *holder => {
                // Keep the lease, expired, so the next holder's generation still increases.
                lease.expires_at = now;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        Ok(self.lock().leases.values().cloned().collect())
    }

    async fn push_notification(&self, key: &RecordKey) -> Result<Notification, StoreError> {
        let now = self.now();
        let mut inner = self.lock();
        if let Some(queued) = inner.notifications.iter().find(|n| n.key == *key) {
            return Ok(queued.clone());
        }
        let notification = Notification {
            key: key.clone(),
            queued_at: now,
        };
        inner.notifications.push(notification.clone());
        Ok(notification)
    }

    async fn take_notifications(
        &self,
        connection: &ConnectionName,
        limit: usize,
    ) -> Result<Vec<Notification>, StoreError> {
        let mut inner = self.lock();
        let mut taken = Vec::new();
        inner.notifications.retain(|n| {
            if taken.len() < limit && n.key.connection == *connection {
                taken.push(n.clone());
                false
            } else {
                true
            }
        });
        Ok(taken)
    }

    async fn record_cycle(&self, report: &CycleReport) -> Result<(), StoreError> {
        let mut report = report.clone();
        report.started_at = truncate_to_micros(report.started_at);
        report.finished_at = report.finished_at.map(truncate_to_micros);
        report.next_due_at = report.next_due_at.map(truncate_to_micros);
        self.lock().cycles.insert(report.connection.clone(), report);
        Ok(())
    }

    async fn cycle_reports(&self) -> Result<Vec<CycleReport>, StoreError> {
        Ok(self.lock().cycles.values().cloned().collect())
    }
}

#[async_trait]
impl AuditLog for MemoryStore {
    async fn append(&self, entry: NewAuditEntry) -> Result<AuditEntry, StoreError> {
        let now = self.now();
        Ok(self.lock().append(entry, now))
    }

    async fn append_many(&self, entries: Vec<NewAuditEntry>) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let now = self.now();
        let mut inner = self.lock();
        for entry in entries {
            inner.append(entry, now);
        }
        Ok(())
    }

    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        let inner = self.lock();
        let limit = query.effective_limit();
        let mut entries: Vec<AuditEntry> = inner
            .audit
            .iter()
            .rev()
            .filter(|entry| {
                let state = inner.records.get(&entry.key).map(|r| r.state);
                query.matches(entry, state)
            })
            .take(limit + 1)
            .cloned()
            .collect();
        let next_before = if entries.len() > limit {
            entries.truncate(limit);
            entries.last().map(|e| e.id)
        } else {
            None
        };
        Ok(AuditPage {
            entries,
            next_before,
        })
    }
}
