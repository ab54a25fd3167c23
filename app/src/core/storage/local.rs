//! The local-filesystem [`BlobStore`]: `blobs/<algorithm>/<2 hex>/<hex>` for
//! content and `uploads/<id>` for staging, on one filesystem so a verified
//! upload becomes a blob by a hard link, which fails rather than overwrite.

use std::{
    io::{self, ErrorKind, Read},
    path::{Path, PathBuf},
};

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::{
    fs::{self, File, OpenOptions},
    io::{AsyncSeekExt, AsyncWriteExt, BufWriter},
};
use tokio_util::io::ReaderStream;

use super::{
    BlobReader, BlobStore, ByteRange, ByteStream, DiskSpace, Error, Result, StagedUpload, StreamedHash, UploadId,
};
use crate::core::registry::digest::{Algorithm, Digest, Hasher};

/// Bytes gathered before each write to the staging file.
const WRITE_BUFFER: usize = 1 << 20;
/// Suffix of an upload's file while it is being published.
const COMMITTING: &str = ".commit";
/// Bytes per chunk when streaming a blob out.
const READ_CHUNK: usize = 256 * 1024;

#[derive(Clone, Debug)]
pub struct LocalBlobStore {
    root: PathBuf,
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_owned(), source }
}

impl LocalBlobStore {
    /// Opens (creating when missing) the store rooted at `root`.
    pub async fn open(root: PathBuf) -> Result<Self> {
        for dir in [root.join("blobs"), root.join("uploads")] {
            fs::create_dir_all(&dir).await.map_err(io_at(&dir))?;
        }
        Ok(Self { root })
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.root.join("blobs").join(digest.algorithm().name()).join(&hex[..2]).join(hex)
    }

    fn upload_path(&self, id: &UploadId) -> PathBuf {
        self.root.join("uploads").join(id.as_str())
    }

    /// Where an upload's bytes wait while they are being published.
    fn committing_path(&self, id: &UploadId) -> PathBuf {
        self.root.join("uploads").join(format!("{id}{COMMITTING}"))
    }

