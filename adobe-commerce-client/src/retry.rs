//! When to try a call again, and how long to wait first.
//!
//! Classification ([`classify`]) says what kind of failure happened; the policy ([`RetryPolicy`])
//! decides, from that class, the request's idempotency and the attempt count, whether and when to try
//! again. Throttling (429) is retried for every request because Commerce refused it unprocessed;
//! gateway errors, timeouts and broken connections leave the outcome unknown, so only idempotent
//! requests are repeated; failures before anything was sent are retried for every request.

use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use governor::Quota;
use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use time::OffsetDateTime;

use crate::error::{AuthError, Error, TimeoutLayer, TransportErrorKind};

/// What kind of failure happened, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryClass {
    /// HTTP 429: refused unprocessed; wait as told (`Retry-After`) or back off.
    Throttled {
        /// The server's `Retry-After`, resolved to a delay.
        retry_after: Option<Duration>,
    },
    /// Nothing reached Commerce (connect failure, connect timeout, credentials not yet obtained for a
    /// transient reason): repeating is harmless for any request.
    NotSent,
    /// 502/503/504, an attempt timeout or a broken exchange: the request may have been processed.
    OutcomeUnknown,
    /// Anything else: repeating would give the same answer.
    Permanent,
}

/// Sorts a failure into a [`RetryClass`].
pub fn classify(error: &Error) -> RetryClass {
    match error {
        Error::Api(api) => match api.status {
            429 => RetryClass::Throttled {
                retry_after: api.retry_after,
            },
            502..=504 => RetryClass::OutcomeUnknown,
            _ => RetryClass::Permanent,
        },
        Error::Timeout {
            layer: TimeoutLayer::Connect,
            ..
        } => RetryClass::NotSent,
        Error::Timeout {
            layer: TimeoutLayer::Attempt,
            ..
        } => RetryClass::OutcomeUnknown,
        Error::Transport {
            kind: TransportErrorKind::Connect,
            ..
        } => RetryClass::NotSent,
        Error::Transport { .. } => RetryClass::OutcomeUnknown,
        // The API call itself was not sent while its credentials were being obtained.
        Error::Auth(AuthError::TokenRejected { .. } | AuthError::TokenTransport(_))
            if error.is_retryable() =>
        {
            RetryClass::NotSent
        }
        _ => RetryClass::Permanent,
    }
}

/// Whether and how randomly to spread backoff delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    /// "Full jitter": a uniformly random delay between zero and the capped exponential delay, so
    /// many clients throttled at once do not return at once.
    #[default]
    Full,
    /// The capped exponential delay itself (predictable; for tests and single-client setups).
    None,
}

/// The decision for one failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Try again after this delay.
    Retry {
        /// How long to wait first.
        after: Duration,
    },
    /// Return the error.
    GiveUp,
}

