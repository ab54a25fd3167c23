//! A project's audit log in the portal (`read_logs`): who did what, when,
//! from where, with what outcome, newest first, a page at a time.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::{AppError, projects::Listing};

pub const LOG_PAGE_SIZE: u32 = 25;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogItem {
    pub occurred_at: DateTime<Utc>,
    /// `None` for anonymous callers.
    pub actor: Option<String>,
    pub operation: String,
    pub resource_type: String,
    pub resource: String,
    pub succeeded: bool,
    pub client_addr: Option<String>,
    pub detail: Option<String>,
}

/// The project's entries, optionally one operation only (`push`, `pull`, …).
#[server(prefix = "/portal/fn", endpoint = "project_logs")]
pub async fn project_logs(
    project: String,
    operation: Option<String>,
    after: Option<String>,
    before: Option<String>,
) -> Result<Listing<LogItem>, AppError> {
    use crate::core::{AppState, db::TimeCursor, events::AuditQuery};

    let actor = crate::api::session::require_actor().await?;
    let keyset = TimeCursor::keyset(after.as_deref(), before.as_deref())?;
    let operation = operation.filter(|o| !o.is_empty());
    let query = AuditQuery { project: Some(&project), operation: operation.as_deref(), ..AuditQuery::default() };
    let page = expect_context::<AppState>().audit.browse(&actor, &query, &keyset, LOG_PAGE_SIZE).await?;
    Ok(crate::api::projects::listing(
        page,
        |event| TimeCursor { at: event.occurred_at, id: event.id }.encode(),
        log_item,
    ))
}

#[cfg(feature = "ssr")]
pub fn log_item(event: crate::core::events::StoredEvent) -> LogItem {
    LogItem {
        occurred_at: event.occurred_at,
        actor: event.actor,
        operation: event.operation,
        resource_type: event.resource_type,
        resource: event.resource,
        succeeded: event.outcome == "success",
        client_addr: event.client_addr,
        detail: event.detail,
    }
}