    /// Verifies the staged file and links it in place under its digest, create-only.
    async fn publish(&self, staged: &Path, expected: &Digest, hashed: Option<StreamedHash>) -> Result<u64> {
        let file = File::open(staged).await.map_err(io_at(staged))?;
        // Durable before it can become visible under its digest.
        file.sync_all().await.map_err(io_at(staged))?;
        let size = file.metadata().await.map_err(io_at(staged))?.len();
        drop(file);
        let actual = match hashed.and_then(|hashed| hashed.covering(size, expected)) {
            Some(digest) => digest,
            None => hash_file(staged.to_owned(), expected.algorithm()).await?,
        };
        if actual != *expected {
            return Err(Error::DigestMismatch { expected: expected.clone(), actual });
        }
        let target = self.blob_path(expected);
        let parent = target.parent().expect("blob paths have a parent");
        fs::create_dir_all(parent).await.map_err(io_at(parent))?;
        match fs::hard_link(staged, &target).await {
            Ok(()) => sync_dir(parent).await?,
            // Someone stored the same content first; theirs is as good as ours.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_at(&target)(e)),
        }
        Ok(size)
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    async fn check_writable(&self) -> Result<()> {
        let probe = self.root.join(".health-probe");
        let write = async {
            let mut file = File::create(&probe).await?;
            file.write_all(b"ok").await?;
            file.sync_all().await?;
            fs::remove_file(&probe).await
        };
        write.await.map_err(io_at(&probe))
    }

    async fn disk_space(&self) -> Result<Option<DiskSpace>> {
        let root = self.root.clone();
        let space = tokio::task::spawn_blocking(move || -> io::Result<DiskSpace> {
            Ok(DiskSpace { free_bytes: fs4::available_space(&root)?, total_bytes: fs4::total_space(&root)? })
        })
        .await?;
        space.map(Some).map_err(io_at(&self.root))
    }

    async fn start_upload(&self, id: &UploadId) -> Result<()> {
        let path = self.upload_path(id);
        OpenOptions::new().write(true).create_new(true).open(&path).await.map_err(io_at(&path))?;
        Ok(())
    }

    async fn append_upload(
        &self,
        id: &UploadId,
        offset: u64,
        mut data: ByteStream,
        mut hasher: Option<&mut Hasher>,
    ) -> Result<u64> {
        let path = self.upload_path(id);
        let file = match OpenOptions::new().append(true).open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(Error::UploadUnknown(id.clone())),
            Err(e) => return Err(io_at(&path)(e)),
        };
        let actual = file.metadata().await.map_err(io_at(&path))?.len();
        if actual != offset {
            return Err(Error::OffsetMismatch { expected: offset, actual });
        }
        let mut writer = BufWriter::with_capacity(WRITE_BUFFER, file);
        let mut size = offset;
        while let Some(chunk) = data.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(client_error) => {
                    // Keep what arrived: a resumable client continues from here.
                    writer.flush().await.map_err(io_at(&path))?;
                    return Err(Error::Client(client_error));
                }
            };
            writer.write_all(&chunk).await.map_err(io_at(&path))?;
            if let Some(hasher) = hasher.as_deref_mut() {
                hasher.update(&chunk);
            }
            size += chunk.len() as u64;
        }
        writer.flush().await.map_err(io_at(&path))?;
        Ok(size)
    }

    async fn upload_size(&self, id: &UploadId) -> Result<Option<u64>> {
        let path = self.upload_path(id);
        match fs::metadata(&path).await {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_at(&path)(e)),
        }
    }

    async fn commit_upload(&self, id: &UploadId, expected: &Digest, hashed: Option<StreamedHash>) -> Result<u64> {
        // First move the bytes out of the upload's name: nothing that opens
        // the upload from here on can write to what is being published.
        let upload = self.upload_path(id);
        let staged = self.committing_path(id);
        match fs::rename(&upload, &staged).await {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(Error::UploadUnknown(id.clone())),
            Err(e) => return Err(io_at(&upload)(e)),
        }
        let published = self.publish(&staged, expected, hashed).await;
        // Published or refused, the staged copy has served its purpose.
        if let Err(e) = fs::remove_file(&staged).await
            && e.kind() != ErrorKind::NotFound
        {
            return Err(io_at(&staged)(e));
        }
        published
    }

    async fn cancel_upload(&self, id: &UploadId) -> Result<()> {
        for path in [self.upload_path(id), self.committing_path(id)] {
            match fs::remove_file(&path).await {
                Err(e) if e.kind() != ErrorKind::NotFound => return Err(io_at(&path)(e)),
                _ => {}
            }
        }
        Ok(())
    }

    async fn list_uploads(&self) -> Result<Vec<StagedUpload>> {
        let dir = self.root.join("uploads");
        let mut entries = fs::read_dir(&dir).await.map_err(io_at(&dir))?;
        let mut uploads = Vec::new();
        while let Some(entry) = entries.next_entry().await.map_err(io_at(&dir))? {
            // A commit cut short (a crash) leaves its bytes under the committing name.
            let name = entry.file_name();
            let name = name.to_str().map(|name| name.strip_suffix(COMMITTING).unwrap_or(name));
            let Some(id) = name.and_then(UploadId::parse) else { continue };
            match entry.metadata().await.and_then(|m| m.modified()) {
                Ok(last_modified) => uploads.push(StagedUpload { id, last_modified }),
                // Committed or cancelled while we listed.
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(io_at(&entry.path())(e)),
            }
        }
        Ok(uploads)
    }

    async fn stat(&self, digest: &Digest) -> Result<Option<u64>> {
        let path = self.blob_path(digest);
        match fs::metadata(&path).await {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_at(&path)(e)),
        }
    }

    async fn read(&self, digest: &Digest, range: Option<ByteRange>) -> Result<Option<BlobReader>> {
        let path = self.blob_path(digest);
        let mut file = match File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_at(&path)(e)),
        };
        let size = file.metadata().await.map_err(io_at(&path))?.len();
        let body: ByteStream = match range {
            None => Box::pin(ReaderStream::with_capacity(file, READ_CHUNK)),
            Some(ByteRange { first, last }) => {
                if first > last || last >= size {
                    return Err(Error::RangeNotSatisfiable { first, last, size });
                }
                file.seek(io::SeekFrom::Start(first)).await.map_err(io_at(&path))?;
                let limited = tokio::io::AsyncReadExt::take(file, last - first + 1);
                Box::pin(ReaderStream::with_capacity(limited, READ_CHUNK))
            }
        };
        Ok(Some(BlobReader { size, body }))
    }

    async fn delete(&self, digest: &Digest) -> Result<()> {
        let path = self.blob_path(digest);
        match fs::remove_file(&path).await {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(io_at(&path)(e)),
            _ => Ok(()),
        }
    }

    async fn quarantine(&self, digest: &Digest) -> Result<bool> {
        let dir = self.root.join("quarantine");
        fs::create_dir_all(&dir).await.map_err(io_at(&dir))?;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.fZ");
        let target = dir.join(format!("{}-{}-{stamp}", digest.algorithm().name(), digest.hex()));
        let path = self.blob_path(digest);
        match fs::rename(&path, &target).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_at(&path)(e)),
        }
    }
}

/// Hashes a file on the blocking pool (used when the streaming hash was lost,
/// e.g. after a restart in the middle of an upload).
async fn hash_file(path: PathBuf, algorithm: Algorithm) -> Result<Digest> {
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path).map_err(io_at(&path))?;
        let mut hasher = Hasher::new(algorithm);
        let mut buffer = vec![0u8; WRITE_BUFFER];
        loop {
            let n = file.read(&mut buffer).map_err(io_at(&path))?;
            if n == 0 {
                return Ok(hasher.finish());
            }
            hasher.update(&buffer[..n]);
        }
    })
    .await?
}

/// Makes a new directory entry durable.
async fn sync_dir(dir: &Path) -> Result<()> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || std::fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(io_at(&dir)))
        .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_the_blob_store_suite() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path().to_owned()).await.unwrap();
        super::super::suite::run(&store).await;
    }

    #[tokio::test]
    async fn a_mismatched_upload_leaves_no_blob_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path().to_owned()).await.unwrap();
        let id = UploadId::generate();
        store.start_upload(&id).await.unwrap();
        let data: ByteStream = Box::pin(futures_util::stream::iter([Ok(bytes::Bytes::from_static(b"abc"))]));
        store.append_upload(&id, 0, data, None).await.unwrap();
        let claimed = Digest::sha256_of(b"something else");
        assert!(matches!(store.commit_upload(&id, &claimed, None).await, Err(Error::DigestMismatch { .. })));
        assert!(!store.blob_path(&claimed).exists());
        assert!(!store.upload_path(&id).exists());
    }
}
