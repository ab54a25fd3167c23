//! The Administration area's server functions, driven over HTTP with a
//! portal session as the pages drive them, on SQLite and PostgreSQL: users
//! and self-registration, groups, the system settings and what they change
//! (session cookies, robot lifetimes), the global audit log and its CSV
//! export, quotas (portal and Harbor's `/quotas`), system robots, and the
//! login settings against a real OpenLDAP and a real OpenID provider — up to
//! `docker login` and `docker push` with a CLI secret. Every function
//! refuses a signed-in user who is not a system administrator.

mod common;

use common::{
    ADMIN_PASSWORD, Backend, TestServer,
    docker::{Docker, text},
    oidc::{CLIENT_ID, CLIENT_SECRET, OidcProvider, sign_in},
    slapd::{READER_PASSWORD, Slapd},
};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

/// Calls a portal server function with `form` (as the page's form posts it).
async fn call(client: &reqwest::Client, server: &TestServer, name: &str, form: &[(&str, &str)]) -> reqwest::Response {
    client
        .post(server.url(&format!("/portal/fn/{name}")))
        .header(header::ACCEPT, "application/json")
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Calls a server function that must succeed; its JSON answer.
async fn ok(client: &reqwest::Client, server: &TestServer, name: &str, form: &[(&str, &str)]) -> Value {
    let response = call(client, server, name, form).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{name}: {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

/// Calls a server function that must be refused with `status`; its error text.
async fn refused(
    client: &reqwest::Client,
    server: &TestServer,
    name: &str,
    form: &[(&str, &str)],
    status: StatusCode,
) -> String {
    let response = call(client, server, name, form).await;
    assert_eq!(response.status(), status, "{name} {form:?}");
    response.text().await.unwrap()
}

/// A form built of owned pairs, as [`call`] takes it.
fn pairs(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

async fn admin_session(server: &TestServer) -> reqwest::Client {
    common::portal_client(server, "admin", ADMIN_PASSWORD).await
}

async fn administration_is_for_administrators(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    server.create_user("dora", "dora-password-1").await;
    let dora = common::portal_client(&server, "dora", "dora-password-1").await;
    let calls: &[(&str, &[(&str, &str)])] = &[
        ("admin_users", &[("page", "1")]),
        ("admin_create_user", &[("username", "x"), ("password", "x-password-1"), ("confirm_password", "x-password-1")]),
        ("admin_set_user_admin", &[("id", "1"), ("is_admin", "false")]),
        (
            "admin_reset_password",
            &[("username", "admin"), ("password", "Owned-1234"), ("confirm_password", "Owned-1234")],
        ),
        ("admin_delete_user", &[("id", "1")]),
        ("admin_self_registration", &[]),
        ("admin_set_self_registration", &[("allowed", "true")]),
        ("admin_groups", &[("page", "1")]),
        ("admin_add_group", &[("kind", "oidc"), ("name", "devs")]),
        ("admin_delete_group", &[("id", "1")]),
        ("audit_log", &[]),
        ("configuration", &[]),
        ("use_database_login", &[]),
        ("use_oidc_login", &[("oidc[issuer_url]", "https://idp.example")]),
        ("check_oidc_login", &[("oidc[issuer_url]", "https://idp.example")]),
        ("use_ldap_login", &[("ldap[url]", "ldap://dir.example"), ("ldap[scope]", "subtree")]),
        ("test_ldap_login", &[("ldap[url]", "ldap://dir.example"), ("ldap[scope]", "subtree")]),
        ("save_system_settings", &[("session_lifetime_minutes", "60"), ("robot_token_duration_days", "30")]),
        ("admin_quotas", &[("page", "1")]),
        ("admin_set_quota", &[("project", "team"), ("quota", "1")]),
        ("system_robots", &[("page", "1")]),
        ("create_system_robot", &[("name", "ci"), ("all_projects", "on"), ("pull", "on")]),
    ];
    for (name, form) in calls {
        let response = call(&dora, &server, name, form).await;
        let status = response.status();
        // A form the core cannot even read is refused before it is checked;
        // everything else is refused for who is asking.
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {}", response.text().await.unwrap());
    }
    let export = dora.get(server.url("/portal/audit-log.csv")).send().await.unwrap();
    assert_eq!(export.status(), StatusCode::FORBIDDEN);
    let anonymous = reqwest::Client::new().get(server.url("/portal/audit-log.csv")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let quotas = common::client_as("dora", "dora-password-1").get(server.url("/api/v2.0/quotas")).send().await.unwrap();
    assert_eq!(quotas.status(), StatusCode::FORBIDDEN);

    // Nothing dora asked for happened.
    let admin = admin_session(&server).await;
    let users = ok(&admin, &server, "admin_users", &[("page", "1")]).await;
    assert_eq!(users["total"], 2, "{users}");
    assert!(!ok(&admin, &server, "admin_self_registration", &[]).await[0].as_bool().unwrap());
    assert_eq!(server.state.projects.find("team").await.unwrap().unwrap().storage_quota, None);
    server.stop().await;
}

async fn users_are_administered_in_the_portal(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = admin_session(&server).await;

    // Creating: the password typed twice, the email an address, the name free.
    let mismatch = [("username", "erin"), ("password", "erin-password-1"), ("confirm_password", "erin-password-2")];
    let message = refused(&admin, &server, "admin_create_user", &mismatch, StatusCode::BAD_REQUEST).await;
    assert!(message.contains("confirm_password"), "{message}");
    let bad_email = [
        ("username", "erin"),
        ("email", "not an address"),
        ("password", "erin-password-1"),
        ("confirm_password", "erin-password-1"),
    ];
    let message = refused(&admin, &server, "admin_create_user", &bad_email, StatusCode::BAD_REQUEST).await;
    assert!(message.contains("email"), "{message}");
    let long_name = "x".repeat(256);
    let too_long = [
        ("username", "erin"),
        ("full_name", long_name.as_str()),
        ("password", "erin-password-1"),
        ("confirm_password", "erin-password-1"),
    ];
    refused(&admin, &server, "admin_create_user", &too_long, StatusCode::BAD_REQUEST).await;
    let erin = [
        ("username", "erin"),
        ("email", "erin@example.com"),
        ("full_name", "Erin Example"),
        ("password", "erin-password-1"),
        ("confirm_password", "erin-password-1"),
    ];
    let id = ok(&admin, &server, "admin_create_user", &erin).await.as_i64().unwrap().to_string();
    refused(&admin, &server, "admin_create_user", &erin, StatusCode::CONFLICT).await;
    for name in ["frank", "grace"] {
        let password = format!("{name}-password-1");
        let form = [("username", name), ("password", &password), ("confirm_password", &password)];
        ok(&admin, &server, "admin_create_user", &form).await;
    }

    // Searching and paging.
    let found = ok(&admin, &server, "admin_users", &[("page", "1"), ("search", "RIN")]).await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0]["email"], "erin@example.com");
    assert_eq!(found["items"][0]["is_admin"], false);
    let all = ok(&admin, &server, "admin_users", &[("page", "1")]).await;
    assert_eq!(all["total"], 4);
    assert_eq!(all["items"][0]["username"], "admin");
    assert_eq!(all["items"][0]["protected"], true);
    let long_search = "s".repeat(256);
    refused(&admin, &server, "admin_users", &[("page", "1"), ("search", &long_search)], StatusCode::BAD_REQUEST).await;

    // Administrator or not; admin keeps its flag.
    ok(&admin, &server, "admin_set_user_admin", &[("id", &id), ("is_admin", "true")]).await;
    assert!(server.state.users.find("erin").await.unwrap().unwrap().is_admin);
    let admin_id = server.state.users.find("admin").await.unwrap().unwrap().id.0.to_string();
    refused(&admin, &server, "admin_set_user_admin", &[("id", &admin_id), ("is_admin", "false")], StatusCode::CONFLICT)
        .await;

    // A reset password works at once, and erin's portal sessions end with the old one.
    let erin_session = common::portal_client(&server, "erin", "erin-password-1").await;
    ok(&erin_session, &server, "admin_users", &[("page", "1")]).await;
    let reset = [("username", "erin"), ("password", "Reset-password-9"), ("confirm_password", "Reset-password-9")];
    ok(&admin, &server, "admin_reset_password", &reset).await;
    refused(&erin_session, &server, "admin_users", &[("page", "1")], StatusCode::UNAUTHORIZED).await;
    let token = common::client_as("erin", "Reset-password-9").get(server.url("/service/token")).send().await.unwrap();
    assert_eq!(token.status(), StatusCode::OK);
    let old = common::client_as("erin", "erin-password-1").get(server.url("/service/token")).send().await.unwrap();
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let short = [("username", "erin"), ("password", "short"), ("confirm_password", "short")];
    refused(&admin, &server, "admin_reset_password", &short, StatusCode::BAD_REQUEST).await;

    // Deleting (never admin); every change is in the audit log.
    ok(&admin, &server, "admin_delete_user", &[("id", &id)]).await;
    assert!(server.state.users.find("erin").await.unwrap().is_none());
    refused(&admin, &server, "admin_delete_user", &[("id", &admin_id)], StatusCode::CONFLICT).await;
    let entries = common::audit_log(&server, "resource_type=user").await;
    let details: Vec<&str> = entries.iter().filter_map(|e| e["detail"].as_str()).collect();
    assert!(details.contains(&"made system administrator"), "{details:?}");
    assert!(details.contains(&"password reset by an administrator"), "{details:?}");
    assert!(entries.iter().any(|e| e["operation"] == "delete" && e["resource"] == "erin"), "{entries:?}");

    // Self-registration: off until turned on, and then people register.
    let register = json!({"username": "hana", "password": "hana-password-1", "email": "hana@example.com"});
    let anonymous = reqwest::Client::new();
    let closed = anonymous.post(server.url("/api/v2.0/users")).json(&register).send().await.unwrap();
    assert_eq!(closed.status(), StatusCode::FORBIDDEN);
    ok(&admin, &server, "admin_set_self_registration", &[("allowed", "true")]).await;
    assert_eq!(ok(&admin, &server, "admin_self_registration", &[]).await, json!([true, true]));
    let open = anonymous.post(server.url("/api/v2.0/users")).json(&register).send().await.unwrap();
    assert_eq!(open.status(), StatusCode::CREATED);
    server.stop().await;
}

async fn system_settings_apply(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = admin_session(&server).await;
    let save = |session: &'static str, robot: &'static str, admin_only: bool| {
        let mut form = vec![("session_lifetime_minutes", session), ("robot_token_duration_days", robot)];
        if admin_only {
            form.push(("project_creation_admin_only", "on"));
        }
        form
    };
    // Bounds, each named.
    for (form, field) in [
        (save("4", "30", false), "session_lifetime"),
        (save("43201", "30", false), "session_lifetime"),
        (save("60", "0", false), "robot_token_duration"),
        (save("60", "36501", false), "robot_token_duration"),
        (save("sixty", "30", false), "session_lifetime"),
    ] {
        let message = refused(&admin, &server, "save_system_settings", &form, StatusCode::BAD_REQUEST).await;
        assert!(message.contains(field), "{message}");
    }
    let before = ok(&admin, &server, "configuration", &[]).await;
    assert_eq!(before["robot_token_duration_days"], 30);
    assert_eq!(before["project_creation_admin_only"], false);
    ok(&admin, &server, "save_system_settings", &save("5", "7", true)).await;
    let after = ok(&admin, &server, "configuration", &[]).await;
    assert_eq!((&after["session_lifetime_minutes"], &after["robot_token_duration_days"]), (&json!(5), &json!(7)));
    assert_eq!(after["project_creation_admin_only"], true);
    let rest: Value =
        common::admin_client().get(server.url("/api/v2.0/configurations")).send().await.unwrap().json().await.unwrap();
    assert_eq!(rest["session_timeout"]["value"], 5);
    assert_eq!(rest["robot_token_duration"]["value"], 7);
    assert_eq!(rest["project_creation_restriction"]["value"], "adminonly");

    // A session opened now lasts five minutes: the cookie and the stored session say so.
    let login = common::browser_like_client()
        .post(server.url("/portal/fn/login"))
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    let cookie = login.headers().get(header::SET_COOKIE).unwrap().to_str().unwrap().to_owned();
    assert!(cookie.contains("Max-Age=300"), "{cookie}");
    const NEWEST: &str = "SELECT expires_at FROM sessions ORDER BY created_at DESC LIMIT 1";
    let expires: chrono::DateTime<chrono::Utc> =
        app::on_db!(&server.state.db, pool => sqlx::query_scalar(NEWEST).fetch_one(pool).await).unwrap();
    assert!(expires <= chrono::Utc::now() + chrono::Duration::minutes(5), "{expires}");

    // A robot created without a lifetime of its own gets seven days, as Harbor's duration 0 does.
    server.create_projects(&["team"]).await;
    let robot = json!({
        "name": "ci", "level": "system", "duration": 0,
        "permissions": [{"kind": "project", "namespace": "team", "access": [{"resource": "repository", "action": "pull"}]}],
    });
    let created = common::admin_client().post(server.url("/api/v2.0/robots")).json(&robot).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let listed: Value =
        common::admin_client().get(server.url("/api/v2.0/robots")).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed[0]["duration"], 7, "{listed}");
    // Harbor's REST names the same settings.
    let changed = common::admin_client()
        .put(server.url("/api/v2.0/configurations"))
        .json(&json!({"session_timeout": 90, "robot_token_duration": 14}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(ok(&admin, &server, "robot_default_lifetime", &[]).await, 14);
    let too_long = common::admin_client()
        .put(server.url("/api/v2.0/configurations"))
        .json(&json!({"session_timeout": 100000}))
        .send()
        .await
        .unwrap();
    assert_eq!(too_long.status(), StatusCode::BAD_REQUEST);
    assert!(too_long.text().await.unwrap().contains("session_timeout"));
    server.stop().await;
}

async fn the_audit_log_is_filtered_and_exported(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = admin_session(&server).await;
    // A sign-in with a name a spreadsheet would run as a formula, and a good one.
    // (No colon: Basic credentials end the username at the first one.)
    let formula = "=2+5+cmd|' /C calc'!A0";
    let attempt = common::client_as(formula, "wrong").get(server.url("/service/token")).send().await.unwrap();
    assert_eq!(attempt.status(), StatusCode::UNAUTHORIZED);
    server.create_projects(&["team"]).await;

    // The page's filters.
    let logins = ok(&admin, &server, "audit_log", &[("filters[operation]", "login")]).await;
    let count = logins["total"].as_i64().unwrap();
    assert!(count >= 2, "{logins}");
    assert!(logins["items"].as_array().unwrap().iter().all(|e| e["operation"] == "login"));
    let created =
        ok(&admin, &server, "audit_log", &[("filters[resource_type]", "project"), ("filters[resource]", "te")]).await;
    assert_eq!(created["total"], 1, "{created}");
    assert_eq!(created["items"][0]["resource"], "team");
    let future = ok(&admin, &server, "audit_log", &[("filters[from]", "2999-01-01T00:00")]).await;
    assert_eq!(future["total"], 0);
    for (key, value) in
        [("filters[operation]", "scan"), ("filters[from]", "yesterday"), ("filters[resource_type]", "x")]
    {
        let message = refused(&admin, &server, "audit_log", &[(key, value)], StatusCode::BAD_REQUEST).await;
        assert!(message.contains(key.trim_start_matches("filters[").trim_end_matches(']')), "{message}");
    }
    let long = "r".repeat(256);
    refused(&admin, &server, "audit_log", &[("filters[resource]", long.as_str())], StatusCode::BAD_REQUEST).await;

    // The export holds what the filters select, as RFC 4180 CSV, formulas neutralised.
    let export = admin.get(server.url("/portal/audit-log.csv?operation=login")).send().await.unwrap();
    assert_eq!(export.status(), StatusCode::OK);
    assert_eq!(export.headers()[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert!(export.headers()[header::CONTENT_DISPOSITION].to_str().unwrap().contains("audit-log.csv"));
    let csv = export.text().await.unwrap();
    let lines: Vec<&str> = csv.split("\r\n").filter(|line| !line.is_empty()).collect();
    assert_eq!(lines[0], "time,user,operation,resource_type,resource,outcome,client_address,detail");
    assert_eq!(lines.len() as i64, count + 1, "{csv}");
    assert!(lines[1..].iter().all(|line| line.contains(",login,")), "{csv}");
    assert!(csv.contains("\"'=2+5+cmd|' /C calc'!A0\""), "{csv}");
    let bad = admin.get(server.url("/portal/audit-log.csv?from=yesterday")).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    // Basic credentials do as well as a session, for scripts.
    let scripted = common::admin_client().get(server.url("/portal/audit-log.csv?resource_type=project")).send().await;
    assert_eq!(scripted.unwrap().text().await.unwrap().lines().count(), 2);
    server.stop().await;
}

/// More entries than one export batch: every one arrives once, newest first.
async fn a_long_export_streams_every_entry(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin_actor().await;
    let names: Vec<String> = (0..2500).map(|i| format!("p{i:04}")).collect();
    for name in &names {
        let event = app::core::events::AuditEvent::new(
            app::core::events::Operation::Create,
            app::core::events::ResourceType::Project,
            name.clone(),
            &admin,
        );
        server.state.events.record(event).await;
    }
    let csv = common::admin_client()
        .get(server.url("/portal/audit-log.csv?resource_type=project&resource=p"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let resources: Vec<&str> = csv.lines().skip(1).map(|line| line.split(',').nth(4).unwrap()).collect();
    assert_eq!(resources.len(), names.len());
    let mut sorted = resources.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len(), "no entry twice");
    server.stop().await;
}

async fn quotas_are_administered(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["alpha", "beta"]).await;
    let client = common::admin_client();
    let (_, size) = common::push_image(&client, &server, "alpha/app", "v1", b"quota layer").await;
    let alpha = server.state.projects.find("alpha").await.unwrap().unwrap().id.0;

    // Harbor's /quotas: every project, usage in bytes, -1 for no limit.
    let listed = client.get(server.url("/api/v2.0/quotas")).send().await.unwrap();
    // `library` exists from the first start.
    assert_eq!(listed.headers()["x-total-count"], "3");
    let listed: Value = listed.json().await.unwrap();
    assert_eq!(listed[0]["ref"]["name"], "alpha");
    assert_eq!(listed[0]["used"]["storage"], size);
    assert_eq!(listed[0]["hard"]["storage"], -1);
    assert_eq!(listed[1]["used"]["storage"], 0);
    let one: Value =
        client.get(server.url(&format!("/api/v2.0/quotas/{alpha}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(one["id"], alpha);
    let filtered: Value = client
        .get(server.url(&format!("/api/v2.0/quotas?reference=project&reference_id={alpha}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(filtered.as_array().unwrap().len(), 1);

    // Changing a limit: bytes, or -1; what is held already may not fit the next push.
    let put = |body: Value| client.put(server.url(&format!("/api/v2.0/quotas/{alpha}"))).json(&body).send();
    for bad in
        [json!({"hard": {"storage": 0}}), json!({"hard": {"storage": -2}}), json!({"hard": {"cpu": 1}}), json!({})]
    {
        assert_eq!(put(bad.clone()).await.unwrap().status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(put(json!({"hard": {"storage": size + 10}})).await.unwrap().status(), StatusCode::OK);
    assert_eq!(server.state.projects.find("alpha").await.unwrap().unwrap().storage_quota, Some(size + 10));
    let over = common::push_blob(&client, &server, "alpha/app", &[7u8; 64]).await;
    assert_eq!(over, StatusCode::FORBIDDEN, "over the new limit");
    assert_eq!(put(json!({"hard": {"storage": -1}})).await.unwrap().status(), StatusCode::OK);
    assert_eq!(server.state.projects.find("alpha").await.unwrap().unwrap().storage_quota, None);
    let missing = client.put(server.url("/api/v2.0/quotas/999999")).json(&json!({"hard": {"storage": 1}})).send();
    assert_eq!(missing.await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(client.get(server.url("/api/v2.0/quotas?sort=used.storage")).send().await.unwrap().status(), 400);

    // The portal's page: the same numbers, and a limit typed with a unit.
    let admin = admin_session(&server).await;
    let page = ok(&admin, &server, "admin_quotas", &[("page", "1")]).await;
    assert_eq!(page["items"][0], json!({"project": "alpha", "used": size, "limit": null}));
    ok(&admin, &server, "admin_set_quota", &[("project", "beta"), ("quota", "1.5"), ("quota_unit", "GiB")]).await;
    assert_eq!(server.state.projects.find("beta").await.unwrap().unwrap().storage_quota, Some(3 << 29));
    refused(&admin, &server, "admin_set_quota", &[("project", "beta"), ("quota", "-1")], StatusCode::BAD_REQUEST).await;
    ok(&admin, &server, "admin_set_quota", &[("project", "beta"), ("quota", "")]).await;
    assert_eq!(server.state.projects.find("beta").await.unwrap().unwrap().storage_quota, None);
    server.stop().await;
}

async fn system_robots_are_administered(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["alpha", "beta"]).await;
    let admin = admin_session(&server).await;
    let message =
        refused(&admin, &server, "create_system_robot", &[("name", "ci"), ("pull", "on")], StatusCode::BAD_REQUEST)
            .await;
    assert!(message.contains("projects"), "{message}");
    let many = (0..101).map(|i| format!("p{i}")).collect::<Vec<_>>().join(",");
    refused(
        &admin,
        &server,
        "create_system_robot",
        &[("name", "ci"), ("projects", &many), ("pull", "on")],
        StatusCode::BAD_REQUEST,
    )
    .await;
    // A lifetime of up to 36 500 days (about a century).
    for days in ["36501", "4000000000"] {
        let huge = [("name", "ci"), ("all_projects", "on"), ("pull", "on"), ("expires_in_days", days)];
        refused(&admin, &server, "create_system_robot", &huge, StatusCode::BAD_REQUEST).await;
    }
    let longest = [("name", "century"), ("all_projects", "on"), ("pull", "on"), ("expires_in_days", "36500")];
    ok(&admin, &server, "create_system_robot", &longest).await;
    let hundred = (0..100).map(|i| format!("p{i}")).collect::<Vec<_>>().join(",");
    let named = [("name", "wide"), ("projects", hundred.as_str()), ("pull", "on")];
    // A hundred projects may be named; these do not exist, which is what is refused.
    let message = refused(&admin, &server, "create_system_robot", &named, StatusCode::NOT_FOUND).await;
    assert!(message.contains("p0"), "{message}");

    // One for two projects, pushing; one for every project, pulling.
    let named =
        [("name", "builder"), ("projects", "alpha, beta"), ("pull", "on"), ("push", "on"), ("expires_in_days", "3")];
    let builder = ok(&admin, &server, "create_system_robot", &named).await;
    assert_eq!(builder["name"], "robot$builder");
    let all = [("name", "reader"), ("all_projects", "on"), ("pull", "on")];
    let reader = ok(&admin, &server, "create_system_robot", &all).await;
    let listed = ok(&admin, &server, "system_robots", &[("page", "1")]).await;
    assert_eq!(listed["total"], 3);
    let row = |name: &str| listed["items"].as_array().unwrap().iter().find(|r| r["name"] == name).unwrap().clone();
    assert_eq!(row("robot$builder")["scope"], "alpha, beta");
    assert_eq!(row("robot$builder")["permissions"], json!(["pull", "push"]));
    assert_eq!(row("robot$reader")["scope"], "All projects");

    // The secrets work where they were granted, and nowhere else.
    let builder_client = common::client_as("robot$builder", builder["secret"].as_str().unwrap());
    common::push_image(&builder_client, &server, "beta/app", "v1", b"built").await;
    let reader_client = common::client_as("robot$reader", reader["secret"].as_str().unwrap());
    let pulled = reader_client.get(server.url("/v2/beta/app/manifests/v1")).send().await.unwrap();
    assert_eq!(pulled.status(), StatusCode::OK);
    let pushed = common::push_blob(&reader_client, &server, "beta/app", b"no").await;
    assert!(matches!(pushed, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN), "a reader does not push: {pushed}");

    // Disabled, refreshed and deleted through the rows' actions (no project: a system robot).
    let id = row("robot$reader")["id"].as_i64().unwrap().to_string();
    ok(&admin, &server, "set_robot_disabled", &[("id", &id), ("disabled", "true")]).await;
    let disabled = reader_client.get(server.url("/v2/beta/app/manifests/v1")).send().await.unwrap();
    assert_eq!(disabled.status(), StatusCode::UNAUTHORIZED);
    // A project's tab cannot reach a system robot by its id.
    refused(&admin, &server, "delete_robot", &[("project", "alpha"), ("id", &id)], StatusCode::NOT_FOUND).await;
    let fresh = ok(&admin, &server, "refresh_robot_secret", &[("id", &id)]).await;
    assert_ne!(fresh["secret"], reader["secret"]);
    ok(&admin, &server, "delete_robot", &[("id", &id)]).await;
    assert_eq!(ok(&admin, &server, "system_robots", &[("page", "1")]).await["total"], 2);
    server.stop().await;
}

async fn groups_are_administered(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = admin_session(&server).await;
    // Groups come with a login mode that has them.
    let message =
        refused(&admin, &server, "admin_add_group", &[("kind", "oidc"), ("name", "devs")], StatusCode::BAD_REQUEST)
            .await;
    assert!(message.contains("OIDC"), "{message}");
    let configured = common::admin_client()
        .put(server.url("/api/v2.0/configurations"))
        .json(&json!({
            "auth_mode": "oidc_auth", "oidc_name": "IdP", "oidc_endpoint": "https://idp.example/realms/main",
            "oidc_client_id": "berth", "oidc_client_secret": "secret", "oidc_scope": "openid",
            "oidc_user_claim": "preferred_username",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(configured.status(), StatusCode::OK);
    let id = ok(&admin, &server, "admin_add_group", &[("kind", "oidc"), ("name", " devs ")]).await;
    assert_eq!(ok(&admin, &server, "admin_add_group", &[("kind", "oidc"), ("name", "devs")]).await, id, "once");
    ok(&admin, &server, "admin_add_group", &[("kind", "oidc"), ("name", "ops")]).await;
    let long = "g".repeat(513);
    refused(&admin, &server, "admin_add_group", &[("kind", "oidc"), ("name", &long)], StatusCode::BAD_REQUEST).await;
    let longest = "g".repeat(512);
    ok(&admin, &server, "admin_add_group", &[("kind", "oidc"), ("name", &longest)]).await;
    let added = common::audit_log(&server, "resource_type=user").await;
    assert!(added.iter().any(|e| e["operation"] == "create" && e["resource"] == "group:ops"), "{added:?}");
    assert_eq!(added.iter().filter(|e| e["resource"] == "group:devs").count(), 1, "added once, audited once");
    refused(&admin, &server, "admin_add_group", &[("kind", "database"), ("name", "x")], StatusCode::BAD_REQUEST).await;
    let found = ok(&admin, &server, "admin_groups", &[("page", "1"), ("search", "dev")]).await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0], json!({"id": id, "kind": "oidc", "name": "devs"}));
    ok(&admin, &server, "admin_delete_group", &[("id", &id.to_string())]).await;
    assert_eq!(ok(&admin, &server, "admin_groups", &[("page", "1")]).await["total"], 2);
    server.stop().await;
}

/// Login settings fit their bounds, even when only kept for later: texts
/// of at most 2048 characters, at most 32 scopes.
async fn login_settings_keep_their_bounds(backend: Backend) {
    let server = TestServer::start(backend).await;
    let put = |body: Value| common::admin_client().put(server.url("/api/v2.0/configurations")).json(&body).send();
    let at = "d".repeat(2048);
    assert_eq!(put(json!({"ldap_base_dn": at})).await.unwrap().status(), StatusCode::OK);
    let over = put(json!({"ldap_base_dn": format!("{at}d")})).await.unwrap();
    assert_eq!(over.status(), StatusCode::BAD_REQUEST);
    assert!(over.text().await.unwrap().contains("ldap_base_dn"));
    let scopes = |n: usize| (0..n).map(|i| format!("s{i}")).collect::<Vec<_>>().join(",");
    assert_eq!(put(json!({"oidc_scope": format!("openid,{}", scopes(31))})).await.unwrap().status(), StatusCode::OK);
    let many = put(json!({"oidc_scope": format!("openid,{}", scopes(32))})).await.unwrap();
    assert_eq!(many.status(), StatusCode::BAD_REQUEST);
    assert!(many.text().await.unwrap().contains("oidc_scope"));
    // "Check endpoint" and "Test LDAP connection" hold to them too.
    let admin = admin_session(&server).await;
    let long_url = format!("https://idp.example/{}", "p".repeat(2048));
    let message =
        refused(&admin, &server, "check_oidc_login", &[("oidc[issuer_url]", &long_url)], StatusCode::BAD_REQUEST).await;
    assert!(message.contains("issuer_url"), "{message}");
    let long_dn = "d".repeat(2049);
    let form = [
        ("ldap[url]", "ldap://127.0.0.1:9"),
        ("ldap[scope]", "subtree"),
        ("ldap[timeout_seconds]", "5"),
        ("ldap[base_dn]", long_dn.as_str()),
    ];
    let message = refused(&admin, &server, "test_ldap_login", &form, StatusCode::BAD_REQUEST).await;
    assert!(message.contains("base_dn"), "{message}");
    server.stop().await;
}

on_both_databases!(
    login_settings_keep_their_bounds,
    administration_is_for_administrators,
    users_are_administered_in_the_portal,
    system_settings_apply,
    the_audit_log_is_filtered_and_exported,
    a_long_export_streams_every_entry,
    quotas_are_administered,
    system_robots_are_administered,
    groups_are_administered,
);

/// The LDAP form against a real OpenLDAP: "Test LDAP connection" with a
/// wrong password says why; the bind password is never read back and
/// stays with its directory; saved, a directory user signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_is_set_up_in_the_portal() {
    common::within_time_limit(async {
        let slapd = Slapd::start().await;
        let server = TestServer::start(Backend::Sqlite).await;
        let admin = admin_session(&server).await;
        let settings = slapd.settings();
        let form = |password: &'static str, url: &str| {
            vec![
                ("ldap[url]".to_owned(), url.to_owned()),
                ("ldap[verify_certificate]".to_owned(), "on".to_owned()),
                ("ldap[search_dn]".to_owned(), settings.search_dn.clone()),
                ("ldap[search_password]".to_owned(), password.to_owned()),
                ("ldap[base_dn]".to_owned(), settings.base_dn.clone()),
                ("ldap[scope]".to_owned(), "subtree".to_owned()),
                ("ldap[user_filter]".to_owned(), settings.user_filter.clone()),
                ("ldap[uid_attribute]".to_owned(), "uid".to_owned()),
                ("ldap[group_base_dn]".to_owned(), settings.group_base_dn.clone()),
                ("ldap[group_filter]".to_owned(), settings.group_filter.clone()),
                ("ldap[group_name_attribute]".to_owned(), "cn".to_owned()),
                ("ldap[group_member_attribute]".to_owned(), "member".to_owned()),
                ("ldap[admin_group_dn]".to_owned(), settings.admin_group_dn.clone()),
                ("ldap[timeout_seconds]".to_owned(), "5".to_owned()),
            ]
        };
        let wrong = form("not-the-password", &slapd.url);
        let message = refused(&admin, &server, "test_ldap_login", &pairs(&wrong), StatusCode::BAD_GATEWAY).await;
        assert!(message.contains("IdentityProvider"), "the directory's answer is passed on: {message}");
        let right = form(READER_PASSWORD, &slapd.url);
        ok(&admin, &server, "test_ldap_login", &pairs(&right)).await;
        let mut slow = right.clone();
        slow.last_mut().unwrap().1 = "301".to_owned();
        refused(&admin, &server, "use_ldap_login", &pairs(&slow), StatusCode::BAD_REQUEST).await;
        ok(&admin, &server, "use_ldap_login", &pairs(&right)).await;

        let shown = ok(&admin, &server, "configuration", &[]).await;
        assert_eq!(shown["mode"], "ldap");
        assert_eq!(shown["ldap"]["has_search_password"], true);
        assert!(!shown.to_string().contains(READER_PASSWORD), "the password is never read back: {shown}");
        // Saved again without the password, it stays; pointed elsewhere, it must be given again.
        ok(&admin, &server, "use_ldap_login", &pairs(&form("", &slapd.url))).await;
        let moved = form("", "ldap://127.0.0.2:389");
        let message = refused(&admin, &server, "use_ldap_login", &pairs(&moved), StatusCode::BAD_REQUEST).await;
        assert!(message.contains("search_password"), "{message}");

        // A directory user signs in with their directory password.
        let alice = common::client_as("alice", "alice-pass").get(server.url("/service/token")).send().await.unwrap();
        assert_eq!(alice.status(), StatusCode::OK);
        let accounts = ok(&admin, &server, "configuration", &[]).await["accounts"].clone();
        assert_eq!(accounts, json!([["database", 1], ["ldap", 1]]));
        ok(&admin, &server, "use_database_login", &[]).await;
        server.stop().await;
    })
    .await;
}

/// The design card's flow: an administrator sets up OIDC through the
/// portal's Authentication form (checking the endpoint first), a user signs
/// in at the provider, takes the CLI secret from the profile, and the real
/// docker CLI logs in with it and pushes. Database users and robots push
/// with docker too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_set_up_in_the_portal_ends_in_docker_push() {
    common::within_time_limit(async {
        let server = TestServer::start(Backend::Sqlite).await;
        let provider = OidcProvider::start(&server.url("/c/oidc/callback"), &[("alice", &["developers"])]);
        let admin = admin_session(&server).await;
        let oidc = |issuer: &str, secret: &str| {
            vec![
                ("oidc[provider_name]".to_owned(), "Test IdP".to_owned()),
                ("oidc[issuer_url]".to_owned(), issuer.to_owned()),
                ("oidc[client_id]".to_owned(), CLIENT_ID.to_owned()),
                ("oidc[client_secret]".to_owned(), secret.to_owned()),
                ("oidc[scopes]".to_owned(), "openid, profile, email, groups, offline_access".to_owned()),
                ("oidc[username_claim]".to_owned(), "preferred_username".to_owned()),
                ("oidc[groups_claim]".to_owned(), "groups".to_owned()),
                ("oidc[admin_group]".to_owned(), String::new()),
                ("oidc[verify_certificate]".to_owned(), "on".to_owned()),
            ]
        };
        let nowhere = oidc("http://127.0.0.1:9/", CLIENT_SECRET);
        let message = refused(&admin, &server, "check_oidc_login", &pairs(&nowhere), StatusCode::BAD_GATEWAY).await;
        assert!(message.contains("could not be reached"), "{message}");
        let found = ok(&admin, &server, "check_oidc_login", &pairs(&oidc(&provider.issuer, CLIENT_SECRET))).await;
        assert!(found.as_str().unwrap().contains(&provider.issuer), "{found}");
        ok(&admin, &server, "use_oidc_login", &pairs(&oidc(&provider.issuer, CLIENT_SECRET))).await;
        let shown = ok(&admin, &server, "configuration", &[]).await;
        assert_eq!((shown["mode"].as_str(), shown["oidc"]["has_client_secret"].as_bool()), (Some("oidc"), Some(true)));
        assert!(!shown.to_string().contains(CLIENT_SECRET), "the secret is never read back");

        // alice signs in at the provider and reads her CLI secret from her profile.
        let (alice, _) = sign_in(&server.base, "alice").await;
        let profile = ok(&alice, &server, "profile", &[]).await;
        let secret = profile["cli_secret"].as_str().unwrap().to_owned();
        let developers = server.state.auth.oidc_group("developers").await.unwrap();
        let admin_actor = server.admin_actor().await;
        server.create_projects(&["team"]).await;
        let member = app::core::projects::MemberRef::Group(developers);
        server.state.projects.set_member(&admin_actor, "team", member, app::core::rbac::Role::Developer).await.unwrap();

        // The real docker CLI: alice with her CLI secret, a robot, the database administrator.
        let docker = Docker::start().await;
        let host = server.base.trim_start_matches("http://").to_owned();
        let login = docker.login(&host, "alice", &secret).await;
        assert!(login.status.success(), "{}", text(&login));
        let image = format!("{host}/team/hello:v1");
        docker.import(&image, "hello from alice").await;
        docker.ok(&["push", &image]).await;
        let wrong = docker.login(&host, "alice", "not-her-secret").await;
        assert!(!wrong.status.success());

        let robot = [("name", "shipper"), ("projects", "team"), ("pull", "on"), ("push", "on")];
        let robot = ok(&admin, &server, "create_system_robot", &robot).await;
        let login = docker.login(&host, "robot$shipper", robot["secret"].as_str().unwrap()).await;
        assert!(login.status.success(), "{}", text(&login));
        let tagged = format!("{host}/team/hello:robot");
        docker.ok(&["tag", &image, &tagged]).await;
        docker.ok(&["push", &tagged]).await;

        let login = docker.login(&host, "admin", ADMIN_PASSWORD).await;
        assert!(login.status.success(), "{}", text(&login));
        docker.ok(&["pull", &tagged]).await;
        let tags: Value = common::admin_client()
            .get(server.url("/v2/team/hello/tags/list"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(tags["tags"], json!(["robot", "v1"]));
        let pushes = common::audit_log(&server, "operation=push").await;
        for who in ["alice", "robot$shipper"] {
            assert!(pushes.iter().any(|e| e["username"] == who), "{who} pushed: {pushes:?}");
        }
        server.stop().await;
    })
    .await;
}
