//! Running a policy: an execution (a job of kind `replication:<policy>`)
//! lists what the policy selects, records a task per artifact, and copies
//! them one by one, each task with its own log. Executions are read and
//! stopped here under `ManageReplication`.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::Utc;
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{Value, json};

use super::{
    PolicyId, Remote, RemoteError, ReplicationService,
    copy::{CopyError, CopyLog, Moved, PullCopy, PushCopy, Transfer},
    plan::Planned,
    policies::{Direction, JOB_KIND, Policy},
    tasks::{NewTask, Task, TaskStatus, Totals},
};
use crate::core::{
    Error, Result,
    access::require_system,
    db::{Page, Window},
    identity::{Actor, Principal},
    jobs::{Execution, Job, JobContext, JobRun, Trigger},
    rbac::{Action, SystemAction},
    registry::{digest::Digest, names::RepoName},
};

/// Who replication acts as here (audit rows name it).
pub const ACTOR: &str = "system:replication";

/// An execution with its tasks counted.
#[derive(Clone, Debug)]
pub struct ExecutionView {
    pub execution: Execution,
    pub policy: Option<PolicyId>,
    pub totals: Totals,
}

impl ReplicationService {
    /// "Replicate now": queues an execution of an enabled policy.
    pub async fn start(&self, actor: &Actor, id: PolicyId) -> Result<i64> {
        let grant = require_system(actor, SystemAction::ManageReplication)?;
        let policy = self.find_policy(&grant, id).await?;
        if !policy.enabled {
            return Err(Error::Conflict(format!("the policy {} is disabled", policy.name)));
        }
        self.jobs.queue(&grant, &id.job_kind(), Trigger::Manual, &json!({ "policy_id": id.0 })).await
    }

    /// Executions of every policy (or of one), newest first, with their totals.
    pub async fn executions(
        &self,
        actor: &Actor,
        policy: Option<PolicyId>,
        window: Window,
    ) -> Result<Page<ExecutionView>> {
        let grant = require_system(actor, SystemAction::ManageReplication)?;
        let page = match policy {
            Some(policy) => self.jobs.kind_executions(&grant, &policy.job_kind(), window).await?,
            None => self.jobs.family_executions(&grant, JOB_KIND, window).await?,
        };
        let ids: Vec<i64> = page.items.iter().map(|e| e.id).collect();
        let totals = self.tasks.totals(&ids).await?;
        Ok(page.map(|execution| {
            let totals = totals.iter().find(|(id, _)| *id == execution.id).map(|(_, t)| *t).unwrap_or_default();
            ExecutionView { policy: policy_of(&execution), execution, totals }
        }))
    }

    pub async fn execution(&self, actor: &Actor, id: i64) -> Result<ExecutionView> {
        let grant = require_system(actor, SystemAction::ManageReplication)?;
        let execution = self.jobs.family_execution(&grant, JOB_KIND, id).await?;
        let totals = self.tasks.totals(&[id]).await?.first().map(|(_, t)| *t).unwrap_or_default();
        Ok(ExecutionView { policy: policy_of(&execution), execution, totals })
    }

    pub async fn stop(&self, actor: &Actor, id: i64) -> Result<()> {
        let grant = require_system(actor, SystemAction::ManageReplication)?;
        self.jobs.stop_family_execution(&grant, JOB_KIND, id).await
    }

    pub async fn tasks(&self, actor: &Actor, execution: i64, window: Window) -> Result<Page<Task>> {
        self.execution(actor, execution).await?;
        self.tasks.list(execution, window).await
    }

    pub async fn task_log(&self, actor: &Actor, execution: i64, task: i64) -> Result<String> {
        self.execution(actor, execution).await?;
        self.tasks.find(execution, task).await?.ok_or_else(|| Error::NotFound(format!("task {task}")))?;
        self.tasks.log_text(task).await
    }

