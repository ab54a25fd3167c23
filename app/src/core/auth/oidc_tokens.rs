//! All SQL touching `oidc_tokens`: for each OIDC account, until when the
//! provider's last word (its ID token) holds, and the sealed refresh token
//! to ask it again once that runs out.

use chrono::{DateTime, Utc};

use crate::{
    core::{Result, db::Db, identity::UserId},
    on_db,
};

#[derive(Clone, Debug)]
pub struct OidcTokens {
    db: Db,
}

#[derive(sqlx::FromRow)]
pub struct StoredTokens {
    pub sealed_refresh_token: Option<Vec<u8>>,
    pub valid_until: DateTime<Utc>,
}

impl OidcTokens {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn find(&self, user: UserId) -> Result<Option<StoredTokens>> {
        const SQL: &str = "SELECT sealed_refresh_token, valid_until FROM oidc_tokens WHERE user_id = $1";
        let found = on_db!(&self.db, pool => {
            sqlx::query_as::<_, StoredTokens>(SQL).bind(user.0).fetch_optional(pool).await
        })?;
        Ok(found)
    }

    pub async fn store(&self, user: UserId, tokens: &StoredTokens, now: DateTime<Utc>) -> Result<()> {
        const SQL: &str = "INSERT INTO oidc_tokens (user_id, sealed_refresh_token, valid_until, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET \
             sealed_refresh_token = excluded.sealed_refresh_token, valid_until = excluded.valid_until, \
             updated_at = excluded.updated_at";
        on_db!(&self.db, pool => {
            sqlx::query(SQL)
                .bind(user.0)
                .bind(&tokens.sealed_refresh_token)
                .bind(tokens.valid_until)
                .bind(now)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(())
    }
}
