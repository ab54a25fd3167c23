//! The Administration area's replication pages: remote registries (with
//! "test connection"), replication policies (with "replicate now" and
//! enable/disable), and executions with their tasks and each task's log.
//! System administrators only; the core refuses anyone else.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::AppError;

/// Rows per page of the registry, policy, execution and task lists.
pub const PAGE_SIZE: u32 = 20;
/// Registries offered in a policy's registry choice.
pub const MAX_CHOICES: u32 = 500;

/// One page of a list, with how many there are in all.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub total: i64,
}

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
mod convert {
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
fn window(page: u32) -> crate::core::db::Window {
    crate::core::db::Window::new(page.max(1).saturating_sub(1).saturating_mul(PAGE_SIZE), PAGE_SIZE)
}

#[cfg(feature = "ssr")]
fn service() -> crate::core::replication::ReplicationService {
    expect_context::<crate::core::AppState>().replication
}

/// A checkbox's value as a form sends it: present when ticked.
#[cfg(feature = "ssr")]
fn ticked(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|v| !v.is_empty() && v != "false")
}

#[server(prefix = "/portal/fn", endpoint = "replication_registries")]
pub async fn list_registries(page: u32) -> Result<Listing<RegistryItem>, AppError> {
    let actor = crate::api::session::require_actor().await?;
    let found = service().registries(&actor, None, window(page)).await?;
    Ok(Listing { total: found.total, items: found.items.into_iter().map(convert::registry).collect() })
}

/// Registries a policy may name, by name.
#[server(prefix = "/portal/fn", endpoint = "replication_registry_choices")]
pub async fn registry_choices() -> Result<Vec<(i64, String)>, AppError> {
    let actor = crate::api::session::require_actor().await?;
    let found = service().registries(&actor, None, crate::core::db::Window::new(0, MAX_CHOICES)).await?;
    Ok(found.items.into_iter().map(|r| (r.id.0, r.name)).collect())
}

#[server(prefix = "/portal/fn", endpoint = "replication_registry")]
pub async fn get_registry(id: i64) -> Result<RegistryItem, AppError> {
    use crate::core::replication::EndpointId;
    let actor = crate::api::session::require_actor().await?;
    Ok(convert::registry(service().registry(&actor, EndpointId(id)).await?))
}

/// Saves a new registry (`id` empty) or changes one; an empty secret keeps
/// the stored one. The registry must answer with the credential.
// One argument per form field: the form posts them as they are.
#[allow(clippy::too_many_arguments)]
#[server(prefix = "/portal/fn", endpoint = "save_replication_registry")]
pub async fn save_registry(
    id: Option<i64>,
    name: String,
    kind: String,
    url: String,
    access_key: Option<String>,
    access_secret: Option<String>,
    insecure: Option<String>,
    description: Option<String>,
) -> Result<i64, AppError> {
    use crate::core::replication::{Credential, EndpointChanges, EndpointId, NewEndpoint, RegistryKind};

    let actor = crate::api::session::require_actor().await?;
    let access_key = access_key.filter(|k| !k.trim().is_empty());
    let access_secret = access_secret.filter(|s| !s.is_empty());
    let saved = match id {
        None => {
            let new = NewEndpoint {
                name,
                kind: RegistryKind::parse(&kind)?,
                url,
                credential: Credential::given(access_key.as_deref(), access_secret.as_deref())?,
                insecure: ticked(&insecure),
                description: description.unwrap_or_default(),
            };
            service().create_registry(&actor, new).await?
        }
        Some(id) => {
            let changes = EndpointChanges {
                name: Some(name),
                description: Some(description.unwrap_or_default()),
                url: Some(url),
                access_key,
                access_secret,
                insecure: Some(ticked(&insecure)),
            };
            service().update_registry(&actor, EndpointId(id), changes).await?
        }
    };
    Ok(saved.id.0)
}

