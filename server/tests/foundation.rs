//! The foundation over real HTTP, on SQLite and PostgreSQL: first-start admin,
//! login and logout, the session gate, `/v2/`, health and metrics.

mod common;

use common::{ADMIN_PASSWORD, Backend, TestServer, browser_like_client};
use reqwest::{StatusCode, header};
use serde_json::Value;

async fn login(client: &reqwest::Client, server: &TestServer, password: &str) -> reqwest::Response {
    client
        .post(server.url("/portal/fn/login"))
        .header(header::ACCEPT, "text/html")
        .form(&[("username", "admin"), ("password", password), ("next", "/")])
        .send()
        .await
        .unwrap()
}

async fn registry_root_answers_with_api_version(backend: Backend) {
    let server = TestServer::start(backend).await;
    let response = common::admin_client().get(server.url("/v2/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["docker-distribution-api-version"], "registry/2.0");
    assert_eq!(response.json::<Value>().await.unwrap(), serde_json::json!({}));
    // Without credentials the same check says where to get them.
    let anonymous = reqwest::get(server.url("/v2/")).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers()["docker-distribution-api-version"], "registry/2.0");
    server.stop().await;
}

async fn health_reports_each_component(backend: Backend) {
    let server = TestServer::start(backend).await;
    let health: Value = reqwest::get(server.url("/api/v2.0/health")).await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "healthy", "{health}");
    let components: Vec<(&str, &str)> = health["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        components,
        [("core", "healthy"), ("database", "healthy"), ("storage", "healthy"), ("portal", "healthy")]
    );

    // Make the store unwritable: health must say so, with a reason and no detail leak.
    let storage = server.data_dir.join("storage");
    std::fs::remove_dir_all(&storage).unwrap();
    std::fs::write(&storage, b"not a directory").unwrap();
    let health: Value = reqwest::get(server.url("/api/v2.0/health")).await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "unhealthy", "{health}");
    let storage_entry = &health["components"][2];
    assert_eq!(storage_entry["status"], "unhealthy");
    assert_eq!(storage_entry["error"], "storage not writable");
    server.stop().await;
}

async fn first_start_creates_admin_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    assert_eq!(server.admin, server::AdminBootstrap::Created);
    let data_dir = server.data_dir.clone();
    let database_url = server.config.database_url.clone();
    let (dir, database) = server.stop().await;

    // A restart on the same data keeps the account and its password, even
    // when a different password is configured.
    let extra = [("BERTH_ADMIN_PASSWORD", "Another-Passw0rd".to_owned())];
    let restarted = TestServer::start_with(data_dir, &database_url, &extra).await;
    assert_eq!(restarted.admin, server::AdminBootstrap::AlreadyPresent);
    let client = browser_like_client();
    assert_eq!(login(&client, &restarted, ADMIN_PASSWORD).await.status(), StatusCode::FOUND);
    restarted.stop().await;
    drop((dir, database));
}

async fn login_sets_a_hardened_cookie_and_logout_ends_the_session(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = browser_like_client();

    // Unauthenticated pages redirect to the login page, remembering where to return.
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], "/login");
    let response = client.get(server.url("/?tab=recent")).send().await.unwrap();
    assert_eq!(response.headers()[header::LOCATION], "/login?next=%2F%3Ftab%3Drecent");

    // The login page itself renders for visitors.
    let response = client.get(server.url("/login")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("Log in to Berth"));

    // A wrong password is refused with 401 and sets no cookie.
    let response = client
        .post(server.url("/portal/fn/login"))
        .form(&[("username", "admin"), ("password", "wrong-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    assert!(response.text().await.unwrap().contains("InvalidCredentials"));

    // The right password sets an HttpOnly, SameSite cookie and redirects.
    let response = login(&client, &server, ADMIN_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()[header::LOCATION], "/");
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
    for attribute in ["berth_session=", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(!cookie.contains("Secure"), "plain-HTTP deployments must not get Secure cookies: {cookie}");

    // Signed in: the dashboard renders with what the server knows.
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("Dashboard"), "{html}");
    let overview: Value =
        client.post(server.url("/portal/fn/system_overview")).send().await.unwrap().json().await.unwrap();
    let expected_database = match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    assert_eq!(overview["database"], expected_database);
    assert_eq!(overview["version"], env!("CARGO_PKG_VERSION"));
    assert!(overview["free_bytes"].as_u64().unwrap() > 0);
    assert!(overview["storage_location"].as_str().unwrap().ends_with("storage"));
    // Signed in, /login sends the user on.
    let response = client.get(server.url("/login?next=%2Fsettings")).send().await.unwrap();
    assert_eq!(response.headers()[header::LOCATION], "/settings");

    // Logout invalidates the session server-side: replaying the old cookie fails.
    let response =
        client.post(server.url("/portal/fn/logout")).header(header::ACCEPT, "text/html").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()[header::LOCATION], "/login");
    assert!(response.headers()[header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    let session_value = cookie.split(';').next().unwrap().to_owned();
    let replay = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = replay.get(server.url("/")).header(header::COOKIE, &session_value).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = replay
        .post(server.url("/portal/fn/system_overview"))
        .header(header::COOKIE, &session_value)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}

async fn cross_site_server_function_calls_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = browser_like_client();
    let response = client
        .post(server.url("/portal/fn/login"))
        .header(header::ORIGIN, "https://evil.example")
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    let response = client
        .post(server.url("/portal/fn/login"))
        .header(header::ORIGIN, server.base.clone())
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    server.stop().await;
}

async fn metrics_count_requests_by_route_and_status(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = common::admin_client();
    for _ in 0..3 {
        admin.get(server.url("/v2/")).send().await.unwrap();
    }
    reqwest::get(server.url("/v2/")).await.unwrap();
    reqwest::get(server.url("/no/such/page")).await.unwrap();
    let response = reqwest::get(server.url("/metrics")).await.unwrap();
    assert!(response.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = response.text().await.unwrap();
    assert!(text.contains(r#"berth_http_requests_total{method="GET",route="/v2/",status="200"} 3"#), "{text}");
    assert!(text.contains(r#"berth_http_requests_total{method="GET",route="/v2/",status="401"} 1"#), "{text}");
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(text.contains("berth_http_request_duration_seconds_bucket{"), "{text}");
    server.stop().await;
}

async fn every_response_carries_a_request_id(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = reqwest::Client::new();
    let generated = client.get(server.url("/v2/")).send().await.unwrap();
    let id = generated.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let echoed = client.get(server.url("/v2/")).header("x-request-id", "trace-me-42").send().await.unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-me-42");
    server.stop().await;
}

async fn unknown_pages_are_404(backend: Backend) {
    let server = TestServer::start(backend).await;
    let response = reqwest::get(server.url("/definitely/not/here")).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.text().await.unwrap().contains("Page not found"));
    server.stop().await;
}

on_both_databases!(
    registry_root_answers_with_api_version,
    health_reports_each_component,
    first_start_creates_admin_once,
    login_sets_a_hardened_cookie_and_logout_ends_the_session,
    cross_site_server_function_calls_are_refused,
    metrics_count_requests_by_route_and_status,
    every_response_carries_a_request_id,
    unknown_pages_are_404,
);
