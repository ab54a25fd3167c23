//! The audit log over real HTTP, on SQLite and PostgreSQL: sign-ins through
//! the portal, the token service and `/v2` (successes and failures), robot
//! management and registry operations are recorded with who, what, from
//! where and the outcome; reading is filtered, paged and permission-checked;
//! retention prunes old entries.

mod common;

use app::core::{
    Error,
    db::{Page, Window},
    events::{AuditEvent, AuditQuery, Operation, ResourceType, StoredEvent},
    identity::{Actor, Principal, RobotPermission},
    projects::MemberRef,
    rbac::{Action, Role},
    registry::digest::Digest,
    robots::NewRobot,
};
use common::{ADMIN_PASSWORD, Backend, TestServer};
use reqwest::{StatusCode, header};

async fn admin(server: &TestServer) -> Actor {
    Principal::User(server.state.users.find("admin").await.unwrap().unwrap()).into()
}

async fn entries(server: &TestServer, query: AuditQuery<'_>) -> (Vec<StoredEvent>, i64) {
    server.state.events.flush().await;
    let page = server.state.audit.list(&admin(server).await, &query, Window::new(0, 100)).await.unwrap();
    (page.items, page.total)
}

/// (operation, resource, actor, outcome) of each entry, newest first.
fn summary(events: &[StoredEvent]) -> Vec<(String, String, Option<String>, String)> {
    events.iter().map(|e| (e.operation.clone(), e.resource.clone(), e.actor.clone(), e.outcome.clone())).collect()
}

fn row(operation: &str, resource: &str, actor: &str, outcome: &str) -> (String, String, Option<String>, String) {
    (operation.to_owned(), resource.to_owned(), Some(actor.to_owned()), outcome.to_owned())
}

async fn sign_ins_are_recorded_with_their_outcome(backend: Backend) {
    let server = TestServer::start(backend).await;
    let portal = |password: &'static str| {
        let url = server.url("/portal/fn/login");
        async move {
            common::browser_like_client()
                .post(url)
                .header(header::ACCEPT, "text/html")
                .form(&[("username", "admin"), ("password", password), ("next", "/")])
                .send()
                .await
                .unwrap()
        }
    };
    portal(ADMIN_PASSWORD).await;
    portal("wrong-password").await;
    // `docker login`: credentials, no scope; then a wrong password there and on /v2.
    let ok = common::admin_client().get(server.url("/service/token?service=x&account=admin")).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::BAD_REQUEST, "another service name is refused before signing in");
    let ok = common::admin_client().get(server.url("/service/token?account=admin")).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let bad = common::client_as("admin", "nope").get(server.url("/service/token")).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let bad = common::client_as("ghost", "nope").get(server.url("/v2/")).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);

    let (events, total) = entries(&server, AuditQuery { operation: Some("login"), ..Default::default() }).await;
    assert_eq!(
        summary(&events),
        [
            row("login", "ghost", "ghost", "failure"),
            row("login", "admin", "admin", "failure"),
            row("login", "admin", "admin", "success"),
            row("login", "admin", "admin", "failure"),
            row("login", "admin", "admin", "success"),
        ]
    );
    assert_eq!(total, 5);
    let details: Vec<&str> = events.iter().map(|e| e.detail.as_deref().unwrap()).collect();
    assert!(details[0].starts_with("registry API"), "{details:?}");
    assert!(details[1].starts_with("token service"), "{details:?}");
    assert_eq!(details[2], "token service");
    assert!(details[3].starts_with("portal"), "{details:?}");
    assert_eq!(details[4], "portal");
    assert!(events.iter().all(|e| e.client_addr.as_deref() == Some("127.0.0.1") && e.resource_type == "session"));
    server.stop().await;
}

