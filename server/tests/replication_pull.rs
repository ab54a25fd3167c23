//! Pull-based replication from Debian's docker-registry (distribution 2.8,
//! behind htpasswd) and from another Berth, on loopback: an index with
//! two platforms, images sharing a layer, a referrer (where the source
//! lists them), copied here byte for byte with their digests; filters and
//! the destination namespace applied; a blob the project got once is
//! mounted, not fetched again; a re-run fetches nothing; a destination
//! project that does not exist fails the task, naming it, and leaves
//! nothing behind.

mod common;

use app::core::registry::digest::Digest;
use common::{
    Backend, TestServer,
    distribution::Distribution,
    replication::{
        admin_json, create_policy, create_registry, descriptor, push_blob_to, push_manifest_to, run, task_logs,
    },
};
use reqwest::StatusCode;
use serde_json::json;

const USER: &str = "source";
const PASSWORD: &str = "source-password-7";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// The layer every image here shares.
fn shared_layer() -> Vec<u8> {
    b"a base layer every image shares".repeat(700)
}

/// An image with its own config and layer on the shared layer.
async fn push_image_to(
    client: &reqwest::Client,
    url: &str,
    repo: &str,
    platform: &str,
    reference: Option<&str>,
) -> (String, usize) {
    let config = format!(r#"{{"architecture":"{platform}","os":"linux","repo":"{repo}"}}"#).into_bytes();
    let own = format!("the {platform} layer of {repo}").repeat(900).into_bytes();
    for blob in [&config, &shared_layer(), &own] {
        push_blob_to(client, url, repo, blob).await;
    }
    let manifest = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", &config),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", &shared_layer()),
                   descriptor("application/vnd.oci.image.layer.v1.tar", &own)],
    });
    push_manifest_to(client, url, repo, &manifest, reference).await
}

/// An index of two platforms tagged `tag`; returns its digest and those of its images.
async fn push_index_to(client: &reqwest::Client, url: &str, repo: &str, tag: &str) -> (String, usize, [String; 2]) {
    let (amd64, amd64_size) = push_image_to(client, url, repo, "amd64", None).await;
    let (arm64, arm64_size) = push_image_to(client, url, repo, "arm64", None).await;
    let index = json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": amd64, "size": amd64_size, "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": OCI_MANIFEST, "digest": arm64, "size": arm64_size, "platform": {"architecture": "arm64", "os": "linux"}},
        ],
    });
    let (digest, size) = push_manifest_to(client, url, repo, &index, Some(tag)).await;
    (digest, size, [amd64, arm64])
}

/// The digest `reference` names here in `repo`, if any.
async fn local_digest(server: &TestServer, repo: &str, reference: &str) -> Option<String> {
    let response = common::admin_client()
        .get(server.url(&format!("/v2/{repo}/manifests/{reference}")))
        .header("accept", format!("{OCI_INDEX}, {OCI_MANIFEST}"))
        .send()
        .await
        .unwrap();
    if response.status() == StatusCode::NOT_FOUND {
        return None;
    }
    assert_eq!(response.status(), StatusCode::OK, "{repo}:{reference}");
    Some(Digest::sha256_of(&response.bytes().await.unwrap()).to_string())
}

