//! `/api/v2.0/users` in Harbor's shapes: the current user, the account
//! list and creation (system administrators, or anyone when
//! self-registration is on), one account (its owner or an administrator),
//! profile, password, the administrator flag, deletion, and an OIDC user's
//! own CLI secret. The account rules live in the auth service.

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
    paging::{ApiPath, ApiQuery, Condition, Page, PageQuery, parse_q, parse_sort},
};
use app::core::{
    AppState, Error,
    identity::{Actor, Principal, User, UserId},
    users::NewAccount,
};

const PATH: &str = "/api/v2.0/users";

/// Harbor's `UserResp`, as far as Berth has its fields.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserView {
    user_id: i64,
    username: String,
    email: Option<String>,
    realname: String,
    comment: String,
    sysadmin_flag: bool,
    admin_role_in_auth: bool,
    creation_time: DateTime<Utc>,
    update_time: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            user_id: user.id.0,
            username: user.username.to_string(),
            email: user.email,
            realname: user.full_name,
            comment: String::new(),
            sysadmin_flag: user.is_admin,
            admin_role_in_auth: false,
            creation_time: user.created_at,
            // Berth does not keep a separate update time for reading.
            update_time: user.created_at,
        }
    }
}

/// The signed-in user (robot accounts are not users).
fn user_actor(caller: Caller) -> ApiResult<(Actor, User)> {
    let actor = caller.signed_in()?;
    match &actor.principal {
        Principal::User(user) => {
            let user = user.clone();
            Ok((actor, user))
        }
        _ => Err(Error::Forbidden("robot accounts have no user account".into()).into()),
    }
}

#[utoipa::path(get, path = "/api/v2.0/users/current", tag = "user", responses((status = 200, body = UserView), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn current_user(caller: Caller) -> ApiResult<Json<UserView>> {
    let (_, user) = user_actor(caller)?;
    Ok(Json(user.into()))
}

#[derive(Deserialize)]
pub struct ListQuery {
    page: Option<u32>,
    page_size: Option<u32>,
    q: Option<String>,
    sort: Option<String>,
}

#[utoipa::path(get, path = "/api/v2.0/users", tag = "user", params(("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 10)"), ("q" = Option<String>, Query, pattern = r"^[A-Za-z_]+=~?[^,]*(,[A-Za-z_]+=~?[^,]*)*$", description = "Filters: key=value or key=~fuzzy, comma-separated"), ("sort" = Option<String>, Query, pattern = r"^-?username$", description = "Sort key, - for descending")), responses((status = 200, body = [UserView], headers(("X-Total-Count" = i64, description = "Items in all pages"), ("Link" = String, description = "Neighbouring pages"))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let page = Page::from_query(&PageQuery { page: query.page, page_size: query.page_size })?;
    let actor = caller.signed_in()?;
    let mut contains = None;
    for (_, condition) in parse_q(query.q.as_deref(), &["username"])? {
        contains = Some(match condition {
            Condition::Exact(value) | Condition::Fuzzy(value) => value,
        });
    }
    // Accounts come in username order, the one order Harbor clients ask for.
    parse_sort(query.sort.as_deref(), &["username"])?;
    let users = state.users.list_users(&actor, contains.as_deref(), page.window()).await?;
    Ok(page.respond(users, PATH, &[("q", query.q.as_deref())], UserView::from))
}

#[derive(Deserialize)]
pub struct SearchQuery {
    username: Option<String>,
    page: Option<u32>,
    page_size: Option<u32>,
}

/// Harbor's `UserSearchRespItem`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserSearchItem {
    user_id: i64,
    username: String,
}

#[utoipa::path(get, path = "/api/v2.0/users/search", tag = "user", params(("username" = String, Query, min_length = 1, description = "Username contains"), ("page" = Option<u32>, Query, minimum = 1, description = "Page number, from 1"), ("page_size" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Items per page, 1 to 100 (default 10)")), responses((status = 200, body = [UserSearchItem], headers(("X-Total-Count" = i64, description = "Items in all pages"), ("Link" = String, description = "Neighbouring pages"))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors)), security((), ("basic" = [])))]
/// Any signed-in user may look accounts up by name, to add them as members.
pub async fn search_users(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> ApiResult<Response> {
    let page = Page::from_query(&PageQuery { page: query.page, page_size: query.page_size })?;
    let actor = caller.signed_in()?;
    let username = query.username.as_deref().filter(|name| !name.is_empty());
    let username = username.ok_or_else(|| ApiError::bad_request("username: give part of a username to search for"))?;
    let users = state.users.search_users(&actor, username, page.window()).await?;
    let path = format!("{PATH}/search");
    Ok(page.respond(users, &path, &[("username", Some(username))], |user| UserSearchItem {
        user_id: user.id.0,
        username: user.username.to_string(),
    }))
}

/// Harbor's `UserCreationReq`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserCreationReq {
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\s,~#$%:\x00-\x1f\x7f]([^,~#$%:\x00-\x1f\x7f]*[^\s,~#$%:\x00-\x1f\x7f])?$"
    )]
    username: String,
    #[schema(min_length = 8, max_length = 128)]
    password: String,
    #[schema(max_length = 255, pattern = r"^[^@\s]+@[^@\s]+$")]
    email: Option<String>,
    #[schema(max_length = 255)]
    realname: Option<String>,
    /// Berth keeps no comments; only an empty one is accepted.
    #[schema(max_length = 0)]
    comment: Option<String>,
}

