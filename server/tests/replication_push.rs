//! Push-based replication to Debian's docker-registry (distribution 2.8,
//! behind htpasswd) on loopback: an index with two platforms and a
//! referrer, and a plain image, copied byte for byte with their digests;
//! filters and the destination namespace applied; a re-run sends no blob
//! again; wrong credentials fail the execution naming the cause.

mod common;

use std::time::Duration;

use app::core::registry::digest::Digest;
use common::{
    Backend, TestServer,
    distribution::Distribution,
    replication::{admin_json, create_policy, create_registry, descriptor, finished, run, start, task_logs},
};
use reqwest::StatusCode;
use serde_json::{Value, json};

const USER: &str = "mirror";
const PASSWORD: &str = "mirror-password-3";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Pushes the blobs, then the manifest under `reference` (a tag, or its
/// digest when `None`); returns the manifest's digest and size.
async fn push(
    server: &TestServer,
    repo: &str,
    blobs: &[&[u8]],
    manifest: &Value,
    reference: Option<&str>,
) -> (String, usize) {
    let client = common::admin_client();
    for blob in blobs {
        assert_eq!(common::push_blob(&client, server, repo, blob).await, StatusCode::CREATED);
    }
    let body = serde_json::to_vec(manifest).unwrap();
    let digest = Digest::sha256_of(&body).to_string();
    let reference = reference.unwrap_or(&digest);
    let media_type = manifest["mediaType"].as_str().unwrap();
    let response = client
        .put(server.url(&format!("/v2/{repo}/manifests/{reference}")))
        .header("content-type", media_type)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "{repo}:{reference}");
    (digest, body.len())
}

/// An image with its own config and layer and one layer all images share.
async fn push_image(server: &TestServer, repo: &str, platform: &str, reference: Option<&str>) -> (String, usize) {
    let config = format!(r#"{{"architecture":"{platform}","os":"linux"}}"#).into_bytes();
    let own = format!("the {platform} layer of {repo}").repeat(1000).into_bytes();
    let shared = b"a layer every image here shares".repeat(500);
    let manifest = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", &config),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", &shared), descriptor("application/vnd.oci.image.layer.v1.tar", &own)],
    });
    push(server, repo, &[&config, &shared, &own], &manifest, reference).await
}

/// The digest the peer's `reference` names in `repo`, if any.
async fn peer_digest(peer: &reqwest::Client, url: &str, repo: &str, reference: &str) -> Option<String> {
    let response = peer
        .get(format!("{url}/v2/{repo}/manifests/{reference}"))
        .header("accept", format!("{OCI_INDEX}, {OCI_MANIFEST}"))
        .send()
        .await
        .unwrap();
    if response.status() == StatusCode::NOT_FOUND {
        return None;
    }
    assert_eq!(response.status(), StatusCode::OK, "{repo}:{reference}");
    let body = response.bytes().await.unwrap();
    Some(Digest::sha256_of(&body).to_string())
}

