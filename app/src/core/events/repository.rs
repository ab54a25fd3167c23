//! All SQL touching the audit log.

use chrono::{DateTime, Utc};

use super::{AuditEvent, Operation, insert_audit_rows};
use crate::{
    core::{
        Result,
        db::{Counted, Db, Keyset, Page, TimeCursor, Window, begin_writing},
    },
    on_db,
};

/// An entry as read back.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredEvent {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor: Option<String>,
    pub client_addr: Option<String>,
    pub operation: String,
    pub resource_type: String,
    pub resource: String,
    pub project: Option<String>,
    pub digest: Option<String>,
    pub tag: Option<String>,
    pub media_type: Option<String>,
    pub size: Option<i64>,
    pub outcome: String,
    pub detail: Option<String>,
}

/// Filters for reading the log; `None` matches everything.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery<'a> {
    pub actor: Option<&'a str>,
    pub project: Option<&'a str>,
    pub operation: Option<&'a str>,
    pub resource_type: Option<&'a str>,
    /// Only entries about this resource (e.g. a repository, `team/app`, and its artifacts).
    pub resource_prefix: Option<&'a str>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, occurred_at, actor, client_addr, operation, resource_type, resource, project, \
     digest, tag, media_type, size, outcome, detail";

/// $1 actor, $2 project (the one of that name now: entries are kept by
/// project id, so a namesake's entries stay hidden; for a name no project
/// has now, the entries that named it, which only administrators read),
/// $3 operation, $4 resource type, $5 resource prefix, $6 since, $7 until.
const FILTER: &str = "($1 IS NULL OR actor = $1) AND ($2 IS NULL OR project_id = (SELECT id FROM projects WHERE name = $2) \
          OR (project = $2 AND NOT EXISTS (SELECT 1 FROM projects WHERE name = $2))) AND ($3 IS NULL OR operation = $3) \
     AND ($4 IS NULL OR resource_type = $4) AND ($5 IS NULL OR substr(resource, 1, length($5)) = $5) \
     AND ($6 IS NULL OR occurred_at >= $6) AND ($7 IS NULL OR occurred_at < $7)";

/// A query with an [`AuditQuery`]'s filters bound as `$1`..`$7` ([`FILTER`]'s parameters).
macro_rules! filtered {
    ($sql:expr, $query:expr) => {
        $sql.bind($query.actor)
            .bind($query.project)
            .bind($query.operation)
            .bind($query.resource_type)
            .bind($query.resource_prefix)
            .bind($query.since)
            .bind($query.until)
    };
}

/// How stale a stored last pull time may get before a pull rewrites it.
pub const PULL_TIME_RESOLUTION: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

#[derive(Clone, Debug)]
pub struct EventRepository {
    db: Db,
}

