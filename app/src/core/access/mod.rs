//! Access: what a [`Principal`] (see [`identity`](crate::core::identity)) may do where.
//! Looks up the facts (the project's visibility, the caller's strongest role
//! in it) in one query and lets [`rbac::decide`] rule. Every entry point —
//! the `/v2` API, the token service, server functions, REST routes — asks
//! here.

mod grant;
mod recent;
mod repository;
mod scope;

pub use grant::{ProjectGrant, SystemGrant, may_system, may_system_given, require_system, require_system_given};
pub use recent::RECHECK_AFTER;
pub use scope::{AccessEntry, Scope};

pub(crate) use repository::visibility_sql;

use crate::core::{
    Error, Result,
    cache::{Change, Forgetting, ReadCache},
    db::Db,
    identity::{Actor, Principal, User},
    projects::id::ProjectId,
    rbac::{self, Action, ProjectFacts, Subject},
};
use recent::RecentlyAllowed;
use repository::AccessRepository;

/// The outcome of asking whether a principal may do something in a project.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Denied,
    /// There is no such project. Callers that must not reveal whether a
    /// private project exists treat this like [`Decision::Denied`].
    NoSuchProject,
}

#[derive(Clone, Debug)]
pub struct AccessService {
    repository: AccessRepository,
    recent: RecentlyAllowed,
    /// Projects' ids and visibility, forgotten when they change.
    cache: ReadCache,
}

impl AccessService {
    pub fn new(db: Db, cache: ReadCache) -> Self {
        Self { repository: AccessRepository::new(db), recent: RecentlyAllowed::default(), cache }
    }

    /// Forgets what memory holds of the project when the guard drops: made
    /// before its visibility changes or it is deleted.
    pub fn forgetting_project(&self, id: ProjectId) -> Forgetting {
        self.cache.forgetting(Change::Project(id.0))
    }

    /// The project's id and facts (from memory when read before and
    /// unchanged since); `None` when there is no such project.
    async fn project_facts(&self, project: &str) -> Result<Option<(ProjectId, ProjectFacts)>> {
        if let Some(facts) = self.cache.project(project) {
            return Ok(Some(facts));
        }
        let ticket = self.cache.ticket();
        let found = self.repository.project_facts(project).await?;
        if let (Some(ticket), Some(facts)) = (ticket, found) {
            self.cache.keep_project(ticket, project, facts);
        }
        Ok(found)
    }

    /// Whether the holder of a registry token (a user's or robot's name, or
    /// `""` for an anonymous token) may still do `action` in `project`: the
    /// token says what they could do when it was issued, this says what they
    /// may do now: a yes at most [`RECHECK_AFTER`] old, a no always fresh. `holder` resolves the name
    /// to its principal, only when the decision must be made afresh; `None`
    /// (an account deleted, a robot disabled or expired) is denied.
    pub async fn holder_decision(
        &self,
        name: &str,
        project: &str,
        action: Action,
        holder: impl Future<Output = Result<Option<Principal>>>,
    ) -> Result<Decision> {
        let actor = Actor::from(Principal::TokenHolder(name.to_owned()));
        Ok(match self.require_holder(&actor, project, action, holder).await {
            Ok(_) => Decision::Allowed,
            Err(Error::Forbidden(_)) => Decision::Denied,
            Err(Error::NotFound(_)) => Decision::NoSuchProject,
            Err(other) => return Err(other),
        })
    }

    /// [`Self::holder_decision`] as a grant for `actor` (the token's
    /// holder, [`Principal::TokenHolder`]), refused as [`Self::require`] refuses.
    pub async fn require_holder(
        &self,
        actor: &Actor,
        project: &str,
        action: Action,
        holder: impl Future<Output = Result<Option<Principal>>>,
    ) -> Result<ProjectGrant> {
        let name = actor.principal.name().unwrap_or_default();
        if let Some(id) = self.recent.get(name, project, action) {
            return Ok(ProjectGrant::single(actor, id, project, action));
        }
        let Some(principal) = holder.await? else {
            return Err(grant::refusal(action, project));
        };
        let grant = self.grant_for(actor, &principal, project, &[action]).await?;
        // Only a yes is remembered: a right taken away ends within
        // RECHECK_AFTER, a right given (a project made public, a member
        // added) counts at once.
        self.recent.insert(name, project, action, grant.project_id());
        Ok(grant)
    }

    /// A grant for `action` in `project`, or the refusal: `Forbidden` when
    /// the project exists and the actor may not, `NotFound` when there is
    /// no such project. One query.
    pub async fn require(&self, actor: &Actor, project: &str, action: Action) -> Result<ProjectGrant> {
        self.require_all(actor, project, &[action]).await
    }

