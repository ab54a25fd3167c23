//! Robot accounts in the portal: a project's (which need `manage_robots`
//! there) and system robots, whose permissions apply in chosen projects or
//! all of them (system administrators only). Listing them, creating one
//! with registry permissions and a lifetime (its secret comes back once),
//! refreshing the secret, disabling/enabling and deleting; the robot
//! service decides who may.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::{AppError, projects::Listing};

/// The permissions a project robot may hold, as the form offers them: the
/// stored action name and a label.
pub const ROBOT_PERMISSIONS: [(&str, &str); 3] =
    [("pull", "Pull artifacts"), ("push", "Push artifacts"), ("delete", "Delete artifacts")];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RobotItem {
    pub id: i64,
    /// The full login name, `robot$<project>+<name>`.
    pub name: String,
    pub description: String,
    pub disabled: bool,
    pub expires_at: Option<DateTime<Utc>>,
    /// Past its expiry date now.
    pub expired: bool,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// Action names (see [`ROBOT_PERMISSIONS`]).
    pub permissions: Vec<String>,
    /// Where a system robot's permissions apply ("All projects", or the
    /// projects named); `None` for a project robot.
    pub scope: Option<String>,
}

/// A robot's login name and secret, shown once after creating or refreshing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RobotCredentials {
    pub name: String,
    pub secret: String,
}

/// Robots shown on one page of the Robot accounts tab.
pub const ROBOT_PAGE_SIZE: u32 = 25;

#[server(prefix = "/portal/fn", endpoint = "project_robots")]
pub async fn list_robots(
    project: String,
    after: Option<String>,
    before: Option<String>,
) -> Result<Listing<RobotItem>, AppError> {
    use crate::core::{AppState, db::NameCursor};

    let actor = crate::api::session::require_actor().await?;
    let keyset = NameCursor::keyset(after.as_deref(), before.as_deref())?;
    let page = expect_context::<AppState>().robots.browse(&actor, &project, &keyset, ROBOT_PAGE_SIZE).await?;
    let now = Utc::now();
    Ok(crate::api::projects::listing(
        page,
        |robot| NameCursor { name: robot.name.clone(), id: robot.id.0 }.encode(),
        |robot| robot_item(robot, now),
    ))
}

#[cfg(feature = "ssr")]
fn robot_item(robot: crate::core::identity::Robot, now: DateTime<Utc>) -> RobotItem {
    let mut permissions: Vec<String> = Vec::new();
    for action in robot.permissions.iter().flat_map(|permission| &permission.actions) {
        if !permissions.iter().any(|name| name == action.name()) {
            permissions.push(action.name().to_owned());
        }
    }
    let scope = robot.project.is_none().then(|| {
        if robot.permissions.iter().any(|permission| permission.project.is_none()) {
            return "All projects".to_owned();
        }
        let projects: Vec<&str> = robot.permissions.iter().filter_map(|p| p.project.as_deref()).collect();
        match projects.len() {
            0..=5 => projects.join(", "),
            more => format!("{} and {} more", projects[..5].join(", "), more - 5),
        }
    });
    RobotItem {
        id: robot.id.0,
        expired: robot.expires_at.is_some_and(|at| at <= now),
        permissions,
        scope,
        name: robot.name,
        description: robot.description,
        disabled: robot.disabled,
        expires_at: robot.expires_at,
        created_by: robot.created_by,
        created_at: robot.created_at,
    }
}

/// Most projects a system robot's form may name (more: grant all projects).
pub const MAX_ROBOT_PROJECTS: usize = 100;

/// A page of system robots (system administrators only).
#[server(prefix = "/portal/fn", endpoint = "system_robots")]
pub async fn list_system_robots(page: u32) -> Result<crate::api::numbered::Listing<RobotItem>, AppError> {
    use crate::core::AppState;

    let actor = crate::api::session::require_actor().await?;
    let found = expect_context::<AppState>().robots.list(&actor, None, crate::api::numbered::window(page)).await?;
    let now = Utc::now();
    Ok(crate::api::numbered::Listing {
        total: found.total,
        items: found.items.into_iter().map(|robot| robot_item(robot, now)).collect(),
    })
}

/// The lifetime a new robot gets unless the form says otherwise (days).
#[server(prefix = "/portal/fn", endpoint = "robot_default_lifetime")]
pub async fn robot_default_lifetime() -> Result<u32, AppError> {
    crate::api::session::require_actor().await?;
    Ok(expect_context::<crate::core::AppState>().settings.robot_token_duration_days().await?)
}

