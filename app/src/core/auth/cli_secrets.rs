//! CLI secrets: what a user who signs in through OIDC gives `docker login`
//! instead of a password (Berth never sees their OIDC password). A SHA-256
//! digest checks a presented secret; a sealed copy, bound to the user's id,
//! lets the profile page show it again.

use chrono::{DateTime, Utc};
use rand::{Rng, distributions::Alphanumeric, rngs::OsRng};
use sha2::{Digest, Sha256};

use super::sealing::SealingKey;
use crate::{
    core::{
        Error, Result,
        db::{Db, begin_writing},
        events::{AuditEvent, write_audit_row},
        identity::UserId,
    },
    on_db,
};

const SECRET_LENGTH: usize = 32;

#[derive(Clone, Debug)]
pub struct CliSecrets {
    db: Db,
    sealing: SealingKey,
}

impl CliSecrets {
    pub fn new(db: Db, sealing: SealingKey) -> Self {
        Self { db, sealing }
    }

    /// Gives the user a new secret, replacing any earlier one (which stops
    /// working at once), and returns it.
    pub async fn regenerate(&self, user: UserId, now: DateTime<Utc>, event: Option<&AuditEvent>) -> Result<String> {
        let secret: String = OsRng.sample_iter(&Alphanumeric).take(SECRET_LENGTH).map(char::from).collect();
        self.store(user, &secret, now, event).await?;
        Ok(secret)
    }

    /// Makes `secret` the user's secret, replacing any earlier one, with the
    /// audit row `event` in the same transaction.
    pub async fn store(
        &self,
        user: UserId,
        secret: &str,
        now: DateTime<Utc>,
        event: Option<&AuditEvent>,
    ) -> Result<()> {
        let sealed = self.sealing.seal(&context(user), secret.as_bytes()).await?;
        const SQL: &str = "INSERT INTO cli_secrets (user_id, secret_hash, sealed, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id) DO UPDATE SET secret_hash = excluded.secret_hash, sealed = excluded.sealed, \
             created_at = excluded.created_at";
        on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            sqlx::query(SQL).bind(user.0).bind(digest(secret)).bind(&sealed).bind(now).execute(&mut *tx).await?;
            if let Some(event) = event {
                write_audit_row!(tx, event)?;
            }
            tx.commit().await
        }.await)?;
        Ok(())
    }

    /// Gives the user a secret unless they have one.
    pub async fn ensure(&self, user: UserId, now: DateTime<Utc>) -> Result<()> {
        if self.stored_digest(user).await?.is_none() {
            self.regenerate(user, now, None).await?;
        }
        Ok(())
    }

    /// The user's current secret, for their profile page.
    pub async fn reveal(&self, user: UserId) -> Result<Option<String>> {
        let sealed: Option<Vec<u8>> = on_db!(&self.db, pool => {
            sqlx::query_scalar("SELECT sealed FROM cli_secrets WHERE user_id = $1").bind(user.0).fetch_optional(pool).await
        })?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let plain = self
            .sealing
            .open(&context(user), &sealed)
            .await?
            .ok_or_else(|| Error::corrupt(format!("the CLI secret of user {} does not open", user.0)))?;
        String::from_utf8(plain).map(Some).map_err(|_| Error::corrupt("a CLI secret is not text"))
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
}

fn context(user: UserId) -> String {
    format!("CLI secret of user {}", user.0)
}

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}