impl EventRepository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Sets the last pull time of each `(repository, digest, at)`, unless
    /// the stored one is less than [`PULL_TIME_RESOLUTION`] older: a busy
    /// artifact costs one write a minute, not one per pull.
    pub async fn record_pulls(&self, pulls: &[(&str, &str, DateTime<Utc>)]) -> Result<()> {
        const SQL: &str = "UPDATE manifests SET pulled_at = $1 \
             WHERE repository_id = (SELECT id FROM repositories WHERE name = $2) AND digest = $3 \
             AND (pulled_at IS NULL OR pulled_at < $4)";
        if pulls.is_empty() {
            return Ok(());
        }
        on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            for (repository, digest, at) in pulls {
                sqlx::query(SQL)
                    .bind(at)
                    .bind(repository)
                    .bind(digest)
                    .bind(*at - PULL_TIME_RESOLUTION)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        }.await)?;
        Ok(())
    }

    pub async fn insert_batch(&self, events: Vec<AuditEvent>) -> Result<()> {
        // One transaction for the macro's statements; it reads the projects
        // before it writes.
        on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            insert_audit_rows!(&mut *tx, events)?;
            tx.commit().await
        }.await)?;
        Ok(())
    }

    /// A page of matching entries, newest first, and the number matching in all.
    pub async fn list(&self, query: &AuditQuery<'_>, window: Window) -> Result<Page<StoredEvent>> {
        let page = format!(
            "SELECT {COLUMNS}, COUNT(*) OVER () AS total FROM audit_log WHERE {FILTER} \
             ORDER BY occurred_at DESC, id DESC LIMIT $8 OFFSET $9"
        );
        let count = format!("SELECT COUNT(*) FROM audit_log WHERE {FILTER}");
        let (limit, offset) = window.sql();
        on_db!(&self.db, pool => async {
            let rows: Vec<Counted<StoredEvent>> = filtered!(sqlx::query_as(&page), query)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
            let count = filtered!(sqlx::query_scalar(&count), query)
                .fetch_one(pool);
            window.page(rows, count, Ok).await
        }.await)
    }

    /// A page of matching entries read by keyset on (time, id), newest first.
    pub async fn page_by_keyset(
        &self,
        query: &AuditQuery<'_>,
        keyset: &Keyset<TimeCursor>,
        limit: u32,
    ) -> Result<Page<StoredEvent>> {
        let (cmp, order) = if keyset.is_backwards() { (">", "ASC") } else { ("<", "DESC") };
        let page = format!(
            "SELECT {COLUMNS} FROM audit_log WHERE {FILTER} \
             AND ($8 IS NULL OR occurred_at {cmp} $8 OR (occurred_at = $8 AND id {cmp} $9)) \
             ORDER BY occurred_at {order}, id {order} LIMIT $10"
        );
        let count = format!("SELECT COUNT(*) FROM audit_log WHERE {FILTER}");
        let cursor = keyset.bounds().0.or(keyset.bounds().1);
        let (rows, total) = on_db!(&self.db, pool => async {
            let rows = filtered!(sqlx::query_as::<_, StoredEvent>(&page), query)
                .bind(cursor.map(|c| c.at))
                .bind(cursor.map(|c| c.id))
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await?;
            let total: i64 = filtered!(sqlx::query_scalar(&count), query)
                .fetch_one(pool)
                .await?;
            Ok::<_, sqlx::Error>((rows, total))
        }.await)?;
        Ok(keyset.page(rows, limit as usize, total))
    }

    pub async fn count(&self, query: &AuditQuery<'_>) -> Result<i64> {
        let count = format!("SELECT COUNT(*) FROM audit_log WHERE {FILTER}");
        let total = on_db!(&self.db, pool => {
            filtered!(sqlx::query_scalar(&count), query)
                .fetch_one(pool)
                .await
        })?;
        Ok(total)
    }

    /// Up to `limit` matching entries after `cursor`, newest first, uncounted.
    pub async fn batch_after(
        &self,
        query: &AuditQuery<'_>,
        cursor: Option<&TimeCursor>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>> {
        let batch = format!(
            "SELECT {COLUMNS} FROM audit_log WHERE {FILTER} \
             AND ($8 IS NULL OR occurred_at < $8 OR (occurred_at = $8 AND id < $9)) \
             ORDER BY occurred_at DESC, id DESC LIMIT $10"
        );
        let rows = on_db!(&self.db, pool => {
            filtered!(sqlx::query_as::<_, StoredEvent>(&batch), query)
                .bind(cursor.map(|c| c.at))
                .bind(cursor.map(|c| c.id))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
        })?;
        Ok(rows)
    }

    /// Deletes entries older than `cutoff` (only those of `operations`,
    /// when any are named); with `dry_run`, only counts them. How many.
    pub async fn purge_before(&self, cutoff: DateTime<Utc>, operations: &[Operation], dry_run: bool) -> Result<u64> {
        let only = if operations.is_empty() {
            String::new()
        } else {
            let placeholders: Vec<String> = (2..2 + operations.len()).map(|n| format!("${n}")).collect();
            format!(" AND operation IN ({})", placeholders.join(", "))
        };
        let verb = if dry_run { "SELECT COUNT(*)" } else { "DELETE" };
        let sql = format!("{verb} FROM audit_log WHERE occurred_at < $1{only}");
        let count = on_db!(&self.db, pool => async {
            if dry_run {
                let mut query = sqlx::query_scalar::<_, i64>(&sql).bind(cutoff);
                for operation in operations {
                    query = query.bind(operation.as_str());
                }
                return query.fetch_one(pool).await.map(|n| n.max(0) as u64);
            }
            let mut query = sqlx::query(&sql).bind(cutoff);
            for operation in operations {
                query = query.bind(operation.as_str());
            }
            query.execute(pool).await.map(|done| done.rows_affected())
        }.await)?;
        Ok(count)
    }
}
