//! Garbage collection, online: pushes and pulls go on while it runs. A
//! job kind of the [job service](crate::core::jobs).
//!
//! # What goes
//!
//! 1. Uploads past their expiry, with their staged bytes.
//! 2. With `delete_untagged`, untagged manifests untouched for the window
//!    that no kept index includes and that refer to no kept manifest
//!    ([`untagged`] says which and in what order), each with an audit row
//!    by `system:gc` in its transaction.
//! 3. Links (a repository's right to see a blob, `repository_blobs`) that
//!    no manifest of that repository names and that nobody relied on for
//!    the link window (two hours unless configured): the layers of deleted
//!    manifests, and pushes
//!    abandoned before their manifest.
//! 4. Blobs no repository links to any more (links of deleted repositories
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
//!   stays. Content a link points at is never deleted. The collector
//!   deletes a hundred rows per transaction (one commit, which on SQLite
//!   is one flush to disk); when the foreign key refuses such a batch it
//!   goes through that batch one blob at a time.
//! - **Links** are removed only when unreferenced and last relied on more
//!   than the link window ago. Publishing sets the mark; a `HEAD` refreshes
//!   it (clients `HEAD` a blob instead of pushing it again); a manifest push
//!   refreshes every link it names *in its own transaction*, so the
//!   collector's delete of such a link either waits for that transaction
//!   and then finds the link fresh (PostgreSQL re-checks an updated row) or
//!   ran first, in which case the push sees the link gone and is refused
//!   with `MANIFEST_BLOB_UNKNOWN` rather than storing a dangling reference
//!   (it cannot happen within the window).
//! - **Manifests** get the same treatment as links. Pushing a manifest
//!   that exists, tagging one, or pushing an index that includes one marks
//!   it touched *in the push's transaction*; the collector's delete
//!   re-checks "untagged, untouched, held by nothing" in its statement. So
//!   either the push goes first and the delete skips the row (PostgreSQL
//!   re-checks a row updated meanwhile), or the delete goes first and the
//!   push stores the manifest afresh (a tag push sends the whole manifest)
//!   or, for an index whose image went, is refused with
//!   `MANIFEST_BLOB_UNKNOWN` instead of storing a dangling reference.
//! - **Pushes win ties.** A push locks the links and manifests it relies
//!   on in its own order; the collector's multi-row deletes could lock the
//!   same rows in another. On PostgreSQL they give up on a row held for a
//!   quarter second (before the server's deadlock check at one second), so
//!   a push never fails for the collector: those rows wait for the next run.
//! - **A crash** between deleting content and committing leaves a row with
//!   no link and no content, which the next run deletes; a push meanwhile
//!   takes the row as above and stores its bytes.
//!
//! Harbor reaches the same end with per-blob states and versions that every
//! `HEAD`, `PUT` and mount bump; here the database's row locks and foreign
//! key are the versions. Distribution's offline collector needs the
//! registry read-only; this one does not.

mod repository;
mod untagged;

pub use repository::{DeletedManifest, GcRepository};

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;
use futures_util::{StreamExt, TryStreamExt, stream};
use serde_json::{Value, json};

use crate::core::{
    Error, Result,
    events::{AuditEvent, Operation, ResourceType},
    jobs::{Job, JobContext, JobRun},
    load::Load,
    registry::RegistryService,
    storage::BlobStore,
};

/// Most blobs deleted at once (parallel deletes help object stores).
pub const MAX_WORKERS: i64 = 10;
/// Blobs read per round of the sweep.
const BATCH: i64 = 500;
/// Blobs deleted per transaction: one commit (a flush to disk on SQLite)
/// for the lot, with their rows held only while their content goes.
const DELETE_BATCH: usize = 100;

/// The garbage-collection job kind.
#[derive(Clone)]
pub struct GarbageCollection {
    pub repository: GcRepository,
    pub blobs: Arc<dyn BlobStore>,
    pub registry: RegistryService,
    /// How long an upload may sit untouched.
    pub upload_expiry: Duration,
    /// What this node is serving: the collector paces itself by it.
    pub load: Load,
}

/// While the node serves requests the collector rests this many times as
/// long as each batch took: it takes at most a quarter of the time pushes
/// and pulls could use. An idle node collects at full speed.
const PACE: u32 = 3;

/// A run's parameters, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GcParameters {
    pub workers: usize,
    pub dry_run: bool,
    /// Whether untagged manifests go too (see [`untagged`]).
    pub delete_untagged: bool,
}

/// Who the audit log says deleted an untagged manifest (no username can
/// contain a colon).
pub const AUDIT_ACTOR: &str = "system:gc";

impl GarbageCollection {
    pub const KIND: &'static str = "gc";

