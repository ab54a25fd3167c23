//! The Administration area's Clean up page: audit-log rotation's schedule
//! and parameters, running it now (or as a dry run), and its recent runs
//! with their logs. System administrators only; every function refuses
//! anyone else.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::AppError;

/// How many recent runs the page lists.
pub const RECENT_RUNS: u32 = 10;

/// One run, as the history table shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunItem {
    pub id: i64,
    /// `manual` or `schedule`.
    pub trigger: String,
    /// `pending`, `running`, `success`, `error` or `stopped`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub dry_run: bool,
    /// Entries deleted (or, for a dry run, that would be).
    pub matched: Option<u64>,
    pub error: Option<String>,
}

impl RunItem {
    pub fn is_active(&self) -> bool {
        matches!(self.status.as_str(), "pending" | "running")
    }
}

/// Audit-log rotation as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRotation {
    /// `none`, `hourly`, `daily`, `weekly` or `custom`.
    pub schedule: String,
    pub cron: Option<String>,
    pub next_run_at: Option<DateTime<Utc>>,
    pub retention_hours: i64,
    /// Comma-separated; empty for every operation.
    pub operations: String,
    pub runs: Vec<RunItem>,
    pub total_runs: i64,
}

#[server(prefix = "/portal/fn", endpoint = "audit_rotation")]
pub async fn get_audit_rotation() -> Result<AuditRotation, AppError> {
    use crate::core::{AppState, db::Window, jobs::AuditPurge};

    let actor = crate::api::session::require_actor().await?;
    let state = expect_context::<AppState>();
    let schedule = state.jobs.schedule(&actor, AuditPurge::KIND).await?;
    let runs = state.jobs.executions(&actor, AuditPurge::KIND, Window::new(0, RECENT_RUNS)).await?;
    let (kind, cron, next_run_at, parameters) = match schedule {
        Some(schedule) => {
            let kind = crate::core::jobs::CronSchedule::preset_of(&schedule.cron).unwrap_or("custom");
            (kind, Some(schedule.cron), Some(schedule.next_run_at), schedule.parameters)
        }
        None => ("none", None, None, serde_json::json!({})),
    };
    let retention_hours = parameters["audit_retention_hour"].as_i64().unwrap_or(24 * 30);
    let operations = parameters["include_operations"].as_str().unwrap_or_default().to_owned();
    Ok(AuditRotation {
        schedule: kind.to_owned(),
        cron,
        next_run_at,
        retention_hours,
        operations,
        total_runs: runs.total,
        runs: runs
            .items
            .into_iter()
            .map(|run| RunItem {
                id: run.id,
                trigger: run.trigger.as_str().to_owned(),
                status: run.status.as_str().to_owned(),
                created_at: run.created_at,
                started_at: run.started_at,
                ended_at: run.ended_at,
                dry_run: run.parameters["dry_run"].as_bool().unwrap_or(false),
                matched: run.summary.as_ref().and_then(|s| s["matched"].as_u64()),
                error: run.error,
            })
            .collect(),
    })
}

/// The parameters both forms send, checked as the job checks them.
#[cfg(feature = "ssr")]
fn rotation_parameters(
    retention_hours: &str,
    operations: &str,
    dry_run: bool,
) -> Result<serde_json::Value, crate::core::Error> {
    let hours: i64 = retention_hours
        .trim()
        .parse()
        .map_err(|_| crate::core::Error::invalid("retention_hours", "must be a whole number of hours"))?;
    let parameters = serde_json::json!({
        "audit_retention_hour": hours,
        "include_operations": operations.trim(),
        "dry_run": dry_run,
    });
    crate::core::jobs::AuditPurge::read(&parameters)?;
    Ok(parameters)
}

/// Saves the schedule: `none`, `hourly`, `daily`, `weekly` or `custom`
/// (with `cron`, six fields with seconds), with the retention and operations.
#[server(prefix = "/portal/fn", endpoint = "set_audit_rotation")]
pub async fn set_audit_rotation(
    schedule: String,
    cron: Option<String>,
    retention_hours: String,
    operations: Option<String>,
) -> Result<(), AppError> {
    use crate::core::{AppState, jobs::AuditPurge};

    let actor = crate::api::session::require_actor().await?;
    let parameters = rotation_parameters(&retention_hours, operations.as_deref().unwrap_or_default(), false)?;
    let cron = match schedule.as_str() {
        "none" => None,
        "hourly" | "daily" | "weekly" => Some(schedule.clone()),
        "custom" => Some(cron.filter(|c| !c.trim().is_empty()).ok_or_else(|| {
            AppError::from(crate::core::Error::invalid("cron", "a custom schedule needs a cron expression"))
        })?),
        _ => {
            return Err(crate::core::Error::invalid("schedule", "must be none, hourly, daily, weekly or custom").into());
        }
    };
    expect_context::<AppState>().jobs.set_schedule(&actor, AuditPurge::KIND, cron.as_deref(), parameters).await?;
    Ok(())
}

/// Runs the rotation now, or (with `dry_run`) counts what it would delete.
#[server(prefix = "/portal/fn", endpoint = "run_audit_rotation")]
pub async fn run_audit_rotation(
    retention_hours: String,
    operations: Option<String>,
    dry_run: Option<String>,
) -> Result<i64, AppError> {
    use crate::core::{AppState, jobs::AuditPurge};

    let actor = crate::api::session::require_actor().await?;
    let parameters =
        rotation_parameters(&retention_hours, operations.as_deref().unwrap_or_default(), dry_run.is_some())?;
    Ok(expect_context::<AppState>().jobs.run_now(&actor, AuditPurge::KIND, parameters).await?)
}

/// The lines a run logged so far.
#[server(prefix = "/portal/fn", endpoint = "job_log")]
pub async fn job_log(id: i64) -> Result<Vec<String>, AppError> {
    use crate::core::AppState;

    let actor = crate::api::session::require_actor().await?;
    let lines = expect_context::<AppState>().jobs.log(&actor, id).await?;
    Ok(lines.into_iter().map(|line| format!("{} {}", line.logged_at.format("%H:%M:%S"), line.message)).collect())
}
