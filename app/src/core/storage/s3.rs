//! The S3-compatible [`BlobStore`] (AWS S3, Garage, MinIO…), for several
//! Berth nodes sharing one store. Content lives at
//! `<prefix>/blobs/<algorithm>/<2 hex>/<hex>`; an upload is staged as one
//! object per appended request, `<prefix>/uploads/<id>/<offset>-<writer>`,
//! because S3 objects cannot be appended to and any node may receive the
//! next chunk. Each request writes a key of its own and never rewrites one,
//! so two requests racing at one offset leave two parts (and a size that
//! gives them away) instead of one overwriting what the other hashed.
//! A blob key only ever receives verified bytes: a single staged part that
//! was hashed while it streamed is copied server-side; anything else is
//! streamed through the hasher into a write that completes only when the
//! digest matches (an unfinished multipart upload is invisible).

use std::{sync::Arc, time::SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::{
    GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt, aws::AmazonS3Builder, buffered::BufWriter,
    path::Path,
};
use tokio::io::AsyncWriteExt;

use super::{
    BlobReader, BlobStore, ByteRange, ByteStream, DiskSpace, Error, Result, StagedUpload, StreamedHash, UploadId,
};
use crate::core::registry::digest::{Digest, Hasher};

/// Bytes buffered per multipart part (S3 wants at least 5 MiB but the last).
const PART_SIZE: usize = 8 << 20;
/// Parts in flight at once per write.
const PARTS_IN_FLIGHT: usize = 2;
/// Largest object S3 copies in one request.
const MAX_SINGLE_COPY: u64 = 5 << 30;
/// Staged part names are zero-padded offsets, so listing order is offset order.
const OFFSET_DIGITS: usize = 20;
/// How long a presigned pull URL stays valid (as distribution's default):
/// long enough for a slow client to start a large layer, short enough that
/// a leaked URL soon stops working.
const PULL_URL_LIFETIME: std::time::Duration = std::time::Duration::from_secs(20 * 60);
/// How long a successful write probe answers for the bucket's health.
const PROBE_STANDS_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// Where and how to reach the bucket; credentials left unset come from the
/// usual `AWS_*` environment variables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Settings {
    /// `http(s)://host:port` of an S3-compatible service; AWS when `None`.
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    /// Key prefix inside the bucket, without leading or trailing `/`.
    pub prefix: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// `bucket.host` addressing instead of `host/bucket`.
    pub virtual_hosted_style: bool,
    /// Blob pulls are redirected to a presigned URL on the bucket.
    pub redirect_pulls: bool,
}

#[derive(Clone, Debug)]
pub struct S3BlobStore {
    store: Arc<dyn ObjectStore>,
    /// Set when pulls are redirected: signs the URLs handed out.
    signer: Option<Arc<object_store::aws::AmazonS3>>,
    /// When a write probe last succeeded.
    last_probe: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
    root: Path,
    description: String,
}

fn at(key: &Path) -> impl FnOnce(object_store::Error) -> Error + '_ {
    move |source| Error::ObjectStore { key: key.to_string(), source: Box::new(source) }
}

fn is_not_found(error: &object_store::Error) -> bool {
    matches!(error, object_store::Error::NotFound { .. })
}

impl S3BlobStore {
    /// Connects to the bucket (no request is made until first use).
    pub fn open(settings: &S3Settings) -> Result<Self> {
        // HTTPS to the bucket uses rustls with ring; fails only when a
        // provider is already installed, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = AmazonS3Builder::from_env()
            .with_region(&settings.region)
            .with_bucket_name(&settings.bucket)
            .with_virtual_hosted_style_request(settings.virtual_hosted_style);
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(key) = &settings.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &settings.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let bucket_key = Path::from(settings.bucket.as_str());
        let store = Arc::new(builder.build().map_err(at(&bucket_key))?);
        let endpoint = settings.endpoint.as_deref().unwrap_or("AWS");
        let description = format!("s3://{}/{} at {endpoint}", settings.bucket, settings.prefix);
        let signer = settings.redirect_pulls.then(|| store.clone());
        Ok(Self { store, signer, last_probe: Arc::default(), root: Path::from(settings.prefix.as_str()), description })
    }

    fn blob_key(&self, digest: &Digest) -> Path {
        let hex = digest.hex();
        self.root.clone().join("blobs").join(digest.algorithm().name()).join(&hex[..2]).join(hex)
    }

    fn upload_dir(&self, id: &UploadId) -> Path {
        self.root.clone().join("uploads").join(id.as_str())
    }

    /// A key no other request writes: the offset, then a writer id.
    fn part_key(&self, id: &UploadId, offset: u64) -> Path {
        let writer = uuid::Uuid::new_v4().simple();
        self.upload_dir(id).join(format!("{offset:0OFFSET_DIGITS$}-{writer}"))
    }

    /// The upload's parts in offset order, or `None` when it does not exist.
    async fn parts(&self, id: &UploadId) -> Result<Option<Vec<ObjectMeta>>> {
        let dir = self.upload_dir(id);
        let listing = self.store.list_with_delimiter(Some(&dir)).await.map_err(at(&dir))?;
        let mut parts = listing.objects;
        if parts.is_empty() {
            return Ok(None);
        }
        parts.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(Some(parts))
    }

