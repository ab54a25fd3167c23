//! A project's members in the portal: listing them (`read_members`),
//! adding a user or an LDAP/OIDC group with a role, changing a role and
//! removing a member (`manage_members`). The project service decides.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::{AppError, projects::Listing};

/// The roles as the forms offer them: the stored name and a label, strongest first.
pub const ROLES: [(&str, &str); 5] = [
    ("project_admin", "Project admin"),
    ("maintainer", "Maintainer"),
    ("developer", "Developer"),
    ("guest", "Guest"),
    ("limited_guest", "Limited guest"),
];

/// The label of a stored role name.
pub fn role_label(name: &str) -> &'static str {
    ROLES.iter().find(|(role, _)| *role == name).map_or("Unknown role", |(_, label)| label)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberItem {
    /// The membership's id.
    pub id: i64,
    /// The username, or the group's name (an LDAP group's DN).
    pub name: String,
    pub is_group: bool,
    /// The stored role name (see [`ROLES`]).
    pub role: String,
}

/// Members shown on one page of the Members tab.
pub const MEMBER_PAGE_SIZE: u32 = 25;

#[server(prefix = "/portal/fn", endpoint = "project_members")]
pub async fn list_members(
    project: String,
    after: Option<String>,
    before: Option<String>,
) -> Result<Listing<MemberItem>, AppError> {
    use crate::core::{AppState, db::NameCursor, projects::MemberRef};

    let actor = crate::api::session::require_actor().await?;
    let keyset = NameCursor::keyset(after.as_deref(), before.as_deref())?;
    let page =
        expect_context::<AppState>().projects.browse_members(&actor, &project, &keyset, MEMBER_PAGE_SIZE).await?;
    Ok(crate::api::projects::listing(
        page,
        |member| NameCursor { name: member.name.clone(), id: member.id }.encode(),
        |member| MemberItem {
            id: member.id,
            name: member.name,
            is_group: matches!(member.member, MemberRef::Group(_)),
            role: member.role.name().to_owned(),
        },
    ))
}

/// Adds a member: `kind` is `user` (by username), `ldap_group` (by DN,
/// checked against the directory) or `oidc_group` (by the provider's name).
#[server(prefix = "/portal/fn", endpoint = "add_member")]
pub async fn add_member(project: String, kind: String, name: String, role: String) -> Result<(), AppError> {
    use crate::core::{AppState, Error, projects::MemberRef};

    let actor = crate::api::session::require_actor().await?;
    let state = expect_context::<AppState>();
    let role = parse_role(&role)?;
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::Invalid { field: "name".into(), message: "who is to become a member?".into() }.respond());
    }
    if !matches!(kind.as_str(), "user" | "ldap_group" | "oidc_group") {
        let message = "must be user, ldap_group or oidc_group".into();
        return Err(AppError::Invalid { field: "kind".into(), message }.respond());
    }
    // Resolved only after the permission check (a group may mean a directory search).
    let member = async {
        Ok::<_, AppError>(match kind.as_str() {
            "user" => {
                let user = state.users.find(name).await?;
                MemberRef::User(user.ok_or_else(|| AppError::from(Error::NotFound(format!("user {name}"))))?.id)
            }
            "ldap_group" => MemberRef::Group(state.auth.ldap_group(name).await?),
            _ => MemberRef::Group(state.auth.oidc_group(name).await?),
        })
    };
    state.projects.add_member(&actor, &project, role, member).await?;
    Ok(())
}

#[server(prefix = "/portal/fn", endpoint = "change_member_role")]
pub async fn change_member_role(project: String, id: i64, role: String) -> Result<(), AppError> {
    use crate::core::AppState;

    let actor = crate::api::session::require_actor().await?;
    let state = expect_context::<AppState>();
    let role = parse_role(&role)?;
    let member = state.projects.member(&actor, &project, id).await?;
    state.projects.set_member(&actor, &project, member.member, role).await?;
    Ok(())
}

#[server(prefix = "/portal/fn", endpoint = "remove_member")]
pub async fn remove_member(project: String, id: i64) -> Result<(), AppError> {
    use crate::core::AppState;

    let actor = crate::api::session::require_actor().await?;
    let state = expect_context::<AppState>();
    let member = state.projects.member(&actor, &project, id).await?;
    state.projects.remove_member(&actor, &project, member.member).await?;
    Ok(())
}

#[cfg(feature = "ssr")]
fn parse_role(name: &str) -> Result<crate::core::rbac::Role, AppError> {
    crate::core::rbac::Role::parse(name)
        .ok_or_else(|| AppError::Invalid { field: "role".into(), message: format!("{name:?} is not a role") }.respond())
}
