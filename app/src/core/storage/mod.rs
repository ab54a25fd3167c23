//! Where blob bytes live. [`BlobStore`] is the one seam: staged uploads that
//! are verified against their digest and then moved into place create-only,
//! so a crash, a killed process or a full disk can leave an orphaned upload
//! but never a wrong or partial blob under a digest. The local filesystem is
//! the default backend, S3-compatible object storage the shared one; every
//! backend passes the same [`suite`].

mod local;
mod s3;
pub mod suite;
mod verified;

pub use local::LocalBlobStore;
pub use s3::{S3BlobStore, S3Settings};
pub use verified::{hash_stream, verified_while_read};

use std::{fmt, io, path::PathBuf, pin::Pin, sync::Arc, time::SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;

use crate::core::registry::digest::{Digest, Hasher};

/// Bytes arriving from, or going to, a client.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// Free and total bytes of the filesystem holding the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskSpace {
    pub free_bytes: u64,
    pub total_bytes: u64,
}

/// An upload's staging area, named by a server-generated id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UploadId(String);

impl UploadId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// Accepts only ids of the form Berth generates, so an id can never
    /// address anything outside the staging area.
    pub fn parse(raw: &str) -> Option<Self> {
        uuid::Uuid::parse_str(raw).ok().filter(|u| u.hyphenated().to_string() == raw).map(|_| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An upload with staged bytes, as the store sees it (for cleaning up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StagedUpload {
    pub id: UploadId,
    /// When bytes were last staged.
    pub last_modified: SystemTime,
}

/// Which backend holds the blobs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageSettings {
    Filesystem { root: PathBuf },
    S3(S3Settings),
}

/// Opens the configured backend.
pub async fn open(settings: &StorageSettings) -> Result<Arc<dyn BlobStore>> {
    Ok(match settings {
        StorageSettings::Filesystem { root } => Arc::new(LocalBlobStore::open(root.clone()).await?),
        StorageSettings::S3(s3) => Arc::new(S3BlobStore::open(s3)?),
    })
}

/// The digest of an upload's bytes computed while they streamed in, and how
/// many bytes it covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamedHash {
    pub digest: Digest,
    pub size: u64,
}

impl StreamedHash {
    /// The digest, when it covers exactly `size` bytes hashed with `expected`'s algorithm.
    fn covering(self, size: u64, expected: &Digest) -> Option<Digest> {
        (self.size == size && self.digest.algorithm() == expected.algorithm()).then_some(self.digest)
    }
}

/// An inclusive byte range of a blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub first: u64,
    pub last: u64,
}

impl ByteRange {
    /// How many bytes the range covers (at least one: both ends are inclusive).
    pub fn byte_count(&self) -> u64 {
        self.last - self.first + 1
    }
}

/// A blob being read: its full size and the requested bytes.
pub struct BlobReader {
    pub size: u64,
    pub body: ByteStream,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no upload {0}")]
    UploadUnknown(UploadId),
    #[error("upload is at offset {actual}, not {expected}")]
    OffsetMismatch { expected: u64, actual: u64 },
    #[error("content has digest {actual}, not {expected}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("range {first}-{last} is outside the blob's {size} bytes")]
    RangeNotSatisfiable { first: u64, last: u64, size: u64 },
    #[error("the client's stream failed: {0}")]
    Client(io::Error),
    #[error("storage I/O at {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("object storage at {key}: {source}")]
    ObjectStore { key: String, source: Box<object_store::Error> },
    #[error("storage task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[async_trait]
pub trait BlobStore: Send + Sync + fmt::Debug {
    /// Where the store keeps its data, for people (the dashboard).
    fn location(&self) -> String;

    /// Proves the store accepts writes.
    async fn check_writable(&self) -> Result<()>;

    /// Space left where the store writes, when the backend can tell.
    async fn disk_space(&self) -> Result<Option<DiskSpace>>;

    /// Opens an empty staging area for `id`.
    async fn start_upload(&self, id: &UploadId) -> Result<()>;

    /// Appends `data` to the upload, which must hold exactly `offset` bytes;
    /// `hasher` sees every byte written. Returns the new size. When the stream
    /// fails midway, the bytes already written stay staged (and hashed).
    async fn append_upload(
        &self,
        id: &UploadId,
        offset: u64,
        data: ByteStream,
        hasher: Option<&mut Hasher>,
    ) -> Result<u64>;

    /// Bytes staged so far, or `None` when there is no such upload.
    async fn upload_size(&self, id: &UploadId) -> Result<Option<u64>>;

    /// Makes the staged bytes the blob `expected`, after checking they hash to
    /// it. `hashed` is the digest computed while they streamed; the store
    /// trusts it only when the bytes it publishes are exactly the bytes that
    /// were hashed (same size, nothing written since), and otherwise hashes
    /// them now. Create-only: if the blob exists, the staged copy is
    /// discarded. Returns the size.
    async fn commit_upload(&self, id: &UploadId, expected: &Digest, hashed: Option<StreamedHash>) -> Result<u64>;

    /// Discards an upload's staged bytes; unknown ids are not an error.
    async fn cancel_upload(&self, id: &UploadId) -> Result<()>;

    /// Every upload with staged bytes.
    async fn list_uploads(&self) -> Result<Vec<StagedUpload>>;

    /// The blob's size, or `None` when it is not stored.
    async fn stat(&self, digest: &Digest) -> Result<Option<u64>>;

    /// Streams the blob, or the inclusive `range` of it.
    async fn read(&self, digest: &Digest, range: Option<ByteRange>) -> Result<Option<BlobReader>>;

    /// A URL the client may fetch the blob from directly, for a while, when
    /// this store hands those out (S3 with pulls redirected); `None` otherwise.
    async fn pull_url(&self, _digest: &Digest) -> Result<Option<String>> {
        Ok(None)
    }

    /// Removes the blob; a missing blob is not an error.
    async fn delete(&self, digest: &Digest) -> Result<()>;

    /// Moves a blob whose content no longer matches its digest out of the
    /// way, kept for inspection but never served again; `false` when there
    /// was no such blob.
    async fn quarantine(&self, digest: &Digest) -> Result<bool>;
}
