//! The storage a project uses and the artifacts a repository lists are
//! counters the database keeps with every write, not sums taken per page:
//! after each way content comes and goes (push, shared layers, mount, index,
//! manifest and blob deletes, repository deletes, abandoned-push cleanup
//! across projects, a refused push, project deletion) each counter equals the sum of what is
//! held, on SQLite and PostgreSQL, and the REST API reports it. And they
//! still do after clients push images sharing layers into two repositories
//! of a project while one of them is deleted again and again and stale
//! links are collected, with no request failing on the database's locks.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use app::core::{gc::GcRepository, registry::digest::Digest};
use chrono::Utc;
use common::{
    Backend, TestServer,
    traffic::{self, Halt, Pusher, Rng},
    usage::assert_counted,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The usage `assert_counted` found for `project`.
fn usage_of(server_usage: &[(i64, i64)], project: i64) -> i64 {
    server_usage.iter().find(|(id, _)| *id == project).map(|(_, bytes)| *bytes).expect("the project is counted")
}

/// What `project` uses, once every counter is checked against the sums.
async fn counted_usage(server: &TestServer, project: i64) -> i64 {
    usage_of(&assert_counted(&server.state.db).await, project)
}

async fn project_id(server: &TestServer, name: &str) -> i64 {
    server.state.projects.find(name).await.unwrap().expect("the project exists").id.0
}

/// What Harbor's `/quotas` reports the project uses.
async fn reported(server: &TestServer, client: &reqwest::Client, project: i64) -> i64 {
    let quota: Value =
        client.get(server.url(&format!("/api/v2.0/quotas/{project}"))).send().await.unwrap().json().await.unwrap();
    quota["used"]["storage"].as_i64().unwrap()
}

async fn every_write_path_keeps_the_counter(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = common::admin_client();
    server.create_projects(&["team", "other"]).await;
    let (team, other) = (project_id(&server, "team").await, project_id(&server, "other").await);
    let layer = vec![7u8; 3000];
    let second_layer = vec![9u8; 500];

    // One image, then the same image in a second repository: its blobs count once.
    let (image, image_bytes) = common::push_image(&client, &server, "team/a", "v1", &layer).await;
    assert_eq!(counted_usage(&server, team).await, image_bytes);
    common::push_image(&client, &server, "team/b", "v1", &layer).await;
    let manifest = client.get(server.url("/v2/team/a/manifests/v1")).send().await.unwrap().bytes().await.unwrap();
    let manifest_size = manifest.len() as i64;
    let used = counted_usage(&server, team).await;
    assert_eq!(used, image_bytes + manifest_size, "the second repository adds only its manifest");
    assert_eq!(reported(&server, &client, team).await, used);
    // Pushed again (same blobs, same manifest under another tag): nothing new to count.
    common::push_image(&client, &server, "team/a", "v2", &layer).await;
    assert_eq!(counted_usage(&server, team).await, used);

    // A mount into another project counts there.
    assert_eq!(common::push_blob(&client, &server, "team/a", &second_layer).await, StatusCode::CREATED);
    let second_digest = Digest::sha256_of(&second_layer);
    let mount = format!("/v2/other/c/blobs/uploads/?mount={second_digest}&from=team/a");
    assert_eq!(client.post(server.url(&mount)).send().await.unwrap().status(), StatusCode::CREATED);
    let usage = assert_counted(&server.state.db).await;
    assert_eq!(usage_of(&usage, other), second_layer.len() as i64);
    assert_eq!(usage_of(&usage, team), used + second_layer.len() as i64);

    // An index over the image, then deleted again.
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": image, "size": manifest_size}],
    })
    .to_string();
    let pushed = client
        .put(server.url("/v2/team/a/manifests/all"))
        .header("content-type", "application/vnd.oci.image.index.v1+json")
        .body(index.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), StatusCode::CREATED);
    let with_index = counted_usage(&server, team).await;
    assert_eq!(with_index, used + second_layer.len() as i64 + index.len() as i64);
    // The index is listed; its image now shows under it, not on its own.
    let repositories: Value =
        client.get(server.url("/api/v2.0/projects/team/repositories")).send().await.unwrap().json().await.unwrap();
    let listed = |repositories: &Value, name: &str| {
        repositories.as_array().unwrap().iter().find(|r| r["name"] == name).map(|r| r["artifact_count"].clone())
    };
    assert_eq!(listed(&repositories, "team/a"), Some(json!(1)), "{repositories}");
    assert_eq!(listed(&repositories, "team/b"), Some(json!(1)), "{repositories}");
    let index_digest = Digest::sha256_of(index.as_bytes());
    let deleted = client.delete(server.url(&format!("/v2/team/a/manifests/{index_digest}"))).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::ACCEPTED);
    assert_eq!(counted_usage(&server, team).await, used + second_layer.len() as i64);

    // Unlinking a blob from its one repository frees it in the project.
    let unlinked = client.delete(server.url(&format!("/v2/team/a/blobs/{second_digest}"))).send().await.unwrap();
    assert_eq!(unlinked.status(), StatusCode::ACCEPTED);
    assert_eq!(counted_usage(&server, team).await, used);

    // Deleting a repository takes its manifest; the blobs team/a still links stay counted.
    let deleted = client.delete(server.url("/api/v2.0/projects/team/repositories/b")).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_eq!(counted_usage(&server, team).await, image_bytes);

    // A push abandoned after its blob: cleanup deletes the repository with its link.
    let stray = vec![3u8; 800];
    assert_eq!(common::push_blob(&client, &server, "team/abandoned", &stray).await, StatusCode::CREATED);
    assert_eq!(counted_usage(&server, team).await, image_bytes + stray.len() as i64);
    let report = server.state.registry.clean_up_abandoned(Utc::now() + chrono::Duration::hours(1)).await.unwrap();
    // other/c never got a manifest either: it goes in the same statement.
    let mut removed = report.repositories.clone();
    removed.sort();
    assert_eq!(removed, ["other/c", "team/abandoned"], "{report:?}");
    let usage = assert_counted(&server.state.db).await;
    assert_eq!((usage_of(&usage, team), usage_of(&usage, other)), (image_bytes, 0));

    // A push refused over the quota leaves the counter as it was.
    let admin = server.admin_actor().await;
    server.state.projects.set_storage_quota(&admin, "team", Some(image_bytes + 10)).await.unwrap();
    assert_eq!(common::push_blob(&client, &server, "team/a", &stray).await, StatusCode::FORBIDDEN);
    assert_eq!(counted_usage(&server, team).await, image_bytes);
    assert_eq!(reported(&server, &client, team).await, image_bytes);

    // A project emptied and deleted takes its counters with it.
    let deleted = client.delete(server.url("/api/v2.0/projects/other")).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    let leftover: i64 = app::on_db!(&server.state.db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM project_usage WHERE project_id = $1").bind(other).fetch_one(pool).await
    })
    .unwrap();
    assert_eq!(leftover, 0);
    assert_counted(&server.state.db).await;
    server.stop().await;
}

