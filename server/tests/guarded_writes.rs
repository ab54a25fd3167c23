//! A check and the write it guards happen in one transaction, and a
//! refusal leaves nothing behind. Each test makes the race happen on
//! purpose (a trigger acting inside the write, a second node's view of
//! the settings, a tag moved after it was looked at) and checks that the
//! write either happens whole or not at all.

mod common;

use app::core::{
    Error,
    access::require_system,
    identity::RobotPermission,
    rbac::{Action, SystemAction},
    registry::{digest::Digest, names::RepoName},
    robots::NewRobot,
    settings::{LdapSettings, LoginSettings, SettingsService},
};
use common::{Backend, TestServer};
use reqwest::StatusCode;

async fn count(server: &TestServer, sql: &str) -> i64 {
    app::on_db!(&server.state.db, pool => sqlx::query_scalar(sql).fetch_one(pool).await).unwrap()
}

async fn execute(server: &TestServer, statements: &[&str]) {
    for statement in statements {
        app::on_db!(&server.state.db, pool => sqlx::query(statement).execute(pool).await.map(|_| ())).unwrap();
    }
}

/// A trigger that deletes the project `doomed` just before a row goes into
/// `table`, inside the writing transaction: the project vanishes between
/// the robot service's permission check and its write.
async fn delete_project_before_insert_into(server: &TestServer, backend: Backend, table: &str) {
    // A trigger of its own per table: one left from the other step cannot clash.
    let statements = match backend {
        Backend::Sqlite => vec![format!(
            "CREATE TRIGGER doom_{table} BEFORE INSERT ON {table} BEGIN DELETE FROM projects WHERE name = 'doomed'; END"
        )],
        Backend::Postgres => vec![
            format!(
                "CREATE FUNCTION doom_{table}() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN DELETE FROM projects WHERE name = 'doomed'; RETURN NEW; END $$"
            ),
            format!(
                "CREATE TRIGGER doom_{table} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION doom_{table}()"
            ),
        ],
    };
    execute(server, &statements.iter().map(String::as_str).collect::<Vec<_>>()).await;
}

async fn drop_doom(server: &TestServer, backend: Backend, table: &str) {
    let statements = match backend {
        Backend::Sqlite => vec![format!("DROP TRIGGER IF EXISTS doom_{table}")],
        Backend::Postgres => {
            vec![
                format!("DROP TRIGGER IF EXISTS doom_{table} ON {table}"),
                format!("DROP FUNCTION IF EXISTS doom_{table}()"),
            ]
        }
    };
    execute(server, &statements.iter().map(String::as_str).collect::<Vec<_>>()).await;
}

async fn robots_for_a_project_deleted_meanwhile_are_not_made(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin_actor().await;
    server.create_projects(&["doomed", "team"]).await;
    let audit_rows = "SELECT COUNT(*) FROM audit_log WHERE resource_type = 'robot'";

    // The project goes while the robot is written: the robot must not
    // become a system robot with no permissions.
    delete_project_before_insert_into(&server, backend, "robots").await;
    let robot = NewRobot {
        name: "ci",
        description: "",
        project: Some("doomed"),
        expires_in_days: None,
        permissions: vec![RobotPermission { project: Some("doomed".into()), actions: vec![Action::Pull] }],
    };
    let refused = server.state.robots.create(&admin, robot).await;
    assert!(matches!(&refused, Err(Error::NotFound(what)) if what == "project doomed"), "{refused:?}");
    drop_doom(&server, backend, "robots").await;
    assert_eq!(count(&server, "SELECT COUNT(*) FROM robots").await, 0);
    assert_eq!(count(&server, "SELECT COUNT(*) FROM robot_permissions").await, 0);
    assert_eq!(count(&server, audit_rows).await, 0, "no audit row for a robot that was not made");
    assert_eq!(count(&server, "SELECT COUNT(*) FROM projects WHERE name = 'doomed'").await, 1, "rolled back whole");

    // A system robot granted in a project that goes while its permissions
    // are written: nothing of it stays.
    delete_project_before_insert_into(&server, backend, "robot_permissions").await;
    let robot = NewRobot {
        name: "everywhere",
        description: "",
        project: None,
        expires_in_days: None,
        permissions: vec![
            RobotPermission { project: Some("team".into()), actions: vec![Action::Pull] },
            RobotPermission { project: Some("doomed".into()), actions: vec![Action::Pull] },
        ],
    };
    let refused = server.state.robots.create(&admin, robot).await;
    assert!(matches!(&refused, Err(Error::NotFound(_))), "{refused:?}");
    drop_doom(&server, backend, "robot_permissions").await;
    assert_eq!(count(&server, "SELECT COUNT(*) FROM robots").await, 0);
    assert_eq!(count(&server, audit_rows).await, 0);
}

