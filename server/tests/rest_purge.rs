//! `/api/v2.0/system/purgeaudit` over real HTTP, on SQLite and PostgreSQL:
//! audit-log rotation scheduled in Harbor's shapes, run now (a dry run that
//! deletes nothing, then a real one), its history and log read back, a
//! finished run not stoppable, bad schedules and parameters refused with
//! nothing stored, and only system administrators let in.

mod common;

use std::time::Duration;

use common::{Backend, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn audit_rotation_over_rest(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = common::admin_client();
    let schedule_url = server.url("/api/v2.0/system/purgeaudit/schedule");
    let get_schedule = || async { admin.get(&schedule_url).send().await.unwrap().json::<Value>().await.unwrap() };

    // No retention configured: nothing scheduled.
    assert_eq!(get_schedule().await["schedule"]["type"], "None");

    // A custom schedule, then a preset in its place.
    let body = json!({"schedule": {"type": "Custom", "cron": "0 30 2 * * *"}, "parameters": {"audit_retention_hour": 168, "include_operations": "pull,push"}});
    let created = admin.post(&schedule_url).json(&body).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let current = get_schedule().await;
    assert_eq!(
        (current["schedule"]["type"].as_str(), current["schedule"]["cron"].as_str()),
        (Some("Custom"), Some("0 30 2 * * *"))
    );
    let parameters: Value = serde_json::from_str(current["job_parameters"].as_str().unwrap()).unwrap();
    assert_eq!(parameters["audit_retention_hour"], 168);
    let body = json!({"schedule": {"type": "Weekly"}, "parameters": {"audit_retention_hour": 24}});
    assert_eq!(admin.put(&schedule_url).json(&body).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(get_schedule().await["schedule"]["cron"], "0 0 0 * * 0");

    // Refused, with what was wrong named, and the schedule left as it was.
    for (body, mentions) in [
        (
            json!({"schedule": {"type": "Custom", "cron": "0 0 * * *"}, "parameters": {"audit_retention_hour": 1}}),
            "cron",
        ),
        (json!({"schedule": {"type": "Custom"}, "parameters": {"audit_retention_hour": 1}}), "cron"),
        (json!({"schedule": {"type": "Sometimes"}, "parameters": {"audit_retention_hour": 1}}), "schedule.type"),
        (json!({"schedule": {"type": "Daily"}, "parameters": {}}), "audit_retention_hour"),
        (json!({"schedule": {"type": "Daily"}, "parameters": {"audit_retention_hour": -1}}), "audit_retention_hour"),
        (
            json!({"schedule": {"type": "Daily"}, "parameters": {"audit_retention_hour": 1, "include_operations": "pull,teleport"}}),
            "include_operations",
        ),
        (
            json!({"schedule": {"type": "Manual"}, "parameters": {"audit_retention_hour": 1, "dry_run": "yes"}}),
            "dry_run",
        ),
    ] {
        let refused = admin.put(&schedule_url).json(&body).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{body}");
        let text = refused.text().await.unwrap();
        assert!(text.contains(mentions), "{body}: {text}");
    }
    assert_eq!(get_schedule().await["schedule"]["cron"], "0 0 0 * * 0");
    assert_eq!(
        admin.get(server.url("/api/v2.0/system/purgeaudit")).send().await.unwrap().headers()["x-total-count"],
        "0"
    );

    // Run now: a dry run counts and deletes nothing; a real run deletes.
    let entries = || async {
        let response = admin.get(server.url("/api/v2.0/audit-logs?page_size=1")).send().await.unwrap();
        response.headers()["x-total-count"].to_str().unwrap().parse::<i64>().unwrap()
    };
    server.state.events.flush().await;
    let before = entries().await;
    assert!(before > 0);
    let dry = run_now(&server, json!({"audit_retention_hour": 0, "dry_run": true})).await;
    assert_eq!((dry["job_status"].as_str(), dry["job_kind"].as_str()), (Some("Success"), Some("Manual")));
    let log = log_of(&server, dry["id"].as_i64().unwrap()).await;
    assert!(log.contains("would delete"), "{log}");
    assert!(entries().await >= before, "a dry run deletes nothing");
    let real = run_now(&server, json!({"audit_retention_hour": 0})).await;
    assert_eq!(real["job_status"], "Success");
    let log = log_of(&server, real["id"].as_i64().unwrap()).await;
    assert!(log.contains("deleted"), "{log}");

    // History, newest first; a finished run cannot be stopped; other ids are not found.
    let history = admin.get(server.url("/api/v2.0/system/purgeaudit?page=1&page_size=10")).send().await.unwrap();
    assert_eq!(history.headers()["x-total-count"], "2");
    let runs: Vec<Value> = history.json().await.unwrap();
    assert_eq!(runs[0]["id"], real["id"]);
    assert_eq!(runs[0]["job_name"], "PURGE_AUDIT");
    let stop = admin.put(server.url(&format!("/api/v2.0/system/purgeaudit/{}", real["id"]))).send().await.unwrap();
    assert_eq!(stop.status(), StatusCode::CONFLICT);
    let missing = admin.get(server.url("/api/v2.0/system/purgeaudit/999999")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // Only system administrators.
    server.create_user("carl", "Carl-password-1").await;
    let carl = common::client_as("carl", "Carl-password-1");
    assert_eq!(carl.get(&schedule_url).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let body = json!({"schedule": {"type": "Manual"}, "parameters": {"audit_retention_hour": 0}});
    assert_eq!(carl.post(&schedule_url).json(&body).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let anonymous = reqwest::Client::new().get(server.url("/api/v2.0/system/purgeaudit")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}

/// Starts a run with `parameters` and waits for it to end; its history entry.
async fn run_now(server: &TestServer, parameters: Value) -> Value {
    let admin = common::admin_client();
    let body = json!({"schedule": {"type": "Manual"}, "parameters": parameters});
    let started = admin.post(server.url("/api/v2.0/system/purgeaudit/schedule")).json(&body).send().await.unwrap();
    assert_eq!(started.status(), StatusCode::CREATED);
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    for _ in 0..200 {
        let run: Value = admin.get(server.url(&location)).send().await.unwrap().json().await.unwrap();
        if !matches!(run["job_status"].as_str(), Some("Pending" | "Running")) {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the run at {location} never ended");
}

async fn log_of(server: &TestServer, id: i64) -> String {
    let response =
        common::admin_client().get(server.url(&format!("/api/v2.0/system/purgeaudit/{id}/log"))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    response.text().await.unwrap()
}

on_both_databases!(audit_rotation_over_rest);
