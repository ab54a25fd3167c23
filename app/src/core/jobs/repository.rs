//! All SQL of the job service: executions with their leases, and log
//! lines; schedules in [`schedules`].

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Execution, LogLine, Status, Trigger};
use crate::{
    core::{
        Error, Result,
        db::{Counted, Db, Page, Window, begin_writing},
    },
    on_db,
};

mod schedules;

pub use schedules::Replace;
pub(crate) use schedules::{delete_schedule_in, put_schedule_in};

const EXECUTION_COLUMNS: &str = "id, kind, trigger, status, parameters, scheduled_for, created_at, started_at, \
     ended_at, progress_done, progress_total, summary, error";

#[derive(sqlx::FromRow)]
struct ExecutionRow {
    id: i64,
    kind: String,
    trigger: String,
    status: String,
    parameters: String,
    scheduled_for: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    progress_done: i64,
    progress_total: Option<i64>,
    summary: Option<String>,
    error: Option<String>,
}

impl TryFrom<ExecutionRow> for Execution {
    type Error = Error;

    fn try_from(row: ExecutionRow) -> Result<Self> {
        let corrupt = |what: &str, value: &str| Error::corrupt(format!("stored execution {what} {value:?}"));
        Ok(Execution {
            id: row.id,
            trigger: Trigger::parse(&row.trigger).ok_or_else(|| corrupt("trigger", &row.trigger))?,
            status: Status::parse(&row.status).ok_or_else(|| corrupt("status", &row.status))?,
            parameters: serde_json::from_str(&row.parameters).map_err(|_| corrupt("parameters", &row.parameters))?,
            summary: row
                .summary
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|_| corrupt("summary", ""))?,
            kind: row.kind,
            scheduled_for: row.scheduled_for,
            created_at: row.created_at,
            started_at: row.started_at,
            ended_at: row.ended_at,
            progress_done: row.progress_done,
            progress_total: row.progress_total,
            error: row.error,
        })
    }
}

/// An execution a runner just claimed.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub id: i64,
    pub kind: String,
    pub parameters: Value,
}

/// What a lease renewal found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Renewal {
    /// Renewed; `stop` says whether a stop was asked for.
    Held { stop: bool },
    /// The lease is no longer this node's: the execution was ended elsewhere.
    Lost,
}

#[derive(Clone, Debug)]
pub struct JobRepository {
    pub(super) db: Db,
}

