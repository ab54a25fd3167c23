//! The runner every node starts: it turns due schedule ticks into
//! executions, ends executions whose node stopped renewing, says the node
//! is alive, and claims pending executions of the kinds it knows (whose
//! queue is not paused), running up to its concurrency at once and
//! renewing each lease while its execution runs. See the module docs of
//! [`super`] for how nodes share the work.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use chrono::Utc;
use rand::{RngCore, rngs::OsRng};
use tokio::{
    sync::watch,
    task::{JoinHandle, JoinSet},
};

use super::{
    CronSchedule, Job, JobContext, JobRepository, Status,
    pools::Node,
    repository::{Claimed, Renewal},
};

/// How often a runner looks for work, how long its leases last, and how
/// many executions it runs at once (of different kinds: one per kind runs
/// at a time across all nodes).
#[derive(Clone, Copy, Debug)]
pub struct RunnerSettings {
    /// Between looks for due ticks, expired leases and pending executions.
    pub poll: Duration,
    /// How long a claimed execution stays this node's without a renewal.
    pub lease: Duration,
    pub concurrency: usize,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        Self { poll: Duration::from_secs(2), lease: Duration::from_secs(30), concurrency: 4 }
    }
}

/// A node's runner; stops (and drops any execution it holds, whose lease
/// then runs out) when [`Runner::shut_down`] is called or it is dropped.
pub struct Runner {
    node: String,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Runner {
    /// Starts the loop for `jobs` on this node.
    pub(super) fn start(repository: JobRepository, jobs: Vec<Arc<dyn Job>>, settings: RunnerSettings) -> Self {
        let node = format!("node-{:016x}", OsRng.next_u64());
        let (shutdown, stop) = watch::channel(false);
        let jobs: HashMap<&'static str, Arc<dyn Job>> = jobs.into_iter().map(|job| (job.kind(), job)).collect();
        let now = Utc::now();
        let identity = Node {
            node: node.clone(),
            host: host_name(),
            pid: i64::from(std::process::id()),
            concurrency: settings.concurrency as i64,
            started_at: now,
            heartbeat_at: now,
            running: Vec::new(),
        };
        let worker = Arc::new(Worker { repository, jobs, settings, node: node.clone(), identity });
        let task = tokio::spawn(worker.run(stop));
        Self { node, shutdown, task: Some(task) }
    }

    /// This node's name in leases.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Stops looking for work and waits for the loop to end; an execution
    /// in progress is abandoned to lease expiry.
    pub async fn shut_down(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

struct Worker {
    repository: JobRepository,
    jobs: HashMap<&'static str, Arc<dyn Job>>,
    settings: RunnerSettings,
    node: String,
    /// What the node says of itself when it says it is alive.
    identity: Node,
}

impl Worker {
    /// Looks for work every poll, and as soon as a running execution ends.
    /// Executions run as tasks of this loop: when it is aborted they are
    /// too, and their leases run out.
    async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut running = JoinSet::new();
        loop {
            while running.try_join_next().is_some() {}
            if let Err(error) = self.round(&mut running).await {
                tracing::warn!(%error, "the job runner could not look for work; trying again");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.settings.poll) => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// One look: alive, ticks, expired leases, then pending executions
    /// while it has room.
    async fn round(self: &Arc<Self>, running: &mut JoinSet<()>) -> crate::core::Result<()> {
        let now = Utc::now();
        self.repository.heartbeat(&self.identity, now).await?;
        self.take_due_ticks().await?;
        for id in self.repository.expire_leases(now).await? {
            tracing::warn!(execution = id, "a job's node stopped renewing its lease; the execution ended as Error");
        }
        let paused = self.repository.paused_kinds().await?;
        let kinds: Vec<&str> = self.jobs.keys().copied().filter(|kind| !paused.iter().any(|p| p == kind)).collect();
        while running.len() < self.settings.concurrency.max(1) {
            let Some(claimed) = self.repository.claim(&kinds, &self.node, Utc::now(), self.lease_end()).await? else {
                break;
            };
            let worker = self.clone();
            running.spawn(async move { worker.execute(claimed).await });
        }
        Ok(())
    }

    async fn take_due_ticks(&self) -> crate::core::Result<()> {
        let now = Utc::now();
        for schedule in self.repository.due_schedules(now).await? {
            let next = match CronSchedule::parse(&schedule.cron).map(|cron| cron.next_after(now)) {
                Ok(Some(next)) => next,
                Ok(None) | Err(_) => {
                    tracing::error!(kind = schedule.kind, cron = schedule.cron, "a stored schedule does not parse");
                    continue;
                }
            };
            if self.repository.take_tick(&schedule, next, now).await? {
                tracing::info!(kind = schedule.kind, tick = %schedule.next_run_at, "took a schedule tick");
            }
        }
        Ok(())
    }

    fn lease_end(&self) -> chrono::DateTime<Utc> {
        Utc::now() + chrono::Duration::from_std(self.settings.lease).unwrap_or(chrono::Duration::seconds(30))
    }

    /// Runs one claimed execution to its end, renewing the lease meanwhile.
    async fn execute(&self, claimed: Claimed) {
        let Claimed { id, kind, parameters } = claimed;
        let Some(job) = self.jobs.get(job_of(&kind)).cloned() else {
            return;
        };
        let stop = Arc::new(AtomicBool::new(false));
        let lost = Arc::new(AtomicBool::new(false));
        let lease = self.settings.lease;
        // Renewal ends with this run, however it ends (the runner shut down included).
        let renewer = AbortOnDrop(tokio::spawn(renew(
            self.repository.clone(),
            id,
            self.node.clone(),
            lease,
            stop.clone(),
            lost.clone(),
        )));
        let context = JobContext::new(id, self.repository.clone(), stop.clone());
        let outcome = job.run(&context, &parameters).await;
        drop(renewer);
        if lost.load(Ordering::Relaxed) {
            tracing::warn!(execution = id, kind, "a job's lease was lost while it ran; its outcome is not recorded");
            return;
        }
        let (status, summary, error) = match outcome {
            Ok(summary) => (Status::Success, Some(summary), None),
            Err(_) if stop.load(Ordering::Relaxed) => (Status::Stopped, None, Some("stopped on request".to_owned())),
            Err(error) => (Status::Error, None, Some(error.to_string())),
        };
        match self.repository.finish(id, &self.node, status, summary.as_ref(), error.as_deref(), Utc::now()).await {
            Ok(true) => tracing::info!(execution = id, kind, status = status.as_str(), "a job ended"),
            Ok(false) => tracing::warn!(execution = id, kind, "a job ended after its lease was taken from it"),
            Err(error) => {
                tracing::error!(execution = id, kind, %error, "recording a job's end failed; its lease will run out")
            }
        }
    }
}

/// Renews the lease on execution `id` every third of its length until
/// aborted; sets `stop` when a stop was asked for, and `stop` and `lost`
/// when the lease is gone.
async fn renew(
    repository: JobRepository,
    id: i64,
    node: String,
    lease: Duration,
    stop: Arc<AtomicBool>,
    lost: Arc<AtomicBool>,
) {
    let every = lease / 3;
    loop {
        tokio::time::sleep(every).await;
        let until = Utc::now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30));
        match repository.renew(id, &node, until).await {
            Ok(Renewal::Held { stop: asked }) => {
                if asked {
                    stop.store(true, Ordering::Relaxed);
                }
            }
            Ok(Renewal::Lost) => {
                lost.store(true, Ordering::Relaxed);
                stop.store(true, Ordering::Relaxed);
                return;
            }
            // A database hiccup: try again at the next renewal, well inside the lease.
            Err(error) => tracing::warn!(execution = id, %error, "renewing a job's lease failed"),
        }
    }
}

/// The job that runs executions of `kind`: itself, or for a per-subject
/// kind (`replication:7`) the part before the colon.
fn job_of(kind: &str) -> &str {
    kind.split_once(':').map_or(kind, |(job, _)| job)
}

/// A task aborted when its handle goes.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// This machine's name, as the pools listing shows it.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}
