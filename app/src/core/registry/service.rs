//! The registry's blob and upload operations, shared by the `/v2/` API and
//! (later) the portal and replication. Calls the registry repository (SQL)
//! and the blob store; never the other way.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use chrono::Utc;

use super::{
    digest::{Digest, Hasher},
    error::{Error, Result},
    manifest::{self, Needed},
    names::{Reference, RepoName},
    repository::{ListPage, NewManifest, ReferrerRow, RegistryRepository, StoredManifest},
};
use crate::core::{
    db::Db,
    events::{Caller, EventKind, EventRecorder, RegistryEvent},
    storage::{BlobReader, BlobStore, ByteRange, ByteStream, UploadId},
};

/// The running hash of an upload on this node, valid while `offset` equals
/// the bytes staged. Lost on restart, in which case commit re-reads the bytes.
struct UploadHash {
    offset: u64,
    hasher: Option<Hasher>,
}

/// Per-upload hash state; the async mutex also serialises chunks of one upload.
#[derive(Default)]
struct UploadHashes(Mutex<HashMap<UploadId, Arc<tokio::sync::Mutex<UploadHash>>>>);

impl UploadHashes {
    fn entry(&self, id: &UploadId) -> Arc<tokio::sync::Mutex<UploadHash>> {
        let mut map = self.0.lock().expect("upload hash map is never poisoned");
        map.entry(id.clone())
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(UploadHash { offset: 0, hasher: None })))
            .clone()
    }

    fn remove(&self, id: &UploadId) {
        self.0.lock().expect("upload hash map is never poisoned").remove(id);
    }
}

#[derive(Clone)]
pub struct RegistryService {
    repository: RegistryRepository,
    blobs: Arc<dyn BlobStore>,
    hashes: Arc<UploadHashes>,
    events: EventRecorder,
    max_manifest_bytes: usize,
}

impl std::fmt::Debug for RegistryService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryService").field("blobs", &self.blobs).finish_non_exhaustive()
    }
}

impl RegistryService {
    pub fn new(db: Db, blobs: Arc<dyn BlobStore>, events: EventRecorder, max_manifest_bytes: usize) -> Self {
        Self { repository: RegistryRepository::new(db), blobs, hashes: Arc::default(), events, max_manifest_bytes }
    }

    async fn record(&self, kind: EventKind, repository: &RepoName, caller: &Caller, details: EventDetails) {
        self.events
            .record(RegistryEvent {
                kind,
                repository: repository.to_string(),
                digest: details.digest,
                tag: details.tag,
                media_type: details.media_type,
                size: details.size,
                caller: caller.clone(),
                occurred_at: Utc::now(),
            })
            .await;
    }

    /// The largest manifest body accepted.
    pub fn max_manifest_bytes(&self) -> usize {
        self.max_manifest_bytes
    }

    /// The size of a blob the repository may see.
    pub async fn stat_blob(&self, repository: &RepoName, digest: &Digest) -> Result<u64> {
        self.repository.linked_blob_size(repository, digest).await?.ok_or(Error::BlobUnknown)
    }

    /// Streams a blob (or a range of it) the repository may see.
    pub async fn read_blob(
        &self,
        repository: &RepoName,
        digest: &Digest,
        range: Option<ByteRange>,
    ) -> Result<BlobReader> {
        self.stat_blob(repository, digest).await?;
        // Linked but missing from storage means the store lost it: report it as
        // unknown rather than serve nothing under a 200.
        self.blobs.read(digest, range).await?.ok_or(Error::BlobUnknown)
    }

    /// Removes the blob from the repository (its content is shared and stays).
    pub async fn delete_blob(&self, repository: &RepoName, digest: &Digest, caller: &Caller) -> Result<()> {
        if !self.repository.unlink_blob(repository, digest).await? {
            return Err(Error::BlobUnknown);
        }
        let details = EventDetails { digest: Some(digest.to_string()), ..EventDetails::default() };
        self.record(EventKind::Delete, repository, caller, details).await;
        Ok(())
    }

    /// Links a blob another repository has into this one; `None` when the
    /// source does not have it (the caller then starts a normal upload).
    pub async fn mount_blob(&self, repository: &RepoName, from: &RepoName, digest: &Digest) -> Result<Option<u64>> {
        let Some(size) = self.repository.linked_blob_size(from, digest).await? else {
            return Ok(None);
        };
        let now = Utc::now();
        let id = self.repository.ensure_repository(repository, now).await?;
        self.repository.link_blob(id, digest, size, now).await?;
        Ok(Some(size))
    }

    pub async fn start_upload(&self, repository: &RepoName) -> Result<UploadId> {
        let now = Utc::now();
        let repository_id = self.repository.ensure_repository(repository, now).await?;
        let id = UploadId::generate();
        self.blobs.start_upload(&id).await?;
        self.repository.create_upload(&id, repository_id, now).await?;
        Ok(id)
    }

    /// Bytes received so far by an upload of this repository.
    pub async fn upload_progress(&self, repository: &RepoName, id: &UploadId) -> Result<u64> {
        self.repository.find_upload(id, repository).await?.ok_or(Error::UploadUnknown)?;
        self.blobs.upload_size(id).await?.ok_or(Error::UploadUnknown)
    }

