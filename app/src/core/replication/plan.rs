//! What an execution copies: the plan. For a push policy, the artifacts
//! here its filters select (or the one artifact an event names); for a
//! pull policy, what the remote lists: its catalog's repositories the
//! name filter keeps, their tags the tag filter keeps, grouped by the
//! manifest they name (asked with HEAD, a few at a time, retried like
//! copies). Planning a pull logs each repository, stops when asked, and
//! is bounded.

use std::collections::HashMap;

use futures_util::{StreamExt, TryStreamExt};
use serde_json::Value;

use super::{
    Policy, Remote, RemoteError, ReplicationService,
    copy::{CopyError, CopyLog, retrying},
    namespace,
};
use crate::core::{Error, Result, registry::manifest};

/// Tag HEADs a pull plan has in flight at once.
const HEADS_AT_ONCE: usize = 8;
/// Most artifacts one execution copies.
pub const MAX_PLANNED: usize = 100_000;

impl ReplicationService {
    /// What an event (a push or delete here) asks of the policy.
    pub(super) async fn plan_event(&self, policy: &Policy, event: &Value) -> Result<Vec<Planned>> {
        let text = |key: &str| event.get(key).and_then(Value::as_str).map(str::to_owned);
        let repository = text("repository").ok_or_else(|| Error::invalid("event", "names no repository"))?;
        let destination = namespace::destination(&repository, &policy.dest_namespace, policy.replace_count)
            .map_err(|message| Error::invalid("dest_namespace_replace_count", message))?;
        match event.get("kind").and_then(Value::as_str) {
            Some("pushed") => {
                let digest = text("digest").unwrap_or_default();
                let tag = text("tag");
                let mut plan: Vec<Planned> = self
                    .plan(policy)
                    .await?
                    .into_iter()
                    .filter(|item| item.repository == repository && item.digest == digest)
                    .collect();
                // The push named one tag: that one moves, not every tag the artifact has.
                for item in &mut plan {
                    item.tags = tag.iter().cloned().collect();
                }
                Ok(plan)
            }
            Some(kind @ ("deleted" | "untagged")) => {
                let reference = if kind == "deleted" { text("digest") } else { text("tag") };
                let reference = reference.ok_or_else(|| Error::invalid("event", "names nothing deleted"))?;
                let separator = if kind == "deleted" { '@' } else { ':' };
                Ok(vec![Planned {
                    source: format!("{repository}{separator}{reference}"),
                    destination: format!("{destination}{separator}{reference}"),
                    resource_type: "artifact",
                    repository,
                    destination_repository: destination,
                    digest: text("digest").unwrap_or_default(),
                    tags: Vec::new(),
                    deletion: Some(reference),
                }])
            }
            _ => Err(Error::invalid("event", "is not a push or a delete")),
        }
    }

    /// What the policy selects here, and where each lands.
    pub(super) async fn plan(&self, policy: &Policy) -> Result<Vec<Planned>> {
        let selection = policy.filters.compile().map_err(|e| Error::invalid("filters", e.to_string()))?;
        let mut plan = Vec::new();
        for artifact in self.repository.local_artifacts().await? {
            if !selection.repository(&artifact.repository)
                || !selection.kind(&artifact.media_type, artifact.artifact_type.as_deref())
                || !selection.artifact(&artifact.tags)
            {
                continue;
            }
            let destination =
                namespace::destination(&artifact.repository, &policy.dest_namespace, policy.replace_count)
                    .map_err(|message| Error::invalid("dest_namespace_replace_count", message))?;
            let tags: Vec<String> = selection.tags(&artifact.tags).into_iter().map(str::to_owned).collect();
            let shown = |repository: &str| match tags.first() {
                Some(tag) => format!("{repository}:{tag}"),
                None => format!("{repository}@{}", artifact.digest),
            };
            let image = super::filters::is_image(&artifact.media_type, artifact.artifact_type.as_deref());
            plan.push(Planned {
                source: shown(&artifact.repository),
                destination: shown(&destination),
                resource_type: if image { "image" } else { "artifact" },
                deletion: None,
                repository: artifact.repository,
                destination_repository: destination,
                digest: artifact.digest,
                tags,
            });
        }
        Ok(plan)
    }

