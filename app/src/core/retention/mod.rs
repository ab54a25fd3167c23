//! Tag retention (Harbor's model, one policy per project): rules that keep
//! the artifacts a team wants (the N most recently pushed or pulled, those
//! pushed or pulled within N days, or always) and delete the rest of the
//! repositories they select, run by the job service on a schedule or by
//! hand, with a dry run that lists what would go. Deletions take the
//! registry's own audited delete path, so immutable tags hold (an
//! immutable artifact is never deleted) and garbage collection reclaims
//! the bytes afterwards.
//!
//! Reading a policy and its executions needs `read_tag_policies`; changing
//! or running it `manage_tag_policies`.

mod job;
mod repository;
mod rules;

pub use job::Retention;
pub use rules::{MAX_COUNT, MAX_DAYS, MAX_RULES, RetentionRule, Template};

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::core::{
    Error, Result,
    access::{AccessService, ProjectGrant},
    db::{Db, Page, Window},
    events::{AuditEvent, Operation, ResourceType},
    identity::Actor,
    immutability::ImmutabilityService,
    jobs::{CronSchedule, Execution, JobService, Trigger},
    projects::id::ProjectId,
    rbac::Action,
    registry::RegistryService,
};
use repository::{FirstTick, RetentionRepository};

/// The job kind's family: executions run as `retention:<policy id>`.
pub const JOB_KIND: &str = "retention";

/// A retention policy's id (Harbor's `retention_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PolicyId(pub i64);

impl PolicyId {
    /// The job kind of this policy's executions and schedule.
    pub fn job_kind(self) -> String {
        format!("{JOB_KIND}:{}", self.0)
    }
}

/// A project's retention policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub id: PolicyId,
    pub project_id: ProjectId,
    pub project: String,
    pub rules: Vec<RetentionRule>,
    /// Six fields with seconds, UTC; `None` runs only by hand.
    pub cron: Option<String>,
    /// When it last changed: an edit made from what was read then is
    /// refused if someone changed the policy meanwhile.
    pub version: DateTime<Utc>,
}

/// One change to a project's policy, as the portal makes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyEdit {
    /// Adds a rule (`None`) or replaces rule `n`.
    PutRule(Option<usize>, RetentionRule),
    RemoveRule(usize),
    /// Sets the schedule (`None`: by hand only).
    Schedule(Option<String>),
}

/// What a policy is to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyDraft {
    pub rules: Vec<RetentionRule>,
    pub cron: Option<String>,
}

impl PolicyDraft {
    /// Checks the rules and the schedule; the schedule's first tick.
    fn check(&self, now: DateTime<Utc>) -> Result<Option<FirstTick>> {
        if self.rules.len() > MAX_RULES {
            return Err(Error::invalid("rules", format!("at most {MAX_RULES}, not {}", self.rules.len())));
        }
        for (n, rule) in self.rules.iter().enumerate() {
            rule.check().map_err(|e| Error::invalid("rules", format!("rule {}: {e}", n + 1)))?;
        }
        let Some(cron) = self.cron.as_deref().filter(|cron| !cron.trim().is_empty()) else {
            return Ok(None);
        };
        let schedule =
            CronSchedule::parse(cron).map_err(|e| Error::invalid("trigger", format!("cron {cron:?}: {e}")))?;
        let at = schedule.next_after(now).ok_or_else(|| Error::invalid("trigger", "the schedule never comes round"))?;
        Ok(Some(FirstTick { cron: schedule.expression().to_owned(), at }))
    }
}

/// Where a task (one repository of an execution) is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskStatus {
    Running,
    Success,
    Error,
    Stopped,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Success => "success",
            Self::Error => "error",
            Self::Stopped => "stopped",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "running" => Self::Running,
            "success" => Self::Success,
            "error" => Self::Error,
            "stopped" => Self::Stopped,
            _ => return None,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct TaskRow {
    id: i64,
    execution_id: i64,
    repository: String,
    status: String,
    artifacts: i64,
    retained: i64,
    deleted: i64,
    started_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
}

/// One repository of an execution: how many artifacts it had, kept and
/// deleted (or, in a dry run, would delete).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionTask {
    pub id: i64,
    pub execution_id: i64,
    pub repository: String,
    pub status: TaskStatus,
    pub artifacts: i64,
    pub retained: i64,
    pub deleted: i64,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl TryFrom<TaskRow> for RetentionTask {
    type Error = Error;

    fn try_from(row: TaskRow) -> Result<Self> {
        let status = TaskStatus::parse(&row.status)
            .ok_or_else(|| Error::corrupt(format!("retention task status {:?}", row.status)))?;
        Ok(Self {
            id: row.id,
            execution_id: row.execution_id,
            repository: row.repository,
            status,
            artifacts: row.artifacts,
            retained: row.retained,
            deleted: row.deleted,
            started_at: row.started_at,
            ended_at: row.ended_at,
        })
    }
}

