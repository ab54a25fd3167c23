//! Harbor's views of the job service over real HTTP, on SQLite and
//! PostgreSQL: `/schedules` lists what runs when; `/jobservice` shows the
//! node taking jobs as a worker pool with idle workers, each kind's queue
//! with what waits and for how long; a paused queue holds its executions
//! until it is resumed, stopping a queue ends what waits in it; a job's
//! log and stop by id; bad job types, actions and callers are refused.

mod common;

use std::time::Duration;

use common::{Backend, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn get(client: &reqwest::Client, server: &TestServer, path: &str) -> Value {
    let response = client.get(server.url(path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

async fn put(client: &reqwest::Client, server: &TestServer, path: &str, body: Value) -> StatusCode {
    client.put(server.url(path)).json(&body).send().await.unwrap().status()
}

/// Queues a garbage collection (Harbor's "Manual" schedule); its id.
async fn queue_collection(client: &reqwest::Client, server: &TestServer) -> i64 {
    let body = json!({"schedule": {"type": "Manual"}, "parameters": {"dry_run": true}});
    let started = client.post(server.url("/api/v2.0/system/gc/schedule")).json(&body).send().await.unwrap();
    assert_eq!(started.status(), StatusCode::CREATED);
    started.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().parse().unwrap()
}

async fn status_of(client: &reqwest::Client, server: &TestServer, id: i64) -> String {
    get(client, server, &format!("/api/v2.0/system/gc/{id}")).await["job_status"].as_str().unwrap().to_owned()
}

async fn wait_for_end(client: &reqwest::Client, server: &TestServer, id: i64) -> String {
    for _ in 0..200 {
        let status = status_of(client, server, id).await;
        if status != "Pending" && status != "Running" {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("run {id} never ended");
}

fn queue<'a>(queues: &'a Value, job_type: &str) -> &'a Value {
    queues.as_array().unwrap().iter().find(|q| q["job_type"] == job_type).unwrap_or_else(|| panic!("{queues}"))
}

async fn the_job_service_over_rest(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = common::admin_client();

    // The upload cleanup runs hourly from the start.
    let schedules = get(&admin, &server, "/api/v2.0/schedules").await;
    let cleanup = schedules.as_array().unwrap().iter().find(|s| s["vendor_type"] == "UPLOAD_CLEANUP").unwrap();
    assert_eq!(cleanup["cron"], "0 0 * * * *", "{schedules}");
    assert_eq!(get(&admin, &server, "/api/v2.0/schedules/all/paused").await, json!({"paused": false}));

    // This node takes jobs: one pool of four idle workers.
    let mut pools = get(&admin, &server, "/api/v2.0/jobservice/pools").await;
    for _ in 0..50 {
        if !pools.as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        pools = get(&admin, &server, "/api/v2.0/jobservice/pools").await;
    }
    let pool = &pools[0];
    assert_eq!((pools.as_array().unwrap().len(), pool["concurrency"].as_i64()), (1, Some(4)), "{pools}");
    assert_eq!(pool["pid"], i64::from(std::process::id()), "the test runs the server in its own process");
    assert!(!pool["host"].as_str().unwrap().is_empty());
    let pool_id = pool["worker_pool_id"].as_str().unwrap();
    let workers = get(&admin, &server, &format!("/api/v2.0/jobservice/pools/{pool_id}/workers")).await;
    assert_eq!(workers.as_array().unwrap().len(), 4, "{workers}");
    assert!(workers.as_array().unwrap().iter().all(|w| w["job_id"] == "" && w["pool_id"] == pool_id), "{workers}");
    let ids = |workers: &Value| -> Vec<String> {
        workers.as_array().unwrap().iter().map(|w| w["id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(ids(&get(&admin, &server, "/api/v2.0/jobservice/pools/all/workers").await), ids(&workers));
    let missing = admin.get(server.url("/api/v2.0/jobservice/pools/nobody/workers")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // A paused queue holds what is queued; its queue shows it waiting.
    let gc_queue = "/api/v2.0/jobservice/queues/GARBAGE_COLLECTION";
    assert_eq!(put(&admin, &server, gc_queue, json!({"action": "pause"})).await, StatusCode::OK);
    assert_eq!(get(&admin, &server, "/api/v2.0/schedules/GARBAGE_COLLECTION/paused").await, json!({"paused": true}));
    assert_eq!(get(&admin, &server, "/api/v2.0/schedules/all/paused").await, json!({"paused": false}));
    let held = queue_collection(&admin, &server).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(status_of(&admin, &server, held).await, "Pending", "a paused queue holds its runs past a look");
    let queues = get(&admin, &server, "/api/v2.0/jobservice/queues").await;
    let gc = queue(&queues, "GARBAGE_COLLECTION");
    assert_eq!((gc["count"].as_i64(), gc["paused"].as_bool()), (Some(1), Some(true)), "{queues}");
    assert!(gc["latency"].as_i64().unwrap() >= 2, "{queues}");
    assert_eq!(queue(&queues, "PURGE_AUDIT")["count"], 0);
    // Resumed, it runs.
    assert_eq!(put(&admin, &server, gc_queue, json!({"action": "resume"})).await, StatusCode::OK);
    assert_eq!(wait_for_end(&admin, &server, held).await, "Success");
    let log = admin.get(server.url(&format!("/api/v2.0/jobservice/jobs/{held}/log"))).send().await.unwrap();
    assert!(log.text().await.unwrap().contains("garbage collection"));
    let ended = put(&admin, &server, &format!("/api/v2.0/jobservice/jobs/{held}"), json!({"action": "stop"})).await;
    assert_eq!(ended, StatusCode::CONFLICT, "it has ended");

    // Stopping a queue ends what waits in it.
    assert_eq!(
        put(&admin, &server, "/api/v2.0/jobservice/queues/all", json!({"action": "pause"})).await,
        StatusCode::OK
    );
    let waiting = [queue_collection(&admin, &server).await, queue_collection(&admin, &server).await];
    assert_eq!(put(&admin, &server, gc_queue, json!({"action": "stop"})).await, StatusCode::OK);
    for id in waiting {
        assert_eq!(status_of(&admin, &server, id).await, "Stopped");
    }
    assert_eq!(
        put(&admin, &server, "/api/v2.0/jobservice/queues/all", json!({"action": "resume"})).await,
        StatusCode::OK
    );
    assert_eq!(get(&admin, &server, "/api/v2.0/schedules/all/paused").await, json!({"paused": false}));
    // Stopping a pending job by id.
    let queued = queue_collection(&admin, &server).await;
    let stop = put(&admin, &server, &format!("/api/v2.0/jobservice/jobs/{queued}"), json!({"action": "stop"})).await;
    assert!(matches!(stop, StatusCode::OK | StatusCode::CONFLICT), "stopped, or already run: {stop}");

    // Refusals.
    assert_eq!(put(&admin, &server, gc_queue, json!({"action": "explode"})).await, StatusCode::BAD_REQUEST);
    let unknown = put(&admin, &server, "/api/v2.0/jobservice/queues/SCAN_ALL", json!({"action": "pause"})).await;
    assert_eq!(unknown, StatusCode::NOT_FOUND);
    let bad = put(&admin, &server, &format!("/api/v2.0/jobservice/jobs/{queued}"), json!({"action": "pause"})).await;
    assert_eq!(bad, StatusCode::BAD_REQUEST);
    server.create_user("casey", "casey-password-1").await;
    let casey = common::client_as("casey", "casey-password-1");
    for path in ["/api/v2.0/schedules", "/api/v2.0/jobservice/pools", "/api/v2.0/jobservice/queues"] {
        assert_eq!(casey.get(server.url(path)).send().await.unwrap().status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(put(&casey, &server, gc_queue, json!({"action": "pause"})).await, StatusCode::FORBIDDEN);
    let anonymous = reqwest::get(server.url("/api/v2.0/jobservice/queues")).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}

on_both_databases!(the_job_service_over_rest);
