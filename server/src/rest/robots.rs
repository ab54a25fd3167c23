//! `/api/v2.0/robots` in Harbor's shapes: system robots (`level: system`,
//! system administrators) and project robots (`level: project`, whoever may
//! manage robots there), created with explicit permissions (repository
//! pull/push, artifact delete) and a duration; the secret is returned once,
//! and `PATCH` refreshes it. The robot rules live in the robot service.

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
    error::Errors,
    error::{ApiError, ApiResult},
    paging::{ApiPath, ApiQuery, Condition, Page, PageQuery, optional_whole_number, parse_q},
};
use app::core::{
    AppState, Error,
    identity::{Robot, RobotId, RobotPermission},
    projects::ProjectId,
    rbac::Action,
    robots::{NewRobot, RobotChanges},
};

const PATH: &str = "/api/v2.0/robots";

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct Access {
    resource: String,
    action: String,
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionView {
    kind: String,
    /// A project name, or `*` for every project.
    namespace: String,
    access: Vec<Access>,
}

/// Harbor's `Robot`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RobotView {
    id: i64,
    name: String,
    description: String,
    level: &'static str,
    /// Days it was created for; -1 for never expiring.
    duration: i64,
    editable: bool,
    disable: bool,
    /// Seconds since the epoch; -1 for never.
    expires_at: i64,
    permissions: Vec<PermissionView>,
    creation_time: DateTime<Utc>,
    update_time: DateTime<Utc>,
}

fn view(robot: Robot) -> RobotView {
    let duration = robot.expires_at.map_or(-1, |at| (at - robot.created_at).num_days());
    let permissions = robot
        .permissions
        .iter()
        .map(|permission| PermissionView {
            kind: "project".into(),
            namespace: permission.project.clone().unwrap_or_else(|| "*".into()),
            access: permission.actions.iter().filter_map(|action| access_of(*action)).collect(),
        })
        .collect();
    RobotView {
        id: robot.id.0,
        name: robot.name,
        description: robot.description,
        level: if robot.project.is_some() { "project" } else { "system" },
        duration,
        editable: true,
        disable: robot.disabled,
        expires_at: robot.expires_at.map_or(-1, |at| at.timestamp()),
        permissions,
        creation_time: robot.created_at,
        update_time: robot.created_at,
    }
}

fn access_of(action: Action) -> Option<Access> {
    let (resource, action) = match action {
        Action::Pull => ("repository", "pull"),
        Action::Push => ("repository", "push"),
        Action::DeleteArtifact => ("artifact", "delete"),
        _ => return None,
    };
    Some(Access { resource: resource.into(), action: action.into() })
}

fn action_of(access: &Access) -> ApiResult<Action> {
    match (access.resource.as_str(), access.action.as_str()) {
        ("repository", "pull") => Ok(Action::Pull),
        ("repository", "push") => Ok(Action::Push),
        ("artifact" | "repository", "delete") => Ok(Action::DeleteArtifact),
        (resource, action) => Err(ApiError::bad_request(format!(
            "permissions: {resource}:{action} cannot be granted; robots get repository pull/push and artifact delete"
        ))),
    }
}

/// Harbor's duration in days, with -1 for never and 0 for the system's
/// `robot_token_duration`.
async fn expires_in_days(state: &AppState, duration: i64) -> ApiResult<Option<u32>> {
    match duration {
        -1 => Ok(None),
        0 => Ok(Some(state.settings.robot_token_duration_days().await?)),
        days => Ok(Some(u32::try_from(days).map_err(|_| ApiError::bad_request("duration: days, or -1 for never"))?)),
    }
}

fn permissions_of(permissions: &[PermissionView]) -> ApiResult<Vec<RobotPermission>> {
    permissions
        .iter()
        .map(|permission| {
            if permission.kind != "project" {
                return Err(ApiError::bad_request(format!("permissions: kind {:?} is not supported", permission.kind)));
            }
            let project = (permission.namespace != "*").then(|| permission.namespace.clone());
            let actions = permission.access.iter().map(action_of).collect::<ApiResult<Vec<_>>>()?;
            Ok(RobotPermission { project, actions })
        })
        .collect()
}

