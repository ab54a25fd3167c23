//! A change of state and its audit row commit together: the row is there
//! as soon as the change answered (no batch to wait for, none to lose in a
//! crash), and when the row cannot be written the change does not happen.

mod common;

use app::core::{
    identity::RobotPermission,
    projects::{MemberRef, NewProject},
    rbac::{Action, Role},
    robots::NewRobot,
};
use common::{Backend, TestServer};
use reqwest::StatusCode;

/// Makes the database refuse every new audit row (a trigger), or lifts that.
async fn refuse_audit_rows(server: &TestServer, backend: Backend, refuse: bool) {
    let statements: &[&str] = match (backend, refuse) {
        (Backend::Sqlite, true) => {
            &["CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit refused'); END"]
        }
        (Backend::Sqlite, false) => &["DROP TRIGGER refuse_audit"],
        (Backend::Postgres, true) => &[
            "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$",
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
        ],
        (Backend::Postgres, false) => &["DROP TRIGGER refuse_audit ON audit_log", "DROP FUNCTION refuse_audit()"],
    };
    for statement in statements {
        app::on_db!(&server.state.db, pool => sqlx::query(statement).execute(pool).await.map(|_| ())).unwrap();
    }
}

/// Audit rows of changes. Pulls are recorded by the event batch writer,
/// whenever it next writes, so they are left out of the counts.
const CHANGES: &str = "SELECT COUNT(*) FROM audit_log WHERE operation <> 'pull'";

async fn count(server: &TestServer, sql: &str) -> i64 {
    app::on_db!(&server.state.db, pool => sqlx::query_scalar(sql).fetch_one(pool).await).unwrap()
}

async fn manifest_status(server: &TestServer, tag: &str) -> StatusCode {
    common::admin_client()
        .get(server.url(&format!("/v2/team/app/manifests/{tag}")))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap()
        .status()
}

async fn changes_and_their_audit_rows_commit_together(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin_actor().await;
    server.create_projects(&["team"]).await;
    let client = common::admin_client();
    common::push_empty_image(&client, &server, "team/app", "v1").await;
    // No flush: the row committed with the push.
    assert_eq!(count(&server, "SELECT COUNT(*) FROM audit_log WHERE operation = 'push' AND tag = 'v1'").await, 1);
    assert_eq!(count(&server, "SELECT COUNT(*) FROM audit_log WHERE resource_type = 'project'").await, 1);
    let bob = server.create_user("bob", "Bob-Passw0rd").await;
    let before = count(&server, CHANGES).await;

    refuse_audit_rows(&server, backend, true).await;
    // Registry: a tag push and a tag deletion fail whole.
    let manifest = client.get(server.url("/v2/team/app/manifests/v1")).send().await.unwrap().bytes().await.unwrap();
    let pushed = client
        .put(server.url("/v2/team/app/manifests/v2"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send()
        .await
        .unwrap();
    assert!(pushed.status().is_server_error(), "{}", pushed.status());
    assert_eq!(manifest_status(&server, "v2").await, StatusCode::NOT_FOUND);
    let deleted = client.delete(server.url("/v2/team/app/manifests/v1")).send().await.unwrap();
    assert!(deleted.status().is_server_error(), "{}", deleted.status());
    assert_eq!(manifest_status(&server, "v1").await, StatusCode::OK);

    // Projects, members, robots, users, settings: refused, unchanged.
    let state = &server.state;
    assert!(state.projects.create(&admin, NewProject::private("other")).await.is_err());
    assert!(state.projects.find("other").await.unwrap().is_none());
    assert!(state.projects.set_member(&admin, "team", MemberRef::User(bob.id), Role::Developer).await.is_err());
    assert_eq!(
        state.projects.members(&admin, "team", None, app::core::db::Window::new(0, 100)).await.unwrap().items.len(),
        1,
        "only the creator"
    );
    let robot = NewRobot {
        name: "ci",
        description: "",
        project: Some("team"),
        expires_in_days: None,
        permissions: vec![RobotPermission { project: Some("team".into()), actions: vec![Action::Pull] }],
    };
    assert!(state.robots.create(&admin, robot.clone()).await.is_err());
    assert_eq!(count(&server, "SELECT COUNT(*) FROM robots").await, 0);
    assert!(state.users.delete_user(&admin, bob.id).await.is_err());
    assert!(state.users.find("bob").await.unwrap().is_some());
    let settings = app::core::access::require_system(&admin, app::core::rbac::SystemAction::ManageSettings).unwrap();
    let registration = state.settings.self_registration_setting(&settings).await.unwrap();
    assert!(state.settings.set_self_registration(&admin, !registration).await.is_err());
    assert_eq!(state.settings.self_registration_setting(&settings).await.unwrap(), registration);
    assert_eq!(count(&server, CHANGES).await, before);

    // Once rows can be written again, so can changes, each with its row.
    refuse_audit_rows(&server, backend, false).await;
    let pushed = client
        .put(server.url("/v2/team/app/manifests/v2"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest)
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), StatusCode::CREATED);
    state.robots.create(&admin, robot).await.unwrap();
    state.users.delete_user(&admin, bob.id).await.unwrap();
    assert_eq!(count(&server, CHANGES).await, before + 3);
    server.stop().await;
}

on_both_databases!(changes_and_their_audit_rows_commit_together);
