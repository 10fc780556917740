//! Restart after a crash between two steps: a store that fails at a chosen write stands in for the
//! process dying there. A new engine on the same state then finishes the work with nothing posted
//! twice and nothing lost.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use connector_core::audit::NewAuditEntry;
use connector_core::state::{EntityKind, MemoryStore, RecordState, StoreError, Transition};
use serde_json::json;

use crate::support::*;

/// Where the simulated crash happens.
#[derive(Clone, Copy, Debug)]
enum CrashAt {
    /// After SYSPRO accepted the invoice, before its answer is recorded (journal never sent).
    InvoiceAnswer,
    /// After SYSPRO accepted invoice and journal, before the record is marked posted.
    MarkPosted,
}

struct Crash {
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

impl Crash {
    fn hit(&self) -> Result<(), StoreError> {
        if self.armed.load(Ordering::SeqCst) {
            Err(crash())
        } else {
            Ok(())
        }
    }
}

impl StoreHooks for Crash {
    fn before_transition(&self, transition: &Transition) -> Result<(), StoreError> {
        if matches!(self.at, CrashAt::MarkPosted)
            && transition.to.state() == RecordState::Posted
            && transition.key.kind == EntityKind::Order
        {
            self.hit()?;
        }
        Ok(())
    }
    fn before_append(&self, entry: &NewAuditEntry) -> Result<(), StoreError> {
        if matches!(self.at, CrashAt::InvoiceAnswer) && entry.message.starts_with("ARSTIN accepted")
        {
            self.hit()?;
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_a_crash_between_steps_resumes_without_duplicates_or_losses() {
    for at in [CrashAt::InvoiceAnswer, CrashAt::MarkPosted] {
        let h = Harness::start(shop(2)).await;
        let shared = MemoryStore::new(std::sync::Arc::new(h.clock.clone()));
        let crashing = Arc::new(HookedStore {
            inner: shared.clone(),
            hooks: Crash {
                at,
                armed: AtomicBool::new(false),
            },
        });
        let engine = h.engine(&Setup::default(), crashing.clone()).await;
        engine.run_cycle().await.expect("first cycle");
        for _ in 0..3 {
            h.sim_post("orders", json!({"store": "web"})).await;
        }
        crashing.hooks.armed.store(true, Ordering::SeqCst);
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
        let mut summary = restarted.run_cycle().await.expect("cycle after restart");
        if matches!(at, CrashAt::InvoiceAnswer) {
            // The invoices were sent and never answered: SYSPRO may still be applying them, so
            // they are looked up only once twice the call timeout (2 minutes) has passed.
            assert_eq!(summary.reconciled, 0, "{at:?}: {summary:?}");
            let still = in_state(&shared, EntityKind::Order, RecordState::Posting).await;
            assert_eq!(
                still.len(),
                stuck.len(),
                "{at:?}: left in posting meanwhile"
            );
            h.clock.advance(std::time::Duration::from_secs(239));
            let early = restarted.run_cycle().await.expect("a cycle just before");
            assert_eq!(early.reconciled, 0, "{at:?}: {early:?}");
            h.clock.advance(std::time::Duration::from_secs(1));
            summary = restarted.run_cycle().await.expect("cycle after the wait");
        }
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
