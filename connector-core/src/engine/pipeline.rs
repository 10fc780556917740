//! The stages of one poll cycle, run at the same time so that SYSPRO, the slowest and strictly
//! serial system, never waits for Commerce reading, mapping or state writes:
//!
//! - the **reader** reads the streams page by page and stores every change (the watermark of a
//!   stream still advances only past stored changes);
//! - the **mapper** maps what was stored, a chunk at a time so customer look-ups batch well;
//! - the **poster** claims due records batch by batch and keeps up to [`BATCHES_IN_FLIGHT`] batches
//!   going: while one batch's documents are on the SYSPRO session, the next is claimed, planned and
//!   written to the audit trail, so its document is ready the moment the session is free.
//!
//! The stages hand work over through the state store, never through memory, so a crash at any
//! point leaves the same states a sequential cycle would, and memory stays flat whatever the
//! backlog. The mapper's plans are also kept in memory for the poster (see `plans`), but only to
//! save planning a document twice; the mapper stays at most [`MAPPED_AHEAD`] batches ahead of the
//! poster, so the plans it keeps are taken soon. The order of writes for each record (claim, audit
//! of what is sent, call, audit of the answer, move) is the one [`Engine::post_batch`] keeps;
//! SYSPRO calls are serialised by the client's single session.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::{CycleSummary, Engine, EngineError, EngineEvent};
use crate::mapping::ReferenceData;
use crate::state::{Record, RecordState};

/// Batches the poster works on at once: one on the SYSPRO session, the next being prepared (and
/// a third settling its answers).
const BATCHES_IN_FLIGHT: usize = 3;
/// New records the mapper waits for before a pass while reading goes on: passes over fewer make
/// customer look-ups batch poorly.
const MAP_CHUNK: usize = 200;
/// Batches of mapped documents the mapper stays ahead of the poster's claims: enough to keep every
/// batch in flight full, few enough that the plans kept for the poster are taken soon.
const MAPPED_AHEAD: usize = BATCHES_IN_FLIGHT + 2;

/// Counts the changes the engine stores and wakes the mapping stage every [`MAP_CHUNK`] of them.
#[derive(Debug, Default)]
pub(crate) struct IntakeSignal {
    stored: AtomicUsize,
    chunk: Notify,
}

impl IntakeSignal {
    /// One change was stored as a new record or a new version.
    pub(crate) fn stored(&self) {
        let n = self.stored.fetch_add(1, Ordering::AcqRel) + 1;
        if n.is_multiple_of(MAP_CHUNK) {
            self.chunk.notify_one();
        }
    }

    fn count(&self) -> usize {
        self.stored.load(Ordering::Acquire)
    }
}

/// What the stages of one cycle tell each other.
#[derive(Default)]
pub(crate) struct Progress {
    /// Documents the mapper moved to `mapped`.
    mapped: AtomicUsize,
    /// Of those, the ones the poster claimed (a claimed record holding a plan the mapper kept), or
    /// as many as the mapper had mapped when a claim found no more.
    claimed: AtomicUsize,
    reading_done: AtomicBool,
    mapping_done: AtomicBool,
    posting_done: AtomicBool,
    /// Woken when the mapper settled records or finished.
    mapped_ready: Notify,
    /// Woken when the poster claimed records or finished.
    claimed_more: Notify,
    /// Mapped documents the mapper may have waiting for a claim: at least one batch, and no more
    /// than the plans the cache keeps.
    ahead: usize,
}

impl Progress {
    /// For batches of `batch_size` (at least one) records.
    fn new(batch_size: usize) -> Self {
        Self {
            ahead: (MAPPED_AHEAD * batch_size)
                .min(super::plans::LIMIT)
                .max(batch_size),
            ..Self::default()
        }
    }

    /// The mapper made `n` more documents durable in `mapped`.
    pub(crate) fn note_mapped(&self, n: usize) {
        self.mapped.fetch_add(n, Ordering::AcqRel);
        self.mapped_ready.notify_one();
    }

