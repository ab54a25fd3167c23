//! Manifests, tags, the catalog and referrers over real HTTP, on SQLite and
//! PostgreSQL.

mod common;

use app::core::registry::digest::{Algorithm, Digest};
use common::{Backend, TestServer};
use reqwest::{Client, StatusCode, header};
use serde_json::{Value, json};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

struct Registry {
    client: Client,
    server: TestServer,
}

impl Registry {
    async fn start(backend: Backend) -> Self {
        let server = TestServer::start(backend).await;
        server.create_projects(&["team", "multi", "paged", "another", "a", "del", "ref", "ev"]).await;
        Self { client: common::admin_client(), server }
    }

    async fn push_blob(&self, repo: &str, content: &[u8]) -> (Digest, usize) {
        let digest = Digest::sha256_of(content);
        let response = self
            .client
            .post(self.server.url(&format!("/v2/{repo}/blobs/uploads/?digest={digest}")))
            .body(content.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        (digest, content.len())
    }

    /// Pushes a config and one layer and returns an image manifest naming them.
    async fn image(&self, repo: &str, seed: &str) -> Vec<u8> {
        let (config, config_size) = self.push_blob(repo, format!("{{\"seed\":\"{seed}\"}}").as_bytes()).await;
        let (layer, layer_size) = self.push_blob(repo, format!("layer {seed}").as_bytes()).await;
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.to_string(), "size": config_size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer.to_string(), "size": layer_size}],
        }))
        .unwrap()
    }

    async fn put_manifest(&self, repo: &str, reference: &str, body: &[u8], media_type: &str) -> reqwest::Response {
        self.client
            .put(self.server.url(&format!("/v2/{repo}/manifests/{reference}")))
            .header(header::CONTENT_TYPE, media_type)
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.server.url(path)).send().await.unwrap()
    }
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["errors"][0]["code"].as_str().unwrap_or_default().to_owned()
}

async fn push_and_pull_an_image_by_tag_and_digest(backend: Backend) {
    let registry = Registry::start(backend).await;
    let manifest = registry.image("library/app", "one").await;
    let digest = Digest::sha256_of(&manifest);
    let response = registry.put_manifest("library/app", "v1", &manifest, OCI_MANIFEST).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()[header::LOCATION], format!("/v2/library/app/manifests/{digest}"));
    assert_eq!(response.headers()["docker-content-digest"], digest.to_string());
    assert!(response.headers().get("oci-subject").is_none());

    for reference in ["v1".to_owned(), digest.to_string()] {
        let response = registry.get(&format!("/v2/library/app/manifests/{reference}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{reference}");
        assert_eq!(response.headers()[header::CONTENT_TYPE], OCI_MANIFEST);
        assert_eq!(response.headers()["docker-content-digest"], digest.to_string());
        assert_eq!(response.bytes().await.unwrap().as_ref(), manifest.as_slice(), "the exact bytes pushed");
    }
    let head = registry.client.head(registry.server.url("/v2/library/app/manifests/v1")).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()[header::CONTENT_LENGTH], manifest.len().to_string());

    // Content negotiation: a client that only takes Docker manifests gets 404, as from distribution.
    let docker_only = registry
        .client
        .get(registry.server.url("/v2/library/app/manifests/v1"))
        .header(header::ACCEPT, DOCKER_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(docker_only.status(), StatusCode::NOT_FOUND);
    let both = registry
        .client
        .get(registry.server.url("/v2/library/app/manifests/v1"))
        .header(header::ACCEPT, DOCKER_MANIFEST)
        .header(header::ACCEPT, OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), StatusCode::OK);

    // Re-tagging moves the tag; pushing the same bytes again is fine.
    let other = registry.image("library/app", "two").await;
    assert_eq!(registry.put_manifest("library/app", "v1", &other, OCI_MANIFEST).await.status(), StatusCode::CREATED);
    let moved = registry.get("/v2/library/app/manifests/v1").await;
    assert_eq!(moved.headers()["docker-content-digest"], Digest::sha256_of(&other).to_string());
    assert_eq!(
        registry.put_manifest("library/app", &digest.to_string(), &manifest, OCI_MANIFEST).await.status(),
        StatusCode::CREATED
    );
    registry.server.stop().await;
}

