//! Two Berth nodes on one PostgreSQL database and one Garage bucket, each
//! with its own job runner, and a scheduled push policy to Debian's
//! docker-registry (behind htpasswd): one schedule tick makes one
//! replication execution, run once by one node, not one per node, even
//! after both runners have looked for due ticks since it came.

mod common;

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Timelike, Utc};
use common::{
    Backend, TestDatabase, TestServer,
    distribution::Distribution,
    garage::Garage,
    replication::{create_policy, create_registry, finished},
};
use reqwest::StatusCode;
use serde_json::{Value, json};

const USER: &str = "mirror";
const PASSWORD: &str = "mirror-password-5";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// This policy's executions as `node` lists them, and how many it says there are.
async fn executions(node: &TestServer, policy_id: i64) -> (Vec<Value>, String) {
    let url = node.url(&format!("/api/v2.0/replication/executions?policy_id={policy_id}&page_size=100"));
    let listed = common::admin_client().get(url).send().await.unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    let total = listed.headers()["x-total-count"].to_str().unwrap().to_owned();
    (listed.json().await.unwrap(), total)
}

/// Each runner's last heartbeat, as `node` lists the worker pools.
async fn heartbeats(node: &TestServer) -> HashMap<String, DateTime<Utc>> {
    let pools: Vec<Value> =
        common::admin_client().get(node.url("/api/v2.0/jobservice/pools")).send().await.unwrap().json().await.unwrap();
    pools
        .iter()
        .map(|pool| {
            let at = serde_json::from_value(pool["heartbeat_at"].clone()).unwrap();
            (pool["worker_pool_id"].as_str().unwrap().to_owned(), at)
        })
        .collect()
}

/// Waits until both runners have started a round after `after` and then
/// another one. A runner says it is alive at the start of each round and
/// takes due ticks in it, so by then each has looked for due ticks since
/// `after`.
async fn both_runners_looked_since(node: &TestServer, after: DateTime<Utc>) {
    let mut since = HashMap::new();
    for _ in 0..200 {
        let beats = heartbeats(node).await;
        assert_eq!(beats.len(), 2, "one runner per node: {beats:?}");
        if since.is_empty() {
            if beats.values().all(|beat| *beat > after) {
                since = beats;
            }
        } else if beats.iter().all(|(runner, beat)| since.get(runner).is_some_and(|first| beat > first)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the runners did not both look twice within 20 s of {after}");
}

/// A cron (six fields, UTC) that comes round once a day, at `at`'s second.
fn daily_at(at: DateTime<Utc>) -> String {
    format!("{} {} {} * * *", at.second(), at.minute(), at.hour())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_schedule_tick_makes_one_replication_across_nodes() {
    common::within_time_limit(async {
        common::init_test_logging();
        let garage = Garage::start().await;
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let database = TestDatabase::create(Backend::Postgres, dir_a.path()).await;
        let settings = garage.berth_settings();
        let node_a = TestServer::start_with(dir_a.path().to_owned(), &database.url, &settings).await;
        let node_b = TestServer::start_with(dir_b.path().to_owned(), &database.url, &settings).await;
        let peer = Distribution::start_with_user(USER, PASSWORD).await;

        // An image pushed through node A; the registry saved through node A
        // (its credential sealed with the nodes' shared key); the policy
        // made through node B, its one tick a few seconds from now.
        let layer = b"a layer replicated on a schedule".repeat(4000);
        let (image, _) = common::push_image(&common::admin_client(), &node_a, "library/app", "v1", &layer).await;
        let registry_id = create_registry(&node_a, "peer", "docker-registry", &peer.url, Some((USER, PASSWORD))).await;
        let tick = (Utc::now() + chrono::Duration::seconds(5)).with_nanosecond(0).unwrap();
        let mut policy = json!({
            "name": "scheduled-to-peer", "dest_registry": {"id": registry_id}, "dest_namespace": "",
            "filters": [{"type": "name", "value": "library/app"}],
            "trigger": {"type": "scheduled", "trigger_settings": {"cron": daily_at(tick)}},
            "override": true, "enabled": true,
        });
        let policy_id = create_policy(&node_b, &policy).await;
        assert!(Utc::now() < tick, "the policy was saved before its tick");

        // Past the tick, both runners have looked for due ticks.
        tokio::time::sleep((tick - Utc::now()).to_std().unwrap_or_default()).await;
        both_runners_looked_since(&node_a, tick).await;
        let (listed, _) = executions(&node_a, policy_id).await;
        assert_eq!(listed.len(), 1, "one tick, one execution: {listed:#?}");
        let id = listed[0]["id"].as_i64().unwrap();
        let execution = finished(&node_b, &format!("/api/v2.0/replication/executions/{id}")).await;
        assert_eq!(execution["status"], "Succeed", "{execution}");
        assert_eq!(execution["trigger"], "scheduled", "{execution}");
        assert_eq!((execution["total"].as_i64(), execution["succeed"].as_i64()), (Some(1), Some(1)), "{execution}");

        // No more ticks; still the one execution, whichever node is asked.
        policy["enabled"] = json!(false);
        let path = format!("/api/v2.0/replication/policies/{policy_id}");
        let disabled = common::admin_client().put(node_a.url(&path)).json(&policy).send().await.unwrap();
        assert_eq!(disabled.status(), StatusCode::OK);
        for node in [&node_a, &node_b] {
            let (listed, total) = executions(node, policy_id).await;
            assert_eq!((listed.len(), total.as_str()), (1, "1"), "{listed:#?}");
            assert_eq!(listed[0]["id"], id);
        }

        // The image is there, byte for byte.
        let there = common::client_as(USER, PASSWORD)
            .get(format!("{}/v2/library/app/manifests/v1", peer.url))
            .header("accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        assert_eq!(there.status(), StatusCode::OK);
        let digest = app::core::registry::digest::Digest::sha256_of(&there.bytes().await.unwrap());
        assert_eq!(digest.to_string(), image);
        node_b.stop().await;
        node_a.stop().await;
    })
    .await;
}
