//! The Administration area's Clean up page: garbage collection's and
//! audit-log rotation's schedules and parameters, running each now (or as
//! a dry run), and their recent runs with progress and logs. System
//! administrators only; every function refuses anyone else.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::AppError;

/// How many recent runs the page lists.
pub const RECENT_RUNS: u32 = 10;

/// The jobs the page runs, by their job-service kinds.
pub const AUDIT_ROTATION: &str = "purge_audit";
pub const GARBAGE_COLLECTION: &str = "gc";

/// What a run did, as its kind's summary says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// Not ended, or ended without a summary.
    Unknown,
    /// Audit-log rotation: entries deleted (or, for a dry run, that would be).
    Entries { matched: u64 },
    /// Garbage collection: what went (or would go).
    Collected { bytes: u64, blobs: u64, manifests: u64, links: u64, uploads: u64 },
}

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
    pub outcome: Outcome,
    /// Units of work done so far, and of how many (when known).
    pub progress: (i64, Option<i64>),
    pub error: Option<String>,
}

impl RunItem {
    pub fn is_active(&self) -> bool {
        matches!(self.status.as_str(), "pending" | "running")
    }
}

/// A job's recent runs, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Runs {
    pub items: Vec<RunItem>,
    pub total: i64,
}

impl Runs {
    pub fn any_active(&self) -> bool {
        self.items.iter().any(RunItem::is_active)
    }
}

/// When a job runs by itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobSchedule {
    /// `none`, `hourly`, `daily`, `weekly` or `custom`.
    pub choice: String,
    pub cron: Option<String>,
    pub next_run_at: Option<DateTime<Utc>>,
}

/// Audit-log rotation as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRotation {
    pub schedule: JobSchedule,
    pub retention_hours: i64,
    /// Comma-separated; empty for every operation.
    pub operations: String,
}

/// Garbage collection as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GarbageCollectionSettings {
    pub schedule: JobSchedule,
    pub workers: i64,
    pub delete_untagged: bool,
}

/// A kind's schedule and its saved parameters.
#[cfg(feature = "ssr")]
async fn schedule_of(
    actor: &crate::core::identity::Actor,
    kind: &str,
) -> Result<(JobSchedule, serde_json::Value), AppError> {
    use crate::core::{AppState, jobs::CronSchedule};

    let schedule = expect_context::<AppState>().jobs.schedule(actor, kind).await?;
    Ok(match schedule {
        Some(schedule) => (
            JobSchedule {
                choice: CronSchedule::preset_of(&schedule.cron).unwrap_or("custom").to_owned(),
                cron: Some(schedule.cron),
                next_run_at: Some(schedule.next_run_at),
            },
            schedule.parameters,
        ),
        None => (JobSchedule { choice: "none".to_owned(), cron: None, next_run_at: None }, serde_json::json!({})),
    })
}

/// The cron a schedule form asks for: `None` for no schedule.
#[cfg(feature = "ssr")]
fn chosen_cron(choice: &str, cron: Option<String>) -> Result<Option<String>, crate::core::Error> {
    use crate::core::Error;
    match choice {
        "none" => Ok(None),
        "hourly" | "daily" | "weekly" => Ok(Some(choice.to_owned())),
        "custom" => cron
            .filter(|c| !c.trim().is_empty())
            .map(Some)
            .ok_or_else(|| Error::invalid("cron", "a custom schedule needs a cron expression")),
        _ => Err(Error::invalid("schedule", "must be none, hourly, daily, weekly or custom")),
    }
}

/// Both jobs' schedules and parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cleanup {
    pub gc: GarbageCollectionSettings,
    pub rotation: AuditRotation,
}

#[server(prefix = "/portal/fn", endpoint = "cleanup")]
pub async fn get_cleanup() -> Result<Cleanup, AppError> {
    let actor = crate::api::session::require_actor().await?;
    let (schedule, parameters) = schedule_of(&actor, GARBAGE_COLLECTION).await?;
    let gc = GarbageCollectionSettings {
        schedule,
        workers: parameters["workers"].as_i64().unwrap_or(1),
        delete_untagged: parameters["delete_untagged"].as_bool().unwrap_or(false),
    };
    let (schedule, parameters) = schedule_of(&actor, AUDIT_ROTATION).await?;
    let rotation = AuditRotation {
        schedule,
        retention_hours: parameters["audit_retention_hour"].as_i64().unwrap_or(24 * 30),
        operations: parameters["include_operations"].as_str().unwrap_or_default().to_owned(),
    };
    Ok(Cleanup { gc, rotation })
}