async fn manifests_are_validated(backend: Backend) {
    let registry = Registry::start(backend).await;
    let manifest = registry.image("team/app", "v").await;
    let missing = Digest::sha256_of(b"never pushed");
    let unknown_layer = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": missing.to_string(), "size": 12},
        "layers": [],
    }))
    .unwrap();
    let response = registry.put_manifest("team/app", "bad", &unknown_layer, OCI_MANIFEST).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "MANIFEST_BLOB_UNKNOWN");

    // Blobs of another repository do not count.
    let response = registry.put_manifest("team/other", "v1", &manifest, OCI_MANIFEST).await;
    assert_eq!(error_code(response).await, "MANIFEST_BLOB_UNKNOWN");

    let schema1 = br#"{"schemaVersion":1,"name":"team/app","tag":"old","fsLayers":[],"history":[]}"#;
    let response = registry
        .put_manifest("team/app", "old", schema1, "application/vnd.docker.distribution.manifest.v1+prettyjws")
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "MANIFEST_INVALID");

    let response = registry.put_manifest("team/app", "v1", &manifest, OCI_INDEX).await;
    assert_eq!(error_code(response).await, "MANIFEST_INVALID", "Content-Type must match mediaType");
    let response = registry.put_manifest("team/app", "v1", b"{not json", OCI_MANIFEST).await;
    assert_eq!(error_code(response).await, "MANIFEST_INVALID");

    let wrong_digest = Digest::sha256_of(b"something else");
    let response = registry.put_manifest("team/app", &wrong_digest.to_string(), &manifest, OCI_MANIFEST).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "DIGEST_INVALID");

    let response = registry.put_manifest("team/app", "bad+tag", &manifest, OCI_MANIFEST).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let huge = vec![b' '; 4 * 1024 * 1024 + 1];
    let response = registry.put_manifest("team/app", "huge", &huge, OCI_MANIFEST).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(response).await, "SIZE_INVALID");

    // sha512 references verify with sha512.
    let sha512 = Digest::of(Algorithm::Sha512, &manifest);
    let response = registry.put_manifest("team/app", &sha512.to_string(), &manifest, OCI_MANIFEST).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(registry.get(&format!("/v2/team/app/manifests/{sha512}")).await.status(), StatusCode::OK);

    let unknown = registry.get("/v2/team/app/manifests/nope").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(unknown).await, "MANIFEST_UNKNOWN");
    // No manifest can carry a malformed tag: reading one finds nothing.
    let malformed = registry.get("/v2/team/app/manifests/.INVALID_TAG").await;
    assert_eq!(malformed.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(malformed).await, "MANIFEST_UNKNOWN");
    let head = registry.client.head(registry.server.url("/v2/team/app/manifests/.INVALID_TAG")).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
    registry.server.stop().await;
}

async fn an_index_needs_its_children(backend: Backend) {
    let registry = Registry::start(backend).await;
    let mut children = Vec::new();
    for arch in ["amd64", "arm64"] {
        let manifest = registry.image("multi/app", arch).await;
        let digest = Digest::sha256_of(&manifest);
        let response = registry.put_manifest("multi/app", &digest.to_string(), &manifest, OCI_MANIFEST).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        children.push(json!({"mediaType": OCI_MANIFEST, "digest": digest.to_string(), "size": manifest.len(),
            "platform": {"os": "linux", "architecture": arch}}));
    }
    let index =
        serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children})).unwrap();
    let response = registry.put_manifest("multi/app", "latest", &index, OCI_INDEX).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let pulled = registry.get("/v2/multi/app/manifests/latest").await;
    assert_eq!(pulled.headers()[header::CONTENT_TYPE], OCI_INDEX);

    let dangling = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": Digest::sha256_of(b"no such manifest").to_string(), "size": 3}
    ]}))
    .unwrap();
    let response = registry.put_manifest("multi/app", "broken", &dangling, OCI_INDEX).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "MANIFEST_BLOB_UNKNOWN");
    registry.server.stop().await;
}

