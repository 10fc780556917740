//! Durable state: one record per Commerce document, its transitions, stream watermarks and
//! per-connection leases.
//!
//! # Record states
//!
//! A record is created in `received` when a document is first read. Every move below is one
//! transaction together with its audit entry, so a crash between two steps leaves the record in the
//! state before or after the move, never in between.
//!
//! | From | To | When |
//! |---|---|---|
//! | `received` | `mapped` | the mapper produced a posting plan (the planned invoice number is stored) |
//! | `received` | `halted` | mapping failed (missing customer, GL account ...) |
//! | `mapped` | `posting` | claimed for a batch ([`StateStore::claim_due`]); counts one attempt |
//! | `mapped` | `halted` | the plan failed validation before sending |
//! | `mapped` | `received` | a new version of the document arrived |
//! | `posting` | `posted` | SYSPRO confirmed the invoice and journal (or reconciliation found them) |
//! | `posting` | `halted` | SYSPRO rejected the document (business error) |
//! | `posting` | `retry_wait` | transient failure, or reconciliation found nothing was posted |
//! | `posting` | `dead` | transient failure with attempts exhausted |
//! | `retry_wait` | `posting` | due again and claimed |
//! | `retry_wait` | `halted` / `dead` | an operator or the engine gave up on retrying |
//! | `retry_wait` | `received` | a new version of the document arrived |
//! | `halted` | `received` | replay, or a new version of the document arrived |
//! | `dead` | `received` | replay, or a new version of the document arrived |
//!
//! `posted` is final for documents: a new version of a posted order, invoice or credit memo is
//! recorded in [`Record::changed_after_posting`] and the audit log, never posted again. A customer
//! record is the exception: a new version of a posted customer goes back to `received` at intake, so
//! the SYSPRO customer is kept in step with it (no transition leaves `posted`; the intake does).
//! Every other move fails with
//! [`StoreError::IllegalTransition`]. Moving to `received` resets the attempt count. A record whose
//! mapping failed for a transient reason stays in `received` and is mapped again on the next cycle.
//!
//! # Reliability
//!
//! - Intake is idempotent by fingerprint: reading the same version again writes nothing.
//! - A watermark only moves forward, and callers advance it only after the records it covers are stored.
//! - A record left in `posting` by a crash is found by [`StateStore::stale_posting`] and reconciled with
//!   SYSPRO before anything is sent again.
//! - Claims hand each due record to exactly one caller, and leases give one worker at a time the right
//!   to poll and post for a connection. Both are written so that a shared database with
//!   `FOR UPDATE SKIP LOCKED` claiming and row-level lease updates fits the same trait.
//!
//! Implementations: [`MemoryStore`] (tests and embedding experiments), [`SqliteStore`] (the embedded
//! default) and [`PostgresStore`] (several workers on several machines sharing one database);
//! [`AnyStore`] opens the one a store URL names. [`conformance`] holds the behaviour tests every
//! implementation must pass.
//!
//! # Several workers
//!
//! Timestamps, lease expiry included, come from each worker's injected clock, as in every store: the
//! machines sharing a database keep their clocks synchronised (NTP), and the lease time should be
//! well above their drift. Webhook notifications pass between workers through a small queue
//! ([`StateStore::push_notification`], [`StateStore::take_notifications`]), and each worker reports
//! its cycles ([`StateStore::record_cycle`]) so `status` can show who does what.

mod batch;
mod canonical;
pub mod conformance;
mod error;
mod logic;
mod memory;
mod open;
mod payload;
mod postgres;
mod sqlite;
#[doc(hidden)]
pub mod stored_text;
mod types;

use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

pub use error::StoreError;
pub use memory::MemoryStore;
pub use open::{AnyStore, StoreLocation, redact_url};
pub use payload::Payload;
pub use postgres::{PostgresOptions, PostgresStore};
pub use sqlite::{SqliteOptions, SqliteStore};
pub use types::{
    ConnectionName, CycleReport, EntityKind, Fingerprint, HolderId, Intake, IntakeOutcome, Lease,
    LeaseOutcome, Notification, Record, RecordFilter, RecordKey, RecordState, StateCounts,
    StreamName, SysproKeys, Target, Transition,
};

