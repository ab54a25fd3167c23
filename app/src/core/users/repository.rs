//! All SQL touching the `users` table.

use chrono::{DateTime, Utc};

use crate::core::identity::{AuthSource, User, UserId, Username};
use crate::{
    core::{
        Error, Result,
        db::{Counted, Db, Page, Window, begin_writing, like_contains},
        events::{AuditEvent, audited_transaction},
    },
    on_db,
};

/// The columns of [`USER_COLUMNS`]; other repositories that join `users` read into it too.
#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: i64,
    username: String,
    email: Option<String>,
    full_name: String,
    is_admin: bool,
    created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = Error;

    fn try_from(row: UserRow) -> Result<Self> {
        // Stored names were validated on the way in; a bad one means the row was
        // written by something else, which is worth failing loudly on.
        let username = Username::parse(&row.username)
            .map_err(|message| Error::corrupt(format!("stored username {:?} {message}", row.username)))?;
        Ok(User {
            id: UserId(row.id),
            username,
            email: row.email,
            full_name: row.full_name,
            is_admin: row.is_admin,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct CredentialRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: Option<String>,
    auth_source: String,
    external_id: Option<String>,
}

/// Everything needed to check a password for a user.
pub struct UserCredentials {
    pub user: User,
    /// `None` for accounts that cannot sign in with a local password.
    pub password_hash: Option<String>,
    pub auth_source: AuthSource,
    /// The LDAP DN, or the OIDC issuer and subject.
    pub external_id: Option<String>,
}

/// Inside the transaction `$tx`: refreshes what an external identity says
/// of the existing account `$id` (its username stays as it was created).
/// Written once for both databases, and for the OIDC sign-in, which
/// stores the provider's tokens in the same transaction.
macro_rules! refresh_external {
    ($tx:ident, $id:expr, $email:expr, $full_name:expr, $is_admin:expr, $now:expr) => {
        sqlx::query("UPDATE users SET email = $1, full_name = $2, is_admin = $3, updated_at = $4 WHERE id = $5")
            .bind($email)
            .bind($full_name)
            .bind($is_admin)
            .bind($now)
            .bind($id)
            .execute(&mut *$tx)
            .await?;
    };
}
pub(crate) use refresh_external;

/// Inside the transaction `$tx`: makes the user `$user` (an id) a member of
/// exactly the groups `$groups` of the source `$kind` (creating groups not
/// seen before). Groups are keyed by their external id (the LDAP DN, the
/// OIDC group name), which is also their name.
macro_rules! sync_groups {
    ($tx:ident, $user:expr, $kind:expr, $groups:expr, $now:expr) => {
        const GROUP: &str = "INSERT INTO user_groups (kind, name, external_id, created_at) VALUES ($1, $2, $2, $3) \
             ON CONFLICT (kind, name) DO UPDATE SET external_id = excluded.external_id RETURNING id";
        const FORGET: &str = "DELETE FROM user_group_memberships WHERE user_id = $1 \
             AND group_id IN (SELECT id FROM user_groups WHERE kind = $2)";
        const JOIN: &str =
            "INSERT INTO user_group_memberships (user_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";
        sqlx::query(FORGET).bind($user).bind($kind.as_str()).execute(&mut *$tx).await?;
        for external_id in $groups {
            let group: i64 = sqlx::query_scalar(GROUP)
                .bind($kind.as_str())
                .bind(external_id)
                .bind($now)
                .fetch_one(&mut *$tx)
                .await?;
            sqlx::query(JOIN).bind($user).bind(group).execute(&mut *$tx).await?;
        }
    };
}
pub(crate) use sync_groups;

/// An account as a directory or identity provider describes it.
pub struct ExternalUser<'a> {
    pub username: &'a Username,
    pub email: Option<&'a str>,
    pub full_name: &'a str,
    pub is_admin: bool,
    /// `ldap` or `oidc`.
    pub source: AuthSource,
    /// The LDAP DN, or the OIDC issuer and subject.
    pub external_id: &'a str,
}

/// A group from a directory (LDAP, named by its DN) or an identity
/// provider (OIDC, named as its groups claim names it).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Group {
    pub id: i64,
    #[sqlx(try_from = "String")]
    pub kind: AuthSource,
    pub name: String,
}

/// What a new account is created with.
pub struct NewUser<'a> {
    pub username: &'a Username,
    pub email: Option<&'a str>,
    pub full_name: &'a str,
    pub password_hash: Option<&'a str>,
    pub is_admin: bool,
}

