//! Copying one artifact from this registry to a remote one, byte for byte
//! with its digests: an index's images first, each manifest's blobs before
//! the manifest, the referrers (signatures, SBOMs) after their subject,
//! then the tags. A blob the destination has already is not sent again
//! (asked with HEAD), so a re-run sends only what is missing. Transient
//! failures are retried as Harbor does: five tries, two seconds doubling.

use std::time::Duration;

use reqwest::{
    Method, StatusCode,
    header::{self, HeaderMap, HeaderValue},
};

use super::remote::{Remote, RemoteError};
use crate::core::{
    access::ProjectGrant,
    registry::{
        self, RegistryService,
        digest::Digest,
        manifest::{self, Needed},
        names::{Reference, RepoName},
    },
};

/// Tries per blob or manifest request, and the first wait between them.
pub const TRIES: u32 = 5;
pub const FIRST_BACKOFF: Duration = Duration::from_secs(2);
/// How deep an index may nest indexes.
const MAX_DEPTH: usize = 4;

/// What stopped a copy, in words for the task's log.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error("reading {what} here: {source}")]
    Local { what: String, source: registry::Error },
    #[error("stopped on request")]
    Stopped,
}

/// Where a copy writes its log lines.
pub trait CopyLog: Sync {
    fn line(&self, message: String) -> impl Future<Output = ()> + Send;
    fn stopped(&self) -> bool;
}

/// What a copy moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Moved {
    pub bytes: u64,
    pub blobs_sent: u32,
    pub blobs_present: u32,
    pub manifests: u32,
}

/// One artifact's copy from `source` here to `destination` there.
pub struct PushCopy<'a, L: CopyLog> {
    pub registry: &'a RegistryService,
    /// Pull in the source repository's project.
    pub grant: &'a ProjectGrant,
    pub remote: &'a Remote,
    pub source: &'a RepoName,
    pub destination: &'a str,
    pub override_existing: bool,
    pub log: &'a L,
}

