//! Manifests by repository and reference, bounded by their bytes.

use std::{
    hash::{Hash, Hasher},
    sync::Arc,
};

use bytes::Bytes;
use quick_cache::{Equivalent, Weighter, sync::Cache};

/// A manifest as `/v2` serves it, and what it belongs to (so a change to
/// its repository or project forgets it).
#[derive(Debug)]
pub struct CachedManifest {
    pub repository_id: i64,
    pub project_id: i64,
    pub digest: String,
    pub media_type: String,
    pub content: Bytes,
}

/// Roughly what an entry costs besides its content: the key, the strings,
/// the cache's own bookkeeping.
const ENTRY_OVERHEAD: u64 = 256;

/// How many entries the cache sizes its tables for at first (manifests
/// are typically a few KiB).
const EXPECTED_ENTRIES: usize = 16_384;

type Key = (String, String);

/// A borrowed `(repository, reference)`: looked up without building a key.
#[derive(Clone, Copy)]
struct Lookup<'a>(&'a str, &'a str);

impl Hash for Lookup<'_> {
    // As `(String, String)` hashes: field by field.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
        self.1.hash(state);
    }
}

impl Equivalent<Key> for Lookup<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        self.0 == key.0 && self.1 == key.1
    }
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<Key, Arc<CachedManifest>> for ByBytes {
    fn weight(&self, key: &Key, manifest: &Arc<CachedManifest>) -> u64 {
        (key.0.len() + key.1.len() + manifest.digest.len() + manifest.media_type.len() + manifest.content.len()) as u64
            + ENTRY_OVERHEAD
    }
}

pub(super) struct Manifests {
    cache: Cache<Key, Arc<CachedManifest>, ByBytes>,
}

impl Manifests {
    /// At most `bytes` of manifests (and their keys) are kept.
    pub(super) fn new(bytes: u64) -> Self {
        Self { cache: Cache::with_weighter(EXPECTED_ENTRIES, bytes, ByBytes) }
    }

    pub(super) fn get(&self, repository: &str, reference: &str) -> Option<Arc<CachedManifest>> {
        self.cache.get(&Lookup(repository, reference))
    }

    pub(super) fn insert(&self, repository: &str, reference: &str, manifest: Arc<CachedManifest>) {
        self.cache.insert((repository.to_owned(), reference.to_owned()), manifest);
    }

    pub(super) fn remove(&self, repository: &str, reference: &str) {
        self.cache.remove(&Lookup(repository, reference));
    }

    pub(super) fn forget_repository(&self, id: i64) {
        self.cache.retain(|_, manifest| manifest.repository_id != id);
    }

    pub(super) fn forget_repository_named(&self, name: &str) {
        self.cache.retain(|(repository, _), _| repository != name);
    }

    pub(super) fn forget_project(&self, id: i64) {
        self.cache.retain(|_, manifest| manifest.project_id != id);
    }

    pub(super) fn clear(&self) {
        self.cache.clear();
    }

    pub(super) fn len(&self) -> usize {
        self.cache.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_within_its_bytes() {
        let manifests = Manifests::new(1 << 20);
        let content = Bytes::from(vec![b'x'; 64 * 1024]);
        for n in 0..64 {
            let manifest = Arc::new(CachedManifest {
                repository_id: 1,
                project_id: 1,
                digest: format!("sha256:{n:064}"),
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                content: content.clone(),
            });
            manifests.insert("team/app", &format!("tag-{n}"), manifest);
        }
        // 64 manifests of 64 KiB do not fit in 1 MiB: at most 16 are kept.
        assert!(manifests.len() <= 16, "{} kept", manifests.len());
        assert!(manifests.get("team/app", "tag-63").is_some(), "the newest is kept");
    }
}
