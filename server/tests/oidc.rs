//! Signing in through OIDC against a real OpenID provider (npm
//! `oidc-provider`), on SQLite and PostgreSQL: the administrator switches
//! the login mode over the REST API; users walk through the provider's login
//! page and are onboarded with their groups (the admin group makes
//! administrators); registry clients use the CLI secret, which can be
//! regenerated; `state` protects the callback; failures land on the login page
//! with a reason and in the audit log.

mod common;

use app::core::{
    events::AuditQuery,
    identity::Principal,
    projects::{MemberRef, NewProject},
    rbac::Role,
};
use common::{
    ADMIN_PASSWORD, Backend, TestServer,
    oidc::{OidcProvider, follow, sign_in, submit_login},
};
use reqwest::{StatusCode, header};
use serde_json::Value;

const ADMIN_GROUP: &str = "berth-admins";

/// Berth switched to a provider that knows alice (a developer) and olga (an administrator).
async fn oidc_registry(backend: Backend) -> (TestServer, OidcProvider) {
    let server = TestServer::start(backend).await;
    let provider = OidcProvider::start(
        &server.url("/c/oidc/callback"),
        &[("alice", &["developers"]), ("olga", &[ADMIN_GROUP, "developers"])],
    );
    let response = common::admin_client()
        .put(server.url("/api/v2.0/configurations"))
        .json(&provider.berth_configuration(ADMIN_GROUP))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());
    (server, provider)
}

/// Calls a portal server function with the session `client` holds.
async fn server_fn(client: &reqwest::Client, server: &TestServer, name: &str) -> reqwest::Response {
    client
        .post(server.url(&format!("/portal/fn/{name}")))
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .unwrap()
}