    async fn delete_parts(&self, parts: &[ObjectMeta]) -> Result<()> {
        for part in parts {
            match self.store.delete(&part.location).await {
                Err(e) if !is_not_found(&e) => return Err(at(&part.location)(e)),
                _ => {}
            }
        }
        Ok(())
    }

    /// Streams every part, in order, through a fresh hasher and, when given,
    /// into `writer`; returns the digest of the whole.
    async fn hash_parts(
        &self,
        parts: &[ObjectMeta],
        expected: &Digest,
        mut writer: Option<(&mut BufWriter, &Path)>,
    ) -> Result<Digest> {
        let mut hasher = Hasher::new(expected.algorithm());
        for part in parts {
            let mut body = self.store.get(&part.location).await.map_err(at(&part.location))?.into_stream();
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(at(&part.location))?;
                hasher.update(&chunk);
                if let Some((writer, target)) = writer.as_mut() {
                    writer.put(chunk).await.map_err(at(target))?;
                }
            }
        }
        Ok(hasher.finish())
    }

    /// Writes the parts, concatenated, to `target`, completing the write only
    /// when they hash to `expected`.
    async fn assemble(&self, parts: &[ObjectMeta], expected: &Digest, target: &Path) -> Result<()> {
        let mut writer = BufWriter::with_capacity(self.store.clone(), target.clone(), PART_SIZE)
            .with_max_concurrency(PARTS_IN_FLIGHT);
        let outcome = self.hash_parts(parts, expected, Some((&mut writer, target))).await;
        let error = match outcome {
            Ok(actual) if actual == *expected => return finish(writer, target).await,
            Ok(actual) => Error::DigestMismatch { expected: expected.clone(), actual },
            Err(e) => e,
        };
        writer.abort().await.map_err(at(target))?;
        Err(error)
    }
}

/// Completes a write (the single put, or the multipart upload).
async fn finish(mut writer: BufWriter, key: &Path) -> Result<()> {
    writer.shutdown().await.map_err(|source| Error::Io { path: key.as_ref().into(), source })
}

#[async_trait]
impl BlobStore for S3BlobStore {
    fn location(&self) -> String {
        self.description.clone()
    }

