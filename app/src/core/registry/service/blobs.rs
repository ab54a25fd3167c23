//! Blob and upload operations: visibility per repository, uploads hashed
//! as they stream, digest-verified commits and cross-repository mounts.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use chrono::Utc;

use super::{EventDetails, RegistryService, artifact_event, granted};
use crate::core::{
    access::ProjectGrant,
    events::Operation,
    rbac::Action,
    registry::{
        digest::{Algorithm, Digest, Hasher},
        error::{Error, Result},
        names::RepoName,
        repository::RepositoryId,
    },
    storage::{self, BlobReader, ByteRange, ByteStream, StreamedHash, UploadId},
};

/// The running hash of an upload on this node, valid while `offset` equals
/// the bytes staged. Lost on restart, in which case commit re-reads the bytes.
pub(super) struct UploadHash {
    offset: u64,
    hasher: Option<Hasher>,
}

/// Per-upload hash state; the async mutex also serialises chunks of one upload.
#[derive(Default)]
pub(super) struct UploadHashes(Mutex<HashMap<UploadId, Arc<tokio::sync::Mutex<UploadHash>>>>);

impl UploadHashes {
    fn entry(&self, id: &UploadId) -> Arc<tokio::sync::Mutex<UploadHash>> {
        let mut map = self.0.lock().expect("upload hash map is never poisoned");
        map.entry(id.clone())
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(UploadHash { offset: 0, hasher: None })))
            .clone()
    }

    pub(super) fn remove(&self, id: &UploadId) {
        self.0.lock().expect("upload hash map is never poisoned").remove(id);
    }
}

impl RegistryService {
    /// The size of a blob the repository may see (`pull`): a `HEAD`, which
    /// clients send before naming the blob in a manifest instead of pushing
    /// it again, so the link is marked in use (at most every quarter window)
    /// and garbage collection keeps it for its whole window.
    pub async fn stat_blob(&self, repository: &RepoName, digest: &Digest, grant: &ProjectGrant) -> Result<u64> {
        granted(grant, repository, &[Action::Pull])?;
        let link = self.repository.linked_blob(repository, digest).await?.ok_or(Error::BlobUnknown)?;
        // One query for most HEADs: the link is written only when it is getting old.
        let now = Utc::now();
        // Garbage collection may remove an old link between the read and the
        // touch: then the blob is unknown, and the client pushes it again.
        if link.last_used < now - self.link_window / 4
            && !self.repository.touch_link(link.repository, digest, now).await?
        {
            return Err(Error::BlobUnknown);
        }
        Ok(link.size)
    }

    async fn linked_size(&self, repository: &RepoName, digest: &Digest, grant: &ProjectGrant) -> Result<u64> {
        granted(grant, repository, &[Action::Pull])?;
        self.repository.linked_blob_size(repository, digest).await?.ok_or(Error::BlobUnknown)
    }

    /// Streams a blob the repository may see (`pull`), or the part `range`
    /// picks once the blob's size is known (one lookup for both). The reader
    /// carries the full size; the chosen range is handed back with it.
    pub async fn read_blob<E: From<Error>>(
        &self,
        repository: &RepoName,
        digest: &Digest,
        grant: &ProjectGrant,
        range: impl FnOnce(u64) -> Result<Option<ByteRange>, E>,
    ) -> Result<(BlobReader, Option<ByteRange>), E> {
        let size = self.linked_size(repository, digest, grant).await?;
        let range = range(size)?;
        // Linked but missing from storage means the store lost it: report it as
        // unknown rather than serve nothing under a 200.
        let mut reader = self.blobs.read(digest, range).await.map_err(Error::from)?.ok_or(Error::BlobUnknown)?;
        if self.verify_reads && range.is_none() {
            reader.body = storage::verified_while_read(reader.body, digest.clone());
        }
        Ok((reader, range))
    }

    /// Where a client may fetch a blob the repository may see (`pull`)
    /// straight from storage, when the store hands out such URLs; `None`
    /// means Berth serves the bytes itself. Never while reads are verified:
    /// bytes that do not pass through Berth cannot be checked.
    pub async fn blob_pull_url(
        &self,
        repository: &RepoName,
        digest: &Digest,
        grant: &ProjectGrant,
    ) -> Result<Option<String>> {
        if self.verify_reads {
            return Ok(None);
        }
        self.linked_size(repository, digest, grant).await?;
        Ok(self.blobs.pull_url(digest).await?)
    }

    /// The whole content of a small blob (an image config), or `None` when
    /// it is larger than `limit` bytes: what pages show is read into memory,
    /// so it must be bounded.
    pub async fn read_small_blob(
        &self,
        repository: &RepoName,
        digest: &Digest,
        grant: &ProjectGrant,
        limit: u64,
    ) -> Result<Option<Vec<u8>>> {
        use futures_util::TryStreamExt;

        let (reader, _) = self.read_blob::<Error>(repository, digest, grant, |_| Ok(None)).await?;
        if reader.size > limit {
            return Ok(None);
        }
        let mut content = Vec::with_capacity(usize::try_from(reader.size).unwrap_or(0));
        let mut body = reader.body;
        let read_failed = |source| storage::Error::Io { path: digest.to_string().into(), source };
        while let Some(chunk) = body.try_next().await.map_err(read_failed)? {
            content.extend_from_slice(&chunk);
        }
        Ok(Some(content))
    }

