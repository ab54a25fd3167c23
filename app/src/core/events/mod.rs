//! The audit log: every registry operation (push, pull, delete), sign-in
//! and change to projects, members and robots, with who, what, when, from
//! where and the outcome. The same rows feed quotas and replication
//! triggers.
//!
//! A change of state writes its row in the transaction that makes the change
//! ([`write_audit_row`]): both commit or neither does, and a crash cannot
//! lose one without the other. Pulls, sign-ins and refusals change nothing,
//! and never make a request wait for a database write: they go through a
//! bounded queue ([`EventRecorder`]) to a writer task that inserts them in
//! batches.

mod audit_log;
pub(crate) mod insert;
mod recorder;
mod repository;

pub use audit_log::{AuditLog, MAX_EXPORT};
pub(crate) use insert::{audited_transaction, bind_audit_event, insert_audit_rows, insert_statement, write_audit_row};
pub use recorder::EventRecorder;
pub use repository::{AuditQuery, EventRepository, StoredEvent};

use chrono::{DateTime, Utc};

use crate::core::identity::Actor;

/// What was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Pull,
    Push,
    Delete,
    Create,
    Update,
    Login,
}

impl Operation {
    pub const ALL: [Operation; 6] =
        [Operation::Pull, Operation::Push, Operation::Delete, Operation::Create, Operation::Update, Operation::Login];

    /// The operation of this name (`pull`, `push`, …).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|operation| operation.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pull => "pull",
            Self::Push => "push",
            Self::Delete => "delete",
            Self::Create => "create",
            Self::Update => "update",
            Self::Login => "login",
        }
    }
}

/// What it was done to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceType {
    Artifact,
    Repository,
    Project,
    Member,
    Robot,
    User,
    Session,
    Settings,
    /// A remote registry replication uses.
    Registry,
    ReplicationPolicy,
    /// A project's tag immutability rule.
    ImmutableRule,
    /// A project's tag retention policy.
    RetentionPolicy,
}

impl ResourceType {
    pub const ALL: [ResourceType; 12] = [
        Self::Artifact,
        Self::Repository,
        Self::Project,
        Self::Member,
        Self::Robot,
        Self::User,
        Self::Session,
        Self::Settings,
        Self::Registry,
        Self::ReplicationPolicy,
        Self::ImmutableRule,
        Self::RetentionPolicy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Artifact => "artifact",
            Self::Repository => "repository",
            Self::Project => "project",
            Self::Member => "member",
            Self::Robot => "robot",
            Self::User => "user",
            Self::Session => "session",
            Self::Settings => "settings",
            Self::Registry => "registry",
            Self::ReplicationPolicy => "replication_policy",
            Self::ImmutableRule => "immutable_rule",
            Self::RetentionPolicy => "retention_policy",
        }
    }
}

/// One entry of the audit log, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    pub operation: Operation,
    pub resource_type: ResourceType,
    /// `team/app:v1`, `team/app@sha256:…`, a project or robot name, a username.
    pub resource: String,
    pub project: Option<String>,
    pub digest: Option<String>,
    pub tag: Option<String>,
    pub media_type: Option<String>,
    pub size: Option<i64>,
    /// Who did it: the acting account's name (`None` for anonymous callers),
    /// or the name a failed sign-in tried.
    pub actor: Option<String>,
    pub client_addr: Option<String>,
    pub succeeded: bool,
    pub detail: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

impl AuditEvent {
    /// A successful operation by `actor` happening now; the optional fields start empty.
    pub fn new(operation: Operation, resource_type: ResourceType, resource: impl Into<String>, actor: &Actor) -> Self {
        Self::named(operation, resource_type, resource, actor.principal.name(), actor.client_addr.as_deref())
    }

    /// [`Self::new`] for an operation whose actor is only a name: a sign-in
    /// attempt (the name it tried), the operator at the command line.
    pub fn named(
        operation: Operation,
        resource_type: ResourceType,
        resource: impl Into<String>,
        actor: Option<&str>,
        client_addr: Option<&str>,
    ) -> Self {
        Self {
            operation,
            resource_type,
            resource: resource.into(),
            project: None,
            digest: None,
            tag: None,
            media_type: None,
            size: None,
            actor: actor.map(str::to_owned),
            client_addr: client_addr.map(str::to_owned),
            succeeded: true,
            detail: None,
            occurred_at: Utc::now(),
        }
    }

    pub fn in_project(mut self, project: Option<&str>) -> Self {
        self.project = project.map(str::to_owned);
        self
    }

    /// The repository and digest of a successful artifact pull. Registry
    /// events name `<repository>:<tag>` or `<repository>@<digest>`, and
    /// repository names hold neither `:` nor `@`.
    pub fn pulled_artifact(&self) -> Option<(&str, &str)> {
        let pulled =
            self.operation == Operation::Pull && self.resource_type == ResourceType::Artifact && self.succeeded;
        let repository = self.resource.split([':', '@']).next()?;
        pulled.then_some((repository, self.digest.as_deref()?))
    }

    /// Marks the operation as refused or failed, saying why.
    pub fn failed(mut self, detail: impl Into<String>) -> Self {
        self.succeeded = false;
        self.detail = Some(detail.into());
        self
    }

    /// Cuts every free-text field to its bound: text that came from a client
    /// (a 60 KB username, a long reason) cannot grow the log without limit.
    pub(crate) fn bounded(mut self) -> Self {
        clip(&mut self.resource, MAX_TEXT);
        let optional = [
            (&mut self.actor, MAX_NAME),
            (&mut self.client_addr, MAX_ADDRESS),
            (&mut self.project, MAX_NAME),
            (&mut self.digest, MAX_NAME),
            (&mut self.tag, MAX_NAME),
            (&mut self.media_type, MAX_NAME),
            (&mut self.detail, MAX_TEXT),
        ];
        for (field, max) in optional {
            if let Some(text) = field {
                clip(text, max);
            }
        }
        self
    }
}

/// Longest name kept in an audit field (usernames, projects, digests, tags, media types), in bytes.
const MAX_NAME: usize = 255;
/// Longest resource or detail kept, in bytes.
const MAX_TEXT: usize = 1024;
/// Longest client address kept (an IPv6 address with a zone fits).
const MAX_ADDRESS: usize = 64;

/// Cuts `text` to at most `max` bytes at a character boundary, marking the cut with `…`.
fn clip(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let mut end = max - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push('…');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_is_bounded_at_character_boundaries() {
        let (name, address) = ("é".repeat(60_000), "a".repeat(100));
        let attempt = |resource: String| {
            AuditEvent::named(Operation::Login, ResourceType::Session, resource, Some(&name), Some(&address))
        };
        let event = attempt("x".repeat(5000)).failed("y".repeat(5000)).bounded();
        assert!(event.actor.as_ref().unwrap().len() <= MAX_NAME);
        assert!(event.actor.as_ref().unwrap().ends_with('…'));
        assert!(event.client_addr.as_ref().unwrap().len() <= MAX_ADDRESS);
        assert!(event.resource.len() <= MAX_TEXT && event.detail.as_ref().unwrap().len() <= MAX_TEXT);
        let short = attempt("alice".to_owned()).bounded();
        assert_eq!(short.resource, "alice");
    }
}
