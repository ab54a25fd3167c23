//! All SQL touching the audit log.

use chrono::{DateTime, Utc};

use super::{AuditEvent, Operation};
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

/// One audit row; `$14`, the project's id, is that of the project named `$7` now.
pub(crate) const INSERT_ONE: &str = "INSERT INTO audit_log (occurred_at, actor, client_addr, operation, resource_type, \
     resource, project, digest, tag, media_type, size, outcome, detail, project_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, (SELECT id FROM projects WHERE name = $7))";

/// Inside transaction `$tx` (either database): writes the audit row of
/// `$event` (an `&AuditEvent`), so it commits or rolls back with the change
/// it records. Evaluates to `sqlx::Result<()>`.
macro_rules! write_audit_row {
    ($tx:ident, $event:expr) => {{
        let event = $crate::core::events::AuditEvent::bounded(::std::clone::Clone::clone($event));
        sqlx::query($crate::core::events::repository::INSERT_ONE)
            .bind(event.occurred_at)
            .bind(event.actor)
            .bind(event.client_addr)
            .bind(event.operation.as_str())
            .bind(event.resource_type.as_str())
            .bind(event.resource)
            .bind(event.project)
            .bind(event.digest)
            .bind(event.tag)
            .bind(event.media_type)
            .bind(event.size)
            .bind(if event.succeeded { "success" } else { "failure" })
            .bind(event.detail)
            .execute(&mut *$tx)
            .await
            .map(|_| ())
    }};
}
pub(crate) use write_audit_row;

/// The row counts of the INSERT statements [`insert_audit_rows`] writes
/// with, largest first: a batch is written as full statements of the
/// largest and its rest in powers of two. The statement text is built once
/// and each shape is prepared once per connection; an INSERT shaped to each
/// batch was built, parsed and planned anew (and crowded the connection's
/// statement cache) whenever the batch size changed.
const INSERT_SHAPES: [usize; 8] = [128, 64, 32, 16, 8, 4, 2, 1];

/// The INSERT statement of each of [`INSERT_SHAPES`], in the same order,
/// with PostgreSQL's numbered parameters or SQLite's anonymous ones: SQLite
/// looks a numbered parameter's name up by walking a list, once per
/// parameter bound, which made a 128-row statement's binding quadratic.
static INSERT_SQL: std::sync::LazyLock<[Vec<String>; 2]> = std::sync::LazyLock::new(|| {
    let statements = |parameter: fn(usize) -> String| {
        INSERT_SHAPES
            .iter()
            .map(|&rows| {
                let values = (0..rows)
                    .map(|row| {
                        let first = row * AUDIT_COLUMNS + 1;
                        let row = (first..first + AUDIT_COLUMNS).map(parameter).collect::<Vec<_>>().join(", ");
                        format!("({row})")
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "INSERT INTO audit_log (occurred_at, actor, client_addr, operation, resource_type, resource, \
                     project, digest, tag, media_type, size, outcome, detail, project_id) VALUES {values}"
                )
            })
            .collect()
    };
    [statements(|n| format!("${n}")), statements(|_| "?".to_owned())]
});

/// Parameters of one row of [`INSERT_SQL`].
const AUDIT_COLUMNS: usize = 14;

/// The next INSERT statement for `remaining` rows, on `DB`, and how many
/// rows it takes.
pub(crate) fn insert_statement<'q, DB: sqlx::Database>(
    remaining: usize,
) -> (sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>, usize) {
    let shape = INSERT_SHAPES.iter().position(|&rows| rows <= remaining).unwrap_or(INSERT_SHAPES.len() - 1);
    let anonymous = usize::from(DB::NAME != "PostgreSQL");
    (sqlx::query(&INSERT_SQL[anonymous][shape]), INSERT_SHAPES[shape])
}