    /// Removes the blob from the repository (its content is shared and stays).
    pub async fn delete_blob(&self, repository: &RepoName, digest: &Digest, grant: &ProjectGrant) -> Result<()> {
        granted(grant, repository, &[Action::DeleteArtifact])?;
        let details = EventDetails { digest: Some(digest.to_string()), ..EventDetails::default() };
        let event = artifact_event(Operation::Delete, repository, grant.actor(), details);
        if !self.repository.unlink_blob(repository, digest, &event).await? {
            return Err(Error::BlobUnknown);
        }
        Ok(())
    }

    /// Links a blob another repository has into this one; `None` when the
    /// source does not have it (the caller then starts a normal upload).
    /// `grant` is to push here, `source` to pull from `from`.
    pub async fn mount_blob(
        &self,
        grant: &ProjectGrant,
        repository: &RepoName,
        source: &ProjectGrant,
        from: &RepoName,
        digest: &Digest,
    ) -> Result<Option<u64>> {
        granted(grant, repository, &[Action::Push])?;
        granted(source, from, &[Action::Pull])?;
        let Some(size) = self.repository.linked_blob_size(from, digest).await? else {
            return Ok(None);
        };
        let now = Utc::now();
        let id = self.repository_for_push(repository, now).await?;
        // Mounted only while the content is still there (garbage collection
        // may have taken it after its last link went); else a normal upload.
        let present = async {
            match self.blobs.stat(digest).await? {
                Some(_) => Ok(()),
                None => Err(Error::BlobUnknown),
            }
        };
        match self.publish_within_quota(id, digest, size, present).await {
            Ok(()) => Ok(Some(size)),
            Err(Error::BlobUnknown) => {
                self.repository.delete_if_empty(id).await?;
                Ok(None)
            }
            Err(other) => Err(other),
        }
    }

    pub async fn start_upload(&self, grant: &ProjectGrant, repository: &RepoName) -> Result<UploadId> {
        granted(grant, repository, &[Action::Push])?;
        let id = UploadId::generate();
        self.blobs.start_upload(&id).await?;
        let created = self.repository.create_upload(&id, repository, Utc::now()).await;
        if !matches!(created, Ok(Some(_))) {
            // Nothing of a start that failed stays: no staged file, no repository.
            if let Err(error) = self.blobs.cancel_upload(&id).await {
                tracing::warn!(%error, upload = %id, "could not remove the staged file of an upload that did not start");
            }
        }
        created?.ok_or_else(|| Error::ProjectUnknown(repository.clone()))?;
        Ok(id)
    }

    /// Bytes received so far by an upload of this repository.
    pub async fn upload_progress(&self, grant: &ProjectGrant, repository: &RepoName, id: &UploadId) -> Result<u64> {
        granted(grant, repository, &[Action::Push])?;
        self.repository.find_upload(id, repository).await?.ok_or(Error::UploadUnknown)?;
        self.blobs.upload_size(id).await?.ok_or(Error::UploadUnknown)
    }

    /// Appends a chunk. `start` is where the client says it begins (from
    /// `Content-Range`); without it the chunk goes at the end. Returns the new size.
    pub async fn append_upload(
        &self,
        grant: &ProjectGrant,
        repository: &RepoName,
        id: &UploadId,
        start: Option<u64>,
        data: ByteStream,
    ) -> Result<u64> {
        granted(grant, repository, &[Action::Push])?;
        self.repository.find_upload(id, repository).await?.ok_or(Error::UploadUnknown)?;
        let entry = self.hashes.entry(id);
        let mut state = entry.lock().await;
        self.append_locked(id, start, data, &mut state).await
    }

    /// Appends to an upload whose hash state the caller holds locked.
    async fn append_locked(
        &self,
        id: &UploadId,
        start: Option<u64>,
        data: ByteStream,
        state: &mut UploadHash,
    ) -> Result<u64> {
        let size = self.blobs.upload_size(id).await?.ok_or(Error::UploadUnknown)?;
        let offset = start.unwrap_or(size);
        if offset != size {
            return Err(Error::OutOfOrder { requested: offset, actual: size });
        }
        if size == 0 && state.hasher.is_none() {
            state.hasher = Some(Hasher::new(Algorithm::Sha256));
        }
        if state.offset != size {
            state.hasher = None;
        }
        let result = self.blobs.append_upload(id, offset, data, state.hasher.as_mut()).await;
        let new_size = match &result {
            Ok(new_size) => *new_size,
            Err(storage::Error::Client(_)) => self.blobs.upload_size(id).await?.unwrap_or(0),
            Err(_) => {
                // After a storage error the hash may not match the staged bytes.
                state.hasher = None;
                self.blobs.upload_size(id).await?.unwrap_or(0)
            }
        };
        state.offset = new_size;
        self.repository.touch_upload(id, Utc::now()).await?;
        Ok(result?)
    }

