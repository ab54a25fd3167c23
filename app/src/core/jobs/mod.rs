//! The job service: the one place background work runs. Garbage
//! collection, audit-log rotation and cleaning up abandoned uploads are
//! job kinds here (replication, retention and webhooks come next); each is
//! a [`Job`] that reports progress and log lines through its
//! [`JobContext`] and checks for a stop between units of work.
//!
//! # How work is shared between nodes
//!
//! Everything lives in the database every node shares, so nothing queued
//! is lost when nodes restart and no node has to be special:
//!
//! - **Executions** (`job_executions`) are claimed, not assigned. A runner
//!   takes the oldest pending execution in one statement that marks it
//!   running with a **lease** (its node id and an expiry); on PostgreSQL
//!   the pick skips rows another node is claiming (`FOR UPDATE SKIP
//!   LOCKED`), on SQLite the statement runs under the database's one write
//!   lock. A unique index allows one running execution per kind, so two
//!   garbage collections never overlap, whichever nodes claim them.
//! - The running node **renews** the lease every third of its length and
//!   reads the stop flag while it does. A node that dies stops renewing;
//!   any node that finds a lease past its expiry ends that execution as
//!   Error, so nothing stays Running. A renewal that finds its lease gone
//!   tells the job to stop: someone else already ended it.
//! - A **stop request** ends a pending execution at once; a running one
//!   gets its stop flag set, which its node sees at the next renewal.
//! - A runner runs up to its **concurrency** (4) executions at once, and
//!   says its node is alive at every look (`job_nodes`, Harbor's worker
//!   pools). An administrator can **pause** a kind's queue (`job_queues`):
//!   its pending executions wait until it is resumed.
//! - **Schedules** (`job_schedules`, one per kind) keep their next tick.
//!   The node that moves the tick on (a compare-and-set on `next_run_at`)
//!   creates that tick's execution, and `(kind, scheduled_for)` is unique
//!   besides: one tick makes one execution however many nodes look. Ticks
//!   missed while every node was down make one execution, not a backlog.
//!   A tick that comes while its kind still has an execution pending or
//!   running is recorded as **skipped**, naming that execution (Harbor's
//!   behaviour): runs of one kind never pile up behind a slow one.
//!
//! Why not a queue crate: `apalis-sql` keeps a queue per backend, with no
//! lease renewal readable as a stop signal and no execution history in the
//! shape Harbor's API returns; the three tables here are all that is needed.

mod context;
mod kinds;
mod pools;
mod repository;
mod runner;
mod schedule;

pub use context::JobContext;
pub use kinds::{AuditPurge, UploadCleanup};
pub use pools::{NODE_SILENCE, Node, Queue, RunningExecution};
use repository::JobRepository;
use repository::Replace;
pub(crate) use repository::{delete_schedule_in, put_schedule_in};
pub use runner::{Runner, RunnerSettings};
pub use schedule::{CronSchedule, ScheduleError};

use std::{future::Future, pin::Pin};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::core::{
    Error, Result,
    access::{SystemGrant, require_system},
    db::{Db, Page, Window},
    identity::Actor,
    rbac::SystemAction,
};

/// What proves a caller was allowed to run, read or stop a kind's
/// executions: a system grant (garbage collection, replication) or a
/// project grant (a project's retention policy).
pub(crate) trait Proof {}

impl Proof for SystemGrant {}

impl Proof for crate::core::access::ProjectGrant {}

/// What started an execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    Manual,
    Schedule,
    Event,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
            Trigger::Event => "event",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "manual" => Trigger::Manual,
            "schedule" => Trigger::Schedule,
            "event" => Trigger::Event,
            _ => return None,
        })
    }
}

/// Where an execution is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pending,
    Running,
    Success,
    Error,
    Stopped,
    /// A schedule tick that came while the kind still had an execution
    /// pending or running: recorded, never run.
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Success => "success",
            Status::Error => "error",
            Status::Stopped => "stopped",
            Status::Skipped => "skipped",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "pending" => Status::Pending,
            "running" => Status::Running,
            "success" => Status::Success,
            "error" => Status::Error,
            "stopped" => Status::Stopped,
            "skipped" => Status::Skipped,
            _ => return None,
        })
    }

    /// Whether the execution has ended.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Success | Status::Error | Status::Stopped | Status::Skipped)
    }
}

