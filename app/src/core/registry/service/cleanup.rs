//! Cleaning up what abandoned pushes leave behind: uploads nobody finished
//! (their database rows and staged bytes, including bytes staged by a node
//! that died before recording the upload) and repositories that were created
//! for a push that never got a manifest. Idempotent, so several nodes may run
//! it at once.

use std::{collections::HashSet, time::SystemTime};

use chrono::{DateTime, Utc};

use super::RegistryService;
use crate::core::registry::error::Result;

/// What one cleanup removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CleanupReport {
    pub uploads: usize,
    pub repositories: Vec<String>,
}

impl RegistryService {
    /// Removes uploads untouched since `cutoff` and repositories abandoned
    /// before it.
    pub async fn clean_up_abandoned(&self, cutoff: DateTime<Utc>) -> Result<CleanupReport> {
        let mut stale: HashSet<_> = self.repository.delete_uploads_before(cutoff).await?.into_iter().collect();
        // Staged bytes without a live row: their row is stale or was never written.
        let live: HashSet<_> = self.repository.list_uploads_since(cutoff).await?.into_iter().collect();
        let staged_cutoff = SystemTime::from(cutoff);
        for upload in self.blobs.list_uploads().await? {
            if upload.last_modified < staged_cutoff && !live.contains(&upload.id) {
                stale.insert(upload.id);
            }
        }
        for id in &stale {
            self.hashes.remove(id);
            self.blobs.cancel_upload(id).await?;
        }
        let repositories = self.repository.delete_abandoned_repositories(cutoff).await?;
        if !stale.is_empty() || !repositories.is_empty() {
            tracing::info!(uploads = stale.len(), ?repositories, "cleaned up abandoned uploads");
        }
        Ok(CleanupReport { uploads: stale.len(), repositories })
    }
}
