//! Sending one artifact from this registry to a remote one. A blob the
//! destination has is not sent (HEAD); one it has in another repository
//! this execution sent to is mounted from there (`?mount=&from=`); the
//! rest is streamed in one PUT per blob or, copying by chunk, in PATCHes a
//! retry resumes after; either way paced to the policy's speed limit.

use reqwest::{
    Method, StatusCode,
    header::{self, HeaderMap, HeaderValue},
};

use std::sync::Mutex;

use super::{CHUNK, CopyError, CopyLog, MAX_DEPTH, Moved, Transfer, retrying, stream};
use crate::core::{
    access::ProjectGrant,
    registry::{
        self, RegistryService,
        digest::Digest,
        manifest::{self, Needed},
        names::{Reference, RepoName},
    },
    replication::remote::{Remote, RemoteError},
    storage::ByteRange,
};

/// Where a blob upload at the destination stands after its POST.
enum Started {
    /// Mounted from another repository there: nothing to send.
    Mounted,
    /// An upload to send the bytes to.
    At(String),
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
    pub transfer: &'a Transfer,
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
        // Which tags to point there, decided first: an artifact whose every
        // tag the policy may not move is not copied at all.
        let (mut to_tag, mut refused) = (Vec::new(), 0);
        for tag in tags {
            match self.remote_digest(tag).await? {
                Some((existing, _)) if existing == digest.to_string() => {
                    self.log.line(format!("tag {tag} names it there already")).await;
                }
                Some((existing, _)) if !self.override_existing => {
                    self.log.line(format!("tag {tag} names {existing} there; the policy does not override it")).await;
                    refused += 1;
                }
                _ => to_tag.push(*tag),
            }
        }
        if refused > 0 && refused == tags.len() {
            return Ok(moved);
        }
        let stored = self.manifest(digest, 0, &mut moved).await?;
        let referrers = self
            .registry
            .referrers(self.source, digest, None, self.grant)
            .await
            .map_err(|source| CopyError::Local { what: format!("reading the referrers of {digest}"), source })?;
        for referrer in referrers {
            let Ok(referrer) = referrer.digest.parse::<Digest>() else { continue };
            self.log.line(format!("referrer {referrer}")).await;
            self.manifest(&referrer, 0, &mut moved).await?;
        }
        for tag in to_tag {
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
        if self.remote_digest(&digest.to_string()).await?.is_some() {
            // A manifest the destination has comes with all it names.
            return Ok(stored);
        }
        let parsed = manifest::parse(&stored.content, Some(&stored.media_type))
            .map_err(|e| CopyError::Local { what: format!("reading manifest {digest}"), source: e.into() })?;
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
            .map_err(|source| CopyError::Local { what: format!("reading manifest {digest}"), source })
    }

    /// Sends a blob unless the destination has it, mounting it when the
    /// destination has it in another repository.
    async fn blob(&self, digest: &Digest, moved: &mut Moved) -> Result<(), CopyError> {
        let digest_text = digest.to_string();
        let path = format!("v2/{}/blobs/{digest}", self.destination);
        let present = retrying(self.log, || async {
            let response =
                self.remote.send(Method::HEAD, &path, Some(&self.scope()), &HeaderMap::new(), None, None).await?;
            match response.status() {
                StatusCode::OK => Ok(true),
                StatusCode::NOT_FOUND => Ok(false),
                status => Err(self.remote.refusal(status, "HEAD", &format!("/{path}"), response).await.into()),
            }
        })
        .await?;
        if present {
            moved.blobs_present += 1;
            return Ok(());
        }
        let claim = self.transfer.claim(&digest_text, self.destination).await;
        let mount_from = claim.mount_from.clone();
        let session = Mutex::new(None);
        let uploaded = retrying(self.log, || self.upload(digest, mount_from.as_deref(), &session)).await;
        if uploaded.is_err()
            && let Some(location) = session.into_inner().unwrap_or_else(|e| e.into_inner())
        {
            // Given up: the destination need not keep the part sent.
            self.delete_upload(&location).await;
        }
        match uploaded? {
            None => {
                moved.blobs_mounted += 1;
                self.log.line(format!("mounted blob {digest} from {}", mount_from.unwrap_or_default())).await;
            }
            Some(size) => {
                moved.blobs_sent += 1;
                moved.bytes += size;
                self.log.line(format!("sent blob {digest} ({size} bytes)")).await;
            }
        }
        claim.done(self.destination);
        Ok(())
    }

