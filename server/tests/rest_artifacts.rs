//! Harbor's repository, artifact and tag endpoints over real HTTP, on SQLite
//! and PostgreSQL: listings with sizes and tags, one artifact by tag or
//! digest, tags added and removed, artifacts and whole repositories deleted
//! (and gone from `/v2` too), each as the roles allow.

mod common;

use common::{Backend, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn browse_and_change_artifacts(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    let admin = common::admin_client();
    for (user, role) in [("gail", 3), ("devi", 2), ("mia", 4), ("olaf", 0)] {
        server.create_user(user, &format!("{user}-password-1")).await;
        if role > 0 {
            let member = json!({"role_id": role, "member_user": {"username": user}});
            let added = admin.post(server.url("/api/v2.0/projects/team/members")).json(&member).send().await.unwrap();
            assert_eq!(added.status(), StatusCode::CREATED);
        }
    }
    let client = |user: &str| common::client_as(user, &format!("{user}-password-1"));
    let (gail, devi, mia, olaf) = (client("gail"), client("devi"), client("mia"), client("olaf"));
    let (v1, v1_size) = common::push_image(&admin, &server, "team/app", "v1", b"first layer").await;
    let (v2, _) = common::push_image(&admin, &server, "team/app", "v2", b"second, longer layer").await;
    common::push_image(&admin, &server, "team/nested/tool", "latest", b"tool layer").await;
    let base = server.url("/api/v2.0/projects/team/repositories");

    // Repositories, paged and filtered.
    let listed = gail.get(&base).send().await.unwrap();
    assert_eq!(listed.headers()["x-total-count"], "2");
    let repositories: Vec<Value> = listed.json().await.unwrap();
    let summary: Vec<(String, i64)> = repositories
        .iter()
        .map(|r| (r["name"].as_str().unwrap().to_owned(), r["artifact_count"].as_i64().unwrap()))
        .collect();
    assert_eq!(summary, [("team/app".into(), 2), ("team/nested/tool".into(), 1)]);
    let nested: Vec<Value> = gail.get(format!("{base}?q=name%3D~nest")).send().await.unwrap().json().await.unwrap();
    assert_eq!(nested.len(), 1);
    let one: Value = gail.get(format!("{base}/nested%252Ftool")).send().await.unwrap().json().await.unwrap();
    assert_eq!(one["name"], "team/nested/tool");

    // Across projects: what the caller may see.
    common::push_image(&admin, &server, "library/shared", "v1", b"public layer").await;
    let all = |client: reqwest::Client, query: &'static str| {
        let url = server.url(&format!("/api/v2.0/repositories{query}"));
        async move {
            let listed: Vec<Value> = client.get(url).send().await.unwrap().json().await.unwrap();
            listed.iter().map(|r| r["name"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    assert_eq!(all(gail.clone(), "").await, ["library/shared", "team/app", "team/nested/tool"]);
    assert_eq!(all(gail.clone(), "?q=name%3D~tool").await, ["team/nested/tool"]);
    assert_eq!(all(olaf.clone(), "").await, ["library/shared"]);
    assert_eq!(all(reqwest::Client::new(), "").await, ["library/shared"]);

    // Artifacts, newest first, with tags and total sizes; one by tag or digest.
    let artifacts: Vec<Value> = gail.get(format!("{base}/app/artifacts")).send().await.unwrap().json().await.unwrap();
    let digests: Vec<&str> = artifacts.iter().map(|a| a["digest"].as_str().unwrap()).collect();
    assert_eq!(digests, [v2.as_str(), v1.as_str()]);
    assert_eq!(artifacts[1]["size"], v1_size);
    assert_eq!(artifacts[1]["tags"][0]["name"], "v1");
    assert_eq!(artifacts[1]["type"], "IMAGE");
    let by_tag: Value = gail.get(format!("{base}/app/artifacts/v1")).send().await.unwrap().json().await.unwrap();
    assert_eq!(by_tag["digest"], v1.as_str());
    let by_digest: Value = gail.get(format!("{base}/app/artifacts/{v1}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(by_digest["tags"][0]["name"], "v1");
    assert_eq!(gail.get(format!("{base}/app/artifacts/v9")).send().await.unwrap().status(), StatusCode::NOT_FOUND);

    // Outsiders are refused; anonymous callers are asked to sign in.
    assert_eq!(olaf.get(format!("{base}/app/artifacts")).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(olaf.get(&base).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let anonymous = reqwest::Client::new().get(format!("{base}/app")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // Tags: a maintainer adds and removes them; a developer may not; a tag in use is refused.
    let tags = format!("{base}/app/artifacts/v1/tags");
    assert_eq!(devi.post(&tags).json(&json!({"name": "stable"})).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(mia.post(&tags).json(&json!({"name": "stable"})).send().await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(mia.post(&tags).json(&json!({"name": "v2"})).send().await.unwrap().status(), StatusCode::CONFLICT);
    assert_eq!(
        mia.post(&tags).json(&json!({"name": "bad tag"})).send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    let names: Vec<String> = gail
        .get(&tags)
        .send()
        .await
        .unwrap()
        .json::<Vec<Value>>()
        .await
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["stable", "v1"]);
    let stable = admin.head(server.url("/v2/team/app/manifests/stable")).send().await.unwrap();
    assert_eq!(stable.headers()["docker-content-digest"], v1.as_str());
    assert_eq!(gail.delete(format!("{tags}/stable")).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(
        mia.delete(format!("{base}/app/artifacts/v2/tags/stable")).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(mia.delete(format!("{tags}/stable")).send().await.unwrap().status(), StatusCode::OK);
    let gone = admin.head(server.url("/v2/team/app/manifests/stable")).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);

    // Deleting an artifact: maintainers may, developers may not; it is gone from /v2 too.
    assert_eq!(devi.delete(format!("{base}/app/artifacts/{v2}")).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(mia.delete(format!("{base}/app/artifacts/{v2}")).send().await.unwrap().status(), StatusCode::OK);
    let gone = admin.head(server.url(&format!("/v2/team/app/manifests/{v2}"))).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let listed = gail.get(format!("{base}/app/artifacts")).send().await.unwrap();
    assert_eq!(listed.headers()["x-total-count"], "1");

    // Deleting a whole repository: the same rule; every tag and artifact
    // goes from /v2, the other repositories stay, and the log says who.
    let nested = format!("{base}/nested%252Ftool");
    assert_eq!(devi.delete(&nested).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(olaf.delete(&nested).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(mia.delete(&nested).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(mia.delete(&nested).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let gone = admin.head(server.url("/v2/team/nested/tool/manifests/latest")).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let tags = admin.get(server.url("/v2/team/nested/tool/tags/list")).send().await.unwrap();
    assert_eq!(tags.status(), StatusCode::NOT_FOUND);
    let remaining: Vec<Value> = gail.get(&base).send().await.unwrap().json().await.unwrap();
    assert_eq!(remaining.len(), 1);
    assert_eq!(remaining[0]["name"], "team/app");
    server.state.events.flush().await;
    let logs: Vec<Value> = admin
        .get(server.url("/api/v2.0/projects/team/logs?q=resource_type%3Drepository"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!((logs[0]["resource"].as_str(), logs[0]["username"].as_str()), (Some("team/nested/tool"), Some("mia")));
    // Pushing again to the name makes a fresh, empty repository.
    common::push_image(&admin, &server, "team/nested/tool", "again", b"tool layer").await;
    let again: Value = gail.get(&nested).send().await.unwrap().json().await.unwrap();
    assert_eq!(again["artifact_count"], 1);
    server.stop().await;
}

on_both_databases!(browse_and_change_artifacts);