/// How many times, and how patiently, calls are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 disables retries).
    pub max_attempts: u32,
    /// Backoff before the first retry of a server or transport failure; doubles each retry.
    pub initial_backoff: Duration,
    /// Backoff before the first retry of a 429 without `Retry-After`; doubles each retry.
    pub throttle_backoff: Duration,
    /// Upper bound of any computed backoff.
    pub max_backoff: Duration,
    /// Upper bound of a server-requested `Retry-After` wait.
    pub max_retry_after: Duration,
    /// Randomisation of computed backoffs (never of `Retry-After`).
    pub jitter: Jitter,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            throttle_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
            jitter: Jitter::Full,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Decides what to do after attempt number `attempts_made` (1-based) failed with `class`.
    pub fn decide(
        &self,
        class: &RetryClass,
        idempotent: bool,
        attempts_made: u32,
    ) -> RetryDecision {
        if attempts_made >= self.max_attempts {
            return RetryDecision::GiveUp;
        }
        let after = match class {
            RetryClass::Throttled {
                retry_after: Some(wait),
            } => (*wait).min(self.max_retry_after),
            RetryClass::Throttled { retry_after: None } => {
                self.backoff(self.throttle_backoff, attempts_made)
            }
            RetryClass::NotSent => self.backoff(self.initial_backoff, attempts_made),
            RetryClass::OutcomeUnknown if idempotent => {
                self.backoff(self.initial_backoff, attempts_made)
            }
            RetryClass::OutcomeUnknown | RetryClass::Permanent => return RetryDecision::GiveUp,
        };
        RetryDecision::Retry { after }
    }

    /// The capped exponential delay before retry number `attempts_made`, jittered per policy.
    pub fn backoff(&self, initial: Duration, attempts_made: u32) -> Duration {
        let exponent = attempts_made.saturating_sub(1).min(31);
        let ceiling = initial
            .checked_mul(1u32 << exponent)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff);
        match self.jitter {
            Jitter::None => ceiling,
            Jitter::Full => {
                use rand::RngExt as _;
                let fraction: f64 = rand::rng().random_range(0.0..=1.0);
                ceiling.mul_f64(fraction)
            }
        }
    }
}