    /// Appends a chunk. `start` is where the client says it begins (from
    /// `Content-Range`); without it the chunk goes at the end. Returns the new size.
    pub async fn append_upload(
        &self,
        repository: &RepoName,
        id: &UploadId,
        start: Option<u64>,
        data: ByteStream,
    ) -> Result<u64> {
        self.repository.find_upload(id, repository).await?.ok_or(Error::UploadUnknown)?;
        let entry = self.hashes.entry(id);
        let mut state = entry.lock().await;
        let size = self.blobs.upload_size(id).await?.ok_or(Error::UploadUnknown)?;
        let offset = start.unwrap_or(size);
        if offset != size {
            return Err(Error::OutOfOrder { requested: offset, actual: size });
        }
        if size == 0 && state.hasher.is_none() {
            state.hasher = Some(Hasher::new(super::digest::Algorithm::Sha256));
        }
        if state.offset != size {
            state.hasher = None;
        }
        let result = self.blobs.append_upload(id, offset, data, state.hasher.as_mut()).await;
        let new_size = match &result {
            Ok(new_size) => *new_size,
            Err(crate::core::storage::Error::Client(_)) => self.blobs.upload_size(id).await?.unwrap_or(0),
            Err(_) => {
                // After a storage error the hash may not match the staged bytes.
                state.hasher = None;
                self.blobs.upload_size(id).await?.unwrap_or(0)
            }
        };
        state.offset = new_size;
        drop(state);
        self.repository.touch_upload(id, Utc::now()).await?;
        Ok(result?)
    }

    /// Appends the final chunk (if any), verifies the digest and publishes the
    /// blob in the repository. On a digest mismatch nothing is stored and the
    /// upload is gone.
    pub async fn complete_upload(
        &self,
        repository: &RepoName,
        id: &UploadId,
        digest: &Digest,
        last_chunk: Option<ByteStream>,
    ) -> Result<u64> {
        let repository_id = self.repository.find_upload(id, repository).await?.ok_or(Error::UploadUnknown)?;
        if let Some(chunk) = last_chunk {
            self.append_upload(repository, id, None, chunk).await?;
        }
        let entry = self.hashes.entry(id);
        let state = entry.lock().await;
        let staged = self.blobs.upload_size(id).await?.ok_or(Error::UploadUnknown)?;
        let hashed = match &state.hasher {
            Some(hasher) if state.offset == staged && hasher.algorithm() == digest.algorithm() => {
                Some(hasher.clone().finish())
            }
            _ => None,
        };
        drop(state);
        let committed = self.blobs.commit_upload(id, digest, hashed).await;
        self.hashes.remove(id);
        self.repository.delete_upload(id).await?;
        let size = committed?;
        self.repository.link_blob(repository_id, digest, size, Utc::now()).await?;
        Ok(size)
    }

    /// Pushes a whole blob in one request (`POST …/uploads/?digest=`).
    pub async fn upload_monolithic(&self, repository: &RepoName, digest: &Digest, data: ByteStream) -> Result<u64> {
        let id = self.start_upload(repository).await?;
        self.complete_upload(repository, &id, digest, Some(data)).await
    }

    pub async fn cancel_upload(&self, repository: &RepoName, id: &UploadId) -> Result<()> {
        self.repository.find_upload(id, repository).await?.ok_or(Error::UploadUnknown)?;
        self.hashes.remove(id);
        self.blobs.cancel_upload(id).await?;
        self.repository.delete_upload(id).await?;
        Ok(())
    }
}

/// A page of a name listing, and whether more follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub names: Vec<String>,
    pub more: bool,
}

impl Page {
    fn from_rows(mut names: Vec<String>, limit: Option<u32>) -> Self {
        let more = limit.is_some_and(|n| names.len() > n as usize);
        if let Some(n) = limit {
            names.truncate(n as usize);
        }
        Self { names, more }
    }
}

/// What a manifest push stored.
#[derive(Clone, Debug)]
pub struct PushedManifest {
    pub digest: Digest,
    pub subject: Option<Digest>,
}

impl RegistryService {
    /// The manifest a tag or digest names, if the client accepts its type;
    /// records a pull.
    pub async fn pull_manifest(
        &self,
        repository: &RepoName,
        reference: &Reference,
        accept: &[&str],
        caller: &Caller,
    ) -> Result<StoredManifest> {
        let stored = self.stat_manifest(repository, reference, accept).await?;
        let details = EventDetails {
            digest: Some(stored.digest.clone()),
            tag: tag_of(reference),
            media_type: Some(stored.media_type.clone()),
            size: Some(stored.content.len() as i64),
        };
        self.record(EventKind::Pull, repository, caller, details).await;
        Ok(stored)
    }

