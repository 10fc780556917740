//! Store writes gathered while a batch is worked on and made durable together.
//!
//! A batch of fifty documents produces a few hundred audit entries and moves. Written one by one,
//! each would be its own transaction (and, with SQLite, its own `fsync`); gathered in a
//! [`Pending`] and flushed at the points where durability matters (before a document goes to
//! SYSPRO, and once its answers are in), they cost a handful of transactions per batch.
//!
//! A flush appends the audit entries first and then applies the moves, each in the order it was
//! staged, so every record's timeline reads as if it had been written step by step.

use serde_json::Value;

use super::{Engine, EngineEvent};
use crate::audit::{AuditKind, NewAuditEntry};
use crate::state::{Payload, Record, RecordKey, RecordState, StoreError, Target, Transition};

/// A move staged for the next flush, with what its event reports.
struct StagedMove {
    transition: Transition,
    to: RecordState,
    reason: Option<String>,
}

/// What became of one staged move.
pub(crate) struct MoveOutcome {
    pub(crate) key: RecordKey,
    pub(crate) to: RecordState,
    pub(crate) result: Result<(), StoreError>,
}

/// A record and the message of its `sent` entry.
pub(crate) type SentEntry = (RecordKey, String);

/// What a SYSPRO post carries for its audit trail (see [`Engine::send_fenced`]).
pub(crate) enum Outgoing<'a> {
    /// The first document of a batch: the staged writes, with a `sent` entry for each of its
    /// items, in order.
    First(&'a mut Pending),
    /// A later document of the same batch (a half of a split document, a re-send): the record and
    /// `sent` message of each of its items, in order.
    Part(&'a [SentEntry]),
}

impl Outgoing<'_> {
    /// The record and `sent` message of each item.
    pub(crate) fn sent(&self) -> Vec<SentEntry> {
        match self {
            Outgoing::First(pending) => pending.sent(),
            Outgoing::Part(sent) => sent.to_vec(),
        }
    }
}

/// The `sent` entries of the items at `which` of a document of `items` items whose entries are
/// `sent`, in order (a half of a split document, the orders sent again); none when `sent` does
/// not match the items.
pub(crate) fn sent_of(
    sent: &[SentEntry],
    items: usize,
    which: impl IntoIterator<Item = usize>,
) -> Vec<SentEntry> {
    if sent.len() != items {
        return Vec::new();
    }
    which.into_iter().map(|index| sent[index].clone()).collect()
}

/// Audit entries and moves not yet written.
#[derive(Default)]
pub(crate) struct Pending {
    audits: Vec<NewAuditEntry>,
    moves: Vec<StagedMove>,
}

impl Pending {
    /// Whether nothing is waiting to be written.
    pub(crate) fn is_empty(&self) -> bool {
        self.audits.is_empty() && self.moves.is_empty()
    }

    /// The record and message of each `sent` entry waiting to be written.
    pub(crate) fn sent(&self) -> Vec<SentEntry> {
        self.audits
            .iter()
            .filter(|entry| entry.kind == AuditKind::Sent)
            .map(|entry| (entry.key.clone(), entry.message.clone()))
            .collect()
    }
}

impl Engine {
    /// Stages an audit entry (redacted now, written at the next flush).
    pub(crate) fn stage_audit(
        &self,
        pending: &mut Pending,
        key: &RecordKey,
        kind: AuditKind,
        message: impl Into<String>,
        document: Option<Value>,
    ) {
        let mut entry = NewAuditEntry::new(key.clone(), kind, message);
        entry.document = document.map(Payload::from);
        pending.audits.push(entry.redacted(&self.inner.redactor));
    }

    /// Stages a move of `record` from the state it is in now, as [`Engine::move_record`] does.
    pub(crate) fn stage_move(
        &self,
        pending: &mut Pending,
        record: &Record,
        to: Target,
        message: &str,
        document: Option<Value>,
    ) {
        let reason = match &to {
            Target::Halted { reason }
            | Target::Dead { reason }
            | Target::RetryWait { reason, .. } => Some(reason.clone()),
            _ => None,
        };
        let to_state = to.state();
        let mut transition = Transition::new(
            record.key.clone(),
            record.state,
            to,
            self.inner.redactor.redact_text(message),
        );
        if let Some(doc) = document {
            transition = transition.with_document(self.inner.redactor.redact_json_owned(doc));
        }
        pending.moves.push(StagedMove {
            transition,
            to: to_state,
            reason,
        });
    }

    /// Stages a move built by the caller (one that expects a version, say), as
    /// [`Engine::stage_move`] does.
    pub(crate) fn stage_transition(&self, pending: &mut Pending, transition: Transition) {
        let to = transition.to.state();
        pending.moves.push(StagedMove {
            transition,
            to,
            reason: None,
        });
    }

    /// Writes what `pending` holds (audit entries, then moves) and reports each move.
    ///
    /// # Errors
    /// A storage failure, or the first move the store refused (the others are applied and
    /// reported): a refusal means another worker moved the record, which the caller treats like
    /// the same refusal of a single move.
    pub(crate) async fn flush(&self, pending: &mut Pending) -> Result<(), StoreError> {
        let outcomes = self.write_pending(pending).await?;
        match outcomes
            .into_iter()
            .find_map(|outcome| outcome.result.err())
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Writes what `pending` holds, as [`Engine::flush`] does, and returns the outcome of each
    /// move in the order staged, refusals included.
    ///
    /// # Errors
    /// A storage failure only.
    pub(crate) async fn write_pending(
        &self,
        pending: &mut Pending,
    ) -> Result<Vec<MoveOutcome>, StoreError> {
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        let audits = std::mem::take(&mut pending.audits);
        let staged = std::mem::take(&mut pending.moves);
        let mut reports = Vec::with_capacity(staged.len());
        let mut transitions = Vec::with_capacity(staged.len());
        for m in staged {
            reports.push((m.transition.key.clone(), m.transition.from, m.to, m.reason));
            transitions.push(m.transition);
        }
        let results = {
            let _turn = self.inner.writes.lock().await;
            if !audits.is_empty() {
                self.inner.audit.append_many(audits).await?;
            }
            if transitions.is_empty() {
                Vec::new()
            } else {
                self.inner.store.move_many(transitions).await?
            }
        };
        let mut outcomes = Vec::with_capacity(results.len());
        for ((key, from, to, reason), result) in reports.into_iter().zip(results) {
            if result.is_ok() {
                self.emit(EngineEvent::Transition {
                    key: key.clone(),
                    from,
                    to,
                    reason,
                });
            }
            outcomes.push(MoveOutcome { key, to, result });
        }
        Ok(outcomes)
    }
}
