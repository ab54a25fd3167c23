//! A project's robot accounts in the portal: listing them, creating one
//! with registry permissions and a lifetime (its secret comes back once),
//! refreshing the secret, disabling/enabling and deleting. All of it needs
//! `manage_robots` in the project; the robot service decides.

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
        |robot| RobotItem {
            id: robot.id.0,
            expired: robot.expires_at.is_some_and(|at| at <= now),
            permissions: robot
                .permissions
                .iter()
                .flat_map(|permission| permission.actions.iter().map(|action| action.name().to_owned()))
                .collect(),
            name: robot.name,
            description: robot.description,
            disabled: robot.disabled,
            expires_at: robot.expires_at,
            created_by: robot.created_by,
            created_at: robot.created_at,
        },
    ))
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
    use crate::core::{AppState, identity::RobotPermission, rbac::Action, robots::NewRobot};

    let actor = crate::api::session::require_actor().await?;
    let expires_in_days = match expires_in_days.as_deref().map(str::trim).filter(|days| !days.is_empty()) {
        None => None,
        Some(days) => Some(days.parse::<u32>().map_err(|_| {
            let message = "must be a whole number of days, or empty for never".into();
            AppError::Invalid { field: "expires_in_days".into(), message }.respond()
        })?),
    };
    let actions: Vec<Action> = [(pull, Action::Pull), (push, Action::Push), (delete, Action::DeleteArtifact)]
        .into_iter()
        .filter_map(|(ticked, action)| ticked.map(|_| action))
        .collect();
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
pub async fn refresh_robot_secret(project: String, id: i64) -> Result<RobotCredentials, AppError> {
    use crate::core::AppState;

    let actor = crate::api::session::require_actor().await?;
    let robot = project_robot(&actor, &project, id).await?;
    let secret = expect_context::<AppState>().robots.refresh_secret(&actor, &robot.name).await?;
    Ok(RobotCredentials { name: robot.name, secret })
}

#[server(prefix = "/portal/fn", endpoint = "set_robot_disabled")]
pub async fn set_robot_disabled(project: String, id: i64, disabled: bool) -> Result<(), AppError> {
    use crate::core::AppState;

    let actor = crate::api::session::require_actor().await?;
    let robot = project_robot(&actor, &project, id).await?;
    Ok(expect_context::<AppState>().robots.set_disabled(&actor, &robot.name, disabled).await?)
}

#[server(prefix = "/portal/fn", endpoint = "delete_robot")]
pub async fn delete_robot(project: String, id: i64) -> Result<(), AppError> {
    use crate::core::AppState;

    let actor = crate::api::session::require_actor().await?;
    let robot = project_robot(&actor, &project, id).await?;
    Ok(expect_context::<AppState>().robots.delete(&actor, &robot.name).await?)
}

/// The robot with this id, if it belongs to this project and the caller
/// may manage it: another project's robot id is not found through this one.
#[cfg(feature = "ssr")]
async fn project_robot(
    actor: &crate::core::identity::Actor,
    project: &str,
    id: i64,
) -> Result<crate::core::identity::Robot, AppError> {
    use crate::core::{AppState, Error, identity::RobotId};

    let robot = expect_context::<AppState>().robots.get(actor, RobotId(id)).await?;
    if robot.project.as_deref() != Some(project) {
        return Err(Error::NotFound(format!("robot {id} in project {project}")).into());
    }
    Ok(robot)
}
