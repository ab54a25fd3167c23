//! A replication execution's tasks (one per artifact) and their logs: the
//! types and all their SQL.

use chrono::{DateTime, Utc};

use crate::{
    core::{
        Error, Result,
        db::{Counted, Db, Page, Window, begin_writing},
    },
    on_db,
};

/// Longest task log line kept.
const MAX_LINE: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    Stopped,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Stopped => "stopped",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "pending" => Self::Pending,
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "stopped" => Self::Stopped,
            other => return Err(Error::corrupt(format!("replication task status {other:?}"))),
        })
    }
}

/// One artifact's copy (or deletion) in an execution.
#[derive(Clone, Debug)]
pub struct Task {
    pub id: i64,
    pub execution_id: i64,
    /// `image` or `artifact`.
    pub resource_type: String,
    /// `copy` or `deletion`.
    pub operation: String,
    pub src_resource: String,
    pub dst_resource: String,
    pub digest: String,
    pub status: TaskStatus,
    /// Bytes sent (blobs that were already there count nothing).
    pub bytes: i64,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// An execution's tasks counted by how they stand.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub total: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub in_progress: i64,
    pub stopped: i64,
    pub bytes: i64,
}

/// A task to record before it runs.
pub struct NewTask<'a> {
    pub resource_type: &'a str,
    pub operation: &'a str,
    pub src_resource: &'a str,
    pub dst_resource: &'a str,
    pub digest: &'a str,
}

const COLUMNS: &str = "id, execution_id, resource_type, operation, src_resource, dst_resource, digest, status, \
     bytes, started_at, ended_at";

#[derive(sqlx::FromRow)]
struct TaskRow {
    id: i64,
    execution_id: i64,
    resource_type: String,
    operation: String,
    src_resource: String,
    dst_resource: String,
    digest: String,
    status: String,
    bytes: i64,
    started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
}

impl TaskRow {
    fn read(self) -> Result<Task> {
        Ok(Task {
            id: self.id,
            execution_id: self.execution_id,
            resource_type: self.resource_type,
            operation: self.operation,
            src_resource: self.src_resource,
            dst_resource: self.dst_resource,
            digest: self.digest,
            status: TaskStatus::parse(&self.status)?,
            bytes: self.bytes,
            started_at: self.started_at,
            ended_at: self.ended_at,
        })
    }
}

#[derive(Clone, Debug)]
pub struct TaskRepository {
    db: Db,
}

