//! Harbor's own client library against Berth: the PyPI `harborapi`
//! (async, strict pydantic models), installed by `scripts/test.sh` in the
//! tools virtualenv, manages users, projects, members, robots and tags, browses repositories and artifacts and reads audit
//! logs, and every answer must parse into its models.

mod common;

use common::{ADMIN_PASSWORD, Backend, TestServer};
use serde_json::{Value, json};

/// The Python interpreter of the tools virtualenv (scripts/test.sh makes it).
fn tools_python() -> String {
    std::env::var("BERTH_ORAS_PYTHON")
        .unwrap_or_else(|_| format!("{}/.cache/berth/tools-venv/bin/python", std::env::var("HOME").unwrap_or_default()))
}

async fn harborapi_manages_projects_and_members(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("casey", "casey-password-1").await;
    server.create_projects(&["busy"]).await;
    common::push_empty_image(&common::admin_client(), &server, "busy/app", "v1").await;

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/harbor_client.py");
    let (python, base) = (tools_python(), server.base.clone());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python).args([script, &base, ADMIN_PASSWORD]).output()
    })
    .await
    .unwrap()
    .expect("the tools virtualenv exists (scripts/test.sh makes it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "harborapi failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(seen["current_user"], json!({"username": "admin", "admin": true}));
    assert_eq!(seen["dana"], json!({"realname": "Dana D.", "admin": true, "email": "dana@example.com"}));
    assert_eq!(seen["dana_sees_users"], json!(["admin", "casey", "dana"]));
    assert_eq!(seen["project_log_operations"], json!(["create", "delete", "update"]));
    assert_eq!(seen["dana_created"], json!([["admin", "dana"]]));
    assert_eq!(seen["location"], "/api/v2.0/projects/harborapi-team");
    assert_eq!(seen["robot_name"], "robot$harborapi-team+ci");
    assert_eq!(seen["robots"], json!([["robot$harborapi-team+ci", "project", ["pull", "push"]]]));
    assert_eq!(seen["robot_secret"], "Robot-Secret-99");
    assert_eq!(seen["project"], json!({"name": "harborapi-team", "public": "false", "owner": "admin"}));
    assert_eq!(seen["projects"], json!(["harborapi-team"]));
    assert_eq!(seen["all_projects"], json!(["busy", "harborapi-team", "library"]));
    assert_eq!(seen["members"], json!([["admin", "projectAdmin", 1], ["casey", "developer", 2]]));
    assert_eq!(seen["changed_role"], "maintainer");
    assert_eq!(seen["summary"], json!({"repos": 0, "admins": 1, "maintainers": 1}));
    assert_eq!(seen["casey_delete"], "forbidden");
    assert_eq!(seen["members_after"], json!(["admin"]));
    assert_eq!(seen["missing_delete"], "not found");
    assert_eq!(seen["busy_delete"], "precondition failed");
    assert_eq!(seen["exists_after_delete"], false);
    assert_eq!(seen["repositories"], json!([["busy/app", 1]]));
    assert_eq!(seen["artifact_tags"], json!([["v1"]]));
    assert_eq!(seen["tags_after_adding"], json!(["stable", "v1"]));
    // The test image has the empty config: an artifact, not an image.
    assert_eq!(seen["artifact_type"], "application/vnd.oci.empty.v1+json");
    server.stop().await;
}

on_both_databases!(harborapi_manages_projects_and_members);
