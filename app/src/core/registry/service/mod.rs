//! The registry's operations, shared by the `/v2/` API and (later) the portal
//! and replication: blobs and uploads in [`blobs`], manifests, tags and
//! listings in [`manifests`], abandoned uploads in [`cleanup`]. Calls the registry repository (SQL), the blob
//! store and the event recorder; never the other way.

mod blobs;
mod cleanup;
mod manifests;
mod verify;

pub use cleanup::CleanupReport;
pub use manifests::{Page, PushedManifest};
pub use verify::{BlobProblem, Finding, VerifyReport};

use std::sync::{Arc, OnceLock};

use chrono::Utc;

use super::{
    Error, Result,
    digest::Digest,
    names::{Reference, RepoName},
    repository::{Linked, RegistryRepository, RepositoryId},
};
use crate::core::{
    access::ProjectGrant,
    cache::ReadCache,
    db::Db,
    events::{AuditEvent, EventRecorder, Operation, ResourceType},
    identity::Actor,
    rbac::Action,
    storage::BlobStore,
};
use blobs::UploadHashes;

/// How long, by default, a repository's link to a blob no manifest names
/// is kept after it was last relied on (pushed, mounted, named by a
/// manifest, asked about with `HEAD`): garbage collection removes only
/// older ones, so a push in flight never loses a blob it is about to name.
pub const LINK_WINDOW: chrono::TimeDelta = chrono::TimeDelta::hours(2);

#[derive(Clone)]
pub struct RegistryService {
    repository: RegistryRepository,
    blobs: Arc<dyn BlobStore>,
    hashes: Arc<UploadHashes>,
    events: EventRecorder,
    max_manifest_bytes: usize,
    /// Hash whole-blob reads as they stream and refuse content that changed.
    verify_reads: bool,
    link_window: chrono::TimeDelta,
    /// Told of every change to a repository's artifacts once it committed.
    listener: Arc<OnceLock<Arc<dyn ArtifactListener>>>,
    /// Manifests served before, forgotten when their repository changes.
    cache: ReadCache,
}

/// What changed in a repository, for those who act on changes (event-based
/// replication). Defined here, below them, so the registry calls up
/// without knowing who listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArtifactChange {
    /// A manifest was pushed, under a tag or by digest.
    Pushed { repository: RepoName, digest: Digest, tag: Option<String> },
    /// A manifest (with its tags) was deleted by digest.
    Deleted { repository: RepoName, digest: Digest },
    /// A tag was removed; its manifest stays.
    Untagged { repository: RepoName, tag: String },
}

/// Acts on [`ArtifactChange`]s. Called after the change committed, on the
/// request's task: it must be quick and must not fail the request.
pub trait ArtifactListener: Send + Sync {
    fn changed<'a>(&'a self, change: ArtifactChange) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
}

impl std::fmt::Debug for RegistryService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryService").field("blobs", &self.blobs).finish_non_exhaustive()
    }
}

impl RegistryService {
    pub fn new(
        db: Db,
        blobs: Arc<dyn BlobStore>,
        events: EventRecorder,
        cache: ReadCache,
        max_manifest_bytes: usize,
    ) -> Self {
        Self {
            repository: RegistryRepository::new(db),
            blobs,
            hashes: Arc::default(),
            events,
            max_manifest_bytes,
            verify_reads: false,
            link_window: LINK_WINDOW,
            listener: Arc::default(),
            cache,
        }
    }

    /// Forgets what memory holds of the repository `name`: for those who
    /// change its manifests without this service (garbage collection).
    pub fn forget_repository(&self, name: &str) {
        self.cache.repository_changed(name);
    }

    /// Forgets everything memory holds when the guard drops, unless
    /// disarmed: for a write outside this service whose repositories are
    /// known only once it is over.
    pub fn forgetting_all(&self) -> crate::core::cache::Forgetting {
        self.cache.forgetting(crate::core::cache::Change::Everything)
    }

    /// Sets who hears of artifact changes (once, at start-up; every clone hears).
    pub fn listen(&self, listener: Arc<dyn ArtifactListener>) {
        let _ = self.listener.set(listener);
    }

    async fn announce(&self, change: ArtifactChange) {
        if let Some(listener) = self.listener.get() {
            listener.changed(change).await;
        }
    }

    /// How long a link no manifest names is kept after it was last used
    /// ([`LINK_WINDOW`] unless configured).
    pub fn keeping_links_for(mut self, window: std::time::Duration) -> Self {
        self.link_window = chrono::TimeDelta::from_std(window).unwrap_or(LINK_WINDOW);
        self
    }