/// The latest runs of one of the page's jobs.
#[server(prefix = "/portal/fn", endpoint = "recent_runs")]
pub async fn recent_runs(kind: String) -> Result<Runs, AppError> {
    use crate::core::{AppState, db::Window};

    let actor = crate::api::session::require_actor().await?;
    if kind != AUDIT_ROTATION && kind != GARBAGE_COLLECTION {
        return Err(crate::core::Error::NotFound(format!("job {kind:?}")).into());
    }
    let runs = expect_context::<AppState>().jobs.executions(&actor, &kind, Window::new(0, RECENT_RUNS)).await?;
    Ok(Runs {
        total: runs.total,
        items: runs
            .items
            .into_iter()
            .map(|run| {
                let count = |name: &str| run.summary.as_ref().and_then(|s| s[name].as_u64()).unwrap_or(0);
                let outcome = match (&run.summary, kind.as_str()) {
                    (None, _) => Outcome::Unknown,
                    (Some(_), AUDIT_ROTATION) => Outcome::Entries { matched: count("matched") },
                    (Some(_), _) => Outcome::Collected {
                        bytes: count("bytes_freed"),
                        blobs: count("blobs_deleted"),
                        manifests: count("manifests_deleted"),
                        links: count("links_removed"),
                        uploads: count("uploads_removed"),
                    },
                };
                RunItem {
                    id: run.id,
                    trigger: run.trigger.as_str().to_owned(),
                    status: run.status.as_str().to_owned(),
                    created_at: run.created_at,
                    started_at: run.started_at,
                    ended_at: run.ended_at,
                    dry_run: run.parameters["dry_run"].as_bool().unwrap_or(false),
                    outcome,
                    progress: (run.progress_done, run.progress_total),
                    error: run.error,
                }
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
) -> Result<JobSchedule, AppError> {
    use crate::core::{AppState, jobs::AuditPurge};

    let actor = crate::api::session::require_actor().await?;
    let parameters = rotation_parameters(&retention_hours, operations.as_deref().unwrap_or_default(), false)?;
    let cron = chosen_cron(&schedule, cron)?;
    expect_context::<AppState>().jobs.set_schedule(&actor, AuditPurge::KIND, cron.as_deref(), parameters).await?;
    Ok(schedule_of(&actor, AuditPurge::KIND).await?.0)
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

/// Garbage collection's parameters as the forms send them, checked as the
/// job checks them.
#[cfg(feature = "ssr")]
fn gc_parameters(workers: &str, delete_untagged: bool, dry_run: bool) -> Result<serde_json::Value, crate::core::Error> {
    let workers: i64 = workers
        .trim()
        .parse()
        .map_err(|_| crate::core::Error::invalid("workers", "must be a whole number from 1 to 10"))?;
    let parameters = serde_json::json!({ "workers": workers, "delete_untagged": delete_untagged, "dry_run": dry_run });
    crate::core::gc::GarbageCollection::read(&parameters)?;
    Ok(parameters)
}

/// Saves garbage collection's schedule (as for the rotation) with its
/// workers and whether untagged artifacts go too.
#[server(prefix = "/portal/fn", endpoint = "set_garbage_collection")]
pub async fn set_garbage_collection(
    schedule: String,
    cron: Option<String>,
    workers: String,
    delete_untagged: Option<String>,
) -> Result<JobSchedule, AppError> {
    use crate::core::{AppState, gc::GarbageCollection};

    let actor = crate::api::session::require_actor().await?;
    let parameters = gc_parameters(&workers, delete_untagged.is_some(), false)?;
    let cron = chosen_cron(&schedule, cron)?;
    expect_context::<AppState>()
        .jobs
        .set_schedule(&actor, GarbageCollection::KIND, cron.as_deref(), parameters)
        .await?;
    Ok(schedule_of(&actor, GarbageCollection::KIND).await?.0)
}

/// Runs garbage collection now, or (with `dry_run`) reports what would go.
#[server(prefix = "/portal/fn", endpoint = "run_garbage_collection")]
pub async fn run_garbage_collection(
    workers: String,
    delete_untagged: Option<String>,
    dry_run: Option<String>,
) -> Result<i64, AppError> {
    use crate::core::{AppState, gc::GarbageCollection};

    let actor = crate::api::session::require_actor().await?;
    let parameters = gc_parameters(&workers, delete_untagged.is_some(), dry_run.is_some())?;
    Ok(expect_context::<AppState>().jobs.run_now(&actor, GarbageCollection::KIND, parameters).await?)
}

/// The lines a run logged so far.
#[server(prefix = "/portal/fn", endpoint = "job_log")]
pub async fn job_log(id: i64) -> Result<Vec<String>, AppError> {
    use crate::core::AppState;

    let actor = crate::api::session::require_actor().await?;
    let lines = expect_context::<AppState>().jobs.log(&actor, id).await?;
    Ok(lines.into_iter().map(|line| format!("{} {}", line.logged_at.format("%H:%M:%S"), line.message)).collect())
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    #[test]
    fn the_page_names_the_job_services_kinds() {
        assert_eq!(super::AUDIT_ROTATION, crate::core::jobs::AuditPurge::KIND);
        assert_eq!(super::GARBAGE_COLLECTION, crate::core::gc::GarbageCollection::KIND);
    }
}
