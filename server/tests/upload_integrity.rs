//! A published blob never changes: once an upload's commit starts, no other
//! request, on this node or another sharing the database and store, can
//! write to it, and the bytes published are exactly the bytes hashed.
//!
//! The race is made deterministic with a store that stops inside the commit
//! until the test lets it go. A second registry service over the same
//! database and store plays the part of another node.

mod common;

use std::{fmt, sync::Arc, time::Duration};

use app::core::{
    registry::{RegistryService, digest::Digest, error::Error, names::RepoName},
    storage::{BlobReader, BlobStore, ByteRange, ByteStream, DiskSpace, Result, StagedUpload, StreamedHash, UploadId},
};
use async_trait::async_trait;
use bytes::Bytes;
use common::{Backend, TestServer};
use reqwest::StatusCode;
use tokio::sync::{Notify, Semaphore};

/// The real store, except that a commit waits between being asked and
/// publishing until the test releases it.
struct PausingStore {
    inner: Arc<dyn BlobStore>,
    committing: Notify,
    release: Semaphore,
}

impl fmt::Debug for PausingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PausingStore")
    }
}

#[async_trait]
impl BlobStore for PausingStore {
    fn location(&self) -> String {
        self.inner.location()
    }
    async fn check_writable(&self) -> Result<()> {
        self.inner.check_writable().await
    }
    async fn disk_space(&self) -> Result<Option<DiskSpace>> {
        self.inner.disk_space().await
    }
    async fn start_upload(&self, id: &UploadId) -> Result<()> {
        self.inner.start_upload(id).await
    }
    async fn append_upload(
        &self,
        id: &UploadId,
        offset: u64,
        data: ByteStream,
        hasher: Option<&mut app::core::registry::digest::Hasher>,
    ) -> Result<u64> {
        self.inner.append_upload(id, offset, data, hasher).await
    }
    async fn upload_size(&self, id: &UploadId) -> Result<Option<u64>> {
        self.inner.upload_size(id).await
    }
    async fn commit_upload(&self, id: &UploadId, expected: &Digest, hashed: Option<StreamedHash>) -> Result<u64> {
        self.committing.notify_one();
        self.release.acquire().await.expect("the test never closes the gate").forget();
        self.inner.commit_upload(id, expected, hashed).await
    }
    async fn cancel_upload(&self, id: &UploadId) -> Result<()> {
        self.inner.cancel_upload(id).await
    }
    async fn list_uploads(&self) -> Result<Vec<StagedUpload>> {
        self.inner.list_uploads().await
    }
    async fn stat(&self, digest: &Digest) -> Result<Option<u64>> {
        self.inner.stat(digest).await
    }
    async fn read(&self, digest: &Digest, range: Option<ByteRange>) -> Result<Option<BlobReader>> {
        self.inner.read(digest, range).await
    }
    async fn delete(&self, digest: &Digest) -> Result<()> {
        self.inner.delete(digest).await
    }
    async fn quarantine(&self, digest: &Digest) -> Result<bool> {
        self.inner.quarantine(digest).await
    }
}

fn bytes(content: Vec<u8>) -> ByteStream {
    Box::pin(futures_util::stream::iter([Ok(Bytes::from(content))]))
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
}

