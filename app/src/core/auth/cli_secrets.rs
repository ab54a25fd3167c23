//! CLI secrets: what a user who signs in through OIDC gives `docker login`
//! instead of a password (Berth never sees their OIDC password). A SHA-256
//! digest checks a presented secret; a copy sealed with AES-256-GCM, bound
//! to the user's id, lets the profile page show it again. The sealing key is
//! shared by all nodes through `signing_keys`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rand::{Rng, RngCore, distributions::Alphanumeric, rngs::OsRng};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::keys::{self, GeneratedKey};
use crate::{
    core::{Error, Result, db::Db, users::UserId},
    on_db,
};

const PURPOSE: &str = "cli-secrets";
const SECRET_LENGTH: usize = 32;

#[derive(Clone)]
pub struct CliSecrets {
    db: Db,
    key: Arc<OnceCell<LessSafeKey>>,
}

impl std::fmt::Debug for CliSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CliSecrets").finish_non_exhaustive()
    }
}

impl CliSecrets {
    pub fn new(db: Db) -> Self {
        Self { db, key: Arc::default() }
    }

    /// Gives the user a new secret, replacing any earlier one (which stops
    /// working at once), and returns it.
    pub async fn regenerate(&self, user: UserId, now: DateTime<Utc>) -> Result<String> {
        let secret: String = OsRng.sample_iter(&Alphanumeric).take(SECRET_LENGTH).map(char::from).collect();
        let sealed = self.seal(user, &secret).await?;
        const SQL: &str = "INSERT INTO cli_secrets (user_id, secret_hash, sealed, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id) DO UPDATE SET secret_hash = excluded.secret_hash, sealed = excluded.sealed, \
             created_at = excluded.created_at";
        on_db!(&self.db, pool => {
            sqlx::query(SQL)
                .bind(user.0)
                .bind(digest(&secret))
                .bind(&sealed)
                .bind(now)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(secret)
    }

    /// Gives the user a secret unless they have one.
    pub async fn ensure(&self, user: UserId, now: DateTime<Utc>) -> Result<()> {
        if self.stored_digest(user).await?.is_none() {
            self.regenerate(user, now).await?;
        }
        Ok(())
    }

    /// The user's current secret, for their profile page.
    pub async fn reveal(&self, user: UserId) -> Result<Option<String>> {
        let sealed: Option<Vec<u8>> = on_db!(&self.db, pool => {
            sqlx::query_scalar("SELECT sealed FROM cli_secrets WHERE user_id = $1").bind(user.0).fetch_optional(pool).await
        })?;
        match sealed {
            Some(sealed) => self.open(user, sealed).await.map(Some),
            None => Ok(None),
        }
    }

    /// Whether `presented` is the user's current secret.
    pub async fn matches(&self, user: UserId, presented: &str) -> Result<bool> {
        Ok(self.stored_digest(user).await?.is_some_and(|stored| stored == digest(presented)))
    }

    async fn stored_digest(&self, user: UserId) -> Result<Option<String>> {
        let stored: Option<String> = on_db!(&self.db, pool => {
            sqlx::query_scalar("SELECT secret_hash FROM cli_secrets WHERE user_id = $1").bind(user.0).fetch_optional(pool).await
        })?;
        Ok(stored)
    }

    async fn key(&self) -> Result<&LessSafeKey> {
        self.key
            .get_or_try_init(|| async {
                let bytes = keys::load_or_create(&self.db, PURPOSE, || {
                    let mut secret = vec![0u8; AES_256_GCM.key_len()];
                    OsRng.fill_bytes(&mut secret);
                    Ok(GeneratedKey {
                        key_id: hex::encode(&Sha256::digest(&secret)[..12]),
                        algorithm: "A256GCM",
                        secret,
                    })
                })
                .await?;
                let key = UnboundKey::new(&AES_256_GCM, &bytes)
                    .map_err(|_| Error::Crypto("the stored CLI secret key has the wrong length".into()))?;
                Ok(LessSafeKey::new(key))
            })
            .await
    }

    /// Nonce followed by the ciphertext and tag; the user id is the
    /// associated data, so a sealed secret moved to another user's row fails to open.
    async fn seal(&self, user: UserId, secret: &str) -> Result<Vec<u8>> {
        let key = self.key().await?;
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let mut in_out = secret.as_bytes().to_vec();
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(user.0.to_be_bytes()), &mut in_out)
            .map_err(|_| Error::Crypto("cannot seal a CLI secret".into()))?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&in_out);
        Ok(sealed)
    }

    async fn open(&self, user: UserId, mut sealed: Vec<u8>) -> Result<String> {
        let key = self.key().await?;
        if sealed.len() < NONCE_LEN {
            return Err(Error::corrupt(format!("the CLI secret of user {} is truncated", user.0)));
        }
        let mut in_out = sealed.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&sealed).map_err(|_| Error::Crypto("bad nonce".into()))?;
        let plain = key
            .open_in_place(nonce, Aad::from(user.0.to_be_bytes()), &mut in_out)
            .map_err(|_| Error::corrupt(format!("the CLI secret of user {} does not open", user.0)))?;
        String::from_utf8(plain.to_vec()).map_err(|_| Error::corrupt("a CLI secret is not text"))
    }
}

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}
