//! `/api/v2.0/projects` in Harbor's shapes: list (paged, filtered by what
//! the caller may see), create, the `HEAD ?project_name=` existence check,
//! get, update (public flag), delete (empty projects only) and summary. A
//! project is named by name or id (`X-Is-Resource-Name: true` forces the
//! name). The same project service the portal and `/v2` use decides.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    caller::Caller,
    error::Errors,
    error::{ApiError, ApiResult},
    paging::{ApiPath, ApiQuery, Condition, Page, PageQuery, parse_q, parse_sort},
};
use app::core::{
    AppState, Error,
    projects::{ListOptions, NewProject, Project, ProjectId, ProjectSort},
};

const PATH: &str = "/api/v2.0/projects";

/// Harbor's `Project`, as far as Berth has its fields.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProjectView {
    project_id: i64,
    name: String,
    owner_id: Option<i64>,
    owner_name: Option<String>,
    creation_time: DateTime<Utc>,
    update_time: DateTime<Utc>,
    deleted: bool,
    registry_id: Option<i64>,
    repo_count: i64,
    metadata: Metadata,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Metadata {
    /// Harbor writes booleans in project metadata as strings.
    public: &'static str,
    /// The project's tag retention policy, as Harbor writes it (a string).
    #[serde(skip_serializing_if = "Option::is_none")]
    retention_id: Option<String>,
}

impl From<Project> for ProjectView {
    fn from(project: Project) -> Self {
        Self {
            project_id: project.id.0,
            name: project.name.to_string(),
            owner_id: project.owner_id.map(|id| id.0),
            owner_name: project.owner_name,
            creation_time: project.created_at,
            update_time: project.updated_at,
            deleted: false,
            registry_id: None,
            repo_count: project.repository_count,
            metadata: Metadata { public: if project.public { "true" } else { "false" }, retention_id: None },
        }
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    page: Option<u32>,
    page_size: Option<u32>,
    q: Option<String>,
    sort: Option<String>,
    name: Option<String>,
    public: Option<bool>,
}

#[utoipa::path(get, path = "/api/v2.0/projects", tag = "project", params(("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 10)"), ("q" = Option<String>, Query, pattern = r"^[A-Za-z_]+=~?[^,]*(,[A-Za-z_]+=~?[^,]*)*$", description = "Filters: key=value or key=~fuzzy, comma-separated"), ("sort" = Option<String>, Query, pattern = r"^-?(name|creation_time)$", description = "Sort key, - for descending"), ("name" = Option<String>, Query, description = "Name contains"), ("public" = Option<bool>, Query, description = "Public or private only")), responses((status = 200, description = "Projects the caller may see", body = [ProjectView], headers(("X-Total-Count" = i64, description = "Items in all pages"), ("Link" = String, description = "Neighbouring pages"))), (status = 400, description = "Bad request", body = Errors)), security((), ("basic" = [])))]
pub async fn list_projects(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let page = Page::from_query(&PageQuery { page: query.page, page_size: query.page_size })?;
    let mut name = query.name.clone();
    let mut exact_name = None;
    let mut public = query.public;
    for (key, condition) in parse_q(query.q.as_deref(), &["name", "public"])? {
        match (key.as_str(), condition) {
            ("name", Condition::Fuzzy(value)) => name = Some(value),
            ("name", Condition::Exact(value)) => exact_name = Some(value),
            ("public", Condition::Exact(value) | Condition::Fuzzy(value)) => {
                public = Some(value.parse().map_err(|_| ApiError::bad_request("q: public must be true or false"))?)
            }
            _ => unreachable!("parse_q keeps to the allowlist"),
        }
    }
    let sort = match parse_sort(query.sort.as_deref(), &["name", "creation_time"])? {
        None | Some(("name", false)) => ProjectSort::Name,
        Some(("name", true)) => ProjectSort::NameDesc,
        Some((_, false)) => ProjectSort::Created,
        Some((_, true)) => ProjectSort::CreatedDesc,
    };
    // An exact name is at most one project, still only if visible.
    let options = ListOptions {
        name_contains: if exact_name.is_some() { None } else { name.as_deref() },
        name: exact_name.as_deref(),
        public,
        sort,
        window: page.window(),
    };
    let projects = state.projects.list(&caller.0, &options).await?;
    let public = query.public.map(|public| public.to_string());
    let carried = [
        ("q", query.q.as_deref()),
        ("sort", query.sort.as_deref()),
        ("name", query.name.as_deref()),
        ("public", public.as_deref()),
    ];
    Ok(page.respond(projects, PATH, &carried, ProjectView::from))
}

#[derive(Deserialize)]
pub struct ExistsQuery {
    project_name: Option<String>,
}

#[utoipa::path(head, path = "/api/v2.0/projects", tag = "project", params(("project_name" = String, Query, description = "Name to check")), responses((status = 200, description = "Taken"), (status = 404, description = "Free"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors)), security((), ("basic" = [])))]
/// `HEAD /projects?project_name=x`: 200 when the name is taken, 404 when
/// it is free (what a create form asks before submitting).
pub async fn project_exists(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ExistsQuery>,
) -> ApiResult<StatusCode> {
    caller.signed_in()?;
    let name = query.project_name.ok_or_else(|| ApiError::bad_request("project_name: required"))?;
    Ok(if state.projects.find(&name).await?.is_some() { StatusCode::OK } else { StatusCode::NOT_FOUND })
}

/// The project settings a request may set (documentation of `ProjectReq.metadata`).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ProjectMetadataReq {
    /// `"true"` or `"false"`.
    #[schema(pattern = "^(true|false)$")]
    public: Option<String>,
}

