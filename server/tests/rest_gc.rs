//! `/api/v2.0/system/gc` over real HTTP, on SQLite and PostgreSQL:
//! garbage collection scheduled in Harbor's shapes, a dry run started and
//! read back with its log, bad parameters refused with
//! nothing stored, and only system administrators let in.

mod common;

use std::time::Duration;

use common::{Backend, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn garbage_collection_over_rest(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = common::admin_client();
    let schedule_url = server.url("/api/v2.0/system/gc/schedule");
    let get_schedule = || async { admin.get(&schedule_url).send().await.unwrap().json::<Value>().await.unwrap() };
    assert_eq!(get_schedule().await["schedule"]["type"], "None");

    let body = json!({"schedule": {"type": "Weekly"}, "parameters": {"workers": 3}});
    assert_eq!(admin.post(&schedule_url).json(&body).send().await.unwrap().status(), StatusCode::CREATED);
    let current = get_schedule().await;
    assert_eq!(
        (current["schedule"]["type"].as_str(), current["job_name"].as_str()),
        (Some("Weekly"), Some("GARBAGE_COLLECTION"))
    );

    for (body, mentions) in [
        (json!({"schedule": {"type": "Daily"}, "parameters": {"workers": 11}}), "workers"),
        (json!({"schedule": {"type": "Daily"}, "parameters": {"delete_untagged": "yes"}}), "delete_untagged"),
        (json!({"schedule": {"type": "Custom", "cron": "0 0 * * *"}, "parameters": {}}), "cron"),
    ] {
        let refused = admin.put(&schedule_url).json(&body).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{body}");
        assert!(refused.text().await.unwrap().contains(mentions), "{body}");
    }
    assert_eq!(get_schedule().await["schedule"]["type"], "Weekly", "refusals store nothing");

    // A dry run now: Manual, with a Location to follow.
    let body = json!({"schedule": {"type": "Manual"}, "parameters": {"dry_run": true, "workers": 2}});
    let started = admin.post(&schedule_url).json(&body).send().await.unwrap();
    assert_eq!(started.status(), StatusCode::CREATED);
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let mut run = Value::Null;
    for _ in 0..200 {
        run = admin.get(server.url(&location)).send().await.unwrap().json().await.unwrap();
        if !matches!(run["job_status"].as_str(), Some("Pending" | "Running")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!((run["job_status"].as_str(), run["job_kind"].as_str()), (Some("Success"), Some("Manual")), "{run}");
    let log = admin.get(server.url(&format!("{location}/log"))).send().await.unwrap().text().await.unwrap();
    assert!(log.contains("dry run"), "{log}");
    let history = admin.get(server.url("/api/v2.0/system/gc")).send().await.unwrap();
    assert_eq!(history.headers()["x-total-count"], "1");
    assert_eq!(admin.put(server.url(&location)).send().await.unwrap().status(), StatusCode::CONFLICT);
    // Another job's run is not found here.
    let purge = json!({"schedule": {"type": "Manual"}, "parameters": {"audit_retention_hour": 1, "dry_run": true}});
    let purge = admin.post(server.url("/api/v2.0/system/purgeaudit/schedule")).json(&purge).send().await.unwrap();
    let purge_id = purge.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let elsewhere = admin.get(server.url(&format!("/api/v2.0/system/gc/{purge_id}"))).send().await.unwrap();
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);

    server.create_user("carl", "Carl-password-1").await;
    let carl = common::client_as("carl", "Carl-password-1");
    assert_eq!(carl.get(&schedule_url).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(carl.post(&schedule_url).json(&body).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    server.stop().await;
}

on_both_databases!(garbage_collection_over_rest);
