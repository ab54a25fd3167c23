//! LDAP sign-in against a real OpenLDAP `slapd`, on SQLite and PostgreSQL:
//! search-then-bind with escaped filters, onboarding on first sign-in,
//! LDAP groups as project members, the administrators' group, the
//! "test connection" action, and the first administrator's way back in.

mod common;

use app::core::{
    Error,
    events::AuditQuery,
    identity::{Actor, Principal},
    projects::MemberRef,
    rbac::Role,
    settings::LoginSettings,
};
use common::{
    ADMIN_PASSWORD, Backend, TestServer,
    slapd::{ADMINS_DN, DEVELOPERS_DN, ODD_USERNAME, Slapd, person_dn},
};
use reqwest::StatusCode;
use serde_json::Value;

/// `docker login` as the token service sees it: credentials, no scope.
async fn docker_login(server: &TestServer, username: &str, password: &str) -> StatusCode {
    common::client_as(username, password).get(server.url("/service/token")).send().await.unwrap().status()
}

async fn push_blob(server: &TestServer, username: &str, password: &str, repo: &str) -> StatusCode {
    let content = format!("{username} was here");
    common::push_blob(&common::client_as(username, password), server, repo, content.as_bytes()).await
}

async fn directory_users_sign_in_and_are_onboarded(backend: Backend) {
    let slapd = Slapd::start().await;
    let server = TestServer::start(backend).await;
    server.create_user("localuser", "Local-Passw0rd").await;
    let admin = server.admin_actor().await;
    server.state.settings.set_login(&admin, &LoginSettings::Ldap(Box::new(slapd.settings()))).await.unwrap();

    assert_eq!(docker_login(&server, "alice", "alice-pass").await, StatusCode::OK);
    let alice = server.state.users.find("alice").await.unwrap().expect("onboarded on first sign-in");
    assert_eq!(alice.email.as_deref(), Some("alice@berth.test"));
    assert_eq!(alice.full_name, "Alice Liddell");
    assert!(!alice.is_admin);
    let v2 = common::client_as("alice", "alice-pass").get(server.url("/v2/")).send().await.unwrap();
    assert_eq!(v2.status(), StatusCode::OK, "the CLI password is the LDAP password");

    for (username, password, why) in [
        ("alice", "wrong", "a wrong password"),
        ("alice", "", "an empty password (an anonymous bind would succeed)"),
        ("nobody", "alice-pass", "an unknown user"),
        ("ali*", "alice-pass", "a wildcard must not match alice"),
        ("*", "alice-pass", "a lone wildcard"),
        ("alice)(uid=*", "alice-pass", "filter injection"),
        ("localuser", "Local-Passw0rd", "database accounts do not sign in in LDAP mode"),
    ] {
        assert_eq!(docker_login(&server, username, password).await, StatusCode::UNAUTHORIZED, "{why}");
    }
    // A username made of filter metacharacters is just a name.
    assert_eq!(docker_login(&server, ODD_USERNAME, "odd-pass").await, StatusCode::OK);
    assert!(server.state.users.find(ODD_USERNAME).await.unwrap().is_some());
    // The first administrator keeps its database password.
    assert_eq!(docker_login(&server, "admin", ADMIN_PASSWORD).await, StatusCode::OK);

    // The portal signs LDAP users in too.
    let portal = common::browser_like_client()
        .post(server.url("/portal/fn/login"))
        .header(reqwest::header::ACCEPT, "text/html")
        .form(&[("username", "alice"), ("password", "alice-pass"), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert!(portal.headers().get(reqwest::header::SET_COOKIE).is_some(), "{:?}", portal.status());

    // The audit log has both outcomes.
    server.state.events.flush().await;
    let query = AuditQuery { actor: Some("alice"), operation: Some("login"), ..Default::default() };
    let logins = server.state.audit.list(&admin, &query, app::core::db::Window::new(0, 20)).await.unwrap().items;
    let outcomes: Vec<&str> = logins.iter().map(|e| e.outcome.as_str()).collect();
    assert!(outcomes.contains(&"success") && outcomes.contains(&"failure"), "{outcomes:?}");
    server.stop().await;
}

async fn directory_groups_grant_access(backend: Backend) {
    let slapd = Slapd::start().await;
    let server = TestServer::start(backend).await;
    server.create_projects(&["team", "other"]).await;
    let admin = server.admin_actor().await;
    server.state.settings.set_login(&admin, &LoginSettings::Ldap(Box::new(slapd.settings()))).await.unwrap();

    // An LDAP group becomes a project member; its users get the role.
    let developers = server.state.auth.ldap_group(DEVELOPERS_DN).await.unwrap();
    server
        .state
        .projects
        .set_member(&server.admin_actor().await, "team", MemberRef::Group(developers), Role::Developer)
        .await
        .unwrap();
    let missing = server.state.auth.ldap_group("cn=ghosts,ou=groups,dc=berth,dc=test").await.unwrap_err();
    assert!(matches!(missing, Error::NotFound(_)), "{missing:?}");
    assert_eq!(push_blob(&server, "alice", "alice-pass", "team/app").await, StatusCode::CREATED);
    assert_eq!(push_blob(&server, ODD_USERNAME, "odd-pass", "team/app").await, StatusCode::CREATED);
    assert_eq!(push_blob(&server, "alice", "alice-pass", "other/app").await, StatusCode::FORBIDDEN);
    let members = server
        .state
        .projects
        .members(&server.admin_actor().await, "team", None, app::core::db::Window::new(0, 100))
        .await
        .unwrap()
        .items;
    assert!(members.iter().any(|m| m.name == DEVELOPERS_DN && m.role == Role::Developer), "{members:?}");

    // The administrators' group makes system administrators.
    assert_eq!(push_blob(&server, "bob", "bob-pass", "other/app").await, StatusCode::CREATED);
    let bob = server.state.users.find("bob").await.unwrap().unwrap();
    assert!(bob.is_admin);
    let catalog: Value = common::client_as("bob", "bob-pass")
        .get(server.url("/v2/_catalog"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(catalog["repositories"], serde_json::json!(["other/app", "team/app"]));
    assert_ne!(person_dn("bob"), ADMINS_DN);
    server.stop().await;
}

async fn only_administrators_change_and_test_login_settings(backend: Backend) {
    let slapd = Slapd::start().await;
    let server = TestServer::start(backend).await;
    let admin = server.admin_actor().await;
    let user: Actor = Principal::User(server.create_user("someone", "Member-Passw0rd").await).into();
    let settings = slapd.settings();

    server.state.auth.test_ldap(&admin, &settings).await.expect("the right settings connect");
    let wrong_password = app::core::settings::LdapSettings { search_password: "nope".into(), ..settings.clone() };
    let failed = server.state.auth.test_ldap(&admin, &wrong_password).await.unwrap_err();
    assert!(matches!(&failed, Error::IdentityProvider(message) if message.contains("search account")), "{failed:?}");
    let wrong_base =
        app::core::settings::LdapSettings { base_dn: "ou=nowhere,dc=berth,dc=test".into(), ..settings.clone() };
    assert!(matches!(server.state.auth.test_ldap(&admin, &wrong_base).await, Err(Error::IdentityProvider(_))));
    let unreachable = app::core::settings::LdapSettings { url: "ldap://127.0.0.1:1".into(), ..settings.clone() };
    assert!(matches!(server.state.auth.test_ldap(&admin, &unreachable).await, Err(Error::IdentityProvider(_))));
    let invalid = app::core::settings::LdapSettings { url: "http://directory".into(), ..settings.clone() };
    assert!(matches!(server.state.auth.test_ldap(&admin, &invalid).await, Err(Error::Invalid { .. })));
    assert!(matches!(server.state.auth.test_ldap(&user, &settings).await, Err(Error::Forbidden(_))));

    let ldap = LoginSettings::Ldap(Box::new(settings));
    assert!(matches!(server.state.settings.set_login(&user, &ldap).await, Err(Error::Forbidden(_))));
    let manage = app::core::access::require_system(&admin, app::core::rbac::SystemAction::ManageSettings).unwrap();
    assert_eq!(server.state.settings.login(&manage).await.unwrap(), LoginSettings::Database, "unchanged");
    server.state.settings.set_login(&admin, &ldap).await.unwrap();
    assert_eq!(server.state.settings.login(&manage).await.unwrap(), ldap);
    server.state.settings.set_login(&admin, &LoginSettings::Database).await.unwrap();
    assert_eq!(
        docker_login(&server, "alice", "alice-pass").await,
        StatusCode::UNAUTHORIZED,
        "back to database accounts"
    );
    assert_eq!(docker_login(&server, "someone", "Member-Passw0rd").await, StatusCode::OK);
    server.stop().await;
}

/// LDAPS and StartTLS: encrypted connections work, and a certificate that
/// does not verify is refused unless verification was turned off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directories_are_reached_over_ldaps_and_starttls() {
    common::within_time_limit(async {
        let slapd = Slapd::start_with_tls().await;
        let server = TestServer::start(Backend::Sqlite).await;
        let admin = server.admin_actor().await;
        let plain = slapd.settings();
        let ldaps = app::core::settings::LdapSettings {
            url: slapd.ldaps_url.clone().unwrap(),
            verify_certificate: false,
            ..plain.clone()
        };
        let start_tls =
            app::core::settings::LdapSettings { start_tls: true, verify_certificate: false, ..plain.clone() };
        for settings in [&ldaps, &start_tls] {
            server.state.auth.test_ldap(&admin, settings).await.unwrap_or_else(|e| panic!("{}: {e}", settings.url));
            server.state.settings.set_login(&admin, &LoginSettings::Ldap(Box::new(settings.clone()))).await.unwrap();
            assert_eq!(docker_login(&server, "alice", "alice-pass").await, StatusCode::OK, "{settings:?}");
        }
        // The self-signed certificate is not trusted when verification is on.
        for settings in [&ldaps, &start_tls] {
            let verifying = app::core::settings::LdapSettings { verify_certificate: true, ..settings.clone() };
            let refused = server.state.auth.test_ldap(&admin, &verifying).await.unwrap_err();
            assert!(matches!(refused, Error::IdentityProvider(_)), "{refused:?}");
        }
        let both = app::core::settings::LdapSettings { start_tls: true, ..ldaps.clone() };
        assert!(matches!(server.state.auth.test_ldap(&admin, &both).await, Err(Error::Invalid { .. })));
        server.stop().await;
    })
    .await;
}

on_both_databases!(
    directory_users_sign_in_and_are_onboarded,
    directory_groups_grant_access,
    only_administrators_change_and_test_login_settings,
);
