//! `/api/v2.0/quotas` in Harbor's shapes: each project's storage limit
//! (`hard.storage`, -1 for none) against what it holds (`used.storage`,
//! bytes: each blob once per project, and the manifests), listed, read
//! and changed. A quota's id is its project's. System administrators only.

use axum::{Json, extract::State, http::StatusCode, response::Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    body::ApiJson,
    caller::Caller,
    error::Errors,
    error::{ApiError, ApiResult},
    paging::{ApiPath, ApiQuery, Page, PageQuery},
};
use app::core::{
    AppState,
    db::Page as Listed,
    projects::{ProjectId, Quota},
};

const PATH: &str = "/api/v2.0/quotas";

/// Harbor's `QuotaRefObject` for a project.
#[derive(Serialize, utoipa::ToSchema)]
pub struct QuotaRef {
    id: i64,
    name: String,
    owner_name: String,
}

/// Harbor's `ResourceList`: bytes of storage.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// Bytes; -1 for no limit.
    storage: i64,
}

/// Harbor's `Quota`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct QuotaView {
    id: i64,
    #[serde(rename = "ref")]
    reference: QuotaRef,
    hard: Resources,
    used: Resources,
    creation_time: DateTime<Utc>,
    update_time: DateTime<Utc>,
}

fn view(quota: Quota) -> QuotaView {
    let project = quota.project;
    QuotaView {
        id: project.id.0,
        reference: QuotaRef {
            id: project.id.0,
            name: project.name.to_string(),
            owner_name: project.owner_name.unwrap_or_default(),
        },
        hard: Resources { storage: project.storage_quota.unwrap_or(-1) },
        used: Resources { storage: quota.used },
        creation_time: project.created_at,
        update_time: project.updated_at,
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    page: Option<u32>,
    page_size: Option<u32>,
    reference: Option<String>,
    reference_id: Option<String>,
    sort: Option<String>,
}

#[utoipa::path(get, path = "/api/v2.0/quotas", tag = "quota", params(("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 10)"), ("reference" = Option<String>, Query, pattern = "^project$", description = "What the quotas are of: project"), ("reference_id" = Option<String>, Query, pattern = "^[0-9]{1,18}$", description = "Only the quota of this project"), ("sort" = Option<String>, Query, pattern = "^$", description = "Quotas come by project name; no other order")), responses((status = 200, body = [QuotaView], headers(("X-Total-Count" = i64, description = "Items in all pages"), ("Link" = String, description = "Neighbouring pages"))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn list_quotas(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let page = Page::from_query(&PageQuery { page: query.page, page_size: query.page_size })?;
    let actor = caller.signed_in()?;
    if query.reference.as_deref().is_some_and(|r| !r.is_empty() && r != "project") {
        return Err(ApiError::bad_request("reference: Berth keeps quotas of projects only"));
    }
    if query.sort.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::bad_request("sort: quotas come by project name; no other order"));
    }
    let carried = [("reference", query.reference.as_deref()), ("reference_id", query.reference_id.as_deref())];
    let quotas = match query.reference_id.as_deref().filter(|id| !id.is_empty()) {
        None => state.projects.quotas(&actor, page.window()).await?,
        Some(id) => {
            let id = id.parse().map_err(|_| ApiError::bad_request("reference_id: must be a project id"))?;
            // One project's quota, as a list of one (or none, for a project that is gone).
            match state.projects.quota(&actor, ProjectId(id)).await {
                Ok(quota) => Listed { items: vec![quota], total: 1, has_previous: false, has_next: false },
                Err(app::core::Error::NotFound(_)) => {
                    Listed { items: Vec::new(), total: 0, has_previous: false, has_next: false }
                }
                Err(error) => return Err(error.into()),
            }
        }
    };
    Ok(page.respond(quotas, PATH, &carried, view))
}

#[utoipa::path(get, path = "/api/v2.0/quotas/{id}", tag = "quota", params(("id" = i64, Path, description = "The project's id")), responses((status = 200, body = QuotaView), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn get_quota(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<QuotaView>> {
    let actor = caller.signed_in()?;
    Ok(Json(view(state.projects.quota(&actor, ProjectId(id)).await?)))
}

/// Harbor's `QuotaUpdateReq`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaUpdate {
    hard: Resources,
}

#[utoipa::path(put, path = "/api/v2.0/quotas/{id}", tag = "quota", params(("id" = i64, Path, description = "The project's id")), request_body = QuotaUpdate, responses((status = 200, description = "Changed"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn update_quota(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<QuotaUpdate>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    let limit = match request.hard.storage {
        -1 => None,
        bytes if bytes > 0 => Some(bytes),
        _ => return Err(ApiError::bad_request("hard.storage: bytes (at least 1), or -1 for no limit")),
    };
    state.projects.set_quota(&actor, ProjectId(id), limit).await?;
    Ok(StatusCode::OK)
}