    /// Reads `workers` (1–10, default 1), `dry_run` and `delete_untagged`.
    pub fn read(parameters: &Value) -> Result<GcParameters> {
        let flag = |name: &'static str| match parameters.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(on)) => Ok(*on),
            Some(_) => Err(Error::invalid(name, "must be true or false")),
        };
        let workers = match parameters.get("workers") {
            None | Some(Value::Null) => 1,
            Some(value) => value
                .as_i64()
                .filter(|n| (1..=MAX_WORKERS).contains(n))
                .ok_or_else(|| Error::invalid("workers", format!("must be a whole number from 1 to {MAX_WORKERS}")))?,
        };
        Ok(GcParameters {
            workers: workers as usize,
            dry_run: flag("dry_run")?,
            delete_untagged: flag("delete_untagged")?,
        })
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
        let (manifests, manifest_bytes) =
            if parameters.delete_untagged { self.delete_untagged(context, parameters, cutoff).await? } else { (0, 0) };
        context.check_stop()?;

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
                for chunk in batch.chunks(DELETE_BATCH) {
                    let started = Instant::now();
                    let (blobs, bytes) = self.delete_blobs(chunk, parameters.workers).await?;
                    deleted += blobs;
                    freed += bytes;
                    self.pace(started.elapsed()).await;
                }
            }
            context.progress(deleted as i64, Some(total)).await?;
        }
        let verb = if parameters.dry_run { "would delete" } else { "deleted" };
        context.log(format!("{verb} {deleted} blobs, {freed} bytes")).await?;
        Ok(json!({
            "dry_run": parameters.dry_run,
            "blobs_deleted": deleted,
            "bytes_freed": freed + manifest_bytes,
            "manifests_deleted": manifests,
            "links_removed": links,
            "uploads_removed": uploads,
        }))
    }

    /// Deletes the untagged manifests nothing kept holds, untouched since
    /// `cutoff`, holders first; how many and their bytes.
    async fn delete_untagged(
        &self,
        context: &JobContext,
        parameters: GcParameters,
        cutoff: chrono::DateTime<Utc>,
    ) -> Result<(u64, u64)> {
        let found = self.repository.untagged_manifests(cutoff).await?;
        let ids: Vec<i64> = found.candidates.iter().map(|(id, _)| *id).collect();
        let layers = untagged::deletion_layers(&ids, &found.holders);
        if parameters.dry_run {
            let going: std::collections::HashSet<i64> = layers.iter().flatten().copied().collect();
            let bytes: i64 = found.candidates.iter().filter(|(id, _)| going.contains(id)).map(|(_, size)| size).sum();
            let kept = ids.len() - going.len();
            context
                .log(format!("would delete {} untagged manifests ({kept} more are held by kept ones)", going.len()))
                .await?;
            return Ok((going.len() as u64, bytes.max(0) as u64));
        }
        let (mut deleted, mut bytes) = (0u64, 0u64);
        for layer in &layers {
            for batch in layer.chunks(DELETE_BATCH) {
                context.check_stop()?;
                let started = Instant::now();
                // Cut short mid-delete, the collection cannot say which
                // repositories lost manifests: then memory forgets them all.
                let forget_all = self.registry.forgetting_all();
                let gone = self.repository.delete_untagged(batch, cutoff, untagged_deletion_event).await?;
                forget_all.disarm();
                let mut repositories: Vec<&str> = gone.iter().map(|manifest| manifest.repository.as_str()).collect();
                repositories.sort_unstable();
                repositories.dedup();
                for repository in repositories {
                    self.registry.forget_repository(repository);
                }
                self.pace(started.elapsed()).await;
                deleted += gone.len() as u64;
                bytes += gone.iter().map(|manifest| manifest.size.max(0) as u64).sum::<u64>();
            }
        }
        context.log(format!("deleted {deleted} untagged manifests of {} found", ids.len())).await?;
        Ok((deleted, bytes))
    }

    /// Deletes unlinked blobs (rows and content) in one transaction, or
    /// one by one when a push linked one of them meanwhile; how many went
    /// and their bytes.
    async fn delete_blobs(&self, chunk: &[(String, u64)], workers: usize) -> Result<(u64, u64)> {
        let digests: Vec<String> = chunk.iter().map(|(digest, _)| digest.clone()).collect();
        if let Some(gone) =
            self.repository.delete_blobs(&digests, workers, |digest| self.delete_content(digest)).await?
        {
            return Ok((gone.len() as u64, gone.iter().map(|(_, size)| size).sum()));
        }
        let sizes: Vec<Option<u64>> = stream::iter(digests.into_iter().map(|digest| self.delete_blob(digest)))
            .buffer_unordered(workers)
            .try_collect()
            .await?;
        let gone: Vec<u64> = sizes.into_iter().flatten().collect();
        Ok((gone.len() as u64, gone.iter().sum()))
    }

    /// Rests after `worked` while the node is serving requests.
    async fn pace(&self, worked: Duration) {
        if self.load.serving() > 0 {
            tokio::time::sleep(worked * PACE).await;
        }
    }

    /// Deletes one blob's row and content, unless a repository linked it
    /// meanwhile; its size when it went.
    async fn delete_blob(&self, digest: String) -> Result<Option<u64>> {
        let gone = self.repository.delete_blobs(&[digest], 1, |digest| self.delete_content(digest)).await?;
        Ok(gone.and_then(|gone| gone.first().map(|(_, size)| *size)))
    }

    /// Deletes one blob's content from the store.
    fn delete_content(&self, digest: String) -> impl Future<Output = Result<()>> + use<> {
        let store = self.blobs.clone();
        async move {
            let parsed = digest.parse().map_err(|_| Error::corrupt(format!("stored digest {digest:?}")))?;
            store.delete(&parsed).await.map_err(Error::from)
        }
    }
}

/// The audit row of an untagged manifest garbage collection deleted.
fn untagged_deletion_event(manifest: &DeletedManifest) -> AuditEvent {
    let resource = format!("{}@{}", manifest.repository, manifest.digest);
    let project = manifest.repository.split_once('/').map(|(project, _)| project);
    let mut event = AuditEvent::named(Operation::Delete, ResourceType::Artifact, resource, Some(AUDIT_ACTOR), None)
        .in_project(project);
    event.digest = Some(manifest.digest.clone());
    event.media_type = Some(manifest.media_type.clone());
    event.size = Some(manifest.size);
    event.detail = Some("untagged".to_owned());
    event
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
