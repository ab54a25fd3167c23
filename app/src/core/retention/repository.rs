//! All SQL of tag retention: policies (with their schedule, in the same
//! transaction), the artifacts of a repository as retention sees them, and
//! each execution's per-repository tasks.

use chrono::{DateTime, Utc};

use super::{PolicyId, RetentionPolicy, RetentionRule, TaskRow, TaskStatus};
use crate::{
    core::{
        Error, Result,
        db::{Counted, Db, Page, Window, begin_writing, total_of},
        events::{AuditEvent, write_audit_row},
        jobs::{delete_schedule_in, put_schedule_in},
        projects::id::ProjectId,
    },
    on_db,
};

/// The next tick of a schedule, as the job service keeps it.
pub struct FirstTick {
    pub cron: String,
    pub at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct PolicyRow {
    id: i64,
    project_id: i64,
    project: String,
    rules: String,
    cron: Option<String>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<PolicyRow> for RetentionPolicy {
    type Error = Error;

    fn try_from(row: PolicyRow) -> Result<Self> {
        let rules: Vec<RetentionRule> = serde_json::from_str(&row.rules)
            .map_err(|e| Error::corrupt(format!("retention policy {}'s rules: {e}", row.id)))?;
        Ok(RetentionPolicy {
            id: PolicyId(row.id),
            project_id: ProjectId(row.project_id),
            project: row.project,
            rules,
            cron: row.cron,
            version: row.updated_at,
        })
    }
}

const POLICY: &str = "SELECT r.id, r.project_id, p.name AS project, r.rules, r.cron, r.updated_at \
     FROM retention_policies r JOIN projects p ON p.id = r.project_id";

/// One artifact's row: `(manifest id, digest, pushed, pulled)`.
pub type ArtifactRow = (i64, String, DateTime<Utc>, Option<DateTime<Utc>>);

#[derive(Clone, Debug)]
pub struct RetentionRepository {
    db: Db,
}

impl RetentionRepository {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn policy(&self, id: PolicyId) -> Result<Option<RetentionPolicy>> {
        let sql = format!("{POLICY} WHERE r.id = $1");
        let row: Option<PolicyRow> =
            on_db!(&self.db, pool => sqlx::query_as(&sql).bind(id.0).fetch_optional(pool).await)?;
        row.map(RetentionPolicy::try_from).transpose()
    }

    /// The project's policy, if it has one.
    pub async fn policy_in(&self, project: ProjectId) -> Result<Option<RetentionPolicy>> {
        let sql = format!("{POLICY} WHERE r.project_id = $1");
        let row: Option<PolicyRow> =
            on_db!(&self.db, pool => sqlx::query_as(&sql).bind(project.0).fetch_optional(pool).await)?;
        row.map(RetentionPolicy::try_from).transpose()
    }

    pub async fn policy_of(&self, project: ProjectId) -> Result<Option<PolicyId>> {
        const SQL: &str = "SELECT id FROM retention_policies WHERE project_id = $1";
        let id: Option<i64> =
            on_db!(&self.db, pool => sqlx::query_scalar(SQL).bind(project.0).fetch_optional(pool).await)?;
        Ok(id.map(PolicyId))
    }

    /// Creates the project's policy and its schedule; `None` when the
    /// project has one already.
    pub async fn create(
        &self,
        project: ProjectId,
        rules: &[RetentionRule],
        tick: Option<FirstTick>,
        now: DateTime<Utc>,
        event: &AuditEvent,
    ) -> Result<Option<PolicyId>> {
        const SQL: &str = "INSERT INTO retention_policies (project_id, rules, cron, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (project_id) DO NOTHING RETURNING id";
        let rules = serde_json::to_string(rules).map_err(|e| Error::corrupt(e.to_string()))?;
        let id = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            let id: Option<i64> = sqlx::query_scalar(SQL)
                .bind(project.0)
                .bind(&rules)
                .bind(tick.as_ref().map(|t| t.cron.as_str()))
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(id) = id else {
                return Ok(None);
            };
            if let Some(tick) = &tick {
                let parameters = serde_json::json!({ "policy_id": id }).to_string();
                put_schedule_in!(tx, PolicyId(id).job_kind(), &tick.cron, &parameters, tick.at, now);
            }
            write_audit_row!(tx, event)?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Some(PolicyId(id)))
        }.await)?;
        Ok(id)
    }

    /// Replaces policy `id`'s rules and schedule, if it is still at
    /// `version` when given; false when it is gone or was changed meanwhile.
    #[allow(clippy::too_many_arguments)]
    pub async fn update(
        &self,
        id: PolicyId,
        rules: &[RetentionRule],
        tick: Option<FirstTick>,
        version: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        event: &AuditEvent,
    ) -> Result<bool> {
        const SQL: &str = "UPDATE retention_policies SET rules = $2, cron = $3, updated_at = $4 \
             WHERE id = $1 AND ($5 IS NULL OR updated_at = $5)";
        let rules = serde_json::to_string(rules).map_err(|e| Error::corrupt(e.to_string()))?;
        let updated = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            let updated = sqlx::query(SQL)
                .bind(id.0)
                .bind(&rules)
                .bind(tick.as_ref().map(|t| t.cron.as_str()))
                .bind(now)
                .bind(version)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if updated == 0 {
                return Ok(false);
            }
            match &tick {
                Some(tick) => {
                    let parameters = serde_json::json!({ "policy_id": id.0 }).to_string();
                    put_schedule_in!(tx, id.job_kind(), &tick.cron, &parameters, tick.at, now);
                }
                None => {
                    delete_schedule_in!(tx, id.job_kind());
                }
            }
            write_audit_row!(tx, event)?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(true)
        }.await)?;
        Ok(updated)
    }

    /// Deletes policy `id` with its schedule and executions; false when it is gone.
    pub async fn delete(&self, id: PolicyId, event: &AuditEvent) -> Result<bool> {
        const SQL: &str = "DELETE FROM retention_policies WHERE id = $1";
        const EXECUTIONS: &str = "DELETE FROM job_executions WHERE kind = $1 AND status NOT IN ('pending', 'running')";
        // What is queued never starts, what runs is asked to stop: neither
        // deletes anything under rules that no longer exist.
        const PENDING: &str = "UPDATE job_executions SET status = 'stopped', ended_at = $2, \
             error = 'its retention policy was deleted' WHERE kind = $1 AND status = 'pending'";
        const RUNNING: &str = "UPDATE job_executions SET stop_requested = TRUE WHERE kind = $1 AND status = 'running'";
        let deleted = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            if sqlx::query(SQL).bind(id.0).execute(&mut *tx).await?.rows_affected() == 0 {
                return Ok(false);
            }
            delete_schedule_in!(tx, id.job_kind());
            sqlx::query(EXECUTIONS).bind(id.job_kind()).execute(&mut *tx).await?;
            sqlx::query(PENDING).bind(id.job_kind()).bind(Utc::now()).execute(&mut *tx).await?;
            sqlx::query(RUNNING).bind(id.job_kind()).execute(&mut *tx).await?;
            write_audit_row!(tx, event)?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(true)
        }.await)?;
        Ok(deleted)
    }

    /// Removes the schedule of a policy that no longer exists.
    pub async fn forget_schedule(&self, id: PolicyId) -> Result<()> {
        on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            delete_schedule_in!(tx, id.job_kind());
            tx.commit().await
        }.await)?;
        Ok(())
    }

    /// The project's repositories: `(id, full name)`, by name.
    pub async fn repositories(&self, project: ProjectId) -> Result<Vec<(i64, String)>> {
        const SQL: &str = "SELECT id, name FROM repositories WHERE project_id = $1 ORDER BY name";
        Ok(on_db!(&self.db, pool => sqlx::query_as(SQL).bind(project.0).fetch_all(pool).await)?)
    }

    /// A repository's artifacts (what listings show) and their tags: two
    /// queries, however many artifacts.
    pub async fn artifacts(&self, repository: i64) -> Result<(Vec<ArtifactRow>, Vec<(i64, String)>)> {
        const ARTIFACTS: &str = "SELECT id, digest, created_at, pulled_at FROM manifests \
             WHERE repository_id = $1 AND listed = TRUE ORDER BY id";
        const TAGS: &str = "SELECT manifest_id, name FROM tags WHERE repository_id = $1";
        Ok(on_db!(&self.db, pool => async {
            let artifacts = sqlx::query_as(ARTIFACTS).bind(repository).fetch_all(pool).await?;
            let tags = sqlx::query_as(TAGS).bind(repository).fetch_all(pool).await?;
            Ok::<_, sqlx::Error>((artifacts, tags))
        }.await)?)
    }

    pub async fn start_task(&self, execution: i64, repository: &str, now: DateTime<Utc>) -> Result<i64> {
        const SQL: &str = "INSERT INTO retention_tasks (execution_id, repository, status, started_at) \
             VALUES ($1, $2, 'running', $3) RETURNING id";
        Ok(on_db!(&self.db, pool => {
            sqlx::query_scalar(SQL).bind(execution).bind(repository).bind(now).fetch_one(pool).await
        })?)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn finish_task(
        &self,
        id: i64,
        status: TaskStatus,
        total: i64,
        retained: i64,
        deleted: i64,
        log: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        const SQL: &str = "UPDATE retention_tasks SET status = $2, total = $3, retained = $4, deleted = $5, \
             log = $6, ended_at = $7 WHERE id = $1 AND status = 'running'";
        on_db!(&self.db, pool => {
            sqlx::query(SQL)
                .bind(id)
                .bind(status.as_str())
                .bind(total)
                .bind(retained)
                .bind(deleted)
                .bind(log)
                .bind(now)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// A page of an execution's tasks, in the order they ran.
    pub async fn tasks(&self, execution: i64, window: Window) -> Result<Page<TaskRow>> {
        const PAGE: &str = "SELECT id, execution_id, repository, status, total AS artifacts, retained, deleted, \
             started_at, ended_at, COUNT(*) OVER () AS total FROM retention_tasks WHERE execution_id = $1 ORDER BY id LIMIT $2 OFFSET $3";
        const COUNT: &str = "SELECT COUNT(*) FROM retention_tasks WHERE execution_id = $1";
        let (limit, offset) = window.sql();
        on_db!(&self.db, pool => async {
            let rows: Vec<Counted<TaskRow>> =
                sqlx::query_as(PAGE).bind(execution).bind(limit).bind(offset).fetch_all(pool).await?;
            let total = total_of(&rows, window, sqlx::query_scalar(COUNT).bind(execution).fetch_one(pool)).await?;
            Ok(Page::at(window, rows.into_iter().map(|counted| counted.row).collect(), total))
        }.await)
    }

    /// A task's log, if the task belongs to `execution`.
    pub async fn task_log(&self, execution: i64, task: i64) -> Result<Option<String>> {
        const SQL: &str = "SELECT log FROM retention_tasks WHERE id = $1 AND execution_id = $2";
        Ok(on_db!(&self.db, pool => sqlx::query_scalar(SQL).bind(task).bind(execution).fetch_optional(pool).await)?)
    }
}
