//! Passwords and chosen secrets: the rules they must follow, and hashing
//! with argon2id at OWASP's recommended cost (19 MiB, t=2,
//! p=1). Hashing is CPU- and memory-heavy, so it runs on the blocking pool
//! behind a semaphore sized to the machine; async workers never stall on it.

use std::sync::{Arc, LazyLock};

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};
use tokio::sync::Semaphore;

use crate::core::{Error, Result};

/// Shortest and longest password an account may be given.
pub const PASSWORD_LENGTH: std::ops::RangeInclusive<usize> = 8..=128;

/// Refuses passwords outside [`PASSWORD_LENGTH`], naming `field`.
pub fn validate_password(field: &'static str, password: &str) -> Result<()> {
    let len = password.chars().count();
    if !PASSWORD_LENGTH.contains(&len) {
        return Err(Error::invalid(
            field,
            format!("must be between {} and {} characters long", PASSWORD_LENGTH.start(), PASSWORD_LENGTH.end()),
        ));
    }
    Ok(())
}

/// Refuses a secret a user chose (a CLI secret, a robot secret) unless it
/// follows Harbor's rule: 8–128 characters with an upper-case letter, a
/// lower-case letter and a digit.
pub fn validate_chosen_secret(field: &'static str, secret: &str) -> Result<()> {
    let strong = secret.chars().any(|c| c.is_ascii_uppercase())
        && secret.chars().any(|c| c.is_ascii_lowercase())
        && secret.chars().any(|c| c.is_ascii_digit());
    if !(8..=128).contains(&secret.chars().count()) || !strong {
        return Err(Error::invalid(
            field,
            "must be 8 to 128 characters with an upper-case letter, a lower-case letter and a digit",
        ));
    }
    Ok(())
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP argon2id parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Verifying against this when a user does not exist keeps the response time
/// of "no such user" and "wrong password" alike.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    argon2().hash_password(b"berth-dummy-password", &salt).expect("hashing a constant password succeeds").to_string()
});

/// Hashes and verifies passwords off the async workers.
#[derive(Clone, Debug)]
pub struct PasswordHasherPool {
    permits: Arc<Semaphore>,
}

impl Default for PasswordHasherPool {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self { permits: Arc::new(Semaphore::new(cpus)) }
    }
}

impl PasswordHasherPool {
    /// Returns the PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
    pub async fn hash(&self, password: String) -> Result<String> {
        let _permit = self.permits.acquire().await.expect("semaphore is never closed");
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| Error::PasswordHash(e.to_string()))
        })
        .await?
    }

    /// Checks `password` against `stored`; with no stored hash it still spends
    /// the time of one verification and answers `false`.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool> {
        let _permit = self.permits.acquire().await.expect("semaphore is never closed");
        tokio::task::spawn_blocking(move || {
            let known = stored.is_some();
            let stored = stored.unwrap_or_else(|| DUMMY_HASH.clone());
            let parsed = PasswordHash::new(&stored).map_err(|e| Error::PasswordHash(e.to_string()))?;
            // Parameters come from the stored hash, so older hashes keep verifying.
            let matches = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
            Ok(known && matches)
        })
        .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_with_argon2id_and_verifies() {
        let pool = PasswordHasherPool::default();
        let hash = pool.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(pool.verify("correct horse".into(), Some(hash.clone())).await.unwrap());
        assert!(!pool.verify("wrong horse".into(), Some(hash)).await.unwrap());
        assert!(!pool.verify("berth-dummy-password".into(), None).await.unwrap());
    }
}