impl JobRepository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Queues an execution; its id.
    pub async fn enqueue(&self, kind: &str, trigger: Trigger, parameters: &Value, now: DateTime<Utc>) -> Result<i64> {
        const SQL: &str = "INSERT INTO job_executions (kind, trigger, status, parameters, created_at) \
             VALUES ($1, $2, 'pending', $3, $4) RETURNING id";
        let parameters = parameters.to_string();
        let id: i64 = on_db!(&self.db, pool => {
            sqlx::query_scalar(SQL).bind(kind).bind(trigger.as_str()).bind(&parameters).bind(now).fetch_one(pool).await
        })?;
        Ok(id)
    }

    pub async fn execution(&self, id: i64) -> Result<Option<Execution>> {
        let sql = format!("SELECT {EXECUTION_COLUMNS} FROM job_executions WHERE id = $1");
        let row = on_db!(&self.db, pool => {
            sqlx::query_as::<_, ExecutionRow>(&sql).bind(id).fetch_optional(pool).await
        })?;
        row.map(Execution::try_from).transpose()
    }

    /// A page of `kind`'s executions, newest first.
    pub async fn executions(&self, kind: &str, window: Window) -> Result<Page<Execution>> {
        let page = format!(
            "SELECT {EXECUTION_COLUMNS}, COUNT(*) OVER () AS total FROM job_executions WHERE kind = $1 \
             ORDER BY id DESC LIMIT $2 OFFSET $3"
        );
        const COUNT: &str = "SELECT COUNT(*) FROM job_executions WHERE kind = $1";
        let (limit, offset) = window.sql();
        on_db!(&self.db, pool => async {
            let rows: Vec<Counted<ExecutionRow>> =
                sqlx::query_as(&page).bind(kind).bind(limit).bind(offset).fetch_all(pool).await?;
            window.page(rows, sqlx::query_scalar(COUNT).bind(kind).fetch_one(pool), Execution::try_from).await
        }.await)
    }

    /// A page of the executions of every subject of `family` (`replication`
    /// for `replication:1`, `replication:2`…), newest first.
    pub async fn family_executions(&self, family: &str, window: Window) -> Result<Page<Execution>> {
        const FILTER: &str = "substr(kind, 1, length($1) + 1) = $1 || ':'";
        let page = format!(
            "SELECT {EXECUTION_COLUMNS}, COUNT(*) OVER () AS total FROM job_executions WHERE {FILTER} \
             ORDER BY id DESC LIMIT $2 OFFSET $3"
        );
        let count = format!("SELECT COUNT(*) FROM job_executions WHERE {FILTER}");
        let (limit, offset) = window.sql();
        on_db!(&self.db, pool => async {
            let rows: Vec<Counted<ExecutionRow>> =
                sqlx::query_as(&page).bind(family).bind(limit).bind(offset).fetch_all(pool).await?;
            window.page(rows, sqlx::query_scalar(&count).bind(family).fetch_one(pool), Execution::try_from).await
        }.await)
    }

    /// Claims the oldest pending execution of one of `kinds` for `node`
    /// until `lease_until`. At most one execution of a kind runs at a time
    /// (a unique index): a claim that would make a second is no claim.
    pub async fn claim(
        &self,
        kinds: &[&str],
        node: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Claimed>> {
        if kinds.is_empty() {
            return Ok(None);
        }
        // A kind's executions may be per subject (`replication:7`): each
        // subject runs one at a time, the kind's job runs them all.
        let kind_list: Vec<String> =
            (4..4 + kinds.len()).map(|n| format!("e.kind = ${n} OR e.kind LIKE ${n} || ':%'")).collect();
        let pick = format!(
            "SELECT e.id FROM job_executions e WHERE e.status = 'pending' AND ({}) \
             AND NOT EXISTS (SELECT 1 FROM job_executions r WHERE r.kind = e.kind AND r.status = 'running') \
             ORDER BY e.id LIMIT 1",
            kind_list.join(" OR ")
        );
        let claim = |pick: &str| {
            format!(
                "UPDATE job_executions SET status = 'running', started_at = $1, lease_owner = $2, \
                 lease_expires_at = $3 WHERE id = ({pick}) AND status = 'pending' RETURNING id, kind, parameters"
            )
        };
        let row: std::result::Result<Option<(i64, String, String)>, sqlx::Error> = match &self.db {
            Db::Postgres(pool) => {
                let sql = claim(&format!("{pick} FOR UPDATE SKIP LOCKED"));
                let mut query = sqlx::query_as(&sql).bind(now).bind(node).bind(lease_until);
                for kind in kinds {
                    query = query.bind(*kind);
                }
                query.fetch_optional(pool).await
            }
            Db::Sqlite(pool) => {
                let sql = claim(&pick);
                let mut query = sqlx::query_as(&sql).bind(now).bind(node).bind(lease_until);
                for kind in kinds {
                    query = query.bind(*kind);
                }
                query.fetch_optional(pool).await
            }
        };
        let row = match row {
            Ok(row) => row,
            // Another node started one of this kind in the meantime.
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => None,
            Err(other) => return Err(other.into()),
        };
        let Some((id, kind, parameters)) = row else {
            return Ok(None);
        };
        let parameters =
            serde_json::from_str(&parameters).map_err(|_| Error::corrupt(format!("execution {id} parameters")))?;
        Ok(Some(Claimed { id, kind, parameters }))
    }

    /// Extends `node`'s lease on a running execution.
    pub async fn renew(&self, id: i64, node: &str, lease_until: DateTime<Utc>) -> Result<Renewal> {
        const SQL: &str = "UPDATE job_executions SET lease_expires_at = $1 \
             WHERE id = $2 AND lease_owner = $3 AND status = 'running' RETURNING stop_requested";
        let stop: Option<bool> = on_db!(&self.db, pool => {
            sqlx::query_scalar(SQL).bind(lease_until).bind(id).bind(node).fetch_optional(pool).await
        })?;
        Ok(stop.map_or(Renewal::Lost, |stop| Renewal::Held { stop }))
    }

    /// Ends an execution `node` holds: Success with its summary, or Error
    /// or Stopped with why. False when the lease was no longer this node's.
    pub async fn finish(
        &self,
        id: i64,
        node: &str,
        status: Status,
        summary: Option<&Value>,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        const SQL: &str = "UPDATE job_executions SET status = $1, ended_at = $2, summary = $3, error = $4, \
             lease_owner = NULL, lease_expires_at = NULL WHERE id = $5 AND lease_owner = $6 AND status = 'running'";
        let summary = summary.map(Value::to_string);
        let done = on_db!(&self.db, pool => {
            sqlx::query(SQL)
                .bind(status.as_str())
                .bind(now)
                .bind(&summary)
                .bind(error)
                .bind(id)
                .bind(node)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(done == 1)
    }

    /// Ends as Error every running execution whose lease ran out (its node
    /// died or lost the database), with the tasks it had not finished (its
    /// node can no longer finish them); their ids.
    pub async fn expire_leases(&self, now: DateTime<Utc>) -> Result<Vec<i64>> {
        const EXECUTIONS: &str = "UPDATE job_executions SET status = 'error', ended_at = $1, \
             error = 'the node running it stopped renewing its lease (it stopped or lost the database)', \
             lease_owner = NULL, lease_expires_at = NULL \
             WHERE status = 'running' AND lease_expires_at < $1 RETURNING id";
        // The kinds that keep tasks of their own: replication and retention.
        const REPLICATION_TASKS: &str = "UPDATE replication_tasks SET status = 'failed', ended_at = $1 \
             WHERE execution_id = $2 AND status IN ('pending', 'running')";
        const RETENTION_TASKS: &str =
            "UPDATE retention_tasks SET status = 'error', ended_at = $1 WHERE execution_id = $2 AND status = 'running'";
        let ids = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            let ids: Vec<i64> = sqlx::query_scalar(EXECUTIONS).bind(now).fetch_all(&mut *tx).await?;
            for id in &ids {
                sqlx::query(REPLICATION_TASKS).bind(now).bind(id).execute(&mut *tx).await?;
                sqlx::query(RETENTION_TASKS).bind(now).bind(id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(ids)
        }.await)?;
        Ok(ids)
    }

    /// Stops a pending execution at once, or asks a running one to stop;
    /// false when it had already ended.
    pub async fn request_stop(&self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        const PENDING: &str =
            "UPDATE job_executions SET status = 'stopped', ended_at = $1 WHERE id = $2 AND status = 'pending'";
        const RUNNING: &str = "UPDATE job_executions SET stop_requested = TRUE WHERE id = $1 AND status = 'running'";
        let stopped = on_db!(&self.db, pool => async {
            if sqlx::query(PENDING).bind(now).bind(id).execute(pool).await?.rows_affected() == 1 {
                return Ok::<_, sqlx::Error>(true);
            }
            Ok(sqlx::query(RUNNING).bind(id).execute(pool).await?.rows_affected() == 1)
        }.await)?;
        Ok(stopped)
    }

    pub async fn set_progress(&self, id: i64, done: i64, total: Option<i64>) -> Result<()> {
        const SQL: &str = "UPDATE job_executions SET progress_done = $1, progress_total = $2 WHERE id = $3";
        on_db!(&self.db, pool => sqlx::query(SQL).bind(done).bind(total).bind(id).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn append_log(&self, id: i64, line: i64, at: DateTime<Utc>, level: &str, message: &str) -> Result<()> {
        const SQL: &str =
            "INSERT INTO job_logs (execution_id, line, logged_at, level, message) VALUES ($1, $2, $3, $4, $5)";
        on_db!(&self.db, pool => {
            sqlx::query(SQL).bind(id).bind(line).bind(at).bind(level).bind(message).execute(pool).await.map(|_| ())
        })?;
        Ok(())
    }

    pub async fn log(&self, id: i64) -> Result<Vec<LogLine>> {
        const SQL: &str = "SELECT line, logged_at, level, message FROM job_logs WHERE execution_id = $1 ORDER BY line";
        let rows: Vec<(i64, DateTime<Utc>, String, String)> =
            on_db!(&self.db, pool => sqlx::query_as(SQL).bind(id).fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .map(|(line, logged_at, level, message)| LogLine { line, logged_at, level, message })
            .collect())
    }
}
