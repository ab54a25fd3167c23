//! The Administration area's Quotas page: every project's storage against
//! its limit, a page at a time, and changing a limit. System
//! administrators only; the core refuses anyone else.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::api::numbered::window;
use crate::api::{AppError, numbered::Listing};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaItem {
    pub project: String,
    /// Bytes held now.
    pub used: i64,
    /// Bytes; `None` for no limit.
    pub limit: Option<i64>,
}

#[server(prefix = "/portal/fn", endpoint = "admin_quotas")]
pub async fn list_quotas(page: u32) -> Result<Listing<QuotaItem>, AppError> {
    let actor = crate::api::session::require_actor().await?;
    let found = expect_context::<crate::core::AppState>().projects.quotas(&actor, window(page)).await?;
    let items = found
        .items
        .into_iter()
        .map(|quota| QuotaItem {
            project: quota.project.name.to_string(),
            used: quota.used,
            limit: quota.project.storage_quota,
        })
        .collect();
    Ok(Listing { items, total: found.total })
}

/// Sets a project's limit (an amount and a unit; empty lifts it).
#[server(prefix = "/portal/fn", endpoint = "admin_set_quota")]
pub async fn set_quota(project: String, quota: Option<String>, quota_unit: Option<String>) -> Result<(), AppError> {
    use crate::api::projects::parse_quota;

    let actor = crate::api::session::require_actor().await?;
    let limit = parse_quota(quota.as_deref(), quota_unit.as_deref()).map_err(AppError::respond)?;
    expect_context::<crate::core::AppState>().projects.set_storage_quota(&actor, &project, limit).await?;
    Ok(())
}
