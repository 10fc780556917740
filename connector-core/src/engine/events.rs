//! What the engine reports: one typed [`EngineEvent`] per happening, emitted through
//! [`Telemetry::emit`] into `tracing` and into the counters a `/metrics` endpoint reads
//! ([`MetricsSnapshot`]), plus the [`CycleSummary`] a poll cycle returns.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;

use crate::state::{EntityKind, RecordKey, RecordState};

/// The system a call went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum System {
    /// Adobe Commerce.
    Commerce,
    /// SYSPRO.
    Syspro,
}

impl System {
    /// Lower-case name for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Commerce => "commerce",
            Self::Syspro => "syspro",
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// Answered and understood.
    Ok,
    /// Answered with a business rejection (of the call or of some of its items).
    Rejected,
    /// A transient failure: nothing or an unknown part was done.
    Transient,
    /// The request may have been processed but no answer came.
    OutcomeUnknown,
    /// Any other failure.
    Failed,
}

impl CallOutcome {
    /// Lower-case name for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Rejected => "rejected",
            Self::Transient => "transient",
            Self::OutcomeUnknown => "outcome_unknown",
            Self::Failed => "failed",
        }
    }
}

/// Everything that happens in the engine, one variant per happening.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EngineEvent {
    /// A poll cycle began.
    CycleStarted,
    /// A poll cycle ended.
    CycleFinished(CycleSummary),
    /// Reference data was read from SYSPRO and cached.
    ReferenceLoaded {
        /// GL accounts confirmed.
        gl_accounts: usize,
        /// Product classes confirmed.
        product_classes: usize,
        /// Branches confirmed.
        branches: usize,
    },
    /// A code the mapping names does not exist in SYSPRO; documents that need it halt.
    ReferenceMissing {
        /// `GL account`, `product class` or `branch`.
        what: &'static str,
        /// The code.
        code: String,
        /// SYSPRO's message.
        message: String,
    },
    /// A code could not be checked (no customer to probe with); SYSPRO's own answer at posting
    /// decides.
    ReferenceUnverified {
        /// `product class` or `branch`.
        what: &'static str,
        /// The code.
        code: String,
    },
    /// A stream was read.
    StreamRead {
        /// The stream.
        kind: EntityKind,
        /// Changes read.
        read: usize,
        /// Of which new or changed.
        new: usize,
    },
    /// A stream could not be read to the end; its watermark stays where the stored changes end.
    StreamFailed {
        /// The stream.
        kind: EntityKind,
        /// What failed.
        error: String,
    },
    /// A stream's watermark moved.
    WatermarkAdvanced {
        /// The stream.
        kind: EntityKind,
        /// The new watermark.
        to: time::OffsetDateTime,
    },
    /// A document changed in Commerce after it was posted; recorded, not posted again.
    ChangedAfterPosting {
        /// The record.
        key: RecordKey,
    },
    /// A record moved.
    Transition {
        /// The record.
        key: RecordKey,
        /// From.
        from: RecordState,
        /// To.
        to: RecordState,
        /// Why (halts, retries, dead).
        reason: Option<String>,
    },
    /// A SYSPRO customer was created.
    CustomerCreated {
        /// Its code.
        code: String,
    },
    /// A call to Commerce or SYSPRO ended.
    Call {
        /// Which system.
        system: System,
        /// What was called (`orders.search`, `ARSTIN`, `COMFND` ...).
        operation: &'static str,
        /// How it ended.
        outcome: CallOutcome,
    },
    /// SYSPRO refused a document as too large; it is sent again in two halves.
    BatchSplit {
        /// `ARSTIN` or `GENTJL`.
        business_object: &'static str,
        /// Items in the refused document.
        items: usize,
    },
    /// A record whose outcome was unknown was looked up in SYSPRO.
    Reconciled {
        /// The record.
        key: RecordKey,
        /// Whether SYSPRO holds its invoice.
        invoice_found: bool,
    },
    /// The connection's lease is held by another worker; this one waits.
    LeaseHeldElsewhere {
        /// The other worker.
        holder: String,
    },
    /// The loop is stopping.
    ShuttingDown,
}

/// What one poll cycle did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CycleSummary {
    /// Changes read from Commerce (all streams).
    pub read: usize,
    /// Of which stored as new records or new versions.
    pub intake_new: usize,
    /// Of which already known (same fingerprint).
    pub intake_unchanged: usize,
    /// Documents changed in Commerce after they were posted (recorded, not posted).
    pub changed_after_posting: usize,
    /// Records posted (documents and customers).
    pub posted: usize,
    /// Records halted, with their reasons.
    pub halted: Vec<(RecordKey, String)>,
    /// Records put back to wait for another attempt.
    pub retried: usize,
    /// Records whose attempts ran out.
    pub dead: usize,
    /// Records found in `posting` and looked up in SYSPRO.
    pub reconciled: usize,
    /// SYSPRO customers created.
    pub customers_created: usize,
    /// Failures that left work for a later cycle (a stream read cut short, a reconciliation
    /// look-up or a customer update postponed, a posting whose outcome is unknown), by entity
    /// kind.
    pub errors: Vec<(EntityKind, String)>,
    /// Whether the cycle stopped early for a shutdown.
    pub interrupted: bool,
    /// Wall time of the cycle.
    pub duration: Duration,
}

