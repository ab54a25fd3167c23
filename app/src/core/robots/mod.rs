//! Robot accounts: credentials for pipelines and replication, named
//! `robot$<project>+<name>` (a project robot, working in its one project) or
//! `robot$<name>` (a system robot, with permissions in chosen projects or in
//! all of them). Each holds explicit registry permissions and can never do
//! more; its secret is shown once and can be refreshed; a disabled or
//! expired robot is refused at once. Managing robots is itself a
//! permission: `manage_robots` in the project, or system administrator.
//! The [`Robot`] type itself is part of [`identity`](crate::core::identity).

mod repository;

pub use repository::RobotRepository;

use chrono::{Duration, Utc};
use rand::{Rng, distributions::Alphanumeric, rngs::OsRng};
use sha2::{Digest, Sha256};

use crate::core::{
    Error, Result,
    access::{AccessService, require_system},
    db::{Db, Keyset, NameCursor, Page, Window},
    events::{AuditEvent, Operation, ResourceType},
    identity::{Actor, ROBOT_PREFIX, Robot, RobotId, RobotPermission, robot},
    projects::ProjectName,
    rbac::{Action, SystemAction},
    settings::ROBOT_DAYS,
    users::validate_chosen_secret,
};

/// A robot to create.
#[derive(Clone, Debug)]
pub struct NewRobot<'a> {
    /// The short name (`ci` in `robot$team+ci`).
    pub name: &'a str,
    pub description: &'a str,
    /// `Some(project)` for a project robot, `None` for a system robot.
    pub project: Option<&'a str>,
    /// Days until it expires; `None` for never.
    pub expires_in_days: Option<u32>,
    pub permissions: Vec<RobotPermission>,
}

/// What an update changes; `None` leaves a part as it is.
#[derive(Clone, Debug, Default)]
pub struct RobotChanges<'a> {
    pub description: Option<&'a str>,
    /// `Some(None)`: never expires; `Some(Some(days))`: that many days after creation.
    pub expires_in_days: Option<Option<u32>>,
    pub permissions: Option<Vec<RobotPermission>>,
    pub disabled: Option<bool>,
}

/// A new robot and its secret, which is never shown again.
#[derive(Clone, Debug)]
pub struct CreatedRobot {
    pub robot: Robot,
    pub secret: String,
}

#[derive(Clone, Debug)]
pub struct RobotService {
    repository: RobotRepository,
    access: AccessService,
}

/// The audit row of a change to robot `name` (of `project`), written with the change.
fn audit_event(
    actor: &Actor,
    operation: Operation,
    name: &str,
    project: Option<&str>,
    detail: Option<&str>,
) -> AuditEvent {
    let mut event = AuditEvent::new(operation, ResourceType::Robot, name, actor).in_project(project);
    event.detail = detail.map(str::to_owned);
    event
}

impl RobotService {
    pub fn new(db: Db, access: AccessService) -> Self {
        Self { repository: RobotRepository::new(db), access }
    }

    /// Creates a robot. The actor needs `manage_robots` in the project (a
    /// project robot) or to be a system administrator (a system robot), and
    /// may only grant registry actions they may do themselves.
    pub async fn create(&self, actor: &Actor, new: NewRobot<'_>) -> Result<CreatedRobot> {
        let short = ProjectName::parse(new.name).map_err(|message| Error::invalid("name", message))?;
        check_lifetime(new.expires_in_days)?;
        if new.permissions.is_empty() {
            return Err(Error::invalid("permissions", "a robot needs at least one permission"));
        }
        let name = match new.project {
            Some(project) => {
                self.require_manage(actor, project).await?;
                confine_to_project(project, &new.permissions)?;
                format!("{ROBOT_PREFIX}{project}+{short}")
            }
            None => {
                require_system(actor, SystemAction::ManageSystemRobots)?;
                format!("{ROBOT_PREFIX}{short}")
            }
        };
        self.check_grants(actor, &new.permissions).await?;
        let now = Utc::now();
        let expires_at = new.expires_in_days.map(|days| now + Duration::days(i64::from(days)));
        let secret = generate_secret();
        let secret_hash = hash_secret(&secret);
        let created = self
            .repository
            .create(
                repository::InsertRobot {
                    name: &name,
                    description: new.description,
                    project: new.project,
                    expires_at,
                    secret_hash: &secret_hash,
                    created_by: actor.principal.name().unwrap_or_default(),
                    permissions: &new.permissions,
                    now,
                },
                &audit_event(actor, Operation::Create, &name, new.project, None),
            )
            .await?;
        let id = created.map_err(|refused| refused.into_error(&name))?;
        let robot = self.repository.find(id).await?.ok_or_else(|| Error::NotFound(format!("robot {name}")))?;
        Ok(CreatedRobot { robot, secret })
    }