    /// Waits until the mapper may map more: fewer than `ahead` mapped documents wait for a claim,
    /// or the poster has stopped.
    pub(crate) async fn wait_for_room(&self) {
        loop {
            let claimed_more = self.claimed_more.notified();
            tokio::pin!(claimed_more);
            // Registered before the check, so a claim in between still wakes this wait.
            claimed_more.as_mut().enable();
            let waiting = self
                .mapped
                .load(Ordering::Acquire)
                .saturating_sub(self.claimed.load(Ordering::Acquire));
            if waiting < self.ahead || self.posting_done.load(Ordering::Acquire) {
                return;
            }
            claimed_more.await;
        }
    }

    /// The poster claimed `n` records, `mapped_here` of them mapped in this cycle (they hold a
    /// plan the mapper kept). `mapped_before` is how many the mapper had mapped when the claim
    /// began, all of which were claimed when the claim came back short of `limit`.
    fn claim_done(&self, n: usize, mapped_here: usize, limit: usize, mapped_before: usize) {
        let claimed = self.claimed.fetch_add(mapped_here, Ordering::AcqRel) + mapped_here;
        if n < limit && claimed < mapped_before {
            // Fewer mapped documents were left than counted (a new version moved one back to
            // `received`, or another process claimed it): the count starts again from the store.
            self.claimed.fetch_max(mapped_before, Ordering::AcqRel);
        }
        self.claimed_more.notify_waiters();
    }

    fn finish_posting(&self) {
        self.posting_done.store(true, Ordering::Release);
        self.claimed_more.notify_waiters();
    }

    fn finish_reading(&self, signal: &IntakeSignal) {
        self.reading_done.store(true, Ordering::Release);
        signal.chunk.notify_one();
    }

    fn finish_mapping(&self) {
        self.mapping_done.store(true, Ordering::Release);
        self.mapped_ready.notify_one();
    }
}

/// A stage running as its own task, stopped when its handle is dropped before it ends.
struct Stage(JoinHandle<Result<CycleSummary, EngineError>>);

impl Stage {
    fn spawn(
        work: impl Future<Output = Result<CycleSummary, EngineError>> + Send + 'static,
    ) -> Self {
        Self(tokio::spawn(work))
    }

