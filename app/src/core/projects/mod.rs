//! Projects: they own repositories (the first component of a repository's
//! name), are public or private, and have members with roles. Creating,
//! changing and deleting them, and their membership, live here; who may do
//! so is decided by [`crate::core::access`].

pub mod id;
mod members;
mod repository;

pub use id::ProjectId;
pub use members::{Member, MemberRef};
pub use repository::ProjectRepository;
pub(crate) use repository::{HOLDS_BLOB_SQL, USAGE_SQL};

use chrono::{DateTime, Utc};

use crate::core::{
    Error, Result,
    access::{AccessService, ProjectGrant, may_system_given, require_system, require_system_given},
    db::{Db, Keyset, Page, Window},
    events::{AuditEvent, Operation, ResourceType},
    identity::{Actor, Principal, UserId},
    rbac::{Action, Role, SystemAction, SystemFacts},
    settings::SettingsService,
};

/// The project every installation starts with, public, as in Harbor.
pub const LIBRARY: &str = "library";

/// A project name that passed validation: Harbor's grammar
/// (`[a-z0-9]+([._-][a-z0-9]+)*`), at most 255 characters. Every such name is
/// also a valid first component of a repository name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectName(String);

impl ProjectName {
    pub const MAX_LEN: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.is_empty() {
            return Err("must not be empty");
        }
        if raw.len() > Self::MAX_LEN {
            return Err("must be at most 255 characters");
        }
        let bytes = raw.as_bytes();
        let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let separators_ok = bytes.windows(2).all(|w| alnum(w[0]) || alnum(w[1]));
        if !alnum(bytes[0])
            || !alnum(bytes[bytes.len() - 1])
            || !separators_ok
            || !bytes.iter().all(|&b| alnum(b) || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(
                "must be lowercase letters and digits, separated by single '.', '_' or '-' (not at either end)",
            );
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ProjectName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    pub id: ProjectId,
    pub name: ProjectName,
    pub public: bool,
    pub owner_id: Option<UserId>,
    pub owner_name: Option<String>,
    pub repository_count: i64,
    /// Bytes; `None` for no limit.
    pub storage_quota: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A project to create.
#[derive(Clone, Copy, Debug)]
pub struct NewProject<'a> {
    pub name: &'a str,
    pub public: bool,
    /// Bytes; `None` for no limit.
    pub storage_quota: Option<i64>,
}

impl<'a> NewProject<'a> {
    /// A private project without a quota.
    pub fn private(name: &'a str) -> Self {
        Self { name, public: false, storage_quota: None }
    }
}

/// One page of a listing.
#[derive(Clone, Debug, Default)]
pub struct ListOptions<'a> {
    /// Only names containing this.
    pub name_contains: Option<&'a str>,
    /// Only the project of this name.
    pub name: Option<&'a str>,
    pub public: Option<bool>,
    pub sort: ProjectSort,
    pub window: Window,
}

/// The orders a project listing can come in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProjectSort {
    #[default]
    Name,
    NameDesc,
    Created,
    CreatedDesc,
}

/// A project's storage: what it holds against its limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quota {
    pub project: Project,
    /// Bytes held now (each blob once per project, and the manifests).
    pub used: i64,
}

/// A project as its page shows it, from one check: the project, what the
/// caller may do there, and (for those who may read members) how many
/// members hold each role.
#[derive(Clone, Debug)]
pub struct ProjectSummary {
    pub project: Project,
    pub grant: ProjectGrant,
    /// Empty unless the caller may read the project's members.
    pub members_by_role: Vec<(Role, i64)>,
}

fn validate_quota(quota: Option<i64>) -> Result<()> {
    match quota {
        Some(bytes) if bytes < 1 => {
            Err(Error::invalid("storage_quota", "must be at least one byte, or none for no limit"))
        }
        _ => Ok(()),
    }
}

#[derive(Clone, Debug)]
pub struct ProjectService {
    repository: ProjectRepository,
    access: AccessService,
    settings: SettingsService,
}

impl ProjectService {
    pub fn new(db: Db, access: AccessService, settings: SettingsService) -> Self {
        Self { repository: ProjectRepository::new(db), access, settings }
    }

