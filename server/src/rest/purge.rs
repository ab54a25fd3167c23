//! `/api/v2.0/system/purgeaudit` in Harbor's shapes: audit-log rotation's
//! schedule (none, hourly, daily, weekly or a custom six-field cron) and
//! parameters, running it now (a schedule of type `Manual`), its history
//! with each run's log, and stopping a run. System administrators only.

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    body::ApiJson,
    caller::Caller,
    error::{ApiError, ApiResult, Errors},
    paging::{ApiPath, ApiQuery, Page, PageQuery},
};
use app::core::{
    AppState,
    jobs::{AuditPurge, Execution, Schedule, Status, Trigger},
};

const PATH: &str = "/api/v2.0/system/purgeaudit";
/// How Harbor names this job in history.
const JOB_NAME: &str = "PURGE_AUDIT";

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

/// Harbor's `Schedule` as a request: when, and with which parameters
/// (`audit_retention_hour`, `include_operations`, `dry_run`).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ScheduleRequest {
    schedule: ScheduleObj,
    #[serde(default)]
    parameters: Map<String, Value>,
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

fn history(execution: Execution) -> ExecHistory {
    ExecHistory {
        id: execution.id,
        job_name: JOB_NAME,
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
        },
        deleted: false,
        creation_time: execution.created_at,
        update_time: execution.ended_at.or(execution.started_at).unwrap_or(execution.created_at),
    }
}

/// Harbor's name for a schedule's cron: the presets by name, else `Custom`.
fn schedule_type(cron: &str) -> &'static str {
    match cron {
        "0 0 * * * *" => "Hourly",
        "0 0 0 * * *" => "Daily",
        "0 0 0 * * 0" => "Weekly",
        _ => "Custom",
    }
}

fn schedule_view(schedule: Option<Schedule>) -> ExecHistory {
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
        job_name: JOB_NAME,
        job_kind: "Schedule",
        job_parameters: parameters,
        schedule: Some(obj),
        job_status: "",
        deleted: false,
        creation_time: now,
        update_time: now,
    }
}

#[utoipa::path(get, path = "/api/v2.0/system/purgeaudit/schedule", tag = "purge", responses((status = 200, body = ExecHistory), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn get_schedule(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<ExecHistory>> {
    let actor = caller.signed_in()?;
    Ok(Json(schedule_view(state.jobs.schedule(&actor, AuditPurge::KIND).await?)))
}

#[utoipa::path(post, path = "/api/v2.0/system/purgeaudit/schedule", tag = "purge", request_body = ScheduleRequest, responses((status = 201, description = "Scheduled, or (type Manual) started"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn create_schedule(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<ScheduleRequest>,
) -> ApiResult<Response> {
    let location = apply(&state, caller, request).await?;
    let mut response = StatusCode::CREATED.into_response();
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[utoipa::path(put, path = "/api/v2.0/system/purgeaudit/schedule", tag = "purge", request_body = ScheduleRequest, responses((status = 200, description = "Scheduled, or (type Manual) started"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn update_schedule(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<ScheduleRequest>,
) -> ApiResult<StatusCode> {
    apply(&state, caller, request).await?;
    Ok(StatusCode::OK)
}

/// Sets the schedule, or (type `Manual`) runs once now; the run's location.
async fn apply(state: &AppState, caller: Caller, request: ScheduleRequest) -> ApiResult<Option<String>> {
    let actor = caller.signed_in()?;
    let parameters = Value::Object(request.parameters);
    // Parameters are checked before anything is stored or queued.
    if request.schedule.kind != "None" {
        AuditPurge::read(&parameters)?;
    }
    let cron = match request.schedule.kind.as_str() {
        "Manual" => {
            let id = state.jobs.run_now(&actor, AuditPurge::KIND, parameters).await?;
            return Ok(Some(format!("{PATH}/{id}")));
        }
        "None" => None,
        "Hourly" => Some("hourly".to_owned()),
        "Daily" => Some("daily".to_owned()),
        "Weekly" => Some("weekly".to_owned()),
        "Custom" | "Schedule" => Some(
            request.schedule.cron.ok_or_else(|| ApiError::bad_request("schedule.cron: a Custom schedule needs one"))?,
        ),
        other => {
            return Err(ApiError::bad_request(format!(
                "schedule.type: {other:?} is not Hourly, Daily, Weekly, Custom, None or Manual"
            )));
        }
    };
    state.jobs.set_schedule(&actor, AuditPurge::KIND, cron.as_deref(), parameters).await?;
    Ok(None)
}

#[derive(Deserialize)]
pub struct ListQuery {
    page: Option<u32>,
    page_size: Option<u32>,
}

#[utoipa::path(get, path = "/api/v2.0/system/purgeaudit", tag = "purge", params(("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 10)")), responses((status = 200, body = [ExecHistory], headers(("X-Total-Count" = i64, description = "Items in all pages"), ("Link" = String, description = "Neighbouring pages"))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn list_history(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let page = Page::from_query(&PageQuery { page: query.page, page_size: query.page_size })?;
    let actor = caller.signed_in()?;
    let runs = state.jobs.executions(&actor, AuditPurge::KIND, page.window()).await?;
    Ok(page.respond(runs, PATH, &[], history))
}

#[utoipa::path(get, path = "/api/v2.0/system/purgeaudit/{purge_id}", tag = "purge", params(("purge_id" = i64, Path)), responses((status = 200, body = ExecHistory), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn get_run(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ExecHistory>> {
    let actor = caller.signed_in()?;
    Ok(Json(history(purge_run(&state, &actor, id).await?)))
}

#[utoipa::path(get, path = "/api/v2.0/system/purgeaudit/{purge_id}/log", tag = "purge", params(("purge_id" = i64, Path)), responses((status = 200, description = "The run's log, one line per entry", content_type = "text/plain", body = String), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn get_log(State(state): State<AppState>, caller: Caller, ApiPath(id): ApiPath<i64>) -> ApiResult<Response> {
    let actor = caller.signed_in()?;
    purge_run(&state, &actor, id).await?;
    let lines = state.jobs.log(&actor, id).await?;
    let text: String = lines
        .iter()
        .map(|line| format!("{} [{}] {}\n", line.logged_at.to_rfc3339(), line.level.to_uppercase(), line.message))
        .collect();
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

#[utoipa::path(put, path = "/api/v2.0/system/purgeaudit/{purge_id}", tag = "purge", params(("purge_id" = i64, Path)), responses((status = 200, description = "Stopped, or asked to stop"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors), (status = 409, description = "The run has already ended", body = Errors)), security((), ("basic" = [])))]
pub async fn stop_run(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    purge_run(&state, &actor, id).await?;
    state.jobs.stop(&actor, id).await?;
    Ok(StatusCode::OK)
}

/// The execution, when it is an audit-log rotation (other jobs' ids are not found here).
async fn purge_run(state: &AppState, actor: &app::core::identity::Actor, id: i64) -> ApiResult<Execution> {
    let execution = state.jobs.execution(actor, id).await?;
    if execution.kind != AuditPurge::KIND {
        return Err(app::core::Error::NotFound(format!("purge run {id}")).into());
    }
    Ok(execution)
}