async fn a_push_policy_copies_images_indexes_and_referrers(backend: Backend) {
    let server = TestServer::start(backend).await;
    let peer = Distribution::start_with_user(USER, PASSWORD).await;
    let to_peer = common::client_as(USER, PASSWORD);

    // Here: an index of two platforms with a referrer, a plain image, and
    // a release candidate and another project the filters leave out.
    let (amd64, amd64_size) = push_image(&server, "library/multi", "amd64", None).await;
    let (arm64, arm64_size) = push_image(&server, "library/multi", "arm64", None).await;
    let index = json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": amd64, "size": amd64_size, "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": OCI_MANIFEST, "digest": arm64, "size": arm64_size, "platform": {"architecture": "arm64", "os": "linux"}},
        ],
    });
    let (index_digest, index_size) = push(&server, "library/multi", &[], &index, Some("latest")).await;
    let sbom = b"{\"packages\":[\"musl\",\"busybox\"]}".to_vec();
    let empty = b"{}".to_vec();
    let referrer = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/spdx+json",
        "config": descriptor("application/vnd.oci.empty.v1+json", &empty),
        "layers": [descriptor("application/spdx+json", &sbom)],
        "subject": {"mediaType": OCI_INDEX, "digest": index_digest, "size": index_size},
    });
    let (referrer_digest, _) = push(&server, "library/multi", &[&empty, &sbom], &referrer, None).await;
    let (app, _) = push_image(&server, "library/app", "amd64", Some("v1")).await;
    push_image(&server, "library/app", "arm64", Some("v2-rc1")).await;
    server.create_projects(&["other"]).await;
    push_image(&server, "other/tool", "amd64", Some("v1")).await;

    // The registry and a policy: library only, no release candidates,
    // into the peer's mirror/ namespace keeping the last component.
    let registry_id = create_registry(&server, "peer", "docker-registry", &peer.url, Some((USER, PASSWORD))).await;
    let policy = json!({
        "name": "library-to-peer", "dest_registry": {"id": registry_id}, "dest_namespace": "mirror",
        "filters": [{"type": "name", "value": "library/**"}, {"type": "tag", "value": "*-rc*", "decoration": "excludes"}],
        "trigger": {"type": "manual"}, "override": true, "enabled": true,
    });
    let policy_id = create_policy(&server, &policy).await;

    // Replicate now, and follow it to its end.
    let started = start(&server, policy_id).await;
    assert_eq!(started.status(), StatusCode::CREATED);
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let execution = finished(&server, &location).await;
    assert_eq!(execution["status"], "Succeed", "{execution}");
    assert_eq!(execution["trigger"], "manual");
    assert_eq!(execution["policy_id"], policy_id);
    // Two artifacts: library/multi:latest (the index; its images and the
    // referrer go with it) and library/app:v1.
    assert_eq!((execution["total"].as_i64(), execution["succeed"].as_i64()), (Some(2), Some(2)), "{execution}");

    // At the peer, byte for byte.
    assert_eq!(peer_digest(&to_peer, &peer.url, "mirror/multi", "latest").await, Some(index_digest.clone()));
    for digest in [&amd64, &arm64, &referrer_digest] {
        assert_eq!(peer_digest(&to_peer, &peer.url, "mirror/multi", digest).await.as_ref(), Some(digest));
    }
    assert_eq!(peer_digest(&to_peer, &peer.url, "mirror/app", "v1").await, Some(app.clone()));
    assert_eq!(peer_digest(&to_peer, &peer.url, "mirror/app", "v2-rc1").await, None, "excluded by the tag filter");
    assert_eq!(peer_digest(&to_peer, &peer.url, "mirror/tool", "v1").await, None, "outside the name filter");
    let blob = Digest::sha256_of(&sbom);
    let fetched = to_peer.get(format!("{}/v2/mirror/multi/blobs/{blob}", peer.url)).send().await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), sbom.as_slice());

    let execution_id = execution["id"].as_i64().unwrap();
    let logs = task_logs(&server, execution_id).await;
    assert_eq!(logs.len(), 2);
    assert!(logs.iter().all(|(task, _)| task["status"] == "Succeed" && task["operation"] == "copy"));
    let sent: i64 = logs.iter().map(|(task, _)| task["bytes"].as_i64().unwrap()).sum();
    assert!(sent > 0);
    assert!(logs.iter().any(|(_, log)| log.contains("referrer")), "the referrer was copied with its subject");

    // A re-run with nothing changed sends no blob again.
    let again = run(&server, policy_id).await;
    assert_eq!(again["status"], "Succeed", "{again}");
    let logs = task_logs(&server, again["id"].as_i64().unwrap()).await;
    assert_eq!(logs.len(), 2);
    for (task, log) in &logs {
        assert_eq!(task["bytes"], 0, "{log}");
        assert!(log.contains("done: 0 blobs copied"), "{log}");
    }

    // Listed, newest first, for the policy.
    let listed = admin_json(&server, &format!("/api/v2.0/replication/executions?policy_id={policy_id}")).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[0]["id"], again["id"]);

    // The peer's password changed: the next run fails, saying why.
    app::on_db!(&server.state.db, pool => {
        sqlx::query("UPDATE replication_registries SET access_key = 'someone-else'").execute(pool).await.map(|_| ())
    })
    .unwrap();
    let refused = run(&server, policy_id).await;
    assert_eq!(refused["status"], "Failed");
    assert!(refused["status_text"].as_str().unwrap().contains("refused the credentials"), "{refused}");

    // A disabled policy does not start.
    let mut disabled = policy.clone();
    disabled["enabled"] = json!(false);
    let path = format!("/api/v2.0/replication/policies/{policy_id}");
    common::admin_client().put(server.url(&path)).json(&disabled).send().await.unwrap();
    assert_eq!(start(&server, policy_id).await.status(), StatusCode::PRECONDITION_FAILED);
    server.stop().await;
}

#[tokio::test]
async fn a_push_policy_copies_images_indexes_and_referrers_sqlite() {
    common::within_time_limit(a_push_policy_copies_images_indexes_and_referrers(Backend::Sqlite)).await;
}

#[tokio::test]
async fn a_push_policy_copies_images_indexes_and_referrers_postgres() {
    common::within_time_limit(a_push_policy_copies_images_indexes_and_referrers(Backend::Postgres)).await;
}

