//! Replication policies: what is copied (filters), which way (pushed from
//! here to a remote registry, or pulled from one to here), where it lands
//! (destination namespace) and when (by hand, on a schedule, or on each
//! push and delete). The checks a policy passes before it is stored.

use chrono::{DateTime, Utc};

use super::{
    endpoints::EndpointId,
    filters::{Filters, InvalidFilter},
};
use crate::core::{Error, Result, jobs::CronSchedule, registry::names::RepoName};

pub const MAX_NAME: usize = 128;
pub const MAX_DESCRIPTION: usize = 1024;
/// The job kind replication executions run as; each policy's executions
/// are `replication:<id>`, so one policy runs one execution at a time.
pub const JOB_KIND: &str = "replication";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, sqlx::Type)]
#[sqlx(transparent)]
pub struct PolicyId(pub i64);

impl PolicyId {
    /// The job kind of this policy's executions and schedule.
    pub fn job_kind(self) -> String {
        format!("{JOB_KIND}:{}", self.0)
    }
}

/// Which way a policy copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From this registry to a remote one.
    Push { destination: EndpointId },
    /// From a remote registry to this one.
    Pull { source: EndpointId },
}

impl Direction {
    pub fn remote(self) -> EndpointId {
        match self {
            Self::Push { destination } => destination,
            Self::Pull { source } => source,
        }
    }
}

/// When a policy runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    Manual,
    /// On a cron schedule (six fields, UTC, or a preset).
    Scheduled {
        cron: String,
    },
    /// Within seconds of each push or delete its filters select (push policies).
    EventBased,
}

impl Trigger {
    /// Harbor's name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Scheduled { .. } => "scheduled",
            Self::EventBased => "event_based",
        }
    }

    pub fn parse(kind: &str, cron: Option<&str>) -> Result<Self> {
        match kind {
            "manual" => Ok(Self::Manual),
            "scheduled" => {
                let cron = cron.unwrap_or_default();
                let parsed =
                    CronSchedule::parse(cron).map_err(|e| Error::invalid("trigger", format!("cron {cron:?}: {e}")))?;
                Ok(Self::Scheduled { cron: parsed.expression().to_owned() })
            }
            "event_based" => Ok(Self::EventBased),
            other => Err(Error::invalid("trigger", format!("{other:?} is not manual, scheduled or event_based"))),
        }
    }

    pub fn cron(&self) -> Option<&str> {
        match self {
            Self::Scheduled { cron } => Some(cron),
            _ => None,
        }
    }
}

