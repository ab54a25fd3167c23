//! The dashboard: what the registry holds of what the signed-in user may
//! see, and the latest pushes there.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::AppError;

/// Pushes the dashboard lists.
pub const RECENT_PUSHES: u32 = 10;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    pub projects: i64,
    pub repositories: i64,
    pub artifacts: i64,
    /// Bytes.
    pub storage_used: i64,
    pub recent_pushes: Vec<PushItem>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushItem {
    pub repository: String,
    /// The tag pushed, or else the digest.
    pub reference: String,
    pub pushed_by: Option<String>,
    pub pushed_at: DateTime<Utc>,
}

#[server(prefix = "/portal/fn", endpoint = "dashboard")]
pub async fn get_dashboard() -> Result<Dashboard, AppError> {
    use crate::core::AppState;

    let actor = crate::api::session::require_actor().await?;
    let overview = expect_context::<AppState>().artifacts.overview(&actor, RECENT_PUSHES).await?;
    Ok(Dashboard {
        projects: overview.projects,
        repositories: overview.repositories,
        artifacts: overview.artifacts,
        storage_used: overview.storage_used,
        recent_pushes: overview
            .recent_pushes
            .into_iter()
            .map(|push| PushItem {
                repository: push.repository,
                reference: push.tag.or(push.digest).unwrap_or_default(),
                pushed_by: push.pushed_by,
                pushed_at: push.pushed_at,
            })
            .collect(),
    })
}
