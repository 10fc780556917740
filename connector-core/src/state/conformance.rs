//! Behaviour tests every [`StateStore`] + [`AuditLog`] implementation must pass.
//!
//! Each function tests one behaviour against fresh stores made by `open`, a function from a clock to a
//! new, empty store (a fresh database per call). It panics on failure, so it can be called from any test
//! harness. [`store_conformance_tests!`](crate::store_conformance_tests) expands to one `#[tokio::test]`
//! per behaviour; a new implementation runs the whole suite with one line:
//!
//! ```ignore
//! connector_core::store_conformance_tests!(open_my_store);
//! ```
//!
//! Durable stores also run [`persists_across_reopen`], whose `open` reopens one database.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use time::OffsetDateTime;
use time::macros::datetime;

use super::{
    ConnectionName, CycleReport, EntityKind, Fingerprint, HolderId, Intake, IntakeOutcome,
    LeaseOutcome, Record, RecordFilter, RecordKey, RecordState, StateStore, StoreError, StreamName,
    SysproKeys, Target, Transition,
};
use crate::audit::{AuditEntry, AuditKind, AuditLog, AuditQuery, NewAuditEntry};
use crate::clock::{Clock, ManualClock};

/// What the suite needs of a store.
pub trait StoreUnderTest: StateStore + AuditLog + Send + Sync + 'static {}
impl<T: StateStore + AuditLog + Send + Sync + 'static> StoreUnderTest for T {}

/// The instant every test clock starts at.
pub const START: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);

fn clock() -> ManualClock {
    ManualClock::new(START)
}

async fn fresh<S, F>(open: &impl Fn(Arc<dyn Clock>) -> F) -> (S, ManualClock)
where
    S: StoreUnderTest,
    F: Future<Output = S>,
{
    let clock = clock();
    let store = open(Arc::new(clock.clone())).await;
    (store, clock)
}

fn conn(name: &str) -> ConnectionName {
    ConnectionName::new(name).expect("valid connection name")
}

fn key(connection: &str, id: &str) -> RecordKey {
    RecordKey::new(conn(connection), EntityKind::Invoice, id)
}

fn intake_of(key: &RecordKey, revision: u32) -> Intake {
    let payload = json!({
        "entity_id": key.commerce_id,
        "increment_id": format!("INV-{}", key.commerce_id),
        "grand_total": format!("{}.00", 100 + revision),
        "items": [{"sku": "SKU-1", "qty": 1}],
    });
    let updated_at = START + time::Duration::minutes(i64::from(revision));
    Intake {
        key: key.clone(),
        fingerprint: Fingerprint::of_document(&key.commerce_id, updated_at, &payload),
        payload: payload.into(),
    }
}

async fn transition(
    store: &impl StateStore,
    key: &RecordKey,
    from: RecordState,
    to: Target,
) -> Record {
    let to_state = to.state();
    store
        .transition(Transition::new(key.clone(), from, to, "conformance"))
        .await
        .unwrap_or_else(|e| panic!("{from} -> {to_state} failed: {e}"))
}

fn target_for(state: RecordState, clock: &ManualClock) -> Target {
    match state {
        RecordState::Received => Target::Received,
        RecordState::Mapped => Target::Mapped {
            syspro: SysproKeys {
                invoice: Some("WEB000123".to_owned()),
                journal: None,
                customer: Some("CUST-EU-0042".to_owned()),
            },
        },
        RecordState::Posting => Target::Posting,
        RecordState::Posted => Target::Posted {
            syspro: SysproKeys {
                invoice: None,
                journal: Some("2026-03-000017".to_owned()),
                customer: None,
            },
        },
        RecordState::Halted => Target::Halted {
            reason: "no GL account mapped for SKU SKU-1".to_owned(),
        },
        RecordState::RetryWait => Target::RetryWait {
            next_attempt_at: clock.now() + time::Duration::minutes(5),
            reason: "SYSPRO answered 503".to_owned(),
        },
        RecordState::Dead => Target::Dead {
            reason: "attempts exhausted".to_owned(),
        },
    }
}

/// Creates `key` and moves it along legal transitions until it is in `state`.
async fn drive_to(
    store: &impl StateStore,
    clock: &ManualClock,
    key: &RecordKey,
    state: RecordState,
) -> Record {
    let created = store.intake(intake_of(key, 0)).await.expect("intake");
    let path: &[RecordState] = match state {
        RecordState::Received => &[],
        RecordState::Mapped => &[RecordState::Mapped],
        RecordState::Posting => &[RecordState::Mapped, RecordState::Posting],
        RecordState::Posted => &[
            RecordState::Mapped,
            RecordState::Posting,
            RecordState::Posted,
        ],
        RecordState::Halted => &[RecordState::Halted],
        RecordState::RetryWait => &[
            RecordState::Mapped,
            RecordState::Posting,
            RecordState::RetryWait,
        ],
        RecordState::Dead => &[RecordState::Mapped, RecordState::Posting, RecordState::Dead],
    };
    let mut record = created.record().clone();
    for next in path {
        record = transition(store, key, record.state, target_for(*next, clock)).await;
    }
    assert_eq!(record.state, state);
    record
}

async fn audit_of(store: &impl AuditLog, key: &RecordKey) -> Vec<AuditEntry> {
    store
        .query(&AuditQuery {
            limit: 1000,
            ..AuditQuery::for_record(key.clone())
        })
        .await
        .expect("audit query")
        .entries
}

/// Storing the same document version twice creates one record and one audit entry; the second intake
/// reports an unchanged fingerprint.
pub async fn intake_is_idempotent<S: StoreUnderTest, F: Future<Output = S>>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    let (store, _clock) = fresh(&open).await;
    let key = key("eu", "1001");
    let first = store
        .intake(intake_of(&key, 0))
        .await
        .expect("first intake");
    assert!(matches!(first, IntakeOutcome::Created(_)), "{first:?}");
    assert!(first.is_new_fingerprint() && first.needs_processing());
    let record = first.record();
    assert_eq!(record.state, RecordState::Received);
    assert_eq!(record.attempts, 0);
    assert_eq!(record.payload, intake_of(&key, 0).payload);
    assert_eq!(record.created_at, START);

    let second = store
        .intake(intake_of(&key, 0))
        .await
        .expect("second intake");
    assert!(matches!(second, IntakeOutcome::Unchanged(_)), "{second:?}");
    assert!(!second.is_new_fingerprint());
    assert_eq!(
        second.record(),
        record,
        "an unchanged intake must not modify the record"
    );

    let stored = store.get(&key).await.expect("get").expect("record exists");
    assert_eq!(&stored, record);
    let audit = audit_of(&store, &key).await;
    assert_eq!(audit.len(), 1, "one read entry expected: {audit:?}");
    assert_eq!(audit[0].kind, AuditKind::Read);
    assert_eq!(audit[0].document.as_ref(), Some(&*record.payload));
    assert_eq!(store.counts(None).await.expect("counts").total(), 1);
}

/// A new version of a document not yet posted replaces the payload and restarts the record.
pub async fn intake_new_version_restarts_unposted_record<
    S: StoreUnderTest,
    F: Future<Output = S>,
>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    let (store, clock) = fresh(&open).await;
    for (id, state) in [
        ("1", RecordState::Received),
        ("2", RecordState::Mapped),
        ("3", RecordState::Halted),
        ("4", RecordState::RetryWait),
        ("5", RecordState::Dead),
    ] {
        let key = key("eu", id);
        let before = drive_to(&store, &clock, &key, state).await;
        clock.advance(Duration::from_secs(1));
        let outcome = store
            .intake(intake_of(&key, 1))
            .await
            .expect("intake of new version");
        assert!(
            matches!(outcome, IntakeOutcome::Updated(_)),
            "{state}: {outcome:?}"
        );
        assert!(outcome.needs_processing());
        let after = outcome.record();
        assert_eq!(after.state, RecordState::Received, "{state}");
        assert_eq!(after.attempts, 0, "{state}: attempts reset");
        assert_eq!(after.reason, None, "{state}: reason cleared");
        assert_eq!(after.payload, intake_of(&key, 1).payload, "{state}");
        assert_eq!(after.fingerprint, intake_of(&key, 1).fingerprint, "{state}");
        assert!(
            after.version > before.version,
            "{state}: version must increase"
        );
        assert_eq!(
            store.get(&key).await.expect("get").as_ref(),
            Some(after),
            "{state}"
        );
    }
}

/// A new version of a posted document is recorded and audited but the record stays posted.
pub async fn intake_after_posting_is_recorded_not_reposted<
    S: StoreUnderTest,
    F: Future<Output = S>,
