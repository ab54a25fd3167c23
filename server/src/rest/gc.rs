//! `/api/v2.0/system/gc` in Harbor's shapes: garbage collection's schedule
//! and parameters (`workers` 1–10, `dry_run`, `delete_untagged`), running
//! it now, its history with each run's log, and stopping a run (see
//! [`super::jobs`]).

use axum::{Json, extract::State, http::StatusCode, response::Response};
use serde::Deserialize;

use super::{
    body::ApiJson,
    caller::Caller,
    error::{ApiResult, Errors},
    jobs::{ExecHistory, GARBAGE_COLLECTION, JobApi, ScheduleRequest},
    paging::{ApiPath, ApiQuery, PageQuery},
};
use app::core::{AppState, gc::GarbageCollection};

const GC: JobApi = JobApi {
    kind: GarbageCollection::KIND,
    path: "/api/v2.0/system/gc",
    job_name: GARBAGE_COLLECTION,
    check: |parameters| GarbageCollection::read(parameters).map(|_| ()),
};

#[utoipa::path(get, path = "/api/v2.0/system/gc/schedule", tag = "gc", responses((status = 200, body = ExecHistory), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn get_schedule(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<ExecHistory>> {
    GC.get_schedule(&state, caller).await
}

#[utoipa::path(post, path = "/api/v2.0/system/gc/schedule", tag = "gc", request_body = ScheduleRequest, responses((status = 201, description = "Scheduled, or (type Manual) started"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn create_schedule(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<ScheduleRequest>,
) -> ApiResult<Response> {
    GC.create_schedule(&state, caller, request).await
}

#[utoipa::path(put, path = "/api/v2.0/system/gc/schedule", tag = "gc", request_body = ScheduleRequest, responses((status = 200, description = "Scheduled, or (type Manual) started"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn update_schedule(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<ScheduleRequest>,
) -> ApiResult<StatusCode> {
    GC.update_schedule(&state, caller, request).await
}

#[derive(Deserialize)]
pub struct ListQuery {
    page: Option<u32>,
    page_size: Option<u32>,
}

#[utoipa::path(get, path = "/api/v2.0/system/gc", tag = "gc", params(("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 10)")), responses((status = 200, body = [ExecHistory], headers(("X-Total-Count" = i64, description = "Items in all pages"), ("Link" = String, description = "Neighbouring pages"))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn list_history(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    GC.list_history(&state, caller, PageQuery { page: query.page, page_size: query.page_size }).await
}

#[utoipa::path(get, path = "/api/v2.0/system/gc/{gc_id}", tag = "gc", params(("gc_id" = i64, Path)), responses((status = 200, body = ExecHistory), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn get_run(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ExecHistory>> {
    GC.get_run(&state, caller, id).await
}

#[utoipa::path(get, path = "/api/v2.0/system/gc/{gc_id}/log", tag = "gc", params(("gc_id" = i64, Path)), responses((status = 200, description = "The run's log, one line per entry", content_type = "text/plain", body = String), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn get_log(State(state): State<AppState>, caller: Caller, ApiPath(id): ApiPath<i64>) -> ApiResult<Response> {
    GC.get_log(&state, caller, id).await
}

#[utoipa::path(put, path = "/api/v2.0/system/gc/{gc_id}", tag = "gc", params(("gc_id" = i64, Path)), responses((status = 200, description = "Stopped, or asked to stop"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors), (status = 409, description = "The run has already ended", body = Errors)), security((), ("basic" = [])))]
pub async fn stop_run(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    GC.stop_run(&state, caller, id).await
}