/// Reads `Retry-After` as delta-seconds or an HTTP date (resolved against `now`); a date in the past
/// means "now". Unparseable values are ignored.
pub fn parse_retry_after(headers: &HeaderMap, now: OffsetDateTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let now = SystemTime::from(now);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Reads the monotonic clock through tokio, so paused-time tests control the limiter too.
#[derive(Debug, Clone, Copy, Default)]
struct TokioClock;

impl GovernorClock for TokioClock {
    type Instant = std::time::Instant;

    fn now(&self) -> Self::Instant {
        tokio::time::Instant::now().into_std()
    }
}

type Limiter =
    governor::RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<std::time::Instant>>;

/// Requests-per-second limit shared by every clone of a client (one client talks to one host).
pub(crate) struct RateLimiter {
    limiter: Limiter,
    clock: TokioClock,
}

impl RateLimiter {
    pub(crate) fn per_second(rate: NonZeroU32) -> Self {
        RateLimiter {
            limiter: governor::RateLimiter::direct_with_clock(Quota::per_second(rate), TokioClock),
            clock: TokioClock,
        }
    }

    /// Waits (with `tokio::time`) until one more request is allowed, and takes that slot.
    pub(crate) async fn until_ready(&self) {
        loop {
            match self.limiter.check() {
                Ok(()) => return,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(self.clock.now());
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;
    use reqwest::header::HeaderValue;

    fn exact() -> RetryPolicy {
        RetryPolicy {
            jitter: Jitter::None,
            ..RetryPolicy::default()
        }
    }

    fn api(status: u16, retry_after: Option<Duration>) -> Error {
        Error::from(ApiError::from_response(
            status,
            b"{\"message\":\"x\"}",
            retry_after,
        ))
    }

    #[test]
    fn classification_is_by_where_it_failed() {
        assert_eq!(
            classify(&api(429, Some(Duration::from_secs(3)))),
            RetryClass::Throttled {
                retry_after: Some(Duration::from_secs(3))
            }
        );
        assert_eq!(classify(&api(503, None)), RetryClass::OutcomeUnknown);
        assert_eq!(classify(&api(500, None)), RetryClass::Permanent);
        assert_eq!(classify(&api(404, None)), RetryClass::Permanent);
        assert_eq!(
            classify(&Error::Timeout {
                layer: TimeoutLayer::Connect,
                after: Duration::from_secs(1)
            }),
            RetryClass::NotSent
        );
        assert_eq!(
            classify(&Error::Timeout {
                layer: TimeoutLayer::Attempt,
                after: Duration::from_secs(1)
            }),
            RetryClass::OutcomeUnknown
        );
        assert_eq!(
            classify(&Error::Timeout {
                layer: TimeoutLayer::Operation,
                after: Duration::from_secs(1)
            }),
            RetryClass::Permanent
        );
    }

    #[test]
    fn writes_are_retried_only_when_safe() {
        let policy = exact();
        assert_eq!(
            policy.decide(&RetryClass::OutcomeUnknown, false, 1),
            RetryDecision::GiveUp
        );
        assert_eq!(
            policy.decide(&RetryClass::OutcomeUnknown, true, 1),
            RetryDecision::Retry {
                after: Duration::from_millis(500)
            }
        );
        assert!(matches!(
            policy.decide(&RetryClass::NotSent, false, 1),
            RetryDecision::Retry { .. }
        ));
        assert!(matches!(
            policy.decide(&RetryClass::Throttled { retry_after: None }, false, 1),
            RetryDecision::Retry { .. }
        ));
        assert_eq!(
            policy.decide(&RetryClass::Permanent, true, 1),
            RetryDecision::GiveUp
        );
    }

    #[test]
    fn attempts_are_bounded() {
        let policy = exact();
        assert!(matches!(
            policy.decide(&RetryClass::NotSent, true, 3),
            RetryDecision::Retry { .. }
        ));
        assert_eq!(
            policy.decide(&RetryClass::NotSent, true, 4),
            RetryDecision::GiveUp
        );
        assert_eq!(
            RetryPolicy::none().decide(&RetryClass::NotSent, true, 1),
            RetryDecision::GiveUp
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let policy = exact();
        let waits: Vec<_> = (1..=8)
            .map(|n| policy.backoff(Duration::from_secs(1), n))
            .collect();
        assert_eq!(
            waits,
            [1, 2, 4, 8, 16, 30, 30, 30]
                .map(Duration::from_secs)
                .to_vec()
        );
        assert_eq!(
            policy.backoff(Duration::from_secs(1), 400),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn full_jitter_stays_between_zero_and_the_ceiling() {
        let policy = RetryPolicy::default();
        let samples: Vec<_> = (0..200)
            .map(|_| policy.backoff(Duration::from_secs(4), 2))
            .collect();
        assert!(samples.iter().all(|d| *d <= Duration::from_secs(8)));
        // 200 draws from [0, 8 s] are not all the same value.
        assert!(samples.iter().any(|d| *d != samples[0]));
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let policy = exact();
        assert_eq!(
            policy.decide(
                &RetryClass::Throttled {
                    retry_after: Some(Duration::from_secs(7))
                },
                false,
                1
            ),
            RetryDecision::Retry {
                after: Duration::from_secs(7)
            }
        );
        assert_eq!(
            policy.decide(
                &RetryClass::Throttled {
                    retry_after: Some(Duration::from_secs(86_400))
                },
                false,
                1
            ),
            RetryDecision::Retry {
                after: Duration::from_secs(120)
            }
        );
    }

    #[test]
    fn retry_after_parses_seconds_and_http_dates() {
        let now = time::macros::datetime!(2015-10-21 07:28:00 UTC);
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(
            parse_retry_after(&headers, now),
            Some(Duration::from_secs(120))
        );
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:45 GMT"),
        );
        assert_eq!(
            parse_retry_after(&headers, now),
            Some(Duration::from_secs(45))
        );
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:00:00 GMT"),
        );
        assert_eq!(parse_retry_after(&headers, now), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(parse_retry_after(&headers, now), None);
        assert_eq!(parse_retry_after(&HeaderMap::new(), now), None);
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limiter_spaces_requests_after_the_burst() {
        let limiter = RateLimiter::per_second(NonZeroU32::new(4).expect("non-zero"));
        let start = tokio::time::Instant::now();
        for _ in 0..8 {
            limiter.until_ready().await;
        }
        let elapsed = start.elapsed();
        // A burst of 4, then one slot every 250 ms.
        assert!(elapsed >= Duration::from_millis(1000), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(1100), "{elapsed:?}");
    }
}
