//! `/api/v2.0/replication/policies` over real HTTP: push and pull policies
//! in Harbor's shapes (this registry as "Local", id 0), their checks, the
//! schedule a scheduled policy keeps in the job service, and a registry a
//! policy uses kept from deletion.

mod common;

use common::{Backend, TestServer, distribution::Distribution};
use reqwest::StatusCode;
use serde_json::{Value, json};

const POLICIES: &str = "/api/v2.0/replication/policies";

async fn send(server: &TestServer, method: reqwest::Method, path: &str, body: Option<Value>) -> reqwest::Response {
    let mut request = common::admin_client().request(method, server.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn message(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["errors"][0]["message"].as_str().unwrap_or_default().to_owned()
}

async fn schedules(server: &TestServer) -> Vec<(String, String)> {
    app::on_db!(&server.state.db, pool => {
        sqlx::query_as("SELECT kind, cron FROM job_schedules WHERE kind LIKE 'replication:%' ORDER BY kind").fetch_all(pool).await
    })
    .unwrap()
}

async fn policies_over_rest(backend: Backend) {
    let server = TestServer::start(backend).await;
    let peer = Distribution::start().await;
    let registry = json!({"name": "peer", "type": "docker-registry", "url": peer.url});
    let created = send(&server, reqwest::Method::POST, "/api/v2.0/registries", Some(registry)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let registry_path = created.headers()["location"].to_str().unwrap().to_owned();
    let registry_id: i64 = registry_path.rsplit('/').next().unwrap().parse().unwrap();

    // A push policy, with filters, created and read back in Harbor's shape.
    let push = json!({
        "name": "to-peer", "description": "library to the peer",
        "src_registry": null, "dest_registry": {"id": registry_id, "name": "peer"},
        "dest_namespace": "mirror", "trigger": {"type": "manual"},
        "filters": [
            {"type": "name", "value": "library/**"},
            {"type": "tag", "value": "v*", "decoration": "excludes"},
            {"type": "resource", "value": "image"},
        ],
        "deletion": true, "override": true, "enabled": true, "speed": -1, "copy_by_chunk": true,
    });
    let created = send(&server, reqwest::Method::POST, POLICIES, Some(push.clone())).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&format!("{POLICIES}/")), "{location}");
    let policy: Value = send(&server, reqwest::Method::GET, &location, None).await.json().await.unwrap();
    assert_eq!(policy["name"], "to-peer");
    assert_eq!(policy["src_registry"]["id"], 0);
    assert_eq!(policy["src_registry"]["name"], "Local");
    assert_eq!(policy["dest_registry"]["id"], registry_id);
    assert_eq!(policy["dest_registry"]["url"], peer.url);
    assert_eq!(policy["dest_namespace"], "mirror");
    assert_eq!(policy["dest_namespace_replace_count"], -1, "Harbor's default flattens to the last component");
    assert_eq!(policy["trigger"]["type"], "manual");
    assert_eq!(
        policy["filters"],
        json!([
            {"type": "name", "value": "library/**"},
            {"type": "tag", "value": "v*", "decoration": "excludes"},
            {"type": "resource", "value": "image"},
        ])
    );
    assert_eq!((policy["deletion"].as_bool(), policy["replicate_deletion"].as_bool()), (Some(true), Some(true)));
    assert_eq!((policy["override"].as_bool(), policy["enabled"].as_bool()), (Some(true), Some(true)));
    assert_eq!(policy["speed"], 0, "a negative speed is no limit");
    assert_eq!(policy["copy_by_chunk"], true);
    let listed = send(&server, reqwest::Method::GET, &format!("{POLICIES}?q=name%3D~peer"), None).await;
    assert_eq!(listed.headers()["x-total-count"], "1");
    let listed: Value = listed.json().await.unwrap();
    assert_eq!(listed[0]["id"], policy["id"]);

    // What is refused, and why.
    let refusals = [
        (
            json!({"name": "both", "src_registry": {"id": registry_id}, "dest_registry": {"id": registry_id}}),
            "either src_registry",
        ),
        (json!({"name": "neither"}), "either src_registry"),
        (json!({"name": "nowhere", "dest_registry": {"id": registry_id + 100}}), "no registry"),
        (
            json!({"name": "labels", "dest_registry": {"id": registry_id}, "filters": [{"type": "label", "value": ["a"]}]}),
            "labels",
        ),
        (
            json!({"name": "glob", "dest_registry": {"id": registry_id}, "filters": [{"type": "name", "value": "a/{b"}]}),
            "filters",
        ),
        (
            json!({"name": "cron", "dest_registry": {"id": registry_id}, "trigger": {"type": "scheduled", "trigger_settings": {"cron": "* *"}}}),
            "cron",
        ),
        (
            json!({"name": "pull-on-push", "src_registry": {"id": registry_id}, "trigger": {"type": "event_based"}}),
            "event_based",
        ),
        (
            json!({"name": "Bad Namespace", "dest_registry": {"id": registry_id}, "dest_namespace": "No Spaces"}),
            "dest_namespace",
        ),
    ];
    for (body, says) in refusals {
        let refused = send(&server, reqwest::Method::POST, POLICIES, Some(body.clone())).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{body}");
        let text = message(refused).await;
        assert!(text.contains(says), "{body}: {text}");
    }
    let taken = send(&server, reqwest::Method::POST, POLICIES, Some(push)).await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);

    // A scheduled pull policy keeps a schedule in the job service while it
    // is enabled and scheduled; the schedule goes with the trigger.
    let pull = json!({
        "name": "from-peer", "src_registry": {"id": registry_id}, "dest_registry": {"id": 0},
        "trigger": {"type": "scheduled", "trigger_settings": {"cron": "0 0 3 * * *"}}, "enabled": true,
    });
    let created = send(&server, reqwest::Method::POST, POLICIES, Some(pull.clone())).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let pull_path = created.headers()["location"].to_str().unwrap().to_owned();
    let pull_id = pull_path.rsplit('/').next().unwrap().to_owned();
    assert_eq!(schedules(&server).await, [(format!("replication:{pull_id}"), "0 0 3 * * *".to_owned())]);
    let pulled: Value = send(&server, reqwest::Method::GET, &pull_path, None).await.json().await.unwrap();
    assert_eq!(
        (pulled["src_registry"]["id"].as_i64(), pulled["dest_registry"]["name"].as_str()),
        (Some(registry_id), Some("Local"))
    );
    let mut disabled = pull.clone();
    disabled["enabled"] = json!(false);
    assert_eq!(send(&server, reqwest::Method::PUT, &pull_path, Some(disabled)).await.status(), StatusCode::OK);
    assert_eq!(schedules(&server).await, [], "a disabled policy has no schedule");
    assert_eq!(send(&server, reqwest::Method::PUT, &pull_path, Some(pull)).await.status(), StatusCode::OK);
    assert_eq!(schedules(&server).await.len(), 1);
    // The portal's Enable/Disable changes only that, in one write, the
    // schedule following.
    let admin = server.admin_actor().await;
    let id = app::core::replication::PolicyId(pull_id.parse().unwrap());
    server.state.replication.set_policy_enabled(&admin, id, false).await.unwrap();
    assert_eq!(schedules(&server).await, []);
    let read: Value = send(&server, reqwest::Method::GET, &pull_path, None).await.json().await.unwrap();
    assert_eq!(
        (read["enabled"].as_bool(), read["trigger"]["trigger_settings"]["cron"].as_str()),
        (Some(false), Some("0 0 3 * * *"))
    );
    server.state.replication.set_policy_enabled(&admin, id, true).await.unwrap();
    assert_eq!(schedules(&server).await, [(format!("replication:{pull_id}"), "0 0 3 * * *".to_owned())]);
    let missing =
        server.state.replication.set_policy_enabled(&admin, app::core::replication::PolicyId(999_999), true).await;
    assert!(matches!(missing, Err(app::core::Error::NotFound(_))), "{missing:?}");

    // A registry a policy uses stays; once the policies go, it can go.
    let refused = send(&server, reqwest::Method::DELETE, &registry_path, None).await;
    assert_eq!(refused.status(), StatusCode::PRECONDITION_FAILED);
    assert!(message(refused).await.contains("used by a replication policy"));
    for path in [&location, &pull_path] {
        assert_eq!(send(&server, reqwest::Method::DELETE, path, None).await.status(), StatusCode::OK);
    }
    assert_eq!(schedules(&server).await, [], "the schedule went with its policy");
    assert_eq!(send(&server, reqwest::Method::GET, &location, None).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(send(&server, reqwest::Method::DELETE, &registry_path, None).await.status(), StatusCode::OK);

    // Only system administrators; every change audited.
    server.create_user("dev", "dev-password-1").await;
    let dev = common::client_as("dev", "dev-password-1");
    assert_eq!(dev.get(server.url(POLICIES)).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let log = common::audit_log(&server, "resource_type=replication_policy").await;
    let operations: Vec<&str> = log.iter().map(|row| row["operation"].as_str().unwrap()).collect();
    assert_eq!(operations, ["delete", "delete", "update", "update", "update", "update", "create", "create"]);
    server.stop().await;
}

#[tokio::test]
async fn policies_over_rest_sqlite() {
    policies_over_rest(Backend::Sqlite).await;
}

#[tokio::test]
async fn policies_over_rest_postgres() {
    policies_over_rest(Backend::Postgres).await;
}