impl CycleSummary {
    /// Whether the cycle found or did anything (the adaptive schedule polls sooner when it did).
    pub fn had_work(&self) -> bool {
        self.intake_new > 0 || self.posted > 0 || !self.halted.is_empty() || self.retried > 0
    }
}

/// Counters for a `/metrics` endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Calls by (system, operation, outcome).
    pub calls: BTreeMap<(System, &'static str, CallOutcome), u64>,
    /// Transitions by target state.
    pub transitions: BTreeMap<RecordState, u64>,
    /// Cycles run.
    pub cycles: u64,
    /// Sum of cycle durations.
    pub cycle_time_total: Duration,
    /// Duration of the last cycle.
    pub last_cycle_time: Duration,
    /// SYSPRO customers created.
    pub customers_created: u64,
    /// Batches split because SYSPRO refused them as too large.
    pub batch_splits: u64,
}

/// Where events go: `tracing` and the counters. Cheap to share.
#[derive(Debug, Default)]
pub struct Telemetry {
    connection: String,
    metrics: Mutex<MetricsSnapshot>,
}

impl Telemetry {
    /// Telemetry for one connection.
    pub fn new(connection: impl Into<String>) -> Self {
        Self {
            connection: connection.into(),
            metrics: Mutex::new(MetricsSnapshot::default()),
        }
    }

    /// The counters so far.
    pub fn snapshot(&self) -> MetricsSnapshot {
        self.metrics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Logs `event` and counts it.
    pub fn emit(&self, event: EngineEvent) {
        let connection = self.connection.as_str();
        match &event {
            EngineEvent::CycleStarted => tracing::debug!(connection, "poll cycle started"),
            EngineEvent::CycleFinished(s) => tracing::info!(
                connection,
                read = s.read,
                new = s.intake_new,
                posted = s.posted,
                halted = s.halted.len(),
                retried = s.retried,
                dead = s.dead,
                duration_ms = u64::try_from(s.duration.as_millis()).unwrap_or(u64::MAX),
                "poll cycle finished"
            ),
            EngineEvent::ReferenceLoaded {
                gl_accounts,
                product_classes,
                branches,
            } => tracing::info!(
                connection,
                gl_accounts,
                product_classes,
                branches,
                "reference data validated"
            ),
            EngineEvent::ReferenceMissing {
                what,
                code,
                message,
            } => tracing::warn!(
                connection,
                what,
                code,
                message,
                "mapped code missing in SYSPRO"
            ),
            EngineEvent::ReferenceUnverified { what, code } => {
                tracing::warn!(connection, what, code, "mapped code could not be verified")
            }
            EngineEvent::StreamRead { kind, read, new } => {
                tracing::info!(
                    connection,
                    stream = kind.as_str(),
                    read,
                    new,
                    "changes read"
                )
            }
            EngineEvent::StreamFailed { kind, error } => {
                tracing::warn!(
                    connection,
                    stream = kind.as_str(),
                    error,
                    "stream read failed"
                )
            }
            EngineEvent::WatermarkAdvanced { kind, to } => {
                tracing::debug!(connection, stream = kind.as_str(), to = %to, "watermark advanced")
            }
            EngineEvent::ChangedAfterPosting { key } => {
                tracing::warn!(connection, record = %key, "document changed after posting")
            }
            EngineEvent::Transition {
                key,
                from,
                to,
                reason,
            } => tracing::info!(
                connection,
                record = %key,
                from = from.as_str(),
                to = to.as_str(),
                reason = reason.as_deref().unwrap_or(""),
                "record moved"
            ),
            EngineEvent::CustomerCreated { code } => {
                tracing::info!(connection, code, "SYSPRO customer created")
            }
            EngineEvent::Call {
                system,
                operation,
                outcome,
            } => tracing::debug!(
                connection,
                system = system.as_str(),
                operation,
                outcome = outcome.as_str(),
                "call"
            ),
            EngineEvent::BatchSplit {
                business_object,
                items,
            } => tracing::warn!(
                connection,
                business_object,
                items,
                "document too large, split"
            ),
            EngineEvent::Reconciled { key, invoice_found } => {
                tracing::info!(connection, record = %key, invoice_found, "reconciled with SYSPRO")
            }
            EngineEvent::LeaseHeldElsewhere { holder } => {
                tracing::info!(connection, holder, "lease held by another worker")
            }
            EngineEvent::ShuttingDown => tracing::info!(connection, "shutting down"),
        }
        let mut m = self.metrics.lock().unwrap_or_else(PoisonError::into_inner);
        match event {
            EngineEvent::CycleFinished(s) => {
                m.cycles += 1;
                m.cycle_time_total += s.duration;
                m.last_cycle_time = s.duration;
            }
            EngineEvent::Transition { to, .. } => *m.transitions.entry(to).or_default() += 1,
            EngineEvent::CustomerCreated { .. } => m.customers_created += 1,
            EngineEvent::Call {
                system,
                operation,
                outcome,
            } => *m.calls.entry((system, operation, outcome)).or_default() += 1,
            EngineEvent::BatchSplit { .. } => m.batch_splits += 1,
            _ => {}
        }
    }
}