/// Another Berth as the destination: a robot of the peer signs in through
/// its token service (the docker token flow) and may push only into the
/// peer's `mirror` project.
#[tokio::test]
async fn a_push_policy_copies_to_another_berth_through_its_token_service() {
    use app::core::{identity::RobotPermission, rbac::Action, robots::NewRobot};

    let server = TestServer::start(Backend::Sqlite).await;
    let peer = TestServer::start(Backend::Sqlite).await;
    let peer_admin = peer.admin_actor().await;
    peer.create_projects(&["mirror"]).await;
    let robot = NewRobot {
        name: "replicator",
        description: "",
        project: None,
        expires_in_days: None,
        permissions: vec![RobotPermission {
            project: Some("mirror".into()),
            actions: vec![Action::Pull, Action::Push],
        }],
    };
    let robot = peer.state.robots.create(&peer_admin, robot).await.unwrap();
    let (app, _) = push_image(&server, "library/app", "amd64", Some("v1")).await;

    let registry_id = create_registry(
        &server,
        "berth-peer",
        "harbor",
        &peer.base,
        Some((robot.robot.name.as_str(), robot.secret.as_str())),
    )
    .await;
    let policy = json!({"name": "to-berth", "dest_registry": {"id": registry_id}, "dest_namespace": "mirror",
        "filters": [{"type": "name", "value": "library/app"}], "enabled": true, "override": true});
    let policy_id = create_policy(&server, &policy).await;
    let execution = run(&server, policy_id).await;
    assert_eq!(execution["status"], "Succeed", "{execution}");
    let to_peer = common::admin_client();
    assert_eq!(peer_digest(&to_peer, &peer.base, "mirror/app", "v1").await, Some(app));

    // The robot may not write elsewhere on the peer: a namespace outside
    // its project fails the task, saying so.
    let elsewhere = json!({"name": "to-library", "dest_registry": {"id": registry_id}, "dest_namespace": "library",
        "filters": [{"type": "name", "value": "library/app"}], "enabled": true});
    let policy_id = create_policy(&server, &elsewhere).await;
    let execution = run(&server, policy_id).await;
    assert_eq!(execution["status"], "Failed", "{execution}");
    let logs = task_logs(&server, execution["id"].as_i64().unwrap()).await;
    assert_eq!(logs[0].0["status"], "Failed");
    assert!(logs[0].1.contains("failed:"), "{}", logs[0].1);
    peer.stop().await;
    server.stop().await;
}

/// An event-based policy replicates each push it selects within seconds,
/// and a deletion too; a push it does not select queues nothing.
async fn an_event_based_policy_replicates_pushes_and_deletes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let peer = Distribution::start().await;
    let to_peer = reqwest::Client::new();
    let registry_id = create_registry(&server, "peer", "docker-registry", &peer.url, None).await;
    let policy = json!({"name": "on-push", "dest_registry": {"id": registry_id}, "dest_namespace": "mirror",
        "filters": [{"type": "name", "value": "library/**"}], "trigger": {"type": "event_based"},
        "deletion": true, "override": true, "enabled": true});
    create_policy(&server, &policy).await;

    let pushed_at = std::time::Instant::now();
    let (digest, _) = push_image(&server, "library/app", "amd64", Some("v1")).await;
    let mut arrived = None;
    for _ in 0..300 {
        if peer_digest(&to_peer, &peer.url, "mirror/app", "v1").await.as_ref() == Some(&digest) {
            arrived = Some(pushed_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let arrived = arrived.expect("the push reached the peer within 15 s");
    println!("push 201 to artifact at the destination: {} ms", arrived.as_millis());
    let executions = admin_json(&server, "/api/v2.0/replication/executions").await;
    assert!(executions.as_array().unwrap().iter().all(|e| e["trigger"] == "event_based"), "{executions}");

    // Deleted here, deleted there.
    let deleted =
        common::admin_client().delete(server.url(&format!("/v2/library/app/manifests/{digest}"))).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::ACCEPTED);
    let mut gone = false;
    for _ in 0..300 {
        if peer_digest(&to_peer, &peer.url, "mirror/app", &digest).await.is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "the deletion reached the peer");

    // Outside the filter: nothing queued.
    let before: i64 = app::on_db!(&server.state.db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM job_executions WHERE kind LIKE 'replication:%'").fetch_one(pool).await
    })
    .unwrap();
    server.create_projects(&["other"]).await;
    push_image(&server, "other/tool", "amd64", Some("v1")).await;
    let after: i64 = app::on_db!(&server.state.db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM job_executions WHERE kind LIKE 'replication:%'").fetch_one(pool).await
    })
    .unwrap();
    assert_eq!(after, before);
    server.stop().await;
}

#[tokio::test]
async fn an_event_based_policy_replicates_pushes_and_deletes_sqlite() {
    common::within_time_limit(an_event_based_policy_replicates_pushes_and_deletes(Backend::Sqlite)).await;
}

#[tokio::test]
async fn an_event_based_policy_replicates_pushes_and_deletes_postgres() {
    common::within_time_limit(an_event_based_policy_replicates_pushes_and_deletes(Backend::Postgres)).await;
}
