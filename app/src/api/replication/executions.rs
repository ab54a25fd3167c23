//! Executions: "replicate now", list, one with a page of its tasks, a task's log, stop.

use leptos::prelude::*;

use super::{ExecutionDetail, ExecutionItem, Listing};
#[cfg(feature = "ssr")]
use super::{convert, service, window};
use crate::api::AppError;

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
        Some(policy) => match service.policy(&actor, policy).await {
            Ok(policy) => Some(policy.name),
            // Its policy was deleted since; the execution stays readable.
            Err(crate::core::Error::NotFound(_)) => None,
            Err(error) => return Err(error.into()),
        },
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