const REPOSITORIES: [&str; 2] = ["busy/kept", "busy/doomed"];

async fn the_counter_holds_under_concurrent_pushes_and_deletes(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["busy"]).await;
    let base = server.url("");
    let mut rng = Rng::seeded("BERTH_USAGE_SEED", &format!("{backend:?}"));
    let token = Arc::new(traffic::push_token(&base, &REPOSITORIES).await);
    let layers = traffic::shared_layers(&mut rng);
    let running = Arc::new(AtomicBool::new(true));
    let clients: Vec<_> = (0..4)
        .map(|n| {
            let (pusher, running, mut rng) =
                (Pusher::new(&base, token.clone(), layers.clone()), running.clone(), rng.fork());
            tokio::spawn(async move {
                let (mut pushed, mut faults) = (0, Vec::new());
                for round in 0.. {
                    if !running.load(Ordering::Relaxed) {
                        break;
                    }
                    let to = rng.below(2) as usize;
                    let tag = format!("c{n}-r{round}");
                    match pusher.push_image(&mut rng, REPOSITORIES[to], REPOSITORIES[1 - to], &tag).await {
                        Ok(_) => pushed += 1,
                        // A repository deleted under a push refuses it (its blobs are gone): a 4xx.
                        Err(Halt::Refused(refusal)) if refusal.status.is_client_error() => {}
                        Err(halt) => faults.push(format!("{halt:?}")),
                    }
                }
                (pushed, faults)
            })
        })
        .collect();

    let admin = common::admin_client();
    let collector = GcRepository::new(server.state.db.clone());
    let (mut repository_deletes, mut links_collected) = (0, 0);
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let deleted = admin.delete(server.url("/api/v2.0/projects/busy/repositories/doomed")).send().await.unwrap();
        match deleted.status() {
            StatusCode::OK => repository_deletes += 1,
            StatusCode::NOT_FOUND => {}
            status => panic!("deleting the repository: {status} {}", deleted.text().await.unwrap()),
        }
        links_collected += collector.delete_stale_links(Utc::now()).await.unwrap();
    }
    running.store(false, Ordering::Relaxed);
    let (mut pushed, mut faults) = (0, Vec::new());
    for client in clients {
        let (n, f) = client.await.unwrap();
        pushed += n;
        faults.extend(f);
    }
    assert!(faults.is_empty(), "requests failed: {faults:#?}");
    assert!(pushed > 20 && repository_deletes > 3, "too little load: {pushed} pushes, {repository_deletes} deletes");
    let usage = assert_counted(&server.state.db).await;
    println!("{pushed} pushes, {repository_deletes} repository deletes, {links_collected} links collected: {usage:?}");
    server.stop().await;
}

