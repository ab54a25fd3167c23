//! What `/v2` reads most, kept in memory: manifests by tag or digest and
//! projects' public facts, so a pull that was served once is served again
//! without the database.
//!
//! Every change to what is kept reaches the cache as a [`Change`]: a write
//! on this node announces it once it committed (so a client reads its own
//! writes at once); on PostgreSQL, triggers also notify every node of every
//! change ([`listen`]), so nodes forget within a notification's delivery
//! time what another node changed. A node that cannot hear those
//! notifications (its listening connection broke) serves nothing from the
//! cache until it hears them again, and then starts empty.
//!
//! A reader that missed the cache takes a [`Ticket`] before it asks the
//! database, and its answer is kept only if no change was announced since:
//! an answer read before a change committed is never kept after it.

mod listen;
mod manifests;

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

pub use manifests::CachedManifest;

use crate::core::{db::Db, projects::id::ProjectId, rbac::ProjectFacts};

/// Projects remembered (name, id and whether it is public: a few dozen bytes each).
const PROJECTS: usize = 10_000;

/// The most bytes of manifests (with their keys) one node keeps.
pub const MANIFEST_BYTES: u64 = 64 << 20;

/// What changed, as the cache forgets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Tags or manifests of the repository with this id.
    Repository(i64),
    /// The project with this id: its visibility, or it is gone (with its repositories).
    Project(i64),
    /// Anything: forget all.
    Everything,
}

/// Forgets what a write touches when dropped. Made before the write, so the
/// cache forgets once the write is over: also when the request is cancelled
/// while its commit goes ahead, or the write fails (forgetting is harmless).
#[must_use = "forgets when dropped, after the write"]
pub struct Forgetting {
    cache: Option<ReadCache>,
    what: Forget,
}

enum Forget {
    RepositoryNamed(String),
    Change(Change),
}

impl Forgetting {
    /// Forgets nothing after all (the caller forgets more precisely itself).
    pub fn disarm(mut self) {
        self.cache = None;
    }
}

impl Drop for Forgetting {
    fn drop(&mut self) {
        if let Some(cache) = self.cache.take() {
            match &self.what {
                Forget::RepositoryNamed(name) => cache.repository_changed(name),
                Forget::Change(change) => cache.changed(*change),
            }
        }
    }
}

/// Taken before a database read whose answer may be kept; see the module docs.
#[derive(Clone, Copy, Debug)]
pub struct Ticket(u64);

/// The in-memory cache of one node. Cheap to clone (a handle).
#[derive(Clone)]
pub struct ReadCache {
    inner: Arc<Inner>,
}

struct Inner {
    /// Moves on every change, before the cache forgets it.
    generation: AtomicU64,
    /// Whether every change is heard: always with SQLite (one node); with
    /// PostgreSQL while the listening connection is up.
    hearing: AtomicBool,
    manifests: manifests::Manifests,
    projects: quick_cache::sync::Cache<String, (ProjectId, ProjectFacts)>,
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache")
            .field("generation", &self.inner.generation.load(Ordering::Relaxed))
            .field("hearing", &self.inner.hearing.load(Ordering::Relaxed))
            .field("manifests", &self.inner.manifests.len())
            .field("projects", &self.inner.projects.len())
            .finish()
    }
}

impl ReadCache {
    /// A cache that hears every change from the start (one node), or, for
    /// PostgreSQL, one that serves nothing until [`listen`] hears the others.
    pub fn new(hearing: bool, manifest_bytes: u64) -> Self {
        Self {
            inner: Arc::new(Inner {
                generation: AtomicU64::new(0),
                hearing: AtomicBool::new(hearing),
                manifests: manifests::Manifests::new(manifest_bytes),
                projects: quick_cache::sync::Cache::new(PROJECTS),
            }),
        }
    }

    /// The cache of a node serving `db`: on SQLite this node makes every
    /// change, so it hears them all from the start; on PostgreSQL it serves
    /// once it listens to the other nodes' changes (until the pool closes).
    pub fn start(db: &Db) -> Self {
        match db {
            Db::Sqlite(_) => Self::new(true, MANIFEST_BYTES),
            Db::Postgres(pool) => {
                let cache = Self::new(false, MANIFEST_BYTES);
                listen::listen(cache.clone(), pool.clone());
                cache
            }
        }
    }

    /// A cache that keeps nothing, for one-off commands.
    pub fn off() -> Self {
        Self::new(false, 0)
    }

