//! The SQL of job schedules: one per kind, read, stored, deleted, and
//! moved on tick by tick with the execution each tick queues; and the
//! statements a service runs inside its own transaction when its rows
//! decide a schedule.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::JobRepository;
use crate::{
    core::{Error, Result, db::begin_writing, jobs::Schedule},
    on_db,
};

/// Inside the transaction `$tx`: sets the schedule of the job kind `$kind`
/// (a `String` or `&str`) to `$cron` with `$parameters` (JSON text), its
/// first tick at `$next`; for services whose own rows decide a schedule
/// (a replication policy), so both commit together.
macro_rules! put_schedule_in {
    ($tx:ident, $kind:expr, $cron:expr, $parameters:expr, $next:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO job_schedules (kind, cron, parameters, next_run_at, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (kind) DO UPDATE SET cron = excluded.cron, parameters = excluded.parameters, \
             next_run_at = excluded.next_run_at, updated_at = excluded.updated_at",
        )
        .bind($kind)
        .bind($cron)
        .bind($parameters)
        .bind($next)
        .bind($now)
        .execute(&mut *$tx)
        .await?;
    };
}
pub(crate) use put_schedule_in;

/// Inside the transaction `$tx`: the job kind `$kind` no longer runs on a schedule.
macro_rules! delete_schedule_in {
    ($tx:ident, $kind:expr) => {
        sqlx::query("DELETE FROM job_schedules WHERE kind = $1").bind($kind).execute(&mut *$tx).await?;
    };
}
pub(crate) use delete_schedule_in;

#[derive(sqlx::FromRow)]
struct ScheduleRow {
    kind: String,
    cron: String,
    parameters: String,
    next_run_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const SCHEDULE_COLUMNS: &str = "kind, cron, parameters, next_run_at, updated_at";

impl TryFrom<ScheduleRow> for Schedule {
    type Error = Error;

    fn try_from(row: ScheduleRow) -> Result<Self> {
        let parameters = serde_json::from_str(&row.parameters)
            .map_err(|_| Error::corrupt(format!("stored schedule parameters {:?}", row.parameters)))?;
        Ok(Schedule {
            kind: row.kind,
            cron: row.cron,
            parameters,
            next_run_at: row.next_run_at,
            updated_at: row.updated_at,
        })
    }
}

/// What storing a schedule over an existing one changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replace {
    All,
    Parameters,
}

impl JobRepository {
    pub async fn schedule(&self, kind: &str) -> Result<Option<Schedule>> {
        let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM job_schedules WHERE kind = $1");
        let row = on_db!(&self.db, pool => {
            sqlx::query_as::<_, ScheduleRow>(&sql).bind(kind).fetch_optional(pool).await
        })?;
        row.map(Schedule::try_from).transpose()
    }

    /// Every schedule (one per kind at most), by kind.
    pub async fn schedules(&self) -> Result<Vec<Schedule>> {
        let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM job_schedules ORDER BY kind");
        let rows: Vec<ScheduleRow> = on_db!(&self.db, pool => sqlx::query_as(&sql).fetch_all(pool).await)?;
        rows.into_iter().map(Schedule::try_from).collect()
    }

    /// Schedules whose tick has come.
    pub async fn due_schedules(&self, now: DateTime<Utc>) -> Result<Vec<Schedule>> {
        let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM job_schedules WHERE next_run_at <= $1");
        let rows: Vec<ScheduleRow> = on_db!(&self.db, pool => sqlx::query_as(&sql).bind(now).fetch_all(pool).await)?;
        rows.into_iter().map(Schedule::try_from).collect()
    }

    /// Stores `kind`'s schedule. An existing one is replaced whole with
    /// [`Replace::All`]; with [`Replace::Parameters`] (what start-up does for
    /// schedules the configuration owns) it keeps its cron and its tick.
    pub async fn put_schedule(
        &self,
        kind: &str,
        cron: &str,
        parameters: &Value,
        next_run_at: DateTime<Utc>,
        now: DateTime<Utc>,
        replace: Replace,
    ) -> Result<()> {
        let kept = match replace {
            Replace::All => "cron = excluded.cron, next_run_at = excluded.next_run_at, ",
            Replace::Parameters => "",
        };
        let sql = format!(
            "INSERT INTO job_schedules (kind, cron, parameters, next_run_at, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (kind) DO UPDATE SET {kept}parameters = excluded.parameters, updated_at = excluded.updated_at"
        );
        let parameters = parameters.to_string();
        on_db!(&self.db, pool => {
            sqlx::query(&sql).bind(kind).bind(cron).bind(&parameters).bind(next_run_at).bind(now).execute(pool).await.map(|_| ())
        })?;
        Ok(())
    }

    pub async fn delete_schedule(&self, kind: &str) -> Result<()> {
        on_db!(&self.db, pool => sqlx::query("DELETE FROM job_schedules WHERE kind = $1").bind(kind).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Moves `schedule` on to `next` and records the execution of the tick
    /// it was at, in one transaction: queued, or skipped when the kind
    /// still has one pending or running. False when another node moved
    /// the tick first.
    pub async fn take_tick(&self, schedule: &Schedule, next: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool> {
        const MOVE: &str = "UPDATE job_schedules SET next_run_at = $1 WHERE kind = $2 AND next_run_at = $3";
        const ACTIVE: &str =
            "SELECT id FROM job_executions WHERE kind = $1 AND status IN ('pending', 'running') ORDER BY id LIMIT 1";
        const QUEUE: &str = "INSERT INTO job_executions \
             (kind, trigger, status, parameters, scheduled_for, created_at) \
             VALUES ($1, 'schedule', 'pending', $2, $3, $4) ON CONFLICT (kind, scheduled_for) DO NOTHING";
        const SKIP: &str = "INSERT INTO job_executions \
             (kind, trigger, status, parameters, scheduled_for, created_at, ended_at, error) \
             VALUES ($1, 'schedule', 'skipped', $2, $3, $4, $4, $5) ON CONFLICT (kind, scheduled_for) DO NOTHING";
        let parameters = schedule.parameters.to_string();
        let taken = on_db!(&self.db, pool => async {
            let mut tx = begin_writing(pool).await?;
            let moved = sqlx::query(MOVE)
                .bind(next)
                .bind(&schedule.kind)
                .bind(schedule.next_run_at)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if moved {
                let active: Option<i64> =
                    sqlx::query_scalar(ACTIVE).bind(&schedule.kind).fetch_optional(&mut *tx).await?;
                let insert = match active {
                    None => sqlx::query(QUEUE),
                    Some(_) => sqlx::query(SKIP),
                };
                let mut insert = insert.bind(&schedule.kind).bind(&parameters).bind(schedule.next_run_at).bind(now);
                if let Some(active) = active {
                    insert = insert.bind(format!("skipped: execution {active} was still in progress at this tick"));
                }
                insert.execute(&mut *tx).await?;
                tx.commit().await?;
            }
            Ok::<_, sqlx::Error>(moved)
        }.await)?;
        Ok(taken)
    }
}