    /// Creates a project. Any signed-in user may, unless an administrator
    /// restricted it to administrators (robots and anonymous callers never);
    /// the creator becomes its project admin.
    /// A quota given here only restricts the creator's own project; changing
    /// it later is for system administrators.
    pub async fn create(&self, actor: &Actor, new: NewProject<'_>) -> Result<Project> {
        let grant = require_system_given(actor, SystemAction::CreateProject, self.system_facts().await?)?;
        let Principal::User(creator) = &grant.actor().principal else {
            unreachable!("only signed-in users are granted creating projects");
        };
        let name = ProjectName::parse(new.name).map_err(|message| Error::invalid("project_name", message))?;
        validate_quota(new.storage_quota)?;
        let (public, now) = (new.public, Utc::now());
        let detail = if public { "public" } else { "private" };
        let event = audit_event(actor, Operation::Create, ResourceType::Project, name.as_str(), name.as_str(), detail);
        let created = self.repository.create(&name, public, new.storage_quota, creator.id, now, &event).await?;
        if created.is_none() {
            return Err(Error::Conflict(format!("a project named {name} already exists")));
        }
        self.require(name.as_str()).await
    }

    pub async fn find(&self, name: &str) -> Result<Option<Project>> {
        match ProjectName::parse(name) {
            Ok(name) => self.repository.find(&name).await,
            Err(_) => Ok(None),
        }
    }

    pub async fn find_by_id(&self, id: ProjectId) -> Result<Option<Project>> {
        self.repository.find_by_id(id).await
    }

    /// The project, if `actor` may see it: whoever may pull from it (a
    /// public project, a member, a robot granted pull, an administrator).
    /// Existing projects the caller may not see are refused, not reported
    /// missing, as Harbor does.
    pub async fn get(&self, actor: &Actor, name: &str) -> Result<Project> {
        self.permitted(actor, name, Action::Pull).await
    }

    /// The project, what `actor` may do there and, for those who may read
    /// its members, how many hold each role; for whoever may see it.
    pub async fn summary(&self, actor: &Actor, name: &str) -> Result<ProjectSummary> {
        let grant = self.access.require(actor, name, Action::Pull).await?;
        let project = self.require(name).await?;
        let members_by_role = if grant.allows(Action::ReadMembers) {
            let counts = self.repository.members_by_role(project.id).await?;
            Role::ALL.into_iter().map(|role| (role, counts.get(&role).copied().unwrap_or(0))).collect()
        } else {
            Vec::new()
        };
        Ok(ProjectSummary { project, grant, members_by_role })
    }

    async fn require(&self, name: &str) -> Result<Project> {
        self.find(name).await?.ok_or_else(|| Error::NotFound(format!("project {name}")))
    }

    /// The project, once `actor` is known to be allowed `action` in it.
    async fn permitted(&self, actor: &Actor, name: &str, action: Action) -> Result<Project> {
        self.access.require(actor, name, action).await?;
        self.require(name).await
    }

    /// A page of the projects `actor` may see, and how many match in all.
    pub async fn list(&self, actor: &Actor, options: &ListOptions<'_>) -> Result<Page<Project>> {
        self.repository.list(options, actor.principal.visibility()).await
    }

    /// A page of the projects `actor` may see, by name, read by keyset.
    pub async fn browse(
        &self,
        actor: &Actor,
        name_contains: Option<&str>,
        keyset: &Keyset<String>,
        limit: u32,
    ) -> Result<Page<Project>> {
        self.repository.page_by_name(name_contains, keyset, limit, actor.principal.visibility()).await
    }

    /// Whether `actor` may create projects (signed-in users, unless an
    /// administrator restricted it to administrators).
    pub async fn may_create(&self, actor: &Actor) -> Result<bool> {
        Ok(may_system_given(actor, SystemAction::CreateProject, self.system_facts().await?))
    }

    /// The settings the system actions on projects depend on.
    async fn system_facts(&self) -> Result<SystemFacts> {
        Ok(SystemFacts { project_creation_restricted: self.settings.project_creation_admin_only().await? })
    }

    /// Makes the project public or private (`edit_project`).
    pub async fn set_public(&self, actor: &Actor, name: &str, public: bool) -> Result<Project> {
        let project = self.permitted(actor, name, Action::EditProject).await?;
        let detail = if public { "made public" } else { "made private" };
        let event = audit_event(actor, Operation::Update, ResourceType::Project, name, name, detail);
        let _forget = self.access.forgetting_project(project.id);
        self.repository.set_public(project.id, public, Utc::now(), &event).await?;
        self.require(name).await
    }

    /// Sets or lifts (`None`) the project's storage quota: system
    /// administrators only, as quotas are how they share the storage out.
    pub async fn set_storage_quota(&self, actor: &Actor, name: &str, quota: Option<i64>) -> Result<Project> {
        require_system(actor, SystemAction::ManageQuotas)?;
        validate_quota(quota)?;
        let project = self.require(name).await?;
        self.write_quota(actor, &project, quota).await?;
        self.require(name).await
    }

