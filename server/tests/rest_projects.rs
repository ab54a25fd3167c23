//! `POST /api/v2.0/projects` over real HTTP, on SQLite and PostgreSQL:
//! Harbor's request shape, the creator becomes project admin, Harbor-style
//! errors for bad input, and the same permission rules as everywhere else.

mod common;

use common::{Backend, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn create(client: &reqwest::Client, server: &TestServer, body: Value) -> reqwest::Response {
    client.post(server.url("/api/v2.0/projects")).json(&body).send().await.unwrap()
}

async fn users_create_projects_they_then_administer(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("erin", "erin-password-1").await;
    let erin = common::client_as("erin", "erin-password-1");

    // Harbor clients send every metadata key, unset ones as null.
    let response = create(
        &erin,
        &server,
        json!({"project_name": "erins", "metadata": {"public": "true", "auto_scan": null, "retention_id": null}, "registry_id": null}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()[reqwest::header::LOCATION].to_str().unwrap().to_owned();
    let project = server.state.projects.find("erins").await.unwrap().expect("the project exists");
    assert_eq!(location, format!("/api/v2.0/projects/{}", project.id.0));
    assert!(project.public);
    // As its project admin, erin may push there.
    assert_eq!(common::push_blob(&erin, &server, "erins/app", b"layer").await, StatusCode::CREATED);

    for (body, status, mentions) in [
        (json!({"project_name": "erins"}), StatusCode::CONFLICT, "already exists"),
        (json!({"project_name": "Bad Name"}), StatusCode::BAD_REQUEST, "project_name"),
        (json!({"project_name": "x2", "owner_id": 1}), StatusCode::BAD_REQUEST, "owner_id"),
        (json!({"project_name": "x3", "metadata": {"public": true}}), StatusCode::BAD_REQUEST, "metadata.public"),
        (json!({"project_name": "x4", "storage_limit": 0}), StatusCode::BAD_REQUEST, "storage_limit"),
        (json!({"name": "x5"}), StatusCode::BAD_REQUEST, "project_name"),
    ] {
        let response = create(&erin, &server, body.clone()).await;
        assert_eq!(response.status(), status, "{body}");
        let error: Value = response.json().await.unwrap();
        let message = error["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{body}: {message}");
    }
    // A storage limit given at creation becomes the project's quota; later
    // changes are for system administrators.
    let limited = create(&erin, &server, json!({"project_name": "limited", "storage_limit": 1048576})).await;
    assert_eq!(limited.status(), StatusCode::CREATED);
    let quota = || async { server.state.projects.find("limited").await.unwrap().unwrap().storage_quota };
    assert_eq!(quota().await, Some(1048576));
    let url = server.url("/api/v2.0/projects/limited");
    let raise = erin.put(&url).json(&json!({"storage_limit": -1})).send().await.unwrap();
    assert_eq!(raise.status(), StatusCode::FORBIDDEN);
    let raised = common::admin_client().put(&url).json(&json!({"storage_limit": -1})).send().await.unwrap();
    assert_eq!(raised.status(), StatusCode::OK);
    assert_eq!(quota().await, None);
    let anonymous = create(&reqwest::Client::new(), &server, json!({"project_name": "anon"})).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.json::<Value>().await.unwrap()["errors"][0]["code"], "UNAUTHORIZED");

    // Once only administrators may create projects, erin may not.
    let admin = server.admin_actor().await;
    server.state.settings.set_project_creation_admin_only(&admin, true).await.unwrap();
    let refused = create(&erin, &server, json!({"project_name": "later"})).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let by_admin = create(&common::admin_client(), &server, json!({"project_name": "later", "public": false})).await;
    assert_eq!(by_admin.status(), StatusCode::CREATED);
    server.stop().await;
}

async fn projects_list_page_and_filter_what_the_caller_may_see(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = common::admin_client();
    for (name, public) in [("alpha-dev", false), ("beta-dev", true), ("gamma", true), ("delta-dev", false)] {
        let response =
            create(&admin, &server, json!({"project_name": name, "metadata": {"public": public.to_string()}})).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let list = |client: reqwest::Client, query: &'static str| {
        let url = server.url(&format!("/api/v2.0/projects{query}"));
        async move {
            let response = client.get(url).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{query}");
            let total = response.headers()["x-total-count"].to_str().unwrap().parse::<i64>().unwrap();
            let link = response.headers().get("link").map(|v| v.to_str().unwrap().to_owned());
            let names: Vec<String> = response
                .json::<Vec<Value>>()
                .await
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect();
            (names, total, link)
        }
    };
    // The administrator sees all five (with library), two to a page.
    let (names, total, link) = list(admin.clone(), "?page=1&page_size=2").await;
    assert_eq!((names, total), (vec!["alpha-dev".to_owned(), "beta-dev".to_owned()], 5));
    assert_eq!(link.as_deref(), Some("</api/v2.0/projects?page=2&page_size=2>; rel=\"next\""));
    let (names, _, link) = list(admin.clone(), "?page=3&page_size=2").await;
    assert_eq!(names, ["library"]);
    assert_eq!(link.as_deref(), Some("</api/v2.0/projects?page=2&page_size=2>; rel=\"prev\""));
    // A page past the end is empty and still says how many there are.
    let (names, total, _) = list(admin.clone(), "?page=9&page_size=2").await;
    assert_eq!((names.len(), total), (0, 5));
    // Fuzzy and exact names, the public flag and sorting.
    let (names, total, _) = list(admin.clone(), "?q=name%3D~dev&sort=-name").await;
    assert_eq!((names, total), (vec!["delta-dev".into(), "beta-dev".into(), "alpha-dev".into()], 3));
    let (names, _, _) = list(admin.clone(), "?q=name%3Dgamma").await;
    assert_eq!(names, ["gamma"]);
    let (names, _, _) = list(admin.clone(), "?name=dev&public=false").await;
    assert_eq!(names, ["alpha-dev", "delta-dev"]);
    // Someone else sees public projects only; anonymous callers too.
    server.create_user("carl", "carl-password-1").await;
    let (names, total, _) = list(common::client_as("carl", "carl-password-1"), "").await;
    assert_eq!((names, total), (vec!["beta-dev".into(), "gamma".into(), "library".into()], 3));
    let (names, _, _) = list(reqwest::Client::new(), "?q=name%3Dalpha-dev").await;
    assert!(names.is_empty(), "an exact name still respects visibility");
    // Bad paging, filters and sort keys are refused, naming the parameter.
    for (query, mentions) in
        [("?page=0", "page"), ("?page_size=500", "page_size"), ("?q=owner_id%3D1", "q"), ("?sort=password", "sort")]
    {
        let response = admin.get(server.url(&format!("/api/v2.0/projects{query}"))).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let error: Value = response.json().await.unwrap();
        assert!(error["errors"][0]["message"].as_str().unwrap().starts_with(mentions), "{query}: {error}");
    }
    server.stop().await;
}

async fn one_project_by_name_or_id(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("erin", "erin-password-1").await;
    server.create_user("carl", "carl-password-1").await;
    let erin = common::client_as("erin", "erin-password-1");
    let carl = common::client_as("carl", "carl-password-1");
    create(&erin, &server, json!({"project_name": "erins"})).await;
    let id = server.state.projects.find("erins").await.unwrap().unwrap().id.0;

    let project: Value = erin.get(server.url("/api/v2.0/projects/erins")).send().await.unwrap().json().await.unwrap();
    assert_eq!(project["project_id"], id);
    assert_eq!(project["owner_name"], "erin");
    assert_eq!(project["metadata"]["public"], "false");
    let by_id: Value =
        erin.get(server.url(&format!("/api/v2.0/projects/{id}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(by_id["name"], "erins");
    let forced = erin
        .get(server.url(&format!("/api/v2.0/projects/{id}")))
        .header("X-Is-Resource-Name", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(forced.status(), StatusCode::NOT_FOUND, "the id taken as a name names nothing");
    // Others may not look into a private project; missing ones are 404.
    let status = |response: reqwest::Response| response.status();
    assert_eq!(status(carl.get(server.url("/api/v2.0/projects/erins")).send().await.unwrap()), StatusCode::FORBIDDEN);
    let anonymous = reqwest::Client::new().get(server.url("/api/v2.0/projects/erins")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(status(erin.get(server.url("/api/v2.0/projects/nothing")).send().await.unwrap()), StatusCode::NOT_FOUND);
    assert_eq!(status(erin.get(server.url("/api/v2.0/projects/999999")).send().await.unwrap()), StatusCode::NOT_FOUND);

    // The existence check.
    assert_eq!(
        status(carl.head(server.url("/api/v2.0/projects?project_name=erins")).send().await.unwrap()),
        StatusCode::OK
    );
    assert_eq!(
        status(carl.head(server.url("/api/v2.0/projects?project_name=free")).send().await.unwrap()),
        StatusCode::NOT_FOUND
    );

    // Updating: the project admin may, others may not; unknown fields are refused.
    let put =
        |client: &reqwest::Client, body: Value| client.put(server.url("/api/v2.0/projects/erins")).json(&body).send();
    assert_eq!(status(put(&carl, json!({"metadata": {"public": "true"}})).await.unwrap()), StatusCode::FORBIDDEN);
    assert_eq!(status(put(&erin, json!({"metadata": {"public": "true"}})).await.unwrap()), StatusCode::OK);
    assert!(server.state.projects.find("erins").await.unwrap().unwrap().public);
    assert_eq!(status(put(&erin, json!({"owner_id": 5})).await.unwrap()), StatusCode::BAD_REQUEST);
    assert_eq!(status(put(&erin, json!({"project_name": "renamed"})).await.unwrap()), StatusCode::BAD_REQUEST);
    // Now public, carl may look, and sees no member counts.
    let summary: Value =
        carl.get(server.url("/api/v2.0/projects/erins/summary")).send().await.unwrap().json().await.unwrap();
    assert_eq!(summary["project_admin_count"], 0);
    let summary: Value =
        erin.get(server.url("/api/v2.0/projects/erins/summary")).send().await.unwrap().json().await.unwrap();
    assert_eq!(summary["project_admin_count"], 1);
    assert_eq!(summary["repo_count"], 0);

    // Deleting: refused with 412 while a repository exists.
    common::push_empty_image(&erin, &server, "erins/app", "v1").await;
    assert_eq!(
        status(carl.delete(server.url("/api/v2.0/projects/erins")).send().await.unwrap()),
        StatusCode::FORBIDDEN
    );
    let refused = erin.delete(server.url("/api/v2.0/projects/erins")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(refused.json::<Value>().await.unwrap()["errors"][0]["code"], "PRECONDITION");
    create(&erin, &server, json!({"project_name": "empty"})).await;
    assert_eq!(status(erin.delete(server.url("/api/v2.0/projects/empty")).send().await.unwrap()), StatusCode::OK);
    assert_eq!(status(erin.get(server.url("/api/v2.0/projects/empty")).send().await.unwrap()), StatusCode::NOT_FOUND);
    server.stop().await;
}

on_both_databases!(
    users_create_projects_they_then_administer,
    projects_list_page_and_filter_what_the_caller_may_see,
    one_project_by_name_or_id
);