pub(crate) const USER_COLUMNS: &str = "id, username, email, full_name, is_admin, created_at";

#[derive(Clone, Debug)]
pub struct UserRepository {
    db: Db,
}

impl UserRepository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn find(&self, id: UserId) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row = on_db!(&self.db, pool => {
            sqlx::query_as::<_, UserRow>(&sql).bind(id.0).fetch_optional(pool).await
        })?;
        row.map(User::try_from).transpose()
    }

    pub async fn find_credentials(&self, username: &Username) -> Result<Option<UserCredentials>> {
        let sql =
            format!("SELECT {USER_COLUMNS}, password_hash, auth_source, external_id FROM users WHERE username = $1");
        let row = on_db!(&self.db, pool => {
            sqlx::query_as::<_, CredentialRow>(&sql).bind(username.as_str()).fetch_optional(pool).await
        })?;
        row.map(|row| {
            Ok(UserCredentials {
                user: User::try_from(row.user)?,
                password_hash: row.password_hash,
                auth_source: AuthSource::try_from(row.auth_source)?,
                external_id: row.external_id,
            })
        })
        .transpose()
    }

    /// Creates the account unless one with that username exists; returns the
    /// new id, or `None` when the name was taken (by a concurrent node too).
    /// Creates the account, with the audit row `event` when it is created.
    pub async fn create_if_absent(
        &self,
        new: NewUser<'_>,
        now: DateTime<Utc>,
        event: &AuditEvent,
    ) -> Result<Option<UserId>> {
        const SQL: &str = "INSERT INTO users (username, email, full_name, password_hash, is_admin, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (username) DO NOTHING RETURNING id";
        let id: Option<i64> = audited_transaction!(&self.db, event, |tx| {
            sqlx::query_scalar(SQL)
                .bind(new.username.as_str())
                .bind(new.email)
                .bind(new.full_name)
                .bind(new.password_hash)
                .bind(new.is_admin)
                .bind(now)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?
        }, if |id: &Option<i64>| id.is_some())?;
        Ok(id.map(UserId))
    }

    /// Creates or refreshes an account that signs in elsewhere, with its
    /// memberships of exactly `groups`, on each sign-in, in one transaction;
    /// `None` (and nothing written) when the username belongs to an account
    /// of another source (a database account is never taken over).
    pub async fn upsert_external(
        &self,
        user: ExternalUser<'_>,
        groups: &[String],
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>> {
        const SQL: &str = "INSERT INTO users (username, email, full_name, password_hash, is_admin, auth_source, external_id, created_at, updated_at) \
             VALUES ($1, $2, $3, NULL, $4, $5, $6, $7, $7) \
             ON CONFLICT (username) DO UPDATE SET email = excluded.email, full_name = excluded.full_name, \
             is_admin = excluded.is_admin, external_id = excluded.external_id, updated_at = excluded.updated_at \
             WHERE users.auth_source = excluded.auth_source RETURNING id";
        let id: Option<i64> = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            let id: Option<i64> = sqlx::query_scalar(SQL)
                .bind(user.username.as_str())
                .bind(user.email)
                .bind(user.full_name)
                .bind(user.is_admin)
                .bind(user.source.as_str())
                .bind(user.external_id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(id) = id {
                sync_groups!(tx, id, user.source, groups, now);
                tx.commit().await?;
            }
            Ok::<_, sqlx::Error>(id)
        }.await)?;
        Ok(id.map(UserId))
    }

    /// The account of `source` with this external id (an OIDC identity is
    /// its issuer and subject, whatever username it now goes by).
    pub async fn find_external(&self, source: AuthSource, external_id: &str) -> Result<Option<UserId>> {
        let id: Option<i64> = on_db!(&self.db, pool => {
            sqlx::query_scalar("SELECT id FROM users WHERE auth_source = $1 AND external_id = $2")
                .bind(source.as_str())
                .bind(external_id)
                .fetch_optional(pool)
                .await
        })?;
        Ok(id.map(UserId))
    }

    /// Creates an account for an external identity; `None` when the username
    /// (or the identity) is taken, by a concurrent first sign-in too.
    pub async fn insert_external(&self, user: ExternalUser<'_>, now: DateTime<Utc>) -> Result<Option<UserId>> {
        const SQL: &str = "INSERT INTO users (username, email, full_name, password_hash, is_admin, auth_source, external_id, created_at, updated_at) \
             VALUES ($1, $2, $3, NULL, $4, $5, $6, $7, $7) ON CONFLICT DO NOTHING RETURNING id";
        let id: Option<i64> = on_db!(&self.db, pool => {
            sqlx::query_scalar(SQL)
                .bind(user.username.as_str())
                .bind(user.email)
                .bind(user.full_name)
                .bind(user.is_admin)
                .bind(user.source.as_str())
                .bind(user.external_id)
                .bind(now)
                .fetch_optional(pool)
                .await
        })?;
        Ok(id.map(UserId))
    }

    /// A page of groups in name order (names containing `contains`), and how many match.
    pub async fn list_groups(&self, contains: Option<&str>, window: Window) -> Result<Page<Group>> {
        let pattern = contains.map(|needle| like_contains(&needle.to_lowercase()));
        const FILTER: &str = "($1 IS NULL OR lower(name) LIKE $1 ESCAPE '\\')";
        let page = format!(
            "SELECT id, kind, name, COUNT(*) OVER () AS total FROM user_groups WHERE {FILTER} \
             ORDER BY name, id LIMIT $2 OFFSET $3"
        );
        let count = format!("SELECT COUNT(*) FROM user_groups WHERE {FILTER}");
        let (limit, offset) = window.sql();
        on_db!(&self.db, pool => async {
            let rows: Vec<Counted<Group>> =
                sqlx::query_as(&page).bind(&pattern).bind(limit).bind(offset).fetch_all(pool).await?;
            window.page(rows, sqlx::query_scalar(&count).bind(&pattern).fetch_one(pool), Ok).await
        }.await)
    }

    pub async fn find_group(&self, id: i64) -> Result<Option<Group>> {
        let group = on_db!(&self.db, pool => {
            sqlx::query_as::<_, Group>("SELECT id, kind, name FROM user_groups WHERE id = $1").bind(id).fetch_optional(pool).await
        })?;
        Ok(group)
    }

    /// Deletes a group; its memberships and project memberships go with it.
    pub async fn delete_group(&self, id: i64, event: &AuditEvent) -> Result<bool> {
        const SQL: &str = "DELETE FROM user_groups WHERE id = $1";
        Ok(audited_transaction!(&self.db, event, |tx| {
            sqlx::query(SQL).bind(id).execute(&mut *tx).await?.rows_affected() == 1
        }, if |deleted: &bool| *deleted)?)
    }

    /// The id of the group of `kind` with this external id, creating it.
    pub async fn ensure_group(&self, kind: AuthSource, external_id: &str, now: DateTime<Utc>) -> Result<i64> {
        const SQL: &str = "INSERT INTO user_groups (kind, name, external_id, created_at) VALUES ($1, $2, $2, $3) \
             ON CONFLICT (kind, name) DO UPDATE SET external_id = excluded.external_id RETURNING id";
        let id: i64 = on_db!(&self.db, pool => {
            sqlx::query_scalar(SQL).bind(kind.as_str()).bind(external_id).bind(now).fetch_one(pool).await
        })?;
        Ok(id)
    }

    /// An administrator's group of `kind` named `external_id`: created with
    /// the audit row `event`, or the id of the one already there (no row).
    pub async fn add_group(
        &self,
        kind: AuthSource,
        external_id: &str,
        now: DateTime<Utc>,
        event: &AuditEvent,
    ) -> Result<i64> {
        const INSERT: &str = "INSERT INTO user_groups (kind, name, external_id, created_at) VALUES ($1, $2, $2, $3) \
             ON CONFLICT (kind, name) DO NOTHING RETURNING id";
        const FIND: &str = "SELECT id FROM user_groups WHERE kind = $1 AND name = $2";
        let created: Option<i64> = audited_transaction!(&self.db, event, |tx| {
            sqlx::query_scalar(INSERT).bind(kind.as_str()).bind(external_id).bind(now).fetch_optional(&mut *tx).await?
        }, if |id: &Option<i64>| id.is_some())?;
        if let Some(id) = created {
            return Ok(id);
        }
        Ok(on_db!(&self.db, pool => {
            sqlx::query_scalar(FIND).bind(kind.as_str()).bind(external_id).fetch_one(pool).await
        })?)
    }

    /// How many accounts sign in each way (`database`, `ldap`, `oidc`).
    pub async fn count_by_source(&self) -> Result<Vec<(String, i64)>> {
        const SQL: &str = "SELECT auth_source, COUNT(*) FROM users GROUP BY auth_source ORDER BY auth_source";
        Ok(on_db!(&self.db, pool => sqlx::query_as(SQL).fetch_all(pool).await)?)
    }

    /// A page of accounts in username order (names containing `contains`),
    /// and how many match in all.
    pub async fn list(&self, contains: Option<&str>, window: Window) -> Result<Page<User>> {
        // Escaped for LIKE; matched case-insensitively on both databases.
        let pattern = contains.map(|needle| like_contains(&needle.to_lowercase()));
        const FILTER: &str = "($1 IS NULL OR lower(username) LIKE $1 ESCAPE '\\')";
        let page = format!(
            "SELECT {USER_COLUMNS}, COUNT(*) OVER () AS total FROM users WHERE {FILTER} \
             ORDER BY username LIMIT $2 OFFSET $3"
        );
        let count = format!("SELECT COUNT(*) FROM users WHERE {FILTER}");
        let (limit, offset) = window.sql();
        on_db!(&self.db, pool => async {
            let rows: Vec<Counted<UserRow>> =
                sqlx::query_as(&page).bind(&pattern).bind(limit).bind(offset).fetch_all(pool).await?;
            window.page(rows, sqlx::query_scalar(&count).bind(&pattern).fetch_one(pool), User::try_from).await
        }.await)
    }

    pub async fn set_admin(&self, id: UserId, is_admin: bool, now: DateTime<Utc>, event: &AuditEvent) -> Result<()> {
        const SQL: &str = "UPDATE users SET is_admin = $1, updated_at = $2 WHERE id = $3";
        audited_transaction!(&self.db, event, |tx| {
            sqlx::query(SQL).bind(is_admin).bind(now).bind(id.0).execute(&mut *tx).await?.rows_affected() == 1
        }, if |updated: &bool| *updated)?;
        Ok(())
    }

    pub async fn update_profile(
        &self,
        id: UserId,
        email: Option<&str>,
        full_name: &str,
        now: DateTime<Utc>,
        event: &AuditEvent,
    ) -> Result<()> {
        const SQL: &str = "UPDATE users SET email = $1, full_name = $2, updated_at = $3 WHERE id = $4";
        audited_transaction!(&self.db, event, |tx| {
            sqlx::query(SQL).bind(email).bind(full_name).bind(now).bind(id.0).execute(&mut *tx).await?.rows_affected()
                == 1
        }, if |updated: &bool| *updated)?;
        Ok(())
    }

    /// Deletes the account; its sessions, memberships and secrets go with it.
    pub async fn delete(&self, id: UserId, event: &AuditEvent) -> Result<bool> {
        const SQL: &str = "DELETE FROM users WHERE id = $1";
        Ok(audited_transaction!(&self.db, event, |tx| {
            sqlx::query(SQL).bind(id.0).execute(&mut *tx).await?.rows_affected() == 1
        }, if |deleted: &bool| *deleted)?)
    }

    /// Sets the password hash and, with `end_sessions`, ends the account's
    /// portal sessions, with the audit row `event`, in one transaction.
    /// With `replacing`, only while the stored hash is still that one (the
    /// one a current-password check was made against). False when nothing
    /// changed: the account is gone, or its password changed meanwhile.
    pub async fn set_password_hash(
        &self,
        id: UserId,
        hash: &str,
        replacing: Option<&str>,
        now: DateTime<Utc>,
        end_sessions: bool,
        event: &AuditEvent,
    ) -> Result<bool> {
        const SQL: &str = "UPDATE users SET password_hash = $1, updated_at = $2 \
             WHERE id = $3 AND ($4 IS NULL OR password_hash = $4)";
        const END_SESSIONS: &str = "DELETE FROM sessions WHERE user_id = $1";
        let updated = audited_transaction!(&self.db, event, |tx| {
            let updated = sqlx::query(SQL).bind(hash).bind(now).bind(id.0).bind(replacing)
                .execute(&mut *tx).await?.rows_affected() == 1;
            if updated && end_sessions {
                sqlx::query(END_SESSIONS).bind(id.0).execute(&mut *tx).await?;
            }
            updated
        }, if |updated: &bool| *updated)?;
        Ok(updated)
    }
}
