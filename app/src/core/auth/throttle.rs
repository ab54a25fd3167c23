//! Login throttling: after repeated failed sign-ins for one username from
//! one address, further attempts are refused for a while without checking
//! the password (which also keeps password hashing from being used to load
//! the server). Keyed by the pair, so an attacker elsewhere cannot lock a
//! user out; the username as directories compare it (case and surrounding
//! spaces ignored), so `Alice ` gets no fresh tries. Counted per node, in
//! memory, for at most [`CAPACITY`] pairs, each kept as a digest of the name
//! and the address (about 100 bytes a pair, some 10 MB at worst, whatever
//! names the clients send).

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
/// Pairs tracked at most.
const CAPACITY: usize = 100_000;

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    first: Instant,
    locked_until: Option<Instant>,
}

/// A pair as the throttle keeps it: a digest of the normalised name and the address.
type PairKey = [u8; 16];

#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<PairKey, Failures>>,
}

impl LoginThrottle {
    fn key(username: &str, client_addr: Option<&str>) -> PairKey {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(username.trim().to_lowercase().as_bytes());
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        hasher.update([0]);
        hasher.update(client_addr.unwrap_or_default().as_bytes());
        let digest = hasher.finalize();
        let mut key = [0; 16];
        key.copy_from_slice(&digest[..16]);
        key
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
        let key = Self::key(username, client_addr);
        if failures.len() >= CAPACITY && !failures.contains_key(&key) {
            failures.retain(|_, f| now.duration_since(f.first) < WINDOW || f.locked_until.is_some_and(|u| u > now));
            // Still full: make room by forgetting the oldest pair that is not locked out.
            if failures.len() >= CAPACITY {
                let oldest = failures
                    .iter()
                    .filter(|(_, f)| f.locked_until.is_none_or(|u| u <= now))
                    .min_by_key(|(_, f)| f.first)
                    .map(|(key, _)| *key);
                match oldest {
                    Some(oldest) => {
                        failures.remove(&oldest);
                    }
                    // Every pair tracked is locked out: this one was not, and is not counted.
                    None => return,
                }
            }
        }
        let entry = failures.entry(key).or_insert(Failures { count: 0, first: now, locked_until: None });
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
    use super::{CAPACITY, LoginThrottle, MAX_FAILURES};

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
        // The username as a directory compares it: spaces around it and case do not give fresh tries.
        for _ in 0..MAX_FAILURES {
            throttle.failed(" dave ", Some("10.0.0.1"));
        }
        assert!(throttle.locked_for("Dave", Some("10.0.0.1")).is_some());
    }

    #[test]
    fn memory_stays_bounded_and_lockouts_survive_a_flood() {
        let throttle = LoginThrottle::default();
        for _ in 0..MAX_FAILURES {
            throttle.failed("alice", Some("10.0.0.1"));
        }
        for n in 0..CAPACITY + 10 {
            throttle.failed(&format!("flood-{n}"), Some("10.0.0.9"));
        }
        assert!(throttle.failures.lock().unwrap().len() <= CAPACITY);
        assert!(throttle.locked_for("alice", Some("10.0.0.1")).is_some(), "a lockout is never evicted");
    }
}
