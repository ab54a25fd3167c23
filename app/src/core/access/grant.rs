//! Grants: what [`super::AccessService`] hands out once a check passed. A
//! grant names the actor, the project (by id and name) and every action
//! the actor may do there; its fields are private to `access`, so holding
//! one proves the check was made. Service methods that change or reveal a
//! project's data ask for one and work from it.

use crate::core::{
    Error,
    identity::{Actor, Principal},
    projects::id::ProjectId,
    rbac::{self, Action, ProjectFacts, Subject, SystemAction, SystemFacts},
};

/// What an actor may do in one project.
#[derive(Clone, Debug)]
pub struct ProjectGrant {
    actor: Actor,
    project: ProjectId,
    name: String,
    allowed: Vec<Action>,
}

impl ProjectGrant {
    /// Every action `subject` may do in the project.
    pub(super) fn new(actor: &Actor, project: ProjectId, name: &str, facts: ProjectFacts, subject: &Subject) -> Self {
        let allowed = Action::ALL.into_iter().filter(|action| rbac::decide(subject, facts, *action)).collect();
        Self { actor: actor.clone(), project, name: name.to_owned(), allowed }
    }

    /// The one action a registry token's holder was recently found allowed.
    pub(super) fn single(actor: &Actor, project: ProjectId, name: &str, action: Action) -> Self {
        Self { actor: actor.clone(), project, name: name.to_owned(), allowed: vec![action] }
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    pub fn project_id(&self) -> ProjectId {
        self.project
    }

    pub fn project(&self) -> &str {
        &self.name
    }

    /// Whether the actor may also do `action` here (the grant was asked for one).
    pub fn allows(&self, action: Action) -> bool {
        self.allowed.contains(&action)
    }

    /// The grant, if it allows every one of `actions`; else the refusal.
    pub(super) fn requiring(self, actions: &[Action]) -> crate::core::Result<Self> {
        match actions.iter().find(|action| !self.allows(**action)) {
            None => Ok(self),
            Some(missing) => Err(refusal(*missing, &self.name)),
        }
    }
}

/// What an actor may do to the system as a whole.
#[derive(Clone, Debug)]
pub struct SystemGrant {
    actor: Actor,
    action: SystemAction,
}

impl SystemGrant {
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    pub fn action(&self) -> SystemAction {
        self.action
    }
}

/// A grant for `action` on the system, or the refusal. No lookup is needed:
/// the principal says whether it is a system administrator. Decided with
/// [`SystemFacts::RESTRICTIVE`]; [`require_system_given`] takes the facts read.
pub fn require_system(actor: &Actor, action: SystemAction) -> crate::core::Result<SystemGrant> {
    require_system_given(actor, action, SystemFacts::RESTRICTIVE)
}

/// [`require_system`], for an action whose decision depends on settings read as `facts`.
pub fn require_system_given(
    actor: &Actor,
    action: SystemAction,
    facts: SystemFacts,
) -> crate::core::Result<SystemGrant> {
    if may_system_given(actor, action, facts) {
        return Ok(SystemGrant { actor: actor.clone(), action });
    }
    Err(Error::Forbidden(match (&actor.principal, action) {
        (Principal::User(_), _) => format!("only system administrators {}", action.phrase()),
        (_, SystemAction::CreateProject) => "only signed-in users create projects".to_owned(),
        _ => format!("only system administrators {}", action.phrase()),
    }))
}

/// Whether `actor` may do `action` on the system (for what a page shows).
pub fn may_system(actor: &Actor, action: SystemAction) -> bool {
    may_system_given(actor, action, SystemFacts::RESTRICTIVE)
}

/// [`may_system`] with the settings read as `facts`.
pub fn may_system_given(actor: &Actor, action: SystemAction, facts: SystemFacts) -> bool {
    rbac::decide_system(&system_subject(&actor.principal), facts, action)
}

/// The principal as [`rbac`] sees it outside any project.
fn system_subject(principal: &Principal) -> Subject {
    match principal {
        Principal::User(user) => Subject::User { system_admin: user.is_admin, role: None },
        Principal::Robot(_) => Subject::Robot { granted: Vec::new() },
        // Jobs hold no system actions: what they do is decided per project.
        Principal::Anonymous | Principal::TokenHolder(_) | Principal::Job(_) => Subject::Anonymous,
    }
}

/// The one mapping from "may not" to an error: the project exists but the
/// actor may not do `action` there.
pub(super) fn refusal(action: Action, project: &str) -> Error {
    Error::Forbidden(format!("{action} in {project}"))
}

/// There is no project of that name.
pub(super) fn no_such_project(project: &str) -> Error {
    Error::NotFound(format!("project {project}"))
}
