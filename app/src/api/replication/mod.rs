//! The Administration area's replication pages: remote registries (with
//! "test connection"), replication policies (with "replicate now" and
//! enable/disable), and executions with their tasks and each task's log.
//! System administrators only; the core refuses anyone else.

use chrono::{DateTime, Utc};
#[cfg(feature = "ssr")]
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

mod executions;
mod policies;
mod registries;

pub use executions::*;
pub use policies::*;
pub use registries::*;

pub use crate::api::numbered::{Listing, PAGE_SIZE};
#[cfg(feature = "ssr")]
pub(super) use crate::api::numbered::{ticked, window};

/// Registries offered in a policy's registry choice.
pub const MAX_CHOICES: u32 = 500;

/// A remote registry as the pages show it (its secret never leaves the server).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegistryItem {
    pub id: i64,
    pub name: String,
    /// `harbor` (Berth or Harbor) or `docker-registry`.
    pub kind: String,
    pub url: String,
    pub access_key: Option<String>,
    pub has_secret: bool,
    pub insecure: bool,
    pub description: String,
    /// `healthy` or `unhealthy`, as last checked.
    pub status: String,
}

/// A policy as the pages show and edit it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyItem {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// `push` (here to the registry) or `pull` (the registry to here).
    pub direction: String,
    pub registry_id: i64,
    pub dest_namespace: String,
    pub replace_count: i64,
    /// `manual`, `scheduled` or `event_based`.
    pub trigger: String,
    pub cron: Option<String>,
    pub name_filter: String,
    pub tag_filter: String,
    /// `matches` or `excludes`.
    pub tag_decoration: String,
    /// `artifact` (any) or `image`.
    pub resource: String,
    pub replicate_deletion: bool,
    pub override_existing: bool,
    pub enabled: bool,
    pub speed_kb: i64,
    pub copy_by_chunk: bool,
}

/// An execution with its tasks counted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExecutionItem {
    pub id: i64,
    pub policy_id: Option<i64>,
    /// `manual`, `scheduled` or `event_based`.
    pub trigger: String,
    /// `pending`, `running`, `success`, `error` or `stopped`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub total: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub running: i64,
    pub stopped: i64,
    /// Bytes copied so far.
    pub bytes: i64,
}

impl ExecutionItem {
    pub fn is_active(&self) -> bool {
        matches!(self.status.as_str(), "pending" | "running")
    }

    /// Tasks not started yet.
    pub fn waiting(&self) -> i64 {
        (self.total - self.succeeded - self.failed - self.running - self.stopped).max(0)
    }
}

/// One task (one artifact) of an execution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskItem {
    pub id: i64,
    pub resource_type: String,
    /// `copy` or `deletion`.
    pub operation: String,
    pub source: String,
    pub destination: String,
    /// `pending`, `running`, `succeeded`, `failed` or `stopped`.
    pub status: String,
    pub bytes: i64,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// An execution with one page of its tasks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExecutionDetail {
    pub execution: ExecutionItem,
    pub policy_name: Option<String>,
    pub tasks: Listing<TaskItem>,
}

#[cfg(feature = "ssr")]
pub(super) mod convert {
    use super::*;
    use crate::core::{
        jobs::{Status, Trigger as JobTrigger},
        replication::{Direction, Endpoint, ExecutionView, Policy, tasks::Task},
    };

    pub fn registry(endpoint: Endpoint) -> RegistryItem {
        RegistryItem {
            id: endpoint.id.0,
            name: endpoint.name,
            kind: endpoint.kind.as_str().to_owned(),
            url: endpoint.url,
            access_key: endpoint.access_key,
            has_secret: endpoint.has_secret,
            insecure: endpoint.insecure,
            description: endpoint.description,
            status: endpoint.status.as_str().to_owned(),
        }
    }

    pub fn policy(policy: Policy) -> PolicyItem {
        let (direction, registry) = match policy.direction {
            Direction::Push { destination } => ("push", destination),
            Direction::Pull { source } => ("pull", source),
        };
        PolicyItem {
            id: policy.id.0,
            name: policy.name,
            description: policy.description,
            direction: direction.to_owned(),
            registry_id: registry.0,
            dest_namespace: policy.dest_namespace,
            replace_count: i64::from(policy.replace_count),
            trigger: policy.trigger.as_str().to_owned(),
            cron: policy.trigger.cron().map(str::to_owned),
            name_filter: policy.filters.name.unwrap_or_default(),
            tag_filter: policy.filters.tag.unwrap_or_default(),
            tag_decoration: policy.filters.tag_decoration.as_str().to_owned(),
            resource: policy.filters.resource.unwrap_or_default().as_str().to_owned(),
            replicate_deletion: policy.replicate_deletion,
            override_existing: policy.override_existing,
            enabled: policy.enabled,
            speed_kb: policy.speed_kb,
            copy_by_chunk: policy.copy_by_chunk,
        }
    }

    pub fn execution(view: ExecutionView) -> ExecutionItem {
        let execution = view.execution;
        ExecutionItem {
            id: execution.id,
            policy_id: view.policy.map(|p| p.0),
            trigger: match execution.trigger {
                JobTrigger::Manual => "manual",
                JobTrigger::Schedule => "scheduled",
                JobTrigger::Event => "event_based",
            }
            .to_owned(),
            status: match execution.status {
                Status::Pending => "pending",
                Status::Running => "running",
                Status::Success => "success",
                Status::Error => "error",
                Status::Stopped => "stopped",
                Status::Skipped => "skipped",
            }
            .to_owned(),
            created_at: execution.created_at,
            started_at: execution.started_at,
            ended_at: execution.ended_at,
            error: execution.error,
            total: view.totals.total,
            succeeded: view.totals.succeeded,
            failed: view.totals.failed,
            running: view.totals.in_progress,
            stopped: view.totals.stopped,
            bytes: view.totals.bytes,
        }
    }

    pub fn task(task: Task) -> TaskItem {
        TaskItem {
            id: task.id,
            resource_type: task.resource_type,
            operation: task.operation,
            source: task.src_resource,
            destination: task.dst_resource,
            status: task.status.as_str().to_owned(),
            bytes: task.bytes,
            started_at: task.started_at,
            ended_at: task.ended_at,
        }
    }
}

#[cfg(feature = "ssr")]
pub(super) fn service() -> crate::core::replication::ReplicationService {
    expect_context::<crate::core::AppState>().replication.clone()
}
