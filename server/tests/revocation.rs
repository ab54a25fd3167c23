//! Taking rights away takes them away on `/v2` too, within seconds, on
//! every node: a registry token lists what its holder could do when it was
//! issued, and each request also asks what the holder may do now. And a
//! project's audit log is the project's, not its name's.

mod common;

use std::time::{Duration, Instant};

use app::core::{
    events::AuditQuery,
    projects::{MemberRef, NewProject},
    rbac::Role,
};
use common::{Backend, TestServer};
use reqwest::{Client, StatusCode};
use serde_json::Value;

const PASSWORD: &str = "Member-Passw0rd";
/// What the issue asks: a change of rights reaches `/v2` within this long.
const REVOCATION_BOUND: Duration = Duration::from_secs(5);

/// A registry token for `username` (anonymous for `None`) with `scope`, from `server`'s token service.
async fn token(server: &TestServer, username: Option<&str>, scope: &str) -> String {
    let host = server.state.tokens.service();
    let client = username.map_or_else(Client::new, |username| common::client_as(username, PASSWORD));
    let response =
        client.get(server.url(&format!("/service/token?service={host}&scope={scope}"))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

#[derive(Clone, Copy, Debug)]
enum Request {
    /// Starting an upload: what a push does first.
    StartUpload,
    PullManifest,
}

async fn send(node: &TestServer, token: &str, request: Request) -> StatusCode {
    let client = Client::new();
    let request = match request {
        Request::StartUpload => client.post(node.url("/v2/team/app/blobs/uploads/")),
        Request::PullManifest => client
            .get(node.url("/v2/team/app/manifests/v1"))
            .header("accept", "application/vnd.oci.image.manifest.v1+json"),
    };
    request.bearer_auth(token).send().await.unwrap().status()
}

/// Polls every node until `request` answers `expected` on all of them;
/// returns how long that took, failing past [`REVOCATION_BOUND`] (plus a
/// second's grace for the polling itself).
async fn until(nodes: &[&TestServer], token: &str, request: Request, expected: StatusCode) -> Duration {
    let started = Instant::now();
    for node in nodes {
        loop {
            let status = send(node, token, request).await;
            if status == expected {
                break;
            }
            assert!(
                started.elapsed() < REVOCATION_BOUND + Duration::from_secs(1),
                "{request:?} on {} still answers {status} after {:?}",
                node.base,
                started.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    started.elapsed()
}

/// Two nodes on one database: a demotion, a removal and a deletion made
/// through one reach the other's `/v2` within the bound, for tokens issued
/// before the change.
async fn rights_taken_away_reach_every_node(backend: Backend) {
    let first = TestServer::start(backend).await;
    let second_dir = tempfile::tempdir().unwrap();
    let database_url = first.database.as_ref().unwrap().url.clone();
    // Nodes behind one load balancer share the address clients use, and so the token service's name.
    let shared_address = [("BERTH_EXTERNAL_URL", first.base.clone())];
    let second = TestServer::start_with(second_dir.path().to_owned(), &database_url, &shared_address).await;
    let nodes = [&first, &second];
    let admin = first.admin_actor().await;
    first.create_projects(&["team"]).await;
    common::push_empty_image(&common::admin_client(), &first, "team/app", "v1").await;
    let bob = first.create_user("bob", PASSWORD).await;
    let projects = &first.state.projects;
    projects.set_member(&admin, "team", MemberRef::User(bob.id), Role::Developer).await.unwrap();

    let push = token(&first, Some("bob"), "repository:team/app:pull,push").await;
    for node in nodes {
        assert_eq!(send(node, &push, Request::StartUpload).await, StatusCode::ACCEPTED, "{}", node.base);
        assert_eq!(send(node, &push, Request::PullManifest).await, StatusCode::OK);
    }

    // Demoted to guest: the token still lists push, but push is refused; pull is not.
    projects.set_member(&admin, "team", MemberRef::User(bob.id), Role::Guest).await.unwrap();
    let took = until(&nodes, &push, Request::StartUpload, StatusCode::FORBIDDEN).await;
    eprintln!("demotion reached both nodes in {took:?}");
    for node in nodes {
        assert_eq!(send(node, &push, Request::PullManifest).await, StatusCode::OK);
    }

    // Removed from the project: pull goes too.
    assert!(projects.remove_member(&admin, "team", MemberRef::User(bob.id)).await.unwrap());
    let took = until(&nodes, &push, Request::PullManifest, StatusCode::FORBIDDEN).await;
    eprintln!("removal reached both nodes in {took:?}");

    // Back as a developer with a fresh token, then the account is deleted.
    projects.set_member(&admin, "team", MemberRef::User(bob.id), Role::Developer).await.unwrap();
    let fresh = token(&second, Some("bob"), "repository:team/app:pull,push").await;
    for node in nodes {
        assert_eq!(send(node, &fresh, Request::StartUpload).await, StatusCode::ACCEPTED, "rights given count at once");
    }
    first.state.users.delete_user(&admin, bob.id).await.unwrap();
    let took = until(&nodes, &fresh, Request::StartUpload, StatusCode::FORBIDDEN).await;
    eprintln!("deletion reached both nodes in {took:?}");
    for node in nodes {
        assert_eq!(send(node, &fresh, Request::PullManifest).await, StatusCode::FORBIDDEN);
    }

    // Anonymous tokens too: a public project made private stops serving them.
    projects.set_public(&admin, "team", true).await.unwrap();
    let anonymous = token(&first, None, "repository:team/app:pull").await;
    // Refused while private (a no is never remembered), served at once when public.
    projects.set_public(&admin, "team", false).await.unwrap();
    assert_eq!(send(&first, &anonymous, Request::PullManifest).await, StatusCode::UNAUTHORIZED);
    projects.set_public(&admin, "team", true).await.unwrap();
    for node in nodes {
        assert_eq!(send(node, &anonymous, Request::PullManifest).await, StatusCode::OK);
    }
    projects.set_public(&admin, "team", false).await.unwrap();
    until(&nodes, &anonymous, Request::PullManifest, StatusCode::UNAUTHORIZED).await;

    second.stop().await;
    first.stop().await;
}

/// A project deleted and created again under its name starts with an empty
/// log: its predecessor's entries are not the new owner's to read.
async fn a_recreated_project_does_not_inherit_the_log(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin_actor().await;
    let projects = &server.state.projects;
    server.create_projects(&["team"]).await;
    let bob = server.create_user("bob", PASSWORD).await;
    projects.set_member(&admin, "team", MemberRef::User(bob.id), Role::Developer).await.unwrap();
    projects.delete(&admin, "team").await.unwrap();
    let carol = server.create_user("carol", PASSWORD).await;
    let carol = app::core::identity::Principal::User(carol);
    projects.create(&carol.clone().into(), NewProject::private("team")).await.unwrap();
    server.state.events.flush().await;

    let query = AuditQuery { project: Some("team"), ..AuditQuery::default() };
    let listed =
        server.state.audit.list(&carol.clone().into(), &query, app::core::db::Window::new(0, 100)).await.unwrap();
    let (entries, total) = (listed.items, listed.total);
    let seen: Vec<_> =
        entries.iter().map(|e| (e.operation.as_str(), e.resource_type.as_str(), e.actor.clone())).collect();
    assert_eq!(seen, [("create", "project", Some("carol".to_owned()))], "{entries:#?}");
    assert_eq!(total, 1);

    // The whole log still holds the first project's history, for administrators.
    let history = common::audit_log(&server, "resource_type=member").await;
    assert_eq!(history.len(), 1, "{history:#?}");
    server.stop().await;
}

on_both_databases!(a_recreated_project_does_not_inherit_the_log);

// Several nodes share PostgreSQL: one on SQLite is the only node, and keeps
// what it reads in memory knowing every change is its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rights_taken_away_reach_every_node_on_postgres() {
    common::within_time_limit(rights_taken_away_reach_every_node(Backend::Postgres)).await;
}
