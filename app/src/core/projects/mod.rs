//! Projects: they own repositories (the first component of a repository's
//! name), are public or private, and have members with roles. Creating,
//! changing and deleting them, and their membership, live here; who may do
//! so is decided by [`crate::core::access`].

mod repository;

pub use repository::ProjectRepository;

use chrono::{DateTime, Utc};

use crate::core::{
    Error, Result,
    access::Visibility,
    db::Db,
    rbac::Role,
    users::{UserId, Username},
};

/// The project every installation starts with, public, as in Harbor.
pub const LIBRARY: &str = "library";

/// A project's database id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(transparent)]
pub struct ProjectId(pub i64);

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
    pub repository_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Who a membership is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberRef {
    User(UserId),
    Group(i64),
}

/// One row of a project's member list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: i64,
    pub member: MemberRef,
    /// The username, or the group's name.
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// One page of a listing, in name order.
#[derive(Clone, Debug, Default)]
pub struct ListOptions<'a> {
    /// Only names starting with this.
    pub name_prefix: Option<&'a str>,
    pub public: Option<bool>,
    pub offset: u32,
    pub limit: u32,
}

#[derive(Clone, Debug)]
pub struct ProjectService {
    repository: ProjectRepository,
}

impl ProjectService {
    pub fn new(db: Db) -> Self {
        Self { repository: ProjectRepository::new(db) }
    }

    /// Creates a project; its creator (when a user) becomes its project admin.
    pub async fn create(&self, name: &str, public: bool, owner: Option<UserId>) -> Result<Project> {
        let name = ProjectName::parse(name).map_err(|message| Error::invalid("project_name", message))?;
        let now = Utc::now();
        let Some(id) = self.repository.create(&name, public, owner, now).await? else {
            return Err(Error::Conflict(format!("a project named {name} already exists")));
        };
        if let Some(owner) = owner {
            self.repository.set_member(id, MemberRef::User(owner), Role::ProjectAdmin, now).await?;
        }
        self.find(name.as_str()).await?.ok_or_else(|| Error::NotFound(format!("project {name}")))
    }

    pub async fn find(&self, name: &str) -> Result<Option<Project>> {
        match ProjectName::parse(name) {
            Ok(name) => self.repository.find(&name).await,
            Err(_) => Ok(None),
        }
    }

    async fn require(&self, name: &str) -> Result<Project> {
        self.find(name).await?.ok_or_else(|| Error::NotFound(format!("project {name}")))
    }

    /// A page of projects the viewer may see, and how many match in all.
    pub async fn list(&self, options: &ListOptions<'_>, visibility: Visibility) -> Result<(Vec<Project>, i64)> {
        self.repository.list(options, visibility).await
    }

    pub async fn set_public(&self, name: &str, public: bool) -> Result<Project> {
        let project = self.require(name).await?;
        self.repository.set_public(project.id, public, Utc::now()).await?;
        self.require(name).await
    }

    /// Deletes an empty project. One that still has repositories is refused:
    /// deleting it would take their artifacts with it.
    pub async fn delete(&self, name: &str) -> Result<()> {
        let project = self.require(name).await?;
        if project.repository_count > 0 {
            return Err(Error::Conflict(format!(
                "project {name} still has {} repositories; delete them first",
                project.repository_count
            )));
        }
        if !self.repository.delete_if_empty(project.id).await? {
            return Err(Error::Conflict(format!("project {name} got a repository while being deleted")));
        }
        Ok(())
    }

    /// Adds a member, or changes the role of an existing one.
    pub async fn set_member(&self, project: &str, member: MemberRef, role: Role) -> Result<()> {
        let project = self.require(project).await?;
        self.repository.set_member(project.id, member, role, Utc::now()).await
    }

    pub async fn remove_member(&self, project: &str, member: MemberRef) -> Result<bool> {
        let project = self.require(project).await?;
        self.repository.remove_member(project.id, member).await
    }

    pub async fn members(&self, project: &str) -> Result<Vec<Member>> {
        let project = self.require(project).await?;
        self.repository.members(project.id).await
    }

    /// Convenience for callers holding a username: adds that user as a member.
    pub async fn set_user_member(&self, project: &str, user: &Username, role: Role) -> Result<()> {
        let id = self.repository.user_id(user).await?.ok_or_else(|| Error::NotFound(format!("user {user}")))?;
        self.set_member(project, MemberRef::User(id), role).await
    }
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