async fn cli_secret(client: &reqwest::Client, server: &TestServer) -> Value {
    let response = server_fn(client, server, "profile").await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// What `docker login` does: the token service checks the credentials.
async fn docker_login(server: &TestServer, username: &str, secret: &str) -> StatusCode {
    common::client_as(username, secret).get(server.url("/service/token?account=x")).send().await.unwrap().status()
}

/// Sets until when Berth takes the provider's last word on `username`.
async fn set_provider_word_until(server: &TestServer, username: &str, until: chrono::DateTime<chrono::Utc>) {
    const SQL: &str =
        "UPDATE oidc_tokens SET valid_until = $1 WHERE user_id = (SELECT id FROM users WHERE username = $2)";
    let updated = app::on_db!(&server.state.db, pool => {
        sqlx::query(SQL).bind(until).bind(username).execute(pool).await.map(|done| done.rows_affected())
    })
    .unwrap();
    assert_eq!(updated, 1);
}

async fn provider_word_until(server: &TestServer, username: &str) -> chrono::DateTime<chrono::Utc> {
    const SQL: &str = "SELECT valid_until FROM oidc_tokens WHERE user_id = (SELECT id FROM users WHERE username = $1)";
    app::on_db!(&server.state.db, pool => {
        sqlx::query_scalar(SQL).bind(username).fetch_one(pool).await
    })
    .unwrap()
}

async fn users_sign_in_and_use_their_cli_secret(backend: Backend) {
    let (server, mut provider) = oidc_registry(backend).await;

    // The login page offers the provider; configurations never return its secret.
    let options: Value = server_fn(&reqwest::Client::new(), &server, "login_options").await.json().await.unwrap();
    assert_eq!(options["oidc_provider"], "Test IdP");
    let config: Value =
        common::admin_client().get(server.url("/api/v2.0/configurations")).send().await.unwrap().json().await.unwrap();
    assert_eq!(config["auth_mode"]["value"], "oidc_auth");
    assert_eq!(config["oidc_endpoint"]["value"], provider.issuer);
    assert!(config.get("oidc_client_secret").is_none(), "secrets are never read back: {config}");

    // alice walks through the provider's login page and lands on the dashboard.
    let (alice, visited) = sign_in(&server.base, "alice").await;
    assert!(visited.iter().any(|url| url.starts_with(&server.url("/c/oidc/callback?"))), "{visited:?}");
    assert_eq!(visited.last().unwrap(), &server.url("/"));
    let profile = cli_secret(&alice, &server).await;
    assert_eq!(profile["username"], "alice");
    assert_eq!(profile["email"], "alice@oidc.test");
    assert_eq!(profile["full_name"], "Test user alice");
    assert_eq!(profile["is_admin"], false);
    let secret = profile["cli_secret"].as_str().expect("OIDC accounts have a CLI secret").to_owned();
    assert_eq!(secret.len(), 32);

    // The CLI secret is alice's registry password; her OIDC password is not,
    // and the portal's password form refuses her.
    assert_eq!(docker_login(&server, "alice", &secret).await, StatusCode::OK);
    assert_eq!(docker_login(&server, "alice", "anything at all").await, StatusCode::UNAUTHORIZED);
    let form = common::browser_like_client()
        .post(server.url("/portal/fn/login"))
        .header(header::ACCEPT, "application/json")
        .form(&[("username", "alice"), ("password", secret.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::FORBIDDEN);
    // The first administrator keeps its database password.
    assert_eq!(docker_login(&server, "admin", ADMIN_PASSWORD).await, StatusCode::OK);

    // Signing in again keeps the secret.
    let (alice, _) = sign_in(&server.base, "alice").await;
    assert_eq!(cli_secret(&alice, &server).await["cli_secret"], secret.as_str());

    // Her provider group, made a project member, lets her push there.
    let admin = server.admin_actor().await;
    server.state.projects.create(&admin, NewProject::private("team")).await.unwrap();
    let developers = server.state.auth.oidc_group("developers").await.unwrap();
    server.state.projects.set_member(&admin, "team", MemberRef::Group(developers), Role::Developer).await.unwrap();
    let pushed = common::push_blob(&common::client_as("alice", &secret), &server, "team/app", b"from alice").await;
    assert_eq!(pushed, StatusCode::CREATED);
    let elsewhere = server.state.projects.create(&admin, NewProject::private("other")).await;
    assert!(elsewhere.is_ok());
    let refused = common::push_blob(&common::client_as("alice", &secret), &server, "other/app", b"x").await;
    assert_eq!(refused, StatusCode::FORBIDDEN);

    // olga's groups claim names the admin group: she administers Berth.
    let (olga, _) = sign_in(&server.base, "olga").await;
    let olga_profile = cli_secret(&olga, &server).await;
    assert_eq!(olga_profile["is_admin"], true);
    let olga_secret = olga_profile["cli_secret"].as_str().unwrap();
    assert_ne!(olga_secret, secret);
    let as_olga = common::client_as("olga", olga_secret).get(server.url("/api/v2.0/configurations")).send().await;
    assert_eq!(as_olga.unwrap().status(), StatusCode::OK);
    let as_alice = common::client_as("alice", &secret).get(server.url("/api/v2.0/configurations")).send().await;
    assert_eq!(as_alice.unwrap().status(), StatusCode::FORBIDDEN);

    // Regenerating replaces the secret at once.
    let regenerated = server_fn(&alice, &server, "regenerate_cli_secret").await;
    assert_eq!(regenerated.status(), StatusCode::OK);
    let new_secret: String = regenerated.json().await.unwrap();
    assert_ne!(new_secret, secret);
    assert_eq!(docker_login(&server, "alice", &secret).await, StatusCode::UNAUTHORIZED);
    assert_eq!(docker_login(&server, "alice", &new_secret).await, StatusCode::OK);
    assert_eq!(cli_secret(&alice, &server).await["cli_secret"], new_secret.as_str());
    // Database accounts have no CLI secret to regenerate.
    let admin_session = common::browser_like_client();
    admin_session
        .post(server.url("/portal/fn/login"))
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(cli_secret(&admin_session, &server).await["cli_secret"], Value::Null);
    assert_eq!(server_fn(&admin_session, &server, "regenerate_cli_secret").await.status(), StatusCode::CONFLICT);

    // Over REST, an OIDC user may set a secret of their own (Harbor's rules), for themselves only.
    let alice_id = server.state.users.find("alice").await.unwrap().unwrap().id.0;
    let olga_id = server.state.users.find("olga").await.unwrap().unwrap().id.0;
    let set = |id: i64, secret: &str| {
        common::client_as("alice", &new_secret)
            .put(server.url(&format!("/api/v2.0/users/{id}/cli_secret")))
            .json(&serde_json::json!({ "secret": secret }))
            .send()
    };
    assert_eq!(set(alice_id, "weak").await.unwrap().status(), StatusCode::BAD_REQUEST);
    assert_eq!(set(olga_id, "Olgas-Secret-42").await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(set(alice_id, "Alices-Own-Secret-42").await.unwrap().status(), StatusCode::OK);
    assert_eq!(docker_login(&server, "alice", &new_secret).await, StatusCode::UNAUTHORIZED);
    assert_eq!(docker_login(&server, "alice", "Alices-Own-Secret-42").await, StatusCode::OK);
    let new_secret = "Alices-Own-Secret-42".to_owned();

    // Once the provider's ID token has expired, Berth asks it again with the
    // refresh token before honouring the secret...
    let expired = chrono::Utc::now() - chrono::Duration::minutes(1);
    set_provider_word_until(&server, "alice", expired).await;
    assert_eq!(docker_login(&server, "alice", &new_secret).await, StatusCode::OK);
    assert!(provider_word_until(&server, "alice").await > chrono::Utc::now(), "the refresh renewed it");
    // ...and a provider that no longer vouches for her (it forgot every
    // grant) ends the secret's use until she signs in again.
    provider.restart();
    set_provider_word_until(&server, "alice", expired).await;
    assert_eq!(docker_login(&server, "alice", &new_secret).await, StatusCode::UNAUTHORIZED);
    let (_, _) = sign_in(&server.base, "alice").await;
    assert_eq!(docker_login(&server, "alice", &new_secret).await, StatusCode::OK);
    // With the provider unreachable, an expired word cannot be renewed:
    // the registry says the service is unavailable, not that she is a stranger.
    drop(provider);
    set_provider_word_until(&server, "alice", expired).await;
    assert_eq!(docker_login(&server, "alice", &new_secret).await, StatusCode::SERVICE_UNAVAILABLE);
    let v2 = common::client_as("alice", &new_secret).get(server.url("/v2/")).send().await.unwrap();
    assert_eq!(v2.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(v2.json::<Value>().await.unwrap()["errors"][0]["code"], "UNAVAILABLE");

    // The audit log has the OIDC sign-ins and the regeneration.
    server.state.events.flush().await;
    let reader = Principal::User(server.state.users.find("admin").await.unwrap().unwrap());
    let query = AuditQuery { actor: Some("alice"), ..Default::default() };
    let events = server
        .state
        .audit
        .list(&reader.clone().into(), &query, app::core::db::Window::new(0, 100))
        .await
        .unwrap()
        .items;
    let oidc_logins = events.iter().filter(|e| e.operation == "login" && e.detail.as_deref() == Some("oidc")).count();
    assert_eq!(oidc_logins, 3);
    assert!(events.iter().any(|e| e.detail.as_deref() == Some("CLI secret regenerated")), "{events:?}");
    server.stop().await;
}

async fn the_callback_is_guarded(backend: Backend) {
    let (server, _provider) = oidc_registry(backend).await;
    // The reason the login page was given (a signed-in browser moves on from there).
    let login_error = |visited: &[String]| {
        visited.iter().find_map(|url| url.split_once("/login?error=").map(|(_, reason)| reason.to_owned()))
    };

    // Walk to the callback without following it, to replay it elsewhere.
    let browser = common::browser_like_client();
    let (_, page) = follow(&browser, &server.url("/c/oidc/login")).await;
    let page_url = page.url().clone();
    let html = page.text().await.unwrap();
    let action = html.split("action=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap().to_owned();
    let mut response = browser
        .post(page_url.join(&action).unwrap())
        .form(&[("prompt", "login"), ("login", "alice"), ("password", "x")])
        .send()
        .await
        .unwrap();
    let callback = loop {
        let location = response.headers()[header::LOCATION].to_str().unwrap().to_owned();
        let next = response.url().join(&location).unwrap().to_string();
        if next.starts_with(&server.url("/c/oidc/callback")) {
            break next;
        }
        response = browser.get(&next).send().await.unwrap();
    };

    // Another browser (no state cookie) may not finish alice's sign-in...
    let (visited, _) = follow(&common::browser_like_client(), &callback).await;
    assert_eq!(login_error(&visited).as_deref(), Some("oidc_state"));
    // ...the one that started it may, once.
    let (visited, _) = follow(&browser, &callback).await;
    assert_eq!(visited.last().unwrap(), &server.url("/"));
    let (visited, _) = follow(&browser, &callback).await;
    assert_eq!(login_error(&visited).as_deref(), Some("oidc_state"), "a replayed callback is refused");

    // The provider saying no, and a callback with nothing in it.
    let (visited, _) = follow(&browser, &server.url("/c/oidc/callback?error=access_denied")).await;
    assert_eq!(login_error(&visited).as_deref(), Some("oidc_denied"));
    let (visited, _) = follow(&browser, &server.url("/c/oidc/callback")).await;
    assert_eq!(login_error(&visited).as_deref(), Some("oidc_state"));

    // A database account is never taken over by a provider's username.
    server.create_user("dora", "dora-password-1").await;
    let client = common::browser_like_client();
    let (_, page) = follow(&client, &server.url("/c/oidc/login")).await;
    let visited = submit_login(&client, page, "dora").await;
    assert_eq!(login_error(&visited).as_deref(), Some("oidc_conflict"));
    server.state.events.flush().await;
    let reader = Principal::User(server.state.users.find("admin").await.unwrap().unwrap());
    let query = AuditQuery { actor: Some("dora"), operation: Some("login"), ..Default::default() };
    let events =
        server.state.audit.list(&reader.clone().into(), &query, app::core::db::Window::new(0, 10)).await.unwrap().items;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, "failure");

    // Back in database mode, OIDC sign-in is off and the password form works again.
    let response = common::admin_client()
        .put(server.url("/api/v2.0/configurations"))
        .json(&serde_json::json!({"auth_mode": "db_auth"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (visited, _) = follow(&common::browser_like_client(), &server.url("/c/oidc/login")).await;
    assert_eq!(login_error(&visited).as_deref(), Some("oidc_off"));
    assert_eq!(docker_login(&server, "dora", "dora-password-1").await, StatusCode::OK);
    // The OIDC settings are kept for later, without the secret showing.
    let config: Value =
        common::admin_client().get(server.url("/api/v2.0/configurations")).send().await.unwrap().json().await.unwrap();
    assert_eq!(config["auth_mode"]["value"], "db_auth");
    assert_eq!(config["oidc_client_id"]["value"], common::oidc::CLIENT_ID);
    server.stop().await;
}

/// The configurations endpoint refuses what it cannot apply, naming the key.
async fn configurations_refuse_bad_input(backend: Backend) {
    let server = TestServer::start(backend).await;
    let put = |body: Value| {
        let url = server.url("/api/v2.0/configurations");
        async move { common::admin_client().put(url).json(&body).send().await.unwrap() }
    };
    for (body, names) in [
        (serde_json::json!({"sysadmin_flag": true}), "sysadmin_flag"),
        (serde_json::json!({"oidc_verify_cert": "yes"}), "oidc_verify_cert"),
        (serde_json::json!({"auth_mode": "kerberos"}), "auth_mode"),
        (serde_json::json!({"oidc_auto_onboard": false}), "oidc_auto_onboard"),
        (serde_json::json!({"auth_mode": "oidc_auth", "oidc_endpoint": "not a url"}), "oidc_endpoint"),
        (
            serde_json::json!({"auth_mode": "oidc_auth", "oidc_endpoint": "https://id.example", "oidc_client_id": "b", "oidc_client_secret": "s", "oidc_scope": "profile"}),
            "oidc_scope",
        ),
    ] {
        let response = put(body.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["errors"][0]["code"], "BAD_REQUEST");
        assert!(error["errors"][0]["message"].as_str().unwrap().contains(names), "{error}");
    }
    // Harbor settings Berth has one value for are accepted with that value.
    let fixed =
        put(serde_json::json!({"oidc_auto_onboard": true, "oidc_logout": false, "ldap_group_search_scope": 2})).await;
    assert_eq!(fixed.status(), StatusCode::OK);
    // Nothing changed, and only administrators may look.
    assert_eq!(server.state.settings.sign_in_mode().await.unwrap().mode_name, "db_auth");
    server.create_user("carl", "carl-password-1").await;
    let as_carl = common::client_as("carl", "carl-password-1");
    assert_eq!(
        as_carl.get(server.url("/api/v2.0/configurations")).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let anonymous = reqwest::Client::new().get(server.url("/api/v2.0/configurations")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let wrong = common::client_as("admin", "wrong").get(server.url("/api/v2.0/configurations")).send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}

/// OIDC groups over REST: listed and added by administrators, and made
/// project members with Harbor's group member shape.
async fn oidc_groups_over_rest(backend: Backend) {
    let (server, _provider) = oidc_registry(backend).await;
    let (alice, _) = sign_in(&server.base, "alice").await;
    let secret = cli_secret(&alice, &server).await["cli_secret"].as_str().unwrap().to_owned();
    let admin = common::admin_client();
    let groups_url = server.url("/api/v2.0/usergroups");

    let groups: Vec<Value> = admin.get(&groups_url).send().await.unwrap().json().await.unwrap();
    let names: Vec<(&str, i64)> =
        groups.iter().map(|g| (g["group_name"].as_str().unwrap(), g["group_type"].as_i64().unwrap())).collect();
    assert_eq!(names, [("developers", 3)], "alice's sign-in brought her group");
    let created = admin.post(&groups_url).json(&serde_json::json!({"group_name": "qa", "group_type": 3})).send().await;
    let created = created.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let qa = server.url(created.headers()["location"].to_str().unwrap());
    let one: Value = admin.get(&qa).send().await.unwrap().json().await.unwrap();
    assert_eq!(one["group_name"], "qa");
    let bad = admin.post(&groups_url).json(&serde_json::json!({"group_name": "x", "group_type": 2})).send().await;
    assert_eq!(bad.unwrap().status(), StatusCode::BAD_REQUEST);
    let as_alice = common::client_as("alice", &secret);
    assert_eq!(as_alice.get(&groups_url).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(admin.delete(&qa).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(admin.get(&qa).send().await.unwrap().status(), StatusCode::NOT_FOUND);

    // Her group, made a developer of a project over REST, lets her push there.
    let created =
        admin.post(server.url("/api/v2.0/projects")).json(&serde_json::json!({"project_name": "team"})).send();
    assert_eq!(created.await.unwrap().status(), StatusCode::CREATED);
    let member = serde_json::json!({"role_id": 2, "member_group": {"group_name": "developers", "group_type": 3}});
    let added = admin.post(server.url("/api/v2.0/projects/team/members")).json(&member).send().await.unwrap();
    assert_eq!(added.status(), StatusCode::CREATED);
    let members: Vec<Value> =
        admin.get(server.url("/api/v2.0/projects/team/members")).send().await.unwrap().json().await.unwrap();
    assert!(members.iter().any(|m| m["entity_name"] == "developers" && m["entity_type"] == "g"), "{members:?}");
    assert_eq!(common::push_blob(&as_alice, &server, "team/app", b"from the group").await, StatusCode::CREATED);
    server.stop().await;
}

on_both_databases!(
    users_sign_in_and_use_their_cli_secret,
    the_callback_is_guarded,
    configurations_refuse_bad_input,
    oidc_groups_over_rest
);