#[tokio::test]
async fn robots_for_a_project_deleted_meanwhile_are_not_made_sqlite() {
    robots_for_a_project_deleted_meanwhile_are_not_made(Backend::Sqlite).await;
}

#[tokio::test]
async fn robots_for_a_project_deleted_meanwhile_are_not_made_postgres() {
    robots_for_a_project_deleted_meanwhile_are_not_made(Backend::Postgres).await;
}

async fn a_password_changed_meanwhile_is_not_overwritten(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin_actor().await;
    let bob = server.create_user("bob", "bob-password-1").await;
    let users = app::core::users::UserRepository::new(server.state.db.clone());
    let event = app::core::users::user_event(&admin, app::core::events::Operation::Update, &bob.username, None);
    let stored = "SELECT password_hash FROM users WHERE username = 'bob'";
    let before: String =
        app::on_db!(&server.state.db, pool => sqlx::query_scalar(stored).fetch_one(pool).await).unwrap();
    let audit_rows = "SELECT COUNT(*) FROM audit_log WHERE resource_type = 'user' AND operation = 'update'";
    let audited = count(&server, audit_rows).await;

    // Checked against a hash that is no longer stored: nothing changes.
    let changed = users.set_password_hash(
        bob.id,
        "new-hash",
        Some("a-hash-replaced-meanwhile"),
        chrono::Utc::now(),
        false,
        &event,
    );
    assert!(!changed.await.unwrap());
    let after: String =
        app::on_db!(&server.state.db, pool => sqlx::query_scalar(stored).fetch_one(pool).await).unwrap();
    assert_eq!(after, before);
    assert_eq!(count(&server, audit_rows).await, audited, "no audit row for a change that did not happen");

    // Checked against the stored hash: it changes, with its audit row.
    assert!(
        users.set_password_hash(bob.id, "new-hash", Some(&before), chrono::Utc::now(), false, &event).await.unwrap()
    );
    assert_eq!(count(&server, audit_rows).await, audited + 1);
}