    /// The manifest a tag or digest names, if the client accepts its type
    /// (a `HEAD`: not a pull).
    pub async fn stat_manifest(
        &self,
        repository: &RepoName,
        reference: &Reference,
        accept: &[&str],
    ) -> Result<StoredManifest> {
        let stored = match reference {
            Reference::Tag(tag) => self.repository.find_manifest_by_tag(repository, tag).await?,
            Reference::Digest(digest) => self.repository.find_manifest_by_digest(repository, digest).await?,
        };
        let stored = stored.ok_or(Error::ManifestUnknown)?;
        if !manifest::accepts(accept, &stored.media_type) {
            return Err(Error::NotAcceptable { stored: stored.media_type });
        }
        Ok(stored)
    }

    /// Validates and stores a manifest under a tag or its digest. Every blob
    /// and child manifest it names must already be in the repository.
    pub async fn put_manifest(
        &self,
        repository: &RepoName,
        reference: &Reference,
        content: &[u8],
        content_type: Option<&str>,
        caller: &Caller,
    ) -> Result<PushedManifest> {
        if content.len() > self.max_manifest_bytes {
            return Err(Error::ManifestTooLarge { size: content.len(), limit: self.max_manifest_bytes });
        }
        let parsed = manifest::parse(content, content_type)?;
        let (digest, tag) = match reference {
            Reference::Digest(expected) => {
                let actual = Digest::of(expected.algorithm(), content);
                if actual != *expected {
                    return Err(Error::DigestMismatch { expected: expected.clone(), actual });
                }
                (actual, None)
            }
            Reference::Tag(tag) => (Digest::sha256_of(content), Some(tag)),
        };
        let now = Utc::now();
        // A manifest can only name content already pushed here, so a repository
        // that does not exist yet lacks whatever the manifest needs.
        let repository_id = match self.repository.find_repository(repository).await? {
            Some(id) => id,
            None => match parsed.needs.first() {
                Some(Needed::Blob(first) | Needed::Manifest(first)) => {
                    return Err(Error::ManifestBlobUnknown(first.clone()));
                }
                None => self.repository.ensure_repository(repository, now).await?,
            },
        };
        let (blobs, manifests): (Vec<&Needed>, Vec<&Needed>) =
            parsed.needs.iter().partition(|n| matches!(n, Needed::Blob(_)));
        let digests = |needs: &[&Needed]| -> Vec<Digest> {
            needs
                .iter()
                .map(|n| match n {
                    Needed::Blob(d) | Needed::Manifest(d) => d.clone(),
                })
                .collect()
        };
        let (blob_digests, manifest_digests) = (digests(&blobs), digests(&manifests));
        let missing_blobs =
            self.repository.missing(repository_id, &blob_digests.iter().collect::<Vec<_>>(), false).await?;
        if let Some(missing) = missing_blobs.into_iter().next() {
            return Err(Error::ManifestBlobUnknown(missing));
        }
        let missing_children =
            self.repository.missing(repository_id, &manifest_digests.iter().collect::<Vec<_>>(), true).await?;
        if let Some(missing) = missing_children.into_iter().next() {
            return Err(Error::ManifestBlobUnknown(missing));
        }
        let new = NewManifest { repository: repository_id, digest: &digest, parsed: &parsed, content, tag };
        self.repository.put_manifest(new, now).await?;
        let details = EventDetails {
            digest: Some(digest.to_string()),
            tag: tag_of(reference),
            media_type: Some(parsed.media_type.to_owned()),
            size: Some(content.len() as i64),
        };
        self.record(EventKind::Push, repository, caller, details).await;
        Ok(PushedManifest { digest, subject: parsed.subject })
    }

    /// Deletes a manifest (by digest, with its tags) or just a tag.
    pub async fn delete_manifest(&self, repository: &RepoName, reference: &Reference, caller: &Caller) -> Result<()> {
        let (deleted, details) = match reference {
            Reference::Digest(digest) => (
                self.repository.delete_manifest(repository, digest).await?,
                EventDetails { digest: Some(digest.to_string()), ..EventDetails::default() },
            ),
            Reference::Tag(tag) => (
                self.repository.delete_tag(repository, tag).await?,
                EventDetails { tag: Some(tag.to_string()), ..EventDetails::default() },
            ),
        };
        if !deleted {
            return Err(Error::ManifestUnknown);
        }
        self.record(EventKind::Delete, repository, caller, details).await;
        Ok(())
    }

    pub async fn list_tags(&self, repository: &RepoName, limit: Option<u32>, last: Option<&str>) -> Result<Page> {
        let id = self.repository.find_repository(repository).await?.ok_or(Error::NameUnknown)?;
        let rows = self.repository.list_tags(id, &ListPage { limit, last }).await?;
        Ok(Page::from_rows(rows, limit))
    }

    pub async fn catalog(&self, limit: Option<u32>, last: Option<&str>) -> Result<Page> {
        let rows = self.repository.list_repositories(&ListPage { limit, last }).await?;
        Ok(Page::from_rows(rows, limit))
    }

    /// Manifests in the repository that name `subject`, optionally of one artifact type.
    pub async fn referrers(
        &self,
        repository: &RepoName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<ReferrerRow>> {
        Ok(self.repository.list_referrers(repository, subject, artifact_type).await?)
    }
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
