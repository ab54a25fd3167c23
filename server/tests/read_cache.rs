//! What `/v2` serves from memory (manifests by tag or digest, projects'
//! visibility) follows every change at once: tags moved or deleted through
//! `/v2` or the REST API, manifests and repositories deleted, projects made
//! private, on SQLite and PostgreSQL. With two nodes on one PostgreSQL
//! database, a change made through one node reaches what the other serves
//! within a notification's delivery, also after the other node's
//! listening connection was cut.

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestServer};
use reqwest::{Client, StatusCode, header};
use serde_json::json;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// The status of `GET /v2/{repo}/manifests/{reference}` at `base`, and the
/// digest served.
async fn served(client: &Client, base: &str, repo: &str, reference: &str) -> (StatusCode, Option<String>) {
    let response = client
        .get(format!("{base}/v2/{repo}/manifests/{reference}"))
        .header(header::ACCEPT, OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let digest = response.headers().get("docker-content-digest").map(|v| v.to_str().unwrap().to_owned());
    if status == StatusCode::OK {
        let body = response.bytes().await.unwrap();
        let digest = digest.clone().expect("a digest header");
        assert_eq!(app::core::registry::digest::Digest::sha256_of(&body).to_string(), digest, "the bytes served");
    }
    (status, digest)
}

/// Asks twice (the second answer comes from memory when the first was kept).
async fn served_twice(client: &Client, base: &str, repo: &str, reference: &str) -> (StatusCode, Option<String>) {
    let first = served(client, base, repo, reference).await;
    let second = served(client, base, repo, reference).await;
    assert_eq!(first, second, "{repo}:{reference} twice");
    second
}

async fn every_change_is_served_at_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["cache"]).await;
    let endpoint = server.endpoint();
    endpoint.set_public("cache", true).await;
    let admin = common::admin_client();
    let anonymous = Client::new();
    let (base, repo) = (server.base.as_str(), "cache/app");

    // A tag moves.
    let (first, _) = common::push_image(&admin, &server, repo, "latest", b"first").await;
    assert_eq!(served_twice(&anonymous, base, repo, "latest").await, (StatusCode::OK, Some(first.clone())));
    let (second, _) = common::push_image(&admin, &server, repo, "latest", b"second").await;
    assert_eq!(served_twice(&anonymous, base, repo, "latest").await, (StatusCode::OK, Some(second.clone())));
    assert_eq!(served_twice(&anonymous, base, repo, &first).await.0, StatusCode::OK);

    // A tag deleted through /v2; its manifest stays.
    let deleted = admin.delete(server.url(&format!("/v2/{repo}/manifests/latest"))).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::ACCEPTED);
    assert_eq!(served_twice(&anonymous, base, repo, "latest").await.0, StatusCode::NOT_FOUND);
    assert_eq!(served_twice(&anonymous, base, repo, &second).await.0, StatusCode::OK);

    // A manifest deleted by digest through /v2.
    let deleted = admin.delete(server.url(&format!("/v2/{repo}/manifests/{second}"))).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::ACCEPTED);
    assert_eq!(served_twice(&anonymous, base, repo, &second).await.0, StatusCode::NOT_FOUND);

    // Through the REST API (as the portal does): a tag added, then removed,
    // then the artifact deleted.
    let artifacts = server.url(&format!("/api/v2.0/projects/cache/repositories/app/artifacts/{first}"));
    let tagged = admin.post(format!("{artifacts}/tags")).json(&json!({"name": "stable"})).send().await.unwrap();
    assert_eq!(tagged.status(), StatusCode::CREATED);
    assert_eq!(served_twice(&anonymous, base, repo, "stable").await, (StatusCode::OK, Some(first.clone())));
    let untagged = admin.delete(format!("{artifacts}/tags/stable")).send().await.unwrap();
    assert_eq!(untagged.status(), StatusCode::OK);
    assert_eq!(served_twice(&anonymous, base, repo, "stable").await.0, StatusCode::NOT_FOUND);
    assert_eq!(served_twice(&anonymous, base, repo, &first).await.0, StatusCode::OK);
    assert_eq!(admin.delete(&artifacts).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(served_twice(&anonymous, base, repo, &first).await.0, StatusCode::NOT_FOUND);

    // A whole repository deleted through the REST API.
    let (kept, _) = common::push_image(&admin, &server, "cache/gone", "v1", b"in a deleted repository").await;
    assert_eq!(served_twice(&anonymous, base, "cache/gone", "v1").await.0, StatusCode::OK);
    assert_eq!(served_twice(&anonymous, base, "cache/gone", &kept).await.0, StatusCode::OK);
    let gone = admin.delete(server.url("/api/v2.0/projects/cache/repositories/gone")).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::OK);
    assert_eq!(served_twice(&anonymous, base, "cache/gone", "v1").await.0, StatusCode::NOT_FOUND);
    assert_eq!(served_twice(&anonymous, base, "cache/gone", &kept).await.0, StatusCode::NOT_FOUND);

    // The project made private: anonymous pulls are refused at once, its
    // members still pull.
    let (third, _) = common::push_image(&admin, &server, repo, "v3", b"third").await;
    assert_eq!(served_twice(&anonymous, base, repo, "v3").await.0, StatusCode::OK);
    endpoint.set_public("cache", false).await;
    assert_eq!(served_twice(&anonymous, base, repo, "v3").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(served_twice(&admin, base, repo, "v3").await, (StatusCode::OK, Some(third)));
    endpoint.set_public("cache", true).await;
    assert_eq!(served_twice(&anonymous, base, repo, "v3").await.0, StatusCode::OK);
    server.stop().await;
}

