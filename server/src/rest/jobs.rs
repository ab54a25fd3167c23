//! What Harbor's job endpoints share (`/system/purgeaudit`, `/system/gc`):
//! a job's schedule (none, hourly, daily, weekly or a custom six-field
//! cron) and parameters, running it now (a schedule of type `Manual`), its
//! history with each run's log, and stopping a run. System administrators
//! only (the job service asks). Each family's module keeps its annotated
//! handlers and names its [`JobApi`].

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    caller::Caller,
    error::{ApiError, ApiResult},
    paging::{Page, PageQuery},
};
use app::core::{
    AppState,
    identity::Actor,
    jobs::{CronSchedule, Execution, LogLine, Schedule, Status, Trigger},
};

/// How Harbor's API names the job kinds (`job_name`, `vendor_type`, `job_type`).
pub const GARBAGE_COLLECTION: &str = "GARBAGE_COLLECTION";
pub const PURGE_AUDIT: &str = "PURGE_AUDIT";
pub const UPLOAD_CLEANUP: &str = "UPLOAD_CLEANUP";

/// A job's log as text: one line per entry, with its time and level.
pub fn log_text(lines: &[LogLine]) -> String {
    lines
        .iter()
        .map(|line| format!("{} [{}] {}\n", line.logged_at.to_rfc3339(), line.level.to_uppercase(), line.message))
        .collect()
}

/// One family of job endpoints.
pub struct JobApi {
    /// The job service's kind.
    pub kind: &'static str,
    /// Where the family lives, `/api/v2.0/system/…`.
    pub path: &'static str,
    /// How Harbor names the job in history.
    pub job_name: &'static str,
    /// Checks a run's parameters before anything is stored or queued.
    pub check: fn(&Value) -> app::core::Result<()>,
}

/// Harbor's `ScheduleObj`.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
pub struct ScheduleObj {
    /// `Hourly`, `Daily`, `Weekly`, `Custom` (with `cron`), `None`, or
    /// `Manual` (run once, now).
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cron: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_scheduled_time: Option<DateTime<Utc>>,
}

/// Harbor's `Schedule` as a request: when, and with which parameters.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ScheduleRequest {
    schedule: ScheduleObj,
    /// Absent or `null` reads as none (harborapi sends `null`).
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
}

/// Harbor's `ExecHistory`: one run, or (for the schedule) what runs when.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ExecHistory {
    id: i64,
    job_name: &'static str,
    /// `Manual` or `Schedule`.
    job_kind: &'static str,
    /// The run's parameters, as JSON text.
    job_parameters: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    schedule: Option<ScheduleObj>,
    /// `Pending`, `Running`, `Success`, `Error` or `Stopped`.
    job_status: &'static str,
    deleted: bool,
    creation_time: DateTime<Utc>,
    update_time: DateTime<Utc>,
}

impl JobApi {
    fn history(&self, execution: Execution) -> ExecHistory {
        ExecHistory {
            id: execution.id,
            job_name: self.job_name,
            job_kind: match execution.trigger {
                Trigger::Manual => "Manual",
                Trigger::Schedule | Trigger::Event => "Schedule",
            },
            job_parameters: execution.parameters.to_string(),
            schedule: None,
            job_status: match execution.status {
                Status::Pending => "Pending",
                Status::Running => "Running",
                Status::Success => "Success",
                Status::Error => "Error",
                Status::Stopped => "Stopped",
                Status::Skipped => "Skipped",
            },
            deleted: false,
            creation_time: execution.created_at,
            update_time: execution.ended_at.or(execution.started_at).unwrap_or(execution.created_at),
        }
    }

    fn schedule_view(&self, schedule: Option<Schedule>) -> ExecHistory {
        let now = Utc::now();
        let (obj, parameters) = match schedule {
            Some(schedule) => (
                ScheduleObj {
                    kind: schedule_type(&schedule.cron).to_owned(),
                    cron: Some(schedule.cron),
                    next_scheduled_time: Some(schedule.next_run_at),
                },
                schedule.parameters.to_string(),
            ),
            None => (ScheduleObj { kind: "None".to_owned(), cron: None, next_scheduled_time: None }, "{}".to_owned()),
        };
        ExecHistory {
            id: 0,
            job_name: self.job_name,
            job_kind: "Schedule",
            job_parameters: parameters,
            schedule: Some(obj),
            job_status: "",
            deleted: false,
            creation_time: now,
            update_time: now,
        }
    }

