//! Session bookkeeping: the opaque e.net session id, when it was last used, and the clock that
//! decides when SYSPRO has probably dropped it.
//!
//! SYSPRO keeps one session per operator and logs an operator out after the e.net class timeout;
//! a second logon with the same operator evicts the first. The client therefore keeps exactly one
//! session slot behind an async mutex that is held for the whole of each call (logon, call and
//! the one retry), which both serialises calls on the session and makes the logon single-flight.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A monotonic time source, injected so idle-expiry can be tested without waiting.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads the real clock
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that only moves when told to: for tests and simulations of idle sessions.
#[derive(Debug, Clone)]
pub struct ManualClock {
    start: Instant,
    offset: Arc<Mutex<Duration>>,
}

impl ManualClock {
    /// A clock standing at an arbitrary instant.
    pub fn new() -> Self {
        ManualClock {
            start: SystemClock.now(),
            offset: Arc::new(Mutex::new(Duration::ZERO)),
        }
    }

    /// Moves the clock forward; clones share the same time.
    pub fn advance(&self, by: Duration) {
        let mut offset = self.offset.lock().unwrap_or_else(PoisonError::into_inner);
        *offset += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        let offset = *self.offset.lock().unwrap_or_else(PoisonError::into_inner);
        self.start + offset
    }
}

/// The e.net session id ("UserId"): opaque, trimmed, never printed.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SessionId(String);

impl SessionId {
    /// Accepts the logon answer as the id, or says why it cannot be one. SYSPRO 7 ids are 34 hex
    /// characters followed by spaces and SYSPRO 8 ids are longer, so no format is assumed beyond
    /// "one token of printable text".
    pub(crate) fn parse(text: &str) -> Result<Self, &'static str> {
        let id = text.trim();
        if id.is_empty() {
            return Err("the logon answer was empty instead of a session id");
        }
        if id.starts_with('<') {
            return Err(
                "the logon answer was a document instead of a session id (is base_url the e.net \
                 REST base, e.g. http://host:port/SYSPROWCFService/Rest?)",
            );
        }
        if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("the logon answer contained more than one word");
        }
        Ok(SessionId(id.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(<redacted>)")
    }
}

/// A live session and when SYSPRO last saw it used.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) id: SessionId,
    pub(crate) last_used: Instant,
}

impl Session {
    /// Whether the session has been idle so long that SYSPRO may drop it before or during the next
    /// call: idle for `idle_timeout - margin` or more.
    pub(crate) fn is_stale(&self, now: Instant, idle_timeout: Duration, margin: Duration) -> bool {
        let limit = idle_timeout.saturating_sub(margin);
        now.saturating_duration_since(self.last_used) >= limit
    }
}

/// The one session of a client (shared by all its clones), or none yet.
#[derive(Debug, Default)]
pub(crate) struct SessionSlot {
    pub(crate) session: Option<Session>,
    pub(crate) closed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_id_is_trimmed_and_opaque() {
        let id = SessionId::parse("3EA613166FE4BF47925DF1CEA14E910100  \r\n").expect("id");
        assert_eq!(id.as_str(), "3EA613166FE4BF47925DF1CEA14E910100");
        assert_eq!(format!("{id:?}"), "SessionId(<redacted>)");
        let long = SessionId::parse("{6A3D1F0B-0000-4C1E-9B1D-AB12CD34EF56}_00001").expect("id");
        assert_eq!(
            long.as_str(),
            "{6A3D1F0B-0000-4C1E-9B1D-AB12CD34EF56}_00001"
        );
    }

    #[test]
    fn session_id_rejects_non_ids() {
        assert!(SessionId::parse("   ").is_err());
        assert!(SessionId::parse("<html>oops</html>").is_err());
        assert!(SessionId::parse("two words").is_err());
    }

    #[test]
    fn staleness_uses_the_margin() {
        let clock = ManualClock::new();
        let session = Session {
            id: SessionId::parse("A").expect("id"),
            last_used: clock.now(),
        };
        let timeout = Duration::from_secs(600);
        let margin = Duration::from_secs(60);
        clock.advance(Duration::from_secs(539));
        assert!(!session.is_stale(clock.now(), timeout, margin));
        clock.advance(Duration::from_secs(1));
        assert!(session.is_stale(clock.now(), timeout, margin));
    }
}
