//! Fault injection: settings readable and writable at run time (`/__sim/faults`), and decisions that
//! depend only on the seed and the request's sequence number, so a rerun meets the same faults.

use serde::{Deserialize, Serialize};

use super::rng::{mix, unit};

/// Faults applied to Commerce API calls (never to `/__sim/` or the token endpoint). Rates are
/// probabilities per call, from 0.0 (never) to 1.0 (always).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CommerceFaults {
    /// Delay added to every API call, in milliseconds.
    pub latency_ms: u64,
    /// Share of calls answered 429 `{"message":"Too Many Requests","trace":null}`.
    pub rate_limit_rate: f64,
    /// `Retry-After` seconds sent with those 429s; `None` sends no header (Commerce's own backpressure
    /// sends none).
    pub retry_after_secs: Option<u64>,
    /// Share of calls answered like Fastly's rate limiter: held for `slow_429_delay_ms`, then a plain-text
    /// 429 "Limit Exceeded" without `Retry-After`.
    pub slow_429_rate: f64,
    /// How long a Fastly-style 429 is held (Fastly's tarpit default is 5 s).
    pub slow_429_delay_ms: u64,
    /// Share of calls answered with `server_error_status`.
    pub server_error_rate: f64,
    /// 500 gives Commerce's masked JSON error; 502/503/504 give a proxy's HTML page.
    pub server_error_status: u16,
    /// Share of calls that hang for `hang_ms` before answering (longer than a client's timeout).
    pub hang_rate: f64,
    pub hang_ms: u64,
    /// Share of successful answers cut off halfway (invalid JSON, status 200).
    pub truncate_rate: f64,
    /// Share of order/invoice answers whose records carry explicit nulls in required fields
    /// (`customer_email` on orders, `total_qty` on invoices).
    pub null_required_rate: f64,
    /// Commerce's web API input limits: when set, a larger `pageSize` is refused with
    /// `Maximum SearchCriteria pageSize is %max`, and a missing `pageSize` means 20.
    pub max_page_size: Option<u32>,
    /// When not empty, the faults (latency included; `max_page_size`, a limit, stays for every
    /// endpoint) meet only calls of these endpoints, named as `/__sim/calls` counts them
    /// (`"GET /V1/orders"`); other calls go through untouched.
    pub only_endpoints: Vec<String>,
}

impl Default for CommerceFaults {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            rate_limit_rate: 0.0,
            retry_after_secs: None,
            slow_429_rate: 0.0,
            slow_429_delay_ms: 5_000,
            server_error_rate: 0.0,
            server_error_status: 503,
            hang_rate: 0.0,
            hang_ms: 120_000,
            truncate_rate: 0.0,
            null_required_rate: 0.0,
            max_page_size: None,
            only_endpoints: Vec::new(),
        }
    }
}

/// What happens to one call before it reaches the shop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Early {
    RateLimited,
    SlowRateLimited,
    ServerError,
    Hang,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    RateLimit = 1,
    Slow429 = 2,
    ServerError = 3,
    Hang = 4,
    Truncate = 5,
    Nulls = 6,
}

fn roll(seed: u64, kind: Kind, call: u64, rate: f64) -> bool {
    rate > 0.0 && unit(mix(seed ^ ((kind as u64) << 56), call)) < rate
}

impl CommerceFaults {
    /// Whether the faults meet a call of `endpoint` (see [`Self::only_endpoints`]).
    pub(crate) fn meet(&self, endpoint: &str) -> bool {
        self.only_endpoints.is_empty() || self.only_endpoints.iter().any(|e| e == endpoint)
    }

    pub(crate) fn early(&self, seed: u64, call: u64) -> Option<Early> {
        if roll(seed, Kind::Hang, call, self.hang_rate) {
            return Some(Early::Hang);
        }
        if roll(seed, Kind::Slow429, call, self.slow_429_rate) {
            return Some(Early::SlowRateLimited);
        }
        if roll(seed, Kind::RateLimit, call, self.rate_limit_rate) {
            return Some(Early::RateLimited);
        }
        if roll(seed, Kind::ServerError, call, self.server_error_rate) {
            return Some(Early::ServerError);
        }
        None
    }

    pub(crate) fn truncate(&self, seed: u64, call: u64) -> bool {
        roll(seed, Kind::Truncate, call, self.truncate_rate)
    }

    pub(crate) fn nulls(&self, seed: u64, call: u64) -> bool {
        roll(seed, Kind::Nulls, call, self.null_required_rate)
    }

    /// Refuses rates outside 0..=1 and statuses that are not 5xx, naming the field.
    pub(crate) fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("rate_limit_rate", self.rate_limit_rate),
            ("slow_429_rate", self.slow_429_rate),
            ("server_error_rate", self.server_error_rate),
            ("hang_rate", self.hang_rate),
            ("truncate_rate", self.truncate_rate),
            ("null_required_rate", self.null_required_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0.0 and 1.0, got {rate}"));
            }
        }
        if !(500..=599).contains(&self.server_error_status) {
            return Err(format!(
                "server_error_status must be a 5xx status, got {}",
                self.server_error_status
            ));
        }
        if self.max_page_size == Some(0) {
            return Err("max_page_size must be at least 1".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_repeat_under_a_seed_and_follow_the_rate() {
        let f = CommerceFaults {
            rate_limit_rate: 0.25,
            ..CommerceFaults::default()
        };
        let a: Vec<_> = (0..2000).map(|i| f.early(9, i)).collect();
        let b: Vec<_> = (0..2000).map(|i| f.early(9, i)).collect();
        assert_eq!(a, b);
        let hits = a.iter().filter(|x| x.is_some()).count();
        assert!((400..600).contains(&hits), "{hits}");
        assert!(CommerceFaults::default().early(9, 1).is_none());
    }
}