#[derive(Clone, Debug)]
pub struct RetentionService {
    repository: RetentionRepository,
    access: AccessService,
    jobs: JobService,
    registry: RegistryService,
    immutability: ImmutabilityService,
}

impl RetentionService {
    pub fn new(
        db: Db,
        access: AccessService,
        jobs: JobService,
        registry: RegistryService,
        immutability: ImmutabilityService,
    ) -> Self {
        Self { repository: RetentionRepository::new(db), access, jobs, registry, immutability }
    }

    /// The project's policy id, for callers that already read the project
    /// (Harbor shows it as the project's `retention_id`).
    pub async fn policy_of(&self, project: ProjectId) -> Result<Option<PolicyId>> {
        self.repository.policy_of(project).await
    }

    /// Policy `id` and the grant `action` needs in its project.
    async fn permitted(&self, actor: &Actor, id: PolicyId, action: Action) -> Result<(RetentionPolicy, ProjectGrant)> {
        let policy = self.repository.policy(id).await?.ok_or_else(|| no_such_policy(id))?;
        // Someone who may not read the project learns nothing of its policy.
        let grant = match self.access.require(actor, &policy.project, action).await {
            Ok(grant) => grant,
            Err(Error::Forbidden(_)) if self.access.require(actor, &policy.project, Action::Pull).await.is_err() => {
                return Err(no_such_policy(id));
            }
            Err(other) => return Err(other),
        };
        Ok((policy, grant))
    }

    pub async fn policy(&self, actor: &Actor, id: PolicyId) -> Result<RetentionPolicy> {
        Ok(self.permitted(actor, id, Action::ReadTagPolicies).await?.0)
    }

    /// Creates `project`'s policy (`manage_tag_policies`); one per project.
    pub async fn create(&self, actor: &Actor, project: &str, draft: &PolicyDraft) -> Result<PolicyId> {
        let grant = self.access.require(actor, project, Action::ManageTagPolicies).await?;
        let now = Utc::now();
        let tick = draft.check(now)?;
        let event = policy_event(actor, Operation::Create, project, draft);
        self.repository.create(grant.project_id(), &draft.rules, tick, now, &event).await?.ok_or_else(|| {
            Error::Conflict(format!("project {project} has a retention policy already; change that one"))
        })
    }

    pub async fn update(&self, actor: &Actor, id: PolicyId, draft: &PolicyDraft) -> Result<()> {
        let (policy, _) = self.permitted(actor, id, Action::ManageTagPolicies).await?;
        let now = Utc::now();
        let tick = draft.check(now)?;
        let event = policy_event(actor, Operation::Update, &policy.project, draft);
        if !self.repository.update(id, &draft.rules, tick, None, now, &event).await? {
            return Err(no_such_policy(id));
        }
        Ok(())
    }

    /// The project's policy, if it has one (`read_tag_policies`).
    pub async fn policy_for(&self, actor: &Actor, project: &str) -> Result<Option<RetentionPolicy>> {
        let grant = self.access.require(actor, project, Action::ReadTagPolicies).await?;
        self.repository.policy_in(grant.project_id()).await
    }

    /// Applies one edit to the project's policy as it was at `version`
    /// (`None`: it had none), creating it on the first rule
    /// (`manage_tag_policies`). Refused, changing nothing, when the policy
    /// changed meanwhile: two people editing never lose each other's rules.
    pub async fn edit(
        &self,
        actor: &Actor,
        project: &str,
        version: Option<DateTime<Utc>>,
        edit: PolicyEdit,
    ) -> Result<PolicyId> {
        let grant = self.access.require(actor, project, Action::ManageTagPolicies).await?;
        let changed = || Error::Conflict("the retention policy changed meanwhile; reload and try again".into());
        let current = self.repository.policy_in(grant.project_id()).await?;
        if current.as_ref().map(|policy| policy.version) != version {
            return Err(changed());
        }
        let mut draft = current.as_ref().map_or(PolicyDraft { rules: Vec::new(), cron: None }, |p| PolicyDraft {
            rules: p.rules.clone(),
            cron: p.cron.clone(),
        });
        let missing = |n: usize| Error::NotFound(format!("rule {} of {project}'s retention policy", n + 1));
        match edit {
            PolicyEdit::PutRule(None, rule) => draft.rules.push(rule),
            PolicyEdit::PutRule(Some(n), rule) => *draft.rules.get_mut(n).ok_or_else(|| missing(n))? = rule,
            PolicyEdit::RemoveRule(n) => {
                if n >= draft.rules.len() {
                    return Err(missing(n));
                }
                draft.rules.remove(n);
            }
            PolicyEdit::Schedule(cron) => draft.cron = cron,
        }
        let now = Utc::now();
        let tick = draft.check(now)?;
        match current {
            None => {
                let event = policy_event(actor, Operation::Create, project, &draft);
                self.repository.create(grant.project_id(), &draft.rules, tick, now, &event).await?.ok_or_else(changed)
            }
            Some(policy) => {
                let event = policy_event(actor, Operation::Update, project, &draft);
                if !self.repository.update(policy.id, &draft.rules, tick, version, now, &event).await? {
                    return Err(changed());
                }
                Ok(policy.id)
            }
        }
    }

