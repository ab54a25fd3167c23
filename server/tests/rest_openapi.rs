//! The OpenAPI document: served, well-formed, and describing every REST
//! route Berth answers, each with its responses and Basic authentication.

mod common;

use common::{Backend, TestServer};
use serde_json::Value;

async fn the_document_describes_every_route(backend: Backend) {
    let server = TestServer::start(backend).await;
    let response = reqwest::get(server.url("/api/v2.0/openapi.json")).await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."), "{}", document["openapi"]);
    assert_eq!(document["components"]["securitySchemes"]["basic"]["scheme"], "basic");
    let paths = document["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/api/v2.0/health", &["get"][..]),
        ("/api/v2.0/systeminfo", &["get"]),
        ("/api/v2.0/ldap/ping", &["post"]),
        ("/api/v2.0/configurations", &["get", "put"]),
        ("/api/v2.0/projects", &["get", "post", "head"]),
        ("/api/v2.0/projects/{project_name_or_id}", &["get", "put", "delete"]),
        ("/api/v2.0/projects/{project_name_or_id}/summary", &["get"]),
        ("/api/v2.0/projects/{project_name_or_id}/members", &["get", "post"]),
        ("/api/v2.0/projects/{project_name_or_id}/members/{mid}", &["get", "put", "delete"]),
        ("/api/v2.0/projects/{project_name_or_id}/logs", &["get"]),
        ("/api/v2.0/audit-logs", &["get"]),
        ("/api/v2.0/users", &["get", "post"]),
        ("/api/v2.0/users/current", &["get"]),
        ("/api/v2.0/users/search", &["get"]),
        ("/api/v2.0/users/{user_id}", &["get", "put", "delete"]),
        ("/api/v2.0/users/{user_id}/password", &["put"]),
        ("/api/v2.0/users/{user_id}/sysadmin", &["put"]),
        ("/api/v2.0/users/{user_id}/cli_secret", &["put"]),
        ("/api/v2.0/usergroups", &["get", "post"]),
        ("/api/v2.0/usergroups/{group_id}", &["get", "delete"]),
        ("/api/v2.0/robots", &["get", "post"]),
        ("/api/v2.0/robots/{robot_id}", &["get", "put", "delete", "patch"]),
        ("/api/v2.0/repositories", &["get"]),
        ("/api/v2.0/projects/{project_name_or_id}/repositories", &["get"]),
        ("/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}", &["get", "delete"]),
        ("/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}/artifacts", &["get"]),
        (
            "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}/artifacts/{reference}",
            &["get", "delete"],
        ),
        (
            "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}/artifacts/{reference}/tags",
            &["get", "post"],
        ),
        (
            "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}/artifacts/{reference}/tags/{tag_name}",
            &["delete"],
        ),
    ] {
        let documented = paths.get(path).unwrap_or_else(|| panic!("{path} is not documented"));
        for method in methods {
            let operation = &documented[*method];
            assert!(operation["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}");
        }
    }
    // Response schemas resolve: every $ref names a schema in components.
    let schemas = document["components"]["schemas"].as_object().unwrap();
    let text = document.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "{name} is referenced but not defined");
    }
    assert!(schemas.contains_key("ProjectView") && schemas.contains_key("Errors"));
    server.stop().await;
}

/// The portal's reference page is read from the same document: every
/// operation is there, grouped by tag, with its parameters and answers.
async fn the_portal_reference_matches_the_document(backend: Backend) {
    let server = TestServer::start(backend).await;
    let document: Value = reqwest::get(server.url("/api/v2.0/openapi.json")).await.unwrap().json().await.unwrap();
    let documented: usize = document["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
    let anonymous = reqwest::Client::new().post(server.url("/portal/fn/api_reference")).send().await.unwrap();
    assert_eq!(anonymous.status(), reqwest::StatusCode::UNAUTHORIZED);

    server.create_user("rita", "rita-password-1").await;
    let portal = common::portal_client(&server, "rita", "rita-password-1").await;
    let reference: Value =
        portal.post(server.url("/portal/fn/api_reference")).send().await.unwrap().json().await.unwrap();
    let groups = reference["groups"].as_array().unwrap();
    let operations: Vec<&Value> = groups.iter().flat_map(|g| g["operations"].as_array().unwrap()).collect();
    assert_eq!(operations.len(), documented);
    let robot = groups.iter().find(|g| g["name"] == "robot").expect("a robot group");
    let update = robot["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|op| op["method"] == "PUT" && op["path"] == "/api/v2.0/robots/{robot_id}")
        .expect("PUT /robots/{robot_id} is listed");
    assert_eq!(update["parameters"][0]["name"], "robot_id");
    assert_eq!(update["request_body"]["schema"], "RobotUpdate");
    let statuses: Vec<&str> =
        update["responses"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert!(statuses.contains(&"200") && statuses.contains(&"401") && statuses.contains(&"404"), "{statuses:?}");
    let schema = reference["schemas"].as_array().unwrap().iter().find(|s| s["name"] == "RobotCreate").unwrap();
    let name = schema["fields"].as_array().unwrap().iter().find(|f| f["name"] == "name").unwrap();
    assert_eq!((name["type_name"].as_str(), name["required"].as_bool()), (Some("string"), Some(true)));

    // The page itself renders before any script runs.
    let page = portal.get(server.url("/api-reference")).send().await.unwrap();
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("/api/v2.0/robots/{robot_id}") && html.contains("RobotCreate"), "{html}");
    server.stop().await;
}

on_both_databases!(the_document_describes_every_route, the_portal_reference_matches_the_document);