/// Records, transitions, watermarks and leases.
///
/// Every method is one atomic unit: it either happens entirely or not at all. Timestamps come from the
/// store's [`Clock`](crate::clock::Clock) and keep microsecond precision.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// Stores a document read from Commerce, keyed by [`Intake::key`].
    ///
    /// A new key creates a record in `received`; a known fingerprint changes nothing; a new version
    /// of a record not yet posted replaces the payload and moves it (back) to `received`; a new version
    /// of a posted document is recorded as such, and a new version of a posted customer moves it back
    /// to `received`. Every write also appends an audit entry.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot write.
    async fn intake(&self, intake: Intake) -> Result<IntakeOutcome, StoreError>;

    /// Moves one record, checking the transition table, the expected state and (if given) the expected
    /// version, and appends a `transition` audit entry in the same transaction.
    ///
    /// # Errors
    /// [`StoreError::IllegalTransition`], [`StoreError::NotFound`], [`StoreError::StateMismatch`],
    /// [`StoreError::VersionConflict`], or a storage failure.
    async fn transition(&self, transition: Transition) -> Result<Record, StoreError>;

    /// Stores several documents read from Commerce, with the same effect as calling
    /// [`StateStore::intake`] for each in order, and returns their outcomes in that order.
    ///
    /// Stores override it to write everything in one transaction (all or nothing, one commit): a
    /// page of changes then costs one write instead of one per document. The default calls
    /// [`StateStore::intake`] for each, so a failure can leave the earlier ones stored, which the
    /// reader tolerates (the watermark advances only past what this call returned).
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot write.
    async fn intake_many(&self, intakes: Vec<Intake>) -> Result<Vec<IntakeOutcome>, StoreError> {
        let mut outcomes = Vec::with_capacity(intakes.len());
        for intake in intakes {
            outcomes.push(self.intake(intake).await?);
        }
        Ok(outcomes)
    }

    /// Applies several transitions in the order given, each seeing the effect of the ones before it
    /// (so one record may move twice), and returns each one's result in that order.
    ///
    /// A transition the rules refuse ([`StoreError::is_refusal`]: not allowed, not found, another
    /// state or version) fails alone, with its error in the list, and the others still apply. Any
    /// other failure fails the call. Stores override it to apply everything in one transaction; the
    /// default calls [`StateStore::transition`] for each.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot write.
    async fn transition_many(
        &self,
        transitions: Vec<Transition>,
    ) -> Result<Vec<Result<Record, StoreError>>, StoreError> {
        let mut results = Vec::with_capacity(transitions.len());
        for transition in transitions {
            match self.transition(transition).await {
                Err(e) if !e.is_refusal() => return Err(e),
                result => results.push(result),
            }
        }
        Ok(results)
    }

    /// [`StateStore::transition_many`] for a caller that needs to know only which moves were made,
    /// not the records they made: a store may then skip reading the stored documents, which moves
    /// never change. Same rules, same audit entries, same errors.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot write.
    async fn move_many(
        &self,
        transitions: Vec<Transition>,
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        Ok(self
            .transition_many(transitions)
            .await?
            .into_iter()
            .map(|result| result.map(drop))
            .collect())
    }

    /// Claims up to `limit` due records of `connection` (optionally one kind) for posting: records in
    /// `mapped`, and records in `retry_wait` whose `next_attempt_at` has come. Claimed records move to
    /// `posting` (one attempt counted, audited) and are returned oldest first. Concurrent callers never
    /// receive the same record.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot write.
    async fn claim_due(
        &self,
        connection: &ConnectionName,
        kind: Option<EntityKind>,
        limit: usize,
    ) -> Result<Vec<Record>, StoreError>;

    /// One record by key.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot read.
    async fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError>;

    /// Records matching `filter`, in key order (for status, replay and the error inbox).
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot read.
    async fn list(&self, filter: &RecordFilter) -> Result<Vec<Record>, StoreError>;

    /// Records of `connection` that entered `posting` at or before `entered_before`: their outcome is
    /// unknown and must be reconciled with SYSPRO. Oldest first.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot read.
    async fn stale_posting(
        &self,
        connection: &ConnectionName,
        entered_before: OffsetDateTime,
    ) -> Result<Vec<Record>, StoreError>;

    /// Number of records per state, for one connection or all.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot read.
    async fn counts(&self, connection: Option<&ConnectionName>) -> Result<StateCounts, StoreError>;

    /// The watermark of a stream: the `updated_at` up to which every change is stored.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot read.
    async fn watermark(
        &self,
        connection: &ConnectionName,
        stream: &StreamName,
    ) -> Result<Option<OffsetDateTime>, StoreError>;

    /// Moves a stream's watermark to `to` if that is later than where it stands, and returns where it
    /// stands afterwards. An earlier `to` changes nothing.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot write.
    async fn advance_watermark(
        &self,
        connection: &ConnectionName,
        stream: &StreamName,
        to: OffsetDateTime,
    ) -> Result<OffsetDateTime, StoreError>;

    /// Asks for the lease on `connection` for `ttl`. Succeeds when nobody holds it, when the caller
    /// already holds it (the lease is extended), or when the holder's lease has expired (take-over,
    /// with a new generation).
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot write.
    async fn acquire_lease(
        &self,
        connection: &ConnectionName,
        holder: &HolderId,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StoreError>;

    /// Extends the caller's lease to `now + ttl`. A lapsed lease that nobody took over is renewed.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] when another worker holds the lease or none exists.
    async fn renew_lease(
        &self,
        connection: &ConnectionName,
        holder: &HolderId,
        ttl: Duration,
    ) -> Result<Lease, StoreError>;

    /// Gives the lease up so another worker can take it at once. Returns whether the caller held it.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot write.
    async fn release_lease(
        &self,
        connection: &ConnectionName,
        holder: &HolderId,
    ) -> Result<bool, StoreError>;

    /// Every lease, expired or not, by connection (for `status`).
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot read.
    async fn leases(&self) -> Result<Vec<Lease>, StoreError>;

    /// Queues a webhook notification for whichever worker holds `key.connection`'s lease. A record
    /// already queued stays queued once (with its first time).
    ///
    /// The default refuses with [`StoreError::Unsupported`], for stores written before the queue
    /// existed; callers then process the notification themselves.
    ///
    /// # Errors
    /// [`StoreError::Unsupported`], or [`StoreError`] when the store cannot write.
    async fn push_notification(&self, key: &RecordKey) -> Result<Notification, StoreError> {
        let _ = key;
        Err(StoreError::Unsupported {
            what: "the webhook notification queue",
        })
    }

    /// Takes (and deletes) up to `limit` queued notifications of `connection`, oldest first.
    /// Concurrent callers never receive the same notification.
    ///
    /// # Errors
    /// [`StoreError::Unsupported`] (the default), or [`StoreError`] when the store cannot write.
    async fn take_notifications(
        &self,
        connection: &ConnectionName,
        limit: usize,
    ) -> Result<Vec<Notification>, StoreError> {
        let _ = (connection, limit);
        Err(StoreError::Unsupported {
            what: "the webhook notification queue",
        })
    }

    /// Records how a connection's latest cycle went, replacing the previous report of that
    /// connection.
    ///
    /// # Errors
    /// [`StoreError::Unsupported`] (the default), or [`StoreError`] when the store cannot write.
    async fn record_cycle(&self, report: &CycleReport) -> Result<(), StoreError> {
        let _ = report;
        Err(StoreError::Unsupported {
            what: "cycle reports",
        })
    }

    /// The latest cycle report of every connection, by connection.
    ///
    /// # Errors
    /// [`StoreError::Unsupported`] (the default), or [`StoreError`] when the store cannot read.
    async fn cycle_reports(&self) -> Result<Vec<CycleReport>, StoreError> {
        Err(StoreError::Unsupported {
            what: "cycle reports",
        })
    }
}

/// `now + ttl`, saturating instead of overflowing.
pub(crate) fn expiry(now: OffsetDateTime, ttl: Duration) -> OffsetDateTime {
    let ttl = time::Duration::try_from(ttl).unwrap_or(time::Duration::MAX);
    crate::clock::truncate_to_micros(now.saturating_add(ttl))
}

/// The audit message of a transition.
pub(crate) fn transition_message(from: RecordState, to: RecordState, message: &str) -> String {
    if message.is_empty() {
        format!("{from} -> {to}")
    } else {
        format!("{from} -> {to}: {message}")
    }
}