/// A blob linked into a second repository while its last other link is
/// removed (two PostgreSQL transactions by hand, the removal waiting on the
/// addition): the removal sees the new link once it commits, and the blob
/// stays counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_added_while_the_other_goes_stays_counted() {
    common::within_time_limit(async {
        let server = TestServer::start(Backend::Postgres).await;
        let client = common::admin_client();
        server.create_projects(&["race"]).await;
        let layer = vec![5u8; 1000];
        assert_eq!(common::push_blob(&client, &server, "race/one", &layer).await, StatusCode::CREATED);
        assert_eq!(common::push_blob(&client, &server, "race/two", b"other").await, StatusCode::CREATED);
        let app::core::db::Db::Postgres(pool) = &server.state.db else { unreachable!("started on PostgreSQL") };
        let digest = Digest::sha256_of(&layer).to_string();
        let id = |name: &'static str| {
            sqlx::query_scalar::<_, i64>("SELECT id FROM repositories WHERE name = $1").bind(name).fetch_one(pool)
        };
        let (one, two) = (id("race/one").await.unwrap(), id("race/two").await.unwrap());

        #[allow(clippy::disallowed_methods)] // PostgreSQL: no write lock to take
        let mut adding = pool.begin().await.unwrap();
        sqlx::query("INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES ($1, $2, now())")
            .bind(two)
            .bind(&digest)
            .execute(&mut *adding)
            .await
            .unwrap();
        let removing = tokio::spawn({
            let (pool, digest) = (pool.clone(), digest.clone());
            async move {
                sqlx::query("DELETE FROM repository_blobs WHERE repository_id = $1 AND digest = $2")
                    .bind(one)
                    .bind(&digest)
                    .execute(&pool)
                    .await
                    .unwrap();
            }
        });
        // Time for the removal to reach the count the addition holds (either order must count right).
        tokio::time::sleep(Duration::from_millis(300)).await;
        adding.commit().await.unwrap();
        removing.await.unwrap();

        let project = project_id(&server, "race").await;
        let usage = counted_usage(&server, project).await;
        assert_eq!(usage, (layer.len() + b"other".len()) as i64);
        server.stop().await;
    })
    .await;
}

on_both_databases!(every_write_path_keeps_the_counter, the_counter_holds_under_concurrent_pushes_and_deletes);