>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    let (store, clock) = fresh(&open).await;
    for (id, state) in [("1", RecordState::Posted), ("2", RecordState::Posting)] {
        let key = key("eu", id);
        let before = drive_to(&store, &clock, &key, state).await;
        let outcome = store.intake(intake_of(&key, 1)).await.expect("intake");
        assert!(
            matches!(outcome, IntakeOutcome::ChangedAfterPosting(_)),
            "{outcome:?}"
        );
        assert!(outcome.is_new_fingerprint() && !outcome.needs_processing());
        let after = outcome.record();
        assert_eq!(after.state, state);
        assert_eq!(
            after.payload, before.payload,
            "the posted payload must be kept"
        );
        assert_eq!(after.fingerprint, before.fingerprint);
        assert_eq!(
            after.changed_after_posting,
            Some(intake_of(&key, 1).fingerprint)
        );
        assert_eq!(after.attempts, before.attempts);

        let again = store
            .intake(intake_of(&key, 1))
            .await
            .expect("intake again");
        assert!(matches!(again, IntakeOutcome::Unchanged(_)), "{again:?}");
        let original = store
            .intake(intake_of(&key, 0))
            .await
            .expect("intake of original");
        assert!(
            matches!(original, IntakeOutcome::Unchanged(_)),
            "{original:?}"
        );

        let audit = audit_of(&store, &key).await;
        assert!(
            audit
                .iter()
                .any(|e| e.kind == AuditKind::Decided && e.message.contains("not posted again")),
            "decision missing: {audit:?}"
        );
    }
}

/// Every transition the table allows succeeds, applies its effects and is audited.
pub async fn legal_transitions_succeed<S: StoreUnderTest, F: Future<Output = S>>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    let (store, clock) = fresh(&open).await;
    let mut n = 0;
    for from in RecordState::ALL {
        for to in RecordState::ALL
            .into_iter()
            .filter(|to| from.can_transition_to(*to))
        {
            n += 1;
            let key = key("eu", &format!("legal-{n}"));
            let before = drive_to(&store, &clock, &key, from).await;
            let audit_before = audit_of(&store, &key).await.len();
            clock.advance(Duration::from_secs(3));
            let target = target_for(to, &clock);
            let after = store
                .transition(
                    Transition::new(key.clone(), from, target.clone(), "by the book")
                        .expecting_version(before.version),
                )
                .await
                .unwrap_or_else(|e| panic!("{from} -> {to} must be allowed: {e}"));
            assert_eq!(after.state, to);
            assert_eq!(after.version, before.version + 1, "{from} -> {to}");
            assert_eq!(after.state_since, clock.now(), "{from} -> {to}");
            match &target {
                Target::Received => {
                    assert_eq!(after.attempts, 0);
                    assert_eq!(after.reason, None);
                }
                Target::Posting => {
                    assert_eq!(after.attempts, before.attempts + 1, "{from} -> posting")
                }
                Target::RetryWait {
                    next_attempt_at,
                    reason,
                } => {
                    assert_eq!(after.next_attempt_at, Some(*next_attempt_at));
                    assert_eq!(after.reason.as_ref(), Some(reason));
                }
                Target::Halted { reason } | Target::Dead { reason } => {
                    assert_eq!(after.reason.as_ref(), Some(reason));
                }
                Target::Mapped { syspro } | Target::Posted { syspro } => {
                    assert_eq!(after.syspro, before.syspro.merged(syspro));
                    assert_eq!(after.reason, None);
                }
            }
            if to != RecordState::RetryWait {
                assert_eq!(after.next_attempt_at, None, "{from} -> {to}");
            }
            assert_eq!(store.get(&key).await.expect("get").as_ref(), Some(&after));
            let audit = audit_of(&store, &key).await;
            assert_eq!(
                audit.len(),
                audit_before + 1,
                "{from} -> {to}: one audit entry"
            );
            assert_eq!(audit[0].kind, AuditKind::Transition);
            assert!(
                audit[0].message.contains(from.as_str()) && audit[0].message.contains(to.as_str()),
                "{}",
                audit[0].message
            );
        }
    }
    assert_eq!(n, 15, "the suite and the transition table disagree");
}

/// Every transition the table forbids fails with `IllegalTransition` and changes nothing.
pub async fn illegal_transitions_are_refused<S: StoreUnderTest, F: Future<Output = S>>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    let (store, clock) = fresh(&open).await;
    let mut n = 0;
    for from in RecordState::ALL {
        let key = key("eu", &format!("illegal-{from}"));
        let before = drive_to(&store, &clock, &key, from).await;
        let audit_before = audit_of(&store, &key).await.len();
        for to in RecordState::ALL
            .into_iter()
            .filter(|to| !from.can_transition_to(*to))
        {
            n += 1;
            let err = store
                .transition(Transition::new(
                    key.clone(),
                    from,
                    target_for(to, &clock),
                    "not allowed",
                ))
                .await
                .expect_err(&format!("{from} -> {to} must be refused"));
            assert!(
                matches!(err, StoreError::IllegalTransition { from: f, to: t, .. } if f == from && t == to),
                "{from} -> {to}: {err}"
            );
            assert!(
                err.to_string().contains(&key.to_string()),
                "error must name the record: {err}"
            );
        }
        assert_eq!(
            store.get(&key).await.expect("get"),
            Some(before),
            "{from}: record changed"
        );
        assert_eq!(
            audit_of(&store, &key).await.len(),
            audit_before,
            "{from}: audit changed"
        );
    }
    assert_eq!(n, 7 * 7 - 15);
}

