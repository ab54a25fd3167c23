//! Event-based replication: each push or delete here that an enabled
//! event-based policy selects queues an execution of that policy for just
//! that artifact, within the request that made the change (after it
//! committed). Any node's runner copies it, so it reaches the destination
//! within seconds.

use std::pin::Pin;

use serde_json::{Value, json};

use super::{ReplicationService, policies::Policy, repository::ReplicationRepository};
use crate::core::{
    Result,
    jobs::JobService,
    registry::{ArtifactChange, ArtifactListener},
};

/// What the registry tells of its changes: it holds no registry itself, so
/// the registry holding it makes no cycle.
pub struct EventTrigger {
    repository: ReplicationRepository,
    jobs: JobService,
}

impl ReplicationService {
    /// The listener to hand the registry at start-up.
    pub fn event_trigger(&self) -> EventTrigger {
        EventTrigger { repository: self.repository.clone(), jobs: self.jobs.clone() }
    }
}

impl ArtifactListener for EventTrigger {
    fn changed<'a>(&'a self, change: ArtifactChange) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            // The change itself stands; a replication that cannot be queued is logged.
            if let Err(error) = self.queue_for(&change).await {
                tracing::warn!(%error, ?change, "an event-based replication could not be queued");
            }
        })
    }
}

impl EventTrigger {
    async fn queue_for(&self, change: &ArtifactChange) -> Result<()> {
        for policy in self.repository.event_policies().await? {
            let Some(event) = event_for(&policy, change) else { continue };
            let parameters = json!({ "policy_id": policy.id.0, "event": event });
            let id = self.jobs.queue_for_event(&policy.id.job_kind(), &parameters).await?;
            tracing::info!(policy = policy.name, execution = id, ?change, "queued an event-based replication");
        }
        Ok(())
    }
}

/// The event as an execution's parameter, when `policy` replicates it.
fn event_for(policy: &Policy, change: &ArtifactChange) -> Option<Value> {
    let selection = policy.filters.compile().ok()?;
    let (repository, event) = match change {
        ArtifactChange::Pushed { repository, digest, tag } => {
            if let Some(tag) = tag
                && selection.tags(std::slice::from_ref(tag)).is_empty()
            {
                return None;
            }
            (
                repository,
                json!({ "kind": "pushed", "repository": repository.as_str(), "digest": digest.to_string(), "tag": tag }),
            )
        }
        ArtifactChange::Deleted { repository, digest } if policy.replicate_deletion => {
            (repository, json!({ "kind": "deleted", "repository": repository.as_str(), "digest": digest.to_string() }))
        }
        ArtifactChange::Untagged { repository, tag } if policy.replicate_deletion => {
            if selection.tags(std::slice::from_ref(tag)).is_empty() {
                return None;
            }
            (repository, json!({ "kind": "untagged", "repository": repository.as_str(), "tag": tag }))
        }
        ArtifactChange::Deleted { .. } | ArtifactChange::Untagged { .. } => return None,
    };
    selection.repository(repository.as_str()).then_some(event)
}
