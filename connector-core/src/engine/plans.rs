//! Plans the mapping stage made, kept for the poster.
//!
//! Mapping reads each document from its stored payload and plans it; posting needs the same plan.
//! Reading a 15 KB order and planning it again costs as much as the first time, so the mapper
//! keeps each plan here and the poster takes it when it claims the record, if the record still
//! holds the payload the plan was made from (same fingerprint).
//!
//! Nothing depends on a plan being here: the store stays the only hand-over between stages, and
//! a record whose plan is missing is planned again from its payload, as it always could be. That
//! is the case for a record mapped in an earlier unit of work (plans are kept for one cycle,
//! replay or notification, see [`PlanCache::scope`]) or by another process, for a second attempt
//! (a plan is taken once), and for a record mapped while the cache was full. The pipeline keeps
//! the mapper a few batches ahead of the poster, so the cache stays small.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::plan::PostingPlan;
use crate::state::{Fingerprint, Record, RecordKey};

/// Plans kept at most. The pipeline keeps far fewer waiting; the limit guards the paths that map
/// without a poster following (a replay of many records, a store shared with another process).
pub(crate) const LIMIT: usize = 2_048;

/// Plans by record, each with the fingerprint of the payload it was made from.
#[derive(Debug)]
pub(crate) struct PlanCache<P = Box<PostingPlan>> {
    plans: Mutex<HashMap<RecordKey, (Fingerprint, P)>>,
}

impl<P> Default for PlanCache<P> {
    fn default() -> Self {
        Self {
            plans: Mutex::new(HashMap::new()),
        }
    }
}

impl<P> PlanCache<P> {
    /// The plans; a panic while they were held leaves them as they were, which is still sound
    /// (each is checked against the record's fingerprint when taken).
    fn plans(&self) -> MutexGuard<'_, HashMap<RecordKey, (Fingerprint, P)>> {
        self.plans.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps the plan made for `record`'s current payload, replacing an older one.
    pub(crate) fn keep(&self, record: &Record, plan: P) {
        let mut plans = self.plans();
        if plans.len() >= LIMIT && !plans.contains_key(&record.key) {
            return;
        }
        plans.insert(record.key.clone(), (record.fingerprint.clone(), plan));
    }

    /// Forgets any plan of `key` (the record was halted or postponed instead of mapped).
    pub(crate) fn forget(&self, key: &RecordKey) {
        self.plans().remove(key);
    }

    /// Whether a plan made from the payload `record` holds now is kept.
    pub(crate) fn holds(&self, record: &Record) -> bool {
        self.plans()
            .get(&record.key)
            .is_some_and(|(fingerprint, _)| *fingerprint == record.fingerprint)
    }

    /// Forgets every plan when the returned guard is dropped: plans are kept for one unit of work
    /// (a cycle, a replay, a notification), so a plan never outlives the reference data it was made
    /// with, and one left behind (its record halted before posting, or claimed by another process)
    /// is not kept for ever.
    pub(crate) fn scope(&self) -> Scope<'_, P> {
        Scope(self)
    }

    /// Takes the plan kept for `record`, when it was made from the payload the record holds now.
    /// A plan is taken once: a second attempt plans again.
    pub(crate) fn take(&self, record: &Record) -> Option<P> {
        let mut plans = self.plans();
        let (fingerprint, plan) = plans.remove(&record.key)?;
        (fingerprint == record.fingerprint).then_some(plan)
    }
}

/// See [`PlanCache::scope`].
pub(crate) struct Scope<'a, P>(&'a PlanCache<P>);

impl<P> Drop for Scope<'_, P> {
    fn drop(&mut self) {
        self.0.plans().clear();
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::state::{ConnectionName, EntityKind, Payload, RecordState, SysproKeys};

    fn record(id: &str, hash: &str) -> Record {
        let at = OffsetDateTime::UNIX_EPOCH;
        Record {
            key: RecordKey::new(ConnectionName::new("shop").unwrap(), EntityKind::Order, id),
            state: RecordState::Posting,
            attempts: 1,
            next_attempt_at: None,
            fingerprint: Fingerprint {
                entity_id: id.to_owned(),
                updated_at: at,
                content_hash: hash.to_owned(),
            },
            changed_after_posting: None,
            payload: Payload::from_json_text("{}"),
            reason: None,
            syspro: SysproKeys::default(),
            created_at: at,
            updated_at: at,
            state_since: at,
            version: 1,
        }
    }

    fn len<P>(cache: &PlanCache<P>) -> usize {
        cache.plans().len()
    }

    #[test]
    fn a_plan_is_taken_once_and_only_for_the_payload_it_was_made_from() {
        let cache = PlanCache::default();
        cache.keep(&record("1", "a"), "plan of 1a");
        cache.keep(&record("2", "a"), "plan of 2a");
        assert_eq!(cache.take(&record("1", "a")), Some("plan of 1a"));
        assert_eq!(cache.take(&record("1", "a")), None, "taken once");
        // A newer version of the document: the plan is of the old payload, and is dropped.
        assert_eq!(cache.take(&record("2", "b")), None);
        assert_eq!(cache.take(&record("2", "a")), None);
        assert_eq!(len(&cache), 0);
    }

    #[test]
    fn a_new_plan_replaces_the_old_and_a_halt_forgets_it() {
        let cache = PlanCache::default();
        cache.keep(&record("1", "a"), "old");
        cache.keep(&record("1", "b"), "new");
        assert_eq!(cache.take(&record("1", "b")), Some("new"));
        cache.keep(&record("2", "a"), "halted later");
        cache.forget(&record("2", "a").key);
        assert_eq!(cache.take(&record("2", "a")), None);
    }

    #[test]
    fn plans_are_kept_for_one_unit_of_work() {
        let cache = PlanCache::default();
        {
            let _work = cache.scope();
            cache.keep(&record("1", "a"), "kept");
            assert!(cache.holds(&record("1", "a")));
            assert!(!cache.holds(&record("1", "b")), "another payload");
        }
        assert!(!cache.holds(&record("1", "a")));
        assert_eq!(len(&cache), 0);
    }

    #[test]
    fn the_cache_stops_growing_at_its_limit_but_still_replaces() {
        let cache = PlanCache::default();
        for n in 0..LIMIT + 10 {
            cache.keep(&record(&n.to_string(), "a"), n);
        }
        assert_eq!(len(&cache), LIMIT);
        assert_eq!(
            cache.take(&record(&LIMIT.to_string(), "a")),
            None,
            "not kept"
        );
        // Taking one makes room; replacing a kept plan needs none.
        assert_eq!(cache.take(&record("0", "a")), Some(0));
        cache.keep(&record("1", "b"), 100);
        cache.keep(&record("new", "a"), 200);
        assert_eq!(cache.take(&record("1", "b")), Some(100));
        assert_eq!(cache.take(&record("new", "a")), Some(200));
    }
}
