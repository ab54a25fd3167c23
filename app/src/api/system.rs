//! What the dashboard shows about the server.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::AppError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemOverview {
    pub version: String,
    pub database: String,
    pub storage_location: String,
    /// Unknown for object storage.
    pub free_bytes: Option<u64>,
    pub total_bytes: Option<u64>,
}

#[server(prefix = "/portal/fn", endpoint = "system_overview")]
pub async fn get_system_overview() -> Result<SystemOverview, AppError> {
    use crate::core::AppState;

    let actor = crate::api::session::require_actor().await?;
    let overview = expect_context::<AppState>().system.overview(&actor).await?;
    Ok(SystemOverview {
        version: overview.version.to_owned(),
        database: overview.database.label().to_owned(),
        storage_location: overview.storage_location,
        free_bytes: overview.disk.map(|d| d.free_bytes),
        total_bytes: overview.disk.map(|d| d.total_bytes),
    })
}
