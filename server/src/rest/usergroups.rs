//! `/api/v2.0/usergroups` in Harbor's shapes: the LDAP groups (group type
//! 1, named by DN, checked against the directory when added) and OIDC
//! groups (group type 3, named as the provider's groups claim names them)
//! that can be project members. System administrators only.

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use super::{
    body::ApiJson,
    caller::Caller,
    error::Errors,
    error::{ApiError, ApiResult},
    paging::{ApiPath, ApiQuery, Page, PageQuery, whole_number},
};
use app::core::{AppState, access::require_system, identity::AuthSource, rbac::SystemAction, users::Group};

const PATH: &str = "/api/v2.0/usergroups";
const LDAP: i64 = 1;
const OIDC: i64 = 3;

/// Harbor's `UserGroup`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserGroupView {
    id: i64,
    group_name: String,
    group_type: i64,
    ldap_group_dn: String,
}

fn view(group: Group) -> UserGroupView {
    let ldap = group.kind == AuthSource::Ldap;
    UserGroupView {
        id: group.id,
        ldap_group_dn: if ldap { group.name.clone() } else { String::new() },
        group_name: group.name,
        group_type: if ldap { LDAP } else { OIDC },
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    page: Option<u32>,
    page_size: Option<u32>,
    group_name: Option<String>,
}

#[utoipa::path(get, path = "/api/v2.0/usergroups", tag = "usergroup", params(("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 10)"), ("group_name" = Option<String>, Query, description = "Name contains")), responses((status = 200, body = [UserGroupView], headers(("X-Total-Count" = i64, description = "Items in all pages"), ("Link" = String, description = "Neighbouring pages"))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn list_groups(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let page = Page::from_query(&PageQuery { page: query.page, page_size: query.page_size })?;
    let actor = caller.signed_in()?;
    let groups = state.users.list_groups(&actor, query.group_name.as_deref(), page.window()).await?;
    Ok(page.respond(groups, PATH, &[("group_name", query.group_name.as_deref())], view))
}

/// Harbor's `UserGroup` as a request.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    group_name: Option<String>,
    /// 1 for LDAP (with `ldap_group_dn`), 3 for OIDC (with `group_name`).
    #[serde(deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 3)]
    group_type: i64,
    ldap_group_dn: Option<String>,
    #[schema(ignore)]
    id: Option<i64>,
}

#[utoipa::path(post, path = "/api/v2.0/usergroups", tag = "usergroup", request_body = NewGroup, responses((status = 201, description = "Added", headers(("Location" = String))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors), (status = 503, description = "Identity provider unavailable", body = Errors)), security((), ("basic" = [])))]
pub async fn create_group(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<NewGroup>,
) -> ApiResult<Response> {
    let actor = caller.signed_in()?;
    require_system(&actor, SystemAction::ManageGroups)?;
    if request.id.is_some() {
        return Err(ApiError::bad_request("id: assigned by Berth"));
    }
    let id = match (request.group_type, &request.ldap_group_dn, &request.group_name) {
        (LDAP, Some(dn), _) => state.auth.add_group(&actor, AuthSource::Ldap, dn).await?,
        (OIDC, _, Some(name)) => state.auth.add_group(&actor, AuthSource::Oidc, name).await?,
        _ => {
            return Err(ApiError::bad_request("group_type: 1 (LDAP) with ldap_group_dn, or 3 (OIDC) with group_name"));
        }
    };
    let location = HeaderValue::from_str(&format!("{PATH}/{id}")).expect("a number makes a header value");
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}

#[utoipa::path(get, path = "/api/v2.0/usergroups/{group_id}", tag = "usergroup", params(("group_id" = i64, Path)), responses((status = 400, description = "Bad request", body = Errors), (status = 200, body = UserGroupView), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn get_group(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<UserGroupView>> {
    let actor = caller.signed_in()?;
    Ok(Json(view(state.users.group(&actor, id).await?)))
}

#[utoipa::path(delete, path = "/api/v2.0/usergroups/{group_id}", tag = "usergroup", params(("group_id" = i64, Path)), responses((status = 400, description = "Bad request", body = Errors), (status = 200, description = "Deleted"), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn delete_group(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    state.users.delete_group(&actor, id).await?;
    Ok(StatusCode::OK)
}