/// Harbor's `ProjectReq`. Fields Berth does not implement are refused
/// rather than silently ignored.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectReq {
    #[schema(pattern = r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$", min_length = 1, max_length = 255)]
    project_name: Option<String>,
    /// Deprecated in Harbor in favour of `metadata.public`, still sent by some clients.
    public: Option<bool>,
    #[schema(value_type = Option<ProjectMetadataReq>)]
    metadata: Option<Map<String, Value>>,
    /// Storage quota in bytes; `-1` for no limit. Changing it needs a
    /// system administrator.
    #[serde(default, deserialize_with = "super::paging::optional_whole_number")]
    #[schema(minimum = -1)]
    storage_limit: Option<i64>,
    /// Proxy-cache projects are not supported.
    #[schema(ignore)]
    registry_id: Option<i64>,
}

impl ProjectReq {
    fn parse(body: &[u8]) -> ApiResult<Self> {
        let request: Self =
            serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid project request: {e}")))?;
        if request.storage_limit.is_some_and(|limit| limit == 0 || limit < -1) {
            return Err(ApiError::bad_request("storage_limit: bytes, at least 1, or -1 for no limit"));
        }
        if request.registry_id.is_some() {
            return Err(ApiError::bad_request("registry_id: proxy-cache projects are not supported"));
        }
        Ok(request)
    }

    /// The quota the request asks for: `None` when it leaves it alone,
    /// `Some(None)` for no limit.
    fn storage_quota(&self) -> Option<Option<i64>> {
        self.storage_limit.map(|limit| (limit != -1).then_some(limit))
    }

    /// The public flag the request asks for, if any.
    fn public(&self) -> ApiResult<Option<bool>> {
        let mut public = self.public;
        // Harbor clients send every metadata key, unset ones as null.
        for (key, value) in self.metadata.iter().flatten().filter(|(_, value)| !value.is_null()) {
            match (key.as_str(), value.as_str()) {
                ("public", Some(flag @ ("true" | "false"))) => public = Some(flag == "true"),
                ("public", _) => return Err(ApiError::bad_request("metadata.public: must be \"true\" or \"false\"")),
                // Read-only: the retention policy says which project it is for.
                ("retention_id", _) => {}
                _ => return Err(ApiError::bad_request(format!("metadata.{key}: not a project setting Berth knows"))),
            }
        }
        Ok(public)
    }
}

#[utoipa::path(post, path = "/api/v2.0/projects", tag = "project", params(("X-Resource-Name-In-Location" = Option<bool>, Header, description = "Name rather than id in Location")), request_body = ProjectReq, responses((status = 201, description = "Created", headers(("Location" = String))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 409, description = "Conflict", body = Errors)), security((), ("basic" = [])))]
pub async fn create_project(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let actor = caller.signed_in()?;
    let request = ProjectReq::parse(&body)?;
    let name = request.project_name.as_deref().ok_or_else(|| ApiError::bad_request("project_name: required"))?;
    let public = request.public()?.unwrap_or(false);
    let new = NewProject { name, public, storage_quota: request.storage_quota().flatten() };
    let project = state.projects.create(&actor, new).await?;
    // Harbor clients may ask for the name rather than the id in `Location`.
    let by_name = is_true(&headers, "x-resource-name-in-location");
    let target = if by_name { project.name.to_string() } else { project.id.0.to_string() };
    let location = HeaderValue::from_str(&format!("{PATH}/{target}")).expect("project names are URL-safe");
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}

/// The project a path names: by name when `X-Is-Resource-Name: true` or
/// when it is not a number, else by id. Unknown ids are 404.
pub(super) async fn named_project(state: &AppState, headers: &HeaderMap, name_or_id: &str) -> ApiResult<String> {
    let by_name = is_true(headers, "x-is-resource-name");
    match name_or_id.parse::<i64>() {
        Ok(id) if !by_name => match state.projects.find_by_id(ProjectId(id)).await? {
            Some(project) => Ok(project.name.to_string()),
            None => Err(Error::NotFound(format!("project {id}")).into()),
        },
        _ => Ok(name_or_id.to_owned()),
    }
}