async fn robot_changes_and_registry_operations_are_recorded(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team", "other"]).await;
    let admin: Actor = Actor { client_addr: Some("192.0.2.7".into()), ..admin(&server).await };
    let created = server
        .state
        .robots
        .create(
            &admin,
            NewRobot {
                name: "ci",
                description: "",
                project: Some("team"),
                expires_in_days: None,
                permissions: vec![RobotPermission {
                    project: Some("team".into()),
                    actions: vec![Action::Pull, Action::Push],
                }],
            },
        )
        .await
        .unwrap();
    server.state.robots.set_disabled(&admin, "robot$team+ci", true).await.unwrap();
    server.state.robots.set_disabled(&admin, "robot$team+ci", false).await.unwrap();
    let secret = server.state.robots.refresh_secret(&admin, "robot$team+ci").await.unwrap();
    assert_ne!(secret, created.secret);

    // The robot pushes a blob and an image manifest, pulls it, and is refused a delete.
    let robot = common::client_as("robot$team+ci", &secret);
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let config_digest = Digest::sha256_of(config);
    let pushed = robot
        .post(server.url(&format!("/v2/team/app/blobs/uploads/?digest={config_digest}")))
        .body(config.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), StatusCode::CREATED);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config.len()},
        "layers": [],
    }))
    .unwrap();
    let put = robot
        .put(server.url("/v2/team/app/manifests/v1"))
        .header(header::CONTENT_TYPE, "application/vnd.oci.image.manifest.v1+json")
        .body(manifest)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::CREATED);
    assert_eq!(robot.get(server.url("/v2/team/app/manifests/v1")).send().await.unwrap().status(), StatusCode::OK);

    let (events, _) = entries(&server, AuditQuery { project: Some("team"), ..Default::default() }).await;
    assert_eq!(
        summary(&events),
        [
            row("pull", "team/app:v1", "robot$team+ci", "success"),
            row("push", "team/app:v1", "robot$team+ci", "success"),
            row("update", "robot$team+ci", "admin", "success"),
            row("update", "robot$team+ci", "admin", "success"),
            row("update", "robot$team+ci", "admin", "success"),
            row("create", "robot$team+ci", "admin", "success"),
            row("create", "team", "admin", "success"),
        ]
    );
    let robot_events: Vec<_> = events.iter().filter(|e| e.resource_type == "robot").collect();
    assert!(robot_events.iter().all(|e| e.client_addr.as_deref() == Some("192.0.2.7")));
    let details: Vec<_> = robot_events.iter().map(|e| e.detail.as_deref()).collect();
    assert_eq!(details, [Some("secret refreshed"), Some("enabled"), Some("disabled"), None]);

    // Filters: by actor, operation and time; pages report the full count.
    let (mine, total) = entries(&server, AuditQuery { actor: Some("robot$team+ci"), ..Default::default() }).await;
    assert_eq!((mine.len(), total), (2, 2));
    let Page { items: page, total, .. } = server
        .state
        .audit
        .list(
            &admin,
            &AuditQuery { project: Some("team"), operation: Some("update"), ..Default::default() },
            Window::new(1, 1),
        )
        .await
        .unwrap();
    assert_eq!((page.len(), total), (1, 3));
    assert_eq!(page[0].detail.as_deref(), Some("enabled"));
    let future = chrono::Utc::now() + chrono::Duration::hours(1);
    let (none, _) = entries(&server, AuditQuery { since: Some(future), ..Default::default() }).await;
    assert!(none.is_empty());

    // A dry run counts what retention would remove and removes nothing.
    assert_eq!(server.state.audit.purge_before(future, &[], true).await.unwrap(), 9);
    assert_eq!(entries(&server, AuditQuery::default()).await.1, 9);
    // Retention removes what is older than the cutoff, and only that.
    let removed = server.state.audit.purge_before(future, &[], false).await.unwrap();
    assert_eq!(
        removed, 9,
        "the first administrator, two projects created, a robot created and changed three times, a push and a pull"
    );
    let (left, _) = entries(&server, AuditQuery::default()).await;
    assert!(left.is_empty(), "{left:?}");
    server.stop().await;
}

async fn reading_the_log_needs_read_logs(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    let mut readers = Vec::new();
    for (name, role) in [("guest", Some(Role::Guest)), ("limited", Some(Role::LimitedGuest)), ("outsider", None)] {
        let user = server.create_user(name, "Member-Passw0rd").await;
        if let Some(role) = role {
            server
                .state
                .projects
                .set_member(&server.admin_actor().await, "team", MemberRef::User(user.id), role)
                .await
                .unwrap();
        }
        readers.push(Actor::from(Principal::User(user)));
    }
    let team = AuditQuery { project: Some("team"), ..Default::default() };
    let ten = Window::new(0, 10);
    assert!(server.state.audit.list(&readers[0], &team, ten).await.is_ok(), "a guest reads the project's log");
    for reader in &readers[1..] {
        let refused = server.state.audit.list(reader, &team, ten).await.unwrap_err();
        assert!(matches!(refused, Error::Forbidden(_)), "{reader:?}: {refused:?}");
    }
    let everything = AuditQuery::default();
    assert!(matches!(server.state.audit.list(&readers[0], &everything, ten).await, Err(Error::Forbidden(_))));
    assert!(server.state.audit.list(&admin(&server).await, &everything, ten).await.is_ok());
    server.stop().await;
}

