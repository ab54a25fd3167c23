//! Fetching one artifact from a remote registry into this one. Manifests
//! are fetched by digest and checked against it; a manifest this
//! repository has already is kept with everything under it; a blob it
//! has is not fetched, one another repository of the same project got in
//! this execution is mounted from there, and the rest is streamed from the
//! remote into the blob store, hashed on the way, cut off past the size
//! the manifest declares and paced to the policy's speed limit. Nothing is
//! stored under a digest its bytes do not have.

use std::{collections::HashMap, sync::Mutex};

use futures_util::TryStreamExt;
use reqwest::StatusCode;

use super::{CHUNK, CopyError, CopyLog, MAX_DEPTH, Moved, Transfer, retrying, stream};
use crate::core::{
    access::ProjectGrant,
    registry::{
        self, RegistryService,
        digest::Digest,
        manifest::{self, Manifest, Needed},
        names::{Reference, RepoName},
    },
    replication::remote::{Remote, RemoteError, RemoteManifest},
    storage::{ByteStream, UploadId},
};

/// One artifact's copy from `source` there to `destination` here.
pub struct PullCopy<'a, L: CopyLog> {
    pub registry: &'a RegistryService,
    /// Push in the destination repository's project.
    pub grant: &'a ProjectGrant,
    pub remote: &'a Remote,
    pub source: &'a str,
    pub destination: &'a RepoName,
    pub override_existing: bool,
    pub transfer: &'a Transfer,
    pub log: &'a L,
}

