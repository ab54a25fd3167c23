//! `/api/v2.0/replication/executions` in Harbor's shapes: start a policy
//! ("replicate now"), list and read executions with their task counts,
//! stop one, list its tasks and read a task's log. System administrators
//! only (the core checks).

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    body::ApiJson,
    caller::Caller,
    error::{ApiError, ApiResult, Errors},
    paging::{ApiPath, ApiQuery, Page, PageQuery, whole_number},
};
use app::core::{
    AppState, Error,
    jobs::{Status, Trigger},
    replication::{
        ExecutionView, PolicyId,
        tasks::{Task, TaskStatus},
    },
};

const PATH: &str = "/api/v2.0/replication/executions";

/// Harbor's `ReplicationExecution`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ExecutionBody {
    id: i64,
    policy_id: i64,
    status: &'static str,
    status_text: String,
    trigger: &'static str,
    start_time: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<DateTime<Utc>>,
    total: i64,
    failed: i64,
    succeed: i64,
    in_progress: i64,
    stopped: i64,
}

fn execution_body(view: ExecutionView) -> ExecutionBody {
    let execution = view.execution;
    ExecutionBody {
        id: execution.id,
        policy_id: view.policy.map_or(0, |p| p.0),
        status: match execution.status {
            Status::Pending | Status::Running => "InProgress",
            Status::Success => "Succeed",
            Status::Error => "Failed",
            Status::Stopped => "Stopped",
            Status::Skipped => "Skipped",
        },
        status_text: execution.error.unwrap_or_default(),
        trigger: match execution.trigger {
            Trigger::Manual => "manual",
            Trigger::Schedule => "scheduled",
            Trigger::Event => "event_based",
        },
        start_time: execution.started_at.unwrap_or(execution.created_at),
        end_time: execution.ended_at,
        total: view.totals.total,
        failed: view.totals.failed,
        succeed: view.totals.succeeded,
        in_progress: view.totals.in_progress,
        stopped: view.totals.stopped,
    }
}

/// Harbor's `ReplicationTask`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TaskBody {
    id: i64,
    execution_id: i64,
    status: &'static str,
    job_id: String,
    operation: String,
    resource_type: String,
    src_resource: String,
    dst_resource: String,
    /// Bytes sent (blobs the destination had already count nothing).
    bytes: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<DateTime<Utc>>,
}

fn task_body(task: Task) -> TaskBody {
    TaskBody {
        id: task.id,
        execution_id: task.execution_id,
        status: match task.status {
            TaskStatus::Pending => "Pending",
            TaskStatus::Running => "InProgress",
            TaskStatus::Succeeded => "Succeed",
            TaskStatus::Failed => "Failed",
            TaskStatus::Stopped => "Stopped",
        },
        job_id: task.id.to_string(),
        operation: task.operation,
        resource_type: task.resource_type,
        src_resource: task.src_resource,
        dst_resource: task.dst_resource,
        bytes: task.bytes,
        start_time: task.started_at,
        end_time: task.ended_at,
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    page: Option<u32>,
    page_size: Option<u32>,
    policy_id: Option<i64>,
}

#[utoipa::path(get, path = "/api/v2.0/replication/executions", tag = "replication", params(("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 10)"), ("policy_id" = Option<i64>, Query, description = "One policy's executions")), responses((status = 200, body = [ExecutionBody], headers(("X-Total-Count" = i64, description = "Items in all pages"), ("Link" = String, description = "Neighbouring pages"))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn list_executions(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let page = Page::from_query(&PageQuery { page: query.page, page_size: query.page_size })?;
    let actor = caller.signed_in()?;
    let listed = state.replication.executions(&actor, query.policy_id.map(PolicyId), page.window()).await?;
    let policy = query.policy_id.map(|id| id.to_string());
    Ok(page.respond(listed, PATH, &[("policy_id", policy.as_deref())], execution_body))
}

/// Harbor's `StartReplicationExecution`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct StartExecution {
    #[serde(deserialize_with = "whole_number")]
    #[schema(value_type = i64)]
    policy_id: i64,
}

#[utoipa::path(post, path = "/api/v2.0/replication/executions", tag = "replication", request_body = StartExecution, responses((status = 201, description = "Queued", headers(("Location" = String))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "No such policy", body = Errors), (status = 412, description = "The policy is disabled", body = Errors)), security((), ("basic" = [])))]
pub async fn start_execution(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<StartExecution>,
) -> ApiResult<Response> {
    let actor = caller.signed_in()?;
    let id = match state.replication.start(&actor, PolicyId(request.policy_id)).await {
        Ok(id) => id,
        Err(Error::Conflict(message)) => return Err(ApiError::new(StatusCode::PRECONDITION_FAILED, message)),
        Err(other) => return Err(other.into()),
    };
    let location = HeaderValue::from_str(&format!("{PATH}/{id}")).expect("a number makes a header value");
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}

#[utoipa::path(get, path = "/api/v2.0/replication/executions/{id}", tag = "replication", params(("id" = i64, Path)), responses((status = 400, description = "Bad request (an id that is not a number)", body = Errors), (status = 200, body = ExecutionBody), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn get_execution(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ExecutionBody>> {
    let actor = caller.signed_in()?;
    Ok(Json(execution_body(state.replication.execution(&actor, id).await?)))
}

#[utoipa::path(put, path = "/api/v2.0/replication/executions/{id}", tag = "replication", params(("id" = i64, Path)), responses((status = 400, description = "Bad request (an id that is not a number)", body = Errors), (status = 200, description = "Asked to stop"), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors), (status = 409, description = "Already ended", body = Errors)), security((), ("basic" = [])))]
pub async fn stop_execution(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    state.replication.stop(&actor, id).await?;
    Ok(StatusCode::OK)
}

#[derive(Deserialize)]
pub struct TaskQuery {
    page: Option<u32>,
    page_size: Option<u32>,
}

#[utoipa::path(get, path = "/api/v2.0/replication/executions/{id}/tasks", tag = "replication", params(("id" = i64, Path), ("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 10)")), responses((status = 200, body = [TaskBody], headers(("X-Total-Count" = i64, description = "Items in all pages"), ("Link" = String, description = "Neighbouring pages"))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn list_tasks(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<TaskQuery>,
) -> ApiResult<Response> {
    let page = Page::from_query(&PageQuery { page: query.page, page_size: query.page_size })?;
    let actor = caller.signed_in()?;
    let listed = state.replication.tasks(&actor, id, page.window()).await?;
    Ok(page.respond(listed, &format!("{PATH}/{id}/tasks"), &[], task_body))
}

#[utoipa::path(get, path = "/api/v2.0/replication/executions/{id}/tasks/{task_id}/log", tag = "replication", params(("id" = i64, Path), ("task_id" = i64, Path)), responses((status = 400, description = "Bad request (an id that is not a number)", body = Errors), (status = 200, description = "The task's log", content_type = "text/plain", body = String), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn task_log(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, task_id)): ApiPath<(i64, i64)>,
) -> ApiResult<Response> {
    let actor = caller.signed_in()?;
    let text = state.replication.task_log(&actor, id, task_id).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}
