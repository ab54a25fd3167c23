//! `/api/v2.0/projects/{project}/members` over real HTTP, on SQLite and
//! PostgreSQL: Harbor's shapes and role ids, who may read and change
//! members, and another project's member ids refused.

mod common;

use common::{Backend, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn project_admins_manage_members(backend: Backend) {
    let server = TestServer::start(backend).await;
    for user in ["erin", "carl", "dave", "lena"] {
        server.create_user(user, &format!("{user}-password-1")).await;
    }
    let client = |user: &str| common::client_as(user, &format!("{user}-password-1"));
    let (erin, carl, dave, lena) = (client("erin"), client("carl"), client("dave"), client("lena"));
    for (owner, project) in [(&erin, "erins"), (&lena, "lenas")] {
        let response =
            owner.post(server.url("/api/v2.0/projects")).json(&json!({"project_name": project})).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let members_url = server.url("/api/v2.0/projects/erins/members");
    let add = |client: &reqwest::Client, body: Value| client.post(&members_url).json(&body).send();

    // erin (project admin) adds carl as developer and dave as guest.
    let added = add(&erin, json!({"role_id": 2, "member_user": {"username": "carl"}})).await.unwrap();
    assert_eq!(added.status(), StatusCode::CREATED);
    let location = added.headers()["location"].to_str().unwrap().to_owned();
    let carl_member_id: i64 = location.rsplit('/').next().unwrap().parse().unwrap();
    let dave_id = server.state.users.find("dave").await.unwrap().unwrap().id.0;
    let added = add(&erin, json!({"role_id": 3, "member_user": {"user_id": dave_id}})).await.unwrap();
    assert_eq!(added.status(), StatusCode::CREATED);

    let listed = erin.get(&members_url).send().await.unwrap();
    assert_eq!(listed.headers()["x-total-count"], "3");
    let members: Vec<Value> = listed.json().await.unwrap();
    let summary: Vec<(String, String, i64, String)> = members
        .iter()
        .map(|m| {
            (
                m["entity_name"].as_str().unwrap().to_owned(),
                m["role_name"].as_str().unwrap().to_owned(),
                m["role_id"].as_i64().unwrap(),
                m["entity_type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("carl".into(), "developer".into(), 2, "u".into()),
            ("dave".into(), "guest".into(), 3, "u".into()),
            ("erin".into(), "projectAdmin".into(), 1, "u".into()),
        ]
    );
    let one: Value =
        erin.get(location.replace("/api", &server.url("/api"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(one["entity_name"], "carl");
    let filtered: Vec<Value> =
        erin.get(format!("{members_url}?entityname=da")).send().await.unwrap().json().await.unwrap();
    assert_eq!(filtered.len(), 1);
    // Pages come from the database: the second of two, one past the end
    // (still counted), and a name matched in any case.
    let page = |query: &str| {
        let url = format!("{members_url}?{query}");
        let erin = erin.clone();
        async move {
            let response = erin.get(url).send().await.unwrap();
            let total = response.headers()["x-total-count"].to_str().unwrap().to_owned();
            let names: Vec<String> = response
                .json::<Vec<Value>>()
                .await
                .unwrap()
                .iter()
                .map(|m| m["entity_name"].as_str().unwrap().to_owned())
                .collect();
            (names, total)
        }
    };
    assert_eq!(page("page=2&page_size=2").await, (vec!["erin".to_owned()], "3".to_owned()));
    assert_eq!(page("page=5&page_size=2").await, (Vec::<String>::new(), "3".to_owned()));
    assert_eq!(page("entityname=CAR").await, (vec!["carl".to_owned()], "1".to_owned()));

    // A guest may read the members; only the project admin may change them.
    assert_eq!(dave.get(&members_url).send().await.unwrap().status(), StatusCode::OK);
    let refused = add(&carl, json!({"role_id": 2, "member_user": {"username": "lena"}})).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(lena.get(&members_url).send().await.unwrap().status(), StatusCode::FORBIDDEN);

    // Changing a role, and bad requests named.
    let member_url = format!("{members_url}/{carl_member_id}");
    let changed = erin.put(&member_url).json(&json!({"role_id": 4})).send().await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    let one: Value = erin.get(&member_url).send().await.unwrap().json().await.unwrap();
    assert_eq!(one["role_name"], "maintainer");
    for (body, status, mentions) in [
        (json!({"role_id": 9, "member_user": {"username": "lena"}}), StatusCode::BAD_REQUEST, "role_id"),
        (json!({"role_id": 2, "member_user": {"username": "carl"}}), StatusCode::CONFLICT, "already a member"),
        (json!({"role_id": 2, "member_user": {"username": "nobody"}}), StatusCode::NOT_FOUND, "nobody"),
        (json!({"role_id": 2}), StatusCode::BAD_REQUEST, "member_user"),
        (
            json!({"role_id": 2, "member_user": {"username": "lena"}, "sysadmin_flag": true}),
            StatusCode::BAD_REQUEST,
            "sysadmin_flag",
        ),
    ] {
        let response = add(&erin, body.clone()).await.unwrap();
        assert_eq!(response.status(), status, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(error["errors"][0]["message"].as_str().unwrap().contains(mentions), "{body}: {error}");
    }

    // Another project's member ids are not found through this one.
    let lenas: Vec<Value> =
        lena.get(server.url("/api/v2.0/projects/lenas/members")).send().await.unwrap().json().await.unwrap();
    let lena_member_id = lenas[0]["id"].as_i64().unwrap();
    let foreign = format!("{members_url}/{lena_member_id}");
    assert_eq!(erin.get(&foreign).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(erin.delete(&foreign).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(erin.put(&foreign).json(&json!({"role_id": 3})).send().await.unwrap().status(), StatusCode::NOT_FOUND);

    // Removing carl takes his access away.
    assert_eq!(erin.delete(&member_url).send().await.unwrap().status(), StatusCode::OK);
    let gone = carl.get(server.url("/api/v2.0/projects/erins")).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::FORBIDDEN);
    server.stop().await;
}

on_both_databases!(project_admins_manage_members);