    /// Runs an execution of the policy in `parameters` (the job's body).
    async fn execute(&self, context: &JobContext, parameters: &Value) -> Result<Value> {
        let id = parameters
            .get("policy_id")
            .and_then(Value::as_i64)
            .map(PolicyId)
            .ok_or_else(|| Error::invalid("policy_id", "an execution names its policy"))?;
        let policy = self
            .repository
            .find_policy(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("replication policy {}", id.0)))?;
        let (registry, verb) = match policy.direction {
            Direction::Push { destination } => (destination, "pushes to"),
            Direction::Pull { source } => (source, "pulls from"),
        };
        let endpoint = self
            .repository
            .find_endpoint(registry)
            .await?
            .ok_or_else(|| Error::NotFound(format!("registry {}", registry.0)))?;
        context.log(format!("policy {} {verb} {} ({})", policy.name, endpoint.name, endpoint.url)).await?;
        let remote = self.remote_for(&endpoint).await?.map_err(|e| Error::Conflict(e.to_string()))?;
        if let Err(error) = remote.ping().await {
            context.warn(format!("{} cannot be used: {error}", endpoint.name)).await?;
            return Err(Error::Conflict(format!("{}: {error}", endpoint.name)));
        }
        let plan = match (&policy.direction, parameters.get("event")) {
            (Direction::Push { .. }, None) => self.plan(&policy).await?,
            (Direction::Push { .. }, Some(event)) => self.plan_event(&policy, event).await?,
            (Direction::Pull { .. }, _) => match self.plan_remote(&policy, &remote, &ExecutionLog(context)).await {
                Ok(plan) => plan,
                Err(CopyError::Stopped) => return context.check_stop().map(|()| Value::Null),
                Err(error) => {
                    context.warn(format!("listing {} failed: {error}", endpoint.name)).await?;
                    return Err(Error::Conflict(format!("{}: {error}", endpoint.name)));
                }
            },
        };
        let names: Vec<NewTask<'_>> = plan
            .iter()
            .map(|item| NewTask {
                resource_type: item.resource_type,
                operation: if item.deletion.is_some() { "deletion" } else { "copy" },
                src_resource: &item.source,
                dst_resource: &item.destination,
                digest: &item.digest,
            })
            .collect();
        let task_ids = self.tasks.create(context.execution(), &names).await?;
        context.log(format!("{} artifacts selected", plan.len())).await?;
        let actor = Actor::from(Principal::Job(ACTOR));
        let speed_kb = u32::try_from(policy.speed_kb.clamp(0, i64::from(u32::MAX))).unwrap_or(0);
        let transfer = Transfer::new(speed_kb, policy.copy_by_chunk);
        let total = plan.len() as i64;
        let done = AtomicI64::new(0);
        let run = Run { context, policy: &policy, remote: &remote, actor: &actor, transfer: &transfer };
        // By index: a closure over borrowed items is not `Send` for every lifetime.
        let statuses: Vec<TaskStatus> = futures_util::stream::iter(0..plan.len())
            .map(|at| {
                let (run, done) = (&run, &done);
                let (item, task) = (&plan[at], task_ids[at]);
                async move {
                    let status = self.run_task(run, item, task).await?;
                    context.progress(done.fetch_add(1, Ordering::Relaxed) + 1, Some(total)).await?;
                    Ok::<_, Error>(status)
                }
            })
            .buffer_unordered(TASKS_AT_ONCE)
            .try_collect()
            .await?;
        if context.stopped() {
            self.tasks.finish_rest(context.execution(), TaskStatus::Stopped, Utc::now()).await?;
            return context.check_stop().map(|()| Value::Null);
        }
        let count = |wanted: TaskStatus| statuses.iter().filter(|status| **status == wanted).count() as i64;
        let (succeeded, failed) = (count(TaskStatus::Succeeded), count(TaskStatus::Failed));
        context.check_stop()?;
        context.log(format!("{succeeded} of {total} artifacts copied, {failed} failed")).await?;
        if failed > 0 {
            return Err(Error::Conflict(format!("{failed} of {total} tasks failed")));
        }
        Ok(json!({ "total": total, "succeeded": succeeded, "failed": failed }))
    }

    /// Runs one task: copies (or deletes) its artifact and records how it went.
    async fn run_task(&self, run: &Run<'_>, item: &Planned, task: i64) -> Result<TaskStatus> {
        if run.context.stopped() {
            self.tasks.finish(task, TaskStatus::Stopped, 0, Utc::now()).await?;
            return Ok(TaskStatus::Stopped);
        }
        self.tasks.start(task, Utc::now()).await?;
        let log = TaskLog { tasks: &self.tasks, task, line: AtomicI64::new(1), context: run.context };
        let (policy, remote, actor, transfer) = (run.policy, run.remote, run.actor, run.transfer);
        let outcome = match (&policy.direction, &item.deletion) {
            (Direction::Push { .. }, Some(reference)) => self.delete_one(remote, item, reference, &log).await,
            (Direction::Push { .. }, None) => self.push_one(actor, policy, remote, item, transfer, &log).await,
            // Pull plans hold no deletions.
            (Direction::Pull { .. }, _) => self.pull_one(actor, policy, remote, item, transfer, &log).await,
        };
        let (status, bytes) = match outcome {
            Ok(moved) => {
                log.line(format!(
                    "done: {} blobs copied ({} bytes), {} mounted, {} already there, {} manifests",
                    moved.blobs_sent, moved.bytes, moved.blobs_mounted, moved.blobs_present, moved.manifests
                ))
                .await;
                (TaskStatus::Succeeded, moved.bytes as i64)
            }
            Err(CopyError::Stopped) => (TaskStatus::Stopped, 0),
            Err(error) => {
                log.line(format!("failed: {error}")).await;
                run.context.warn(format!("{} failed: {error}", item.source)).await?;
                (TaskStatus::Failed, 0)
            }
        };
        self.tasks.finish(task, status, bytes, Utc::now()).await?;
        Ok(status)
    }

    async fn push_one(
        &self,
        actor: &Actor,
        policy: &Policy,
        remote: &Remote,
        item: &Planned,
        transfer: &Transfer,
        log: &TaskLog<'_>,
    ) -> std::result::Result<Moved, CopyError> {
        let local = |e: Error| CopyError::Local { what: format!("reading {}", item.source), source: e.into() };
        let source = RepoName::parse(&item.repository, "").map_err(|e| local(Error::corrupt(e.to_string())))?;
        let project = source.project().unwrap_or_default();
        let grant = self.access.require(actor, project, Action::Pull).await.map_err(local)?;
        let digest: Digest =
            item.digest.parse().map_err(|_| local(Error::corrupt(format!("digest {}", item.digest))))?;
        let copy = PushCopy {
            registry: &self.registry,
            grant: &grant,
            remote,
            source: &source,
            destination: &item.destination_repository,
            override_existing: policy.override_existing,
            transfer,
            log,
        };
        let tags: Vec<&str> = item.tags.iter().map(String::as_str).collect();
        copy.artifact(&digest, &tags).await
    }

    async fn pull_one(
        &self,
        actor: &Actor,
        policy: &Policy,
        remote: &Remote,
        item: &Planned,
        transfer: &Transfer,
        log: &TaskLog<'_>,
    ) -> std::result::Result<Moved, CopyError> {
        let local = |e: Error| CopyError::Local { what: format!("writing {}", item.destination), source: e.into() };
        let destination = RepoName::parse(&item.destination_repository, "")
            .map_err(|e| local(Error::invalid("dest_namespace", e.to_string())))?;
        let project = destination.project().unwrap_or_default();
        let grant = self.access.require(actor, project, Action::Push).await.map_err(local)?;
        let digest: Digest = item.digest.parse().map_err(|_| {
            CopyError::Remote(RemoteError::Protocol {
                registry: remote.name().to_owned(),
                detail: format!("{} is not a digest", item.digest),
            })
        })?;
        let copy = PullCopy {
            registry: &self.registry,
            grant: &grant,
            remote,
            source: &item.repository,
            destination: &destination,
            override_existing: policy.override_existing,
            transfer,
            log,
        };
        let tags: Vec<&str> = item.tags.iter().map(String::as_str).collect();
        copy.artifact(&digest, &tags).await
    }

    /// Deletes at the destination what was deleted here (a manifest by
    /// digest, or a tag); one that is not there is already as it should be.
    async fn delete_one(
        &self,
        remote: &Remote,
        item: &Planned,
        reference: &str,
        log: &TaskLog<'_>,
    ) -> std::result::Result<Moved, CopyError> {
        use reqwest::{Method, StatusCode, header::HeaderMap};

        let path = format!("v2/{}/manifests/{reference}", item.destination_repository);
        let scope = format!("repository:{}:delete,pull,push", item.destination_repository);
        let response = remote.send(Method::DELETE, &path, Some(&scope), &HeaderMap::new(), None, None).await?;
        match response.status() {
            StatusCode::ACCEPTED | StatusCode::OK => log.line(format!("deleted {}", item.destination)).await,
            StatusCode::NOT_FOUND => log.line(format!("{} was not there", item.destination)).await,
            status => return Err(remote.refusal(status, "DELETE", &format!("/{path}"), response).await.into()),
        }
        Ok(Moved::default())
    }
}