    /// [`Self::set_storage_quota`] for the project with this id (Harbor's
    /// quota id): a project deleted meanwhile is not found, and a namesake
    /// created since is never the one changed.
    pub async fn set_quota(&self, actor: &Actor, id: ProjectId, quota: Option<i64>) -> Result<()> {
        require_system(actor, SystemAction::ManageQuotas)?;
        validate_quota(quota)?;
        let project = self.find_by_id(id).await?.ok_or_else(|| Error::NotFound(format!("quota {}", id.0)))?;
        self.write_quota(actor, &project, quota).await
    }

    async fn write_quota(&self, actor: &Actor, project: &Project, quota: Option<i64>) -> Result<()> {
        let name = project.name.as_str();
        let detail = quota.map_or_else(|| "quota removed".to_owned(), |bytes| format!("quota set to {bytes} bytes"));
        let event = audit_event(actor, Operation::Update, ResourceType::Project, name, name, &detail);
        self.repository.set_storage_quota(project.id, quota, Utc::now(), &event).await
    }

    /// Every project's storage against its quota, by name, a page at a time
    /// (system administrators only, as quotas are theirs to share out).
    pub async fn quotas(&self, actor: &Actor, window: Window) -> Result<Page<Quota>> {
        require_system(actor, SystemAction::ManageQuotas)?;
        let options = ListOptions { window, ..ListOptions::default() };
        let projects = self.repository.list(&options, actor.principal.visibility()).await?;
        let ids: Vec<ProjectId> = projects.items.iter().map(|p| p.id).collect();
        let used = self.repository.storage_used(&ids, actor.principal.visibility()).await?;
        Ok(projects.map(|project| Quota { used: used.get(&project.id).copied().unwrap_or(0), project }))
    }

    /// One project's storage against its quota (system administrators only).
    pub async fn quota(&self, actor: &Actor, id: ProjectId) -> Result<Quota> {
        require_system(actor, SystemAction::ManageQuotas)?;
        let project = self.find_by_id(id).await?.ok_or_else(|| Error::NotFound(format!("quota {}", id.0)))?;
        let used = self.repository.storage_used(&[id], actor.principal.visibility()).await?;
        Ok(Quota { used: used.get(&id).copied().unwrap_or(0), project })
    }

    /// Bytes each project's repositories hold: their distinct blobs (a
    /// layer shared by two repositories counts once) and their manifests.
    /// Projects with nothing stored are left out.
    /// Only projects `actor` may see are counted.
    pub async fn storage_used(
        &self,
        actor: &Actor,
        projects: &[ProjectId],
    ) -> Result<std::collections::HashMap<ProjectId, i64>> {
        self.repository.storage_used(projects, actor.principal.visibility()).await
    }

    /// Deletes an empty project (`delete_project`). One that still has
    /// repositories is refused: deleting it would take their artifacts with it.
    pub async fn delete(&self, actor: &Actor, name: &str) -> Result<()> {
        let project = self.permitted(actor, name, Action::DeleteProject).await?;
        if project.repository_count > 0 {
            return Err(Error::Conflict(format!(
                "project {name} still has {} repositories; delete them first",
                project.repository_count
            )));
        }
        let event = audit_event(actor, Operation::Delete, ResourceType::Project, name, name, "");
        let _forget = self.access.forgetting_project(project.id);
        if !self.repository.delete_if_empty(project.id, &event).await? {
            return Err(Error::Conflict(format!("project {name} got a repository while being deleted")));
        }
        Ok(())
    }
}

/// The audit row of a change to a project or its members, written with the change.
pub(super) fn audit_event(
    actor: &Actor,
    operation: Operation,
    resource_type: ResourceType,
    resource: &str,
    project: &str,
    detail: &str,
) -> AuditEvent {
    let mut event = AuditEvent::new(operation, resource_type, resource, actor).in_project(Some(project));
    event.detail = (!detail.is_empty()).then(|| detail.to_owned());
    event
}

#[cfg(test)]
mod tests {
    use super::ProjectName;

    #[test]
    fn project_name_grammar() {
        for ok in ["library", "a", "team-1", "my.org", "a_b", "x9", &"a".repeat(255)] {
            assert!(ProjectName::parse(ok).is_ok(), "{ok} should be accepted");
        }
        for bad in ["", "Team", "-a", "a-", "a..b", "a__b", "a-_b", "a/b", "a b", "é", &"a".repeat(256)] {
            assert!(ProjectName::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
