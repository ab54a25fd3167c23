//! Driving replication through the REST API in the tests: registries,
//! policies, executions followed to their end, and each task with its log;
//! and plain distribution-API pushes to a remote registry.

use std::time::Duration;

use app::core::registry::digest::Digest;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::TestServer;

/// An OCI descriptor of `content`.
pub fn descriptor(media_type: &str, content: &[u8]) -> Value {
    json!({"mediaType": media_type, "digest": Digest::sha256_of(content).to_string(), "size": content.len()})
}

/// Pushes a blob to the registry at `url` (POST, then one PUT).
pub async fn push_blob_to(client: &reqwest::Client, url: &str, repo: &str, content: &[u8]) {
    let started = client.post(format!("{url}/v2/{repo}/blobs/uploads/")).send().await.unwrap();
    assert_eq!(started.status(), StatusCode::ACCEPTED, "{repo}");
    let location = started.headers()["location"].to_str().unwrap();
    let location = if location.starts_with("http") { location.to_owned() } else { format!("{url}{location}") };
    let separator = if location.contains('?') { '&' } else { '?' };
    let put = client
        .put(format!("{location}{separator}digest={}", Digest::sha256_of(content)))
        .header("content-type", "application/octet-stream")
        .body(content.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::CREATED, "{repo}");
}

/// Pushes a manifest to the registry at `url` under `reference` (its
/// digest when `None`); returns its digest and size.
pub async fn push_manifest_to(
    client: &reqwest::Client,
    url: &str,
    repo: &str,
    manifest: &Value,
    reference: Option<&str>,
) -> (String, usize) {
    let body = serde_json::to_vec(manifest).unwrap();
    let digest = Digest::sha256_of(&body).to_string();
    let reference = reference.unwrap_or(&digest);
    let response = client
        .put(format!("{url}/v2/{repo}/manifests/{reference}"))
        .header("content-type", manifest["mediaType"].as_str().unwrap())
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "{repo}:{reference}");
    (digest, body.len())
}

/// Saves a registry (`type`, `url`, optional credential); returns its id.
pub async fn create_registry(
    server: &TestServer,
    name: &str,
    kind: &str,
    url: &str,
    credential: Option<(&str, &str)>,
) -> i64 {
    let mut registry = json!({"name": name, "type": kind, "url": url});
    if let Some((user, password)) = credential {
        registry["credential"] = json!({"access_key": user, "access_secret": password});
    }
    let created = super::admin_client().post(server.url("/api/v2.0/registries")).json(&registry).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED, "{}", created.text().await.unwrap());
    id_of(&created)
}

/// Saves a policy; returns its id.
pub async fn create_policy(server: &TestServer, policy: &Value) -> i64 {
    let created =
        super::admin_client().post(server.url("/api/v2.0/replication/policies")).json(policy).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED, "{}", created.text().await.unwrap());
    id_of(&created)
}

/// The id at the end of a created resource's `Location`.
pub fn id_of(created: &reqwest::Response) -> i64 {
    created.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().parse().unwrap()
}

/// A JSON answer to a GET of `path` as the administrator.
pub async fn admin_json(server: &TestServer, path: &str) -> Value {
    super::admin_client().get(server.url(path)).send().await.unwrap().json().await.unwrap()
}

/// Follows the execution at `location` until it is no longer in progress.
pub async fn finished(server: &TestServer, location: &str) -> Value {
    for _ in 0..600 {
        let execution = admin_json(server, location).await;
        if execution["status"] != "InProgress" {
            return execution;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the execution at {location} did not end within a minute");
}

/// "Replicate now".
pub async fn start(server: &TestServer, policy_id: i64) -> reqwest::Response {
    let body = json!({"policy_id": policy_id});
    super::admin_client().post(server.url("/api/v2.0/replication/executions")).json(&body).send().await.unwrap()
}

/// Runs the policy and follows the execution to its end.
pub async fn run(server: &TestServer, policy_id: i64) -> Value {
    let started = start(server, policy_id).await;
    assert_eq!(started.status(), StatusCode::CREATED);
    finished(server, started.headers()["location"].to_str().unwrap()).await
}

/// Each task of an execution with its log.
pub async fn task_logs(server: &TestServer, execution: i64) -> Vec<(Value, String)> {
    let tasks = admin_json(server, &format!("/api/v2.0/replication/executions/{execution}/tasks?page_size=100")).await;
    let mut logs = Vec::new();
    for task in tasks.as_array().unwrap() {
        let id = task["id"].as_i64().unwrap();
        let log = super::admin_client()
            .get(server.url(&format!("/api/v2.0/replication/executions/{execution}/tasks/{id}/log")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        logs.push((task.clone(), log));
    }
    logs
}
