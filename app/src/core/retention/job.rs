//! The retention job: one execution walks the repositories the policy's
//! rules select, one task each, decides what stays and deletes the rest
//! (or, in a dry run, lists it), checking for a stop between artifacts.

use std::{collections::HashMap, fmt::Write as _};

use chrono::Utc;
use serde_json::{Value, json};

use super::{
    JOB_KIND, PolicyId, RetentionService, TaskStatus,
    rules::{Candidate, Compiled},
};
use crate::core::{
    Error, Result,
    access::ProjectGrant,
    identity::{Actor, Principal},
    immutability::{ImmutableRule, protection},
    jobs::{Job, JobContext, JobRun},
    rbac::Action,
    registry::{self, digest::Digest, names::RepoName},
};

/// Who retention's deletions are audited as.
pub const ACTOR: &str = "system:retention";
/// Most artifact lines a task's log keeps; the rest are counted.
const MAX_LOG_LINES: usize = 100_000;

/// The job kind the runner knows retention by.
pub struct Retention {
    pub service: RetentionService,
}

impl Job for Retention {
    fn kind(&self) -> &'static str {
        JOB_KIND
    }

    fn run<'a>(&'a self, context: &'a JobContext, parameters: &'a Value) -> JobRun<'a> {
        Box::pin(self.service.execute(context, parameters))
    }
}

/// What one repository came to.
#[derive(Default)]
struct Counts {
    artifacts: i64,
    retained: i64,
    deleted: i64,
}

/// A task's log, bounded.
struct TaskLog {
    text: String,
    lines: usize,
    dropped: usize,
}

impl TaskLog {
    fn new() -> Self {
        Self { text: String::new(), lines: 0, dropped: 0 }
    }

    fn line(&mut self, line: impl std::fmt::Display) {
        if self.lines < MAX_LOG_LINES {
            let _ = writeln!(self.text, "{line}");
            self.lines += 1;
        } else {
            self.dropped += 1;
        }
    }

    fn finish(mut self) -> String {
        if self.dropped > 0 {
            let _ = writeln!(self.text, "… and {} more lines", self.dropped);
        }
        self.text
    }
}

fn tag_list(tags: &[String]) -> String {
    if tags.is_empty() { "untagged".to_owned() } else { tags.join(", ") }
}

impl RetentionService {
    pub(super) async fn execute(&self, context: &JobContext, parameters: &Value) -> Result<Value> {
        let id = PolicyId(
            parameters["policy_id"].as_i64().ok_or_else(|| Error::invalid("parameters", "policy_id is missing"))?,
        );
        let dry_run = parameters["dry_run"].as_bool().unwrap_or(false);
        let Some(policy) = self.repository.policy(id).await? else {
            // Its project was deleted: the schedule goes too.
            self.repository.forget_schedule(id).await?;
            return Err(Error::NotFound(format!("retention policy {} (its project was deleted)", id.0)));
        };
        let compiled = Compiled::new(&policy.rules).map_err(|e| Error::corrupt(format!("stored rule: {e}")))?;
        let actor = Actor::from(Principal::Job(ACTOR));
        let grant = self.access.require(&actor, &policy.project, Action::DeleteArtifact).await?;
        let immutable = self.immutability.in_force(&policy.project).await?;
        let all = self.repository.repositories(policy.project_id).await?;
        let selected: Vec<(i64, String)> =
            all.iter().filter(|(_, name)| compiled.selects(within(name))).cloned().collect();
        let mode = if dry_run { "dry run: nothing is deleted" } else { "deleting what no rule keeps" };
        context
            .log(format!("{} of {} repositories in {} selected; {mode}", selected.len(), all.len(), policy.project))
            .await?;
        let mut totals = Counts::default();
        let mut failed = 0;
        for (done, (repository_id, name)) in selected.iter().enumerate() {
            context.check_stop()?;
            context.progress(done as i64, Some(selected.len() as i64)).await?;
            let task = self.repository.start_task(context.execution(), name, Utc::now()).await?;
            let mut log = TaskLog::new();
            let run = RepositoryRun { compiled: &compiled, immutable: &immutable, grant: &grant, dry_run };
            let outcome = self.retain_in(context, &run, *repository_id, name, &mut log).await;
            let (status, counts) = match outcome {
                Ok(counts) => (TaskStatus::Success, counts),
                Err((error, counts)) => {
                    log.line(format!("failed: {error}"));
                    let stopped = context.stopped();
                    if !stopped {
                        context.warn(format!("{name}: {error}")).await?;
                        failed += 1;
                    }
                    (if stopped { TaskStatus::Stopped } else { TaskStatus::Error }, counts)
                }
            };
            let text = log.finish();
            self.repository
                .finish_task(task, status, counts.artifacts, counts.retained, counts.deleted, &text, Utc::now())
                .await?;
            totals.artifacts += counts.artifacts;
            totals.retained += counts.retained;
            totals.deleted += counts.deleted;
            if status == TaskStatus::Stopped {
                context.check_stop()?;
            }
        }
        context.progress(selected.len() as i64, Some(selected.len() as i64)).await?;
        let verb = if dry_run { "would delete" } else { "deleted" };
        context
            .log(format!("{} artifacts: {} retained, {verb} {}", totals.artifacts, totals.retained, totals.deleted))
            .await?;
        if failed > 0 {
            return Err(Error::Conflict(format!(
                "{failed} of {} repositories failed; see their tasks",
                selected.len()
            )));
        }
        Ok(json!({
            "dry_run": dry_run,
            "repositories": selected.len(),
            "artifacts": totals.artifacts,
            "retained": totals.retained,
            "deleted": totals.deleted,
        }))
    }