    /// Appends the final chunk (if any), verifies the digest and publishes the
    /// blob in the repository. Once the commit starts the upload is this
    /// request's alone: its row is removed first, so every other request on
    /// any node finds it unknown, and this node's chunks wait for the lock
    /// held until the end. Whatever the outcome, the upload is gone after.
    pub async fn complete_upload(
        &self,
        grant: &ProjectGrant,
        repository: &RepoName,
        id: &UploadId,
        digest: &Digest,
        last_chunk: Option<ByteStream>,
    ) -> Result<u64> {
        granted(grant, repository, &[Action::Push])?;
        let repository_id = self.repository.find_upload(id, repository).await?.ok_or(Error::UploadUnknown)?;
        let entry = self.hashes.entry(id);
        let mut state = entry.lock().await;
        let staged = match last_chunk {
            Some(chunk) => self.append_locked(id, None, chunk, &mut state).await?,
            None => self.blobs.upload_size(id).await?.ok_or(Error::UploadUnknown)?,
        };
        if !self.repository.delete_upload(id).await? {
            // Another request committed or cancelled it meanwhile.
            return Err(Error::UploadUnknown);
        }
        // The upload ends here, so its running hash can be taken rather than copied.
        let hashed = match state.hasher.take() {
            Some(hasher) if state.offset == staged => Some(StreamedHash { digest: hasher.finish(), size: staged }),
            _ => None,
        };
        let outcome = self.commit_claimed(repository_id, id, digest, staged, hashed).await;
        if outcome.is_err() {
            // Refused or failed, the upload is over: nothing of it stays,
            // nor a repository only it made.
            if let Err(error) = self.blobs.cancel_upload(id).await {
                tracing::warn!(%error, upload = %id, "discarding the bytes of a refused upload failed");
            }
            self.repository.delete_if_empty(repository_id).await?;
        }
        self.hashes.remove(id);
        drop(state);
        outcome
    }

    /// The rest of a commit once the upload is claimed: quota, publish, link.
    async fn commit_claimed(
        &self,
        repository_id: RepositoryId,
        id: &UploadId,
        digest: &Digest,
        staged: u64,
        hashed: Option<StreamedHash>,
    ) -> Result<u64> {
        self.check_quota(repository_id, digest, staged).await?;
        let commit = async {
            let size = self.blobs.commit_upload(id, digest, hashed).await?;
            if size != staged {
                return Err(Error::Internal(crate::core::Error::corrupt(format!(
                    "{digest}: {size} bytes published, {staged} staged"
                ))));
            }
            Ok(())
        };
        self.publish_within_quota(repository_id, digest, staged, commit).await?;
        Ok(staged)
    }

    /// Pushes a whole blob in one request (`POST …/uploads/?digest=`). No
    /// upload session is recorded: it cannot be resumed, and bytes staged by
    /// a node that dies midway are found by the cleanup.
    pub async fn upload_monolithic(
        &self,
        grant: &ProjectGrant,
        repository: &RepoName,
        digest: &Digest,
        data: ByteStream,
    ) -> Result<u64> {
        granted(grant, repository, &[Action::Push])?;
        let repository_id = self.repository_for_push(repository, Utc::now()).await?;
        let id = UploadId::generate();
        self.blobs.start_upload(&id).await?;
        let mut hasher = Hasher::new(digest.algorithm());
        let committed = async {
            let size = self.blobs.append_upload(&id, 0, data, Some(&mut hasher)).await?;
            self.check_quota(repository_id, digest, size).await?;
            let hashed = StreamedHash { digest: hasher.finish(), size };
            let commit = async {
                self.blobs.commit_upload(&id, digest, Some(hashed)).await?;
                Ok(())
            };
            self.publish_within_quota(repository_id, digest, size, commit).await?;
            Ok::<_, Error>(size)
        };
        match committed.await {
            Ok(size) => Ok(size),
            Err(e) => {
                // Staged bytes are useless without a session; the original error matters more.
                if let Err(cancel) = self.blobs.cancel_upload(&id).await {
                    tracing::warn!(error = %cancel, upload = %id, "discarding a failed monolithic upload failed");
                }
                // Nor does a repository that only this push created stay behind.
                self.repository.delete_if_empty(repository_id).await?;
                Err(e)
            }
        }
    }

    pub async fn cancel_upload(&self, grant: &ProjectGrant, repository: &RepoName, id: &UploadId) -> Result<()> {
        granted(grant, repository, &[Action::Push])?;
        let repository_id = self.repository.find_upload(id, repository).await?.ok_or(Error::UploadUnknown)?;
        let entry = self.hashes.entry(id);
        let _state = entry.lock().await;
        // Claimed like a commit: a commit that started first keeps the upload.
        if !self.repository.delete_upload(id).await? {
            return Err(Error::UploadUnknown);
        }
        self.hashes.remove(id);
        self.blobs.cancel_upload(id).await?;
        // A repository that only this upload made goes with it.
        self.repository.delete_if_empty(repository_id).await?;
        Ok(())
    }
}
