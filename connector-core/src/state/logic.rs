//! The decisions every store makes the same way, kept apart from storage so implementations cannot
//! drift.

use time::OffsetDateTime;

use std::time::Duration;

use super::{
    ConnectionName, EntityKind, HolderId, Intake, Lease, Record, RecordState, StoreError, Target,
    Transition, expiry, transition_message,
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

    // A customer record that was matched or created in SYSPRO is processed again for each new
    // version, so the SYSPRO customer is kept in step; only documents are posted once.
    let customer_in_syspro = existing.key.kind == EntityKind::Customer
        && matches!(existing.state, RecordState::Posted | RecordState::Posting);
    if existing.fingerprint == intake.fingerprint
        || (!customer_in_syspro
            && existing.changed_after_posting.as_ref() == Some(&intake.fingerprint))
    {
        return IntakePlan::Unchanged;
    }
    // The same content with a later `updated_at` (a write-back of the SYSPRO code, for one) has
    // nothing to keep in step.
    if customer_in_syspro && existing.fingerprint.content_hash == intake.fingerprint.content_hash {
        return IntakePlan::Unchanged;
    }

    let mut record = existing.clone();
    match existing.state {
        from @ (RecordState::Posted | RecordState::Posting) if customer_in_syspro => {
            let audits = vec![
                read_entry(format!(
                    "new version read from Commerce (updated_at {})",
                    intake.fingerprint.updated_at
                )),
                NewAuditEntry::new(
                    intake.key.clone(),
                    AuditKind::Transition,
                    transition_message(
                        from,
                        RecordState::Received,
                        "new version of a customer already in SYSPRO; processed again to keep the SYSPRO customer in step",
                    ),
                ),
            ];
            record.fingerprint = intake.fingerprint;
            record.payload = intake.payload;
            record.changed_after_posting = None;
            Target::Received.apply(&mut record, now);
            IntakePlan::Write {
                record: Box::new(record),
                audits,
                kind: IntakeKind::Updated,
            }
        }
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

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;
    use crate::state::{Fingerprint, RecordKey, SysproKeys};

    const NOW: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);

    fn intake(kind: EntityKind, at: OffsetDateTime, content: serde_json::Value) -> Intake {
        let key = RecordKey::new(ConnectionName::new("eu").unwrap(), kind, "42");
        Intake {
            key,
            fingerprint: Fingerprint::of_document("42", at, &content),
            payload: content.into(),
        }
    }

    fn stored(first: &Intake, state: RecordState) -> Record {
        let IntakePlan::Write { record, .. } = plan_intake(None, first.clone(), NOW) else {
            panic!("a first intake writes");
        };
        let mut record = *record;
        record.state = state;
        record.syspro = SysproKeys {
            customer: Some("WEB000042".to_owned()),
            ..SysproKeys::default()
        };
        record
    }

    #[test]
    fn a_new_version_of_a_customer_in_syspro_is_processed_again() {
        for state in [RecordState::Posted, RecordState::Posting] {
            let first = intake(EntityKind::Customer, NOW, json!({"lastname": "Lee"}));
            let existing = stored(&first, state);
            let later = datetime!(2026-03-02 10:00 UTC);
            let next = intake(EntityKind::Customer, later, json!({"lastname": "Li"}));
            let IntakePlan::Write {
                record,
                audits,
                kind,
            } = plan_intake(Some(&existing), next.clone(), later)
            else {
                panic!("a new version is written");
            };
            assert_eq!(kind, IntakeKind::Updated);
            assert_eq!(record.state, RecordState::Received);
            assert_eq!(record.payload, next.payload);
            assert_eq!(record.fingerprint, next.fingerprint);
            assert_eq!(record.changed_after_posting, None);
            assert_eq!(record.syspro.customer.as_deref(), Some("WEB000042"));
            assert!(
                audits.iter().any(|a| a.kind == AuditKind::Transition
                    && a.message.contains("keep the SYSPRO customer in step")),
                "{audits:?}"
            );
        }
    }

    #[test]
    fn a_customer_with_the_same_content_and_a_later_timestamp_is_unchanged() {
        let first = intake(EntityKind::Customer, NOW, json!({"lastname": "Lee"}));
        let existing = stored(&first, RecordState::Posted);
        let touched = intake(
            EntityKind::Customer,
            datetime!(2026-03-02 10:00 UTC),
            json!({"lastname": "Lee"}),
        );
        assert!(matches!(
            plan_intake(Some(&existing), touched, NOW),
            IntakePlan::Unchanged
        ));
    }

    #[test]
    fn a_new_version_of_a_posted_document_is_still_not_posted_again() {
        let first = intake(EntityKind::Invoice, NOW, json!({"grand_total": 10}));
        let existing = stored(&first, RecordState::Posted);
        let next = intake(EntityKind::Invoice, NOW, json!({"grand_total": 11}));
        let IntakePlan::Write { record, kind, .. } = plan_intake(Some(&existing), next, NOW) else {
            panic!("a new version is recorded");
        };
        assert_eq!(kind, IntakeKind::ChangedAfterPosting);
        assert_eq!(record.state, RecordState::Posted);
    }
}