async fn pull_digest(server: &TestServer, repo: &str, digest: &Digest) -> Digest {
    let response = common::admin_client().get(server.url(&format!("/v2/{repo}/blobs/{digest}"))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    Digest::sha256_of(&response.bytes().await.unwrap())
}

/// A chunk sent while the commit is under way, to the same node or to
/// another one, is refused at once and changes nothing; the blob published
/// is exactly the one hashed.
async fn a_chunk_during_the_commit_cannot_change_the_blob(backend: Backend) {
    let server = TestServer::start(backend).await;
    let store = Arc::new(PausingStore {
        inner: server.state.blobs.clone(),
        committing: Notify::new(),
        release: Semaphore::new(0),
    });
    let this_node = RegistryService::new(
        server.state.db.clone(),
        store.clone(),
        server.state.events.clone(),
        app::core::cache::ReadCache::off(),
        4 << 20,
    );
    let repo = RepoName::parse("library/race", "127.0.0.1").unwrap();
    let content = pattern(5 << 20, 7);
    let digest = Digest::sha256_of(&content);
    let admin = server.admin_actor().await;
    let grant = server.state.access.require(&admin, "library", app::core::rbac::Action::Push).await.unwrap();

    for other_node in [false, true] {
        let id = this_node.start_upload(&grant, &repo).await.unwrap();
        this_node.append_upload(&grant, &repo, &id, Some(0), bytes(content.clone())).await.unwrap();
        let commit = tokio::spawn({
            let (service, grant, repo, id, digest) =
                (this_node.clone(), grant.clone(), repo.clone(), id.clone(), digest.clone());
            async move { service.complete_upload(&grant, &repo, &id, &digest, None).await }
        });
        store.committing.notified().await;

        // The commit has started and is held before publishing.
        let late = if other_node {
            let url = server.url(&format!("/v2/{repo}/blobs/uploads/{id}"));
            let response = common::admin_client()
                .patch(url)
                .header("content-type", "application/octet-stream")
                .body(b"appended after the commit began".to_vec())
                .send();
            let response = tokio::time::timeout(Duration::from_secs(10), response).await.expect("refused at once");
            let response = response.unwrap();
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "the other node finds the upload gone");
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["errors"][0]["code"], "BLOB_UPLOAD_UNKNOWN");
            None
        } else {
            let late_chunk = bytes(b"appended after the commit began".to_vec());
            let append = this_node.append_upload(&grant, &repo, &id, None, late_chunk);
            Some(tokio::time::timeout(Duration::from_secs(10), append).await.expect("refused at once"))
        };
        if let Some(outcome) = late {
            assert!(matches!(outcome, Err(Error::UploadUnknown)), "{outcome:?}");
        }

        store.release.add_permits(1);
        assert_eq!(commit.await.unwrap().unwrap(), content.len() as u64);
        assert_eq!(
            pull_digest(&server, "library/race", &digest).await,
            digest,
            "the published bytes hash to the digest"
        );
        let size = server.state.blobs.stat(&digest).await.unwrap();
        assert_eq!(size, Some(content.len() as u64));
        assert!(server.state.blobs.upload_size(&id).await.unwrap().is_none(), "nothing stays staged");
        server.state.blobs.delete(&digest).await.unwrap();
    }
    server.stop().await;
}