/// "Test connection" with what the form holds; for a saved registry an
/// empty secret means the stored one.
#[server(prefix = "/portal/fn", endpoint = "test_replication_registry")]
pub async fn test_registry(
    id: Option<i64>,
    kind: String,
    url: String,
    access_key: Option<String>,
    access_secret: Option<String>,
    insecure: Option<String>,
) -> Result<(), AppError> {
    use crate::core::replication::{Credential, EndpointId, PingTarget, RegistryKind};

    let actor = crate::api::session::require_actor().await?;
    let access_key = access_key.filter(|k| !k.trim().is_empty());
    let access_secret = access_secret.filter(|s| !s.is_empty());
    let service = service();
    let target = match id {
        Some(id) => {
            let saved = service.registry(&actor, EndpointId(id)).await?;
            // Asked of another URL, the stored secret is not sent there.
            if saved.url.trim_end_matches('/') == url.trim().trim_end_matches('/') {
                let credential = match access_secret {
                    Some(secret) => Credential::given(access_key.as_deref(), Some(&secret))?,
                    None => None,
                };
                PingTarget::Saved { id: EndpointId(id), credential }
            } else {
                PingTarget::Unsaved {
                    kind: RegistryKind::parse(&kind)?,
                    url,
                    credential: Credential::given(access_key.as_deref(), access_secret.as_deref())?,
                    insecure: ticked(&insecure),
                }
            }
        }
        None => PingTarget::Unsaved {
            kind: RegistryKind::parse(&kind)?,
            url,
            credential: Credential::given(access_key.as_deref(), access_secret.as_deref())?,
            insecure: ticked(&insecure),
        },
    };
    Ok(service.ping(&actor, target).await?)
}

#[server(prefix = "/portal/fn", endpoint = "delete_replication_registry")]
pub async fn delete_registry(id: i64) -> Result<(), AppError> {
    use crate::core::replication::EndpointId;
    let actor = crate::api::session::require_actor().await?;
    Ok(service().delete_registry(&actor, EndpointId(id)).await?)
}

#[server(prefix = "/portal/fn", endpoint = "replication_policies")]
pub async fn list_policies(page: u32) -> Result<Listing<PolicyItem>, AppError> {
    let actor = crate::api::session::require_actor().await?;
    let found = service().policies(&actor, None, window(page)).await?;
    Ok(Listing { total: found.total, items: found.items.into_iter().map(convert::policy).collect() })
}

#[server(prefix = "/portal/fn", endpoint = "replication_policy")]
pub async fn get_policy(id: i64) -> Result<PolicyItem, AppError> {
    use crate::core::replication::PolicyId;
    let actor = crate::api::session::require_actor().await?;
    Ok(convert::policy(service().policy(&actor, PolicyId(id)).await?))
}

/// Saves a new policy (`id` empty) or replaces one.
// One argument per form field: the form posts them as they are.
#[allow(clippy::too_many_arguments)]
#[server(prefix = "/portal/fn", endpoint = "save_replication_policy")]
pub async fn save_policy(
    id: Option<i64>,
    name: String,
    description: Option<String>,
    direction: String,
    registry_id: i64,
    name_filter: Option<String>,
    tag_filter: Option<String>,
    tag_decoration: Option<String>,
    resource: Option<String>,
    dest_namespace: Option<String>,
    replace_count: Option<String>,
    trigger: String,
    cron: Option<String>,
    replicate_deletion: Option<String>,
    override_existing: Option<String>,
    enabled: Option<String>,
    speed_kb: Option<String>,
    copy_by_chunk: Option<String>,
) -> Result<i64, AppError> {
    use crate::core::{
        Error,
        replication::{
            Direction, EndpointId, PolicyDraft, PolicyId, Trigger,
            filters::{Decoration, Filters, ResourceKind},
        },
    };

    let actor = crate::api::session::require_actor().await?;
    let registry = EndpointId(registry_id);
    let direction = match direction.as_str() {
        "push" => Direction::Push { destination: registry },
        "pull" => Direction::Pull { source: registry },
        _ => return Err(Error::invalid("direction", "must be push or pull").into()),
    };
    let number = |field: &'static str, text: Option<String>, default: i64| -> Result<i64, Error> {
        match text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => Ok(default),
            Some(text) => text.parse().map_err(|_| Error::invalid(field, "must be a whole number")),
        }
    };
    let replace_count = i8::try_from(number("dest_namespace_replace_count", replace_count, -1)?)
        .map_err(|_| Error::invalid("dest_namespace_replace_count", "must be from -1 to 127"))?;
    let filled = |text: Option<String>| text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    let filters = Filters {
        name: filled(name_filter),
        tag: filled(tag_filter),
        tag_decoration: Decoration::parse(tag_decoration.as_deref().unwrap_or("matches"))
            .ok_or_else(|| Error::invalid("tag_decoration", "must be matches or excludes"))?,
        resource: Some(
            ResourceKind::parse(resource.as_deref().unwrap_or("artifact"))
                .ok_or_else(|| Error::invalid("resource", "must be image or artifact"))?,
        ),
    };
    let draft = PolicyDraft {
        name,
        description: description.unwrap_or_default(),
        direction,
        dest_namespace: dest_namespace.unwrap_or_default(),
        replace_count,
        trigger: Trigger::parse(&trigger, cron.as_deref())?,
        filters,
        replicate_deletion: ticked(&replicate_deletion),
        override_existing: ticked(&override_existing),
        enabled: ticked(&enabled),
        speed_kb: number("speed_kb", speed_kb, 0)?,
        copy_by_chunk: ticked(&copy_by_chunk),
    };
    let saved = match id {
        None => service().create_policy(&actor, draft).await?,
        Some(id) => service().update_policy(&actor, PolicyId(id), draft).await?,
    };
    Ok(saved.id.0)
}