    /// The stage's outcome; a panic in it is raised here again.
    async fn join(mut self) -> Result<CycleSummary, EngineError> {
        match (&mut self.0).await {
            Ok(outcome) => outcome,
            Err(e) => match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                // Only `Drop` below aborts a stage, and then nobody waits for it.
                Err(e) => Err(EngineError::Stage(e.to_string())),
            },
        }
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Adds the counts of one stage or batch to the cycle's.
fn absorb(total: &mut CycleSummary, part: CycleSummary) {
    total.read += part.read;
    total.intake_new += part.intake_new;
    total.intake_unchanged += part.intake_unchanged;
    total.changed_after_posting += part.changed_after_posting;
    total.posted += part.posted;
    total.halted.extend(part.halted);
    total.retried += part.retried;
    total.dead += part.dead;
    total.reconciled += part.reconciled;
    total.customers_created += part.customers_created;
    total.errors.extend(part.errors);
    total.interrupted |= part.interrupted;
}

impl Engine {
    /// Reads, maps and posts at the same time until everything there is has been through; adds the
    /// counts to `summary`.
    ///
    /// The reader and the poster run as tasks of their own, so on a multi-threaded runtime the
    /// mapper's and the reader's work (JSON, mapping, store writes) never holds up the poster's
    /// next SYSPRO call. If the cycle ends early (an error of any stage, or the cycle itself being
    /// dropped), the other stages are stopped at their next await, as a dropped future would be.
    pub(crate) async fn run_pipeline(
        &self,
        reference: &ReferenceData,
        summary: &mut CycleSummary,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<(), EngineError> {
        let batch_size = self.batch_size();
        let progress = Arc::new(Progress::new(batch_size));
        let reference = Arc::new(reference.clone());
        let reader = Stage::spawn({
            let (engine, progress) = (self.clone(), Arc::clone(&progress));
            let stop = stop.cloned();
            async move { engine.read_stage(&progress, stop.as_ref()).await }
        });
        let poster = Stage::spawn({
            let (engine, progress, reference) =
                (self.clone(), Arc::clone(&progress), Arc::clone(&reference));
            let stop = stop.cloned();
            async move {
                let posted = engine
                    .post_stage(&reference, &progress, stop.as_ref())
                    .await;
                progress.finish_posting();
                posted
            }
        });
        let (read, mapped, posted) = tokio::try_join!(
            reader.join(),
            self.map_stage(&reference, &progress, stop),
            poster.join(),
        )?;
        absorb(summary, read);
        absorb(summary, mapped);
        absorb(summary, posted);
        Ok(())
    }

    async fn read_stage(
        &self,
        progress: &Progress,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<CycleSummary, EngineError> {
        let mut summary = CycleSummary::default();
        let result = async {
            for kind in self.streams() {
                self.read_stream(kind, &mut summary, stop).await?;
                if summary.interrupted {
                    // A shutdown began: the streams not read yet wait for a later cycle.
                    break;
                }
            }
            Ok::<_, EngineError>(())
        }
        .await;
        progress.finish_reading(&self.inner.intake_signal);
        result.map(|()| summary)
    }

    async fn map_stage(
        &self,
        reference: &ReferenceData,
        progress: &Progress,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<CycleSummary, EngineError> {
        let mut summary = CycleSummary::default();
        let signal = &self.inner.intake_signal;
        // The first pass maps what earlier cycles left in `received` at once.
        let mut seen: Option<usize> = None;
        let result = async {
            loop {
                if stop.is_some_and(|s| *s.borrow()) {
                    summary.interrupted = true;
                    return Ok(());
                }
                let reading_done = progress.reading_done.load(Ordering::Acquire);
                let taken_in = signal.count();
                if !reading_done
                    && seen.is_some_and(|seen| taken_in.saturating_sub(seen) < MAP_CHUNK)
                {
                    signal.chunk.notified().await;
                    continue;
                }
                seen = Some(taken_in);
                // Customer records wait until reading is over: their write-backs change Commerce's
                // `updated_at`, which would shift the pages of a customer stream still being read.
                self.map_received(reference, &mut summary, Some(progress), reading_done)
                    .await?;
                // Reading had ended before this pass began, so the pass saw every record.
                if reading_done {
                    return Ok::<_, EngineError>(());
                }
            }
        }
        .await;
        progress.finish_mapping();
        result.map(|()| summary)
    }

    async fn post_stage(
        &self,
        reference: &ReferenceData,
        progress: &Progress,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<CycleSummary, EngineError> {
        let batch_size = self.batch_size();
        let mut summary = CycleSummary::default();
        let mut in_flight = FuturesUnordered::new();
        // Records due from earlier cycles are claimed at once; later, a claim waits for a full
        // batch (or the end of mapping), so that documents stay full.
        let mut primed = true;
        loop {
            let stopping = stop.is_some_and(|s| *s.borrow()) || self.closing();
            if stopping {
                summary.interrupted = true;
            }
            let mapping_done = progress.mapping_done.load(Ordering::Acquire);
            let mapped = progress.mapped.load(Ordering::Acquire);
            let ready = mapped.saturating_sub(progress.claimed.load(Ordering::Acquire));
            if !stopping
                && in_flight.len() < BATCHES_IN_FLIGHT
                && (primed || mapping_done || ready >= batch_size)
            {
                // The batches in flight are driven while the lease is renewed and the next batch is
                // claimed: one of them may be suspended inside a store write, and leaving it unpolled
                // would keep the store's write lock from the claim (a deadlock on one connection).
                let next = async {
                    self.renew_if_under_lease().await?;
                    self.claim(batch_size).await
                };
                tokio::pin!(next);
                let batch = loop {
                    tokio::select! {
                        biased;
                        Some(part) = in_flight.next(), if !in_flight.is_empty() => {
                            absorb(&mut summary, part?);
                        }
                        batch = &mut next => break batch?,
                    }
                };
                let mapped_here = batch
                    .iter()
                    .filter(|record| self.inner.plans.holds(record))
                    .count();
                progress.claim_done(batch.len(), mapped_here, batch_size, mapped);
                if !batch.is_empty() {
                    in_flight.push(async move {
                        let mut part = CycleSummary::default();
                        self.post_batch(batch, reference, &mut part)
                            .await
                            .map(|()| part)
                    });
                    continue;
                }
                primed = false;
                if mapping_done && in_flight.is_empty() {
                    return Ok(summary);
                }
            }
            if stopping && in_flight.is_empty() {
                return Ok(summary);
            }
            if in_flight.is_empty() {
                progress.mapped_ready.notified().await;
                continue;
            }
            tokio::select! {
                done = in_flight.next() => {
                    if let Some(part) = done {
                        absorb(&mut summary, part?);
                    }
                }
                () = progress.mapped_ready.notified(), if in_flight.len() < BATCHES_IN_FLIGHT => {}
            }
        }
    }

    /// Claims up to `limit` due records of the kinds that become postings, and reports their moves
    /// into `posting`.
    pub(crate) async fn claim(&self, limit: usize) -> Result<Vec<Record>, EngineError> {
        let mut batch = Vec::new();
        for kind in self.posting_kinds() {
            let room = limit.saturating_sub(batch.len());
            if room > 0 {
                let _turn = self.inner.writes.lock().await;
                let claimed = self
                    .inner
                    .store
                    .claim_due(&self.inner.name, Some(kind), room)
                    .await?;
                batch.extend(claimed);
            }
        }
        for record in &batch {
            // A claim counts one attempt: the first comes from `mapped`, later ones from
            // `retry_wait` (moving back to `received` resets the count).
            let from = if record.attempts > 1 {
                RecordState::RetryWait
            } else {
                RecordState::Mapped
            };
            self.emit(EngineEvent::Transition {
                key: record.key.clone(),
                from,
                to: RecordState::Posting,
                reason: None,
            });
        }
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Whether `progress.wait_for_room()` returns within a short while.
    async fn has_room(progress: &Progress) -> bool {
        tokio::time::timeout(Duration::from_millis(50), progress.wait_for_room())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn the_mapper_waits_while_enough_mapped_documents_wait_for_the_poster() {
        let progress = Progress::new(10);
        assert_eq!(progress.ahead, MAPPED_AHEAD * 10);
        progress.note_mapped(progress.ahead - 1);
        assert!(has_room(&progress).await);
        progress.note_mapped(1);
        assert!(!has_room(&progress).await, "{} waiting", progress.ahead);
        progress.claim_done(10, 10, 10, progress.ahead);
        assert!(has_room(&progress).await);
    }

    #[tokio::test]
    async fn a_claim_wakes_a_waiting_mapper() {
        let progress = Arc::new(Progress::new(10));
        progress.note_mapped(progress.ahead + 5);
        let waiting = tokio::spawn({
            let progress = Arc::clone(&progress);
            async move { progress.wait_for_room().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        progress.claim_done(10, 10, 10, 0);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("woken by the claim")
            .unwrap();
    }

    #[tokio::test]
    async fn a_short_claim_means_nothing_mapped_is_left_waiting() {
        // Two of the counted documents left `mapped` another way (a newer version came in): the
        // claim takes fewer than asked for, and the count follows the store.
        let progress = Progress::new(10);
        let mapped = progress.ahead + 2;
        progress.note_mapped(mapped);
        progress.claim_done(10, 10, 10, mapped);
        progress.claim_done(10, 10, 10, mapped);
        progress.claim_done(10, 10, 10, mapped);
        progress.claim_done(10, 10, 10, mapped);
        progress.claim_done(10, 10, 10, mapped);
        assert!(has_room(&progress).await);
        progress.claim_done(0, 0, 10, mapped);
        assert_eq!(progress.claimed.load(Ordering::Acquire), mapped);
        progress.note_mapped(progress.ahead);
        assert!(!has_room(&progress).await);
    }

    #[tokio::test]
    async fn a_mapper_never_waits_for_a_poster_that_stopped() {
        let progress = Arc::new(Progress::new(10));
        progress.note_mapped(progress.ahead * 3);
        let waiting = tokio::spawn({
            let progress = Arc::clone(&progress);
            async move { progress.wait_for_room().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        progress.finish_posting();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("released when posting ends")
            .unwrap();
        assert!(has_room(&progress).await);
    }
}
