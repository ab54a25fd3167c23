//! `POST /api/v2.0/projects` over real HTTP, on SQLite and PostgreSQL:
//! Harbor's request shape, the creator becomes project admin, Harbor-style
//! errors for bad input, and the same permission rules as everywhere else.

mod common;

use common::{Backend, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn create(client: &reqwest::Client, server: &TestServer, body: Value) -> reqwest::Response {
    client.post(server.url("/api/v2.0/projects")).json(&body).send().await.unwrap()
}

async fn users_create_projects_they_then_administer(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("erin", "erin-password-1").await;
    let erin = common::client_as("erin", "erin-password-1");

    let response = create(&erin, &server, json!({"project_name": "erins", "metadata": {"public": "true"}})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()[reqwest::header::LOCATION].to_str().unwrap().to_owned();
    let project = server.state.projects.find("erins").await.unwrap().expect("the project exists");
    assert_eq!(location, format!("/api/v2.0/projects/{}", project.id.0));
    assert!(project.public);
    // As its project admin, erin may push there.
    assert_eq!(common::push_blob(&erin, &server, "erins/app", b"layer").await, StatusCode::CREATED);

    for (body, status, mentions) in [
        (json!({"project_name": "erins"}), StatusCode::CONFLICT, "already exists"),
        (json!({"project_name": "Bad Name"}), StatusCode::BAD_REQUEST, "project_name"),
        (json!({"project_name": "x2", "owner_id": 1}), StatusCode::BAD_REQUEST, "owner_id"),
        (json!({"project_name": "x3", "metadata": {"public": true}}), StatusCode::BAD_REQUEST, "metadata.public"),
        (json!({"project_name": "x4", "storage_limit": 1024}), StatusCode::BAD_REQUEST, "storage_limit"),
        (json!({"name": "x5"}), StatusCode::BAD_REQUEST, "project_name"),
    ] {
        let response = create(&erin, &server, body.clone()).await;
        assert_eq!(response.status(), status, "{body}");
        let error: Value = response.json().await.unwrap();
        let message = error["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{body}: {message}");
    }
    let anonymous = create(&reqwest::Client::new(), &server, json!({"project_name": "anon"})).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.json::<Value>().await.unwrap()["errors"][0]["code"], "UNAUTHORIZED");

    // Once only administrators may create projects, erin may not.
    let admin = server.admin_actor().await;
    server.state.settings.set_project_creation_admin_only(&admin, true).await.unwrap();
    let refused = create(&erin, &server, json!({"project_name": "later"})).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let by_admin = create(&common::admin_client(), &server, json!({"project_name": "later", "public": false})).await;
    assert_eq!(by_admin.status(), StatusCode::CREATED);
    server.stop().await;
}

on_both_databases!(users_create_projects_they_then_administer);