/// The report's reproduction over HTTP: a large chunk, the closing `PUT`,
/// and another chunk a few milliseconds later. Whichever request wins, the
/// blob under the digest is the one pushed, or there is none.
async fn a_late_chunk_over_http_never_changes_a_published_blob(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = common::admin_client();
    let content = pattern(20 << 20, 3);
    let digest = Digest::sha256_of(&content);
    let mut published = 0;
    for delay_ms in [0u64, 2, 5, 10, 20] {
        let started = client.post(server.url("/v2/library/late/blobs/uploads/")).send().await.unwrap();
        assert_eq!(started.status(), StatusCode::ACCEPTED);
        let location = server.url(started.headers()["location"].to_str().unwrap());
        let chunk = client
            .patch(&location)
            .header("content-type", "application/octet-stream")
            .body(content.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(chunk.status(), StatusCode::ACCEPTED);
        let separator = if location.contains('?') { '&' } else { '?' };
        let close = client.put(format!("{location}{separator}digest={digest}")).send();
        let late = async {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            client.patch(&location).header("content-type", "application/octet-stream").body("tail").send().await
        };
        let (close, late) = tokio::join!(close, late);
        let (close, late) = (close.unwrap().status(), late.unwrap().status());
        assert!(
            close == StatusCode::CREATED || close == StatusCode::BAD_REQUEST || close == StatusCode::NOT_FOUND,
            "closing answered {close}"
        );
        if late.is_success() {
            assert_ne!(close, StatusCode::CREATED, "a chunk was accepted into an upload that was published");
        }
        published += usize::from(close == StatusCode::CREATED);
        let pulled = client.get(server.url(&format!("/v2/library/late/blobs/{digest}"))).send().await.unwrap();
        if pulled.status() == StatusCode::OK {
            assert_eq!(Digest::sha256_of(&pulled.bytes().await.unwrap()), digest, "after {delay_ms} ms");
        }
        server.state.blobs.delete(&digest).await.unwrap();
    }
    assert!(published > 0, "no push was ever published: the race was never run to its end");
    server.stop().await;
}

/// A push refused by the quota leaves nothing: no staged or published
/// bytes, no repository it created; manifests are held to the quota too.
async fn a_refused_push_leaves_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = common::admin_client();
    let project = serde_json::json!({"project_name": "tight", "storage_limit": 1 << 20});
    let created = admin.post(server.url("/api/v2.0/projects")).json(&project).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let repositories = server.url("/api/v2.0/projects/tight/repositories");
    let storage = server.data_dir.join("storage");

    // Chunked: 3 MiB in one PATCH, refused at the closing PUT.
    let big = pattern(3 << 20, 9);
    let digest = Digest::sha256_of(&big);
    let started = admin.post(server.url("/v2/tight/big/blobs/uploads/")).send().await.unwrap();
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let location = server.url(started.headers()["location"].to_str().unwrap());
    let chunk = admin.patch(&location).header("content-type", "application/octet-stream").body(big.clone()).send();
    assert_eq!(chunk.await.unwrap().status(), StatusCode::ACCEPTED);
    let separator = if location.contains('?') { '&' } else { '?' };
    let close = admin.put(format!("{location}{separator}digest={digest}")).send().await.unwrap();
    assert_eq!(close.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = close.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "DENIED");
    // Monolithic: refused as well.
    assert_eq!(common::push_blob(&admin, &server, "tight/other", &pattern(2 << 20, 1)).await, StatusCode::FORBIDDEN);
    let left = common::files_under(&storage);
    assert!(left.is_empty(), "bytes left behind: {left:?}");
    let listed: Vec<serde_json::Value> = admin.get(&repositories).send().await.unwrap().json().await.unwrap();
    assert!(listed.is_empty(), "refused pushes left repositories: {listed:?}");

    // A manifest that would pass the quota is refused too; one that fits is stored.
    let layer = pattern((1 << 20) - 2048, 5);
    assert_eq!(common::push_blob(&admin, &server, "tight/app", &layer).await, StatusCode::CREATED);
    assert_eq!(common::push_blob(&admin, &server, "tight/app", b"{}").await, StatusCode::CREATED);
    let manifest = |padding: usize| {
        serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": Digest::sha256_of(b"{}").to_string(), "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": Digest::sha256_of(&layer).to_string(), "size": layer.len()}],
            "annotations": {"padding": "x".repeat(padding)},
        })
        .to_string()
    };
    let put = |body: String| {
        admin
            .put(server.url("/v2/tight/app/manifests/v1"))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(body)
            .send()
    };
    let refused = put(manifest(4096)).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let pulled = admin.get(server.url("/v2/tight/app/manifests/v1")).send().await.unwrap();
    assert_eq!(pulled.status(), StatusCode::NOT_FOUND, "the refused manifest was not stored");
    assert_eq!(put(manifest(10)).await.unwrap().status(), StatusCode::CREATED);
    server.stop().await;
}

on_both_databases!(
    a_chunk_during_the_commit_cannot_change_the_blob,
    a_late_chunk_over_http_never_changes_a_published_blob,
    a_refused_push_leaves_nothing
);