/// A transition fails when the record is missing, in another state, or at another version.
pub async fn transitions_check_state_and_version<S: StoreUnderTest, F: Future<Output = S>>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    let (store, clock) = fresh(&open).await;
    let missing = key("eu", "missing");
    let err = store
        .transition(Transition::new(
            missing.clone(),
            RecordState::Received,
            target_for(RecordState::Mapped, &clock),
            "",
        ))
        .await
        .expect_err("missing record");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");

    let key = key("eu", "7");
    let record = drive_to(&store, &clock, &key, RecordState::Mapped).await;
    let err = store
        .transition(Transition::new(
            key.clone(),
            RecordState::Received,
            target_for(RecordState::Halted, &clock),
            "",
        ))
        .await
        .expect_err("wrong state");
    assert!(
        matches!(
            err,
            StoreError::StateMismatch {
                expected: RecordState::Received,
                actual: RecordState::Mapped,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.is_conflict());

    let err = store
        .transition(
            Transition::new(key.clone(), RecordState::Mapped, Target::Posting, "")
                .expecting_version(record.version - 1),
        )
        .await
        .expect_err("stale version");
    assert!(matches!(err, StoreError::VersionConflict { .. }), "{err}");
    assert!(err.is_conflict());
    assert_eq!(store.get(&key).await.expect("get"), Some(record.clone()));

    let moved = store
        .transition(
            Transition::new(key.clone(), RecordState::Mapped, Target::Posting, "ok")
                .expecting_version(record.version)
                .with_document(json!({"batch": 1})),
        )
        .await
        .expect("current version");
    assert_eq!(moved.state, RecordState::Posting);
    let audit = audit_of(&store, &key).await;
    assert_eq!(audit[0].document, Some(json!({"batch": 1})));
}

/// Claims take `mapped` records and `retry_wait` records that are due, oldest first, up to the limit,
/// only for the given connection (and kind), and move them to `posting`.
pub async fn claims_take_due_records<S: StoreUnderTest, F: Future<Output = S>>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    let (store, clock) = fresh(&open).await;
    let eu = conn("eu");
    let first = key("eu", "a1");
    drive_to(&store, &clock, &first, RecordState::Mapped).await;
    clock.advance(Duration::from_secs(1));
    let second = key("eu", "a2");
    drive_to(&store, &clock, &second, RecordState::Mapped).await;
    let waiting = key("eu", "w1");
    let waiting_record = drive_to(&store, &clock, &waiting, RecordState::RetryWait).await;
    let due_at = waiting_record
        .next_attempt_at
        .expect("retry_wait has a due time");
    drive_to(&store, &clock, &key("eu", "r1"), RecordState::Received).await;
    drive_to(&store, &clock, &key("eu", "h1"), RecordState::Halted).await;
    drive_to(&store, &clock, &key("us", "other"), RecordState::Mapped).await;
    let customer = RecordKey::new(eu.clone(), EntityKind::Customer, "c1");
    drive_to(&store, &clock, &customer, RecordState::Mapped).await;

    assert!(
        store
            .claim_due(&eu, None, 0)
            .await
            .expect("claim 0")
            .is_empty()
    );

    let only_customers = store
        .claim_due(&eu, Some(EntityKind::Customer), 10)
        .await
        .expect("claim customers");
    assert_eq!(
        only_customers
            .iter()
            .map(|r| r.key.clone())
            .collect::<Vec<_>>(),
        vec![customer]
    );

    let batch = store
        .claim_due(&eu, Some(EntityKind::Invoice), 1)
        .await
        .expect("claim 1");
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].key, first, "oldest first");
    assert_eq!(batch[0].state, RecordState::Posting);
    assert_eq!(batch[0].attempts, 1);
    assert_eq!(
        store.get(&first).await.expect("get").map(|r| r.state),
        Some(RecordState::Posting)
    );

    let rest = store.claim_due(&eu, None, 10).await.expect("claim rest");
    assert_eq!(
        rest.iter().map(|r| r.key.clone()).collect::<Vec<_>>(),
        vec![second.clone()],
        "retry not yet due"
    );

    clock.set(due_at - time::Duration::microseconds(1));
    assert!(
        store
            .claim_due(&eu, None, 10)
            .await
            .expect("claim")
            .is_empty(),
        "one microsecond early"
    );
    clock.set(due_at);
    let retried = store
        .claim_due(&eu, None, 10)
        .await
        .expect("claim due retry");
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].key, waiting);
    assert_eq!(retried[0].attempts, 2, "second posting attempt");
    assert_eq!(retried[0].next_attempt_at, None);

    assert!(
        store
            .claim_due(&eu, None, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    let audit = audit_of(&store, &waiting).await;
    assert!(
        audit[0].message.contains("retry_wait -> posting"),
        "{}",
        audit[0].message
    );
    let counts = store.counts(Some(&eu)).await.expect("counts");
    assert_eq!(counts.get(RecordState::Posting), 4);
    assert_eq!(counts.get(RecordState::Received), 1);
    assert_eq!(counts.get(RecordState::Halted), 1);
    assert_eq!(counts.get(RecordState::Mapped), 0);
    assert_eq!(
        store
            .counts(None)
            .await
            .expect("counts")
            .get(RecordState::Mapped),
        1
    );
}

/// Claimers racing on one connection never receive the same record, and together receive all.
pub async fn concurrent_claims_never_share_a_record<S: StoreUnderTest, F: Future<Output = S>>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    let (store, clock) = fresh(&open).await;
    let store = Arc::new(store);
    let eu = conn("eu");
    let mut all = BTreeSet::new();
    for i in 0..40 {
        let key = key("eu", &format!("{i:03}"));
        drive_to(&*store, &clock, &key, RecordState::Mapped).await;
        all.insert(key);
    }
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let store = Arc::clone(&store);
        let eu = eu.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = store.claim_due(&eu, None, 3).await.expect("claim");
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|r| r.key));
                tokio::task::yield_now().await;
            }
        }));
    }
    let mut seen = BTreeSet::new();
    for task in tasks {
        for key in task.await.expect("claimer panicked") {
            assert!(seen.insert(key.clone()), "{key} was handed to two claimers");
        }
    }
    assert_eq!(seen, all, "every due record is claimed exactly once");
    for key in &all {
        let record = store.get(key).await.expect("get").expect("exists");
        assert_eq!(
            (record.state, record.attempts),
            (RecordState::Posting, 1),
            "{key}"
        );
    }
}

/// Records left in `posting` are found for reconciliation, oldest first.
pub async fn stale_posting_records_are_found<S: StoreUnderTest, F: Future<Output = S>>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    let (store, clock) = fresh(&open).await;
    let eu = conn("eu");
    let old = key("eu", "old");
    drive_to(&store, &clock, &old, RecordState::Posting).await;
    clock.advance(Duration::from_secs(600));
    let cutoff = clock.now();
    let recent = key("eu", "recent");
    drive_to(&store, &clock, &recent, RecordState::Mapped).await;
    clock.advance(Duration::from_secs(1));
    transition(&store, &recent, RecordState::Mapped, Target::Posting).await;
    drive_to(&store, &clock, &key("eu", "posted"), RecordState::Posted).await;
    drive_to(
        &store,
        &clock,
        &key("us", "elsewhere"),
        RecordState::Posting,
    )
    .await;

    let stale = store.stale_posting(&eu, cutoff).await.expect("stale");
    assert_eq!(
        stale.iter().map(|r| r.key.clone()).collect::<Vec<_>>(),
        vec![old.clone()]
    );
    let all = store.stale_posting(&eu, clock.now()).await.expect("stale");
    assert_eq!(
        all.iter().map(|r| r.key.clone()).collect::<Vec<_>>(),
        vec![old, recent]
    );
}

/// Listing filters by connection, state and kind and pages in key order.
pub async fn listing_filters_and_pages<S: StoreUnderTest, F: Future<Output = S>>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    let (store, clock) = fresh(&open).await;
    for i in 0..5 {
        drive_to(
            &store,
            &clock,
            &key("eu", &format!("h{i}")),
            RecordState::Halted,
        )
        .await;
    }
    drive_to(&store, &clock, &key("eu", "m1"), RecordState::Mapped).await;
    drive_to(&store, &clock, &key("us", "h9"), RecordState::Halted).await;
    let credit = RecordKey::new(conn("eu"), EntityKind::CreditMemo, "h0");
    drive_to(&store, &clock, &credit, RecordState::Halted).await;

    let halted_eu = RecordFilter {
        connection: Some(conn("eu")),
        state: Some(RecordState::Halted),
        ..RecordFilter::default()
    };
    let all = store.list(&halted_eu).await.expect("list");
    let keys: Vec<RecordKey> = all.iter().map(|r| r.key.clone()).collect();
    let mut expected = vec![credit.clone()];
    expected.extend((0..5).map(|i| key("eu", &format!("h{i}"))));
    expected.sort();
    assert_eq!(keys, expected, "key order");
    assert!(
        all.iter()
            .all(|r| r.reason.as_deref() == Some("no GL account mapped for SKU SKU-1"))
    );

    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list(&RecordFilter {
                after: after.clone(),
                limit: 2,
                ..halted_eu.clone()
            })
            .await
            .expect("page");
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        after = page.last().map(|r| r.key.clone());
        paged.extend(page.into_iter().map(|r| r.key));
    }
    assert_eq!(paged, expected, "paging visits every record once");

    let invoices = store
        .list(&RecordFilter {
            kind: Some(EntityKind::CreditMemo),
            ..RecordFilter::default()
        })
        .await
        .expect("by kind");
    assert_eq!(invoices.len(), 1);
    let everything = store.list(&RecordFilter::default()).await.expect("all");
    assert_eq!(everything.len(), 8);
}

/// Watermarks start unset, move forward, ignore earlier values and are kept per connection and stream.
pub async fn watermarks_never_move_backwards<S: StoreUnderTest, F: Future<Output = S>>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    let (store, _clock) = fresh(&open).await;
    let eu = conn("eu");
    let invoices = StreamName::from(EntityKind::Invoice);
    let customers = StreamName::from(EntityKind::Customer);
    assert_eq!(store.watermark(&eu, &invoices).await.expect("read"), None);

    let t1 = datetime!(2026-03-01 10:00:00 UTC);
    let t2 = datetime!(2026-03-01 10:00:00.000_001 UTC);
    assert_eq!(
        store
            .advance_watermark(&eu, &invoices, t1)
            .await
            .expect("advance"),
        t1
    );
    assert_eq!(
        store
            .advance_watermark(&eu, &invoices, t2)
            .await
            .expect("advance"),
        t2
    );
    assert_eq!(
        store
            .advance_watermark(&eu, &invoices, t1)
            .await
            .expect("backwards"),
        t2,
        "an earlier value must not move the watermark back"
    );
    assert_eq!(
        store
            .advance_watermark(&eu, &invoices, t2)
            .await
            .expect("same"),
        t2
    );
    assert_eq!(
        store.watermark(&eu, &invoices).await.expect("read"),
        Some(t2)
    );
    assert_eq!(store.watermark(&eu, &customers).await.expect("read"), None);
    assert_eq!(
        store.watermark(&conn("us"), &invoices).await.expect("read"),
        None
    );
}

