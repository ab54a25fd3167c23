//! A project's members: users and LDAP or OIDC groups, each with a role,
//! managed by those with `manage_members` and read by those with
//! `read_members`. Every change is audited with it.

use chrono::{DateTime, Utc};

use super::{Project, ProjectService, audit_event, repository::Existing};
use crate::core::{
    Error, Result,
    db::{Keyset, NameCursor, Page, Window},
    events::{Operation, ResourceType},
    identity::{Actor, UserId},
    rbac::{Action, Role},
};

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

impl ProjectService {
    /// Adds a member, or changes the role of an existing one (`manage_members`);
    /// returns the membership's id.
    pub async fn set_member(&self, actor: &Actor, project: &str, member: MemberRef, role: Role) -> Result<i64> {
        let found = self.permitted(actor, project, Action::ManageMembers).await?;
        self.write_member(actor, &found, member, role, Existing::Update)
            .await?
            .ok_or_else(|| Error::corrupt("a membership written with its role changed has no id"))
    }

    /// Adds a new member (`manage_members`); one that already is a member
    /// is refused: changing a role is [`Self::set_member`]'s job.
    /// Adds a member with `role`. `member` finds who that is (a user, or an
    /// LDAP or OIDC group, which may search the directory or record the
    /// group) and runs only once the actor may manage members: nobody
    /// learns which names exist, or writes anything, by asking.
    pub async fn add_member<E: From<Error>>(
        &self,
        actor: &Actor,
        project: &str,
        role: Role,
        member: impl Future<Output = std::result::Result<MemberRef, E>>,
    ) -> std::result::Result<i64, E> {
        let found = self.permitted(actor, project, Action::ManageMembers).await?;
        let member = member.await?;
        // Whether it already is a member is decided by the insert itself.
        let added = self.write_member(actor, &found, member, role, Existing::Keep).await?;
        Ok(added.ok_or_else(|| Error::Conflict(format!("already a member of {project}; change the role instead")))?)
    }

    async fn write_member(
        &self,
        actor: &Actor,
        project: &Project,
        member: MemberRef,
        role: Role,
        existing: Existing,
    ) -> Result<Option<i64>> {
        let who = self.member_label(member).await?;
        let name = project.name.as_str();
        let event = audit_event(actor, Operation::Update, ResourceType::Member, &who, name, role.name());
        self.repository.set_member(project.id, member, role, existing, Utc::now(), &event).await
    }

    /// One membership of the project by its id (`read_members`); another
    /// project's membership ids are not found here.
    pub async fn member(&self, actor: &Actor, project: &str, id: i64) -> Result<Member> {
        let found = self.permitted(actor, project, Action::ReadMembers).await?;
        let member = self.repository.member(found.id, id).await?;
        member.ok_or_else(|| Error::NotFound(format!("member {id} of project {project}")))
    }

    pub async fn remove_member(&self, actor: &Actor, project: &str, member: MemberRef) -> Result<bool> {
        let found = self.permitted(actor, project, Action::ManageMembers).await?;
        let who = self.member_label(member).await?;
        let event = audit_event(actor, Operation::Delete, ResourceType::Member, &who, project, "");
        self.repository.remove_member(found.id, member, &event).await
    }

    /// A page of the project's members, by name (`read_members`).
    pub async fn members(
        &self,
        actor: &Actor,
        project: &str,
        name_contains: Option<&str>,
        window: Window,
    ) -> Result<Page<Member>> {
        let found = self.permitted(actor, project, Action::ReadMembers).await?;
        self.repository.members(found.id, name_contains, window).await
    }

    /// A page of the project's members by name, for those who may read them.
    pub async fn browse_members(
        &self,
        actor: &Actor,
        project: &str,
        keyset: &Keyset<NameCursor>,
        limit: u32,
    ) -> Result<Page<Member>> {
        let found = self.permitted(actor, project, Action::ReadMembers).await?;
        self.repository.members_page(found.id, keyset, limit).await
    }

    /// How the audit log names a member: `user:<name>` or `group:<name>`.
    async fn member_label(&self, member: MemberRef) -> Result<String> {
        let name = self.repository.member_name(member).await?.unwrap_or_else(|| "(gone)".to_owned());
        Ok(match member {
            MemberRef::User(_) => format!("user:{name}"),
            MemberRef::Group(_) => format!("group:{name}"),
        })
    }
}