    /// Changes a robot's description, lifetime (counted from its creation,
    /// as when it was created), permissions and disabled flag; what is
    /// `None` stays. The same rules as for creating it apply.
    pub async fn update(&self, actor: &Actor, name: &str, changes: RobotChanges<'_>) -> Result<Robot> {
        let robot = self.require_managed(actor, name).await?;
        if let Some(permissions) = &changes.permissions {
            if let Some(project) = &robot.project {
                confine_to_project(project, permissions)?;
            }
            self.check_grants(actor, permissions).await?;
        }
        let expires_at = match changes.expires_in_days {
            Some(days) => {
                check_lifetime(days)?;
                Some(days.map(|days| robot.created_at + Duration::days(i64::from(days))))
            }
            None => None,
        };
        let update = repository::RobotUpdate {
            description: changes.description,
            expires_at,
            permissions: changes.permissions.as_deref(),
            disabled: changes.disabled,
            now: Utc::now(),
        };
        let event =
            audit_event(actor, Operation::Update, &robot.name, robot.project.as_deref(), Some("settings changed"));
        self.repository.update(robot.id, &update, &event).await?.map_err(|refused| refused.into_error(&robot.name))?;
        self.repository.find(robot.id).await?.ok_or_else(|| Error::NotFound(format!("robot {name}")))
    }

    /// The actor may grant only robot-grantable actions, and in a project
    /// only what they may do there themselves (one decision per project).
    async fn check_grants(&self, actor: &Actor, permissions: &[RobotPermission]) -> Result<()> {
        if permissions.is_empty() {
            return Err(Error::invalid("permissions", "a robot needs at least one permission"));
        }
        for permission in permissions {
            if permission.actions.is_empty() {
                return Err(Error::invalid("permissions", "each permission needs at least one action"));
            }
            if let Some(action) = permission.actions.iter().find(|a| !Action::ROBOT_GRANTABLE.contains(a)) {
                return Err(Error::invalid("permissions", format!("robots cannot be granted {action}")));
            }
            match &permission.project {
                Some(project) => {
                    self.access.require_all(actor, project, &permission.actions).await?;
                }
                None => {
                    require_system(actor, SystemAction::ManageSystemRobots)?;
                }
            }
        }
        Ok(())
    }

    /// The robots of a project (with `manage_robots` there), or the system
    /// robots (`project: None`, system administrators).
    pub async fn list(&self, actor: &Actor, project: Option<&str>, window: Window) -> Result<Page<Robot>> {
        match project {
            Some(project) => self.require_manage(actor, project).await?,
            None => _ = require_system(actor, SystemAction::ManageSystemRobots)?,
        }
        self.repository.list(project, window).await
    }

    /// A page of a project's robots by name, for those with `manage_robots` there.
    pub async fn browse(
        &self,
        actor: &Actor,
        project: &str,
        keyset: &Keyset<NameCursor>,
        limit: u32,
    ) -> Result<Page<Robot>> {
        self.require_manage(actor, project).await?;
        self.repository.page(project, keyset, limit).await
    }

    /// The robot with this id, for someone who may manage it. Robots the
    /// caller may not manage are refused like missing ones are not: the
    /// id exists, the caller is told they may not.
    pub async fn get(&self, actor: &Actor, id: RobotId) -> Result<Robot> {
        let robot = self.repository.find(id).await?.ok_or_else(|| Error::NotFound(format!("robot {}", id.0)))?;
        self.require_managed(actor, &robot.name).await
    }

    /// Replaces the secret with a generated one; the old one stops working at once.
    pub async fn refresh_secret(&self, actor: &Actor, name: &str) -> Result<String> {
        let secret = generate_secret();
        self.replace_secret(actor, name, &secret, "secret refreshed").await?;
        Ok(secret)
    }