#[utoipa::path(post, path = "/api/v2.0/users", tag = "user", request_body = UserCreationReq, responses((status = 201, description = "Created", headers(("Location" = String))), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 409, description = "Conflict", body = Errors)), security((), ("basic" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<UserCreationReq>,
) -> ApiResult<Response> {
    if request.comment.as_deref().is_some_and(|c| !c.is_empty()) {
        return Err(ApiError::bad_request("comment: Berth does not keep comments on accounts"));
    }
    let account = NewAccount {
        username: &request.username,
        password: &request.password,
        email: request.email.as_deref().filter(|e| !e.is_empty()),
        full_name: request.realname.as_deref().unwrap_or_default(),
        is_admin: false,
    };
    let user = if caller.is_anonymous() {
        state.users.register(account, caller.0.client_addr.as_deref()).await?
    } else {
        state.users.create_user(&caller.0, account).await?
    };
    let location = HeaderValue::from_str(&format!("{PATH}/{}", user.id.0)).expect("a number makes a header value");
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}

#[utoipa::path(get, path = "/api/v2.0/users/{user_id}", tag = "user", params(("user_id" = i64, Path)), responses((status = 400, description = "Bad request", body = Errors), (status = 200, body = UserView), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<UserView>> {
    let actor = caller.signed_in()?;
    Ok(Json(state.users.user_for(&actor, UserId(id)).await?.into()))
}

/// Harbor's `UserProfile`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserProfile {
    #[schema(max_length = 255, pattern = r"^[^@\s]+@[^@\s]+$")]
    email: Option<String>,
    #[schema(max_length = 255)]
    realname: Option<String>,
    /// Berth keeps no comments; only an empty one is accepted.
    #[schema(max_length = 0)]
    comment: Option<String>,
}

#[utoipa::path(put, path = "/api/v2.0/users/{user_id}", tag = "user", params(("user_id" = i64, Path)), request_body = UserProfile, responses((status = 200, description = "Changed"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<UserProfile>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    if request.comment.as_deref().is_some_and(|c| !c.is_empty()) {
        return Err(ApiError::bad_request("comment: Berth does not keep comments on accounts"));
    }
    let current = state.users.user_for(&actor, UserId(id)).await?;
    let email = request.email.or(current.email);
    let full_name = request.realname.unwrap_or(current.full_name);
    state.users.update_profile(&actor, UserId(id), email.as_deref().filter(|e| !e.is_empty()), &full_name).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(delete, path = "/api/v2.0/users/{user_id}", tag = "user", params(("user_id" = i64, Path)), responses((status = 400, description = "Bad request", body = Errors), (status = 200, description = "Deleted"), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors), (status = 409, description = "Conflict", body = Errors)), security((), ("basic" = [])))]
pub async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    state.users.delete_user(&actor, UserId(id)).await?;
    Ok(StatusCode::OK)
}

/// Harbor's `PasswordReq`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReq {
    old_password: Option<String>,
    #[schema(min_length = 8, max_length = 128)]
    new_password: String,
}

#[utoipa::path(put, path = "/api/v2.0/users/{user_id}/password", tag = "user", params(("user_id" = i64, Path)), request_body = PasswordReq, responses((status = 200, description = "Changed"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors)), security((), ("basic" = [])))]
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<PasswordReq>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    let user = state.users.user_for(&actor, UserId(id)).await?;
    state.users.change_password(&actor, user.username.as_str(), request.old_password, &request.new_password).await?;
    Ok(StatusCode::OK)
}

/// Harbor's `UserSysAdminFlag`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SysAdminFlag {
    sysadmin_flag: bool,
}

#[utoipa::path(put, path = "/api/v2.0/users/{user_id}/sysadmin", tag = "user", params(("user_id" = i64, Path)), request_body = SysAdminFlag, responses((status = 200, description = "Changed"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 404, description = "Not found", body = Errors), (status = 409, description = "Conflict", body = Errors)), security((), ("basic" = [])))]
pub async fn set_sysadmin(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<SysAdminFlag>,
) -> ApiResult<StatusCode> {
    let actor = caller.signed_in()?;
    state.users.set_admin(&actor, UserId(id), request.sysadmin_flag).await?;
    Ok(StatusCode::OK)
}

/// Harbor's `OIDCCliSecretReq`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CliSecretReq {
    /// 8–128 characters with an upper-case letter, a lower-case letter and a digit.
    #[schema(min_length = 8, max_length = 128, pattern = r"^(?=.*[A-Z])(?=.*[a-z])(?=.*[0-9]).*$")]
    secret: String,
}

#[utoipa::path(put, path = "/api/v2.0/users/{user_id}/cli_secret", tag = "user", params(("user_id" = i64, Path)), request_body = CliSecretReq, responses((status = 200, description = "Changed"), (status = 400, description = "Bad request", body = Errors), (status = 401, description = "Not signed in", body = Errors), (status = 403, description = "Not allowed", body = Errors), (status = 409, description = "Not an OIDC account", body = Errors)), security((), ("basic" = [])))]
/// An OIDC user sets their own CLI secret (nobody else may).
pub async fn set_cli_secret(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<CliSecretReq>,
) -> ApiResult<StatusCode> {
    let client_addr = caller.0.client_addr.clone();
    let (_, user) = user_actor(caller)?;
    if user.id.0 != id {
        return Err(Error::Forbidden("setting another user's CLI secret".into()).into());
    }
    state.auth.set_cli_secret(&user, &request.secret, client_addr.as_deref()).await?;
    Ok(StatusCode::OK)
}