    /// Forgets what `change` touched. Called once the change committed.
    pub fn changed(&self, change: Change) {
        // The generation moves first: a reader whose answer predates the
        // change either sees it moved and drops its answer, or kept it
        // before the entries below are forgotten.
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
        match change {
            Change::Repository(id) => self.inner.manifests.forget_repository(id),
            Change::Project(id) => {
                self.inner.manifests.forget_project(id);
                self.inner.projects.retain(|_, (project, _)| project.0 != id);
            }
            Change::Everything => {
                self.inner.manifests.clear();
                self.inner.projects.clear();
            }
        }
    }

    /// Forgets the manifests of the repository `name`: its tags or
    /// manifests changed here (the writer knows the name, not the id).
    pub fn repository_changed(&self, name: &str) {
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
        self.inner.manifests.forget_repository_named(name);
    }

    /// Forgets the manifests of the repository `name` when the returned guard drops.
    pub fn forgetting_repository(&self, name: &str) -> Forgetting {
        Forgetting { cache: Some(self.clone()), what: Forget::RepositoryNamed(name.to_owned()) }
    }

    /// Forgets what `change` touches when the returned guard drops.
    pub fn forgetting(&self, change: Change) -> Forgetting {
        Forgetting { cache: Some(self.clone()), what: Forget::Change(change) }
    }

    /// Stops serving and keeping (changes may go unheard), forgetting all.
    fn deaf(&self) {
        self.inner.hearing.store(false, Ordering::SeqCst);
        self.changed(Change::Everything);
    }

    /// Serves again, from empty: every change from now on is heard.
    fn hearing(&self) {
        self.changed(Change::Everything);
        self.inner.hearing.store(true, Ordering::SeqCst);
    }

    fn serving(&self) -> bool {
        self.inner.hearing.load(Ordering::SeqCst)
    }

    /// A ticket for a read whose answer may be kept; `None` when nothing may be.
    pub fn ticket(&self) -> Option<Ticket> {
        self.serving().then(|| Ticket(self.inner.generation.load(Ordering::SeqCst)))
    }

    /// Whether no change was announced since `ticket` was taken.
    fn still(&self, ticket: Ticket) -> bool {
        self.serving() && self.inner.generation.load(Ordering::SeqCst) == ticket.0
    }

    /// The manifest `reference` (a tag, or a digest as `sha256:…`) names in `repository`.
    pub fn manifest(&self, repository: &str, reference: &str) -> Option<Arc<CachedManifest>> {
        if !self.serving() {
            return None;
        }
        self.inner.manifests.get(repository, reference)
    }

    /// Keeps a manifest read from the database under `ticket`.
    pub fn keep_manifest(&self, ticket: Ticket, repository: &str, reference: &str, manifest: Arc<CachedManifest>) {
        if !self.still(ticket) {
            return;
        }
        self.inner.manifests.insert(repository, reference, manifest);
        // A change announced meanwhile may have forgotten entries before
        // this one went in: then it goes again.
        if !self.still(ticket) {
            self.inner.manifests.remove(repository, reference);
        }
    }

    /// A project's id and public facts.
    pub fn project(&self, name: &str) -> Option<(ProjectId, ProjectFacts)> {
        if !self.serving() {
            return None;
        }
        self.inner.projects.get(name)
    }