    /// [`Self::require`] for several actions at once (the permissions a
    /// robot is to hold in one project): one query, refused for the first
    /// action the actor may not do.
    pub async fn require_all(&self, actor: &Actor, project: &str, actions: &[Action]) -> Result<ProjectGrant> {
        self.grant_for(actor, &actor.principal, project, actions).await
    }

    /// The grant for `actor`, decided by what `principal` may do in
    /// `project` (the same principal, or a token's resolved holder).
    async fn grant_for(
        &self,
        actor: &Actor,
        principal: &Principal,
        project: &str,
        actions: &[Action],
    ) -> Result<ProjectGrant> {
        let (id, facts, subject) =
            self.subject_in(principal, project).await?.ok_or_else(|| grant::no_such_project(project))?;
        ProjectGrant::new(actor, id, project, facts, &subject).requiring(actions)
    }

    /// The subset of `wanted` that `principal` may do in `project` (empty when
    /// the project does not exist): what a token may grant.
    async fn permitted(&self, principal: &Principal, project: &str, wanted: &[Action]) -> Result<Vec<Action>> {
        Ok(match self.subject_in(principal, project).await? {
            None => Vec::new(),
            Some((_, facts, subject)) => {
                wanted.iter().copied().filter(|action| rbac::decide(&subject, facts, *action)).collect()
            }
        })
    }

    /// What a registry token for `principal` may hold of the `requested`
    /// scopes: for each repository, the requested actions the caller may do
    /// there (possibly none); the catalog for any signed-in caller (listings
    /// are filtered by [`Principal::visibility`]). Unknown resource types
    /// are left out.
    pub async fn grant(&self, principal: &Principal, requested: &[Scope]) -> Result<Vec<AccessEntry>> {
        let mut granted: Vec<AccessEntry> = Vec::new();
        for scope in requested {
            let actions: Vec<String> = match scope.kind.as_str() {
                "repository" => {
                    let Some((project, _)) = scope.name.split_once('/') else {
                        continue;
                    };
                    let wanted = registry_actions(&scope.actions);
                    let allowed = self.permitted(principal, project, &wanted).await?;
                    allowed.into_iter().filter_map(registry_action_name).map(str::to_owned).collect()
                }
                "registry" if scope.name == "catalog" && principal != &Principal::Anonymous => vec!["*".to_owned()],
                _ => continue,
            };
            // Scopes for one resource may come in several parameters; merge them.
            match granted.iter_mut().find(|e| e.kind == scope.kind && e.name == scope.name) {
                Some(entry) => {
                    for action in actions {
                        if !entry.actions.contains(&action) {
                            entry.actions.push(action);
                        }
                    }
                }
                None => granted.push(AccessEntry { kind: scope.kind.clone(), name: scope.name.clone(), actions }),
            }
        }
        Ok(granted)
    }

    /// The project's id and facts and the principal as [`rbac`] sees it
    /// there, in one query; `None` when there is no such project.
    async fn subject_in(
        &self,
        principal: &Principal,
        project: &str,
    ) -> Result<Option<(ProjectId, ProjectFacts, Subject)>> {
        match principal {
            Principal::Anonymous | Principal::TokenHolder(_) => {
                Ok(self.project_facts(project).await?.map(|(id, facts)| (id, facts, Subject::Anonymous)))
            }
            // A system administrator, or a job of this registry's own
            // (replication), acts on every project's content.
            Principal::Job(_) | Principal::User(User { is_admin: true, .. }) => Ok(self
                .project_facts(project)
                .await?
                .map(|(id, facts)| (id, facts, Subject::User { system_admin: true, role: None }))),
            Principal::User(user) => Ok(self
                .repository
                .project_facts_and_role(project, user.id)
                .await?
                .map(|(id, facts, role)| (id, facts, Subject::User { system_admin: false, role }))),
            Principal::Robot(robot) => Ok(self
                .repository
                .project_facts_and_grants(project, robot.id)
                .await?
                .map(|(id, facts, granted)| (id, facts, Subject::Robot { granted }))),
        }
    }
}

/// The registry actions named in a token scope (`*` meaning all of them).
fn registry_actions(names: &[String]) -> Vec<Action> {
    let mut actions = Vec::new();
    for name in names {
        let named: &[Action] = match name.as_str() {
            "pull" => &[Action::Pull],
            "push" => &[Action::Push],
            "delete" => &[Action::DeleteArtifact],
            "*" => &[Action::Pull, Action::Push, Action::DeleteArtifact],
            _ => &[],
        };
        for action in named {
            if !actions.contains(action) {
                actions.push(*action);
            }
        }
    }
    actions
}

/// The token scope name of a registry action (`None` for portal-only actions).
pub fn registry_action_name(action: Action) -> Option<&'static str> {
    match action {
        Action::Pull => Some("pull"),
        Action::Push => Some("push"),
        Action::DeleteArtifact => Some("delete"),
        _ => None,
    }
}
