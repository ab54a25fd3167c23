//! Robot accounts over real HTTP, on SQLite and PostgreSQL: they do exactly
//! what they were granted, through Basic credentials and registry tokens;
//! disabled, expired and refreshed-away credentials stop at once; and only
//! those allowed to manage robots may create them.

mod common;

use app::core::{
    db::Window,
    identity::{Actor, Principal, RobotPermission},
    projects::MemberRef,
    rbac::{Action, Role},
    registry::digest::Digest,
    robots::NewRobot,
};
use common::{Backend, TestServer};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

async fn get_status(client: &Client, server: &TestServer, path: &str) -> StatusCode {
    client.get(server.url(path)).send().await.unwrap().status()
}

fn permission(project: Option<&str>, actions: &[Action]) -> RobotPermission {
    RobotPermission { project: project.map(str::to_owned), actions: actions.to_vec() }
}

async fn bearer(server: &TestServer, name: &str, secret: &str, scope: &str) -> String {
    let body: Value = common::client_as(name, secret)
        .get(server.url(&format!("/service/token?scope={scope}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["token"].as_str().unwrap().to_owned()
}

async fn robots_do_exactly_what_they_were_granted(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team", "other"]).await;
    let admin = server.admin_actor().await;
    assert_eq!(common::push_blob(&common::admin_client(), &server, "other/app", b"other").await, StatusCode::CREATED);

    let created = server
        .state
        .robots
        .create(
            &admin,
            NewRobot {
                name: "ci",
                description: "pushes builds",
                project: Some("team"),
                expires_in_days: Some(30),
                permissions: vec![permission(Some("team"), &[Action::Pull, Action::Push])],
            },
        )
        .await
        .unwrap();
    assert_eq!(created.robot.name, "robot$team+ci");
    assert_eq!(created.secret.len(), 32);
    assert!(created.robot.expires_at.is_some());
    let ci = common::client_as("robot$team+ci", &created.secret);

    // Basic credentials: push and pull in its project, nothing more.
    assert_eq!(common::push_blob(&ci, &server, "team/app", b"built").await, StatusCode::CREATED);
    let digest = Digest::sha256_of(b"built");
    assert_eq!(get_status(&ci, &server, &format!("/v2/team/app/blobs/{digest}")).await, StatusCode::OK);
    let deleted = ci.delete(server.url(&format!("/v2/team/app/blobs/{digest}"))).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::FORBIDDEN, "delete was not granted");
    assert_eq!(common::push_blob(&ci, &server, "other/app", b"x").await, StatusCode::FORBIDDEN, "another project");
    assert_eq!(get_status(&ci, &server, "/v2/other/app/tags/list").await, StatusCode::FORBIDDEN);
    let wrong = common::client_as("robot$team+ci", "not-the-secret");
    assert_eq!(get_status(&wrong, &server, "/v2/").await, StatusCode::UNAUTHORIZED);

    // Tokens: the intersection of what is asked and what was granted.
    let token = bearer(&server, "robot$team+ci", &created.secret, "repository:team/app:pull,push,delete").await;
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], "robot$team+ci");
    assert_eq!(claims["access"][0]["actions"], json!(["pull", "push"]));
    let tagged: Value = Client::new()
        .get(server.url("/v2/team/app/tags/list"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tagged, json!({"name": "team/app", "tags": []}), "a blob but no tags yet");
    let catalog: Value = Client::new()
        .get(server.url("/v2/_catalog"))
        .bearer_auth(bearer(&server, "robot$team+ci", &created.secret, "registry:catalog:*").await)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(catalog["repositories"], json!(["team/app"]), "only what it may pull");

    // A pull-only robot cannot push, with Basic or with a token.
    let reader = server
        .state
        .robots
        .create(
            &admin,
            NewRobot {
                name: "reader",
                description: "",
                project: Some("team"),
                expires_in_days: None,
                permissions: vec![permission(Some("team"), &[Action::Pull])],
            },
        )
        .await
        .unwrap();
    let reader_client = common::client_as("robot$team+reader", &reader.secret);
    assert_eq!(common::push_blob(&reader_client, &server, "team/app", b"no").await, StatusCode::FORBIDDEN);
    let token = bearer(&server, "robot$team+reader", &reader.secret, "repository:team/app:pull,push").await;
    let pushed =
        Client::new().post(server.url("/v2/team/app/blobs/uploads/")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(pushed.status(), StatusCode::FORBIDDEN);

    // A system robot pulling everywhere: every project, no pushes.
    let puller = server
        .state
        .robots
        .create(
            &admin,
            NewRobot {
                name: "mirror",
                description: "",
                project: None,
                expires_in_days: None,
                permissions: vec![permission(None, &[Action::Pull])],
            },
        )
        .await
        .unwrap();
    assert_eq!(puller.robot.name, "robot$mirror");
    let mirror = common::client_as("robot$mirror", &puller.secret);
    assert_eq!(get_status(&mirror, &server, &format!("/v2/team/app/blobs/{digest}")).await, StatusCode::OK);
    assert_eq!(get_status(&mirror, &server, "/v2/other/app/tags/list").await, StatusCode::OK);
    assert_eq!(common::push_blob(&mirror, &server, "other/app", b"x").await, StatusCode::FORBIDDEN);
    let everything: Value = mirror.get(server.url("/v2/_catalog")).send().await.unwrap().json().await.unwrap();
    assert_eq!(everything["repositories"], json!(["other/app", "team/app"]));
    server.stop().await;
}

async fn disabled_expired_and_refreshed_robots_stop_at_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    let admin = server.admin_actor().await;
    let new = |name| NewRobot {
        name,
        description: "",
        project: Some("team"),
        expires_in_days: Some(7),
        permissions: vec![permission(Some("team"), &[Action::Pull, Action::Push])],
    };
    let created = server.state.robots.create(&admin, new("ci")).await.unwrap();
    let client = common::client_as("robot$team+ci", &created.secret);
    let token = bearer(&server, "robot$team+ci", &created.secret, "repository:team/app:pull,push").await;
    let with_token = |token: String| {
        let url = server.url("/v2/team/app/blobs/uploads/");
        async move { Client::new().post(url).bearer_auth(token).send().await.unwrap().status() }
    };
    assert_eq!(with_token(token.clone()).await, StatusCode::ACCEPTED);

    server.state.robots.set_disabled(&admin, "robot$team+ci", true).await.unwrap();
    assert_eq!(get_status(&client, &server, "/v2/").await, StatusCode::UNAUTHORIZED, "Basic, disabled");
    assert_eq!(with_token(token.clone()).await, StatusCode::UNAUTHORIZED, "a token issued before, disabled");
    let response = client.get(server.url("/service/token?scope=repository:team/app:pull")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "no new tokens either");
    server.state.robots.set_disabled(&admin, "robot$team+ci", false).await.unwrap();
    assert_eq!(with_token(token.clone()).await, StatusCode::ACCEPTED, "enabled again");

    // Expiry passes (the clock is moved by moving the stored date).
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    match &server.state.db {
        app::core::db::Db::Sqlite(pool) => {
            sqlx::query("UPDATE robots SET expires_at = $1").bind(past).execute(pool).await.unwrap();
        }
        app::core::db::Db::Postgres(pool) => {
            sqlx::query("UPDATE robots SET expires_at = $1").bind(past).execute(pool).await.unwrap();
        }
    }
    assert_eq!(get_status(&client, &server, "/v2/").await, StatusCode::UNAUTHORIZED, "Basic, expired");
    assert_eq!(with_token(token).await, StatusCode::UNAUTHORIZED, "token, expired");

    // A refreshed secret replaces the old one at once.
    let second = server.state.robots.create(&admin, new("deploy")).await.unwrap();
    let fresh = server.state.robots.refresh_secret(&admin, "robot$team+deploy").await.unwrap();
    assert_ne!(fresh, second.secret);
    let old = common::client_as("robot$team+deploy", &second.secret);
    assert_eq!(get_status(&old, &server, "/v2/").await, StatusCode::UNAUTHORIZED);
    let new_client = common::client_as("robot$team+deploy", &fresh);
    assert_eq!(get_status(&new_client, &server, "/v2/").await, StatusCode::OK);

    // Deleted: gone for good.
    server.state.robots.delete(&admin, "robot$team+deploy").await.unwrap();
    assert_eq!(get_status(&new_client, &server, "/v2/").await, StatusCode::UNAUTHORIZED);
    server.stop().await;
}

async fn only_those_who_manage_robots_create_them(backend: Backend) {
    use app::core::Error;

    let server = TestServer::start(backend).await;
    server.create_projects(&["team", "other"]).await;
    let mut principals = Vec::new();
    for (name, role) in [("dev", Role::Developer), ("keeper", Role::Maintainer)] {
        let user = server.create_user(name, "Member-Passw0rd").await;
        server
            .state
            .projects
            .set_member(&server.admin_actor().await, "team", MemberRef::User(user.id), role)
            .await
            .unwrap();
        principals.push(Actor::from(Principal::User(user)));
    }
    let (developer, maintainer) = (&principals[0], &principals[1]);
    let robot = |project: Option<&'static str>, permissions| NewRobot {
        name: "ci",
        description: "",
        project,
        expires_in_days: None,
        permissions,
    };
    let pull_push = vec![permission(Some("team"), &[Action::Pull, Action::Push])];

    let refused = server.state.robots.create(developer, robot(Some("team"), pull_push.clone())).await.unwrap_err();
    assert!(matches!(refused, Error::Forbidden(_)), "{refused:?}");
    let elsewhere = vec![permission(Some("other"), &[Action::Pull])];
    let refused = server.state.robots.create(maintainer, robot(Some("team"), elsewhere)).await.unwrap_err();
    assert!(matches!(refused, Error::Invalid { .. }), "a project robot works in its project only: {refused:?}");
    let too_much = vec![permission(Some("team"), &[Action::ManageMembers])];
    let refused = server.state.robots.create(maintainer, robot(Some("team"), too_much)).await.unwrap_err();
    assert!(matches!(refused, Error::Invalid { .. }), "{refused:?}");
    let system = vec![permission(None, &[Action::Pull])];
    let refused = server.state.robots.create(maintainer, robot(None, system)).await.unwrap_err();
    assert!(matches!(refused, Error::Forbidden(_)), "system robots are for administrators: {refused:?}");
    let empty = server.state.robots.create(maintainer, robot(Some("team"), vec![])).await.unwrap_err();
    assert!(matches!(empty, Error::Invalid { .. }), "no permissions at all: {empty:?}");
    let nowhere = vec![permission(Some("nowhere"), &[Action::Pull])];
    let missing = server.state.robots.create(maintainer, robot(Some("nowhere"), nowhere)).await.unwrap_err();
    assert!(matches!(missing, Error::NotFound(_)), "{missing:?}");

    let created = server.state.robots.create(maintainer, robot(Some("team"), pull_push.clone())).await.unwrap();
    assert_eq!(created.robot.created_by, "keeper");
    let taken = server.state.robots.create(maintainer, robot(Some("team"), pull_push)).await.unwrap_err();
    assert!(matches!(taken, Error::Conflict(_)), "{taken:?}");
    let listed = server.state.robots.list(maintainer, Some("team"), Window::new(0, 10)).await.unwrap().items;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].permissions, vec![permission(Some("team"), &[Action::Pull, Action::Push])]);
    assert!(matches!(
        server.state.robots.list(developer, Some("team"), Window::new(0, 10)).await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        server.state.robots.set_disabled(developer, "robot$team+ci", true).await,
        Err(Error::Forbidden(_))
    ));
    // Robots cannot sign in to the portal.
    assert!(server.state.auth.verify_password("robot$team+ci", created.secret).await.is_err());
    server.stop().await;
}

on_both_databases!(
    robots_do_exactly_what_they_were_granted,
    disabled_expired_and_refreshed_robots_stop_at_once,
    only_those_who_manage_robots_create_them,
);