/// One holder at a time; renewal extends; expiry allows take-over with a new generation; the old holder
/// then cannot renew; release frees the lease at once.
pub async fn leases_are_exclusive_and_expire<S: StoreUnderTest, F: Future<Output = S>>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    let (store, clock) = fresh(&open).await;
    let eu = conn("eu");
    let a = HolderId::new("worker-a").expect("holder");
    let b = HolderId::new("worker-b").expect("holder");
    let ttl = Duration::from_secs(30);

    let lease = store
        .acquire_lease(&eu, &a, ttl)
        .await
        .expect("acquire")
        .acquired()
        .expect("free lease");
    assert_eq!(lease.holder, a);
    assert_eq!(lease.acquired_at, START);
    assert_eq!(lease.expires_at, START + time::Duration::seconds(30));
    let first_generation = lease.generation;

    match store.acquire_lease(&eu, &b, ttl).await.expect("contend") {
        LeaseOutcome::HeldByOther(held) => assert_eq!(held.holder, a),
        LeaseOutcome::Acquired(l) => panic!("second holder got a held lease: {l:?}"),
    }
    let err = store
        .renew_lease(&eu, &b, ttl)
        .await
        .expect_err("b does not hold it");
    assert!(matches!(err, StoreError::LeaseLost { .. }), "{err}");

    clock.advance(Duration::from_secs(20));
    let renewed = store.renew_lease(&eu, &a, ttl).await.expect("renew");
    assert_eq!(
        renewed.expires_at,
        clock.now() + time::Duration::seconds(30)
    );
    assert_eq!(renewed.generation, first_generation);
    clock.advance(Duration::from_secs(20));
    assert!(
        store
            .acquire_lease(&eu, &b, ttl)
            .await
            .expect("contend")
            .acquired()
            .is_none(),
        "renewal must have extended the lease"
    );
    let again = store
        .acquire_lease(&eu, &a, ttl)
        .await
        .expect("re-acquire")
        .acquired()
        .expect("own lease");
    assert_eq!(
        again.generation, first_generation,
        "re-acquiring one's own lease keeps the generation"
    );

    clock.advance(Duration::from_secs(30));
    let taken = store
        .acquire_lease(&eu, &b, ttl)
        .await
        .expect("take over")
        .acquired()
        .expect("expired lease");
    assert_eq!(taken.holder, b);
    assert!(
        taken.generation > first_generation,
        "take-over must change the generation"
    );
    let err = store
        .renew_lease(&eu, &a, ttl)
        .await
        .expect_err("a lost it");
    assert!(
        matches!(err, StoreError::LeaseLost { .. }) && err.is_conflict(),
        "{err}"
    );
    assert!(
        !store
            .release_lease(&eu, &a)
            .await
            .expect("release by non-holder")
    );

    let other = conn("us");
    assert!(
        store
            .acquire_lease(&other, &a, ttl)
            .await
            .expect("other connection")
            .acquired()
            .is_some()
    );

    assert!(store.release_lease(&eu, &b).await.expect("release"));
    let after_release = store
        .acquire_lease(&eu, &a, ttl)
        .await
        .expect("after release")
        .acquired()
        .expect("released lease");
    assert!(after_release.generation > taken.generation);

    let leases = store.leases().await.expect("leases");
    let holders: Vec<(String, String)> = leases
        .iter()
        .map(|l| (l.connection.to_string(), l.holder.to_string()))
        .collect();
    assert_eq!(
        holders,
        vec![
            ("eu".into(), "worker-a".into()),
            ("us".into(), "worker-a".into())
        ]
    );
}

/// Webhook notifications queue per connection, once per record, and are taken oldest first, each by
/// one taker only.
pub async fn notifications_queue_per_connection<S: StoreUnderTest, F: Future<Output = S>>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    let (store, clock) = fresh(&open).await;
    let eu = conn("eu");
    let us = conn("us");
    assert!(
        store
            .take_notifications(&eu, 10)
            .await
            .expect("take from empty")
            .is_empty()
    );
    let first = store
        .push_notification(&key("eu", "1"))
        .await
        .expect("push");
    assert_eq!(
        (first.key.clone(), first.queued_at),
        (key("eu", "1"), START)
    );
    clock.advance(Duration::from_secs(1));
    let order = RecordKey::new(eu.clone(), EntityKind::Order, "1");
    store.push_notification(&order).await.expect("push order");
    store
        .push_notification(&key("us", "9"))
        .await
        .expect("push us");
    clock.advance(Duration::from_secs(1));
    let again = store
        .push_notification(&key("eu", "1"))
        .await
        .expect("push again");
    assert_eq!(
        again.queued_at, START,
        "a queued record keeps its first time"
    );
    store
        .push_notification(&key("eu", "2"))
        .await
        .expect("push");

    let taken = store.take_notifications(&eu, 2).await.expect("take");
    let keys: Vec<RecordKey> = taken.iter().map(|n| n.key.clone()).collect();
    assert_eq!(keys, vec![key("eu", "1"), order], "oldest first, limited");
    assert_eq!(taken[0].queued_at, START);
    let rest = store.take_notifications(&eu, 10).await.expect("take rest");
    assert_eq!(
        rest.iter().map(|n| n.key.clone()).collect::<Vec<_>>(),
        vec![key("eu", "2")],
        "the duplicate was kept once and taken notifications are gone"
    );
    assert!(
        store
            .take_notifications(&eu, 10)
            .await
            .expect("empty")
            .is_empty()
    );
    assert!(
        store
            .take_notifications(&us, 0)
            .await
            .expect("none")
            .is_empty()
    );
    let other = store.take_notifications(&us, 10).await.expect("other");
    assert_eq!(other.len(), 1, "another connection's queue is untouched");

    // Racing takers share the queue without duplicates.
    let store = Arc::new(store);
    let mut all = BTreeSet::new();
    for i in 0..30 {
        let key = key("eu", &format!("r{i:02}"));
        store.push_notification(&key).await.expect("push");
        all.insert(key);
    }
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = Arc::clone(&store);
        let eu = eu.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = store.take_notifications(&eu, 3).await.expect("take");
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|n| n.key));
                tokio::task::yield_now().await;
            }
        }));
    }
    let mut seen = BTreeSet::new();
    for task in tasks {
        for key in task.await.expect("taker panicked") {
            assert!(seen.insert(key.clone()), "{key} was taken twice");
        }
    }
    assert_eq!(seen, all, "every notification is taken exactly once");
}

/// The latest cycle report of each connection replaces the previous one.
pub async fn cycle_reports_keep_the_latest<S: StoreUnderTest, F: Future<Output = S>>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    let (store, _clock) = fresh(&open).await;
    assert!(store.cycle_reports().await.expect("empty").is_empty());
    let a = HolderId::new("host-a.1").expect("holder");
    let b = HolderId::new("host-b.2").expect("holder");
    let running = CycleReport {
        connection: conn("us"),
        holder: a.clone(),
        started_at: START,
        finished_at: None,
        outcome: String::new(),
        next_due_at: None,
    };
    store.record_cycle(&running).await.expect("record");
    let finished = CycleReport {
        connection: conn("eu"),
        holder: b,
        started_at: START,
        finished_at: Some(START + time::Duration::milliseconds(1500)),
        outcome: "failed: SYSPRO did not answer".into(),
        next_due_at: Some(START + time::Duration::minutes(5)),
    };
    store.record_cycle(&finished).await.expect("record");
    assert_eq!(
        store.cycle_reports().await.expect("reports"),
        vec![finished.clone(), running.clone()]
    );
    let done = CycleReport {
        finished_at: Some(START + time::Duration::seconds(2)),
        outcome: "ok".into(),
        next_due_at: Some(START + time::Duration::seconds(62)),
        ..running
    };
    store.record_cycle(&done).await.expect("replace");
    assert_eq!(
        store.cycle_reports().await.expect("reports"),
        vec![finished, done]
    );
}