    async fn check_writable(&self) -> Result<()> {
        // Load balancers check every node every few seconds, unauthenticated:
        // a success stands for a while, so they cannot turn into a stream of
        // bucket writes. A failure is never remembered.
        let fresh = |at: &Option<std::time::Instant>| at.is_some_and(|at| at.elapsed() < PROBE_STANDS_FOR);
        if fresh(&self.last_probe.lock().unwrap_or_else(|e| e.into_inner())) {
            return Ok(());
        }
        let probe = self.root.clone().join(".health-probe");
        self.store.put(&probe, Bytes::from_static(b"ok").into()).await.map_err(at(&probe))?;
        self.store.delete(&probe).await.map_err(at(&probe))?;
        *self.last_probe.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::time::Instant::now());
        Ok(())
    }

    async fn disk_space(&self) -> Result<Option<DiskSpace>> {
        Ok(None)
    }

    async fn start_upload(&self, id: &UploadId) -> Result<()> {
        // An empty first part marks the upload as existing.
        let key = self.part_key(id, 0);
        self.store.put(&key, Bytes::new().into()).await.map_err(at(&key))?;
        Ok(())
    }

    async fn append_upload(
        &self,
        id: &UploadId,
        offset: u64,
        mut data: ByteStream,
        mut hasher: Option<&mut Hasher>,
    ) -> Result<u64> {
        let Some(parts) = self.parts(id).await? else {
            return Err(Error::UploadUnknown(id.clone()));
        };
        let actual = parts.iter().map(|p| p.size).sum::<u64>();
        if actual != offset {
            return Err(Error::OffsetMismatch { expected: offset, actual });
        }
        let key = self.part_key(id, offset);
        let mut writer =
            BufWriter::with_capacity(self.store.clone(), key.clone(), PART_SIZE).with_max_concurrency(PARTS_IN_FLIGHT);
        let mut size = offset;
        let mut client_error = None;
        while let Some(chunk) = data.next().await {
            match chunk {
                Ok(chunk) => {
                    if let Some(hasher) = hasher.as_deref_mut() {
                        hasher.update(&chunk);
                    }
                    size += chunk.len() as u64;
                    if let Err(e) = writer.put(chunk).await {
                        // A part upload failed: drop the unfinished write.
                        let _ = writer.abort().await;
                        return Err(at(&key)(e));
                    }
                }
                Err(e) => {
                    client_error = Some(e);
                    break;
                }
            }
        }
        if size == offset && offset > 0 {
            // Nothing arrived: no empty part (it would shadow the next append).
            writer.abort().await.map_err(at(&key))?;
        } else {
            // Keep what arrived, even when the client broke off: a resumable
            // client continues from here.
            finish(writer, &key).await?;
        }
        match client_error {
            Some(e) => Err(Error::Client(e)),
            None => Ok(size),
        }
    }

    async fn upload_size(&self, id: &UploadId) -> Result<Option<u64>> {
        Ok(self.parts(id).await?.map(|parts| parts.iter().map(|p| p.size).sum()))
    }

    async fn commit_upload(&self, id: &UploadId, expected: &Digest, hashed: Option<StreamedHash>) -> Result<u64> {
        let Some(parts) = self.parts(id).await? else {
            return Err(Error::UploadUnknown(id.clone()));
        };
        let size = parts.iter().map(|p| p.size).sum::<u64>();
        let target = self.blob_key(expected);
        let stored = self.stat(expected).await?.is_some();
        // Parts are never rewritten, so parts adding up to the hashed size are the hashed bytes.
        let streamed = hashed.and_then(|hashed| hashed.covering(size, expected));
        let mismatch = |actual| Err(Error::DigestMismatch { expected: expected.clone(), actual });
        let result = match streamed {
            Some(actual) if actual != *expected => mismatch(actual),
            // Someone stored the same content first; theirs is as good as ours.
            Some(_) if stored => Ok(()),
            Some(_) if parts.len() == 1 && size <= MAX_SINGLE_COPY => {
                self.store.copy(&parts[0].location, &target).await.map_err(at(&target))
            }
            // Still verified: claiming a stored digest must not link it for free.
            None if stored => match self.hash_parts(&parts, expected, None).await? {
                actual if actual != *expected => mismatch(actual),
                _ => Ok(()),
            },
            _ => self.assemble(&parts, expected, &target).await,
        };
        // Published or refused, the staged parts have served their purpose:
        // the upload is over once its commit starts.
        self.delete_parts(&parts).await?;
        result.map(|()| size)
    }

    async fn cancel_upload(&self, id: &UploadId) -> Result<()> {
        match self.parts(id).await? {
            Some(parts) => self.delete_parts(&parts).await,
            None => Ok(()),
        }
    }

    async fn list_uploads(&self) -> Result<Vec<StagedUpload>> {
        let dir = self.root.clone().join("uploads");
        let mut listing = self.store.list(Some(&dir));
        let mut uploads: Vec<StagedUpload> = Vec::new();
        while let Some(part) = listing.try_next().await.map_err(at(&dir))? {
            let Some(id) = part.location.prefix_match(&dir).and_then(|mut rest| rest.next()) else { continue };
            let Some(id) = UploadId::parse(id.as_ref()) else { continue };
            let modified = SystemTime::from(part.last_modified);
            match uploads.iter_mut().find(|u| u.id == id) {
                Some(upload) => upload.last_modified = upload.last_modified.max(modified),
                None => uploads.push(StagedUpload { id, last_modified: modified }),
            }
        }
        Ok(uploads)
    }

    async fn stat(&self, digest: &Digest) -> Result<Option<u64>> {
        let key = self.blob_key(digest);
        match self.store.head(&key).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(at(&key)(e)),
        }
    }

    async fn read(&self, digest: &Digest, range: Option<ByteRange>) -> Result<Option<BlobReader>> {
        let key = self.blob_key(digest);
        let mut options = GetOptions::default();
        if let Some(ByteRange { first, last }) = range {
            let Some(size) = self.stat(digest).await? else { return Ok(None) };
            if first > last || last >= size {
                return Err(Error::RangeNotSatisfiable { first, last, size });
            }
            options.range = Some(GetRange::Bounded(first..last + 1));
        }
        let result = match self.store.get_opts(&key, options).await {
            Ok(result) => result,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(at(&key)(e)),
        };
        let size = result.meta.size;
        let body = result.into_stream().map_err(std::io::Error::other);
        Ok(Some(BlobReader { size, body: Box::pin(body) }))
    }

    async fn pull_url(&self, digest: &Digest) -> Result<Option<String>> {
        use object_store::signer::{Method, Signer};
        let Some(signer) = &self.signer else { return Ok(None) };
        let key = self.blob_key(digest);
        // Signing is local (no request): the key's existence is the caller's to know.
        let url = signer.signed_url(Method::GET, &key, PULL_URL_LIFETIME).await.map_err(at(&key))?;
        Ok(Some(url.to_string()))
    }

    async fn delete(&self, digest: &Digest) -> Result<()> {
        let key = self.blob_key(digest);
        match self.store.delete(&key).await {
            Err(e) if !is_not_found(&e) => Err(at(&key)(e)),
            _ => Ok(()),
        }
    }

    async fn quarantine(&self, digest: &Digest) -> Result<bool> {
        let key = self.blob_key(digest);
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.fZ");
        let name = format!("{}-{}-{stamp}", digest.algorithm().name(), digest.hex());
        let target = self.root.clone().join("quarantine").join(name);
        match self.store.copy(&key, &target).await {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => return Ok(false),
            Err(e) => return Err(at(&key)(e)),
        }
        self.delete(digest).await?;
        Ok(true)
    }
}