/// Tasks an execution runs side by side.
const TASKS_AT_ONCE: usize = 4;

/// What every task of one execution shares.
struct Run<'a> {
    context: &'a JobContext,
    policy: &'a Policy,
    remote: &'a Remote,
    actor: &'a Actor,
    transfer: &'a Transfer,
}

fn policy_of(execution: &Execution) -> Option<PolicyId> {
    execution.kind.split_once(':').and_then(|(_, id)| id.parse().ok()).map(PolicyId)
}

/// The execution's own log (planning), and its stop flag.
struct ExecutionLog<'a>(&'a JobContext);

impl CopyLog for ExecutionLog<'_> {
    async fn line(&self, message: String) {
        if let Err(error) = self.0.log(message).await {
            tracing::warn!(%error, "a replication execution's log line was not written");
        }
    }

    fn stopped(&self) -> bool {
        self.0.stopped()
    }
}

/// A task's log, and the execution's stop flag.
struct TaskLog<'a> {
    tasks: &'a super::tasks::TaskRepository,
    task: i64,
    line: AtomicI64,
    context: &'a JobContext,
}

impl CopyLog for TaskLog<'_> {
    async fn line(&self, message: String) {
        let line = self.line.fetch_add(1, Ordering::Relaxed);
        if let Err(error) = self.tasks.log(self.task, line, "info", &message).await {
            tracing::warn!(task = self.task, %error, "a replication task's log line was not written");
        }
    }

    fn stopped(&self) -> bool {
        self.context.stopped()
    }
}

/// The job that runs replication executions.
#[derive(Clone, Debug)]
pub struct Replication {
    pub service: ReplicationService,
}

impl Job for Replication {
    fn kind(&self) -> &'static str {
        JOB_KIND
    }

    fn run<'a>(&'a self, context: &'a JobContext, parameters: &'a Value) -> JobRun<'a> {
        Box::pin(self.service.execute(context, parameters))
    }
}
