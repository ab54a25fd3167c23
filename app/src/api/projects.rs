//! Projects in the portal: the list the signed-in user may see, creating,
//! configuring and deleting one, and a project's overview and repositories.
//! Every function calls the project or artifact service, which asks the
//! access service; nothing here decides permissions.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::AppError;

/// Rows per page of the project and repository lists.
pub const PAGE_SIZE: u32 = 20;

/// A project as the list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectItem {
    pub name: String,
    pub public: bool,
    pub repository_count: i64,
    /// Bytes.
    pub storage_used: i64,
    /// Bytes; `None` for no limit.
    pub storage_quota: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// A keyset page: its rows, the total, and the cursors to the pages on
/// either side (`None` at an end).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub total: i64,
    /// Ask with `before=<this>` for the previous page.
    pub previous: Option<String>,
    /// Ask with `after=<this>` for the next page.
    pub next: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectList {
    pub projects: Listing<ProjectItem>,
    /// Whether the "New project" form is offered.
    pub may_create: bool,
}

/// What the signed-in user may do in a project: which tabs and buttons the
/// project's pages show. The server functions check again on every call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectPermissions {
    pub push: bool,
    pub delete_artifacts: bool,
    pub manage_tags: bool,
    pub read_members: bool,
    pub manage_members: bool,
    pub manage_robots: bool,
    pub read_logs: bool,
    pub read_tag_policies: bool,
    pub edit: bool,
    pub delete: bool,
    /// System administrators only.
    pub change_quota: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectOverview {
    pub name: String,
    pub public: bool,
    pub owner: Option<String>,
    pub created_at: DateTime<Utc>,
    pub repository_count: i64,
    /// `None` for those who may not see the members.
    pub member_count: Option<i64>,
    pub storage_used: i64,
    pub storage_quota: Option<i64>,
    /// `host[:port]` clients put in front of repository names.
    pub registry_host: String,
    pub permissions: ProjectPermissions,
    /// A new robot's lifetime unless its form says otherwise (days); read
    /// only for those who may manage robots.
    pub robot_lifetime_days: Option<u32>,
}

/// A repository as a project's list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryItem {
    /// The full name, `<project>/<rest>`.
    pub name: String,
    pub artifact_count: i64,
    pub updated_at: DateTime<Utc>,
}

#[cfg(feature = "ssr")]
impl From<crate::core::artifacts::RepositorySummary> for RepositoryItem {
    fn from(repository: crate::core::artifacts::RepositorySummary) -> Self {
        Self { name: repository.name, artifact_count: repository.artifact_count, updated_at: repository.updated_at }
    }
}

