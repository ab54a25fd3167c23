//! Harbor's own client library against Berth: the PyPI `harborapi`
//! (async, strict pydantic models), installed by `scripts/test.sh` in the
//! tools virtualenv, manages users, projects, members, robots and tags, browses repositories and artifacts, reads audit
//! logs and schedules and follows garbage collection, manages immutable tag rules and tag retention, and
//! every answer must parse into its models.

mod common;

use common::{ADMIN_PASSWORD, Backend, TestServer};
use serde_json::{Value, json};

/// The Python interpreter of the tools virtualenv (scripts/test.sh makes it).
fn tools_python() -> String {
    std::env::var("BERTH_ORAS_PYTHON")
        .unwrap_or_else(|_| format!("{}/.cache/berth/tools-venv/bin/python", std::env::var("HOME").unwrap_or_default()))
}

/// Runs a harborapi script from tests/support against `server` as the
/// administrator (with `extra` arguments after the base URL and password);
/// what it printed, as JSON. Any exception in the script fails the test.
async fn harborapi(server: &TestServer, script: &str, extra: &[&str]) -> Value {
    let script = format!("{}/tests/support/{script}.py", env!("CARGO_MANIFEST_DIR"));
    let mut args = vec![script, server.base.clone(), ADMIN_PASSWORD.to_owned()];
    args.extend(extra.iter().map(|arg| (*arg).to_owned()));
    let python = tools_python();
    let output = tokio::task::spawn_blocking(move || std::process::Command::new(python).args(&args).output())
        .await
        .unwrap()
        .expect("the tools virtualenv exists (scripts/test.sh makes it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "harborapi failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_str(stdout.trim()).unwrap()
}

async fn harborapi_manages_projects_and_members(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("casey", "casey-password-1").await;
    server.create_projects(&["busy"]).await;
    common::push_empty_image(&common::admin_client(), &server, "busy/app", "v1").await;

    let seen = harborapi(&server, "harbor_client", &[]).await;
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
    assert_eq!(seen["gc_schedule"], json!({"type": "Weekly", "cron": "0 0 0 * * 0"}));
    assert_eq!(seen["gc_run"], json!({"status": "Success", "kind": "Manual", "name": "GARBAGE_COLLECTION"}));
    assert_eq!(seen["gc_history"], json!([true]));
    assert_eq!(seen["gc_log_dry"], true);
    assert_eq!(seen["gc_schedule_after"], "None");
    server.stop().await;
}

/// The harbor-cli executable (scripts/test.sh installs it in a virtualenv of its own).
fn harbor_cli() -> String {
    std::env::var("BERTH_HARBOR_CLI").unwrap_or_else(|_| {
        format!("{}/.cache/berth/harbor-cli-venv/bin/harbor", std::env::var("HOME").unwrap_or_default())
    })
}

/// harbor-cli, configured for Berth in a home of its own, answering JSON.
struct HarborCli {
    program: String,
    home: tempfile::TempDir,
}

impl HarborCli {
    fn for_server(server: &TestServer) -> Self {
        let home = tempfile::tempdir().unwrap();
        let config = format!(
            "[harbor]\nurl = \"{}/api/v2.0\"\nusername = \"admin\"\nsecret = \"{ADMIN_PASSWORD}\"\n",
            server.base
        );
        std::fs::write(home.path().join("config.toml"), config).unwrap();
        Self { program: harbor_cli(), home }
    }

    /// Runs one command; panics with its output unless it succeeds.
    async fn run(&self, args: &[&str]) -> String {
        let config = self.home.path().join("config.toml").display().to_string();
        let mut all = vec!["--config".to_owned(), config, "--format".to_owned(), "json".to_owned()];
        all.extend(args.iter().map(|a| a.to_string()));
        let (program, home) = (self.program.clone(), self.home.path().to_owned());
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new(program).args(&all).env("HOME", home).env("NO_COLOR", "1").output()
        })
        .await
        .unwrap()
        .expect("harbor-cli is installed (scripts/test.sh installs it)");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "harbor {args:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    async fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args).await;
        // The JSON document comes first; harbor-cli may add a status line after it.
        let mut stream = serde_json::Deserializer::from_str(&out).into_iter::<Value>();
        stream.next().unwrap_or_else(|| panic!("no JSON in {out}")).unwrap()
    }
}

async fn harbor_cli_manages_projects_users_and_members(backend: Backend) {
    let server = TestServer::start(backend).await;
    let cli = HarborCli::for_server(&server);
    let me = cli.json(&["user", "get-current"]).await;
    assert_eq!(me["username"], "admin");
    cli.run(&["project", "create", "cli-team"]).await;
    cli.run(&["user", "create", "cli-user", "--password", "Cli-Password-1", "--email", "cli@example.com"]).await;
    cli.run(&["project", "member", "add-user", "cli-team", "cli-user", "developer"]).await;
    let members = cli.json(&["project", "member", "list", "cli-team"]).await;
    let names: Vec<(&str, &str)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["entity_name"].as_str().unwrap(), m["role_name"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("admin", "projectAdmin"), ("cli-user", "developer")]);
    let projects = cli.json(&["project", "list"]).await;
    let names: Vec<&str> = projects.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["cli-team", "library"]);
    let users = cli.json(&["user", "list"]).await;
    assert_eq!(users.as_array().unwrap().len(), 2);
    let log = cli.json(&["auditlog", "list"]).await;
    assert!(
        log.as_array().unwrap().iter().any(|e| e["resource"] == "user:cli-user" && e["resource_type"] == "member"),
        "{log}"
    );
    server.stop().await;
}

