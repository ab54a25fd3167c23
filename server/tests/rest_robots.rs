//! `/api/v2.0/robots` over real HTTP, on SQLite and PostgreSQL: project and
//! system robots in Harbor's shapes, the secret shown once and refreshed,
//! editing, disabling, deleting, and who may manage which robot.

mod common;

use common::{Backend, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn robot(name: &str, level: &str, namespace: &str, actions: &[(&str, &str)], duration: i64) -> Value {
    let access: Vec<Value> =
        actions.iter().map(|(resource, action)| json!({"resource": resource, "action": action})).collect();
    json!({
        "name": name, "description": "made by a test", "level": level, "duration": duration, "disable": false,
        "permissions": [{"kind": "project", "namespace": namespace, "access": access}],
    })
}

async fn robots_over_rest(backend: Backend) {
    let server = TestServer::start(backend).await;
    for user in ["erin", "carl", "lena"] {
        server.create_user(user, &format!("{user}-password-1")).await;
    }
    let client = |user: &str| common::client_as(user, &format!("{user}-password-1"));
    let (erin, carl, lena, admin) = (client("erin"), client("carl"), client("lena"), common::admin_client());
    for (owner, project) in [(&erin, "erins"), (&lena, "lenas")] {
        let created = owner.post(server.url("/api/v2.0/projects")).json(&json!({"project_name": project})).send().await;
        assert_eq!(created.unwrap().status(), StatusCode::CREATED);
    }
    let member = json!({"role_id": 2, "member_user": {"username": "carl"}});
    erin.post(server.url("/api/v2.0/projects/erins/members")).json(&member).send().await.unwrap();
    let robots = server.url("/api/v2.0/robots");

    // erin, project admin of erins, makes a robot that may pull and push there for 30 days.
    let pull_push = [("repository", "pull"), ("repository", "push")];
    let created = erin.post(&robots).json(&robot("builder", "project", "erins", &pull_push, 30)).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["name"], "robot$erins+builder");
    let id = created["id"].as_i64().unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(created["expires_at"].as_i64().unwrap() > chrono::Utc::now().timestamp());
    let builder = common::client_as("robot$erins+builder", &secret);
    common::push_empty_image(&builder, &server, "erins/app", "v1").await;
    assert_eq!(common::push_blob(&builder, &server, "lenas/app", b"x").await, StatusCode::FORBIDDEN);

    // Reading it back, and listing a project's robots.
    let one: Value = erin.get(format!("{robots}/{id}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (one["level"].as_str(), one["duration"].as_i64(), one["disable"].as_bool()),
        (Some("project"), Some(30), Some(false))
    );
    assert_eq!(one["permissions"][0]["namespace"], "erins");
    assert_eq!(
        one["permissions"][0]["access"],
        json!([{"resource": "repository", "action": "pull"}, {"resource": "repository", "action": "push"}])
    );
    assert!(one.get("secret").is_none(), "the secret is shown once");
    let project_id = server.state.projects.find("erins").await.unwrap().unwrap().id.0;
    let listed = erin.get(format!("{robots}?q=Level%3Dproject,ProjectID%3D{project_id}")).send().await.unwrap();
    assert_eq!(listed.headers()["x-total-count"], "1");
    let refused = carl.get(format!("{robots}?q=Level%3Dproject,ProjectID%3D{project_id}")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "a developer does not manage robots");
    assert_eq!(lena.get(format!("{robots}/{id}")).send().await.unwrap().status(), StatusCode::FORBIDDEN);

    // Refreshing the secret: the old one stops working at once.
    let refreshed: Value =
        erin.patch(format!("{robots}/{id}")).json(&json!({})).send().await.unwrap().json().await.unwrap();
    let new_secret = refreshed["secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    assert_eq!(builder.get(server.url("/v2/")).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let builder = common::client_as("robot$erins+builder", new_secret);
    assert_eq!(builder.get(server.url("/v2/")).send().await.unwrap().status(), StatusCode::OK);
    // Or one of the manager's choosing, if it is strong enough.
    let weak = erin.patch(format!("{robots}/{id}")).json(&json!({"secret": "weak"})).send().await.unwrap();
    assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
    let chosen = erin.patch(format!("{robots}/{id}")).json(&json!({"secret": "Chosen-Secret-7"})).send().await.unwrap();
    assert_eq!(chosen.status(), StatusCode::OK);
    assert_eq!(builder.get(server.url("/v2/")).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let builder = common::client_as("robot$erins+builder", "Chosen-Secret-7");
    assert_eq!(builder.get(server.url("/v2/")).send().await.unwrap().status(), StatusCode::OK);

    // Editing the robot as read back: description, lifetime and
    // permissions change; the new permissions apply to the next request.
    let mut update = one.clone();
    update["description"] = json!("pulls only now");
    update["duration"] = json!(90);
    update["permissions"][0]["access"] = json!([{"resource": "repository", "action": "pull"}]);
    assert_eq!(erin.put(format!("{robots}/{id}")).json(&update).send().await.unwrap().status(), StatusCode::OK);
    let edited: Value = erin.get(format!("{robots}/{id}")).send().await.unwrap().json().await.unwrap();
    assert_eq!((edited["description"].as_str(), edited["duration"].as_i64()), (Some("pulls only now"), Some(90)));
    assert_eq!(edited["permissions"][0]["access"], json!([{"resource": "repository", "action": "pull"}]));
    assert_eq!(common::push_blob(&builder, &server, "erins/app", b"y").await, StatusCode::FORBIDDEN);
    let pulled = builder.get(server.url("/v2/erins/app/manifests/v1")).send().await.unwrap();
    assert_eq!(pulled.status(), StatusCode::OK);
    update["duration"] = json!(-1);
    assert_eq!(erin.put(format!("{robots}/{id}")).json(&update).send().await.unwrap().status(), StatusCode::OK);
    let edited: Value = erin.get(format!("{robots}/{id}")).send().await.unwrap().json().await.unwrap();
    assert_eq!((edited["duration"].as_i64(), edited["expires_at"].as_i64()), (Some(-1), Some(-1)));
    // A project robot stays in its project; a developer edits nothing; the name is fixed.
    let mut elsewhere = update.clone();
    elsewhere["permissions"][0]["namespace"] = json!("lenas");
    let refused = erin.put(format!("{robots}/{id}")).json(&elsewhere).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(carl.put(format!("{robots}/{id}")).json(&update).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let mut renamed = update.clone();
    renamed["name"] = json!("robot$erins+other");
    let refused = erin.put(format!("{robots}/{id}")).json(&renamed).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let unchanged: Value = erin.get(format!("{robots}/{id}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(unchanged["permissions"][0]["namespace"], "erins");

    // Disabling refuses it at once.
    update["disable"] = json!(true);
    assert_eq!(erin.put(format!("{robots}/{id}")).json(&update).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(builder.get(server.url("/v2/")).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // Who may make which robot, and bad requests named.
    for (client, body, status, mentions) in [
        (&carl, robot("mine", "project", "erins", &[("repository", "pull")], -1), StatusCode::FORBIDDEN, "robots"),
        (&erin, robot("sys", "system", "*", &[("repository", "pull")], -1), StatusCode::FORBIDDEN, "system"),
        (
            &erin,
            robot("odd", "project", "erins", &[("helm-chart", "read")], -1),
            StatusCode::BAD_REQUEST,
            "permissions",
        ),
        (&erin, robot("odd", "cluster", "erins", &[("repository", "pull")], -1), StatusCode::BAD_REQUEST, "level"),
        (&erin, robot("builder", "project", "erins", &[("repository", "pull")], -1), StatusCode::CONFLICT, "exists"),
    ] {
        let response = client.post(&robots).json(&body).send().await.unwrap();
        assert_eq!(response.status(), status, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(error["errors"][0]["message"].as_str().unwrap().contains(mentions), "{body}: {error}");
    }

    // A system robot granted pull everywhere reads private projects too.
    let created =
        admin.post(&robots).json(&robot("reader", "system", "*", &[("repository", "pull")], -1)).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["expires_at"], -1);
    let reader = common::client_as("robot$reader", created["secret"].as_str().unwrap());
    assert_eq!(reader.get(server.url("/v2/erins/app/manifests/v1")).send().await.unwrap().status(), StatusCode::OK);
    let system: Vec<Value> =
        admin.get(format!("{robots}?q=Level%3Dsystem")).send().await.unwrap().json().await.unwrap();
    assert_eq!(system.len(), 1);

    // Deleting.
    assert_eq!(erin.delete(format!("{robots}/{id}")).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(erin.get(format!("{robots}/{id}")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    server.stop().await;
}

on_both_databases!(robots_over_rest);
