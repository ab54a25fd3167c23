//! The Administration area's Users and Groups pages: accounts (search,
//! create, administrator or not, password reset, delete), whether people
//! may register themselves, and the LDAP and OIDC groups that can be
//! project members. System administrators only; the core refuses anyone else.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::api::numbered::{ticked, window};
use crate::api::{AppError, numbered::Listing};

/// Longest search text the lists take (a username is at most 255 characters).
pub const MAX_SEARCH: usize = 255;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserItem {
    pub id: i64,
    pub username: String,
    pub full_name: String,
    pub email: Option<String>,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
    /// `admin` and the person looking: neither loses the flag nor is deleted here.
    pub protected: bool,
    /// The person looking (who changes their own password on the profile page).
    pub me: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupItem {
    pub id: i64,
    /// `ldap` or `oidc`.
    pub kind: String,
    /// An LDAP group's DN, or an OIDC group's name in the groups claim.
    pub name: String,
}

#[cfg(feature = "ssr")]
fn search_text(search: Option<String>) -> Result<Option<String>, AppError> {
    let search = search.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if search.as_ref().is_some_and(|s| s.chars().count() > MAX_SEARCH) {
        return Err(crate::core::Error::invalid("search", format!("must be at most {MAX_SEARCH} characters")).into());
    }
    Ok(search)
}

/// A page of accounts whose username contains `search`.
#[server(prefix = "/portal/fn", endpoint = "admin_users")]
pub async fn list_users(page: u32, search: Option<String>) -> Result<Listing<UserItem>, AppError> {
    use crate::core::{AppState, users::ADMIN_USERNAME};

    let actor = crate::api::session::require_actor().await?;
    let search = search_text(search)?;
    let found = expect_context::<AppState>().users.list_users(&actor, search.as_deref(), window(page)).await?;
    let me = actor.principal.name().map(str::to_owned);
    let items = found
        .items
        .into_iter()
        .map(|user| UserItem {
            id: user.id.0,
            protected: user.username.as_str() == ADMIN_USERNAME || me.as_deref() == Some(user.username.as_str()),
            me: me.as_deref() == Some(user.username.as_str()),
            username: user.username.to_string(),
            full_name: user.full_name,
            email: user.email,
            is_admin: user.is_admin,
            created_at: user.created_at,
        })
        .collect();
    Ok(Listing { items, total: found.total })
}

/// Creates a database account; the password is typed twice.
#[server(prefix = "/portal/fn", endpoint = "admin_create_user")]
pub async fn create_user(
    username: String,
    email: Option<String>,
    full_name: Option<String>,
    password: String,
    confirm_password: String,
    is_admin: Option<String>,
) -> Result<i64, AppError> {
    use crate::core::{AppState, Error, users::NewAccount};

    let actor = crate::api::session::require_actor().await?;
    if password != confirm_password {
        return Err(AppError::from(Error::invalid("confirm_password", "does not match the password")));
    }
    let email = email.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty());
    let account = NewAccount {
        username: username.trim(),
        password: &password,
        email: email.as_deref(),
        full_name: full_name.as_deref().unwrap_or_default().trim(),
        is_admin: ticked(&is_admin),
    };
    Ok(expect_context::<AppState>().users.create_user(&actor, account).await?.id.0)
}

#[server(prefix = "/portal/fn", endpoint = "admin_set_user_admin")]
pub async fn set_user_admin(id: i64, is_admin: bool) -> Result<(), AppError> {
    use crate::core::{AppState, identity::UserId};

    let actor = crate::api::session::require_actor().await?;
    Ok(expect_context::<AppState>().users.set_admin(&actor, UserId(id), is_admin).await?)
}

/// Sets a database account's password; the person is not asked for the old one.
#[server(prefix = "/portal/fn", endpoint = "admin_reset_password")]
pub async fn reset_user_password(username: String, password: String, confirm_password: String) -> Result<(), AppError> {
    use crate::core::{AppState, Error};

    let actor = crate::api::session::require_actor().await?;
    if password != confirm_password {
        return Err(AppError::from(Error::invalid("confirm_password", "does not match the password")));
    }
    let users = expect_context::<AppState>().users.clone();
    Ok(users.change_password(&actor, &username, None, &password).await?)
}

#[server(prefix = "/portal/fn", endpoint = "admin_delete_user")]
pub async fn delete_user(id: i64) -> Result<(), AppError> {
    use crate::core::{AppState, identity::UserId};

    let actor = crate::api::session::require_actor().await?;
    Ok(expect_context::<AppState>().users.delete_user(&actor, UserId(id)).await?)
}

/// Whether people may register themselves, as an administrator left it,
/// and whether it applies now (only while users sign in with database accounts).
#[server(prefix = "/portal/fn", endpoint = "admin_self_registration")]
pub async fn self_registration() -> Result<(bool, bool), AppError> {
    use crate::core::{AppState, access::require_system, rbac::SystemAction};

    let actor = crate::api::session::require_actor().await?;
    let grant = require_system(&actor, SystemAction::ManageSettings)?;
    let settings = expect_context::<AppState>().settings.clone();
    let setting = settings.self_registration_setting(&grant).await?;
    let database_mode = settings.sign_in_mode().await?.mode_name == "db_auth";
    Ok((setting, database_mode))
}

#[server(prefix = "/portal/fn", endpoint = "admin_set_self_registration")]
pub async fn set_self_registration(allowed: bool) -> Result<(), AppError> {
    let actor = crate::api::session::require_actor().await?;
    Ok(expect_context::<crate::core::AppState>().settings.set_self_registration(&actor, allowed).await?)
}

/// A page of LDAP and OIDC groups whose name contains `search`.
#[server(prefix = "/portal/fn", endpoint = "admin_groups")]
pub async fn list_groups(page: u32, search: Option<String>) -> Result<Listing<GroupItem>, AppError> {
    use crate::core::AppState;

    let actor = crate::api::session::require_actor().await?;
    let search = search_text(search)?;
    let found = expect_context::<AppState>().users.list_groups(&actor, search.as_deref(), window(page)).await?;
    let items = found
        .items
        .into_iter()
        .map(|group| GroupItem { id: group.id, kind: group.kind.to_string(), name: group.name })
        .collect();
    Ok(Listing { items, total: found.total })
}

/// Adds an LDAP group (by DN, which the directory must have) or an OIDC
/// group (by name), for the login mode in force.
#[server(prefix = "/portal/fn", endpoint = "admin_add_group")]
pub async fn add_group(kind: String, name: String) -> Result<i64, AppError> {
    use crate::core::{AppState, Error, identity::AuthSource};

    let actor = crate::api::session::require_actor().await?;
    let kind = match kind.as_str() {
        "ldap" => AuthSource::Ldap,
        "oidc" => AuthSource::Oidc,
        _ => return Err(AppError::from(Error::invalid("kind", "must be ldap or oidc"))),
    };
    Ok(expect_context::<AppState>().auth.add_group(&actor, kind, name.trim()).await?)
}

#[server(prefix = "/portal/fn", endpoint = "admin_delete_group")]
pub async fn delete_group(id: i64) -> Result<(), AppError> {
    let actor = crate::api::session::require_actor().await?;
    Ok(expect_context::<crate::core::AppState>().users.delete_group(&actor, id).await?)
}