    pub async fn get_schedule(&self, state: &AppState, caller: Caller) -> ApiResult<Json<ExecHistory>> {
        let actor = caller.signed_in()?;
        Ok(Json(self.schedule_view(state.jobs.schedule(&actor, self.kind).await?)))
    }

    /// POST: 201, with the run's Location for type `Manual`.
    pub async fn create_schedule(
        &self,
        state: &AppState,
        caller: Caller,
        request: ScheduleRequest,
    ) -> ApiResult<Response> {
        let location = self.apply(state, caller, request).await?;
        let mut response = StatusCode::CREATED.into_response();
        if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        Ok(response)
    }

    pub async fn update_schedule(
        &self,
        state: &AppState,
        caller: Caller,
        request: ScheduleRequest,
    ) -> ApiResult<StatusCode> {
        self.apply(state, caller, request).await?;
        Ok(StatusCode::OK)
    }

    /// Sets the schedule, or (type `Manual`) runs once now; the run's location.
    async fn apply(&self, state: &AppState, caller: Caller, request: ScheduleRequest) -> ApiResult<Option<String>> {
        let actor = caller.signed_in()?;
        let parameters = Value::Object(request.parameters.unwrap_or_default());
        // Parameters are checked before anything is stored or queued.
        if request.schedule.kind != "None" {
            (self.check)(&parameters)?;
        }
        let cron = match request.schedule.kind.as_str() {
            "Manual" => {
                let id = state.jobs.run_now(&actor, self.kind, parameters).await?;
                return Ok(Some(format!("{}/{id}", self.path)));
            }
            "None" => None,
            "Hourly" => Some("hourly".to_owned()),
            "Daily" => Some("daily".to_owned()),
            "Weekly" => Some("weekly".to_owned()),
            "Custom" | "Schedule" => Some(
                request
                    .schedule
                    .cron
                    .ok_or_else(|| ApiError::bad_request("schedule.cron: a Custom schedule needs one"))?,
            ),
            other => {
                return Err(ApiError::bad_request(format!(
                    "schedule.type: {other:?} is not Hourly, Daily, Weekly, Custom, None or Manual"
                )));
            }
        };
        state.jobs.set_schedule(&actor, self.kind, cron.as_deref(), parameters).await?;
        Ok(None)
    }

    pub async fn list_history(&self, state: &AppState, caller: Caller, page: PageQuery) -> ApiResult<Response> {
        let page = Page::from_query(&page)?;
        let actor = caller.signed_in()?;
        let runs = state.jobs.executions(&actor, self.kind, page.window()).await?;
        Ok(page.respond(runs, self.path, &[], |run| self.history(run)))
    }

    pub async fn get_run(&self, state: &AppState, caller: Caller, id: i64) -> ApiResult<Json<ExecHistory>> {
        let actor = caller.signed_in()?;
        Ok(Json(self.history(self.run(state, &actor, id).await?)))
    }

    /// The run's log as text, one line per entry.
    pub async fn get_log(&self, state: &AppState, caller: Caller, id: i64) -> ApiResult<Response> {
        let actor = caller.signed_in()?;
        self.run(state, &actor, id).await?;
        let lines = state.jobs.log(&actor, id).await?;
        Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], log_text(&lines)).into_response())
    }

    pub async fn stop_run(&self, state: &AppState, caller: Caller, id: i64) -> ApiResult<StatusCode> {
        let actor = caller.signed_in()?;
        self.run(state, &actor, id).await?;
        state.jobs.stop(&actor, id).await?;
        Ok(StatusCode::OK)
    }

    /// The execution, when it is one of this family's (other jobs' ids are not found here).
    async fn run(&self, state: &AppState, actor: &Actor, id: i64) -> ApiResult<Execution> {
        let execution = state.jobs.execution(actor, id).await?;
        if execution.kind != self.kind {
            return Err(app::core::Error::NotFound(format!("{} run {id}", self.job_name)).into());
        }
        Ok(execution)
    }
}

/// Harbor's name for a schedule's cron: the presets by name, else `Custom`.
fn schedule_type(cron: &str) -> &'static str {
    match CronSchedule::preset_of(cron) {
        Some("hourly") => "Hourly",
        Some("daily") => "Daily",
        Some("weekly") => "Weekly",
        _ => "Custom",
    }
}