/// One run of a job.
#[derive(Clone, Debug, PartialEq)]
pub struct Execution {
    pub id: i64,
    pub kind: String,
    pub trigger: Trigger,
    pub status: Status,
    pub parameters: Value,
    /// The schedule tick it ran for (scheduled runs only).
    pub scheduled_for: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub progress_done: i64,
    pub progress_total: Option<i64>,
    /// What the run did (freed bytes, counts…), once it ended well.
    pub summary: Option<Value>,
    pub error: Option<String>,
}

/// One line an execution logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub line: i64,
    pub logged_at: DateTime<Utc>,
    pub level: String,
    pub message: String,
}

/// A kind's schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub kind: String,
    pub cron: String,
    pub parameters: Value,
    pub next_run_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The future a job's run is.
pub type JobRun<'a> = Pin<Box<dyn Future<Output = Result<Value>> + Send + 'a>>;

/// One kind of background work. A run reads its parameters, does its
/// units of work (logging and reporting progress through `context`,
/// returning [`JobContext::check_stop`]'s error once it says stop) and
/// returns its summary. A run cut short by a crash is run again from the
/// start by the next execution, so runs must be safe to repeat.
pub trait Job: Send + Sync + 'static {
    /// The kind's name, as executions and schedules store it.
    fn kind(&self) -> &'static str;

    fn run<'a>(&'a self, context: &'a JobContext, parameters: &'a Value) -> JobRun<'a>;
}

/// Executions and schedules, for the API and the portal: system
/// administrators only ([`SystemAction::ManageJobs`]).
#[derive(Clone, Debug)]
pub struct JobService {
    repository: JobRepository,
}

impl JobService {
    pub fn new(db: Db) -> Self {
        Self { repository: JobRepository::new(db) }
    }

    /// Starts this node's runner for `jobs` (at start-up): the runner
    /// claims and records executions itself, with no actor to ask.
    pub fn start_runner(&self, jobs: Vec<std::sync::Arc<dyn Job>>, settings: RunnerSettings) -> Runner {
        Runner::start(self.repository.clone(), jobs, settings)
    }

    /// At start-up, a schedule the configuration owns: with `Some`, `kind`
    /// runs on `cron` with these parameters (a tick already set is kept);
    /// with `None` it no longer runs on a schedule. The operator's
    /// configuration decides, so no actor is asked.
    pub async fn configure_schedule(&self, kind: &str, schedule: Option<(&str, Value)>) -> Result<()> {
        let Some((cron, parameters)) = schedule else {
            return self.repository.delete_schedule(kind).await;
        };
        let cron = CronSchedule::parse(cron).map_err(|e| Error::invalid("cron", e.to_string()))?;
        let now = Utc::now();
        let first = cron.next_after(now).ok_or_else(|| Error::invalid("cron", "never comes round"))?;
        self.repository.put_schedule(kind, cron.expression(), &parameters, first, now, Replace::Parameters).await
    }

    /// Queues a run of `kind` now; any node's runner picks it up.
    pub async fn run_now(&self, actor: &Actor, kind: &str, parameters: Value) -> Result<i64> {
        require_system(actor, SystemAction::ManageJobs)?;
        self.repository.enqueue(kind, Trigger::Manual, &parameters, Utc::now()).await
    }

    /// Sets `kind`'s schedule (`cron` in six fields with seconds, or a
    /// preset), or removes it (`None`).
    pub async fn set_schedule(
        &self,
        actor: &Actor,
        kind: &str,
        cron: Option<&str>,
        parameters: Value,
    ) -> Result<Option<Schedule>> {
        require_system(actor, SystemAction::ManageJobs)?;
        let Some(cron) = cron else {
            self.repository.delete_schedule(kind).await?;
            return Ok(None);
        };
        let schedule = CronSchedule::parse(cron).map_err(|e| Error::invalid("cron", e.to_string()))?;
        let now = Utc::now();
        let next = schedule.next_after(now).ok_or_else(|| Error::invalid("cron", "never comes round"))?;
        self.repository.put_schedule(kind, schedule.expression(), &parameters, next, now, Replace::All).await?;
        self.repository.schedule(kind).await
    }

    pub async fn schedule(&self, actor: &Actor, kind: &str) -> Result<Option<Schedule>> {
        require_system(actor, SystemAction::ManageJobs)?;
        self.repository.schedule(kind).await
    }

    /// A page of `kind`'s executions, newest first.
    pub async fn executions(&self, actor: &Actor, kind: &str, window: Window) -> Result<Page<Execution>> {
        require_system(actor, SystemAction::ManageJobs)?;
        self.repository.executions(kind, window).await
    }