/// The audit log keeps entries in append order and answers queries newest first, by record,
/// connection, current state, kind and time range, with paging.
pub async fn audit_log_orders_and_filters<S: StoreUnderTest, F: Future<Output = S>>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    let (store, clock) = fresh(&open).await;
    let halted = key("eu", "h");
    drive_to(&store, &clock, &halted, RecordState::Halted).await;
    let other = key("us", "x");
    drive_to(&store, &clock, &other, RecordState::Received).await;
    clock.advance(Duration::from_secs(60));
    let mid = clock.now();
    let mut appended = Vec::new();
    for (i, kind) in [
        AuditKind::Rendered,
        AuditKind::Sent,
        AuditKind::Answered,
        AuditKind::Decided,
    ]
    .into_iter()
    .enumerate()
    {
        let entry = store
            .append(
                NewAuditEntry::new(halted.clone(), kind, format!("step {i}"))
                    .with_document(json!({"i": i})),
            )
            .await
            .expect("append");
        assert_eq!(entry.at, clock.now());
        assert_eq!(entry.kind, kind);
        appended.push(entry);
        clock.advance(Duration::from_secs(1));
    }
    assert!(
        appended.windows(2).all(|w| w[0].id < w[1].id),
        "ids increase"
    );

    let timeline = audit_of(&store, &halted).await;
    assert_eq!(timeline.len(), 2 + 4, "read, transition and four appended");
    assert!(
        timeline.windows(2).all(|w| w[0].id > w[1].id),
        "newest first"
    );
    assert_eq!(timeline[0], appended[3]);
    assert_eq!(timeline.last().map(|e| e.kind), Some(AuditKind::Read));

    let by_state = store
        .query(&AuditQuery {
            state: Some(RecordState::Halted),
            ..AuditQuery::default()
        })
        .await
        .expect("by state");
    assert!(by_state.entries.iter().all(|e| e.key == halted));
    assert_eq!(by_state.entries.len(), 6);

    let by_connection = store
        .query(&AuditQuery {
            connection: Some(conn("us")),
            ..AuditQuery::default()
        })
        .await
        .expect("by connection");
    assert_eq!(by_connection.entries.len(), 1);
    assert_eq!(by_connection.entries[0].key, other);

    let window = store
        .query(&AuditQuery {
            since: Some(mid + time::Duration::seconds(1)),
            until: Some(mid + time::Duration::seconds(3)),
            ..AuditQuery::default()
        })
        .await
        .expect("by time");
    assert_eq!(
        window
            .entries
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>(),
        vec!["step 2", "step 1"]
    );

    let sent = store
        .query(&AuditQuery {
            kind: Some(AuditKind::Sent),
            ..AuditQuery::default()
        })
        .await
        .expect("by kind");
    assert_eq!(sent.entries, vec![appended[1].clone()]);

    let mut paged = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .query(&AuditQuery {
                before,
                limit: 4,
                ..AuditQuery::default()
            })
            .await
            .expect("page");
        assert!(page.entries.len() <= 4);
        paged.extend(page.entries);
        match page.next_before {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    assert_eq!(paged.len(), 6 + 1, "every entry once across pages");
    assert!(paged.windows(2).all(|w| w[0].id > w[1].id));
}

/// An entry without its id, for comparing the timelines of two stores.
fn entry_content(
    entry: &AuditEntry,
) -> (
    OffsetDateTime,
    RecordKey,
    AuditKind,
    String,
    Option<serde_json::Value>,
) {
    (
        entry.at,
        entry.key.clone(),
        entry.kind,
        entry.message.clone(),
        entry.document.clone(),
    )
}

async fn timeline(
    store: &impl AuditLog,
    key: &RecordKey,
) -> Vec<(
    OffsetDateTime,
    RecordKey,
    AuditKind,
    String,
    Option<serde_json::Value>,
)> {
    audit_of(store, key)
        .await
        .iter()
        .map(entry_content)
        .collect()
}

/// Every audit entry of the store, oldest first.
async fn whole_audit(store: &impl AuditLog) -> Vec<AuditEntry> {
    let mut entries = store
        .query(&AuditQuery {
            limit: 100_000,
            ..AuditQuery::default()
        })
        .await
        .expect("audit query")
        .entries;
    entries.reverse();
    entries
}

fn outcome_name(outcome: &IntakeOutcome) -> &'static str {
    match outcome {
        IntakeOutcome::Created(_) => "created",
        IntakeOutcome::Unchanged(_) => "unchanged",
        IntakeOutcome::Updated(_) => "updated",
        IntakeOutcome::ChangedAfterPosting(_) => "changed after posting",
    }
}

/// Moves made with [`StateStore::move_many`] have the same outcomes, records (payloads included)
/// and audit trails as the same moves made with [`StateStore::transition_many`].
pub async fn move_many_matches_transition_many<S: StoreUnderTest, F: Future<Output = S>>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    let clock = clock();
    let transitioned = open(Arc::new(clock.clone())).await;
    let moved = open(Arc::new(clock.clone())).await;
    let received = key("eu", "received");
    let posting = key("eu", "posting");
    let missing = key("eu", "missing");
    for store in [&transitioned, &moved] {
        drive_to(store, &clock, &received, RecordState::Received).await;
        drive_to(store, &clock, &posting, RecordState::Posting).await;
    }
    clock.advance(Duration::from_secs(5));
    let transitions = vec![
        Transition::new(
            received.clone(),
            RecordState::Received,
            target_for(RecordState::Mapped, &clock),
            "mapped",
        )
        .with_document(json!({"plan": "WEB000123"})),
        Transition::new(
            received.clone(),
            RecordState::Mapped,
            Target::Posting,
            "claimed",
        ),
        Transition::new(
            posting.clone(),
            RecordState::Mapped,
            Target::Posting,
            "wrong state",
        ),
        Transition::new(
            posting.clone(),
            RecordState::Posting,
            target_for(RecordState::Posted, &clock),
            "SYSPRO confirmed",
        ),
        Transition::new(
            missing.clone(),
            RecordState::Received,
            target_for(RecordState::Halted, &clock),
            "no such record",
        ),
    ];
    let full: Vec<Result<(), String>> = transitioned
        .transition_many(transitions.clone())
        .await
        .expect("transition_many")
        .into_iter()
        .map(|r| r.map(drop).map_err(|e| e.to_string()))
        .collect();
    let light: Vec<Result<(), String>> = moved
        .move_many(transitions)
        .await
        .expect("move_many")
        .into_iter()
        .map(|r| r.map_err(|e| e.to_string()))
        .collect();
    assert_eq!(light, full);
    assert_eq!(light.iter().filter(|r| r.is_ok()).count(), 3);
    for key in [&received, &posting, &missing] {
        let after = moved.get(key).await.expect("get");
        assert_eq!(after, transitioned.get(key).await.expect("get"), "{key}");
        if let Some(record) = after {
            assert_eq!(
                record.payload,
                intake_of(key, 0).payload,
                "payload of {key}"
            );
        }
        let trail = |entries: Vec<AuditEntry>| {
            entries
                .into_iter()
                .map(|e| (e.kind, e.message, e.document))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            trail(audit_of(&moved, key).await),
            trail(audit_of(&transitioned, key).await),
            "{key}"
        );
    }
}

/// A transition's result in comparable form: the record, or the error's text.
fn result_text(result: &Result<Record, StoreError>) -> Result<Record, String> {
    match result {
        Ok(record) => Ok(record.clone()),
        Err(e) => Err(e.to_string()),
    }
}

/// Storing a batch of documents has the same outcomes, records and audit trail as storing them one
/// by one: new, unchanged, updated, changed after posting, and the same key twice in one call. A
/// batch of versions already seen writes nothing.
pub async fn intake_many_matches_sequential_intake<S: StoreUnderTest, F: Future<Output = S>>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    let clock = clock();
    let one_by_one = open(Arc::new(clock.clone())).await;
    let batched = open(Arc::new(clock.clone())).await;
    let same = key("eu", "same");
    let restarted = key("eu", "restarted");
    let posted = key("eu", "posted");
    for store in [&one_by_one, &batched] {
        drive_to(store, &clock, &same, RecordState::Received).await;
        drive_to(store, &clock, &restarted, RecordState::Halted).await;
        drive_to(store, &clock, &posted, RecordState::Posted).await;
    }
    clock.advance(Duration::from_secs(10));
    let created = key("eu", "new");
    let twice = key("eu", "twice");
    let repeated = RecordKey::new(conn("eu"), EntityKind::Order, "repeated");
    let intakes = vec![
        intake_of(&created, 0),
        intake_of(&same, 0),
        intake_of(&restarted, 1),
        intake_of(&posted, 1),
        intake_of(&twice, 0),
        intake_of(&twice, 1),
        intake_of(&repeated, 0),
        intake_of(&repeated, 0),
        intake_of(&posted, 1),
    ];
    let mut sequential = Vec::new();
    for intake in intakes.clone() {
        sequential.push(one_by_one.intake(intake).await.expect("intake"));
    }
    let batch = batched.intake_many(intakes).await.expect("intake_many");
    assert_eq!(
        batch.iter().map(outcome_name).collect::<Vec<_>>(),
        vec![
            "created",
            "unchanged",
            "updated",
            "changed after posting",
            "created",
            "updated",
            "created",
            "unchanged",
            "unchanged",
        ]
    );
    assert_eq!(batch, sequential);
    assert_eq!(
        batch[5].record().version,
        2,
        "created, then updated in one call"
    );
    assert_eq!(batch[5].record().payload, intake_of(&twice, 1).payload);
    for key in [&created, &same, &restarted, &posted, &twice, &repeated] {
        let stored = batched.get(key).await.expect("get");
        assert_eq!(stored, one_by_one.get(key).await.expect("get"), "{key}");
        assert_eq!(
            timeline(&batched, key).await,
            timeline(&one_by_one, key).await,
            "{key}"
        );
    }
    assert_eq!(
        whole_audit(&batched)
            .await
            .iter()
            .map(entry_content)
            .collect::<Vec<_>>(),
        whole_audit(&one_by_one)
            .await
            .iter()
            .map(entry_content)
            .collect::<Vec<_>>(),
        "the same entries in the same order"
    );

    clock.advance(Duration::from_secs(10));
    let audit_before = whole_audit(&batched).await;
    let unchanged = batched
        .intake_many(vec![
            intake_of(&same, 0),
            intake_of(&twice, 1),
            intake_of(&posted, 0),
        ])
        .await
        .expect("intake_many of known versions");
    assert!(
        unchanged
            .iter()
            .all(|o| matches!(o, IntakeOutcome::Unchanged(_))),
        "{unchanged:?}"
    );
    assert_eq!(
        unchanged[1].record(),
        batch[5].record(),
        "an unchanged intake must not modify the record"
    );
    assert_eq!(whole_audit(&batched).await, audit_before, "nothing written");
    assert!(
        batched
            .intake_many(Vec::new())
            .await
            .expect("empty batch")
            .is_empty()
    );
}

