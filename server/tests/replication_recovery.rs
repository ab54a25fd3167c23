//! Replication when the destination goes away mid-copy (SIGKILL) while a
//! 200 MiB layer is on its way. Copied by chunk to another Berth, the copy
//! resumes where the destination confirmed once it is back (distribution
//! drops an upload a cut chunk reached, so there the blob starts again).
//! Copied whole to Debian's docker-registry that stays away, the task
//! fails naming the cause after its retries, and a re-run sends only the
//! blobs that did not arrive.

mod common;

use std::time::{Duration, Instant};

use app::core::registry::digest::Digest;
use common::{
    Backend, TestServer,
    distribution::{self, Distribution},
    process,
    replication::{create_policy, create_registry, descriptor, finished, run, start, task_logs},
};
use reqwest::StatusCode;
use serde_json::{Value, json};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const LAYER: usize = 200 << 20;
/// What replication sends per chunk with `copy_by_chunk`.
const CHUNK: u64 = 10 << 20;
/// KB/s: the big layer takes about ten seconds, long enough to be cut.
const SPEED_KB: u64 = 20 * 1024;

/// 200 MiB that do not repeat (a xorshift stream).
fn big_layer() -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut bytes = Vec::with_capacity(LAYER);
    while bytes.len() < LAYER {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes
}

/// Pushes an image of `layers` (and its own config) here as `repo:tag`.
async fn push_image(server: &TestServer, repo: &str, tag: &str, layers: &[&[u8]]) -> String {
    let client = common::admin_client();
    let config = format!(r#"{{"architecture":"amd64","os":"linux","repo":"{repo}"}}"#).into_bytes();
    for blob in std::iter::once(config.as_slice()).chain(layers.iter().copied()) {
        assert_eq!(common::push_blob(&client, server, repo, blob).await, StatusCode::CREATED);
    }
    let layers: Vec<Value> =
        layers.iter().map(|layer| descriptor("application/vnd.oci.image.layer.v1.tar", layer)).collect();
    let manifest = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", &config), "layers": layers,
    });
    let body = serde_json::to_vec(&manifest).unwrap();
    let response = client
        .put(server.url(&format!("/v2/{repo}/manifests/{tag}")))
        .header("content-type", OCI_MANIFEST)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    Digest::sha256_of(&body).to_string()
}

/// A push policy of `library/**` to the registry at `url`, paced so a
/// copy can be cut.
async fn policy_to(server: &TestServer, url: &str, credential: Option<(&str, &str)>, by_chunk: bool) -> i64 {
    let (name, kind) = if credential.is_some() { ("berth", "harbor") } else { ("distribution", "docker-registry") };
    let registry_id = create_registry(server, name, kind, url, credential).await;
    let policy = json!({
        "name": name, "dest_registry": {"id": registry_id}, "filters": [{"type": "name", "value": "library/**"}],
        "trigger": {"type": "manual"}, "override": true, "enabled": true,
        "speed": SPEED_KB, "copy_by_chunk": by_chunk,
    });
    create_policy(server, &policy).await
}