#[utoipa::path(get, path = "/api/v2.0/projects/{project_name_or_id}", tag = "project", params(("project_name_or_id" = String, Path, description = "Project name, or id unless X-Is-Resource-Name is true"), ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the path value as a name")), responses((status = 400, description = "Bad request", body = Errors), (status = 200, body = ProjectView), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn get_project(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(name_or_id): ApiPath<String>,
) -> ApiResult<Json<ProjectView>> {
    let name = named_project(&state, &headers, &name_or_id).await?;
    let project = state.projects.get(&caller.0, &name).await.map_err(|e| refusal(&caller, e))?;
    let retention = state.retention.policy_of(project.id).await?;
    let mut view = ProjectView::from(project);
    view.metadata.retention_id = retention.map(|id| id.0.to_string());
    Ok(Json(view))
}

#[utoipa::path(put, path = "/api/v2.0/projects/{project_name_or_id}", tag = "project", params(("project_name_or_id" = String, Path, description = "Project name, or id unless X-Is-Resource-Name is true"), ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the path value as a name")), request_body = ProjectReq, responses((status = 200, description = "Updated"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn update_project(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(name_or_id): ApiPath<String>,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    let name = named_project(&state, &headers, &name_or_id).await?;
    let request = ProjectReq::parse(&body)?;
    if request.project_name.as_deref().is_some_and(|new| new != name) {
        return Err(ApiError::bad_request("project_name: projects cannot be renamed"));
    }
    let current = state.projects.get(&actor, &name).await?;
    if let Some(quota) = request.storage_quota().filter(|quota| *quota != current.storage_quota) {
        state.projects.set_storage_quota(&actor, &name, quota).await?;
    }
    if let Some(public) = request.public()? {
        state.projects.set_public(&actor, &name, public).await?;
    }
    Ok(StatusCode::OK)
}

#[utoipa::path(delete, path = "/api/v2.0/projects/{project_name_or_id}", tag = "project", params(("project_name_or_id" = String, Path, description = "Project name, or id unless X-Is-Resource-Name is true"), ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the path value as a name")), responses((status = 400, description = "Bad request", body = Errors), (status = 200, description = "Deleted"), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors), (status = 412, description = "Precondition failed", body = Errors)), security((), ("basic" = [])))]
pub async fn delete_project(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(name_or_id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    let name = named_project(&state, &headers, &name_or_id).await?;
    match state.projects.delete(&actor, &name).await {
        Ok(()) => Ok(StatusCode::OK),
        // Harbor answers a project that still has repositories with 412.
        Err(Error::Conflict(message)) => Err(ApiError::new(StatusCode::PRECONDITION_FAILED, message)),
        Err(other) => Err(other.into()),
    }
}

/// Harbor's `ProjectSummary`, as far as Berth has its fields.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SummaryView {
    repo_count: i64,
    project_admin_count: i64,
    maintainer_count: i64,
    developer_count: i64,
    guest_count: i64,
    limited_guest_count: i64,
}

#[utoipa::path(get, path = "/api/v2.0/projects/{project_name_or_id}/summary", tag = "project", params(("project_name_or_id" = String, Path, description = "Project name, or id unless X-Is-Resource-Name is true"), ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the path value as a name")), responses((status = 400, description = "Bad request", body = Errors), (status = 200, body = SummaryView), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn project_summary(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(name_or_id): ApiPath<String>,
) -> ApiResult<Json<SummaryView>> {
    use app::core::rbac::Role;

    let name = named_project(&state, &headers, &name_or_id).await?;
    let summary = state.projects.summary(&caller.0, &name).await.map_err(|e| refusal(&caller, e))?;
    let count = |wanted: Role| summary.members_by_role.iter().find(|(role, _)| *role == wanted).map_or(0, |(_, n)| *n);
    Ok(Json(SummaryView {
        repo_count: summary.project.repository_count,
        project_admin_count: count(Role::ProjectAdmin),
        maintainer_count: count(Role::Maintainer),
        developer_count: count(Role::Developer),
        guest_count: count(Role::Guest),
        limited_guest_count: count(Role::LimitedGuest),
    }))
}

fn is_true(headers: &HeaderMap, name: &str) -> bool {
    headers.get(name).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"))
}

/// A refusal to an anonymous caller is "sign in", not "forbidden".
pub(super) fn refusal(caller: &Caller, error: Error) -> ApiError {
    match error {
        Error::Forbidden(_) if caller.is_anonymous() => ApiError::unauthorized("sign in to see this project"),
        other => other.into(),
    }
}
