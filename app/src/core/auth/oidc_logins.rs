//! All SQL touching `oidc_logins`: OIDC sign-ins between the redirect to
//! the provider and its callback. Rows are keyed by a digest of `state`,
//! taken (read and deleted) exactly once, and pruned when stale.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::{
    core::{Result, db::Db},
    on_db,
};

#[derive(Clone, Debug)]
pub struct PendingLogins {
    db: Db,
}

/// What the callback needs to finish a sign-in.
#[derive(Debug, sqlx::FromRow)]
pub struct PendingLogin {
    pub nonce: String,
    pub pkce_verifier: String,
    pub next_path: String,
    pub expires_at: DateTime<Utc>,
}

impl PendingLogins {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn insert(&self, state: &str, login: &PendingLogin, now: DateTime<Utc>) -> Result<()> {
        on_db!(&self.db, pool => {
            sqlx::query("DELETE FROM oidc_logins WHERE expires_at <= $1").bind(now).execute(pool).await.map(|r| r.rows_affected())
        })?;
        const SQL: &str = "INSERT INTO oidc_logins (state_hash, nonce, pkce_verifier, next_path, expires_at) VALUES ($1, $2, $3, $4, $5)";
        on_db!(&self.db, pool => {
            sqlx::query(SQL)
                .bind(state_hash(state))
                .bind(&login.nonce)
                .bind(&login.pkce_verifier)
                .bind(&login.next_path)
                .bind(login.expires_at)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(())
    }

    /// The sign-in started with `state`, removed so it cannot be finished
    /// twice (a replayed callback finds nothing).
    pub async fn take(&self, state: &str) -> Result<Option<PendingLogin>> {
        const SQL: &str =
            "DELETE FROM oidc_logins WHERE state_hash = $1 RETURNING nonce, pkce_verifier, next_path, expires_at";
        let login = on_db!(&self.db, pool => {
            sqlx::query_as::<_, PendingLogin>(SQL).bind(state_hash(state)).fetch_optional(pool).await
        })?;
        Ok(login)
    }
}

fn state_hash(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}