/// Harbor's `RobotCreate`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RobotCreate {
    #[schema(pattern = r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$", min_length = 1, max_length = 255)]
    name: String,
    description: Option<String>,
    #[schema(pattern = "^(system|project)$")]
    level: String,
    disable: Option<bool>,
    /// Days; -1 (or 0 in some clients) for never.
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(minimum = -1, maximum = 36500)]
    duration: Option<i64>,
    permissions: Vec<PermissionView>,
    /// Harbor accepts a caller-chosen secret here; Berth always generates one.
    #[schema(ignore)]
    secret: Option<String>,
    #[schema(ignore)]
    expires_at: Option<i64>,
}

/// Harbor's `RobotCreated`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RobotCreated {
    id: i64,
    name: String,
    secret: String,
    creation_time: DateTime<Utc>,
    expires_at: i64,
}

#[utoipa::path(post, path = "/api/v2.0/robots", tag = "robot", request_body = RobotCreate, responses((status = 201, description = "Created; the secret is shown only now", body = RobotCreated, headers(("Location" = String))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors), (status = 409, description = "Conflict", body = Errors)), security((), ("basic" = [])))]
pub async fn create_robot(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<RobotCreate>,
) -> ApiResult<Response> {
    let actor = caller.signed_in()?;
    if request.secret.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::bad_request("secret: Berth generates robot secrets; leave it out"));
    }
    if request.expires_at.is_some() {
        return Err(ApiError::bad_request("expires_at: give duration (days, -1 for never) instead"));
    }
    let expires_in_days = expires_in_days(&state, request.duration.unwrap_or(0)).await?;
    let permissions = permissions_of(&request.permissions)?;
    let project = match request.level.as_str() {
        "system" => None,
        "project" => match permissions.as_slice() {
            [RobotPermission { project: Some(project), .. }] => Some(project.clone()),
            _ => {
                return Err(ApiError::bad_request(
                    "permissions: a project robot has exactly one permission, naming its project",
                ));
            }
        },
        other => return Err(ApiError::bad_request(format!("level: {other:?} is not system or project"))),
    };
    let created = state
        .robots
        .create(
            &actor,
            NewRobot {
                name: &request.name,
                description: request.description.as_deref().unwrap_or_default(),
                project: project.as_deref(),
                expires_in_days,
                permissions,
            },
        )
        .await?;
    if request.disable == Some(true) {
        state.robots.set_disabled(&actor, &created.robot.name, true).await?;
    }
    let robot = created.robot;
    let location = HeaderValue::from_str(&format!("{PATH}/{}", robot.id.0)).expect("a number makes a header value");
    let body = RobotCreated {
        id: robot.id.0,
        name: robot.name,
        secret: created.secret,
        creation_time: robot.created_at,
        expires_at: robot.expires_at.map_or(-1, |at| at.timestamp()),
    };
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(body)).into_response())
}

#[derive(Deserialize)]
pub struct ListQuery {
    page: Option<u32>,
    page_size: Option<u32>,
    q: Option<String>,
}

#[utoipa::path(get, path = "/api/v2.0/robots", tag = "robot", params(("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 10)"), ("q" = Option<String>, Query, description = "Level=system, or Level=project,ProjectID=<id>")), responses((status = 200, body = [RobotView], headers(("X-Total-Count" = i64, description = "Items in all pages"), ("Link" = String, description = "Neighbouring pages"))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
/// `q=Level=project,ProjectID=<id>` lists a project's robots (for those
/// who manage them there); `Level=system` or nothing, the system robots.
pub async fn list_robots(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let page = Page::from_query(&PageQuery { page: query.page, page_size: query.page_size })?;
    let actor = caller.signed_in()?;
    let mut level = "system".to_owned();
    let mut project_id = None;
    for (key, condition) in parse_q(query.q.as_deref(), &["Level", "ProjectID"])? {
        let (Condition::Exact(value) | Condition::Fuzzy(value)) = condition;
        match key.as_str() {
            "Level" => level = value,
            _ => {
                project_id = Some(value.parse::<i64>().map_err(|_| ApiError::bad_request("q: ProjectID is a number"))?)
            }
        }
    }
    let project = match (level.as_str(), project_id) {
        ("system", None) => None,
        ("project", Some(id)) => {
            let found = state.projects.find_by_id(ProjectId(id)).await?;
            Some(found.ok_or_else(|| Error::NotFound(format!("project {id}")))?.name.to_string())
        }
        _ => return Err(ApiError::bad_request("q: Level=system, or Level=project with ProjectID=<id>")),
    };
    let robots = state.robots.list(&actor, project.as_deref(), page.window()).await?;
    Ok(page.respond(robots, PATH, &[("q", query.q.as_deref())], view))
}