    /// Keeps a project's facts read from the database under `ticket`.
    pub fn keep_project(&self, ticket: Ticket, name: &str, facts: (ProjectId, ProjectFacts)) {
        if !self.still(ticket) {
            return;
        }
        self.inner.projects.insert(name.to_owned(), facts);
        if !self.still(ticket) {
            self.inner.projects.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn manifest(repository: i64, project: i64, digest: &str) -> Arc<CachedManifest> {
        Arc::new(CachedManifest {
            repository_id: repository,
            project_id: project,
            digest: digest.to_owned(),
            media_type: "application/vnd.oci.image.manifest.v1+json".to_owned(),
            content: Bytes::from_static(b"{}"),
        })
    }

    #[test]
    fn changes_forget_what_they_touched() {
        let cache = ReadCache::new(true, 1 << 20);
        let ticket = cache.ticket().unwrap();
        cache.keep_manifest(ticket, "team/app", "latest", manifest(1, 10, "sha256:a"));
        cache.keep_manifest(ticket, "team/web", "latest", manifest(2, 10, "sha256:b"));
        cache.keep_manifest(ticket, "other/app", "v1", manifest(3, 20, "sha256:c"));
        cache.keep_project(ticket, "team", (ProjectId(10), ProjectFacts { public: true }));
        cache.keep_project(ticket, "other", (ProjectId(20), ProjectFacts { public: false }));
        assert_eq!(cache.manifest("team/app", "latest").unwrap().digest, "sha256:a");
        assert!(cache.manifest("team/app", "v2").is_none());

        cache.changed(Change::Repository(1));
        assert!(cache.manifest("team/app", "latest").is_none());
        assert!(cache.manifest("team/web", "latest").is_some());
        cache.keep_manifest(cache.ticket().unwrap(), "team/app", "latest", manifest(1, 10, "sha256:a"));
        cache.repository_changed("team/app");
        assert!(cache.manifest("team/app", "latest").is_none());
        assert!(cache.manifest("team/web", "latest").is_some());

        cache.changed(Change::Project(10));
        assert!(cache.manifest("team/web", "latest").is_none());
        assert!(cache.project("team").is_none());
        assert!(cache.manifest("other/app", "v1").is_some());
        assert_eq!(cache.project("other").unwrap().0, ProjectId(20));

        cache.changed(Change::Everything);
        assert!(cache.manifest("other/app", "v1").is_none());
        assert!(cache.project("other").is_none());
    }

    #[test]
    fn guards_forget_when_dropped_unless_disarmed() {
        let cache = ReadCache::new(true, 1 << 20);
        let keep = |cache: &ReadCache| {
            cache.keep_manifest(cache.ticket().unwrap(), "team/app", "latest", manifest(1, 1, "sha256:a"))
        };
        keep(&cache);
        let guard = cache.forgetting_repository("team/app");
        assert!(cache.manifest("team/app", "latest").is_some(), "forgotten only once the write is over");
        drop(guard);
        assert!(cache.manifest("team/app", "latest").is_none());
        keep(&cache);
        cache.forgetting(Change::Everything).disarm();
        assert!(cache.manifest("team/app", "latest").is_some());
        // A write cancelled mid-way (its future dropped) still forgets.
        {
            let mut write = Box::pin(async {
                let _forget = cache.forgetting(Change::Project(1));
                std::future::pending::<()>().await;
            });
            let waker = std::task::Waker::noop();
            let _ = write.as_mut().poll(&mut std::task::Context::from_waker(waker));
        }
        assert!(cache.manifest("team/app", "latest").is_none(), "the cancelled write's guard forgot");
    }

    #[test]
    fn an_answer_read_before_a_change_is_not_kept() {
        let cache = ReadCache::new(true, 1 << 20);
        let before = cache.ticket().unwrap();
        // The read happens, then a change commits and is announced...
        cache.changed(Change::Repository(7));
        // ...and the reader's older answer arrives: dropped.
        cache.keep_manifest(before, "team/app", "latest", manifest(7, 1, "sha256:old"));
        cache.keep_project(before, "team", (ProjectId(1), ProjectFacts { public: true }));
        assert!(cache.manifest("team/app", "latest").is_none());
        assert!(cache.project("team").is_none());
        // A read after the change is kept.
        let after = cache.ticket().unwrap();
        cache.keep_manifest(after, "team/app", "latest", manifest(7, 1, "sha256:new"));
        assert_eq!(cache.manifest("team/app", "latest").unwrap().digest, "sha256:new");
    }

    #[test]
    fn a_node_that_cannot_hear_changes_serves_nothing_and_starts_empty() {
        let cache = ReadCache::new(false, 1 << 20);
        assert!(cache.ticket().is_none(), "nothing is kept before the node hears changes");
        cache.hearing();
        let ticket = cache.ticket().unwrap();
        cache.keep_manifest(ticket, "team/app", "latest", manifest(1, 1, "sha256:a"));
        assert!(cache.manifest("team/app", "latest").is_some());

        cache.deaf();
        assert!(cache.manifest("team/app", "latest").is_none());
        assert!(cache.ticket().is_none());
        // A ticket taken while hearing is void once the node went deaf.
        cache.keep_manifest(ticket, "team/app", "latest", manifest(1, 1, "sha256:a"));
        cache.hearing();
        assert!(cache.manifest("team/app", "latest").is_none(), "hearing again starts from empty");
    }
}