/// A batch of transitions applies in order, each seeing the ones before it (one record moves three
/// times); a refused transition fails alone with its error and leaves its record untouched; every
/// applied move has its audit entry, in order, all stamped with one time. The results, records and
/// audit trail equal those of the same transitions made one by one.
pub async fn transition_many_applies_in_order<S: StoreUnderTest, F: Future<Output = S>>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    let clock = clock();
    let one_by_one = open(Arc::new(clock.clone())).await;
    let batched = open(Arc::new(clock.clone())).await;
    let chained = key("eu", "chained");
    let waiting = key("eu", "waiting");
    let mapped = key("eu", "mapped");
    let posting = key("eu", "posting");
    let missing = key("eu", "missing");
    let setup = [
        (&chained, RecordState::Received),
        (&waiting, RecordState::Received),
        (&mapped, RecordState::Mapped),
        (&posting, RecordState::Posting),
    ];
    let mut before = Vec::new();
    for (key, state) in setup {
        drive_to(&one_by_one, &clock, key, state).await;
        before.push(drive_to(&batched, &clock, key, state).await);
    }
    let mapped_version = before[2].version;
    clock.advance(Duration::from_secs(30));
    let posted_keys = SysproKeys {
        invoice: None,
        journal: Some("2026-03-000017".to_owned()),
        customer: None,
    };
    let transitions = vec![
        Transition::new(
            chained.clone(),
            RecordState::Received,
            target_for(RecordState::Mapped, &clock),
            "mapped",
        )
        .with_document(json!({"plan": "WEB000123"})),
        Transition::new(
            chained.clone(),
            RecordState::Mapped,
            Target::Posting,
            "batch 1",
        ),
        Transition::new(
            waiting.clone(),
            RecordState::Mapped,
            Target::Posting,
            "wrong state",
        ),
        Transition::new(
            chained.clone(),
            RecordState::Posting,
            Target::Posted {
                syspro: posted_keys,
            },
            "SYSPRO confirmed",
        ),
        Transition::new(
            missing.clone(),
            RecordState::Received,
            target_for(RecordState::Mapped, &clock),
            "no such record",
        ),
        Transition::new(
            mapped.clone(),
            RecordState::Mapped,
            target_for(RecordState::Posted, &clock),
            "not allowed",
        ),
        Transition::new(
            mapped.clone(),
            RecordState::Mapped,
            Target::Posting,
            "stale",
        )
        .expecting_version(mapped_version - 1),
        Transition::new(
            mapped.clone(),
            RecordState::Mapped,
            Target::Posting,
            "current",
        )
        .expecting_version(mapped_version),
        Transition::new(
            posting.clone(),
            RecordState::Posting,
            target_for(RecordState::RetryWait, &clock),
            "SYSPRO answered 503",
        ),
        Transition::new(
            chained.clone(),
            RecordState::Posted,
            Target::Received,
            "posted is final",
        ),
    ];

    let mut sequential = Vec::new();
    for transition in transitions.clone() {
        let result = one_by_one.transition(transition).await;
        if let Err(e) = &result {
            assert!(e.is_refusal(), "{e}");
        }
        sequential.push(result);
    }
    let results = batched
        .transition_many(transitions)
        .await
        .expect("transition_many");
    assert_eq!(results.len(), 10);
    let outcome: Vec<&str> = results
        .iter()
        .map(|r| match r {
            Ok(_) => "ok",
            Err(StoreError::StateMismatch { .. }) => "state mismatch",
            Err(StoreError::NotFound { .. }) => "not found",
            Err(StoreError::IllegalTransition { .. }) => "illegal",
            Err(StoreError::VersionConflict { .. }) => "version conflict",
            Err(other) => panic!("not a refusal: {other}"),
        })
        .collect();
    assert_eq!(
        outcome,
        vec![
            "ok",
            "ok",
            "state mismatch",
            "ok",
            "not found",
            "illegal",
            "version conflict",
            "ok",
            "ok",
            "illegal",
        ]
    );
    assert_eq!(
        results.iter().map(result_text).collect::<Vec<_>>(),
        sequential.iter().map(result_text).collect::<Vec<_>>()
    );

    let now = clock.now();
    let after = batched.get(&chained).await.expect("get").expect("exists");
    assert_eq!(after.state, RecordState::Posted);
    assert_eq!(after.version, before[0].version + 3);
    assert_eq!(after.attempts, 1);
    assert_eq!(after.state_since, now);
    assert_eq!(
        after.syspro,
        SysproKeys {
            invoice: Some("WEB000123".to_owned()),
            journal: Some("2026-03-000017".to_owned()),
            customer: Some("CUST-EU-0042".to_owned()),
        }
    );
    assert_eq!(results[3].as_ref().ok(), Some(&after));
    assert_eq!(
        batched.get(&waiting).await.expect("get").as_ref(),
        Some(&before[1]),
        "a refused transition leaves its record untouched"
    );
    assert_eq!(
        audit_of(&batched, &waiting).await.len(),
        1,
        "and appends nothing"
    );
    assert_eq!(batched.get(&missing).await.expect("get"), None);
    let mapped_after = batched.get(&mapped).await.expect("get").expect("exists");
    assert_eq!(
        (mapped_after.state, mapped_after.version),
        (RecordState::Posting, mapped_version + 1)
    );
    assert_eq!(
        batched.get(&posting).await.expect("get").map(|r| r.state),
        Some(RecordState::RetryWait)
    );

    let trail = audit_of(&batched, &chained).await;
    let moves: Vec<(&str, OffsetDateTime)> = trail
        .iter()
        .take(3)
        .map(|e| (e.message.as_str(), e.at))
        .collect();
    assert_eq!(
        moves,
        vec![
            ("posting -> posted: SYSPRO confirmed", now),
            ("mapped -> posting: batch 1", now),
            ("received -> mapped: mapped", now),
        ],
        "newest first"
    );
    assert!(trail[..3].iter().all(|e| e.kind == AuditKind::Transition));
    assert!(trail[0].id > trail[1].id && trail[1].id > trail[2].id);
    assert_eq!(trail[2].document, Some(json!({"plan": "WEB000123"})));
    assert_eq!(trail.len(), 4, "read and three moves");

    for key in [&chained, &waiting, &mapped, &posting, &missing] {
        assert_eq!(
            batched.get(key).await.expect("get"),
            one_by_one.get(key).await.expect("get"),
            "{key}"
        );
        assert_eq!(
            timeline(&batched, key).await,
            timeline(&one_by_one, key).await,
            "{key}"
        );
    }

    let audit_before = whole_audit(&batched).await;
    let refused = batched
        .transition_many(vec![
            Transition::new(
                chained.clone(),
                RecordState::Posted,
                Target::Posting,
                "final",
            ),
            Transition::new(
                waiting.clone(),
                RecordState::Halted,
                Target::Received,
                "wrong state",
            ),
        ])
        .await
        .expect("a batch of refusals is not a failure");
    assert!(
        refused
            .iter()
            .all(|r| r.as_ref().is_err_and(StoreError::is_refusal)),
        "{refused:?}"
    );
    assert_eq!(whole_audit(&batched).await, audit_before, "nothing written");
    assert!(
        batched
            .transition_many(Vec::new())
            .await
            .expect("empty batch")
            .is_empty()
    );
}

