//! The decisions every store makes the same way, kept apart from storage so implementations cannot
//! drift.

use time::OffsetDateTime;

use std::time::Duration;

use super::{
    ConnectionName, HolderId, Intake, Lease, Record, RecordState, StoreError, Target, Transition,
    expiry, transition_message,
};
use crate::audit::{AuditKind, NewAuditEntry};

/// How an intake ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntakeKind {
    Created,
    Updated,
    ChangedAfterPosting,
}

/// What an intake must write.
pub(crate) enum IntakePlan {
    /// Nothing: this version was seen before.
    Unchanged,
    /// Store `record` (insert when `kind` is `Created`, else update) and append `audits`.
    Write {
        record: Box<Record>,
        audits: Vec<NewAuditEntry>,
        kind: IntakeKind,
    },
}

/// Decides what storing `intake` does to `existing` at `now`.
pub(crate) fn plan_intake(
    existing: Option<&Record>,
    intake: Intake,
    now: OffsetDateTime,
) -> IntakePlan {
    let read_entry = |message: String| {
        NewAuditEntry::new(intake.key.clone(), AuditKind::Read, message)
            .with_document(intake.payload.clone())
    };
    let Some(existing) = existing else {
        let audits = vec![read_entry(format!(
            "read from Commerce (updated_at {})",
            intake.fingerprint.updated_at
        ))];
        let record = Record {
            key: intake.key,
            state: RecordState::Received,
            attempts: 0,
            next_attempt_at: None,
            fingerprint: intake.fingerprint,
            changed_after_posting: None,
            payload: intake.payload,
            reason: None,
            syspro: super::SysproKeys::default(),
            created_at: now,
            updated_at: now,
            state_since: now,
            version: 1,
        };
        return IntakePlan::Write {
            record: Box::new(record),
            audits,
            kind: IntakeKind::Created,
        };
    };

    if existing.fingerprint == intake.fingerprint
        || existing.changed_after_posting.as_ref() == Some(&intake.fingerprint)
    {
        return IntakePlan::Unchanged;
    }

    let mut record = existing.clone();
    match existing.state {
        RecordState::Posted | RecordState::Posting => {
            let audits = vec![
                read_entry(format!(
                    "new version read from Commerce (updated_at {})",
                    intake.fingerprint.updated_at
                )),
                NewAuditEntry::new(
                    intake.key.clone(),
                    AuditKind::Decided,
                    format!(
                        "document changed in Commerce while {}; not posted again, needs review",
                        existing.state
                    ),
                ),
            ];
            record.changed_after_posting = Some(intake.fingerprint);
            record.updated_at = now;
            record.version += 1;
            IntakePlan::Write {
                record: Box::new(record),
                audits,
                kind: IntakeKind::ChangedAfterPosting,
            }
        }
        from => {
            let mut audits = vec![read_entry(format!(
                "new version read from Commerce (updated_at {})",
                intake.fingerprint.updated_at
            ))];
            record.fingerprint = intake.fingerprint;
            record.payload = intake.payload;
            if from == RecordState::Received {
                record.updated_at = now;
                record.version += 1;
            } else {
                Target::Received.apply(&mut record, now);
                audits.push(NewAuditEntry::new(
                    intake.key.clone(),
                    AuditKind::Transition,
                    transition_message(from, RecordState::Received, "new version of the document"),
                ));
            }
            IntakePlan::Write {
                record: Box::new(record),
                audits,
                kind: IntakeKind::Updated,
            }
        }
    }
}

/// Fails unless the table allows `transition` at all (checked before reading the record).
pub(crate) fn check_allowed(transition: &Transition) -> Result<(), StoreError> {
    let to = transition.to.state();
    if transition.from.can_transition_to(to) {
        Ok(())
    } else {
        Err(StoreError::IllegalTransition {
            key: transition.key.clone(),
            from: transition.from,
            to,
        })
    }
}

/// Applies `transition` to `record` (as currently stored) at `now`, or says why it cannot.
pub(crate) fn apply_transition(
    record: &Record,
    transition: &Transition,
    now: OffsetDateTime,
) -> Result<(Record, NewAuditEntry), StoreError> {
    check_allowed(transition)?;
    if record.state != transition.from {
        return Err(StoreError::StateMismatch {
            key: transition.key.clone(),
            expected: transition.from,
            actual: record.state,
        });
    }
    if let Some(expected) = transition.expected_version
        && expected != record.version
    {
        return Err(StoreError::VersionConflict {
            key: transition.key.clone(),
            expected,
            actual: record.version,
        });
    }
    let mut updated = record.clone();
    transition.to.apply(&mut updated, now);
    let mut audit = NewAuditEntry::new(
        transition.key.clone(),
        AuditKind::Transition,
        transition_message(transition.from, updated.state, &transition.message),
    );
    audit.document = transition.document.clone();
    Ok((updated, audit))
}

/// Moves a due record to `posting`, with its audit entry.
pub(crate) fn claim(record: &Record, now: OffsetDateTime) -> (Record, NewAuditEntry) {
    let mut updated = record.clone();
    Target::Posting.apply(&mut updated, now);
    let audit = NewAuditEntry::new(
        record.key.clone(),
        AuditKind::Transition,
        transition_message(
            record.state,
            RecordState::Posting,
            &format!("claimed for posting (attempt {})", updated.attempts),
        ),
    );
    (updated, audit)
}

/// Whether `record` is due for posting at `now`.
pub(crate) fn is_due(record: &Record, now: OffsetDateTime) -> bool {
    match record.state {
        RecordState::Mapped => true,
        RecordState::RetryWait => record.next_attempt_at.is_none_or(|at| at <= now),
        _ => false,
    }
}

/// The instant a due record has been waiting since, for oldest-first claiming.
pub(crate) fn due_since(record: &Record) -> OffsetDateTime {
    record.next_attempt_at.unwrap_or(record.state_since)
}

/// Decides a lease request: `Ok` is the lease to store for the caller, `Err` the other holder's lease.
pub(crate) fn plan_acquire(
    current: Option<&Lease>,
    connection: &ConnectionName,
    holder: &HolderId,
    ttl: Duration,
    now: OffsetDateTime,
) -> Result<Lease, Lease> {
    match current {
        Some(current) if current.holder == *holder => Ok(Lease {
            expires_at: expiry(now, ttl),
            ..current.clone()
        }),
        Some(current) if !current.is_expired(now) => Err(current.clone()),
        current => Ok(Lease {
            connection: connection.clone(),
            holder: holder.clone(),
            acquired_at: now,
            expires_at: expiry(now, ttl),
            generation: current.map_or(1, |c| c.generation + 1),
        }),
    }
}