    pub fn link_window(&self) -> chrono::TimeDelta {
        self.link_window
    }

    /// Whole-blob reads check the content against its digest as it streams
    /// (costs a hash per pull); a mismatch ends the read in an error.
    pub fn verifying_reads(mut self, verify: bool) -> Self {
        self.verify_reads = verify;
        self
    }

    /// The largest manifest body accepted.
    pub fn max_manifest_bytes(&self) -> usize {
        self.max_manifest_bytes
    }

    /// The repository a push goes to, created on first use; its project must exist.
    async fn repository_for_push(&self, name: &RepoName, now: chrono::DateTime<Utc>) -> Result<RepositoryId> {
        self.repository.ensure_repository(name, now).await?.ok_or_else(|| Error::ProjectUnknown(name.clone()))
    }

    /// Publishes a blob in a repository: `publish` puts its content in
    /// storage (or checks it is there) while the blob's row is held, and the
    /// link commits with it; unless that would take the repository's
    /// project over its storage quota (a blob some repository of the
    /// project already holds takes nothing more). A refusal removes the
    /// repository if the push created it and it holds nothing.
    async fn publish_within_quota(
        &self,
        repository: RepositoryId,
        digest: &Digest,
        size: u64,
        publish: impl Future<Output = Result<()>>,
    ) -> Result<()> {
        let linked = self.repository.publish_blob(repository, digest, size, Utc::now(), publish).await??;
        self.refuse_over_quota(repository, linked, size).await
    }

    /// Refuses, before anything is published, a blob that would take the
    /// project over its quota; the link checks again under the project's lock.
    async fn check_quota(&self, repository: RepositoryId, digest: &Digest, size: u64) -> Result<()> {
        let linked = self.repository.check_blob_quota(repository, digest, size).await?;
        self.refuse_over_quota(repository, linked, size).await
    }

    async fn refuse_over_quota(&self, repository: RepositoryId, linked: Linked, size: u64) -> Result<()> {
        match linked {
            Linked::Done => Ok(()),
            Linked::OverQuota { project, quota, used } => {
                // A refusal leaves no repository behind that only this push created.
                self.repository.delete_if_empty(repository).await?;
                Err(Error::QuotaExceeded { project, quota, used, needed: size })
            }
            Linked::Missing(_) | Linked::TagTaken => Err(Error::BlobUnknown),
            Linked::Protected(protected) => Err(Error::Immutable(Box::new(protected))),
            // Its uploads went with it: the client starts again.
            Linked::RepositoryGone => Err(Error::UploadUnknown),
        }
    }

    /// Records an artifact operation that changes nothing (a pull) in the audit log.
    async fn record(&self, operation: Operation, repository: &RepoName, actor: &Actor, details: EventDetails) {
        self.events.record(artifact_event(operation, repository, actor, details)).await;
    }
}

/// The check every change and every recorded pull makes: the grant the
/// caller brings is for this repository's project and allows one of
/// `actions`. The edges ask the access service for grants; a mismatch here
/// is a bug at the caller, refused rather than served.
fn granted(grant: &ProjectGrant, repository: &RepoName, actions: &[Action]) -> Result<()> {
    let same_project = repository.project() == Some(grant.project());
    if same_project && actions.iter().any(|action| grant.allows(*action)) {
        return Ok(());
    }
    Err(Error::Internal(crate::core::Error::Forbidden(format!(
        "a grant for {} in {} does not cover {repository}",
        actions.iter().map(|action| action.name()).collect::<Vec<_>>().join(" or "),
        grant.project()
    ))))
}

/// The audit entry of an artifact operation; the resource reads `repo:tag`
/// or `repo@digest` as the reference was given.
fn artifact_event(operation: Operation, repository: &RepoName, actor: &Actor, details: EventDetails) -> AuditEvent {
    let resource = match (&details.tag, &details.digest) {
        (Some(tag), _) => format!("{repository}:{tag}"),
        (None, Some(digest)) => format!("{repository}@{digest}"),
        (None, None) => repository.to_string(),
    };
    let mut event =
        AuditEvent::new(operation, ResourceType::Artifact, resource, actor).in_project(repository.project());
    event.digest = details.digest;
    event.tag = details.tag;
    event.media_type = details.media_type;
    event.size = details.size;
    event
}

/// The parts of an event that vary by operation.
#[derive(Default)]
struct EventDetails {
    digest: Option<String>,
    tag: Option<String>,
    media_type: Option<String>,
    size: Option<i64>,
}

fn tag_of(reference: &Reference) -> Option<String> {
    match reference {
        Reference::Tag(tag) => Some(tag.to_string()),
        Reference::Digest(_) => None,
    }
}
