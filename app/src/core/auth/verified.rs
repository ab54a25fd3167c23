//! Recently verified passwords. Registry clients may send Basic credentials
//! with every request; checking argon2 each time would cost tens of
//! milliseconds per request. A pair that verified within the last minute
//! against the account's current password hash is accepted again: entries
//! are keyed by a keyed hash of the pair (the password itself is never
//! kept) and remember a digest of the stored hash, so a password change
//! invalidates them at once.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use rand::{RngCore, rngs::OsRng};
use sha2::{Digest, Sha256};

const TTL: Duration = Duration::from_secs(60);
const CAPACITY: usize = 10_000;

/// SHA-256 of the username/password pair (keyed) → SHA-256 of the stored
/// hash it verified against, and when.
type Entries = HashMap<[u8; 32], ([u8; 32], Instant)>;

pub struct VerifiedPasswords {
    /// Per-process secret mixed into every key.
    salt: [u8; 32],
    entries: Mutex<Entries>,
}

impl Default for VerifiedPasswords {
    fn default() -> Self {
        let mut salt = [0u8; 32];
        OsRng.fill_bytes(&mut salt);
        Self { salt, entries: Mutex::default() }
    }
}

impl std::fmt::Debug for VerifiedPasswords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedPasswords").finish_non_exhaustive()
    }
}

impl VerifiedPasswords {
    fn key(&self, username: &str, password: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.salt);
        hasher.update((username.len() as u64).to_le_bytes());
        hasher.update(username.as_bytes());
        hasher.update(password.as_bytes());
        hasher.finalize().into()
    }

    /// Whether this pair verified within the last minute against `stored_hash`.
    pub fn holds(&self, username: &str, password: &str, stored_hash: &str) -> bool {
        let key = self.key(username, password);
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(&key)
            .is_some_and(|(hash, at)| at.elapsed() < TTL && *hash == <[u8; 32]>::from(Sha256::digest(stored_hash)))
    }

    pub fn insert(&self, username: &str, password: &str, stored_hash: &str) {
        let key = self.key(username, password);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CAPACITY {
            entries.retain(|_, (_, at)| at.elapsed() < TTL);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key, (Sha256::digest(stored_hash).into(), Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::VerifiedPasswords;

    #[test]
    fn a_pair_holds_only_for_the_hash_it_verified_against() {
        let cache = VerifiedPasswords::default();
        assert!(!cache.holds("alice", "secret", "$argon2id$old"));
        cache.insert("alice", "secret", "$argon2id$old");
        assert!(cache.holds("alice", "secret", "$argon2id$old"));
        assert!(!cache.holds("alice", "secret", "$argon2id$new"), "a changed password");
        assert!(!cache.holds("alice", "other", "$argon2id$old"), "another password");
        assert!(!cache.holds("alicesecret", "", "$argon2id$old"), "the split between the halves counts");
    }
}