    pub async fn execution(&self, actor: &Actor, id: i64) -> Result<Execution> {
        require_system(actor, SystemAction::ManageJobs)?;
        self.repository.execution(id).await?.ok_or_else(|| Error::NotFound(format!("execution {id}")))
    }

    /// The lines an execution logged so far, in order (readable while it runs).
    pub async fn log(&self, actor: &Actor, id: i64) -> Result<Vec<LogLine>> {
        self.execution(actor, id).await?;
        self.repository.log(id).await
    }

    /// Every kind's schedule.
    pub async fn schedules(&self, actor: &Actor) -> Result<Vec<Schedule>> {
        require_system(actor, SystemAction::ManageJobs)?;
        self.repository.schedules().await
    }

    /// The nodes taking jobs now (heard from within [`NODE_SILENCE`]).
    pub async fn nodes(&self, actor: &Actor) -> Result<Vec<Node>> {
        require_system(actor, SystemAction::ManageJobs)?;
        self.repository.nodes(Utc::now() - NODE_SILENCE).await
    }

    /// The queues of `kinds` (and of any other kind with work waiting).
    pub async fn queues(&self, actor: &Actor, kinds: &[&str]) -> Result<Vec<Queue>> {
        require_system(actor, SystemAction::ManageJobs)?;
        self.repository.queues(kinds).await
    }

    /// Pauses `kind`'s queue (its pending executions wait; schedules still
    /// queue more) or resumes it.
    pub async fn set_paused(&self, actor: &Actor, kind: &str, paused: bool) -> Result<()> {
        require_system(actor, SystemAction::ManageJobs)?;
        self.repository.set_paused(kind, paused, Utc::now()).await
    }

    /// Stops everything of `kind`: pending executions at once, the running
    /// one at its next renewal; how many.
    pub async fn stop_kind(&self, actor: &Actor, kind: &str) -> Result<u64> {
        require_system(actor, SystemAction::ManageJobs)?;
        self.repository.stop_kind(kind, Utc::now()).await
    }

    /// Stops an execution: a pending one at once, a running one at its
    /// node's next lease renewal. One that already ended is a conflict.
    pub async fn stop(&self, actor: &Actor, id: i64) -> Result<()> {
        let execution = self.execution(actor, id).await?;
        self.stop_execution(&execution).await
    }

    async fn stop_execution(&self, execution: &Execution) -> Result<()> {
        let id = execution.id;
        if execution.status.is_final() || !self.repository.request_stop(id, Utc::now()).await? {
            return Err(Error::Conflict(format!("execution {id} has already ended")));
        }
        Ok(())
    }

    // For services whose own system grant covers their jobs (replication
    // runs under ManageReplication, not ManageJobs): the grant is their proof.

    /// Queues a run of `kind` (`family:subject` for per-subject kinds).
    pub(crate) async fn queue(
        &self,
        _grant: &impl Proof,
        kind: &str,
        trigger: Trigger,
        parameters: &Value,
    ) -> Result<i64> {
        self.repository.enqueue(kind, trigger, parameters, Utc::now()).await
    }

    /// Queues a run of `kind` for an event this registry saw (a push that
    /// an event-based policy replicates): no one asked, so no grant.
    pub(crate) async fn queue_for_event(&self, kind: &str, parameters: &Value) -> Result<i64> {
        self.repository.enqueue(kind, Trigger::Event, parameters, Utc::now()).await
    }

    /// The executions of one `kind`, newest first.
    pub(crate) async fn kind_executions(
        &self,
        _grant: &impl Proof,
        kind: &str,
        window: Window,
    ) -> Result<Page<Execution>> {
        self.repository.executions(kind, window).await
    }

    /// The executions of every subject of `family`, newest first.
    pub(crate) async fn family_executions(
        &self,
        _grant: &impl Proof,
        family: &str,
        window: Window,
    ) -> Result<Page<Execution>> {
        self.repository.family_executions(family, window).await
    }

    /// An execution of `family`'s.
    pub(crate) async fn family_execution(&self, _grant: &impl Proof, family: &str, id: i64) -> Result<Execution> {
        self.repository
            .execution(id)
            .await?
            .filter(|execution| execution.kind.split_once(':').is_some_and(|(kind, _)| kind == family))
            .ok_or_else(|| Error::NotFound(format!("execution {id}")))
    }

    /// Stops an execution of `family`'s, as [`Self::stop`] does.
    pub(crate) async fn stop_family_execution(&self, grant: &impl Proof, family: &str, id: i64) -> Result<()> {
        let execution = self.family_execution(grant, family, id).await?;
        self.stop_execution(&execution).await
    }
}