impl TaskRepository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Records the tasks an execution will run, all pending, in one transaction.
    pub async fn create(&self, execution: i64, tasks: &[NewTask<'_>]) -> Result<Vec<i64>> {
        const SQL: &str = "INSERT INTO replication_tasks (execution_id, resource_type, operation, src_resource, \
             dst_resource, digest, status, bytes) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0) RETURNING id";
        let ids = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            let mut ids = Vec::with_capacity(tasks.len());
            for task in tasks {
                let id: i64 = sqlx::query_scalar(SQL)
                    .bind(execution)
                    .bind(task.resource_type)
                    .bind(task.operation)
                    .bind(task.src_resource)
                    .bind(task.dst_resource)
                    .bind(task.digest)
                    .fetch_one(&mut *tx)
                    .await?;
                ids.push(id);
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(ids)
        }.await)?;
        Ok(ids)
    }

    pub async fn start(&self, id: i64, now: DateTime<Utc>) -> Result<()> {
        // Only a pending task starts: one ended with its execution (a lost lease) stays ended.
        const SQL: &str =
            "UPDATE replication_tasks SET status = 'running', started_at = $1 WHERE id = $2 AND status = 'pending'";
        on_db!(&self.db, pool => sqlx::query(SQL).bind(now).bind(id).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn finish(&self, id: i64, status: TaskStatus, bytes: i64, now: DateTime<Utc>) -> Result<()> {
        const SQL: &str = "UPDATE replication_tasks SET status = $1, bytes = $2, ended_at = $3 \
             WHERE id = $4 AND status IN ('pending', 'running')";
        on_db!(&self.db, pool => {
            sqlx::query(SQL).bind(status.as_str()).bind(bytes).bind(now).bind(id).execute(pool).await.map(|_| ())
        })?;
        Ok(())
    }

    /// Ends every task of the execution not yet ended as `status` (a stop, a crash).
    pub async fn finish_rest(&self, execution: i64, status: TaskStatus, now: DateTime<Utc>) -> Result<()> {
        const SQL: &str = "UPDATE replication_tasks SET status = $1, ended_at = $2 \
             WHERE execution_id = $3 AND status IN ('pending', 'running')";
        on_db!(&self.db, pool => {
            sqlx::query(SQL).bind(status.as_str()).bind(now).bind(execution).execute(pool).await.map(|_| ())
        })?;
        Ok(())
    }

    /// Appends a line to a task's log (cut at [`MAX_LINE`] characters).
    pub async fn log(&self, task: i64, line: i64, level: &str, message: &str) -> Result<()> {
        const SQL: &str =
            "INSERT INTO replication_task_logs (task_id, line, logged_at, level, message) VALUES ($1, $2, $3, $4, $5)";
        let message: String = message.chars().take(MAX_LINE).collect();
        on_db!(&self.db, pool => {
            sqlx::query(SQL).bind(task).bind(line).bind(Utc::now()).bind(level).bind(&message).execute(pool).await.map(|_| ())
        })?;
        Ok(())
    }

    /// A page of an execution's tasks, in order.
    pub async fn list(&self, execution: i64, window: Window) -> Result<Page<Task>> {
        let page = format!(
            "SELECT {COLUMNS}, COUNT(*) OVER () AS total FROM replication_tasks WHERE execution_id = $1 \
             ORDER BY id LIMIT $2 OFFSET $3"
        );
        const COUNT: &str = "SELECT COUNT(*) FROM replication_tasks WHERE execution_id = $1";
        let (limit, offset) = window.sql();
        on_db!(&self.db, pool => async {
            let rows: Vec<Counted<TaskRow>> =
                sqlx::query_as(&page).bind(execution).bind(limit).bind(offset).fetch_all(pool).await?;
            window.page(rows, sqlx::query_scalar(COUNT).bind(execution).fetch_one(pool), TaskRow::read).await
        }.await)
    }

    pub async fn find(&self, execution: i64, id: i64) -> Result<Option<Task>> {
        let sql = format!("SELECT {COLUMNS} FROM replication_tasks WHERE execution_id = $1 AND id = $2");
        let row = on_db!(&self.db, pool => {
            sqlx::query_as::<_, TaskRow>(&sql).bind(execution).bind(id).fetch_optional(pool).await
        })?;
        row.map(TaskRow::read).transpose()
    }

    /// A task's log as text, a line per entry.
    pub async fn log_text(&self, task: i64) -> Result<String> {
        const SQL: &str =
            "SELECT logged_at, level, message FROM replication_task_logs WHERE task_id = $1 ORDER BY line";
        let lines: Vec<(DateTime<Utc>, String, String)> =
            on_db!(&self.db, pool => sqlx::query_as(SQL).bind(task).fetch_all(pool).await)?;
        Ok(lines
            .into_iter()
            .map(|(at, level, message)| {
                format!("{} [{}] {message}\n", at.format("%Y-%m-%dT%H:%M:%S%.3fZ"), level.to_uppercase())
            })
            .collect())
    }

    /// The tasks of each of `executions`, counted by status (one query).
    pub async fn totals(&self, executions: &[i64]) -> Result<Vec<(i64, Totals)>> {
        if executions.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, String, i64, i64)> = on_db!(&self.db, pool => {
            let mut query = sqlx::QueryBuilder::new(
                "SELECT execution_id, status, COUNT(*), CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM replication_tasks WHERE execution_id IN (",
            );
            let mut list = query.separated(", ");
            for id in executions {
                list.push_bind(*id);
            }
            query.push(") GROUP BY execution_id, status");
            query.build_query_as().fetch_all(pool).await
        })?;
        let mut totals: Vec<(i64, Totals)> = executions.iter().map(|id| (*id, Totals::default())).collect();
        for (execution, status, count, bytes) in rows {
            let Some((_, total)) = totals.iter_mut().find(|(id, _)| *id == execution) else { continue };
            total.total += count;
            total.bytes += bytes;
            match TaskStatus::parse(&status)? {
                TaskStatus::Succeeded => total.succeeded += count,
                TaskStatus::Failed => total.failed += count,
                TaskStatus::Stopped => total.stopped += count,
                TaskStatus::Pending | TaskStatus::Running => total.in_progress += count,
            }
        }
        Ok(totals)
    }
}