/// Enables or disables a policy, leaving the rest as it is.
#[server(prefix = "/portal/fn", endpoint = "enable_replication_policy")]
pub async fn set_policy_enabled(id: i64, enabled: bool) -> Result<(), AppError> {
    use crate::core::replication::{PolicyDraft, PolicyId};
    let actor = crate::api::session::require_actor().await?;
    let service = service();
    let policy = service.policy(&actor, PolicyId(id)).await?;
    let draft = PolicyDraft { enabled, ..PolicyDraft::from(policy) };
    service.update_policy(&actor, PolicyId(id), draft).await?;
    Ok(())
}

#[server(prefix = "/portal/fn", endpoint = "delete_replication_policy")]
pub async fn delete_policy(id: i64) -> Result<(), AppError> {
    use crate::core::replication::PolicyId;
    let actor = crate::api::session::require_actor().await?;
    Ok(service().delete_policy(&actor, PolicyId(id)).await?)
}

/// "Replicate now": the new execution's id.
#[server(prefix = "/portal/fn", endpoint = "start_replication")]
pub async fn start_replication(id: i64) -> Result<i64, AppError> {
    use crate::core::replication::PolicyId;
    let actor = crate::api::session::require_actor().await?;
    Ok(service().start(&actor, PolicyId(id)).await?)
}

/// Executions, newest first: of one policy, or of all.
#[server(prefix = "/portal/fn", endpoint = "replication_executions")]
pub async fn list_executions(policy_id: Option<i64>, page: u32) -> Result<Listing<ExecutionItem>, AppError> {
    use crate::core::replication::PolicyId;
    let actor = crate::api::session::require_actor().await?;
    let found = service().executions(&actor, policy_id.map(PolicyId), window(page)).await?;
    Ok(Listing { total: found.total, items: found.items.into_iter().map(convert::execution).collect() })
}

/// An execution with one page of its tasks.
#[server(prefix = "/portal/fn", endpoint = "replication_execution")]
pub async fn get_execution(id: i64, page: u32) -> Result<ExecutionDetail, AppError> {
    let actor = crate::api::session::require_actor().await?;
    let service = service();
    let view = service.execution(&actor, id).await?;
    let policy_name = match view.policy {
        Some(policy) => service.policy(&actor, policy).await.ok().map(|p| p.name),
        None => None,
    };
    let tasks = service.tasks(&actor, id, window(page)).await?;
    Ok(ExecutionDetail {
        execution: convert::execution(view),
        policy_name,
        tasks: Listing { total: tasks.total, items: tasks.items.into_iter().map(convert::task).collect() },
    })
}

#[server(prefix = "/portal/fn", endpoint = "replication_task_log")]
pub async fn task_log(execution: i64, task: i64) -> Result<String, AppError> {
    let actor = crate::api::session::require_actor().await?;
    Ok(service().task_log(&actor, execution, task).await?)
}

#[server(prefix = "/portal/fn", endpoint = "stop_replication")]
pub async fn stop_execution(id: i64) -> Result<(), AppError> {
    let actor = crate::api::session::require_actor().await?;
    Ok(service().stop(&actor, id).await?)
}