impl<L: CopyLog> PullCopy<'_, L> {
    /// Copies the manifest `digest` with everything it needs and its
    /// referrers (where the remote lists them), then points `tags` at it.
    pub async fn artifact(&self, digest: &Digest, tags: &[&str]) -> Result<Moved, CopyError> {
        let mut moved = Moved::default();
        // Which tags to point here, decided first: an artifact whose every
        // tag the policy may not move is not copied at all.
        let (mut to_tag, mut refused) = (Vec::new(), 0);
        for tag in tags {
            let reference = Reference::parse(tag)
                .map_err(|e| self.remote_protocol(format!("the tag {tag:?} cannot be stored here: {e}")))?;
            match self.local_manifest(&reference).await?.map(|stored| stored.digest) {
                Some(existing) if existing == digest.to_string() => {
                    self.log.line(format!("tag {tag} names it here already")).await;
                }
                Some(existing) if !self.override_existing => {
                    self.log.line(format!("tag {tag} names {existing} here; the policy does not override it")).await;
                    refused += 1;
                }
                _ => to_tag.push((tag, reference)),
            }
        }
        if refused > 0 && refused == tags.len() {
            return Ok(moved);
        }
        let (media_type, content) = self.manifest(digest, None, 0, &mut moved).await?;
        let listed =
            retrying(self.log, || async { Ok(self.remote.referrers(self.source, &digest.to_string()).await?) });
        match listed.await? {
            None => self.log.line(format!("{} does not list referrers", self.remote.name())).await,
            Some(referrers) => {
                for referrer in referrers {
                    let Ok(referrer) = referrer.parse::<Digest>() else { continue };
                    self.log.line(format!("referrer {referrer}")).await;
                    self.manifest(&referrer, None, 0, &mut moved).await?;
                }
            }
        }
        for (tag, reference) in to_tag {
            self.registry
                .put_manifest(self.destination, &reference, &content, Some(&media_type), self.grant)
                .await
                .map_err(|source| CopyError::Local { what: format!("tagging {tag}"), source })?;
            self.log.line(format!("tagged {tag}")).await;
        }
        Ok(moved)
    }

    /// Copies a manifest (children and blobs first) under its digest;
    /// returns its media type and bytes, for tagging. `declared` is the
    /// size its parent's descriptor gives.
    async fn manifest(
        &self,
        digest: &Digest,
        declared: Option<u64>,
        depth: usize,
        moved: &mut Moved,
    ) -> Result<(String, Vec<u8>), CopyError> {
        if self.log.stopped() {
            return Err(CopyError::Stopped);
        }
        let by_digest = Reference::Digest(digest.clone());
        if let Some(stored) = self.local_manifest(&by_digest).await? {
            // Stored manifests have all they name: nothing under it to fetch.
            return Ok((stored.media_type, stored.content.to_vec()));
        }
        let limit = declared.map_or(self.registry.max_manifest_bytes(), |size| {
            usize::try_from(size).unwrap_or(usize::MAX).min(self.registry.max_manifest_bytes())
        });
        let RemoteManifest { media_type, content } =
            retrying(self.log, || async { Ok(self.remote.manifest(self.source, &digest.to_string(), limit).await?) })
                .await?;
        let actual = Digest::of(digest.algorithm(), &content);
        if actual != *digest {
            return Err(self.remote_protocol(format!("served {actual} for manifest {digest}")));
        }
        let parsed = manifest::parse(&content, Some(&media_type))
            .map_err(|e| self.remote_protocol(format!("manifest {digest} cannot be stored: {e}")))?;
        let sizes = declared_sizes(&content);
        for needed in &parsed.needs {
            match needed {
                Needed::Blob(blob) => self.blob(blob, sizes.get(blob).copied(), moved).await?,
                Needed::Manifest(child) if depth < MAX_DEPTH => {
                    Box::pin(self.manifest(child, sizes.get(child).copied(), depth + 1, moved)).await?;
                }
                Needed::Manifest(child) => {
                    return Err(self.remote_protocol(format!("{child} nests more than {MAX_DEPTH} indexes deep")));
                }
            }
        }
        self.registry
            .put_manifest(self.destination, &by_digest, &content, Some(&media_type), self.grant)
            .await
            .map_err(|source| CopyError::Local { what: format!("storing manifest {digest}"), source })?;
        moved.manifests += 1;
        Ok((parsed.media_type.to_owned(), content))
    }

    /// Fetches a blob unless this repository has it, mounting it from
    /// another repository of the project that got it in this execution.
    async fn blob(&self, digest: &Digest, declared: Option<u64>, moved: &mut Moved) -> Result<(), CopyError> {
        let digest_text = digest.to_string();
        match self.registry.stat_blob(self.destination, digest, self.grant).await {
            Ok(_) => {
                moved.blobs_present += 1;
                return Ok(());
            }
            Err(registry::Error::BlobUnknown | registry::Error::NameUnknown) => {}
            Err(source) => return Err(CopyError::Local { what: format!("looking for blob {digest}"), source }),
        }
        let claim = self.transfer.claim(&digest_text, self.destination.as_str()).await;
        if let Some(from) = self.mount_source(claim.mount_from.as_deref())
            && let Some(_) = self
                .registry
                .mount_blob(self.grant, self.destination, self.grant, &from, digest)
                .await
                .map_err(|source| CopyError::Local { what: format!("mounting blob {digest}"), source })?
        {
            moved.blobs_mounted += 1;
            self.log.line(format!("mounted blob {digest} from {from}")).await;
            claim.done(self.destination.as_str());
            return Ok(());
        }
        let Some(limit) = declared else {
            return Err(self.remote_protocol(format!("the manifest gives no size for {digest}")));
        };
        let session = Mutex::new(None);
        let fetched = retrying(self.log, || async {
            if self.transfer.chunked(limit) {
                return self.fetch_chunked(digest, limit, &session).await;
            }
            let response = self.remote.blob(self.source, &digest_text, None).await?;
            self.registry
                .upload_monolithic(self.grant, self.destination, digest, self.body(response, limit))
                .await
                .map_err(|source| CopyError::Local { what: format!("storing blob {digest}"), source })
        })
        .await;
        if fetched.is_err()
            && let Some(id) = session.into_inner().unwrap_or_else(|e| e.into_inner())
        {
            // Given up: the part fetched is not kept.
            if let Err(error) = self.registry.cancel_upload(self.grant, self.destination, &id).await {
                tracing::warn!(%error, upload = %id, "a replicated blob's unfinished upload was not removed");
            }
        }
        let size = fetched?;
        moved.blobs_sent += 1;
        moved.bytes += size;
        self.log.line(format!("fetched blob {digest} ({size} bytes)")).await;
        claim.done(self.destination.as_str());
        Ok(())
    }

    /// One try at fetching a large blob in ranges of [`CHUNK`] bytes into an
    /// upload here, kept in `session` so the next try resumes where this
    /// one stopped; the digest is checked when the upload completes.
    async fn fetch_chunked(
        &self,
        digest: &Digest,
        size: u64,
        session: &Mutex<Option<UploadId>>,
    ) -> Result<u64, CopyError> {
        let local = |what: &str, source| CopyError::Local { what: format!("{what} blob {digest}"), source };
        let kept = session.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let resumed = match kept {
            Some(id) => match self.registry.upload_progress(self.grant, self.destination, &id).await {
                Ok(offset) => Some((id, offset)),
                Err(registry::Error::UploadUnknown) => None,
                Err(source) => return Err(local("resuming", source)),
            },
            None => None,
        };
        let (mut id, mut offset) = match resumed {
            Some(at) => at,
            None => {
                let id = self
                    .registry
                    .start_upload(self.grant, self.destination)
                    .await
                    .map_err(|source| local("storing", source))?;
                *session.lock().unwrap_or_else(|e| e.into_inner()) = Some(id.clone());
                (id, 0)
            }
        };
        if offset > 0 {
            self.log.line(format!("resuming blob {digest} at byte {offset} of {size}")).await;
        }
        while offset < size {
            if self.log.stopped() {
                return Err(CopyError::Stopped);
            }
            let last = (offset + CHUNK - 1).min(size - 1);
            let response = self.remote.blob(self.source, &digest.to_string(), Some((offset, last))).await?;
            let (start, body) = match response.status() {
                StatusCode::PARTIAL_CONTENT => {
                    let first = content_range_start(&response);
                    if first != Some(offset) {
                        let detail =
                            format!("answered bytes from {first:?} when asked for {offset}-{last} of {digest}");
                        return Err(self.remote_protocol(detail));
                    }
                    (offset, self.body(response, last - offset + 1))
                }
                // The whole blob for a range: taken whole, into an upload from its start.
                _ => {
                    if offset > 0 {
                        self.log.line(format!("the source ignored the range; fetching {digest} from its start")).await;
                        if let Err(error) = self.registry.cancel_upload(self.grant, self.destination, &id).await {
                            tracing::warn!(%error, upload = %id, "an upload the source's answer made useless was not removed");
                        }
                        id = self
                            .registry
                            .start_upload(self.grant, self.destination)
                            .await
                            .map_err(|source| local("storing", source))?;
                        *session.lock().unwrap_or_else(|e| e.into_inner()) = Some(id.clone());
                    }
                    (0, self.body(response, size))
                }
            };
            let reached = self
                .registry
                .append_upload(self.grant, self.destination, &id, Some(start), body)
                .await
                .map_err(|source| local("storing", source))?;
            if reached <= start {
                return Err(self.remote_protocol(format!("sent no bytes of {digest} from byte {start}")));
            }
            offset = reached;
        }
        self.registry
            .complete_upload(self.grant, self.destination, &id, digest, None)
            .await
            .map_err(|source| local("storing", source))?;
        session.lock().unwrap_or_else(|e| e.into_inner()).take();
        Ok(size)
    }

    /// A response's bytes, cut off past `limit` and paced to the speed limit.
    fn body(&self, response: reqwest::Response, limit: u64) -> ByteStream {
        let body: ByteStream = Box::pin(response.bytes_stream().map_err(std::io::Error::other));
        stream::paced(stream::bounded(body, limit), self.transfer.speed_kb)
    }

    /// The repository to mount a blob from, when it is in the destination's project.
    fn mount_source(&self, known_at: Option<&str>) -> Option<RepoName> {
        let from = RepoName::parse(known_at?, "").ok()?;
        // Only within the project: its readers may read the blob anyway.
        (from.project() == self.destination.project()).then_some(from)
    }

    /// The manifest `reference` names here, if it names one.
    async fn local_manifest(&self, reference: &Reference) -> Result<Option<registry::StoredManifest>, CopyError> {
        match self.registry.stat_manifest(self.destination, reference, &[], self.grant).await {
            Ok(stored) => Ok(Some(stored)),
            Err(registry::Error::ManifestUnknown | registry::Error::NameUnknown) => Ok(None),
            Err(source) => Err(CopyError::Local { what: format!("reading {reference}"), source }),
        }
    }

    fn remote_protocol(&self, detail: String) -> CopyError {
        RemoteError::Protocol { registry: self.remote.name().to_owned(), detail }.into()
    }
}

/// The sizes a manifest's descriptors declare, by digest: each blob and
/// child is read no further than that.
fn declared_sizes(content: &[u8]) -> HashMap<Digest, u64> {
    let Some(manifest) = Manifest::read(content) else { return HashMap::new() };
    manifest
        .config
        .iter()
        .chain(manifest.layers())
        .chain(manifest.children())
        .filter_map(|descriptor| {
            let digest = descriptor.digest.as_deref()?.parse().ok()?;
            Some((digest, u64::try_from(descriptor.size?).ok()?))
        })
        .collect()
}

/// Where a 206's `Content-Range: bytes <first>-<last>/<size>` starts.
fn content_range_start(response: &reqwest::Response) -> Option<u64> {
    let value = response.headers().get(reqwest::header::CONTENT_RANGE)?.to_str().ok()?;
    value.trim().strip_prefix("bytes ")?.split_once('-')?.0.trim().parse().ok()
}