/// Writes `$events` (a `Vec` of [`AuditEvent`]) on `$executor`, after one
/// SELECT there for the projects they name, in as few INSERT statements of
/// [`INSERT_SHAPES`] as add up to their number. `$executor` is named more
/// than once: a connection (`&mut *conn`) inside a transaction the caller
/// begins, or `&mut *tx`, so the rows commit together and with the change
/// they record. Evaluates to `sqlx::Result<()>`.
macro_rules! insert_audit_rows {
    ($executor:expr, $events:expr) => {
        async {
            use $crate::core::events::AuditEvent;
            let events: ::std::vec::Vec<AuditEvent> = $events.into_iter().map(AuditEvent::bounded).collect();
            // The projects of those names when the entries are written, read
            // once for the batch: a subquery per row cost as much as the
            // rest of the insert.
            let mut names: ::std::vec::Vec<&str> = events.iter().filter_map(|event| event.project.as_deref()).collect();
            names.sort_unstable();
            names.dedup();
            let project_ids: ::std::collections::HashMap<String, i64> = if names.is_empty() {
                ::std::collections::HashMap::new()
            } else {
                let mut query = sqlx::QueryBuilder::new("SELECT name, id FROM projects WHERE name IN (");
                let mut list = query.separated(", ");
                for name in &names {
                    list.push_bind(*name);
                }
                query.push(")");
                query.build_query_as::<(String, i64)>().fetch_all($executor).await?.into_iter().collect()
            };
            let mut remaining = events.len();
            let mut events = events.into_iter();
            while remaining > 0 {
                let (mut query, rows) = $crate::core::events::insert_statement(remaining);
                // The events' own strings are bound, not copies: the driver
                // would copy borrowed text once more on its way to the database.
                for event in events.by_ref().take(rows) {
                    let project_id = event.project.as_deref().and_then(|name| project_ids.get(name)).copied();
                    query = query
                        .bind(event.occurred_at)
                        .bind(event.actor)
                        .bind(event.client_addr)
                        .bind(event.operation.as_str())
                        .bind(event.resource_type.as_str())
                        .bind(event.resource)
                        .bind(event.project)
                        .bind(event.digest)
                        .bind(event.tag)
                        .bind(event.media_type)
                        .bind(event.size)
                        .bind(if event.succeeded { "success" } else { "failure" })
                        .bind(event.detail)
                        .bind(project_id);
                }
                query.execute($executor).await?;
                remaining -= rows;
            }
            Ok::<(), sqlx::Error>(())
        }
        .await
    };
}
pub(crate) use insert_audit_rows;

/// Runs `$body` (statements on the transaction `$tx`, evaluating to the
/// result) and writes `$event`'s audit row in the same transaction, on
/// either database; with `if $happened` (a closure on the result), only
/// when the change happened. Evaluates to `sqlx::Result` of the body's value.
macro_rules! audited_transaction {
    ($db:expr, $event:expr, |$tx:ident| $body:expr) => {
        $crate::core::events::audited_transaction!($db, $event, |$tx| $body, if |_| true)
    };
    ($db:expr, $event:expr, |$tx:ident| $body:expr, if $happened:expr) => {
        $crate::on_db!($db, pool => async {
            let mut $tx = pool.begin().await?;
            let done = $body;
            if ($happened)(&done) {
                $crate::core::events::write_audit_row!($tx, $event)?;
            }
            $tx.commit().await?;
            Ok::<_, sqlx::Error>(done)
        }.await)
    };
}
pub(crate) use audited_transaction;

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
            let mut tx = pool.begin().await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_split_into_the_fewest_fixed_statements() {
        for count in 1..=1100 {
            let (mut remaining, mut statements) = (count, 0);
            while remaining > 0 {
                let (query, rows) = insert_statement::<sqlx::Sqlite>(remaining);
                assert!(rows <= remaining, "{count}: a statement takes no more rows than are left");
                let sql = sqlx::Execute::sql(&query);
                assert_eq!(sql.matches('(').count(), rows + 1, "{count}: the statement has one VALUES row per event");
                assert_eq!(
                    sql.matches('?').count(),
                    rows * AUDIT_COLUMNS,
                    "{count}: SQLite's parameters are anonymous"
                );
                remaining -= rows;
                statements += 1;
            }
            let largest = INSERT_SHAPES[0];
            assert_eq!(statements, count / largest + (count % largest).count_ones() as usize, "{count}");
        }
        let (postgres, _) = insert_statement::<sqlx::Postgres>(128);
        assert!(sqlx::Execute::sql(&postgres).ends_with(&format!("${})", 128 * AUDIT_COLUMNS)));
    }
}
