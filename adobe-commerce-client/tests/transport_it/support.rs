//! Shared helpers: a loud catch-all mock, a recording sleeper and a hand-driven clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use adobe_commerce_client::client::{SleepFuture, Sleeper};
use adobe_commerce_client::{Clock, RetryPolicy};
use time::OffsetDateTime;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Status the catch-all answers with; any test that sees it hit an unexpected route.
pub const UNMATCHED_STATUS: u16 = 599;

/// A mock server whose lowest-priority mock answers everything else with 599 and must never match
/// (verified when the server is dropped).
pub async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(UNMATCHED_STATUS).set_body_string("no mock matched this request"),
        )
        .with_priority(u8::MAX)
        .named("catch-all (must not be hit)")
        .expect(0)
        .mount(&server)
        .await;
    server
}

/// Records every wait instead of sleeping, so retry tests run instantly and can assert the waits.
#[derive(Debug, Default, Clone)]
pub struct RecordingSleeper {
    waits: Arc<Mutex<Vec<Duration>>>,
}

impl RecordingSleeper {
    pub fn waits(&self) -> Vec<Duration> {
        self.waits.lock().expect("waits lock").clone()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) -> SleepFuture {
        self.waits.lock().expect("waits lock").push(duration);
        Box::pin(async {})
    }
}

/// A wall clock moved by hand.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<OffsetDateTime>>,
}

impl ManualClock {
    pub fn at(now: OffsetDateTime) -> Self {
        ManualClock {
            now: Arc::new(Mutex::new(now)),
        }
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().expect("clock lock");
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().expect("clock lock")
    }
}

/// A fixed start time for clocks (2024-05-01 12:00:00 UTC).
pub fn start_time() -> OffsetDateTime {
    time::macros::datetime!(2024-05-01 12:00:00 UTC)
}

/// A retry policy without jitter, so waits are exact.
pub fn exact_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        jitter: adobe_commerce_client::Jitter::None,
        ..RetryPolicy::default()
    }
}

/// The error's `Display`, `Debug` and every `source()` in the chain, as one text.
pub fn everything_printed(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = format!("{error} {error:?}");
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(&format!(" | {inner} {inner:?}"));
        source = inner.source();
    }
    text
}
