//! `/api/v2.0/projects/{project}/members` in Harbor's shapes: users and
//! groups (LDAP by DN, OIDC by name) with a role (Harbor's role ids: 1
//! project admin, 2 developer, 3 guest, 4 maintainer, 5 limited guest).
//! Listing needs `read_members`, changes `manage_members`, both decided by
//! the project service.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use super::{
    body::ApiJson,
    caller::Caller,
    error::Errors,
    error::{ApiError, ApiResult},
    paging::{ApiPath, ApiQuery, Page, PageQuery, optional_whole_number, whole_number},
    projects::named_project,
};
use app::core::{
    AppState, Error,
    identity::UserId,
    projects::{Member, MemberRef},
    rbac::Role,
};

/// Harbor's group types.
const LDAP_GROUP: i64 = 1;
const OIDC_GROUP: i64 = 3;

/// Harbor's `ProjectMemberEntity`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MemberView {
    id: i64,
    project_id: i64,
    entity_name: String,
    role_name: &'static str,
    role_id: i64,
    entity_id: i64,
    /// `u` for a user, `g` for a group.
    entity_type: &'static str,
}

fn view(member: Member, project_id: i64) -> MemberView {
    let (entity_id, entity_type) = match member.member {
        MemberRef::User(UserId(id)) => (id, "u"),
        MemberRef::Group(id) => (id, "g"),
    };
    MemberView {
        id: member.id,
        project_id,
        entity_name: member.name,
        role_name: harbor_role_name(member.role),
        role_id: member.role.harbor_id(),
        entity_id,
        entity_type,
    }
}

fn harbor_role_name(role: Role) -> &'static str {
    match role {
        Role::ProjectAdmin => "projectAdmin",
        Role::Maintainer => "maintainer",
        Role::Developer => "developer",
        Role::Guest => "guest",
        Role::LimitedGuest => "limitedGuest",
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    page: Option<u32>,
    page_size: Option<u32>,
    /// Only members whose name contains this.
    entityname: Option<String>,
}

#[utoipa::path(get, path = "/api/v2.0/projects/{project_name_or_id}/members", tag = "member", params(("project_name_or_id" = String, Path, description = "Project name, or id unless X-Is-Resource-Name is true"), ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the path value as a name"), ("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 10)"), ("entityname" = Option<String>, Query, description = "Member name contains")), responses((status = 200, body = [MemberView], headers(("X-Total-Count" = i64, description = "Items in all pages"), ("Link" = String, description = "Neighbouring pages"))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(project): ApiPath<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let page = Page::from_query(&PageQuery { page: query.page, page_size: query.page_size })?;
    let actor = caller.signed_in()?;
    let project = named_project(&state, &headers, &project).await?;
    let project_id = project_id(&state, &project).await?;
    let members = state.projects.members(&actor, &project, query.entityname.as_deref(), page.window()).await?;
    let path = format!("/api/v2.0/projects/{project}/members");
    Ok(page.respond(members, &path, &[("entityname", query.entityname.as_deref())], |member| view(member, project_id)))
}

#[utoipa::path(get, path = "/api/v2.0/projects/{project_name_or_id}/members/{mid}", tag = "member", params(("project_name_or_id" = String, Path, description = "Project name, or id unless X-Is-Resource-Name is true"), ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the path value as a name"), ("mid" = i64, Path, description = "Membership id")), responses((status = 400, description = "Bad request", body = Errors), (status = 200, body = MemberView), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn get_member(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath((project, member_id)): ApiPath<(String, i64)>,
) -> ApiResult<Json<MemberView>> {
    let actor = caller.signed_in()?;
    let project = named_project(&state, &headers, &project).await?;
    let member = state.projects.member(&actor, &project, member_id).await?;
    Ok(Json(view(member, project_id(&state, &project).await?)))
}

/// Harbor's `ProjectMember`: a role and either a user or a group.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    #[serde(deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 5)]
    role_id: i64,
    member_user: Option<UserEntity>,
    member_group: Option<GroupEntity>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserEntity {
    #[serde(default, deserialize_with = "optional_whole_number")]
    user_id: Option<i64>,
    username: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupEntity {
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(ignore)]
    id: Option<i64>,
    group_name: Option<String>,
    #[serde(default, deserialize_with = "optional_whole_number")]
    #[schema(minimum = 1, maximum = 3)]
    group_type: Option<i64>,
    ldap_group_dn: Option<String>,
}

