//! Login throttling: after repeated failed sign-ins for one username from
//! one address, further attempts are refused for a while without checking
//! the password (which also keeps password hashing from being used to load
//! the server). Keyed by the pair, so an attacker elsewhere cannot lock a
//! user out. Counted per node, in memory.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Failures that start a lockout…
const MAX_FAILURES: u32 = 5;
/// …when they happen within this window…
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// …and how long the lockout lasts.
const LOCKOUT: Duration = Duration::from_secs(5 * 60);
const CAPACITY: usize = 100_000;

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    first: Instant,
    locked_until: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<(String, String), Failures>>,
}

impl LoginThrottle {
    fn key(username: &str, client_addr: Option<&str>) -> (String, String) {
        (username.to_lowercase(), client_addr.unwrap_or_default().to_owned())
    }

    /// How long until this pair may try again, if it is locked out now.
    pub fn locked_for(&self, username: &str, client_addr: Option<&str>) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let until = failures.get(&Self::key(username, client_addr))?.locked_until?;
        until.checked_duration_since(Instant::now())
    }

    pub fn failed(&self, username: &str, client_addr: Option<&str>) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= CAPACITY {
            failures.retain(|_, f| now.duration_since(f.first) < WINDOW || f.locked_until.is_some_and(|u| u > now));
        }
        let entry = failures.entry(Self::key(username, client_addr)).or_insert(Failures {
            count: 0,
            first: now,
            locked_until: None,
        });
        if now.duration_since(entry.first) >= WINDOW && entry.locked_until.is_none_or(|u| u <= now) {
            *entry = Failures { count: 0, first: now, locked_until: None };
        }
        entry.count += 1;
        if entry.count >= MAX_FAILURES {
            entry.locked_until = Some(now + LOCKOUT);
        }
    }

    pub fn succeeded(&self, username: &str, client_addr: Option<&str>) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(&Self::key(username, client_addr));
    }
}

#[cfg(test)]
mod tests {
    use super::{LoginThrottle, MAX_FAILURES};

    #[test]
    fn locks_a_pair_after_repeated_failures_only() {
        let throttle = LoginThrottle::default();
        for _ in 0..MAX_FAILURES - 1 {
            throttle.failed("alice", Some("10.0.0.1"));
        }
        assert_eq!(throttle.locked_for("alice", Some("10.0.0.1")), None);
        throttle.failed("Alice", Some("10.0.0.1"));
        assert!(throttle.locked_for("alice", Some("10.0.0.1")).is_some());
        assert_eq!(throttle.locked_for("alice", Some("10.0.0.2")), None, "other addresses are not locked out");
        assert_eq!(throttle.locked_for("bob", Some("10.0.0.1")), None);
        throttle.succeeded("alice", Some("10.0.0.2"));
        throttle.failed("carol", None);
        throttle.succeeded("carol", None);
        assert_eq!(throttle.locked_for("carol", None), None);
    }
}