/// A batch of audit entries is appended in the order given, all stamped with one time, with
/// increasing ids, and is queryable like entries appended one by one.
pub async fn append_many_keeps_order<S: StoreUnderTest, F: Future<Output = S>>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    let (store, clock) = fresh(&open).await;
    let invoice = key("eu", "a");
    let other = key("us", "b");
    drive_to(&store, &clock, &invoice, RecordState::Halted).await;
    clock.advance(Duration::from_secs(5));
    let entries = vec![
        NewAuditEntry::new(invoice.clone(), AuditKind::Rendered, "plan rendered")
            .with_document(json!({"journal": [{"gl": "4000", "credit": "100.00"}]})),
        NewAuditEntry::new(other.clone(), AuditKind::Sent, "ARSTIN sent"),
        NewAuditEntry::new(invoice.clone(), AuditKind::Sent, "ARSTIN sent"),
        NewAuditEntry::new(invoice.clone(), AuditKind::Answered, "SYSPRO answered")
            .with_document(json!({"invoice": "WEB000123"})),
    ];
    store
        .append_many(entries.clone())
        .await
        .expect("append_many");
    store.append_many(Vec::new()).await.expect("empty batch");

    let appended = store
        .query(&AuditQuery {
            since: Some(clock.now()),
            ..AuditQuery::default()
        })
        .await
        .expect("query")
        .entries;
    let mut oldest_first = appended.clone();
    oldest_first.reverse();
    assert_eq!(
        oldest_first
            .iter()
            .map(|e| (e.key.clone(), e.kind, e.message.clone(), e.document.clone()))
            .collect::<Vec<_>>(),
        entries
            .iter()
            .map(|e| (
                e.key.clone(),
                e.kind,
                e.message.clone(),
                e.document.as_deref().cloned()
            ))
            .collect::<Vec<_>>()
    );
    assert!(oldest_first.iter().all(|e| e.at == clock.now()));
    assert!(
        oldest_first.windows(2).all(|w| w[0].id < w[1].id),
        "ids follow the order given"
    );
    let timeline = audit_of(&store, &invoice).await;
    assert_eq!(
        timeline.iter().map(|e| e.kind).collect::<Vec<_>>(),
        vec![
            AuditKind::Answered,
            AuditKind::Sent,
            AuditKind::Rendered,
            AuditKind::Transition,
            AuditKind::Read,
        ]
    );
    let halted = store
        .query(&AuditQuery {
            state: Some(RecordState::Halted),
            kind: Some(AuditKind::Sent),
            ..AuditQuery::default()
        })
        .await
        .expect("by state and kind");
    assert_eq!(halted.entries, vec![oldest_first[2].clone()]);
    let single = store
        .append(NewAuditEntry::new(other, AuditKind::Decided, "after"))
        .await
        .expect("append");
    assert!(single.id > oldest_first[3].id);
}

/// Batches larger than one database statement holds (1,500 records and entries) are stored whole:
/// intake, transitions, claiming and audit entries.
pub async fn large_batches_are_stored_whole<S: StoreUnderTest, F: Future<Output = S>>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    const N: usize = 1_500;
    let (store, clock) = fresh(&open).await;
    let eu = conn("eu");
    let keys: Vec<RecordKey> = (0..N).map(|i| key("eu", &format!("bulk-{i:05}"))).collect();
    let created = store
        .intake_many(keys.iter().map(|k| intake_of(k, 0)).collect())
        .await
        .expect("intake_many");
    assert_eq!(created.len(), N);
    assert!(
        created
            .iter()
            .zip(&keys)
            .all(|(o, k)| matches!(o, IntakeOutcome::Created(r) if r.key == *k))
    );
    let again = store
        .intake_many(keys.iter().map(|k| intake_of(k, 0)).collect())
        .await
        .expect("intake_many again");
    assert!(
        again
            .iter()
            .all(|o| matches!(o, IntakeOutcome::Unchanged(_)))
    );
    assert_eq!(
        store
            .counts(Some(&eu))
            .await
            .expect("counts")
            .get(RecordState::Received),
        N as u64
    );

    clock.advance(Duration::from_secs(1));
    let mapped = store
        .transition_many(
            keys.iter()
                .map(|k| {
                    Transition::new(
                        k.clone(),
                        RecordState::Received,
                        target_for(RecordState::Mapped, &clock),
                        "mapped",
                    )
                })
                .collect(),
        )
        .await
        .expect("transition_many");
    assert_eq!(mapped.len(), N);
    assert!(
        mapped
            .iter()
            .all(|r| r.as_ref().is_ok_and(|r| r.state == RecordState::Mapped))
    );

    clock.advance(Duration::from_secs(1));
    let claimed = store.claim_due(&eu, None, N + 10).await.expect("claim");
    assert_eq!(claimed.len(), N);
    assert!(
        claimed
            .iter()
            .all(|r| (r.state, r.attempts) == (RecordState::Posting, 1))
    );
    assert_eq!(
        claimed
            .iter()
            .map(|r| r.key.clone())
            .collect::<BTreeSet<_>>(),
        keys.iter().cloned().collect::<BTreeSet<_>>()
    );

    clock.advance(Duration::from_secs(1));
    let posted = store
        .transition_many(
            keys.iter()
                .map(|k| {
                    Transition::new(
                        k.clone(),
                        RecordState::Posting,
                        target_for(RecordState::Posted, &clock),
                        "posted",
                    )
                })
                .collect(),
        )
        .await
        .expect("transition_many");
    assert!(posted.iter().all(Result::is_ok));
    store
        .append_many(
            keys.iter()
                .map(|k| NewAuditEntry::new(k.clone(), AuditKind::Answered, format!("answer {k}")))
                .collect(),
        )
        .await
        .expect("append_many");

    let counts = store.counts(Some(&eu)).await.expect("counts");
    assert_eq!(counts.get(RecordState::Posted), N as u64);
    assert_eq!(counts.total(), N as u64);
    let answers = store
        .query(&AuditQuery {
            kind: Some(AuditKind::Answered),
            limit: N + 1,
            ..AuditQuery::default()
        })
        .await
        .expect("answers");
    assert_eq!(answers.entries.len(), N);
    assert_eq!(answers.next_before, None);
    assert_eq!(
        answers
            .entries
            .iter()
            .rev()
            .map(|e| e.key.clone())
            .collect::<Vec<_>>(),
        keys,
        "entries keep the order given"
    );
    for key in [&keys[0], &keys[N / 2], &keys[N - 1]] {
        let record = store.get(key).await.expect("get").expect("exists");
        assert_eq!(record.state, RecordState::Posted);
        assert_eq!(record.syspro.customer.as_deref(), Some("CUST-EU-0042"));
        assert_eq!(
            audit_of(&store, key)
                .await
                .iter()
                .map(|e| e.kind)
                .collect::<Vec<_>>(),
            vec![
                AuditKind::Answered,
                AuditKind::Transition,
                AuditKind::Transition,
                AuditKind::Transition,
                AuditKind::Read,
            ],
            "{key}"
        );
    }
    let all = store
        .list(&RecordFilter {
            limit: N,
            ..RecordFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(all.len(), N);
    assert!(
        all.iter()
            .all(|r| r.state == RecordState::Posted && r.version == 4)
    );
}

/// Workers storing the same new documents at once create each record once; the others see it
/// unchanged.
pub async fn concurrent_intake_batches_create_each_record_once<
    S: StoreUnderTest,
    F: Future<Output = S>,
>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    const N: usize = 120;
    let (store, _clock) = fresh(&open).await;
    let store = Arc::new(store);
    let keys: Vec<RecordKey> = (0..N).map(|i| key("eu", &format!("c{i:03}"))).collect();
    let mut tasks = Vec::new();
    for worker in 0..3 {
        let store = Arc::clone(&store);
        let mut mine = keys.clone();
        // Each worker meets the records in another order.
        mine.rotate_left(worker * N / 3);
        if worker == 1 {
            mine.reverse();
        }
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for chunk in mine.chunks(25) {
                let batch = store
                    .intake_many(chunk.iter().map(|k| intake_of(k, 0)).collect())
                    .await
                    .expect("intake_many");
                outcomes.extend(batch);
            }
            outcomes
        }));
    }
    let mut created = BTreeSet::new();
    for task in tasks {
        for outcome in task.await.expect("worker panicked") {
            match outcome {
                IntakeOutcome::Created(record) => {
                    assert!(
                        created.insert(record.key.clone()),
                        "{} created twice",
                        record.key
                    );
                }
                IntakeOutcome::Unchanged(_) => {}
                other => panic!("unexpected outcome {other:?}"),
            }
        }
    }
    assert_eq!(created, keys.iter().cloned().collect::<BTreeSet<_>>());
    for key in &keys {
        assert_eq!(
            audit_of(&*store, key).await.len(),
            1,
            "{key}: one read entry"
        );
    }
}

/// Workers moving the same records at once (in different orders) move each record once; the other
/// workers' transitions of it are refused as stale.
pub async fn concurrent_transition_batches_move_each_record_once<
    S: StoreUnderTest,
    F: Future<Output = S>,