    /// Decides for one repository and deletes (or lists) what goes.
    async fn retain_in(
        &self,
        context: &JobContext,
        run: &RepositoryRun<'_>,
        repository_id: i64,
        name: &str,
        log: &mut TaskLog,
    ) -> std::result::Result<Counts, (Error, Counts)> {
        let mut counts = Counts::default();
        // Taken before the read: whatever is pushed after it is never deleted by this run.
        let decided_at = Utc::now();
        let (rows, tag_rows) = self.repository.artifacts(repository_id).await.map_err(|e| (e, Counts::default()))?;
        let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
        for (manifest, tag) in tag_rows {
            tags.entry(manifest).or_default().push(tag);
        }
        let candidates: Vec<Candidate> = rows
            .into_iter()
            .map(|(id, digest, pushed_at, pulled_at)| {
                let mut tags = tags.remove(&id).unwrap_or_default();
                tags.sort();
                let names: Vec<&str> = tags.iter().map(String::as_str).collect();
                let immutable = protection(run.immutable, name, &names).is_some();
                Candidate { digest, tags, pushed_at, pulled_at, immutable }
            })
            .collect();
        counts.artifacts = candidates.len() as i64;
        let decision = run.compiled.decide(within(name), &candidates, decided_at);
        for &kept in &decision.kept {
            let artifact = &candidates[kept];
            let why = if artifact.immutable { " (immutable)" } else { "" };
            log.line(format_args!("retained {} [{}]{why}", artifact.digest, tag_list(&artifact.tags)));
        }
        counts.retained = decision.kept.len() as i64;
        let repository = RepoName::parse(name, "").map_err(|e| (Error::corrupt(e.to_string()), Counts::default()))?;
        if run.dry_run {
            for &gone in &decision.deleted {
                let artifact = &candidates[gone];
                log.line(format_args!("would delete {} [{}]", artifact.digest, tag_list(&artifact.tags)));
                counts.deleted += 1;
            }
            return Ok(counts);
        }
        // A batch at a time, each in one transaction; a stop request is
        // honoured between batches.
        for batch in decision.deleted.chunks(registry::MAX_DELETE_BATCH) {
            if let Err(error) = context.check_stop() {
                return Err((error, counts));
            }
            let mut digests = Vec::with_capacity(batch.len());
            for &gone in batch {
                match candidates[gone].digest.parse::<Digest>() {
                    Ok(digest) => digests.push(digest),
                    Err(_) => return Err((Error::corrupt(format!("digest {}", candidates[gone].digest)), counts)),
                }
            }
            let outcomes =
                match self.registry.delete_manifests_unchanged(&repository, &digests, decided_at, run.grant).await {
                    Ok(outcomes) => outcomes,
                    Err(error) => return Err((error.into(), counts)),
                };
            for (&gone, outcome) in batch.iter().zip(outcomes) {
                let artifact = &candidates[gone];
                match outcome {
                    Ok(()) => {
                        log.line(format_args!("deleted {} [{}]", artifact.digest, tag_list(&artifact.tags)));
                        counts.deleted += 1;
                    }
                    // Tagged immutable (or deleted) since the decision: it stays, or it is gone already.
                    Err(registry::Error::Immutable(protected)) => {
                        log.line(format_args!("retained {}: {protected}", artifact.digest));
                        counts.retained += 1;
                    }
                    Err(registry::Error::ChangedMeanwhile) => {
                        log.line(format_args!("retained {}: pushed again since the decision", artifact.digest));
                        counts.retained += 1;
                    }
                    Err(registry::Error::ManifestUnknown) => {
                        log.line(format_args!("{} was deleted meanwhile", artifact.digest));
                    }
                    Err(other) => return Err((other.into(), counts)),
                }
            }
        }
        Ok(counts)
    }
}

/// What every repository of one execution shares.
struct RepositoryRun<'a> {
    compiled: &'a Compiled<'a>,
    immutable: &'a [ImmutableRule],
    grant: &'a ProjectGrant,
    dry_run: bool,
}

/// A repository's name within its project.
fn within(name: &str) -> &str {
    name.split_once('/').map_or(name, |(_, rest)| rest)
}