    /// Replaces the secret with one the manager chose (Harbor's rules: 8–128
    /// characters with an upper-case letter, a lower-case letter and a digit).
    pub async fn set_secret(&self, actor: &Actor, name: &str, secret: &str) -> Result<()> {
        validate_chosen_secret("secret", secret)?;
        self.replace_secret(actor, name, secret, "secret set").await
    }

    async fn replace_secret(&self, actor: &Actor, name: &str, secret: &str, detail: &str) -> Result<()> {
        let robot = self.require_managed(actor, name).await?;
        let event = audit_event(actor, Operation::Update, &robot.name, robot.project.as_deref(), Some(detail));
        self.repository.set_secret(robot.id, &hash_secret(secret), Utc::now(), &event).await
    }

    pub async fn set_disabled(&self, actor: &Actor, name: &str, disabled: bool) -> Result<()> {
        let robot = self.require_managed(actor, name).await?;
        let detail = if disabled { "disabled" } else { "enabled" };
        let event = audit_event(actor, Operation::Update, &robot.name, robot.project.as_deref(), Some(detail));
        self.repository.set_disabled(robot.id, disabled, Utc::now(), &event).await
    }

    pub async fn delete(&self, actor: &Actor, name: &str) -> Result<()> {
        let robot = self.require_managed(actor, name).await?;
        let event = audit_event(actor, Operation::Delete, &robot.name, robot.project.as_deref(), None);
        self.repository.delete(robot.id, &event).await
    }

    /// The robot a name/secret pair belongs to, if it is usable now.
    pub async fn authenticate(&self, name: &str, secret: &str) -> Result<Robot> {
        let found = self.repository.find_with_secret(name).await?;
        let now = Utc::now();
        match found {
            // Secrets are long random strings: a fast digest is enough, and
            // comparing digests leaks nothing usable about the secret.
            Some((robot, stored)) if stored == hash_secret(secret) && robot.is_usable(now) => Ok(robot),
            _ => Err(Error::InvalidCredentials),
        }
    }

    /// Whether a robot of that name exists and is usable now: the check
    /// every request with a robot's registry token makes (one small query).
    pub async fn is_usable(&self, name: &str) -> Result<bool> {
        let state = self.repository.usable_state(name).await?;
        Ok(state.is_some_and(|(disabled, expires_at)| robot::usable(disabled, expires_at, Utc::now())))
    }

    /// The robot of that name when it exists and is usable now (registry
    /// tokens issued to it die with it).
    pub async fn find_usable(&self, name: &str) -> Result<Option<Robot>> {
        let found = self.repository.find_with_secret(name).await?;
        Ok(found.map(|(robot, _)| robot).filter(|robot| robot.is_usable(Utc::now())))
    }

    async fn require_manage(&self, actor: &Actor, project: &str) -> Result<()> {
        self.access.require(actor, project, Action::ManageRobots).await?;
        Ok(())
    }

    /// The robot `name`, once `actor` may manage it.
    async fn require_managed(&self, actor: &Actor, name: &str) -> Result<Robot> {
        let robot = self
            .repository
            .find_with_secret(name)
            .await?
            .map(|(robot, _)| robot)
            .ok_or_else(|| Error::NotFound(format!("robot {name}")))?;
        match &robot.project {
            Some(project) => self.require_manage(actor, project).await?,
            None => _ = require_system(actor, SystemAction::ManageSystemRobots)?,
        }
        Ok(robot)
    }
}

/// A project robot's permissions may name only its own project.
fn confine_to_project(project: &str, permissions: &[RobotPermission]) -> Result<()> {
    if permissions.iter().any(|permission| permission.project.as_deref() != Some(project)) {
        return Err(Error::invalid("permissions", format!("a robot of {project} works only in {project}")));
    }
    Ok(())
}

fn generate_secret() -> String {
    OsRng.sample_iter(&Alphanumeric).take(32).map(char::from).collect()
}

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A robot lasts 1 to [`ROBOT_DAYS`]' end days, or forever (`None`).
fn check_lifetime(days: Option<u32>) -> Result<()> {
    match days {
        Some(days) if !ROBOT_DAYS.contains(&days) => Err(Error::invalid(
            "expires_in_days",
            format!("must be 1 to {} days (or none, for never)", ROBOT_DAYS.end()),
        )),
        _ => Ok(()),
    }
}