/// Creates a system robot: its permissions apply in every project
/// (`all_projects` ticked) or in the projects named (comma-separated).
#[server(prefix = "/portal/fn", endpoint = "create_system_robot")]
#[allow(clippy::too_many_arguments)]
pub async fn create_system_robot(
    name: String,
    description: Option<String>,
    expires_in_days: Option<String>,
    all_projects: Option<String>,
    projects: Option<String>,
    pull: Option<String>,
    push: Option<String>,
    delete: Option<String>,
) -> Result<RobotCredentials, AppError> {
    use crate::core::{AppState, Error, identity::RobotPermission, robots::NewRobot};

    let actor = crate::api::session::require_actor().await?;
    let actions = ticked_actions(pull, push, delete);
    let permissions = if actions.is_empty() {
        vec![]
    } else if all_projects.is_some() {
        vec![RobotPermission { project: None, actions }]
    } else {
        let mut named: Vec<String> = Vec::new();
        for project in projects.as_deref().unwrap_or_default().split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if !named.iter().any(|p| p == project) {
                named.push(project.to_owned());
            }
        }
        if named.is_empty() {
            return Err(Error::invalid("projects", "name at least one project, or grant all projects").into());
        }
        if named.len() > MAX_ROBOT_PROJECTS {
            let message = format!("at most {MAX_ROBOT_PROJECTS} projects; grant all projects instead");
            return Err(Error::invalid("projects", message).into());
        }
        named.into_iter().map(|project| RobotPermission { project: Some(project), actions: actions.clone() }).collect()
    };
    let new = NewRobot {
        name: name.trim(),
        description: description.as_deref().unwrap_or_default().trim(),
        project: None,
        expires_in_days: lifetime(expires_in_days)?,
        permissions,
    };
    let created = expect_context::<AppState>().robots.create(&actor, new).await?;
    Ok(RobotCredentials { name: created.robot.name, secret: created.secret })
}

/// Days typed into a form; empty for never.
#[cfg(feature = "ssr")]
fn lifetime(days: Option<String>) -> Result<Option<u32>, AppError> {
    match days.as_deref().map(str::trim).filter(|days| !days.is_empty()) {
        None => Ok(None),
        Some(days) => Ok(Some(days.parse::<u32>().map_err(|_| {
            let message = "must be a whole number of days, or empty for never".into();
            AppError::Invalid { field: "expires_in_days".into(), message }.respond()
        })?)),
    }
}

/// The registry actions whose boxes were ticked.
#[cfg(feature = "ssr")]
fn ticked_actions(
    pull: Option<String>,
    push: Option<String>,
    delete: Option<String>,
) -> Vec<crate::core::rbac::Action> {
    use crate::core::rbac::Action;
    [(pull, Action::Pull), (push, Action::Push), (delete, Action::DeleteArtifact)]
        .into_iter()
        .filter_map(|(ticked, action)| ticked.map(|_| action))
        .collect()
}

/// Creates a project robot. The form sends each ticked permission as a
/// field of its name (`pull`, `push`, `delete`) and `expires_in_days` empty
/// for never.
#[server(prefix = "/portal/fn", endpoint = "create_robot")]
#[allow(clippy::too_many_arguments)]
pub async fn create_robot(
    project: String,
    name: String,
    description: Option<String>,
    expires_in_days: Option<String>,
    pull: Option<String>,
    push: Option<String>,
    delete: Option<String>,
) -> Result<RobotCredentials, AppError> {
    use crate::core::{AppState, identity::RobotPermission, robots::NewRobot};

    let actor = crate::api::session::require_actor().await?;
    let expires_in_days = lifetime(expires_in_days)?;
    let actions = ticked_actions(pull, push, delete);
    let permissions =
        if actions.is_empty() { vec![] } else { vec![RobotPermission { project: Some(project.clone()), actions }] };
    let new = NewRobot {
        name: name.trim(),
        description: description.as_deref().unwrap_or_default().trim(),
        project: Some(&project),
        expires_in_days,
        permissions,
    };
    let created = expect_context::<AppState>().robots.create(&actor, new).await?;
    Ok(RobotCredentials { name: created.robot.name, secret: created.secret })
}

#[server(prefix = "/portal/fn", endpoint = "refresh_robot_secret")]
pub async fn refresh_robot_secret(project: Option<String>, id: i64) -> Result<RobotCredentials, AppError> {
    use crate::core::AppState;

    let actor = crate::api::session::require_actor().await?;
    let robot = project_robot(&actor, project.as_deref(), id).await?;
    let secret = expect_context::<AppState>().robots.refresh_secret(&actor, &robot.name).await?;
    Ok(RobotCredentials { name: robot.name, secret })
}

#[server(prefix = "/portal/fn", endpoint = "set_robot_disabled")]
pub async fn set_robot_disabled(project: Option<String>, id: i64, disabled: bool) -> Result<(), AppError> {
    use crate::core::AppState;

    let actor = crate::api::session::require_actor().await?;
    let robot = project_robot(&actor, project.as_deref(), id).await?;
    Ok(expect_context::<AppState>().robots.set_disabled(&actor, &robot.name, disabled).await?)
}

#[server(prefix = "/portal/fn", endpoint = "delete_robot")]
pub async fn delete_robot(project: Option<String>, id: i64) -> Result<(), AppError> {
    use crate::core::AppState;

    let actor = crate::api::session::require_actor().await?;
    let robot = project_robot(&actor, project.as_deref(), id).await?;
    Ok(expect_context::<AppState>().robots.delete(&actor, &robot.name).await?)
}

/// The robot with this id, if it belongs to this project (a system robot
/// for `None`) and the caller may manage it: another project's robot id is
/// not found through this one.
#[cfg(feature = "ssr")]
async fn project_robot(
    actor: &crate::core::identity::Actor,
    project: Option<&str>,
    id: i64,
) -> Result<crate::core::identity::Robot, AppError> {
    use crate::core::{AppState, Error, identity::RobotId};

    let robot = expect_context::<AppState>().robots.get(actor, RobotId(id)).await?;
    if robot.project.as_deref() != project {
        let place = project.map_or_else(|| "among system robots".to_owned(), |p| format!("in project {p}"));
        return Err(Error::NotFound(format!("robot {id} {place}")).into());
    }
    Ok(robot)
}
