//! The simulator's notion of "now": the wall clock plus an offset that tests move forward
//! (`POST /__sim/clock/advance`) to expire tokens or age timestamps without waiting.

use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;
use time::macros::format_description;

/// Wall clock with an adjustable offset, in whole seconds (Commerce timestamps have no fractions).
#[derive(Debug, Default)]
pub(crate) struct SimClock {
    offset_secs: AtomicI64,
}

impl SimClock {
    /// Seconds since the Unix epoch, offset included.
    pub(crate) fn now(&self) -> i64 {
        system_now() + self.offset_secs.load(Ordering::Relaxed)
    }

    pub(crate) fn advance(&self, seconds: i64) {
        self.offset_secs.fetch_add(seconds, Ordering::Relaxed);
    }

    pub(crate) fn offset(&self) -> i64 {
        self.offset_secs.load(Ordering::Relaxed)
    }
}

/// The one place that reads the wall clock.
#[allow(clippy::disallowed_methods)]
fn system_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Formats a Unix timestamp as Commerce does: UTC `YYYY-MM-DD HH:MM:SS`, no offset.
pub(crate) fn format_ts(unix: i64) -> String {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| "1970-01-01 00:00:00".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_commerce() {
        assert_eq!(format_ts(1_700_000_000), "2023-11-14 22:13:20");
    }

    #[test]
    fn advance_moves_now() {
        let c = SimClock::default();
        let before = c.now();
        c.advance(3600);
        assert!(c.now() >= before + 3600);
    }
}
