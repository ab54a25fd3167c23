//! Harbor's audit log endpoints over real HTTP, on SQLite and PostgreSQL:
//! the whole log for administrators, a project's log for those who may read
//! it, newest first, paged and filtered with Harbor's `q`.

mod common;

use common::{Backend, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn logs(client: &reqwest::Client, url: String) -> (Vec<Value>, i64) {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let total = response.headers()["x-total-count"].to_str().unwrap().parse().unwrap();
    (response.json().await.unwrap(), total)
}

async fn audit_logs_over_rest(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = common::admin_client();
    server.create_user("gwen", "gwen-password-1").await;
    server.create_user("hugo", "hugo-password-1").await;
    let gwen = common::client_as("gwen", "gwen-password-1");
    let hugo = common::client_as("hugo", "hugo-password-1");
    let created = admin.post(server.url("/api/v2.0/projects")).json(&json!({"project_name": "team"})).send().await;
    assert_eq!(created.unwrap().status(), StatusCode::CREATED);
    let member = json!({"role_id": 3, "member_user": {"username": "gwen"}});
    let added = admin.post(server.url("/api/v2.0/projects/team/members")).json(&member).send().await.unwrap();
    assert_eq!(added.status(), StatusCode::CREATED);
    common::push_empty_image(&admin, &server, "team/app", "v1").await;
    common::push_empty_image(&admin, &server, "library/other", "v1").await;

    // Everything, newest first, for administrators.
    let (entries, total) = logs(&admin, server.url("/api/v2.0/audit-logs?page_size=100")).await;
    assert_eq!(entries.len() as i64, total);
    let first_id = entries[0]["id"].as_i64().unwrap();
    // Changes of state are written as they commit, sign-ins and pulls in
    // batches: ids need not follow time, the order does.
    assert!(entries.windows(2).all(|pair| pair[0]["op_time"].as_str() >= pair[1]["op_time"].as_str()), "newest first");
    assert!(
        entries
            .iter()
            .any(|e| e["operation"] == "create" && e["resource_type"] == "project" && e["resource"] == "team")
    );
    assert!(first_id > 0);

    // Filters: username and operation exactly, resource by prefix, time range.
    let (pushes, _) = logs(&admin, server.url("/api/v2.0/audit-logs?q=operation%3Dpush,resource%3D~team/")).await;
    assert!(!pushes.is_empty());
    assert!(pushes.iter().all(|e| e["operation"] == "push" && e["resource"].as_str().unwrap().starts_with("team/")));
    let (by_hugo, total) = logs(&admin, server.url("/api/v2.0/audit-logs?q=username%3Dhugo")).await;
    assert_eq!((by_hugo.len(), total), (0, 0));
    let (future, _) =
        logs(&admin, server.url("/api/v2.0/audit-logs?q=op_time%3D%5B2999-01-01%2000%3A00%3A00~%5D")).await;
    assert!(future.is_empty());
    let (past, _) = logs(
        &admin,
        server.url("/api/v2.0/audit-logs?q=op_time%3D%5B2000-01-01%2000%3A00%3A00~2999-01-01%2000%3A00%3A00%5D"),
    )
    .await;
    assert!(!past.is_empty());
    let (page, total) = logs(&admin, server.url("/api/v2.0/audit-logs?page=2&page_size=1")).await;
    assert_eq!(page.len(), 1);
    assert!(total > 2);

    // A project's log: its guest may read it and sees only that project.
    let (team, _) = logs(&gwen, server.url("/api/v2.0/projects/team/logs?page_size=100")).await;
    assert!(!team.is_empty());
    assert!(team.iter().all(|e| !e["resource"].as_str().unwrap().starts_with("library/")), "{team:?}");
    let refused = hugo.get(server.url("/api/v2.0/projects/team/logs")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let refused = gwen.get(server.url("/api/v2.0/audit-logs")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let anonymous = reqwest::Client::new().get(server.url("/api/v2.0/audit-logs")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // Unknown filter keys and bad ranges are refused, naming q.
    for query in ["q=password%3Dx", "q=op_time%3Dyesterday", "q=username%3D~gw", "sort=op_time"] {
        let response = admin.get(server.url(&format!("/api/v2.0/audit-logs?{query}"))).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
    }
    server.stop().await;
}

on_both_databases!(audit_logs_over_rest);