#[utoipa::path(get, path = "/api/v2.0/robots/{robot_id}", tag = "robot", params(("robot_id" = i64, Path)), responses((status = 400, description = "Bad request", body = Errors), (status = 200, body = RobotView), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn get_robot(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<RobotView>> {
    let actor = caller.signed_in()?;
    Ok(Json(view(state.robots.get(&actor, RobotId(id)).await?)))
}

/// Harbor's full-robot `PUT`: clients send the robot they read back with
/// their changes. `description`, `duration`, `disable` and `permissions`
/// change; the read-only fields are accepted and ignored, a different
/// `name` or `level` is refused.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct RobotUpdate {
    name: Option<String>,
    level: Option<String>,
    disable: Option<bool>,
    description: Option<String>,
    /// Days from creation; -1 (or 0) for never.
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(minimum = -1, maximum = 36500)]
    duration: Option<i64>,
    permissions: Option<Vec<PermissionView>>,
}

#[utoipa::path(put, path = "/api/v2.0/robots/{robot_id}", tag = "robot", params(("robot_id" = i64, Path)), request_body = RobotUpdate, responses((status = 200, description = "Changed"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn update_robot(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<RobotUpdate>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    let robot = state.robots.get(&actor, RobotId(id)).await?;
    if request.name.as_ref().is_some_and(|name| *name != robot.name && !robot.name.ends_with(&format!("+{name}"))) {
        return Err(ApiError::bad_request("name: cannot be changed; create a new robot"));
    }
    let level = if robot.project.is_some() { "project" } else { "system" };
    if request.level.as_deref().is_some_and(|requested| requested != level) {
        return Err(ApiError::bad_request("level: cannot be changed; create a new robot"));
    }
    let permissions = request.permissions.as_deref().map(permissions_of).transpose()?;
    let changes = RobotChanges {
        description: request.description.as_deref(),
        expires_in_days: match request.duration {
            Some(duration) => Some(expires_in_days(&state, duration).await?),
            None => None,
        },
        permissions,
        disabled: request.disable,
    };
    state.robots.update(&actor, &robot.name, changes).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(delete, path = "/api/v2.0/robots/{robot_id}", tag = "robot", params(("robot_id" = i64, Path)), responses((status = 400, description = "Bad request", body = Errors), (status = 200, description = "Deleted"), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn delete_robot(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    let robot = state.robots.get(&actor, RobotId(id)).await?;
    state.robots.delete(&actor, &robot.name).await?;
    Ok(StatusCode::OK)
}

/// Harbor's `RobotSec`: a secret of the caller's choosing, or (empty body or
/// empty secret) a generated one.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RobotSec {
    secret: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RobotSecret {
    secret: String,
}

#[utoipa::path(patch, path = "/api/v2.0/robots/{robot_id}", tag = "robot", params(("robot_id" = i64, Path)), request_body = RobotSec, responses((status = 200, body = RobotSecret), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn refresh_secret(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    body: axum::body::Bytes,
) -> ApiResult<Json<RobotSecret>> {
    let actor = caller.signed_in()?;
    let request: RobotSec = if body.is_empty() {
        RobotSec::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid request: {e}")))?
    };
    let robot = state.robots.get(&actor, RobotId(id)).await?;
    let secret = match request.secret.filter(|s| !s.is_empty()) {
        Some(chosen) => {
            state.robots.set_secret(&actor, &robot.name, &chosen).await?;
            chosen
        }
        None => state.robots.refresh_secret(&actor, &robot.name).await?,
    };
    Ok(Json(RobotSecret { secret }))
}