#[utoipa::path(post, path = "/api/v2.0/projects/{project_name_or_id}/members", tag = "member", params(("project_name_or_id" = String, Path, description = "Project name, or id unless X-Is-Resource-Name is true"), ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the path value as a name")), request_body = NewMember, responses((status = 201, description = "Added", headers(("Location" = String))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors), (status = 409, description = "Conflict", body = Errors)), security((), ("basic" = [])))]
pub async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(project): ApiPath<String>,
    ApiJson(request): ApiJson<NewMember>,
) -> ApiResult<Response> {
    let actor = caller.signed_in()?;
    let project = named_project(&state, &headers, &project).await?;
    let role = role(request.role_id)?;
    // Resolved only after the permission check (a group may mean a directory search).
    let member = async {
        match (&request.member_user, &request.member_group) {
            (Some(user), None) => Ok(MemberRef::User(resolve_user(&state, user).await?)),
            (None, Some(group)) => Ok(MemberRef::Group(resolve_group(&state, group).await?)),
            _ => Err(ApiError::bad_request("member_user or member_group: exactly one is needed")),
        }
    };
    let id = state.projects.add_member(&actor, &project, role, member).await?;
    let location = HeaderValue::from_str(&format!("/api/v2.0/projects/{project}/members/{id}"))
        .map_err(|_| ApiError::bad_request("project: not usable in a URL"))?;
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    #[serde(deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 5)]
    role_id: i64,
}

#[utoipa::path(put, path = "/api/v2.0/projects/{project_name_or_id}/members/{mid}", tag = "member", params(("project_name_or_id" = String, Path, description = "Project name, or id unless X-Is-Resource-Name is true"), ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the path value as a name"), ("mid" = i64, Path, description = "Membership id")), request_body = RoleRequest, responses((status = 200, description = "Changed"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn update_member(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath((project, member_id)): ApiPath<(String, i64)>,
    ApiJson(request): ApiJson<RoleRequest>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    let project = named_project(&state, &headers, &project).await?;
    let role = role(request.role_id)?;
    let member = state.projects.member(&actor, &project, member_id).await?;
    state.projects.set_member(&actor, &project, member.member, role).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(delete, path = "/api/v2.0/projects/{project_name_or_id}/members/{mid}", tag = "member", params(("project_name_or_id" = String, Path, description = "Project name, or id unless X-Is-Resource-Name is true"), ("X-Is-Resource-Name" = Option<bool>, Header, description = "Treat the path value as a name"), ("mid" = i64, Path, description = "Membership id")), responses((status = 400, description = "Bad request", body = Errors), (status = 200, description = "Removed"), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath((project, member_id)): ApiPath<(String, i64)>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    let project = named_project(&state, &headers, &project).await?;
    let member = state.projects.member(&actor, &project, member_id).await?;
    state.projects.remove_member(&actor, &project, member.member).await?;
    Ok(StatusCode::OK)
}

async fn project_id(state: &AppState, project: &str) -> ApiResult<i64> {
    let found = state.projects.find(project).await?;
    Ok(found.ok_or_else(|| Error::NotFound(format!("project {project}")))?.id.0)
}

fn role(id: i64) -> ApiResult<Role> {
    Role::from_harbor_id(id).ok_or_else(|| {
        ApiError::bad_request(format!(
            "role_id: {id} is not a role (1 project admin, 2 developer, 3 guest, 4 maintainer, 5 limited guest)"
        ))
    })
}

async fn resolve_user(state: &AppState, user: &UserEntity) -> ApiResult<UserId> {
    let found = match (&user.username, user.user_id) {
        (Some(name), _) => state.users.find(name).await?,
        (None, Some(id)) => state.users.find_by_id(UserId(id)).await?,
        (None, None) => return Err(ApiError::bad_request("member_user: give username or user_id")),
    };
    let label = user.username.clone().unwrap_or_else(|| user.user_id.unwrap_or_default().to_string());
    Ok(found.ok_or_else(|| Error::NotFound(format!("user {label}")))?.id)
}

async fn resolve_group(state: &AppState, group: &GroupEntity) -> ApiResult<i64> {
    if group.id.is_some() && group.ldap_group_dn.is_none() && group.group_name.is_none() {
        return Err(ApiError::bad_request("member_group.id: name the group by ldap_group_dn or group_name instead"));
    }
    match (group.group_type, &group.ldap_group_dn, &group.group_name) {
        (Some(LDAP_GROUP) | None, Some(dn), _) => Ok(state.auth.ldap_group(dn).await?),
        (Some(OIDC_GROUP), _, Some(name)) => Ok(state.auth.oidc_group(name).await?),
        _ => Err(ApiError::bad_request(
            "member_group: give an LDAP group's ldap_group_dn (group_type 1) or an OIDC group's group_name (group_type 3)",
        )),
    }
}