    /// One try at uploading a blob: a POST (asking to mount it from
    /// `mount_from`, if given), then unless mounted the content, in one
    /// streamed PUT or, with `copy_by_chunk`, in PATCHes of [`CHUNK`]
    /// bytes. A chunked upload is kept in `session` as it goes, so the
    /// next try resumes where the destination confirmed. Returns the
    /// bytes sent, `None` when mounted.
    async fn upload(
        &self,
        digest: &Digest,
        mount_from: Option<&str>,
        session: &Mutex<Option<String>>,
    ) -> Result<Option<u64>, CopyError> {
        let size = self
            .registry
            .stat_blob(self.source, digest, self.grant)
            .await
            .map_err(|source| CopyError::Local { what: format!("reading blob {digest}"), source })?;
        // Kept until the upload completes: a try that fails before asking resumes too.
        let resumed = session.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let resumed = match resumed {
            Some(location) if self.transfer.chunked(size) => {
                let offset = self.upload_offset(&location).await?;
                if offset.is_none() {
                    self.log.line(format!("the destination dropped the upload of {digest}; starting it again")).await;
                    self.delete_upload(&location).await;
                }
                offset.map(|offset| (location, offset))
            }
            // A whole upload is not resumed: what arrived of it goes.
            Some(location) => {
                self.delete_upload(&location).await;
                None
            }
            None => None,
        };
        let (location, offset) = match resumed {
            Some(at) => at,
            None => match self.start_upload(digest, mount_from).await? {
                Started::Mounted => return Ok(None),
                Started::At(location) => (location, 0),
            },
        };
        // Kept until it completes, to resume (by chunk) or delete (given up).
        *session.lock().unwrap_or_else(|e| e.into_inner()) = Some(location.clone());
        if !self.transfer.chunked(size) {
            let sent = self.put_whole(digest, size, &location).await?;
            session.lock().unwrap_or_else(|e| e.into_inner()).take();
            return Ok(Some(sent));
        }
        if offset > 0 {
            self.log.line(format!("resuming blob {digest} at byte {offset} of {size}")).await;
        }
        let mut location = location;
        let mut offset = offset;
        while offset < size {
            if self.log.stopped() {
                return Err(CopyError::Stopped);
            }
            let last = (offset + CHUNK - 1).min(size - 1);
            let (reader, _) = self
                .registry
                .read_blob::<registry::Error>(self.source, digest, self.grant, |_| {
                    Ok(Some(ByteRange { first: offset, last }))
                })
                .await
                .map_err(|source| CopyError::Local { what: format!("reading blob {digest}"), source })?;
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(last - offset + 1));
            let range = HeaderValue::from_str(&format!("{offset}-{last}")).expect("digits and a dash");
            headers.insert(header::CONTENT_RANGE, range);
            let body = reqwest::Body::wrap_stream(stream::paced(reader.body, self.transfer.speed_kb));
            let response =
                self.remote.send(Method::PATCH, &location, Some(&self.scope()), &headers, Some(body), None).await?;
            if response.status() != StatusCode::ACCEPTED {
                // What arrived of this chunk is unknown: the next try asks.
                return Err(self.remote.refusal(response.status(), "PATCH", "the blob upload", response).await.into());
            }
            location = self.location_of(&response).unwrap_or(location);
            offset = last + 1;
            *session.lock().unwrap_or_else(|e| e.into_inner()) = Some(location.clone());
        }
        let target = with_digest(&location, digest);
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(0u64));
        let response = self.remote.send(Method::PUT, &target, Some(&self.scope()), &headers, None, None).await?;
        if response.status() != StatusCode::CREATED {
            return Err(self.remote.refusal(response.status(), "PUT", "the blob upload", response).await.into());
        }
        session.lock().unwrap_or_else(|e| e.into_inner()).take();
        Ok(Some(size))
    }

    /// Sends the whole blob in one streamed PUT to the upload at `location`.
    async fn put_whole(&self, digest: &Digest, size: u64, location: &str) -> Result<u64, CopyError> {
        let (reader, _) = self
            .registry
            .read_blob::<registry::Error>(self.source, digest, self.grant, |_| Ok(None))
            .await
            .map_err(|source| CopyError::Local { what: format!("reading blob {digest}"), source })?;
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
        let body = reqwest::Body::wrap_stream(stream::paced(reader.body, self.transfer.speed_kb));
        let target = with_digest(location, digest);
        let response = self.remote.send(Method::PUT, &target, Some(&self.scope()), &headers, Some(body), None).await?;
        if response.status() != StatusCode::CREATED {
            return Err(self.remote.refusal(response.status(), "PUT", "the blob upload", response).await.into());
        }
        Ok(size)
    }

    /// How many bytes the upload at `location` holds, as the destination
    /// confirms (`Range: 0-<last>`); `None` when the upload is gone or the
    /// answer does not say (the blob then starts again).
    async fn upload_offset(&self, location: &str) -> Result<Option<u64>, CopyError> {
        let response =
            self.remote.send(Method::GET, location, Some(&self.scope()), &HeaderMap::new(), None, None).await?;
        match response.status() {
            StatusCode::NO_CONTENT | StatusCode::OK => {
                let range = response.headers().get(header::RANGE).and_then(|r| r.to_str().ok());
                Ok(range.and_then(confirmed_bytes))
            }
            StatusCode::NOT_FOUND => Ok(None),
            status => Err(self.remote.refusal(status, "GET", "the blob upload", response).await.into()),
        }
    }

    /// What `reference` names at the destination, if anything (retried).
    async fn remote_digest(&self, reference: &str) -> Result<Option<(String, String)>, CopyError> {
        retrying(self.log, || async { Ok(self.remote.manifest_digest(self.destination, reference).await?) }).await
    }

    /// Deletes an unfinished upload at the destination, as far as it can.
    async fn delete_upload(&self, location: &str) {
        let deleted =
            self.remote.send(Method::DELETE, location, Some(&self.scope()), &HeaderMap::new(), None, None).await;
        if let Err(error) = deleted {
            tracing::warn!(%error, "an unfinished upload at the destination was not deleted");
        }
    }

    fn location_of(&self, response: &reqwest::Response) -> Option<String> {
        response.headers().get(header::LOCATION).and_then(|l| l.to_str().ok()).map(str::to_owned)
    }

    /// Starts an upload, mounting from `mount_from` when given; a mount the
    /// credential may not make falls back to a plain upload.
    async fn start_upload(&self, digest: &Digest, mount_from: Option<&str>) -> Result<Started, RemoteError> {
        match self.post_upload(digest, mount_from).await {
            Err(RemoteError::Unauthorized { .. } | RemoteError::Forbidden { .. }) if mount_from.is_some() => {
                self.post_upload(digest, None).await
            }
            started => started,
        }
    }

    async fn post_upload(&self, digest: &Digest, mount_from: Option<&str>) -> Result<Started, RemoteError> {
        let start = match mount_from {
            Some(from) => format!("v2/{}/blobs/uploads/?mount={digest}&from={from}", self.destination),
            None => format!("v2/{}/blobs/uploads/", self.destination),
        };
        let scope = match mount_from {
            // Mounting needs pull on the repository mounted from.
            Some(from) => format!("{} repository:{from}:pull", self.scope()),
            None => self.scope(),
        };
        let response = self.remote.send(Method::POST, &start, Some(&scope), &HeaderMap::new(), None, None).await?;
        match response.status() {
            StatusCode::CREATED if mount_from.is_some() => Ok(Started::Mounted),
            StatusCode::ACCEPTED => self.location_of(&response).map(Started::At).ok_or_else(|| RemoteError::Protocol {
                registry: self.remote.name().into(),
                detail: "an upload without a Location".into(),
            }),
            status => Err(self.remote.refusal(status, "POST", &format!("/{start}"), response).await),
        }
    }

    async fn put_manifest(&self, reference: &str, media_type: &str, content: &[u8]) -> Result<(), CopyError> {
        let path = format!("v2/{}/manifests/{reference}", self.destination);
        retrying(self.log, || async {
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
                status => Err(self.remote.refusal(status, "PUT", &format!("/{path}"), response).await.into()),
            }
        })
        .await
    }
}

