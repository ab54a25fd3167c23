//! All SQL touching replication's registries and policies: the registries'
//! here, the policies' in [`policies`], which answers with the same
//! [`Refused`]. Every change commits with its audit row.

use chrono::{DateTime, Utc};

use super::endpoints::{Endpoint, EndpointId, Health, RegistryKind};
use crate::{
    core::{
        Result,
        db::{Counted, Db, Page, Window, begin_writing, like_contains},
        events::{AuditEvent, audited_transaction, write_audit_row},
    },
    on_db,
};

mod policies;

pub use policies::FirstTick;

const COLUMNS: &str = "id, name, kind, url, access_key, sealed_secret IS NOT NULL AS has_secret, insecure, \
     description, status, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: i64,
    name: String,
    kind: String,
    url: String,
    access_key: Option<String>,
    has_secret: bool,
    insecure: bool,
    description: String,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl EndpointRow {
    fn read(self) -> Result<Endpoint> {
        Ok(Endpoint {
            id: EndpointId(self.id),
            name: self.name,
            kind: RegistryKind::parse(&self.kind)
                .map_err(|_| crate::core::Error::corrupt(format!("registry type {:?}", self.kind)))?,
            url: self.url,
            access_key: self.access_key,
            has_secret: self.has_secret,
            insecure: self.insecure,
            description: self.description,
            status: Health::parse(&self.status)?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A registry's row as written: the secret already sealed.
pub struct EndpointRecord<'a> {
    pub name: &'a str,
    pub kind: RegistryKind,
    pub url: &'a str,
    pub access_key: Option<&'a str>,
    pub sealed_secret: Option<&'a [u8]>,
    pub insecure: bool,
    pub description: &'a str,
    pub status: Health,
}

/// Why a registry or policy write changed nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    NameTaken,
    Gone,
    /// A policy replicates to or from it.
    InUse,
    /// The registry a policy names was deleted meanwhile.
    RegistryGone,
    /// The policy has an execution pending or running.
    Running,
}

#[derive(Clone, Debug)]
pub struct ReplicationRepository {
    db: Db,
}

impl ReplicationRepository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Registries in name order (names containing `contains`), paged.
    pub async fn list_endpoints(&self, contains: Option<&str>, window: Window) -> Result<Page<Endpoint>> {
        let pattern = contains.map(|needle| like_contains(&needle.to_lowercase()));
        const FILTER: &str = "($1 IS NULL OR lower(name) LIKE $1 ESCAPE '\\')";
        let page = format!(
            "SELECT {COLUMNS}, COUNT(*) OVER () AS total FROM replication_registries WHERE {FILTER} \
             ORDER BY name, id LIMIT $2 OFFSET $3"
        );
        let count = format!("SELECT COUNT(*) FROM replication_registries WHERE {FILTER}");
        let (limit, offset) = window.sql();
        on_db!(&self.db, pool => async {
            let rows: Vec<Counted<EndpointRow>> =
                sqlx::query_as(&page).bind(&pattern).bind(limit).bind(offset).fetch_all(pool).await?;
            window.page(rows, sqlx::query_scalar(&count).bind(&pattern).fetch_one(pool), EndpointRow::read).await
        }.await)
    }

    pub async fn find_endpoint(&self, id: EndpointId) -> Result<Option<Endpoint>> {
        let sql = format!("SELECT {COLUMNS} FROM replication_registries WHERE id = $1");
        let row = on_db!(&self.db, pool => sqlx::query_as::<_, EndpointRow>(&sql).bind(id).fetch_optional(pool).await)?;
        row.map(EndpointRow::read).transpose()
    }

    /// The sealed secret of a registry, for sending it to that registry.
    pub async fn sealed_secret(&self, id: EndpointId) -> Result<Option<Vec<u8>>> {
        const SQL: &str = "SELECT sealed_secret FROM replication_registries WHERE id = $1";
        let sealed: Option<Option<Vec<u8>>> =
            on_db!(&self.db, pool => sqlx::query_scalar(SQL).bind(id).fetch_optional(pool).await)?;
        Ok(sealed.flatten())
    }

    /// Stores a registry and its audit row in one transaction.
    pub async fn create_endpoint(
        &self,
        record: &EndpointRecord<'_>,
        now: DateTime<Utc>,
        event: &AuditEvent,
    ) -> Result<std::result::Result<EndpointId, Refused>> {
        const SQL: &str = "INSERT INTO replication_registries \
             (name, kind, url, access_key, sealed_secret, insecure, description, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT (name) DO NOTHING RETURNING id";
        let id: Option<i64> = audited_transaction!(&self.db, event, |tx| {
            sqlx::query_scalar(SQL)
                .bind(record.name)
                .bind(record.kind.as_str())
                .bind(record.url)
                .bind(record.access_key)
                .bind(record.sealed_secret)
                .bind(record.insecure)
                .bind(record.description)
                .bind(record.status.as_str())
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?
        }, if |id: &Option<i64>| id.is_some())?;
        Ok(id.map(EndpointId).ok_or(Refused::NameTaken))
    }

    /// Replaces a registry's row (all of it: the caller merged the changes)
    /// and writes the audit row, in one transaction.
    pub async fn update_endpoint(
        &self,
        id: EndpointId,
        record: &EndpointRecord<'_>,
        now: DateTime<Utc>,
        event: &AuditEvent,
    ) -> Result<std::result::Result<(), Refused>> {
        const SQL: &str = "UPDATE replication_registries SET name = $1, kind = $2, url = $3, access_key = $4, \
             sealed_secret = $5, insecure = $6, description = $7, status = $8, updated_at = $9 WHERE id = $10";
        let written = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            let updated = sqlx::query(SQL)
                .bind(record.name)
                .bind(record.kind.as_str())
                .bind(record.url)
                .bind(record.access_key)
                .bind(record.sealed_secret)
                .bind(record.insecure)
                .bind(record.description)
                .bind(record.status.as_str())
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await;
            match updated {
                Ok(done) if done.rows_affected() == 0 => return Ok(Err(Refused::Gone)),
                Ok(_) => {}
                Err(sqlx::Error::Database(error)) if error.is_unique_violation() => return Ok(Err(Refused::NameTaken)),
                Err(other) => return Err(other),
            }
            write_audit_row!(tx, event)?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Ok(()))
        }.await)?;
        Ok(written)
    }

    /// Records what the last check of a registry found.
    pub async fn set_health(&self, id: EndpointId, health: Health) -> Result<()> {
        const SQL: &str = "UPDATE replication_registries SET status = $1 WHERE id = $2";
        on_db!(&self.db, pool => sqlx::query(SQL).bind(health.as_str()).bind(id).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Deletes a registry no policy uses, with its audit row; the check and
    /// the delete are one statement, so a policy made meanwhile keeps it.
    pub async fn delete_endpoint(
        &self,
        id: EndpointId,
        event: &AuditEvent,
    ) -> Result<std::result::Result<(), Refused>> {
        const IN_USE: &str = "SELECT EXISTS (SELECT 1 FROM replication_policies \
             WHERE source_registry_id = $1 OR destination_registry_id = $1)";
        const SQL: &str = "DELETE FROM replication_registries WHERE id = $1 AND NOT EXISTS \
             (SELECT 1 FROM replication_policies p WHERE p.source_registry_id = $1 OR p.destination_registry_id = $1)";
        let written = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            let deleted = sqlx::query(SQL).bind(id).execute(&mut *tx).await;
            let deleted = match deleted {
                Ok(done) => done.rows_affected() == 1,
                // A policy inserted concurrently holds the row (foreign key).
                Err(sqlx::Error::Database(error)) if error.is_foreign_key_violation() => return Ok(Err(Refused::InUse)),
                Err(other) => return Err(other),
            };
            if !deleted {
                let in_use: bool = sqlx::query_scalar(IN_USE).bind(id).fetch_one(&mut *tx).await?;
                return Ok(Err(if in_use { Refused::InUse } else { Refused::Gone }));
            }
            write_audit_row!(tx, event)?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Ok(()))
        }.await)?;
        Ok(written)
    }
}