/// Waits until the uploads in progress under `root` hold `bytes`.
async fn until_received(root: &std::path::Path, bytes: u64) {
    let started = Instant::now();
    while distribution::upload_bytes(root) < bytes {
        let received = distribution::upload_bytes(root);
        assert!(started.elapsed() < Duration::from_secs(60), "the destination received {received} bytes");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The real `berth` binary on SQLite in a directory of its own, to kill
/// and start again on the same port and data.
struct BerthProcess {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<tokio::process::Child>,
}

impl BerthProcess {
    async fn start() -> Self {
        let mut node = Self { dir: tempfile::tempdir().unwrap(), port: process::free_port(), child: None };
        node.restart().await;
        node
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn restart(&mut self) {
        let mut command = process::berth(self.dir.path());
        command
            .env("BERTH_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("BERTH_EXTERNAL_URL", self.url())
            .env("BERTH_DATA_DIR", "data")
            .env("BERTH_ADMIN_PASSWORD", common::ADMIN_PASSWORD)
            .env("BERTH_LOG_LEVEL", "warn")
            .stderr(std::process::Stdio::null());
        self.child = Some(process::start(command).await.0);
    }

    async fn kill(&mut self) {
        self.child.take().expect("running").kill().await.unwrap();
    }
}

/// The digest of the blob `url` serves, read as it streams.
async fn blob_digest(client: &reqwest::Client, url: &str, repo: &str, digest: &str) -> String {
    use app::core::registry::digest::{Algorithm, Hasher};
    let mut response = client.get(format!("{url}/v2/{repo}/blobs/{digest}")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut hasher = Hasher::new(Algorithm::Sha256);
    while let Some(chunk) = response.chunk().await.unwrap() {
        hasher.update(&chunk);
    }
    hasher.finish().to_string()
}

#[tokio::test]
async fn a_chunked_copy_resumes_where_the_destination_confirmed() {
    common::within_time_limit(async {
        let server = TestServer::start(Backend::Sqlite).await;
        let mut peer = BerthProcess::start().await;
        let layer = big_layer();
        let layer_digest = Digest::sha256_of(&layer).to_string();
        let image = push_image(&server, "library/big", "v1", &[&layer]).await;
        let policy_id = policy_to(&server, &peer.url(), Some(("admin", common::ADMIN_PASSWORD)), true).await;

        let started = start(&server, policy_id).await;
        assert_eq!(started.status(), StatusCode::CREATED);
        let location = started.headers()["location"].to_str().unwrap().to_owned();
        until_received(peer.dir.path(), 3 * CHUNK).await;
        peer.kill().await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        peer.restart().await;

        let execution = finished(&server, &location).await;
        assert_eq!(execution["status"], "Succeed", "{execution}");
        let logs = task_logs(&server, execution["id"].as_i64().unwrap()).await;
        let log = &logs[0].1;
        assert!(log.contains("try 1 of 5 failed"), "the cut is logged: {log}");
        let resumed_at: u64 = log
            .split(&format!("resuming blob {layer_digest} at byte "))
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|offset| offset.parse().ok())
            .unwrap_or_else(|| panic!("the copy resumed: {log}"));
        assert!(resumed_at >= 3 * CHUNK, "resumed after what had arrived, at {resumed_at}: {log}");
        // Whole and the same at the peer.
        let to_peer = common::admin_client();
        assert_eq!(blob_digest(&to_peer, &peer.url(), "library/big", &layer_digest).await, layer_digest);
        let head = to_peer
            .head(format!("{}/v2/library/big/manifests/v1", peer.url()))
            .header("accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        assert_eq!(head.headers()["docker-content-digest"].to_str().unwrap(), image);
        peer.kill().await;
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_rerun_after_the_destination_died_sends_only_what_did_not_arrive() {
    common::within_time_limit(async {
        let server = TestServer::start(Backend::Sqlite).await;
        let mut peer = Distribution::start().await;
        let layer = big_layer();
        let shared = b"a small layer both images have".repeat(100);
        push_image(&server, "library/big", "v1", &[&shared, &layer]).await;
        push_image(&server, "library/small", "v1", &[&shared]).await;
        let policy_id = policy_to(&server, &peer.url, None, false).await;

        let started = start(&server, policy_id).await;
        let location = started.headers()["location"].to_str().unwrap().to_owned();
        until_received(peer.dir(), 3 * CHUNK).await;
        peer.kill();
        // Down until the big layer's task gave up (five tries), then back
        // for the rest of the execution.
        let execution_id: i64 = location.rsplit('/').next().unwrap().parse().unwrap();
        let gave_up = Instant::now();
        loop {
            let logs = task_logs(&server, execution_id).await;
            if logs.first().is_some_and(|(task, _)| task["status"] == "Failed") {
                break;
            }
            assert!(gave_up.elapsed() < Duration::from_secs(60), "the task did not give up: {logs:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        peer.restart().await;
        let execution = finished(&server, &location).await;
        assert_eq!(execution["status"], "Failed", "{execution}");
        assert_eq!((execution["failed"].as_i64(), execution["succeed"].as_i64()), (Some(1), Some(1)), "{execution}");
        let logs = task_logs(&server, execution_id).await;
        let (failed, log) = &logs[0];
        assert_eq!(failed["src_resource"], "library/big:v1");
        assert!(log.contains("try 4 of 5 failed"), "retried: {log}");
        assert!(log.contains(&format!("failed: cannot connect to {}", peer.url)), "names the cause: {log}");

        // Back: the re-run sends the big layer and nothing that arrived before.
        let again = run(&server, policy_id).await;
        assert_eq!(again["status"], "Succeed", "{again}");
        let logs = task_logs(&server, again["id"].as_i64().unwrap()).await;
        let big = &logs[0].1;
        assert!(big.contains(&format!("done: 1 blobs copied ({LAYER} bytes), 0 mounted, 2 already there")), "{big}");
        assert!(logs[1].1.contains("done: 0 blobs copied"), "{}", logs[1].1);
        let layer_digest = Digest::sha256_of(&layer).to_string();
        let to_peer = reqwest::Client::new();
        assert_eq!(blob_digest(&to_peer, &peer.url, "library/big", &layer_digest).await, layer_digest);
        server.stop().await;
    })
    .await;
}
