//! Harbor's views of the job service: `/schedules` (every job's schedule,
//! and whether its queue is paused) and `/jobservice` (the nodes whose
//! runners take jobs as worker pools with their workers, each job kind's
//! queue with pause, resume and stop, and a job's log and stop). System
//! administrators only (the job service asks).

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    body::ApiJson,
    caller::Caller,
    error::{ApiError, ApiResult, Errors},
    jobs::{GARBAGE_COLLECTION, PURGE_AUDIT, UPLOAD_CLEANUP},
    paging::{ApiPath, ApiQuery, Page, PageQuery},
};
use app::core::{
    AppState,
    db::{self, Window},
    gc::GarbageCollection,
    jobs::{AuditPurge, UploadCleanup},
};

/// Berth's job kinds and the job types Harbor's API names them by.
const JOB_TYPES: [(&str, &str); 3] = [
    (GarbageCollection::KIND, GARBAGE_COLLECTION),
    (AuditPurge::KIND, PURGE_AUDIT),
    (UploadCleanup::KIND, UPLOAD_CLEANUP),
];

fn job_type_of(kind: &str) -> String {
    JOB_TYPES.iter().find(|(k, _)| *k == kind).map_or_else(|| kind.to_uppercase(), |(_, name)| (*name).to_owned())
}

/// The kinds a path's `job_type` names: one, or every kind for `all`.
fn kinds_of(job_type: &str) -> ApiResult<Vec<&'static str>> {
    if job_type.eq_ignore_ascii_case("all") {
        return Ok(JOB_TYPES.iter().map(|(kind, _)| *kind).collect());
    }
    JOB_TYPES.iter().find(|(_, name)| name.eq_ignore_ascii_case(job_type)).map(|(kind, _)| vec![*kind]).ok_or_else(
        || {
            let known: Vec<&str> = JOB_TYPES.iter().map(|(_, name)| *name).collect();
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("job type {job_type:?} is not one of all, {}", known.join(", ")),
            )
        },
    )
}

/// Harbor's `ScheduleTask`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ScheduleTask {
    id: i64,
    /// The job type it runs.
    vendor_type: String,
    vendor_id: i64,
    /// Six fields with seconds, in UTC.
    cron: String,
    update_time: DateTime<Utc>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    page: Option<u32>,
    page_size: Option<u32>,
}

#[utoipa::path(get, path = "/api/v2.0/schedules", tag = "schedule", params(("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 10)")), responses((status = 200, body = [ScheduleTask], headers(("X-Total-Count" = i64, description = "Items in all pages"), ("Link" = String, description = "Neighbouring pages"))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn list_schedules(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let page = Page::from_query(&PageQuery { page: query.page, page_size: query.page_size })?;
    let actor = caller.signed_in()?;
    let schedules = state.jobs.schedules(&actor).await?;
    let all = schedules.len() as i64;
    let Window { offset, limit } = page.window();
    let items = schedules.into_iter().skip(offset as usize).take(limit as usize).collect();
    Ok(page.respond(db::Page::at(page.window(), items, all), "/api/v2.0/schedules", &[], |schedule| ScheduleTask {
        // A kind has one schedule: its place in the table is its id.
        id: JOB_TYPES.iter().position(|(kind, _)| *kind == schedule.kind).map_or(0, |n| n as i64 + 1),
        // A per-subject kind (`retention:7`) is Harbor's vendor type and id.
        vendor_type: job_type_of(schedule.kind.split_once(':').map_or(schedule.kind.as_str(), |(family, _)| family)),
        vendor_id: schedule.kind.split_once(':').and_then(|(_, id)| id.parse().ok()).unwrap_or(-1),
        cron: schedule.cron,
        update_time: schedule.updated_at,
    }))
}

/// Harbor's `SchedulerStatus`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SchedulerStatus {
    paused: bool,
}

#[utoipa::path(get, path = "/api/v2.0/schedules/{job_type}/paused", tag = "schedule", params(("job_type" = String, Path, description = "A job type, or `all`")), responses((status = 200, body = SchedulerStatus), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "No such job type", body = Errors)), security((), ("basic" = [])))]
pub async fn schedule_paused(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(job_type): ApiPath<String>,
) -> ApiResult<Json<SchedulerStatus>> {
    let actor = caller.signed_in()?;
    let kinds = kinds_of(&job_type)?;
    let queues = state.jobs.queues(&actor, &kinds).await?;
    let paused = queues.iter().filter(|queue| kinds.contains(&queue.kind.as_str())).all(|queue| queue.paused);
    Ok(Json(SchedulerStatus { paused }))
}

/// Harbor's `WorkerPool`: a node whose runner takes jobs.
#[derive(Serialize, utoipa::ToSchema)]
pub struct WorkerPool {
    pid: i64,
    worker_pool_id: String,
    start_at: DateTime<Utc>,
    heartbeat_at: DateTime<Utc>,
    /// Jobs it runs at once.
    concurrency: i64,
    host: String,
}

