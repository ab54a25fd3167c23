//! Garbage collection, online: pushes and pulls go on while it runs. A
//! job kind of the [job service](crate::core::jobs).
//!
//! # What goes
//!
//! 1. Uploads past their expiry, with their staged bytes.
//! 2. Links (a repository's right to see a blob, `repository_blobs`) that
//!    no manifest of that repository names and that nobody relied on for
//!    the link window (two hours unless configured): the layers of deleted
//!    manifests, and pushes
//!    abandoned before their manifest.
//! 3. Blobs no repository links to any more (links of deleted repositories
//!    went with them): the row, then the content in storage.
//!
//! # Why a push in flight never loses a blob
//!
//! A push uploads (or mounts) its blobs, maybe asks about others with
//! `HEAD`, then pushes a manifest naming them. Each step leaves a mark the
//! collector respects, and each of the collector's deletions re-checks its
//! condition in the statement that deletes:
//!
//! - **Publishing a blob** records the blob's row, puts the content in
//!   storage and links it in one transaction that holds the row throughout
//!   (the registry's `publish_blob`).
//!   The collector deletes content only inside a transaction that deletes
//!   that row. So the two take turns: if the collector goes first, the
//!   push finds no row and no content and stores its own bytes; if the push
//!   goes first, the collector's delete fails on the link (the foreign key
//!   from `repository_blobs`, checked against committed rows) and the blob
//!   stays. Content a link points at is never deleted.
//! - **Links** are removed only when unreferenced and last relied on more
//!   than the link window ago. Publishing sets the mark; a `HEAD` refreshes
//!   it (clients `HEAD` a blob instead of pushing it again); a manifest push
//!   refreshes every link it names *in its own transaction*, so the
//!   collector's delete of such a link either waits for that transaction
//!   and then finds the link fresh (PostgreSQL re-checks an updated row) or
//!   ran first, in which case the push sees the link gone and is refused
//!   with `MANIFEST_BLOB_UNKNOWN` rather than storing a dangling reference
//!   (it cannot happen within the window).
//! - **A crash** between deleting content and committing leaves a row with
//!   no link and no content, which the next run deletes; a push meanwhile
//!   takes the row as above and stores its bytes.
//!
//! Harbor reaches the same end with per-blob states and versions that every
//! `HEAD`, `PUT` and mount bump; here the database's row locks and foreign
//! key are the versions. Distribution's offline collector needs the
//! registry read-only; this one does not.

mod repository;

pub use repository::GcRepository;

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use futures_util::{StreamExt, TryStreamExt, stream};
use serde_json::{Value, json};

use crate::core::{
    Error, Result,
    jobs::{Job, JobContext, JobRun},
    registry::RegistryService,
    storage::BlobStore,
};

/// Most blobs deleted at once (parallel deletes help object stores).
pub const MAX_WORKERS: i64 = 10;
/// Blobs read per round of the sweep.
const BATCH: i64 = 500;

/// The garbage-collection job kind.
#[derive(Clone)]
pub struct GarbageCollection {
    pub repository: GcRepository,
    pub blobs: Arc<dyn BlobStore>,
    pub registry: RegistryService,
    /// How long an upload may sit untouched.
    pub upload_expiry: Duration,
}

/// A run's parameters, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GcParameters {
    pub workers: usize,
    pub dry_run: bool,
}

impl GarbageCollection {
    pub const KIND: &'static str = "gc";

    /// Reads `workers` (1–10, default 1) and `dry_run`; refuses anything else.
    pub fn read(parameters: &Value) -> Result<GcParameters> {
        let workers = match parameters.get("workers") {
            None | Some(Value::Null) => 1,
            Some(value) => value
                .as_i64()
                .filter(|n| (1..=MAX_WORKERS).contains(n))
                .ok_or_else(|| Error::invalid("workers", format!("must be a whole number from 1 to {MAX_WORKERS}")))?,
        };
        let dry_run = match parameters.get("dry_run") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(dry_run)) => *dry_run,
            Some(_) => return Err(Error::invalid("dry_run", "must be true or false")),
        };
        if let Some(Value::Bool(true)) = parameters.get("delete_untagged") {
            return Err(Error::invalid("delete_untagged", "is not supported yet"));
        }
        Ok(GcParameters { workers: workers as usize, dry_run })
    }

    async fn sweep(&self, context: &JobContext, parameters: GcParameters) -> Result<Value> {
        let now = Utc::now();
        let mode = if parameters.dry_run { " (dry run: nothing is deleted)" } else { "" };
        context.log(format!("garbage collection with {} worker(s){mode}", parameters.workers)).await?;

        let uploads = if parameters.dry_run {
            0
        } else {
            let expiry = chrono::Duration::from_std(self.upload_expiry).unwrap_or(chrono::Duration::hours(24));
            let report = self.registry.clean_up_abandoned(now - expiry).await?;
            context.log(format!("removed {} expired uploads", report.uploads)).await?;
            report.uploads
        };
        context.check_stop()?;

        let cutoff = now - self.registry.link_window();
        let links = if parameters.dry_run {
            self.repository.count_stale_links(cutoff).await?
        } else {
            self.repository.delete_stale_links(cutoff).await?
        };
        let verb = if parameters.dry_run { "would remove" } else { "removed" };
        context.log(format!("{verb} {links} links no manifest names, unused since {}", cutoff.format(SECONDS))).await?;
        context.check_stop()?;

        let total = self.repository.count_unlinked_blobs().await?;
        context.log(format!("{total} blobs no repository links to")).await?;
        let (mut deleted, mut freed, mut after) = (0u64, 0u64, None::<String>);
        loop {
            context.check_stop()?;
            let batch = self.repository.unlinked_blobs(after.as_deref(), BATCH).await?;
            let Some((last, _)) = batch.last() else { break };
            after = Some(last.clone());
            if parameters.dry_run {
                deleted += batch.len() as u64;
                freed += batch.iter().map(|(_, size)| *size).sum::<u64>();
            } else {
                let results: Vec<Option<u64>> =
                    stream::iter(batch.into_iter().map(|(digest, _)| self.delete_blob(digest)))
                        .buffer_unordered(parameters.workers)
                        .try_collect()
                        .await?;
                for size in results.into_iter().flatten() {
                    deleted += 1;
                    freed += size;
                }
            }
            context.progress(deleted as i64, Some(total)).await?;
        }
        let verb = if parameters.dry_run { "would delete" } else { "deleted" };
        context.log(format!("{verb} {deleted} blobs, {freed} bytes")).await?;
        Ok(json!({
            "dry_run": parameters.dry_run,
            "blobs_deleted": deleted,
            "bytes_freed": freed,
            "links_removed": links,
            "uploads_removed": uploads,
        }))
    }

    /// Deletes one blob's row and content, unless a repository linked it
    /// meanwhile; its size when it went.
    async fn delete_blob(&self, digest: String) -> Result<Option<u64>> {
        let parsed = digest.parse().map_err(|_| Error::corrupt(format!("stored digest {digest:?}")))?;
        let store = self.blobs.clone();
        self.repository.delete_blob(&digest, async move { store.delete(&parsed).await.map_err(Error::from) }).await
    }
}

/// How log lines write a time: to the second, in UTC.
const SECONDS: &str = "%Y-%m-%d %H:%M:%S UTC";

impl Job for GarbageCollection {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn run<'a>(&'a self, context: &'a JobContext, parameters: &'a Value) -> JobRun<'a> {
        Box::pin(async move { self.sweep(context, Self::read(parameters)?).await })
    }
}