#[tokio::test]
async fn a_password_changed_meanwhile_is_not_overwritten_sqlite() {
    a_password_changed_meanwhile_is_not_overwritten(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_password_changed_meanwhile_is_not_overwritten_postgres() {
    a_password_changed_meanwhile_is_not_overwritten(Backend::Postgres).await;
}

fn ldap(base_dn: &str) -> LdapSettings {
    LdapSettings { url: "ldap://127.0.0.1:1".into(), base_dn: base_dn.into(), ..LdapSettings::default() }
}

/// Saved LDAP settings apply at once when LDAP is the mode in force, also
/// when this node's cache still says otherwise (another node just switched).
async fn saved_settings_follow_the_mode_stored_not_the_cache(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin_actor().await;
    let manage = require_system(&admin, SystemAction::ManageSettings).unwrap();
    let this_node = SettingsService::new(server.state.db.clone());
    let other_node = SettingsService::new(server.state.db.clone());
    assert_eq!(this_node.login(&manage).await.unwrap(), LoginSettings::Database, "cached here");

    other_node.set_login(&admin, &LoginSettings::Ldap(Box::new(ldap("dc=first")))).await.unwrap();
    this_node.save_ldap(&admin, ldap("dc=second")).await.unwrap();

    let fresh = SettingsService::new(server.state.db.clone());
    assert_eq!(fresh.login(&manage).await.unwrap(), LoginSettings::Ldap(Box::new(ldap("dc=second"))));
    assert_eq!(fresh.saved_ldap(&manage).await.unwrap(), ldap("dc=second"));
    let details =
        "SELECT COUNT(*) FROM audit_log WHERE resource_type = 'settings' AND detail = 'login mode: ldap_auth'";
    assert_eq!(count(&server, details).await, 2, "the switch, then the change that applied at once");

    // Several settings in one change: all of them, or (a bad one) none.
    let invalid = app::core::settings::SettingsChange {
        self_registration: Some(true),
        ldap: Some(LdapSettings { url: "http://not-a-directory".into(), ..ldap("dc=third") }),
        ..Default::default()
    };
    assert!(matches!(fresh.update(&admin, invalid).await, Err(Error::Invalid { .. })));
    assert!(!fresh.self_registration_setting(&manage).await.unwrap(), "nothing of the refused change applied");
    assert_eq!(fresh.saved_ldap(&manage).await.unwrap(), ldap("dc=second"));
}

#[tokio::test]
async fn saved_settings_follow_the_mode_stored_not_the_cache_sqlite() {
    saved_settings_follow_the_mode_stored_not_the_cache(Backend::Sqlite).await;
}

#[tokio::test]
async fn saved_settings_follow_the_mode_stored_not_the_cache_postgres() {
    saved_settings_follow_the_mode_stored_not_the_cache(Backend::Postgres).await;
}

/// Removing a tag from an artifact leaves it alone once it names another
/// artifact; adding a tag never moves one that exists.
async fn tags_change_only_where_they_were_seen(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin_actor().await;
    server.create_projects(&["team"]).await;
    let client = common::admin_client();
    let (first, _) = common::push_image(&client, &server, "team/app", "v1", b"first layer").await;
    let (second, _) = common::push_image(&client, &server, "team/app", "v2", b"second layer").await;
    let grant = server.state.access.require(&admin, "team", Action::ManageTags).await.unwrap();
    let repository = RepoName::parse("team/app", "127.0.0.1").unwrap();
    let first: Digest = first.parse().unwrap();
    let second: Digest = second.parse().unwrap();
    let tag = |name: &str| app::core::registry::names::Tag::parse(name).unwrap();

    // v2 names the second image: untagging it from the first changes nothing.
    let refused = server.state.registry.untag(&repository, &tag("v2"), &first, &grant).await;
    assert!(matches!(refused, Err(app::core::registry::Error::ManifestUnknown)), "{refused:?}");
    assert_eq!(tagged(&server, "v2").await, Some(second.to_string()));
    server.state.registry.untag(&repository, &tag("v2"), &second, &grant).await.unwrap();
    assert_eq!(tagged(&server, "v2").await, None);

    // v1 exists: adding it to the second image is refused and moves nothing.
    let v1 = app::core::registry::names::Reference::parse("v1").unwrap();
    let refused = server.state.registry.add_tag(&repository, &v1, &second, &grant).await;
    assert!(matches!(refused, Err(app::core::registry::Error::TagExists { .. })), "{refused:?}");
    assert_eq!(tagged(&server, "v1").await, Some(first.to_string()));
}

async fn tagged(server: &TestServer, tag: &str) -> Option<String> {
    let response = common::admin_client()
        .head(server.url(&format!("/v2/team/app/manifests/{tag}")))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    (response.status() == StatusCode::OK)
        .then(|| response.headers()["docker-content-digest"].to_str().unwrap().to_owned())
}

#[tokio::test]
async fn tags_change_only_where_they_were_seen_sqlite() {
    tags_change_only_where_they_were_seen(Backend::Sqlite).await;
}

#[tokio::test]
async fn tags_change_only_where_they_were_seen_postgres() {
    tags_change_only_where_they_were_seen(Backend::Postgres).await;
}

/// A manifest that names nothing (an empty index) creates its repository;
/// refused over the quota, it leaves no empty repository behind.
async fn a_refused_first_manifest_leaves_no_repository(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin_actor().await;
    server.create_projects(&["team"]).await;
    server.state.projects.set_storage_quota(&admin, "team", Some(16)).await.unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [],
    })
    .to_string();
    assert!(index.len() > 16);
    let response = common::admin_client()
        .put(server.url("/v2/team/empty/manifests/v1"))
        .header("content-type", "application/vnd.oci.image.index.v1+json")
        .body(index)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "DENIED");
    assert_eq!(count(&server, "SELECT COUNT(*) FROM repositories").await, 0, "no repository only the refusal made");
}

#[tokio::test]
async fn a_refused_first_manifest_leaves_no_repository_sqlite() {
    a_refused_first_manifest_leaves_no_repository(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_refused_first_manifest_leaves_no_repository_postgres() {
    a_refused_first_manifest_leaves_no_repository(Backend::Postgres).await;
}