/// Quota units the forms offer, in bytes.
pub const QUOTA_UNITS: [(&str, i64); 3] = [("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40)];

/// A quota typed into a form: empty for no limit, else a positive number
/// (decimals allowed) of `unit`.
pub fn parse_quota(amount: Option<&str>, unit: Option<&str>) -> Result<Option<i64>, AppError> {
    let invalid = |message: &str| AppError::Invalid { field: "storage_quota".into(), message: message.into() };
    let amount = amount.map(str::trim).unwrap_or_default();
    if amount.is_empty() {
        return Ok(None);
    }
    let unit = unit.unwrap_or("GiB");
    let (_, bytes_per_unit) = QUOTA_UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .ok_or_else(|| invalid("the unit must be MiB, GiB or TiB"))?;
    let number: f64 = amount.parse().map_err(|_| invalid("must be a number, or empty for no limit"))?;
    if !number.is_finite() || number <= 0.0 {
        return Err(invalid("must be more than zero, or empty for no limit"));
    }
    let bytes = (number * *bytes_per_unit as f64).round();
    if bytes >= i64::MAX as f64 {
        return Err(invalid("is too large"));
    }
    Ok(Some(bytes as i64))
}

/// The keyset a page link of a list ordered by name asks for.
#[cfg(feature = "ssr")]
pub(crate) fn keyset(after: Option<String>, before: Option<String>) -> crate::core::db::Keyset<String> {
    use crate::core::db::Keyset;
    match (after, before) {
        (Some(after), _) => Keyset::After(after),
        (None, Some(before)) => Keyset::Before(before),
        (None, None) => Keyset::First,
    }
}

/// A keyset page as the portal shows it: its rows, mapped, and the cursors
/// (`key` of the first and last row) to the pages on either side.
#[cfg(feature = "ssr")]
pub(crate) fn listing<T, U>(
    page: crate::core::db::Page<T>,
    key: impl Fn(&T) -> String,
    map: impl Fn(T) -> U,
) -> Listing<U> {
    let previous = page.has_previous.then(|| page.items.first().map(&key)).flatten();
    let next = page.has_next.then(|| page.items.last().map(&key)).flatten();
    Listing { items: page.items.into_iter().map(map).collect(), total: page.total, previous, next }
}

#[server(prefix = "/portal/fn", endpoint = "projects")]
pub async fn list_projects(
    search: Option<String>,
    after: Option<String>,
    before: Option<String>,
) -> Result<ProjectList, AppError> {
    use crate::core::AppState;

    let actor = crate::api::session::require_actor().await?;
    let state = expect_context::<AppState>();
    let search = search.filter(|s| !s.trim().is_empty());
    let page =
        state.projects.browse(&actor, search.as_deref().map(str::trim), &keyset(after, before), PAGE_SIZE).await?;
    let ids: Vec<_> = page.items.iter().map(|p| p.id).collect();
    let used = state.projects.storage_used(&actor, &ids).await?;
    let projects = listing(
        page,
        |project| project.name.to_string(),
        |project| ProjectItem {
            storage_used: used.get(&project.id).copied().unwrap_or(0),
            name: project.name.to_string(),
            public: project.public,
            repository_count: project.repository_count,
            storage_quota: project.storage_quota,
            created_at: project.created_at,
        },
    );
    Ok(ProjectList { projects, may_create: state.projects.may_create(&actor).await? })
}

/// Creates a project; the form sends `public` only when ticked, and the
/// quota as an amount and a unit.
#[server(prefix = "/portal/fn", endpoint = "create_project")]
pub async fn create_project(
    name: String,
    public: Option<String>,
    quota: Option<String>,
    quota_unit: Option<String>,
) -> Result<String, AppError> {
    use crate::core::{AppState, projects::NewProject};

    let actor = crate::api::session::require_actor().await?;
    let storage_quota = parse_quota(quota.as_deref(), quota_unit.as_deref()).map_err(AppError::respond)?;
    let new = NewProject { name: name.trim(), public: public.is_some(), storage_quota };
    let project = expect_context::<AppState>().projects.create(&actor, new).await?;
    Ok(project.name.to_string())
}

#[server(prefix = "/portal/fn", endpoint = "delete_project")]
pub async fn delete_project(name: String) -> Result<(), AppError> {
    use crate::core::AppState;

    let actor = crate::api::session::require_actor().await?;
    Ok(expect_context::<AppState>().projects.delete(&actor, &name).await?)
}

#[server(prefix = "/portal/fn", endpoint = "project")]
pub async fn get_project(name: String) -> Result<ProjectOverview, AppError> {
    use crate::core::{AppState, rbac::Action};

    let actor = crate::api::session::require_actor().await?;
    let state = expect_context::<AppState>();
    let summary = state.projects.summary(&actor, &name).await?;
    let may = |action| summary.grant.allows(action);
    let permissions = ProjectPermissions {
        push: may(Action::Push),
        delete_artifacts: may(Action::DeleteArtifact),
        manage_tags: may(Action::ManageTags),
        read_members: may(Action::ReadMembers),
        manage_members: may(Action::ManageMembers),
        manage_robots: may(Action::ManageRobots),
        read_logs: may(Action::ReadLogs),
        read_tag_policies: may(Action::ReadTagPolicies),
        edit: may(Action::EditProject),
        delete: may(Action::DeleteProject),
        change_quota: crate::core::access::may_system(&actor, crate::core::rbac::SystemAction::ManageQuotas),
    };
    let member_count = permissions.read_members.then(|| summary.members_by_role.iter().map(|(_, n)| n).sum());
    let project = summary.project;
    let storage_used = state.projects.storage_used(&actor, &[project.id]).await?.get(&project.id).copied().unwrap_or(0);
    Ok(ProjectOverview {
        name: project.name.to_string(),
        public: project.public,
        owner: project.owner_name,
        created_at: project.created_at,
        repository_count: project.repository_count,
        member_count,
        storage_used,
        storage_quota: project.storage_quota,
        registry_host: state.http.registry_host().to_owned(),
        robot_lifetime_days: match permissions.manage_robots {
            true => Some(state.settings.robot_token_duration_days().await?),
            false => None,
        },
        permissions,
    })
}

/// Saves the configuration form: the public flag (sent only when ticked)
/// and, when `set_quota` is sent (the form has the quota fields for system
/// administrators only), the quota; an empty amount lifts it. Only what
/// changed is written.
#[server(prefix = "/portal/fn", endpoint = "configure_project")]
pub async fn configure_project(
    name: String,
    public: Option<String>,
    set_quota: Option<String>,
    quota: Option<String>,
    quota_unit: Option<String>,
) -> Result<(), AppError> {
    use crate::core::AppState;

    let actor = crate::api::session::require_actor().await?;
    let state = expect_context::<AppState>();
    let project = state.projects.get(&actor, &name).await?;
    let public = public.is_some();
    if public != project.public {
        state.projects.set_public(&actor, &name, public).await?;
    }
    if set_quota.is_some() {
        let storage_quota = parse_quota(quota.as_deref(), quota_unit.as_deref()).map_err(AppError::respond)?;
        if storage_quota != project.storage_quota {
            state.projects.set_storage_quota(&actor, &name, storage_quota).await?;
        }
    }
    Ok(())
}

#[server(prefix = "/portal/fn", endpoint = "project_repositories")]
pub async fn list_repositories(
    project: String,
    search: Option<String>,
    after: Option<String>,
    before: Option<String>,
) -> Result<Listing<RepositoryItem>, AppError> {
    use crate::core::AppState;

    let actor = crate::api::session::require_actor().await?;
    let state = expect_context::<AppState>();
    let search = search.filter(|s| !s.trim().is_empty());
    let page = state
        .artifacts
        .browse_repositories(&actor, &project, search.as_deref().map(str::trim), &keyset(after, before), PAGE_SIZE)
        .await?;
    Ok(listing(page, |repository| repository.name.clone(), RepositoryItem::from))
}

#[cfg(test)]
mod tests {
    use super::parse_quota;

    #[test]
    fn quotas_typed_into_forms() {
        assert_eq!(parse_quota(None, None).unwrap(), None);
        assert_eq!(parse_quota(Some("  "), Some("GiB")).unwrap(), None);
        assert_eq!(parse_quota(Some("2"), Some("GiB")).unwrap(), Some(2 << 30));
        assert_eq!(parse_quota(Some("1.5"), Some("MiB")).unwrap(), Some(3 << 19));
        for (amount, unit) in [("0", "GiB"), ("-1", "GiB"), ("lots", "GiB"), ("1", "PB"), ("1e300", "TiB")] {
            assert!(parse_quota(Some(amount), Some(unit)).is_err(), "{amount} {unit}");
        }
    }
}
