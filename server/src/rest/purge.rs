//! `/api/v2.0/system/purgeaudit` in Harbor's shapes: audit-log rotation's
//! schedule and parameters (`audit_retention_hour`, `include_operations`,
//! `dry_run`), running it now, its history with each run's log, and
//! stopping a run (see [`super::jobs`]).

use axum::{Json, extract::State, http::StatusCode, response::Response};
use serde::Deserialize;

use super::{
    body::ApiJson,
    caller::Caller,
    error::{ApiResult, Errors},
    jobs::{ExecHistory, JobApi, PURGE_AUDIT, ScheduleRequest},
    paging::{ApiPath, ApiQuery, PageQuery},
};
use app::core::{AppState, jobs::AuditPurge};

const PURGE: JobApi = JobApi {
    kind: AuditPurge::KIND,
    path: "/api/v2.0/system/purgeaudit",
    job_name: PURGE_AUDIT,
    check: |parameters| AuditPurge::read(parameters).map(|_| ()),
};

#[utoipa::path(get, path = "/api/v2.0/system/purgeaudit/schedule", tag = "purge", responses((status = 200, body = ExecHistory), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn get_schedule(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<ExecHistory>> {
    PURGE.get_schedule(&state, caller).await
}

#[utoipa::path(post, path = "/api/v2.0/system/purgeaudit/schedule", tag = "purge", request_body = ScheduleRequest, responses((status = 201, description = "Scheduled, or (type Manual) started"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn create_schedule(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<ScheduleRequest>,
) -> ApiResult<Response> {
    PURGE.create_schedule(&state, caller, request).await
}

#[utoipa::path(put, path = "/api/v2.0/system/purgeaudit/schedule", tag = "purge", request_body = ScheduleRequest, responses((status = 200, description = "Scheduled, or (type Manual) started"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn update_schedule(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<ScheduleRequest>,
) -> ApiResult<StatusCode> {
    PURGE.update_schedule(&state, caller, request).await
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
    PURGE.list_history(&state, caller, PageQuery { page: query.page, page_size: query.page_size }).await
}

#[utoipa::path(get, path = "/api/v2.0/system/purgeaudit/{purge_id}", tag = "purge", params(("purge_id" = i64, Path)), responses((status = 200, body = ExecHistory), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn get_run(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ExecHistory>> {
    PURGE.get_run(&state, caller, id).await
}

#[utoipa::path(get, path = "/api/v2.0/system/purgeaudit/{purge_id}/log", tag = "purge", params(("purge_id" = i64, Path)), responses((status = 200, description = "The run's log, one line per entry", content_type = "text/plain", body = String), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn get_log(State(state): State<AppState>, caller: Caller, ApiPath(id): ApiPath<i64>) -> ApiResult<Response> {
    PURGE.get_log(&state, caller, id).await
}

#[utoipa::path(put, path = "/api/v2.0/system/purgeaudit/{purge_id}", tag = "purge", params(("purge_id" = i64, Path)), responses((status = 200, description = "Stopped, or asked to stop"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors), (status = 409, description = "The run has already ended", body = Errors)), security((), ("basic" = [])))]
pub async fn stop_run(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    PURGE.stop_run(&state, caller, id).await
}
