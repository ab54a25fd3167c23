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
        ("/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}", &["get"]),
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

on_both_databases!(the_document_describes_every_route);