async fn tags_and_catalog_page_with_links(backend: Backend) {
    let registry = Registry::start(backend).await;
    let manifest = registry.image("paged/app", "p").await;
    for tag in ["v3", "v1", "latest", "V2", "v2", "_x"] {
        assert_eq!(
            registry.put_manifest("paged/app", tag, &manifest, OCI_MANIFEST).await.status(),
            StatusCode::CREATED
        );
    }
    let all: Value = registry.get("/v2/paged/app/tags/list").await.json().await.unwrap();
    assert_eq!(all, json!({"name": "paged/app", "tags": ["V2", "_x", "latest", "v1", "v2", "v3"]}), "byte order");

    let mut seen = Vec::new();
    let mut path = "/v2/paged/app/tags/list?n=4".to_owned();
    loop {
        let response = registry.get(&path).await;
        assert_eq!(response.status(), StatusCode::OK);
        let link = response.headers().get(header::LINK).map(|l| l.to_str().unwrap().to_owned());
        let page: Value = response.json().await.unwrap();
        seen.extend(page["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()));
        match link {
            Some(link) => {
                assert!(link.ends_with(">; rel=\"next\""), "{link}");
                path = link.trim_start_matches('<').split('>').next().unwrap().to_owned();
            }
            None => break,
        }
    }
    assert_eq!(seen, ["V2", "_x", "latest", "v1", "v2", "v3"]);
    let after: Value = registry.get("/v2/paged/app/tags/list?n=2&last=v1").await.json().await.unwrap();
    assert_eq!(after["tags"], json!(["v2", "v3"]));
    assert_eq!(registry.get("/v2/paged/app/tags/list?n=many").await.status(), StatusCode::BAD_REQUEST);
    let unknown = registry.get("/v2/nobody/tags/list").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(unknown).await, "NAME_UNKNOWN");

    registry.push_blob("another/repo", b"x").await;
    registry.push_blob("a/b", b"x").await;
    let catalog: Value = registry.get("/v2/_catalog").await.json().await.unwrap();
    assert_eq!(catalog["repositories"], json!(["a/b", "another/repo", "paged/app"]));
    let first = registry.get("/v2/_catalog?n=2").await;
    assert_eq!(first.headers()[header::LINK], "</v2/_catalog?n=2&last=another%2Frepo>; rel=\"next\"");
    let rest: Value = registry.get("/v2/_catalog?n=2&last=another%2Frepo").await.json().await.unwrap();
    assert_eq!(rest["repositories"], json!(["paged/app"]));
    registry.server.stop().await;
}

async fn deleting_tags_and_manifests(backend: Backend) {
    let registry = Registry::start(backend).await;
    let manifest = registry.image("del/app", "d").await;
    let digest = Digest::sha256_of(&manifest);
    registry.put_manifest("del/app", "keep", &manifest, OCI_MANIFEST).await;
    registry.put_manifest("del/app", "drop", &manifest, OCI_MANIFEST).await;

    let url = |r: &str| registry.server.url(&format!("/v2/del/app/manifests/{r}"));
    assert_eq!(registry.client.delete(url("drop")).send().await.unwrap().status(), StatusCode::ACCEPTED);
    assert_eq!(registry.get("/v2/del/app/manifests/drop").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(registry.get("/v2/del/app/manifests/keep").await.status(), StatusCode::OK, "other tags stay");

    assert_eq!(registry.client.delete(url(&digest.to_string())).send().await.unwrap().status(), StatusCode::ACCEPTED);
    assert_eq!(registry.get(&format!("/v2/del/app/manifests/{digest}")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(registry.get("/v2/del/app/manifests/keep").await.status(), StatusCode::NOT_FOUND, "its tags go too");
    let tags: Value = registry.get("/v2/del/app/tags/list").await.json().await.unwrap();
    assert_eq!(tags["tags"], json!([]));
    let again = registry.client.delete(url(&digest.to_string())).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(again).await, "MANIFEST_UNKNOWN");
    registry.server.stop().await;
}

async fn referrers_list_artifacts_attached_by_subject(backend: Backend) {
    let registry = Registry::start(backend).await;
    let image = registry.image("ref/app", "subject").await;
    let image_digest = Digest::sha256_of(&image);
    registry.put_manifest("ref/app", "v1", &image, OCI_MANIFEST).await;

    let (empty, _) = registry.push_blob("ref/app", b"{}").await;
    let (sbom, sbom_size) = registry.push_blob("ref/app", b"{\"sbom\":true}").await;
    let artifact = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.sbom.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.example.sbom.v1+json", "digest": sbom.to_string(), "size": sbom_size}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": image_digest.to_string(), "size": image.len()},
        "annotations": {"org.opencontainers.image.created": "2026-11-23T00:00:00Z"},
    }))
    .unwrap();
    let artifact_digest = Digest::sha256_of(&artifact);
    let response = registry.put_manifest("ref/app", &artifact_digest.to_string(), &artifact, OCI_MANIFEST).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["oci-subject"], image_digest.to_string());

    let response = registry.get(&format!("/v2/ref/app/referrers/{image_digest}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], OCI_INDEX);
    let index: Value = response.json().await.unwrap();
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(index["mediaType"], OCI_INDEX);
    assert_eq!(
        index["manifests"],
        json!([{
            "mediaType": OCI_MANIFEST, "digest": artifact_digest.to_string(), "size": artifact.len(),
            "artifactType": "application/vnd.example.sbom.v1+json",
            "annotations": {"org.opencontainers.image.created": "2026-11-23T00:00:00Z"},
        }])
    );

    let filtered =
        registry.get(&format!("/v2/ref/app/referrers/{image_digest}?artifactType=application/vnd.example.sig")).await;
    assert_eq!(filtered.headers()["oci-filters-applied"], "artifactType");
    let filtered: Value = filtered.json().await.unwrap();
    assert_eq!(filtered["manifests"], json!([]));
    let matching = registry
        .get(&format!("/v2/ref/app/referrers/{image_digest}?artifactType=application/vnd.example.sbom.v1%2Bjson"))
        .await;
    let matching: Value = matching.json().await.unwrap();
    assert_eq!(matching["manifests"].as_array().unwrap().len(), 1);

    let nothing: Value =
        registry.get(&format!("/v2/ref/app/referrers/{}", Digest::sha256_of(b"unknown"))).await.json().await.unwrap();
    assert_eq!(nothing["manifests"], json!([]));
    assert_eq!(registry.get("/v2/ref/app/referrers/sha256:bad").await.status(), StatusCode::BAD_REQUEST);
    registry.server.stop().await;
}

async fn pushes_pulls_and_deletes_are_recorded(backend: Backend) {
    let registry = Registry::start(backend).await;
    let manifest = registry.image("ev/app", "e").await;
    let digest = Digest::sha256_of(&manifest);
    registry.put_manifest("ev/app", "v1", &manifest, OCI_MANIFEST).await;
    assert_eq!(registry.get("/v2/ev/app/manifests/v1").await.status(), StatusCode::OK);
    let head = registry.client.head(registry.server.url("/v2/ev/app/manifests/v1")).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK, "a HEAD is not a pull");
    let deleted = registry.client.delete(registry.server.url(&format!("/v2/ev/app/manifests/{digest}"))).send().await;
    assert_eq!(deleted.unwrap().status(), StatusCode::ACCEPTED);

    let state = &registry.server.state;
    state.events.flush().await;
    let admin = app::core::identity::Principal::User(state.users.find("admin").await.unwrap().unwrap());
    let query = app::core::events::AuditQuery {
        resource_type: Some("artifact"),
        resource_prefix: Some("ev/app"),
        ..Default::default()
    };
    let listed = state.audit.list(&admin.clone().into(), &query, app::core::db::Window::new(0, 10)).await.unwrap();
    let (events, total) = (listed.items, listed.total);
    assert_eq!(total, 3, "{events:?}");
    let kinds: Vec<&str> = events.iter().map(|e| e.operation.as_str()).collect();
    assert_eq!(kinds, ["delete", "pull", "push"], "newest first");
    let (delete, pull, push) = (&events[0], &events[1], &events[2]);
    assert_eq!(push.digest.as_deref(), Some(digest.to_string().as_str()));
    assert_eq!(push.tag.as_deref(), Some("v1"));
    assert_eq!(push.media_type.as_deref(), Some(OCI_MANIFEST));
    assert_eq!(push.size, Some(manifest.len() as i64));
    assert_eq!(pull.tag.as_deref(), Some("v1"));
    assert_eq!(pull.digest, push.digest);
    assert_eq!(delete.digest, push.digest);
    assert_eq!(push.resource, "ev/app:v1");
    assert_eq!(delete.resource, format!("ev/app@{digest}"));
    for event in &events {
        assert_eq!(event.client_addr.as_deref(), Some("127.0.0.1"));
        assert_eq!(event.actor.as_deref(), Some("admin"), "events name who did it");
        assert_eq!((event.project.as_deref(), event.outcome.as_str()), (Some("ev"), "success"));
    }
    registry.server.stop().await;
}

on_both_databases!(
    pushes_pulls_and_deletes_are_recorded,
    push_and_pull_an_image_by_tag_and_digest,
    manifests_are_validated,
    an_index_needs_its_children,
    tags_and_catalog_page_with_links,
    deleting_tags_and_manifests,
    referrers_list_artifacts_attached_by_subject,
);