    /// What a pull policy selects at the remote, and where each lands here.
    pub(super) async fn plan_remote(
        &self,
        policy: &Policy,
        remote: &Remote,
        log: &impl CopyLog,
    ) -> std::result::Result<Vec<Planned>, CopyError> {
        let protocol = |detail: String| RemoteError::Protocol { registry: remote.name().to_owned(), detail };
        let selection = policy.filters.compile().map_err(|e| protocol(format!("the policy's filters: {e}")))?;
        let listed = retrying(log, || async { Ok(remote.repositories().await?) }).await?;
        let repositories: Vec<String> = listed.into_iter().filter(|r| selection.repository(r)).collect();
        log.line(format!("{} repositories at the source match the policy", repositories.len())).await;
        let mut plan = Vec::new();
        for repository in repositories {
            if log.stopped() {
                return Err(CopyError::Stopped);
            }
            let destination =
                namespace::destination(&repository, &policy.dest_namespace, policy.replace_count).map_err(protocol)?;
            let tags = retrying(log, || async { Ok(remote.tags(&repository).await?) }).await?;
            let kept: Vec<String> = selection.tags(&tags).into_iter().map(str::to_owned).collect();
            let repository_name = repository.as_str();
            // Owned tags: a closure over borrowed ones is not `Send` for every lifetime.
            let named: Vec<Option<(String, String)>> = futures_util::stream::iter(kept.clone())
                .map(|tag| async move {
                    retrying(log, || async { Ok(remote.manifest_digest(repository_name, &tag).await?) }).await
                })
                .buffered(HEADS_AT_ONCE)
                .try_collect()
                .await?;
            // Tags grouped by the manifest they name, in the order listed.
            let mut artifacts: Vec<(String, String, Vec<String>)> = Vec::new();
            let mut by_digest: HashMap<String, usize> = HashMap::new();
            for (tag, named) in kept.into_iter().zip(named) {
                let Some((digest, media_type)) = named else { continue };
                match by_digest.get(&digest) {
                    Some(&at) => artifacts[at].2.push(tag),
                    None => {
                        by_digest.insert(digest.clone(), artifacts.len());
                        artifacts.push((digest, media_type, vec![tag]));
                    }
                }
            }
            log.line(format!("{repository}: {} tags, {} artifacts selected", tags.len(), artifacts.len())).await;
            for (digest, media_type, tags) in artifacts {
                let artifact_type = if selection.needs_artifact_type(&media_type) {
                    let max = self.registry.max_manifest_bytes();
                    let fetched =
                        retrying(log, || async { Ok(remote.manifest(&repository, &digest, max).await?) }).await?;
                    manifest::parse(&fetched.content, Some(&fetched.media_type))
                        .map_err(|e| protocol(format!("{repository}@{digest}: {e}")))?
                        .artifact_type
                } else {
                    None
                };
                if !selection.kind(&media_type, artifact_type.as_deref()) {
                    continue;
                }
                if plan.len() == MAX_PLANNED {
                    return Err(protocol(format!(
                        "the policy selects more than {MAX_PLANNED} artifacts there; narrow its filters"
                    ))
                    .into());
                }
                let image = super::filters::is_image(&media_type, artifact_type.as_deref());
                plan.push(Planned {
                    source: format!("{repository}:{}", tags[0]),
                    destination: format!("{destination}:{}", tags[0]),
                    resource_type: if image { "image" } else { "artifact" },
                    deletion: None,
                    repository: repository.clone(),
                    destination_repository: destination.clone(),
                    digest,
                    tags,
                });
            }
        }
        Ok(plan)
    }
}

/// One artifact an execution copies.
pub(super) struct Planned {
    pub(super) repository: String,
    pub(super) destination_repository: String,
    pub(super) digest: String,
    pub(super) tags: Vec<String>,
    pub(super) source: String,
    pub(super) destination: String,
    pub(super) resource_type: &'static str,
    /// For a deletion: the digest or tag to delete at the destination.
    pub(super) deletion: Option<String>,
}