>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    const N: usize = 120;
    let (store, clock) = fresh(&open).await;
    let store = Arc::new(store);
    let keys: Vec<RecordKey> = (0..N).map(|i| key("eu", &format!("t{i:03}"))).collect();
    store
        .intake_many(keys.iter().map(|k| intake_of(k, 0)).collect())
        .await
        .expect("intake_many");
    let mapped = store
        .transition_many(
            keys.iter()
                .map(|k| {
                    Transition::new(
                        k.clone(),
                        RecordState::Received,
                        target_for(RecordState::Mapped, &clock),
                        "mapped",
                    )
                })
                .collect(),
        )
        .await
        .expect("transition_many");
    assert!(mapped.iter().all(Result::is_ok));
    let mut tasks = Vec::new();
    for worker in 0..3 {
        let store = Arc::clone(&store);
        let mut mine = keys.clone();
        mine.rotate_left(worker * N / 3);
        if worker == 1 {
            mine.reverse();
        }
        tasks.push(tokio::spawn(async move {
            let mut moved = Vec::new();
            for chunk in mine.chunks(30) {
                let results = store
                    .transition_many(
                        chunk
                            .iter()
                            .map(|k| {
                                Transition::new(
                                    k.clone(),
                                    RecordState::Mapped,
                                    Target::Posting,
                                    format!("worker {worker}"),
                                )
                            })
                            .collect(),
                    )
                    .await
                    .expect("transition_many");
                for (key, result) in chunk.iter().zip(results) {
                    match result {
                        Ok(record) => moved.push(record.key),
                        Err(StoreError::StateMismatch {
                            actual: RecordState::Posting,
                            ..
                        }) => {}
                        Err(e) => panic!("{key}: {e}"),
                    }
                }
                tokio::task::yield_now().await;
            }
            moved
        }));
    }
    let mut moved = BTreeSet::new();
    for task in tasks {
        for key in task.await.expect("worker panicked") {
            assert!(moved.insert(key.clone()), "{key} was moved twice");
        }
    }
    assert_eq!(moved, keys.iter().cloned().collect::<BTreeSet<_>>());
    for key in &keys {
        let record = store.get(key).await.expect("get").expect("exists");
        assert_eq!(
            (record.state, record.attempts, record.version),
            (RecordState::Posting, 1, 3),
            "{key}"
        );
        let moves = audit_of(&*store, key)
            .await
            .iter()
            .filter(|e| e.message.starts_with("mapped -> posting"))
            .count();
        assert_eq!(moves, 1, "{key}");
    }
}

/// The SYSPRO customer code is stored with a record, replaced by a newer one, kept when a move does
/// not know it, and returned by every read.
pub async fn syspro_customer_is_stored<S: StoreUnderTest, F: Future<Output = S>>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    let (store, clock) = fresh(&open).await;
    let customer = RecordKey::new(conn("eu"), EntityKind::Customer, "17");
    let invoice = key("eu", "1017");
    store
        .intake_many(vec![intake_of(&customer, 0), intake_of(&invoice, 0)])
        .await
        .expect("intake_many");
    let keys = |customer: &str| SysproKeys {
        invoice: None,
        journal: None,
        customer: Some(customer.to_owned()),
    };
    let results = store
        .transition_many(vec![
            Transition::new(
                customer.clone(),
                RecordState::Received,
                Target::Mapped {
                    syspro: keys("C000017"),
                },
                "matched by email",
            ),
            Transition::new(
                invoice.clone(),
                RecordState::Received,
                Target::Mapped {
                    syspro: SysproKeys {
                        invoice: Some("WEB001017".to_owned()),
                        ..keys("C000017")
                    },
                },
                "mapped",
            ),
            Transition::new(invoice.clone(), RecordState::Mapped, Target::Posting, ""),
        ])
        .await
        .expect("transition_many");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let posted = transition(
        &store,
        &invoice,
        RecordState::Posting,
        Target::Posted {
            syspro: SysproKeys {
                journal: Some("2026-03-000099".to_owned()),
                ..SysproKeys::default()
            },
        },
    )
    .await;
    assert_eq!(
        posted.syspro,
        SysproKeys {
            invoice: Some("WEB001017".to_owned()),
            journal: Some("2026-03-000099".to_owned()),
            customer: Some("C000017".to_owned()),
        },
        "a move that does not know the customer keeps it"
    );
    assert_eq!(
        store.get(&invoice).await.expect("get"),
        Some(posted.clone())
    );

    let rematched = transition(
        &store,
        &customer,
        RecordState::Mapped,
        Target::Halted {
            reason: "customer changed in Commerce".to_owned(),
        },
    )
    .await;
    assert_eq!(rematched.syspro.customer.as_deref(), Some("C000017"));
    transition(&store, &customer, RecordState::Halted, Target::Received).await;
    let replaced = transition(
        &store,
        &customer,
        RecordState::Received,
        Target::Mapped {
            syspro: keys("C000018"),
        },
    )
    .await;
    assert_eq!(replaced.syspro.customer.as_deref(), Some("C000018"));

    clock.advance(Duration::from_secs(1));
    let late = store
        .intake(intake_of(&invoice, 1))
        .await
        .expect("new version after posting");
    assert_eq!(late.record().syspro, posted.syspro);
    let listed = store.list(&RecordFilter::default()).await.expect("list");
    let codes: Vec<Option<&str>> = listed
        .iter()
        .map(|r| r.syspro.customer.as_deref())
        .collect();
    assert_eq!(
        codes,
        vec![Some("C000018"), Some("C000017")],
        "customer then invoice"
    );
    let stale = store
        .stale_posting(&conn("eu"), clock.now())
        .await
        .expect("stale");
    assert!(stale.is_empty());
}

/// A durable store keeps records, audit, watermarks and leases when reopened. `open` must reopen the
/// same database on every call.
pub async fn persists_across_reopen<S: StoreUnderTest, F: Future<Output = S>>(
    open: impl Fn(Arc<dyn Clock>) -> F,
) {
    let clock = clock();
    let key = key("eu", "durable");
    let eu = conn("eu");
    let stream = StreamName::from(EntityKind::Invoice);
    let holder = HolderId::new("worker-a").expect("holder");
    let (record, audit) = {
        let store = open(Arc::new(clock.clone())).await;
        let record = drive_to(&store, &clock, &key, RecordState::RetryWait).await;
        assert_eq!(record.syspro.customer.as_deref(), Some("CUST-EU-0042"));
        store
            .advance_watermark(&eu, &stream, START)
            .await
            .expect("advance");
        store
            .acquire_lease(&eu, &holder, Duration::from_secs(60))
            .await
            .expect("lease")
            .acquired()
            .expect("free");
        (record, audit_of(&store, &key).await)
    };
    let store = open(Arc::new(clock.clone())).await;
    assert_eq!(store.get(&key).await.expect("get"), Some(record));
    assert_eq!(audit_of(&store, &key).await, audit);
    assert_eq!(
        store.watermark(&eu, &stream).await.expect("watermark"),
        Some(START)
    );
    assert_eq!(store.leases().await.expect("leases").len(), 1);
    let again = store
        .intake(intake_of(&key, 0))
        .await
        .expect("intake after reopen");
    assert!(matches!(again, IntakeOutcome::Unchanged(_)), "{again:?}");
}

/// Expands to one `#[tokio::test]` per conformance behaviour, each calling `$open` (a function from
/// `Arc<dyn Clock>` to a future of a fresh store).
#[macro_export]
macro_rules! store_conformance_tests {
    ($open:path) => {
        $crate::store_conformance_tests!(@tests $open;
            intake_is_idempotent,
            intake_new_version_restarts_unposted_record,
            intake_after_posting_is_recorded_not_reposted,
            legal_transitions_succeed,
            illegal_transitions_are_refused,
            transitions_check_state_and_version,
            claims_take_due_records,
            concurrent_claims_never_share_a_record,
            stale_posting_records_are_found,
            listing_filters_and_pages,
            watermarks_never_move_backwards,
            leases_are_exclusive_and_expire,
            audit_log_orders_and_filters,
            notifications_queue_per_connection,
            cycle_reports_keep_the_latest,
            intake_many_matches_sequential_intake,
            transition_many_applies_in_order,
            move_many_matches_transition_many,
            append_many_keeps_order,
            large_batches_are_stored_whole,
            concurrent_intake_batches_create_each_record_once,
            concurrent_transition_batches_move_each_record_once,
            syspro_customer_is_stored,
        );
    };
    (@tests $open:path; $($name:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::state::conformance::$name($open).await;
            }
        )*
    };
}