/// The upload's URL with the blob's digest, to complete it.
fn with_digest(location: &str, digest: &Digest) -> String {
    let separator = if location.contains('?') { '&' } else { '?' };
    format!("{location}{separator}digest={digest}")
}

/// The bytes an upload's `Range: 0-<last>` confirms. Empty uploads are
/// `0-0` (distribution) or `0--1` (zot); chunks are never one byte, so
/// `0-0` is read as empty. Anything else is unreadable.
fn confirmed_bytes(range: &str) -> Option<u64> {
    let (first, last) = range.trim().split_once('-')?;
    if first.trim() != "0" {
        return None;
    }
    match last.trim().parse::<i64>().ok()? {
        -1 | 0 => Some(0),
        last if last > 0 => u64::try_from(last).ok().map(|l| l + 1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::confirmed_bytes;

    #[test]
    fn upload_ranges_are_read_strictly() {
        assert_eq!(confirmed_bytes("0-0"), Some(0));
        assert_eq!(confirmed_bytes("0--1"), Some(0), "zot's empty upload");
        assert_eq!(confirmed_bytes("0-10485759"), Some(10 << 20));
        assert_eq!(confirmed_bytes("5-9"), None);
        assert_eq!(confirmed_bytes("bytes=0-9"), None);
        assert_eq!(confirmed_bytes("0-x"), None);
        assert_eq!(confirmed_bytes(""), None);
    }
}
