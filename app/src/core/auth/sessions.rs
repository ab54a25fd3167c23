//! All SQL touching the `sessions` table. Sessions are looked up by the
//! SHA-256 of the cookie value, never by the value itself.

use chrono::{DateTime, Utc};

use crate::{
    core::{
        Result,
        db::Db,
        identity::{User, UserId},
        users::UserRow,
    },
    on_db,
};

#[derive(Clone, Debug)]
pub struct SessionRepository {
    db: Db,
}

pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub client_addr: Option<&'a str>,
}

impl SessionRepository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn create(&self, session: NewSession<'_>) -> Result<()> {
        const SQL: &str = "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, client_addr) \
             VALUES ($1, $2, $3, $4, $5)";
        on_db!(&self.db, pool => {
            sqlx::query(SQL)
                .bind(session.token_hash)
                .bind(session.user_id)
                .bind(session.created_at)
                .bind(session.expires_at)
                .bind(session.client_addr)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(())
    }

    /// The user behind an unexpired session, in one query.
    pub async fn find_user(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<User>> {
        const SQL: &str = "SELECT u.id, u.username, u.email, u.full_name, u.is_admin, u.created_at \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2";
        let row = on_db!(&self.db, pool => {
            sqlx::query_as::<_, UserRow>(SQL).bind(token_hash).bind(now).fetch_optional(pool).await
        })?;
        row.map(User::try_from).transpose()
    }

    pub async fn delete(&self, token_hash: &str) -> Result<()> {
        on_db!(&self.db, pool => {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(pool).await.map(|done| done.rows_affected())
        })?;
        Ok(())
    }

    pub async fn delete_expired(&self, now: DateTime<Utc>) -> Result<u64> {
        let done = on_db!(&self.db, pool => {
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(pool).await.map(|r| r.rows_affected())
        })?;
        Ok(done)
    }
}
