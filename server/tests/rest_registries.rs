//! `/api/v2.0/registries` over real HTTP against real peers on loopback:
//! Debian's docker-registry (distribution 2.8) behind htpasswd, and a
//! second Berth signing a robot in through its token service. A registry
//! is only saved when it answers with the credential; the secret is never
//! returned, never stored in clear, and goes only to the registry it was
//! given for.

mod common;

use app::core::{identity::RobotPermission, rbac::Action, robots::NewRobot};
use common::{Backend, TestServer, distribution::Distribution};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PEER_USER: &str = "peer";
const PEER_PASSWORD: &str = "peer-password-17";

async fn post(server: &TestServer, path: &str, body: Value) -> reqwest::Response {
    common::admin_client().post(server.url(path)).json(&body).send().await.unwrap()
}

async fn error_message(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["errors"][0]["message"].as_str().unwrap_or_default().to_owned()
}

async fn get_json(server: &TestServer, path: &str) -> (StatusCode, Value) {
    let response = common::admin_client().get(server.url(path)).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn registries_over_rest(backend: Backend) {
    let server = TestServer::start(backend).await;
    let peer = Distribution::start_with_user(PEER_USER, PEER_PASSWORD).await;

    // Wrong password: refused, saying why, and nothing is saved.
    let wrong = json!({
        "name": "peer", "type": "docker-registry", "url": peer.url,
        "credential": {"type": "basic", "access_key": PEER_USER, "access_secret": "not-the-password"},
    });
    let refused = post(&server, "/api/v2.0/registries", wrong).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let message = error_message(refused).await;
    assert!(message.contains("unhealthy") && message.contains("refused the credentials"), "{message}");
    assert_eq!(get_json(&server, "/api/v2.0/registries").await.1, json!([]));

    // No credential for a registry that asks for one: named as such.
    let anonymous = json!({"name": "peer", "type": "docker-registry", "url": peer.url});
    let refused = post(&server, "/api/v2.0/registries", anonymous).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(error_message(refused).await.contains("none is saved"));

    // Nothing listens there: named as a connection failure.
    let closed = common::process::free_port();
    let ping = json!({"type": "docker-registry", "url": format!("http://127.0.0.1:{closed}")});
    let refused = post(&server, "/api/v2.0/registries/ping", ping).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(error_message(refused).await.contains("cannot connect"), "a closed port is named");

    // The right password: saved, answering 201 with its Location.
    let good = json!({
        "name": "peer", "type": "docker-registry", "url": format!("{}/", peer.url), "description": "loopback peer",
        "credential": {"type": "basic", "access_key": PEER_USER, "access_secret": PEER_PASSWORD},
    });
    let created = post(&server, "/api/v2.0/registries", good.clone()).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/api/v2.0/registries/"), "{location}");
    let (status, registry) = get_json(&server, &location).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(registry["name"], "peer");
    assert_eq!(registry["type"], "docker-registry");
    assert_eq!(registry["url"], peer.url, "stored without the trailing slash");
    assert_eq!(registry["status"], "healthy");
    assert_eq!(registry["description"], "loopback peer");
    assert_eq!(registry["credential"], json!({"type": "basic", "access_key": PEER_USER, "access_secret": "*****"}));
    let id = registry["id"].as_i64().unwrap();

    // The secret is in no answer and not in the database in clear.
    let (_, listed) = get_json(&server, "/api/v2.0/registries").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(PEER_PASSWORD));
    let stored: Vec<u8> = app::on_db!(&server.state.db, pool => {
        sqlx::query_scalar("SELECT sealed_secret FROM replication_registries WHERE id = $1").bind(id).fetch_one(pool).await
    })
    .unwrap();
    assert!(!stored.windows(PEER_PASSWORD.len()).any(|w| w == PEER_PASSWORD.as_bytes()), "sealed, not in clear");

    // A second registry of the same name is refused.
    assert_eq!(post(&server, "/api/v2.0/registries", good).await.status(), StatusCode::CONFLICT);

    // "Test connection" of the saved one uses its stored secret; another
    // URL in the request is ignored (the saved one is dialled).
    let ping = json!({"id": id, "url": format!("http://127.0.0.1:{closed}")});
    assert_eq!(post(&server, "/api/v2.0/registries/ping", ping).await.status(), StatusCode::OK);
    let ping = json!({"id": id, "access_key": PEER_USER, "access_secret": "wrong"});
    let refused = post(&server, "/api/v2.0/registries/ping", ping).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "a credential given to try is tried");
    assert_eq!(get_json(&server, &location).await.1["status"], "unhealthy");
    let ping = json!({"id": id + 100});
    assert_eq!(post(&server, "/api/v2.0/registries/ping", ping).await.status(), StatusCode::NOT_FOUND);

    // Info and adapters.
    let (status, info) = get_json(&server, &format!("{location}/info")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["type"], "docker-registry");
    assert!(info["supported_triggers"].as_array().unwrap().contains(&json!("manual")));
    let (_, adapters) = get_json(&server, "/api/v2.0/replication/adapters").await;
    assert_eq!(adapters, json!(["docker-registry", "harbor"]));

    // Moving it to another URL without the secret drops the secret (it was
    // given for the old URL): an open registry answers without one.
    let open = Distribution::start().await;
    let update = json!({"url": open.url, "description": "moved"});
    let response = common::admin_client().put(server.url(&location)).json(&update).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("content-type").is_none(), "an empty 200, as harborapi expects");
    let (_, moved) = get_json(&server, &location).await;
    assert_eq!(moved["url"], open.url);
    assert_eq!(moved["description"], "moved");
    assert_eq!(moved["credential"], json!({"type": "basic", "access_key": PEER_USER}), "secret dropped");
    // Back to the guarded one without the secret: it does not answer, so nothing changes.
    let back = json!({"url": peer.url});
    let response = common::admin_client().put(server.url(&location)).json(&back).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(get_json(&server, &location).await.1["url"], open.url);

    // Only system administrators.
    server.create_user("dev", "dev-password-1").await;
    let dev = common::client_as("dev", "dev-password-1");
    assert_eq!(dev.get(server.url("/api/v2.0/registries")).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(dev.delete(server.url(&location)).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let anonymous = reqwest::Client::new();
    assert_eq!(
        anonymous.get(server.url("/api/v2.0/registries")).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    // Deleted, audited (with no secret in the log).
    let response = common::admin_client().delete(server.url(&location)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(get_json(&server, &location).await.0, StatusCode::NOT_FOUND);
    let response = common::admin_client().delete(server.url(&location)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let log = common::audit_log(&server, "resource_type=registry").await;
    let operations: Vec<&str> = log.iter().map(|row| row["operation"].as_str().unwrap()).collect();
    assert_eq!(operations, ["delete", "update", "create"], "newest first");
    assert!(!serde_json::to_string(&log).unwrap().contains(PEER_PASSWORD));
    server.stop().await;
}

#[tokio::test]
async fn registries_over_rest_sqlite() {
    registries_over_rest(Backend::Sqlite).await;
}

#[tokio::test]
async fn registries_over_rest_postgres() {
    registries_over_rest(Backend::Postgres).await;
}

/// Another Berth as a `harbor` registry: a robot signs in through its
/// token service (the docker token flow), a wrong secret is named.
#[tokio::test]
async fn another_berth_is_a_registry_through_its_token_service() {
    let server = TestServer::start(Backend::Sqlite).await;
    let peer = TestServer::start(Backend::Sqlite).await;
    let admin = peer.admin_actor().await;
    peer.create_projects(&["mirror"]).await;
    let robot = NewRobot {
        name: "replicator",
        description: "",
        project: None,
        expires_in_days: None,
        permissions: vec![RobotPermission {
            project: Some("mirror".into()),
            actions: vec![Action::Pull, Action::Push],
        }],
    };
    let created = peer.state.robots.create(&admin, robot).await.unwrap();
    let registry = |secret: &str| {
        json!({
            "name": "berth-peer", "type": "harbor", "url": peer.base,
            "credential": {"access_key": created.robot.name, "access_secret": secret},
        })
    };
    let refused = post(&server, "/api/v2.0/registries", registry("wrong-secret")).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(error_message(refused).await.contains("refused the credentials"));
    let saved = post(&server, "/api/v2.0/registries", registry(&created.secret)).await;
    assert_eq!(saved.status(), StatusCode::CREATED);
    let location = saved.headers()["location"].to_str().unwrap().to_owned();
    let id: i64 = location.rsplit('/').next().unwrap().parse().unwrap();
    assert_eq!(post(&server, "/api/v2.0/registries/ping", json!({"id": id})).await.status(), StatusCode::OK);
    // The robot is disabled on the peer: the next check says so.
    let disable = app::core::robots::RobotChanges { disabled: Some(true), ..Default::default() };
    peer.state.robots.update(&admin, &created.robot.name, disable).await.unwrap();
    let refused = post(&server, "/api/v2.0/registries/ping", json!({"id": id})).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(get_json(&server, &location).await.1["status"], "unhealthy");
    peer.stop().await;
    server.stop().await;
}
