//! All SQL touching `oidc_tokens`: for each OIDC account, until when the
//! provider's last word (its ID token) holds, and the sealed refresh token
//! to ask it again once that runs out.

use chrono::{DateTime, Utc};

use crate::{
    core::{
        Result,
        db::{Db, begin_writing},
        identity::{AuthSource, UserId},
        users::{refresh_external, sync_groups},
    },
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

    /// Brings the account up to date with what the provider said (profile,
    /// administrator flag, groups) and keeps its new tokens, in one
    /// transaction: a provider that rotated its refresh token never has the
    /// new one lost after the account changed, nor the other way round.
    pub async fn apply(
        &self,
        user: UserId,
        said: &ProviderSaid<'_>,
        tokens: &StoredTokens,
        now: DateTime<Utc>,
    ) -> Result<()> {
        const SQL: &str = "INSERT INTO oidc_tokens (user_id, sealed_refresh_token, valid_until, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET \
             sealed_refresh_token = excluded.sealed_refresh_token, valid_until = excluded.valid_until, \
             updated_at = excluded.updated_at";
        on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            refresh_external!(tx, user.0, said.email, said.full_name, said.is_admin, now);
            sync_groups!(tx, user.0, AuthSource::Oidc, said.groups, now);
            sqlx::query(SQL)
                .bind(user.0)
                .bind(&tokens.sealed_refresh_token)
                .bind(tokens.valid_until)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        }.await)?;
        Ok(())
    }
}

/// What an identity provider says of an account at a sign-in or refresh.
pub struct ProviderSaid<'a> {
    pub email: Option<&'a str>,
    pub full_name: &'a str,
    pub is_admin: bool,
    pub groups: &'a [String],
}
