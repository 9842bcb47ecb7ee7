//! Throttling of failed sign-ins, per account and per source address.
//!
//! Each key (an account, an address) may fail `limit` times within a window; after that its
//! attempts are refused with the time to wait, until the window has passed. Windows always end,
//! so nobody can lock an account's owner out for good by failing on purpose; they can only
//! slow it down for one window. Only failures count, and a success clears the account's count.
//!
//! The state lives in the node's memory and is bounded: past `capacity` keys, the entries whose
//! windows have ended are dropped first, then the oldest.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    pub limit: u32,
    pub window: Duration,
}

struct Entry {
    failures: u32,
    window_start: DateTime<Utc>,
}

pub struct Throttle {
    policy: ThrottlePolicy,
    capacity: usize,
    entries: Mutex<HashMap<String, Entry>>,
}

impl Throttle {
    pub fn new(policy: ThrottlePolicy, capacity: usize) -> Throttle {
        Throttle {
            policy,
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` when `key` has used up its failures for the current window.
    pub fn check(&self, key: &str, now: DateTime<Utc>) -> Result<(), Duration> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(key) {
            Some(e) if e.failures >= self.policy.limit => {
                let ends = e.window_start + self.policy.window;
                if now < ends {
                    Err(ends - now)
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    pub fn fail(&self, key: &str, now: DateTime<Utc>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(key) {
            let window = self.policy.window;
            entries.retain(|_, e| now < e.window_start + window);
            if entries.len() >= self.capacity {
                if let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, e)| e.window_start)
                    .map(|(k, _)| k.clone())
                {
                    entries.remove(&oldest);
                }
            }
        }
        let entry = entries.entry(key.to_owned()).or_insert(Entry {
            failures: 0,
            window_start: now,
        });
        if now >= entry.window_start + self.policy.window {
            entry.failures = 0;
            entry.window_start = now;
        }
        entry.failures += 1;
    }

    pub fn succeed(&self, key: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::seconds(secs)
    }

    fn throttle() -> Throttle {
        Throttle::new(
            ThrottlePolicy {
                limit: 3,
                window: Duration::minutes(15),
            },
            4,
        )
    }

    #[test]
    fn failures_up_to_the_limit_are_allowed_then_refused_until_the_window_ends() {
        let th = throttle();
        for i in 0..3 {
            assert!(th.check("a", t(i)).is_ok());
            th.fail("a", t(i));
        }
        assert_eq!(th.check("a", t(10)), Err(Duration::seconds(900 - 10)));
        assert!(th.check("b", t(10)).is_ok(), "other keys are not affected");
        assert!(th.check("a", t(900)).is_ok(), "the window ends");
        th.fail("a", t(900));
        assert!(
            th.check("a", t(901)).is_ok(),
            "a new window starts counting afresh"
        );
    }

    #[test]
    fn success_clears_the_count() {
        let th = throttle();
        th.fail("a", t(0));
        th.fail("a", t(0));
        th.succeed("a");
        th.fail("a", t(1));
        th.fail("a", t(1));
        assert!(th.check("a", t(1)).is_ok());
    }

    #[test]
    fn memory_is_bounded() {
        let th = throttle();
        for i in 0..100 {
            th.fail(&format!("k{i}"), t(i));
        }
        assert!(th.entries.lock().unwrap().len() <= 4);
    }
}