/// The recorder writes what it queued in one transaction: each entry still
/// belongs to the project its name names when it is written (by id), or to
/// none when no project has that name.
async fn a_batch_of_entries_finds_each_entry_its_project(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team", "other"]).await;
    let entry = |resource: &str, project: Option<&str>| {
        AuditEvent::named(Operation::Pull, ResourceType::Artifact, resource, None, Some("192.0.2.9"))
            .in_project(project)
    };
    server.state.events.flush().await;
    for (resource, project) in [
        ("team/a:1", Some("team")),
        ("other/b:1", Some("other")),
        ("gone/c:1", Some("gone")),
        ("team/a:2", Some("team")),
    ] {
        server.state.events.record(entry(resource, project)).await;
    }
    server.state.events.record(entry("alice", None)).await;
    server.state.events.flush().await;

    const SQL: &str = "SELECT a.resource, a.project_id, p.id FROM audit_log a LEFT JOIN projects p ON p.name = a.project \
         WHERE a.client_addr = '192.0.2.9' ORDER BY a.resource";
    let rows: Vec<(String, Option<i64>, Option<i64>)> =
        app::on_db!(&server.state.db, pool => sqlx::query_as(SQL).fetch_all(pool).await).unwrap();
    let resources: Vec<&str> = rows.iter().map(|(resource, ..)| resource.as_str()).collect();
    assert_eq!(resources, ["alice", "gone/c:1", "other/b:1", "team/a:1", "team/a:2"]);
    for (resource, written, project) in &rows {
        assert_eq!(written, project, "{resource}: the id written is that of the project of its name");
        assert_eq!(written.is_some(), ["other", "team"].iter().any(|p| resource.starts_with(p)), "{resource}");
    }
    let (team, _) = entries(&server, AuditQuery { project: Some("team"), ..Default::default() }).await;
    assert_eq!(team.iter().filter(|e| e.operation == "pull").count(), 2);
    server.stop().await;
}

/// Batches of any size are written whole, each row with its own values:
/// the writer splits them over INSERT statements of a few fixed sizes, in a
/// transaction that another connection's writes meanwhile do not fail.
async fn a_batch_of_any_size_is_written_whole(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    let other_writes = tokio::spawn({
        let db = server.state.db.clone();
        async move {
            const SQL: &str = "INSERT INTO audit_log (occurred_at, operation, resource_type, resource, outcome) \
                 VALUES ($1, 'pull', 'artifact', 'team/other:1', 'success')";
            loop {
                app::on_db!(&db, pool => sqlx::query(SQL).bind(chrono::Utc::now()).execute(pool).await.map(|_| ()))
                    .unwrap();
                tokio::task::yield_now().await;
            }
        }
    });
    // One row, sizes just around the largest statement, one needing every
    // shape, and more than the writer takes in one batch.
    for count in [1_usize, 127, 128, 129, 255, 600] {
        server.state.events.flush().await;
        for index in 0..count {
            let mut event = AuditEvent::named(
                Operation::Pull,
                ResourceType::Artifact,
                format!("team/bulk-{count}:{index}"),
                None,
                Some("192.0.2.77"),
            )
            .in_project(Some("team"));
            event.size = Some(index as i64);
            server.state.events.record(event).await;
        }
        server.state.events.flush().await;
        const SQL: &str =
            "SELECT resource, size, project_id FROM audit_log WHERE client_addr = '192.0.2.77' AND resource LIKE $1";
        let rows: Vec<(String, Option<i64>, Option<i64>)> = app::on_db!(&server.state.db, pool => {
            sqlx::query_as(SQL).bind(format!("team/bulk-{count}:%")).fetch_all(pool).await
        })
        .unwrap();
        assert_eq!(rows.len(), count, "every one of {count} entries is written once");
        let mut sizes: Vec<i64> = rows
            .iter()
            .map(|(resource, size, project_id)| {
                assert!(project_id.is_some(), "{resource} belongs to its project");
                assert_eq!(resource, &format!("team/bulk-{count}:{}", size.unwrap()), "each row keeps its own values");
                size.unwrap()
            })
            .collect();
        sizes.sort_unstable();
        assert_eq!(sizes, (0..count as i64).collect::<Vec<_>>());
    }
    other_writes.abort();
    server.stop().await;
}

on_both_databases!(
    sign_ins_are_recorded_with_their_outcome,
    robot_changes_and_registry_operations_are_recorded,
    reading_the_log_needs_read_logs,
    a_batch_of_entries_finds_each_entry_its_project,
    a_batch_of_any_size_is_written_whole,
);