/// A policy as stored.
#[derive(Clone, Debug)]
pub struct Policy {
    pub id: PolicyId,
    pub name: String,
    pub description: String,
    pub direction: Direction,
    pub dest_namespace: String,
    pub replace_count: i8,
    pub trigger: Trigger,
    pub filters: Filters,
    pub replicate_deletion: bool,
    pub override_existing: bool,
    pub enabled: bool,
    /// Per task, in KB/s; 0 for no limit.
    pub speed_kb: i64,
    pub copy_by_chunk: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A policy as written (created, or replaced whole as Harbor's PUT does).
#[derive(Clone, Debug)]
pub struct PolicyDraft {
    pub name: String,
    pub description: String,
    pub direction: Direction,
    pub dest_namespace: String,
    pub replace_count: i8,
    pub trigger: Trigger,
    pub filters: Filters,
    pub replicate_deletion: bool,
    pub override_existing: bool,
    pub enabled: bool,
    pub speed_kb: i64,
    pub copy_by_chunk: bool,
}

impl PolicyDraft {
    /// The draft, checked: bounded name and description, a namespace that
    /// is a repository path, filters that compile, and triggers the
    /// direction allows. A negative speed means no limit, as in Harbor.
    pub fn checked(mut self) -> Result<Self> {
        self.name = self.name.trim().to_owned();
        if self.name.is_empty() {
            return Err(Error::invalid("name", "a policy needs a name"));
        }
        if self.name.chars().count() > MAX_NAME || self.name.chars().any(char::is_control) {
            return Err(Error::invalid(
                "name",
                format!("at most {MAX_NAME} characters, none of them control characters"),
            ));
        }
        if self.description.chars().count() > MAX_DESCRIPTION {
            return Err(Error::invalid("description", format!("at most {MAX_DESCRIPTION} characters")));
        }
        self.dest_namespace = self.dest_namespace.trim().trim_matches('/').to_owned();
        if !self.dest_namespace.is_empty() {
            RepoName::parse(&self.dest_namespace, "")
                .map_err(|e| Error::invalid("dest_namespace", format!("not a repository path: {e}")))?;
        }
        if self.replace_count < -1 {
            return Err(Error::invalid("dest_namespace_replace_count", "must be -1 or more"));
        }
        self.filters
            .compile()
            .map_err(|InvalidFilter { field, message }| Error::invalid("filters", format!("{field}: {message}")))?;
        if self.trigger == Trigger::EventBased && matches!(self.direction, Direction::Pull { .. }) {
            return Err(Error::invalid(
                "trigger",
                "event_based replicates pushes made here; a pull policy runs manually or on a schedule",
            ));
        }
        if self.replicate_deletion && matches!(self.direction, Direction::Pull { .. }) {
            return Err(Error::invalid("deletion", "deletions are replicated by push policies"));
        }
        self.speed_kb = self.speed_kb.max(0);
        Ok(self)
    }
}

impl From<Policy> for PolicyDraft {
    /// The policy as it stands, to write back with a change.
    fn from(policy: Policy) -> Self {
        Self {
            name: policy.name,
            description: policy.description,
            direction: policy.direction,
            dest_namespace: policy.dest_namespace,
            replace_count: policy.replace_count,
            trigger: policy.trigger,
            filters: policy.filters,
            replicate_deletion: policy.replicate_deletion,
            override_existing: policy.override_existing,
            enabled: policy.enabled,
            speed_kb: policy.speed_kb,
            copy_by_chunk: policy.copy_by_chunk,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> PolicyDraft {
        PolicyDraft {
            name: "to-peer".into(),
            description: String::new(),
            direction: Direction::Push { destination: EndpointId(1) },
            dest_namespace: String::new(),
            replace_count: -1,
            trigger: Trigger::Manual,
            filters: Filters::default(),
            replicate_deletion: false,
            override_existing: true,
            enabled: true,
            speed_kb: 0,
            copy_by_chunk: false,
        }
    }

    #[test]
    fn drafts_are_checked() {
        assert!(draft().checked().is_ok());
        assert!(PolicyDraft { name: " ".into(), ..draft() }.checked().is_err());
        assert!(PolicyDraft { name: "n".repeat(MAX_NAME + 1), ..draft() }.checked().is_err());
        assert!(PolicyDraft { name: "n".repeat(MAX_NAME), ..draft() }.checked().is_ok());
        assert!(PolicyDraft { dest_namespace: "Bad Name".into(), ..draft() }.checked().is_err());
        assert_eq!(
            PolicyDraft { dest_namespace: "/mirror/".into(), ..draft() }.checked().unwrap().dest_namespace,
            "mirror"
        );
        assert!(PolicyDraft { replace_count: -2, ..draft() }.checked().is_err());
        assert_eq!(PolicyDraft { speed_kb: -5, ..draft() }.checked().unwrap().speed_kb, 0);
        let pull = Direction::Pull { source: EndpointId(1) };
        assert!(PolicyDraft { direction: pull, trigger: Trigger::EventBased, ..draft() }.checked().is_err());
        assert!(PolicyDraft { direction: pull, replicate_deletion: true, ..draft() }.checked().is_err());
        let bad_glob = Filters { name: Some("a/{b".into()), ..Filters::default() };
        let refused = PolicyDraft { filters: bad_glob, ..draft() }.checked();
        assert!(matches!(refused, Err(Error::Invalid { field: "filters", .. })));
    }

    #[test]
    fn triggers() {
        assert_eq!(Trigger::parse("manual", None).unwrap(), Trigger::Manual);
        assert_eq!(Trigger::parse("scheduled", Some("daily")).unwrap().cron(), Some("0 0 0 * * *"));
        assert!(Trigger::parse("scheduled", Some("* *")).is_err());
        assert!(Trigger::parse("scheduled", None).is_err());
        assert!(Trigger::parse("sometimes", None).is_err());
        assert_eq!(PolicyId(7).job_kind(), "replication:7");
    }
}