on_both_databases!(every_change_is_served_at_once);

/// Polls `check` until it holds, for at most `bound`; how long it took.
async fn within(bound: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < bound, "{what} not seen within {bound:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_sharing_postgres_hear_each_others_changes() {
    common::within_time_limit(async {
        let one = TestServer::start(Backend::Postgres).await;
        let database_url = one.config.database_url.clone();
        let dir = tempfile::tempdir().unwrap();
        let two = TestServer::start_with(dir.path().to_owned(), &database_url, &[]).await;
        one.create_projects(&["shared"]).await;
        one.endpoint().set_public("shared", true).await;
        let admin = common::admin_client();
        let anonymous = Client::new();
        let repo = "shared/app";
        let bound = Duration::from_secs(2);

        // Node two serves the tag from memory; node one moves it.
        let (first, _) = common::push_image(&admin, &one, repo, "latest", b"first on one").await;
        assert_eq!(served_twice(&anonymous, &two.base, repo, "latest").await.1.as_deref(), Some(first.as_str()));
        let (second, _) = common::push_image(&admin, &one, repo, "latest", b"second on one").await;
        let took = within(bound, "the moved tag on node two", async || {
            served(&anonymous, &two.base, repo, "latest").await.1.as_deref() == Some(second.as_str())
        })
        .await;
        eprintln!("a moved tag reached the other node in {took:?}");

        // A manifest deleted through node one is gone from node two.
        assert_eq!(served_twice(&anonymous, &two.base, repo, &first).await.0, StatusCode::OK);
        let deleted = admin.delete(one.url(&format!("/v2/{repo}/manifests/{first}"))).send().await.unwrap();
        assert_eq!(deleted.status(), StatusCode::ACCEPTED);
        within(bound, "the deleted manifest gone from node two", async || {
            served(&anonymous, &two.base, repo, &first).await.0 == StatusCode::NOT_FOUND
        })
        .await;

        // The project made private through node one: node two refuses anonymous pulls.
        assert_eq!(served_twice(&anonymous, &two.base, repo, "latest").await.0, StatusCode::OK);
        one.endpoint().set_public("shared", false).await;
        let took = within(bound, "the private project on node two", async || {
            served(&anonymous, &two.base, repo, "latest").await.0 == StatusCode::UNAUTHORIZED
        })
        .await;
        eprintln!("a project made private reached the other node in {took:?}");
        one.endpoint().set_public("shared", true).await;

        // The listening connections are cut, and a tag moves before they
        // are back: node two never serves the old manifest afterwards.
        let (third, _) = common::push_image(&admin, &one, repo, "v3", b"third on one").await;
        assert_eq!(served_twice(&anonymous, &two.base, repo, "v3").await.1.as_deref(), Some(third.as_str()));
        assert!(cut_listeners(&database_url).await >= 2, "both nodes listen");
        let (fourth, _) = common::push_image(&admin, &one, repo, "v3", b"fourth on one").await;
        within(bound, "the tag moved while node two was deaf", async || {
            served(&anonymous, &two.base, repo, "v3").await.1.as_deref() == Some(fourth.as_str())
        })
        .await;
        // ...and it hears changes again once it listens again.
        within(Duration::from_secs(10), "node two listening again", async || {
            listening_connections(&database_url).await >= 2
        })
        .await;
        assert_eq!(served_twice(&anonymous, &two.base, repo, "v3").await.1.as_deref(), Some(fourth.as_str()));
        let (fifth, _) = common::push_image(&admin, &one, repo, "v3", b"fifth on one").await;
        within(bound, "a tag moved after node two listens again", async || {
            served(&anonymous, &two.base, repo, "v3").await.1.as_deref() == Some(fifth.as_str())
        })
        .await;

        two.stop().await;
        one.stop().await;
    })
    .await;
}

/// Cuts every connection that listens for change notifications (this
/// test's database only); returns how many.
async fn cut_listeners(database_url: &str) -> i64 {
    on_listening_connections(database_url, "COUNT(pg_terminate_backend(pid))").await
}

/// How many connections listen for change notifications on this test's database.
async fn listening_connections(database_url: &str) -> i64 {
    on_listening_connections(database_url, "COUNT(*)").await
}

/// `aggregate` over the connections that listen on this test's database.
async fn on_listening_connections(database_url: &str, aggregate: &str) -> i64 {
    let database = database_url.rsplit('/').next().unwrap().to_owned();
    let pool = sqlx::PgPool::connect(&common::postgres_admin_url()).await.unwrap();
    let sql = format!("SELECT {aggregate} FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN%'");
    let value: i64 = sqlx::query_scalar(&sql).bind(database).fetch_one(&pool).await.unwrap();
    pool.close().await;
    value
}
