//! Robot accounts as the rest of the core sees them: the name, where they
//! work and the registry permissions they hold.

use chrono::{DateTime, Utc};

use crate::core::rbac::Action;

/// What every robot's login name starts with (users may not use `$`).
pub const ROBOT_PREFIX: &str = "robot$";

/// A robot's database id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RobotId(pub i64);

/// Registry permissions in one project, or in every project (`project: None`,
/// system robots only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RobotPermission {
    pub project: Option<String>,
    pub actions: Vec<Action>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Robot {
    pub id: RobotId,
    /// The full login name.
    pub name: String,
    pub description: String,
    /// The project of a project robot; `None` for system robots.
    pub project: Option<String>,
    pub disabled: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub permissions: Vec<RobotPermission>,
}

impl Robot {
    /// Neither disabled nor expired.
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        usable(self.disabled, self.expires_at, now)
    }
}

/// Neither disabled nor expired at `now`.
pub(crate) fn usable(disabled: bool, expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    !disabled && expires_at.is_none_or(|at| at > now)
}