on_both_databases!(
    harborapi_manages_projects_and_members,
    harbor_cli_manages_projects_users_and_members,
    harborapi_manages_replication,
    harborapi_manages_immutable_tag_rules,
    harborapi_manages_tag_retention,
    harborapi_manages_quotas
);

/// harborapi's retention methods: metadata, a policy created, read back,
/// updated and deleted, the project's retention id, a dry run started and
/// followed, its tasks and a task's log.
async fn harborapi_manages_tag_retention(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    for tag in ["v1", "v2", "v3"] {
        common::push_image(&common::admin_client(), &server, "team/app", tag, tag.as_bytes()).await;
    }
    let seen = harborapi(&server, "harbor_retention", &[]).await;
    assert_eq!(seen["location"], "/api/v2.0/retentions");
    assert_eq!(seen["retention_id_matches"], true);
    assert_eq!(
        seen["templates"],
        json!(["latestPushedK", "latestPulledN", "nDaysSinceLastPush", "nDaysSinceLastPull", "always"])
    );
    assert_eq!(seen["rules"], json!([["latestPushedK", {"latestPushedK": 1}]]));
    assert_eq!(seen["execution"], json!({"status": "Success", "dry_run": true, "trigger": "MANUAL"}));
    assert_eq!(seen["tasks"], json!([["team/app", "Success", 3, 1]]));
    assert_eq!(seen["would_delete"], 2);
    assert_eq!(seen["after_delete"], Value::Null);
    server.stop().await;
}

/// harborapi's immutable tag rule methods: create, list, enable and
/// disable (a PUT of `disabled` alone), update, delete; a delete refused
/// as `PreconditionFailed`; tags' immutable status in artifact listings.
async fn harborapi_manages_immutable_tag_rules(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    common::push_empty_image(&common::admin_client(), &server, "team/app", "v1").await;
    let seen = harborapi(&server, "harbor_immutability", &[]).await;
    assert_eq!(seen["location"], "/api/v2.0/projects/team/immutabletagrules");
    assert_eq!(seen["rules"], json!([["v*", "repoMatches", false]]));
    assert_eq!(seen["delete"], "precondition failed");
    assert!(seen["delete_message"].as_str().unwrap().contains("is immutable"), "{seen}");
    assert_eq!(seen["immutable"], json!([["v1", true]]));
    assert_eq!(seen["disabled"], json!([true]));
    assert_eq!(seen["updated"], json!([["release-*", false]]));
    assert_eq!(seen["after_delete"], 0);
    assert_eq!(seen["deleted_after"], true);
    server.stop().await;
}

/// harborapi's quota methods: the list (whole and for one project), one
/// quota, a changed limit, a refused zero and a missing id.
async fn harborapi_manages_quotas(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["alpha", "beta"]).await;
    common::push_empty_image(&common::admin_client(), &server, "alpha/app", "v1").await;
    let seen = harborapi(&server, "harbor_quotas", &[]).await;
    assert_eq!(seen["listed"], json!([["alpha", -1, true], ["beta", -1, false], ["library", -1, false]]));
    assert_eq!(seen["filtered"], json!(["alpha"]));
    assert_eq!(seen["updated"], 1073741824);
    assert_eq!(seen["zero"], "bad request");
    assert_eq!(seen["missing"], "not found");
    server.stop().await;
}

/// harborapi's registry and replication methods: a registry saved and
/// checked, a policy created, run and followed, its tasks and their log
/// read, and everything deleted again.
async fn harborapi_manages_replication(backend: Backend) {
    let server = TestServer::start(backend).await;
    let peer = common::distribution::Distribution::start().await;
    server.create_projects(&["busy"]).await;
    common::push_empty_image(&common::admin_client(), &server, "busy/app", "v1").await;

    let seen = harborapi(&server, "harbor_replication", &[&peer.url]).await;
    assert_eq!(seen["adapters"], json!(["docker-registry", "harbor"]));
    assert_eq!(
        seen["registry"],
        json!({"name": "peer", "type": "docker-registry", "status": "healthy", "description": "the peer"})
    );
    assert_eq!(seen["registries"], json!(["peer"]));
    assert_eq!(seen["info_triggers"], json!(["manual", "scheduled"]));
    assert_eq!(seen["policy"], json!({"name": "to-peer", "dest": "peer", "src": "Local"}));
    assert_eq!(seen["policies"], json!(["to-peer"]));
    assert_eq!(seen["execution"], json!({"status": "Succeed", "total": 1, "succeed": 1}));
    assert_eq!(seen["executions"], json!([true]));
    assert_eq!(seen["tasks"], json!([["Succeed", "copy", "busy/app:v1", "mirror/app:v1"]]));
    assert_eq!(seen["task_log_done"], true);
    assert_eq!(seen["registry_in_use"], "precondition failed");
    assert_eq!(seen["registries_after"], json!([]));
    let pulled = reqwest::get(format!("{}/v2/mirror/app/tags/list", peer.url)).await.unwrap();
    assert_eq!(pulled.json::<Value>().await.unwrap()["tags"], json!(["v1"]));
    server.stop().await;
}