    pub async fn delete(&self, actor: &Actor, id: PolicyId) -> Result<()> {
        let (policy, _) = self.permitted(actor, id, Action::ManageTagPolicies).await?;
        let event =
            AuditEvent::new(Operation::Delete, ResourceType::RetentionPolicy, format!("policy {}", id.0), actor)
                .in_project(Some(&policy.project));
        if !self.repository.delete(id, &event).await? {
            return Err(no_such_policy(id));
        }
        Ok(())
    }

    /// Queues a run (`manage_tag_policies`); a dry run deletes nothing and
    /// lists what would go. The execution's id.
    pub async fn run(&self, actor: &Actor, id: PolicyId, dry_run: bool) -> Result<i64> {
        let (_, grant) = self.permitted(actor, id, Action::ManageTagPolicies).await?;
        let parameters = json!({ "policy_id": id.0, "dry_run": dry_run });
        self.jobs.queue(&grant, &id.job_kind(), Trigger::Manual, &parameters).await
    }

    /// The policy's executions, newest first (`read_tag_policies`).
    pub async fn executions(&self, actor: &Actor, id: PolicyId, window: Window) -> Result<Page<Execution>> {
        let (_, grant) = self.permitted(actor, id, Action::ReadTagPolicies).await?;
        self.jobs.kind_executions(&grant, &id.job_kind(), window).await
    }

    /// One of the policy's executions (`read_tag_policies`).
    pub async fn execution(&self, actor: &Actor, id: PolicyId, execution: i64) -> Result<Execution> {
        let (_, grant) = self.permitted(actor, id, Action::ReadTagPolicies).await?;
        self.execution_of(&grant, id, execution).await
    }

    async fn execution_of(&self, grant: &ProjectGrant, id: PolicyId, execution: i64) -> Result<Execution> {
        let found = self.jobs.family_execution(grant, JOB_KIND, execution).await?;
        if found.kind != id.job_kind() {
            return Err(Error::NotFound(format!("execution {execution} of retention policy {}", id.0)));
        }
        Ok(found)
    }

    /// Stops one of the policy's executions (`manage_tag_policies`).
    pub async fn stop(&self, actor: &Actor, id: PolicyId, execution: i64) -> Result<()> {
        let (_, grant) = self.permitted(actor, id, Action::ManageTagPolicies).await?;
        self.execution_of(&grant, id, execution).await?;
        self.jobs.stop_family_execution(&grant, JOB_KIND, execution).await
    }

    /// An execution's tasks, one per repository (`read_tag_policies`).
    pub async fn tasks(
        &self,
        actor: &Actor,
        id: PolicyId,
        execution: i64,
        window: Window,
    ) -> Result<Page<RetentionTask>> {
        let (_, grant) = self.permitted(actor, id, Action::ReadTagPolicies).await?;
        self.execution_of(&grant, id, execution).await?;
        let page = self.repository.tasks(execution, window).await?;
        let items = page.items.into_iter().map(RetentionTask::try_from).collect::<Result<Vec<_>>>()?;
        Ok(Page { items, total: page.total, has_previous: page.has_previous, has_next: page.has_next })
    }

    /// A task's log: each artifact kept or deleted (`read_tag_policies`).
    pub async fn task_log(&self, actor: &Actor, id: PolicyId, execution: i64, task: i64) -> Result<String> {
        let (_, grant) = self.permitted(actor, id, Action::ReadTagPolicies).await?;
        self.execution_of(&grant, id, execution).await?;
        self.repository
            .task_log(execution, task)
            .await?
            .ok_or_else(|| Error::NotFound(format!("task {task} of execution {execution}")))
    }
}

fn no_such_policy(id: PolicyId) -> Error {
    Error::NotFound(format!("retention policy {}", id.0))
}

fn policy_event(actor: &Actor, operation: Operation, project: &str, draft: &PolicyDraft) -> AuditEvent {
    let mut event = AuditEvent::new(operation, ResourceType::RetentionPolicy, format!("{project} retention"), actor)
        .in_project(Some(project));
    let schedule = draft.cron.as_deref().map_or("manual".to_owned(), |cron| format!("cron {cron}"));
    event.detail = Some(format!("{} rules, {schedule}", draft.rules.len()));
    event
}
