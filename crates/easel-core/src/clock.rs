//! Time, injected. The server uses [`SystemClock`]; tests use [`ManualClock`] and move it.

use std::sync::Mutex;

use chrono::{DateTime, Duration, TimeZone, Utc};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;

    /// [`Clock::now`] in whole milliseconds since the epoch: what the verify cache compares
    /// on every request, and cheaper to read than a date.
    fn now_millis(&self) -> i64 {
        self.now().timestamp_millis()
    }
}

/// The wall clock. The one place where reading it is allowed.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    #[allow(clippy::disallowed_methods)]
    fn now_millis(&self) -> i64 {
        // Before the epoch only on a badly set clock: read as the epoch, as `now` would not.
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as i64)
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(start))
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = to;
    }
}

impl Default for ManualClock {
    /// 2030-01-01T00:00:00Z, a fixed start so that tests are repeatable.
    fn default() -> Self {
        ManualClock::new(
            Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
        )
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
