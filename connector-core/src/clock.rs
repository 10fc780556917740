//! Injected time.
//!
//! Schedules, backoff, lease expiry and token lifetimes all depend on "now" and on waiting. Reading the
//! wall clock directly would make them untestable without real waiting, so every component receives a
//! [`Clock`]. [`SystemClock`] is the only place in the crate that reads the wall clock; tests use
//! [`ManualClock`] and move time by hand.
//!
//! Instants are UTC and carry microsecond precision: [`SystemClock`] truncates to whole microseconds so
//! that a timestamp written to any state store (SQLite and PostgreSQL keep microseconds) reads back equal.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio::sync::watch;

/// A source of the current time and of waiting.
#[async_trait]
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant, in UTC.
    fn now(&self) -> OffsetDateTime;

    /// Completes once `duration` has passed on this clock.
    async fn sleep(&self, duration: Duration);
}

/// Truncates an instant to whole microseconds, the precision every state store keeps.
#[must_use]
pub fn truncate_to_micros(at: OffsetDateTime) -> OffsetDateTime {
    let nanos = at.nanosecond();
    at.replace_nanosecond(nanos - nanos % 1_000)
        .unwrap_or(at)
        .to_offset(time::UtcOffset::UTC)
}

/// The wall clock and `tokio`'s timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> OffsetDateTime {
        truncate_to_micros(OffsetDateTime::now_utc())
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// A clock that moves only when told to; sleepers wake when the clock is advanced past their deadline.
///
/// Cloning shares the same time, so a test can keep one handle and give another to the code under test.
#[derive(Clone)]
pub struct ManualClock {
    now: Arc<watch::Sender<OffsetDateTime>>,
}

impl ManualClock {
    /// A clock standing at `start` (converted to UTC, truncated to microseconds).
    #[must_use]
    pub fn new(start: OffsetDateTime) -> Self {
        let (now, _) = watch::channel(truncate_to_micros(start));
        Self { now: Arc::new(now) }
    }

    /// Moves the clock forward by `by` and wakes every sleeper whose deadline has passed.
    pub fn advance(&self, by: Duration) {
        let by = time::Duration::try_from(by).unwrap_or(time::Duration::MAX);
        self.now
            .send_modify(|now| *now = truncate_to_micros(now.saturating_add(by)));
    }

    /// Sets the clock to `to`. Moving backwards is allowed (to test clock skew); sleepers then keep
    /// waiting for their original deadline.
    pub fn set(&self, to: OffsetDateTime) {
        self.now.send_replace(truncate_to_micros(to));
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("now", &*self.now.borrow())
            .finish()
    }
}

#[async_trait]
impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.borrow()
    }

    async fn sleep(&self, duration: Duration) {
        let by = time::Duration::try_from(duration).unwrap_or(time::Duration::MAX);
        let deadline = self.now().saturating_add(by);
        let mut receiver = self.now.subscribe();
        // The sender lives as long as `self`, which this future borrows, so the channel cannot close
        // while waiting; an error would only mean the clock is gone, and then there is nothing to wait for.
        let _ = receiver.wait_for(|now| *now >= deadline).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn truncation_drops_sub_microseconds_only() {
        let at = datetime!(2026-01-02 03:04:05.123_456_789 UTC);
        assert_eq!(
            truncate_to_micros(at),
            datetime!(2026-01-02 03:04:05.123_456 UTC)
        );
    }

    #[test]
    fn manual_clock_advances_and_is_shared_by_clones() {
        let clock = ManualClock::new(datetime!(2026-01-01 00:00 UTC));
        let other = clock.clone();
        clock.advance(Duration::from_secs(90));
        assert_eq!(other.now(), datetime!(2026-01-01 00:01:30 UTC));
    }

    #[tokio::test]
    async fn sleep_completes_only_when_advanced_past_the_deadline() {
        let clock = ManualClock::new(datetime!(2026-01-01 00:00 UTC));
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep(Duration::from_secs(60)).await })
        };
        tokio::task::yield_now().await;
        clock.advance(Duration::from_secs(59));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished(), "woke before the deadline");
        clock.advance(Duration::from_secs(1));
        tokio::time::timeout(Duration::from_secs(5), sleeper)
            .await
            .expect("sleeper did not wake after the deadline")
            .expect("sleeper panicked");
    }

    #[tokio::test]
    async fn zero_sleep_returns_at_once() {
        let clock = ManualClock::new(datetime!(2026-01-01 00:00 UTC));
        tokio::time::timeout(Duration::from_secs(5), clock.sleep(Duration::ZERO))
            .await
            .expect("zero sleep waited");
    }
}