async fn a_pull_policy_copies_from_docker_registry(backend: Backend) {
    let server = TestServer::start(backend).await;
    let peer = Distribution::start_with_user(USER, PASSWORD).await;
    let to_peer = common::client_as(USER, PASSWORD);

    // There: an index, an image and a release candidate in library/, and
    // a repository outside it.
    let (index, _, [amd64, arm64]) = push_index_to(&to_peer, &peer.url, "library/multi", "latest").await;
    let (app_v1, _) = push_image_to(&to_peer, &peer.url, "library/app", "amd64", Some("v1")).await;
    // A second tag on the same image: one artifact, two tags.
    push_image_to(&to_peer, &peer.url, "library/app", "amd64", Some("stable")).await;
    push_image_to(&to_peer, &peer.url, "library/app", "arm64", Some("v2-rc1")).await;
    push_image_to(&to_peer, &peer.url, "other/tool", "amd64", Some("v1")).await;

    let registry_id = create_registry(&server, "source", "docker-registry", &peer.url, Some((USER, PASSWORD))).await;
    let policy = json!({
        "name": "library-from-source", "src_registry": {"id": registry_id}, "dest_namespace": "",
        "filters": [{"type": "name", "value": "library/**"}, {"type": "tag", "value": "*-rc*", "decoration": "excludes"}],
        "trigger": {"type": "manual"}, "override": true, "enabled": true,
    });
    let policy_id = create_policy(&server, &policy).await;

    let execution = run(&server, policy_id).await;
    assert_eq!(execution["status"], "Succeed", "{execution}");
    // library/app (v1 and stable name one image) and library/multi:latest.
    assert_eq!((execution["total"].as_i64(), execution["succeed"].as_i64()), (Some(2), Some(2)), "{execution}");

    // Here, byte for byte, under the same names.
    assert_eq!(local_digest(&server, "library/multi", "latest").await, Some(index.clone()));
    for image in [&amd64, &arm64] {
        assert_eq!(local_digest(&server, "library/multi", image).await.as_ref(), Some(image));
    }
    assert_eq!(local_digest(&server, "library/app", "v1").await, Some(app_v1.clone()));
    assert_eq!(local_digest(&server, "library/app", "stable").await, Some(app_v1.clone()));
    assert_eq!(local_digest(&server, "library/app", "v2-rc1").await, None, "excluded by the tag filter");
    let other = common::admin_client().get(server.url("/v2/other/tool/tags/list")).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND, "outside the name filter");
    let shared = Digest::sha256_of(&shared_layer());
    let fetched =
        common::admin_client().get(server.url(&format!("/v2/library/multi/blobs/{shared}"))).send().await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), shared_layer().as_slice());

    // The shared layer came over once; the other repository mounted it.
    let logs = task_logs(&server, execution["id"].as_i64().unwrap()).await;
    assert_eq!(logs.len(), 2);
    assert!(logs.iter().all(|(task, _)| task["status"] == "Succeed"), "{logs:?}");
    let all: String = logs.iter().map(|(_, log)| log.as_str()).collect();
    assert_eq!(all.matches(&format!("fetched blob {shared}")).count(), 1, "{all}");
    assert!(all.contains(&format!("mounted blob {shared}")), "{all}");
    assert!(all.contains("does not list referrers"), "distribution 2.8 has no referrers API: {all}");
    let fetched_bytes: i64 = logs.iter().map(|(task, _)| task["bytes"].as_i64().unwrap()).sum();
    assert!(fetched_bytes > 0);

    // A re-run with nothing changed fetches nothing.
    let again = run(&server, policy_id).await;
    assert_eq!(again["status"], "Succeed", "{again}");
    for (task, log) in task_logs(&server, again["id"].as_i64().unwrap()).await {
        assert_eq!(task["bytes"], 0, "{log}");
        assert!(log.contains("done: 0 blobs copied"), "{log}");
    }

    // Into a project that does not exist here: the task fails naming it,
    // and no repository or project is made.
    let nowhere = json!({
        "name": "into-nowhere", "src_registry": {"id": registry_id}, "dest_namespace": "nowhere",
        "filters": [{"type": "name", "value": "library/app"}, {"type": "tag", "value": "v1"}],
        "trigger": {"type": "manual"}, "override": true, "enabled": true,
    });
    let failed = run(&server, create_policy(&server, &nowhere).await).await;
    assert_eq!(failed["status"], "Failed", "{failed}");
    let logs = task_logs(&server, failed["id"].as_i64().unwrap()).await;
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].0["status"], "Failed");
    assert!(logs[0].1.contains("nowhere"), "{}", logs[0].1);
    let project = common::admin_client().get(server.url("/api/v2.0/projects/nowhere")).send().await.unwrap();
    assert_eq!(project.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn a_pull_policy_copies_from_docker_registry_sqlite() {
    common::within_time_limit(a_pull_policy_copies_from_docker_registry(Backend::Sqlite)).await;
}

#[tokio::test]
async fn a_pull_policy_copies_from_docker_registry_postgres() {
    common::within_time_limit(a_pull_policy_copies_from_docker_registry(Backend::Postgres)).await;
}

/// Another Berth as the source, through its token service: an index with
/// a referrer (an SBOM), which Berth lists, comes over with it.
#[tokio::test]
async fn a_pull_policy_copies_referrers_from_another_berth() {
    common::within_time_limit(async {
        let server = TestServer::start(Backend::Sqlite).await;
        let source = TestServer::start(Backend::Sqlite).await;
        let to_source = common::admin_client();
        let source_url = source.base.clone();
        let (index, index_size, _) = push_index_to(&to_source, &source_url, "library/signed", "v1").await;
        let sbom = b"{\"packages\":[\"musl\"]}".to_vec();
        let empty = b"{}".to_vec();
        for blob in [&empty, &sbom] {
            push_blob_to(&to_source, &source_url, "library/signed", blob).await;
        }
        let referrer = json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/spdx+json",
            "config": descriptor("application/vnd.oci.empty.v1+json", &empty),
            "layers": [descriptor("application/spdx+json", &sbom)],
            "subject": {"mediaType": OCI_INDEX, "digest": index, "size": index_size},
        });
        let (referrer_digest, _) = push_manifest_to(&to_source, &source_url, "library/signed", &referrer, None).await;

        let credential = Some(("admin", common::ADMIN_PASSWORD));
        let registry_id = create_registry(&server, "berth", "harbor", &source_url, credential).await;
        let policy = json!({
            "name": "from-berth", "src_registry": {"id": registry_id}, "dest_namespace": "library",
            "trigger": {"type": "manual"}, "override": true, "enabled": true,
        });
        let execution = run(&server, create_policy(&server, &policy).await).await;
        assert_eq!(execution["status"], "Succeed", "{execution}");
        assert_eq!(local_digest(&server, "library/signed", "v1").await, Some(index.clone()));
        assert_eq!(local_digest(&server, "library/signed", &referrer_digest).await, Some(referrer_digest.clone()));
        let referrers = admin_json(&server, &format!("/v2/library/signed/referrers/{index}")).await;
        assert_eq!(referrers["manifests"][0]["digest"], referrer_digest.as_str(), "{referrers}");
        source.stop().await;
        server.stop().await;
    })
    .await;
}