#[utoipa::path(get, path = "/api/v2.0/jobservice/pools", tag = "jobservice", responses((status = 200, body = [WorkerPool]), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn list_pools(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<WorkerPool>>> {
    let actor = caller.signed_in()?;
    let nodes = state.jobs.nodes(&actor).await?;
    Ok(Json(
        nodes
            .into_iter()
            .map(|node| WorkerPool {
                pid: node.pid,
                worker_pool_id: node.node,
                start_at: node.started_at,
                heartbeat_at: node.heartbeat_at,
                concurrency: node.concurrency,
                host: node.host,
            })
            .collect(),
    ))
}

/// Harbor's `Worker`: one of a node's slots, busy with a job or idle.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Worker {
    id: String,
    pool_id: String,
    /// The job type it runs; empty when idle.
    job_name: String,
    /// The execution it runs; empty when idle.
    job_id: String,
    start_at: Option<DateTime<Utc>>,
    check_in: String,
    checkin_at: Option<DateTime<Utc>>,
}

#[utoipa::path(get, path = "/api/v2.0/jobservice/pools/{pool_id}/workers", tag = "jobservice", params(("pool_id" = String, Path, description = "A pool (node) id, or `all`")), responses((status = 200, body = [Worker]), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "No such pool", body = Errors)), security((), ("basic" = [])))]
pub async fn list_workers(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(pool_id): ApiPath<String>,
) -> ApiResult<Json<Vec<Worker>>> {
    let actor = caller.signed_in()?;
    let nodes: Vec<_> =
        state.jobs.nodes(&actor).await?.into_iter().filter(|node| pool_id == "all" || node.node == pool_id).collect();
    if nodes.is_empty() && pool_id != "all" {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("no worker pool {pool_id:?} is taking jobs")));
    }
    let mut workers = Vec::new();
    for node in nodes {
        for slot in 0..node.concurrency.max(node.running.len() as i64) {
            let busy = node.running.get(slot as usize);
            workers.push(Worker {
                id: format!("{}-{slot}", node.node),
                pool_id: node.node.clone(),
                job_name: busy.map(|run| job_type_of(&run.kind)).unwrap_or_default(),
                job_id: busy.map(|run| run.id.to_string()).unwrap_or_default(),
                start_at: busy.and_then(|run| run.started_at),
                check_in: String::new(),
                checkin_at: Some(node.heartbeat_at),
            });
        }
    }
    Ok(Json(workers))
}

/// Harbor's `JobQueue`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct JobQueue {
    job_type: String,
    /// Executions waiting.
    count: i64,
    /// Seconds the one waiting longest has waited.
    latency: i64,
    paused: bool,
}

#[utoipa::path(get, path = "/api/v2.0/jobservice/queues", tag = "jobservice", responses((status = 200, body = [JobQueue]), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn list_queues(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<JobQueue>>> {
    let actor = caller.signed_in()?;
    let kinds: Vec<&str> = JOB_TYPES.iter().map(|(kind, _)| *kind).collect();
    let now = Utc::now();
    let queues = state.jobs.queues(&actor, &kinds).await?;
    Ok(Json(
        queues
            .into_iter()
            .map(|queue| JobQueue {
                job_type: job_type_of(&queue.kind),
                count: queue.pending,
                latency: queue.oldest_pending_at.map_or(0, |at| (now - at).num_seconds().max(0)),
                paused: queue.paused,
            })
            .collect(),
    ))
}

/// Harbor's `ActionRequest`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ActionRequest {
    /// `stop`, and for queues also `pause` and `resume`.
    action: String,
}

#[utoipa::path(put, path = "/api/v2.0/jobservice/queues/{job_type}", tag = "jobservice", params(("job_type" = String, Path, description = "A job type, or `all`")), request_body = ActionRequest, responses((status = 200, description = "Done"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "No such job type", body = Errors)), security((), ("basic" = [])))]
pub async fn act_on_queue(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(job_type): ApiPath<String>,
    ApiJson(request): ApiJson<ActionRequest>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    let kinds = kinds_of(&job_type)?;
    for kind in kinds {
        match request.action.as_str() {
            "stop" => {
                state.jobs.stop_kind(&actor, kind).await?;
            }
            "pause" => state.jobs.set_paused(&actor, kind, true).await?,
            "resume" => state.jobs.set_paused(&actor, kind, false).await?,
            other => return Err(ApiError::bad_request(format!("action: {other:?} is not stop, pause or resume"))),
        }
    }
    Ok(StatusCode::OK)
}

#[utoipa::path(put, path = "/api/v2.0/jobservice/jobs/{job_id}", tag = "jobservice", params(("job_id" = i64, Path)), request_body = ActionRequest, responses((status = 200, description = "Stopped, or asked to stop"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors), (status = 409, description = "The job has already ended", body = Errors)), security((), ("basic" = [])))]
pub async fn act_on_job(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<ActionRequest>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    if request.action != "stop" {
        return Err(ApiError::bad_request(format!("action: {:?} is not stop", request.action)));
    }
    state.jobs.stop(&actor, id).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(get, path = "/api/v2.0/jobservice/jobs/{job_id}/log", tag = "jobservice", params(("job_id" = i64, Path)), responses((status = 200, description = "The job's log, one line per entry", content_type = "text/plain", body = String), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn job_log(State(state): State<AppState>, caller: Caller, ApiPath(id): ApiPath<i64>) -> ApiResult<Response> {
    let actor = caller.signed_in()?;
    let lines = state.jobs.log(&actor, id).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], super::jobs::log_text(&lines)).into_response())
}