impl<L: CopyLog> PushCopy<'_, L> {
    fn scope(&self) -> String {
        format!("repository:{}:pull,push", self.destination)
    }

    /// Copies the manifest `digest` with everything it needs and its
    /// referrers, then points `tags` at it.
    pub async fn artifact(&self, digest: &Digest, tags: &[&str]) -> Result<Moved, CopyError> {
        let mut moved = Moved::default();
        let stored = self.manifest(digest, 0, &mut moved).await?;
        let referrers = self
            .registry
            .referrers(self.source, digest, None, self.grant)
            .await
            .map_err(|source| CopyError::Local { what: format!("the referrers of {digest}"), source })?;
        for referrer in referrers {
            let Ok(referrer) = referrer.digest.parse::<Digest>() else { continue };
            self.log.line(format!("referrer {referrer}")).await;
            self.manifest(&referrer, 0, &mut moved).await?;
        }
        for tag in tags {
            if !self.override_existing
                && let Some(existing) = self.remote_digest(tag).await?
                && existing != digest.to_string()
            {
                self.log.line(format!("tag {tag} names {existing} there; the policy does not override it")).await;
                continue;
            }
            self.put_manifest(tag, &stored.media_type, &stored.content).await?;
            self.log.line(format!("tagged {tag}")).await;
        }
        Ok(moved)
    }

    /// Copies a manifest (children and blobs first) under its digest;
    /// returns it, for tagging.
    async fn manifest(
        &self,
        digest: &Digest,
        depth: usize,
        moved: &mut Moved,
    ) -> Result<registry::StoredManifest, CopyError> {
        if self.log.stopped() {
            return Err(CopyError::Stopped);
        }
        let stored = self.stored(digest).await?;
        let parsed = manifest::parse(&stored.content, Some(&stored.media_type))
            .map_err(|e| CopyError::Local { what: format!("manifest {digest}"), source: e.into() })?;
        for needed in &parsed.needs {
            match needed {
                Needed::Blob(blob) => self.blob(blob, moved).await?,
                Needed::Manifest(child) if depth < MAX_DEPTH => {
                    Box::pin(self.manifest(child, depth + 1, moved)).await?;
                }
                Needed::Manifest(child) => {
                    let detail = format!("{child} nests more than {MAX_DEPTH} indexes deep");
                    return Err(RemoteError::Protocol { registry: self.remote.name().to_owned(), detail }.into());
                }
            }
        }
        self.put_manifest(&digest.to_string(), &stored.media_type, &stored.content).await?;
        moved.manifests += 1;
        Ok(stored)
    }

    async fn stored(&self, digest: &Digest) -> Result<registry::StoredManifest, CopyError> {
        self.registry
            .stat_manifest(self.source, &Reference::Digest(digest.clone()), &[], self.grant)
            .await
            .map_err(|source| CopyError::Local { what: format!("manifest {digest}"), source })
    }

    /// Sends a blob unless the destination has it.
    async fn blob(&self, digest: &Digest, moved: &mut Moved) -> Result<(), CopyError> {
        let path = format!("v2/{}/blobs/{digest}", self.destination);
        let present = self
            .retrying(|| async {
                let response =
                    self.remote.send(Method::HEAD, &path, Some(&self.scope()), &HeaderMap::new(), None, None).await?;
                match response.status() {
                    StatusCode::OK => Ok(true),
                    StatusCode::NOT_FOUND => Ok(false),
                    status => Err(self.remote.refusal(status, "HEAD", &format!("/{path}"), response).await),
                }
            })
            .await?;
        if present {
            moved.blobs_present += 1;
            return Ok(());
        }
        let size = self.retrying(|| self.upload(digest)).await?;
        moved.blobs_sent += 1;
        moved.bytes += size;
        self.log.line(format!("sent blob {digest} ({size} bytes)")).await;
        Ok(())
    }

    /// One upload of a blob: a POST for the upload's location, then the
    /// content in one streamed PUT.
    async fn upload(&self, digest: &Digest) -> Result<u64, RemoteError> {
        let start = format!("v2/{}/blobs/uploads/", self.destination);
        let response =
            self.remote.send(Method::POST, &start, Some(&self.scope()), &HeaderMap::new(), None, None).await?;
        if response.status() != StatusCode::ACCEPTED {
            return Err(self.remote.refusal(response.status(), "POST", &format!("/{start}"), response).await);
        }
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .ok_or_else(|| RemoteError::Protocol {
                registry: self.remote.name().into(),
                detail: "an upload without a Location".into(),
            })?
            .to_owned();
        let separator = if location.contains('?') { '&' } else { '?' };
        let target = format!("{location}{separator}digest={digest}");
        let (reader, _) =
            self.registry.read_blob::<registry::Error>(self.source, digest, self.grant, |_| Ok(None)).await.map_err(
                |e| RemoteError::Protocol {
                    registry: self.remote.name().into(),
                    detail: format!("reading {digest} here: {e}"),
                },
            )?;
        let size = reader.size;
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
        let body = reqwest::Body::wrap_stream(reader.body);
        let response = self.remote.send(Method::PUT, &target, Some(&self.scope()), &headers, Some(body), None).await?;
        if response.status() != StatusCode::CREATED {
            return Err(self.remote.refusal(response.status(), "PUT", "the blob upload", response).await);
        }
        Ok(size)
    }

    async fn put_manifest(&self, reference: &str, media_type: &str, content: &[u8]) -> Result<(), CopyError> {
        let path = format!("v2/{}/manifests/{reference}", self.destination);
        self.retrying(|| async {
            let mut headers = HeaderMap::new();
            let kind = HeaderValue::from_str(media_type).map_err(|_| RemoteError::Protocol {
                registry: self.remote.name().into(),
                detail: format!("media type {media_type:?}"),
            })?;
            headers.insert(header::CONTENT_TYPE, kind);
            let body = reqwest::Body::from(content.to_vec());
            let response =
                self.remote.send(Method::PUT, &path, Some(&self.scope()), &headers, Some(body), None).await?;
            match response.status() {
                StatusCode::CREATED | StatusCode::OK => Ok(()),
                status => Err(self.remote.refusal(status, "PUT", &format!("/{path}"), response).await),
            }
        })
        .await?;
        Ok(())
    }

    /// The digest the destination's `tag` names, if it has one.
    async fn remote_digest(&self, tag: &str) -> Result<Option<String>, CopyError> {
        let path = format!("v2/{}/manifests/{tag}", self.destination);
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT_ANY_MANIFEST));
        let response = self.remote.send(Method::HEAD, &path, Some(&self.scope()), &headers, None, None).await?;
        match response.status() {
            StatusCode::OK => {
                Ok(response.headers().get("docker-content-digest").and_then(|d| d.to_str().ok()).map(str::to_owned))
            }
            StatusCode::NOT_FOUND => Ok(None),
            status => Err(self.remote.refusal(status, "HEAD", &format!("/{path}"), response).await.into()),
        }
    }

    /// Runs `attempt` until it works, fails for good, or [`TRIES`] are used;
    /// waits [`FIRST_BACKOFF`], doubling, between tries that may work later.
    async fn retrying<T, F, Fut>(&self, attempt: F) -> Result<T, CopyError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, RemoteError>>,
    {
        let mut wait = FIRST_BACKOFF;
        let mut tried = 1;
        loop {
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(error) if error.is_transient() && tried < TRIES && !self.log.stopped() => {
                    self.log
                        .line(format!("try {tried} of {TRIES} failed: {error}; again in {} s", wait.as_secs()))
                        .await;
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    tried += 1;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
}

/// Every manifest type, for asking which manifest a tag names.
const ACCEPT_ANY_MANIFEST: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";
