//! Garbage collection on SQLite and PostgreSQL, run through the job
//! service: a dry run reports what would go and deletes nothing; a run
//! deletes the content no manifest names once its links are past the
//! window, keeps what live images and recently used links need, and logs
//! it; with `delete_untagged`, untagged manifests go unless a kept index
//! includes them or they refer to a kept manifest, and tagging one while
//! collections run never leaves a broken tag or index; and under load (GC
//! back to back while eight clients push images that share layers and
//! delete others) every acknowledged image stays whole, no push fails and
//! the projects' usage counters still equal what they hold, on one node
//! and on three behind a load balancer.

mod common;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use app::core::{
    gc::GarbageCollection,
    identity::Actor,
    jobs::{Execution, Status},
    registry::digest::Digest,
};
use common::{
    Backend, TestServer,
    traffic::{self, Halt, Image, Pusher, Rng},
};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Seconds a link no manifest names is kept: short, so tests see it pass.
const WINDOW: u64 = 6;

async fn start(backend: Backend) -> TestServer {
    let mut server = TestServer::start(backend).await;
    let (dir, database) = server.stop().await;
    let database = database.expect("a test database");
    let dir = dir.expect("a data directory");
    let extra = [("BERTH_GC_LINK_WINDOW_SECONDS", WINDOW.to_string())];
    server = TestServer::start_with(dir.path().to_owned(), &database.url, &extra).await;
    server.keep(dir, database);
    server
}

/// Runs a collection and waits for it to end.
async fn collect(server: &TestServer, admin: &Actor, parameters: Value) -> Execution {
    let id = server.state.jobs.run_now(admin, GarbageCollection::KIND, parameters).await.unwrap();
    for _ in 0..600 {
        let run = server.state.jobs.execution(admin, id).await.unwrap();
        if run.status.is_final() {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("collection {id} never ended");
}

async fn stored(server: &TestServer, content: &[u8]) -> bool {
    server.state.blobs.stat(&Digest::sha256_of(content)).await.unwrap().is_some()
}

async fn collection_reclaims_what_no_manifest_names(backend: Backend) {
    let server = start(backend).await;
    let admin = server.admin_actor().await;
    let client = common::admin_client();
    let (gone, shared, kept) = (
        b"layer only the deleted image has".to_vec(),
        b"layer both have".to_vec(),
        b"layer of the kept image".to_vec(),
    );
    // Two images sharing a layer (and their config); the first is deleted.
    let first = push_two_layer_image(&client, &server, "library/gc", "first", &gone, &shared).await;
    push_two_layer_image(&client, &server, "library/gc", "second", &shared, &kept).await;
    let deleted = client.delete(server.url(&format!("/v2/library/gc/manifests/{first}"))).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::ACCEPTED);
    // A blob pushed without a manifest, asked about just before the run.
    let pending = b"a blob a push is about to name".to_vec();
    assert_eq!(common::push_blob(&client, &server, "library/gc", &pending).await, StatusCode::CREATED);

    // Within the window nothing goes: the links were used a moment ago.
    let early = collect(&server, &admin, json!({})).await;
    assert_eq!(early.status, Status::Success, "{early:?}");
    assert_eq!(early.summary.as_ref().unwrap()["blobs_deleted"], 0);

    // Past the window, a dry run says what would go (the deleted image's
    // layer and the unnamed blob) and deletes nothing.
    tokio::time::sleep(Duration::from_secs(WINDOW + 1)).await;
    let dry = collect(&server, &admin, json!({ "dry_run": true, "workers": 3 })).await;
    let summary = dry.summary.clone().unwrap();
    assert_eq!((summary["dry_run"].as_bool(), summary["links_removed"].as_u64()), (Some(true), Some(2)), "{dry:?}");
    assert_eq!(summary["blobs_deleted"], 0, "no blob is unlinked before its link goes: {summary}");
    assert!(stored(&server, &gone).await && stored(&server, &pending).await, "a dry run deletes nothing");
    let log = server.state.jobs.log(&admin, dry.id).await.unwrap();
    assert!(log.iter().any(|l| l.message.contains("would remove 2 links")), "{log:?}");

    // A HEAD (what a client sends before naming a blob it need not push
    // again) renews the unnamed blob's link for another window.
    let head =
        client.head(server.url(&format!("/v2/library/gc/blobs/{}", Digest::sha256_of(&pending)))).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);

    // The run: the deleted image's own layer goes; the rest stays.
    let run = collect(&server, &admin, json!({ "workers": 2 })).await;
    let summary = run.summary.clone().unwrap();
    assert_eq!(run.status, Status::Success, "{run:?}");
    assert_eq!(summary["blobs_deleted"], 1, "{summary}");
    assert_eq!(summary["bytes_freed"], gone.len(), "{summary}");
    assert!(!stored(&server, &gone).await, "the unnamed layer's content is gone");
    for content in [&shared, &kept, &pending] {
        assert!(stored(&server, content).await, "{:?} stays", String::from_utf8_lossy(content));
    }
    let second = client
        .get(server.url("/v2/library/gc/manifests/second"))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::OK);
    for content in [&shared, &kept] {
        let blob = client
            .get(server.url(&format!("/v2/library/gc/blobs/{}", Digest::sha256_of(content))))
            .send()
            .await
            .unwrap();
        assert_eq!(blob.bytes().await.unwrap().as_ref(), content.as_slice());
    }

    // Unknown parameters' values are refused before anything runs.
    for bad in [json!({ "workers": 0 }), json!({ "workers": 11 }), json!({ "dry_run": "yes" })] {
        let refused = collect(&server, &admin, bad.clone()).await;
        assert_eq!(refused.status, Status::Error, "{bad}: {refused:?}");
    }
    server.stop().await;
}

/// Pushes an image of two layers; its digest.
async fn push_two_layer_image(
    client: &reqwest::Client,
    server: &TestServer,
    repo: &str,
    tag: &str,
    first: &[u8],
    second: &[u8],
) -> String {
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    for blob in [first, second, &config[..]] {
        assert_eq!(common::push_blob(client, server, repo, blob).await, StatusCode::CREATED);
    }
    let layer = |content: &[u8]| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": Digest::sha256_of(content).to_string(), "size": content.len()});
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": Digest::sha256_of(config).to_string(), "size": config.len()},
        "layers": [layer(first), layer(second)],
    })
    .to_string();
    let response = client
        .put(server.url(&format!("/v2/{repo}/manifests/{tag}")))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    Digest::sha256_of(manifest.as_bytes()).to_string()
}

const REPOSITORIES: [&str; 2] = ["library/busy", "library/other"];
const CLIENTS: usize = 8;
const LOAD: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Ledger {
    live: Vec<Image>,
    deleted: Vec<Image>,
    failures: Vec<String>,
}

async fn no_push_fails_and_nothing_breaks_while_collections_run(backend: Backend) {
    let server = start(backend).await;
    let admin = server.admin_actor().await;
    let seed = format!("{backend:?}");
    collections_under_load(&server.url(""), &seed, LOAD, || async {
        let run = collect(&server, &admin, json!({ "workers": 4 })).await;
        assert_eq!(run.status, Status::Success, "{run:?}");
        run.summary.unwrap()
    })
    .await;
    // The projects' usage counters followed every push, delete and collection.
    common::usage::assert_counted(&server.state.db).await;
    server.stop().await;
}

/// The same on three nodes behind a load balancer (one PostgreSQL, one
/// Garage bucket): the pushes spread over every node while collections run
/// back to back on whichever node claims each, started through REST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_push_fails_while_collections_run_on_a_cluster() {
    common::within_time_limit(async {
        let extra = [("BERTH_GC_LINK_WINDOW_SECONDS", WINDOW.to_string())];
        let cluster = common::cluster::Cluster::start_with(3, &extra).await;
        let pool = sqlx::PgPool::connect(cluster.database_url()).await.unwrap();
        // A shorter load: checking every image through the load balancer
        // afterwards takes a while, and the test has two minutes in all.
        collections_under_load(&cluster.base, "cluster", LOAD * 2 / 3, || async {
            let admin = common::admin_client();
            let body = json!({"schedule": {"type": "Manual"}, "parameters": {"workers": 4}});
            let started = admin.post(cluster.url("/api/v2.0/system/gc/schedule")).json(&body).send().await.unwrap();
            assert_eq!(started.status(), StatusCode::CREATED);
            let location = started.headers()["location"].to_str().unwrap().to_owned();
            let id = common::replication::id_of(&started);
            for _ in 0..1200 {
                let run: Value = admin.get(cluster.url(&location)).send().await.unwrap().json().await.unwrap();
                match run["job_status"].as_str() {
                    Some("Pending" | "Running") => tokio::time::sleep(Duration::from_millis(50)).await,
                    Some("Success") => {
                        let (summary,): (String,) = sqlx::query_as("SELECT summary FROM job_executions WHERE id = $1")
                            .bind(id)
                            .fetch_one(&pool)
                            .await
                            .unwrap();
                        return serde_json::from_str(&summary).unwrap();
                    }
                    _ => panic!("collection {id}: {run}"),
                }
            }
            panic!("collection {id} never ended");
        })
        .await;
        common::usage::assert_counted(&app::core::db::Db::Postgres(pool)).await;
        cluster.stop().await;
    })
    .await;
}

/// Eight clients push images that share layers (and delete some) through
/// `base` while `collect` runs collections back to back for `load`; no push may fail
/// and every acknowledged image must stay whole. `collect` answers the
/// run's summary.
async fn collections_under_load<F, Fut>(base: &str, seed: &str, load: Duration, collect: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let base = base.to_owned();
    let mut rng = Rng::seeded("BERTH_GC_SEED", seed);
    let token = Arc::new(traffic::push_token(&base, &REPOSITORIES).await);
    let layers = traffic::shared_layers(&mut rng);
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let running = Arc::new(AtomicBool::new(true));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let (pusher, ledger, running) =
                (Pusher::new(&base, token.clone(), layers.clone()), ledger.clone(), running.clone());
            let mut rng = rng.fork();
            tokio::spawn(async move {
                let mut round = 0;
                while running.load(Ordering::Relaxed) {
                    round += 1;
                    let repository = REPOSITORIES[rng.below(2) as usize];
                    let other = REPOSITORIES.iter().find(|r| **r != repository).unwrap();
                    match pusher.push_image(&mut rng, repository, other, &format!("c{n}-r{round}")).await {
                        Ok(image) => ledger.lock().unwrap().live.push(image),
                        Err(halt) => ledger.lock().unwrap().failures.push(describe(&halt)),
                    }
                    // Now and then a client deletes one of the images it may.
                    if rng.below(3) == 0 {
                        let victim = {
                            let mut ledger = ledger.lock().unwrap();
                            let count = ledger.live.len() as u64;
                            (count > 4).then(|| ledger.live.remove(rng.below(count) as usize))
                        };
                        if let Some(image) = victim {
                            match pusher.delete(&image).await {
                                Ok(()) => ledger.lock().unwrap().deleted.push(image),
                                Err(halt) => ledger.lock().unwrap().failures.push(describe(&halt)),
                            }
                        }
                    }
                }
            })
        })
        .collect();

    // Collections back to back for the whole load.
    let started = Instant::now();
    let (mut runs, mut freed, mut deleted_blobs) = (0, 0u64, 0u64);
    while started.elapsed() < load {
        let summary = collect().await;
        freed += summary["bytes_freed"].as_u64().unwrap();
        deleted_blobs += summary["blobs_deleted"].as_u64().unwrap();
        runs += 1;
    }
    running.store(false, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    // And one more after the load, once every deleted image's links are past the window.
    tokio::time::sleep(Duration::from_secs(WINDOW + 1)).await;
    deleted_blobs += collect().await["blobs_deleted"].as_u64().unwrap();
    runs += 1;

    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    assert!(ledger.failures.is_empty(), "pushes failed while collections ran: {:#?}", ledger.failures);
    assert!(
        ledger.live.len() > 20 && ledger.deleted.len() > 5,
        "too little load: {} live, {} deleted",
        ledger.live.len(),
        ledger.deleted.len()
    );
    assert!(deleted_blobs > 0, "{runs} collections deleted nothing");
    let problems = traffic::check(&base, &token, &ledger.live, &ledger.deleted, &REPOSITORIES).await;
    assert!(problems.is_empty(), "after {runs} collections ({deleted_blobs} blobs, {freed} bytes): {problems:#?}");
    println!(
        "{runs} collections deleted {deleted_blobs} blobs ({freed} bytes) under {} pushes and {} deletes",
        ledger.live.len() + ledger.deleted.len(),
        ledger.deleted.len()
    );
}

/// A manifest a test pushed.
#[derive(Clone, Debug)]
struct Pushed {
    digest: String,
    size: usize,
    media_type: &'static str,
}

impl Pushed {
    fn descriptor(&self) -> Value {
        json!({ "mediaType": self.media_type, "digest": self.digest, "size": self.size })
    }
}

const IMAGE: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const EMPTY: &[u8] = b"{}";

/// An image of one layer and the empty config, referring to `subject` when
/// given; as it would be pushed (nothing is sent).
fn image_of(layer: &[u8], subject: Option<&Pushed>) -> (Pushed, String) {
    let mut manifest = json!({
        "schemaVersion": 2,
        "mediaType": IMAGE,
        "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": Digest::sha256_of(EMPTY).to_string(), "size": EMPTY.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": Digest::sha256_of(layer).to_string(), "size": layer.len() }],
    });
    if let Some(subject) = subject {
        manifest["artifactType"] = json!("application/vnd.example.signature");
        manifest["subject"] = subject.descriptor();
    }
    let body = manifest.to_string();
    (Pushed { digest: Digest::sha256_of(body.as_bytes()).to_string(), size: body.len(), media_type: IMAGE }, body)
}

fn index_of(children: &[&Pushed]) -> (Pushed, String) {
    let manifests: Vec<Value> = children.iter().map(|child| child.descriptor()).collect();
    let body = json!({ "schemaVersion": 2, "mediaType": INDEX, "manifests": manifests }).to_string();
    (Pushed { digest: Digest::sha256_of(body.as_bytes()).to_string(), size: body.len(), media_type: INDEX }, body)
}

/// PUTs a manifest as `repo:reference` (its digest when `reference` is empty).
async fn put_manifest(
    client: &reqwest::Client,
    server: &TestServer,
    repo: &str,
    reference: &str,
    (pushed, body): &(Pushed, String),
) -> reqwest::Response {
    let reference = if reference.is_empty() { pushed.digest.as_str() } else { reference };
    client
        .put(server.url(&format!("/v2/{repo}/manifests/{reference}")))
        .header("content-type", pushed.media_type)
        .body(body.clone())
        .send()
        .await
        .unwrap()
}

/// Pushes an image's blobs, then the image.
async fn push_image_of(
    client: &reqwest::Client,
    server: &TestServer,
    repo: &str,
    reference: &str,
    layer: &[u8],
    subject: Option<&Pushed>,
) -> Pushed {
    for blob in [EMPTY, layer] {
        assert_eq!(common::push_blob(client, server, repo, blob).await, StatusCode::CREATED);
    }
    let image = image_of(layer, subject);
    assert_eq!(put_manifest(client, server, repo, reference, &image).await.status(), StatusCode::CREATED);
    image.0
}

async fn push_index_of(
    client: &reqwest::Client,
    server: &TestServer,
    repo: &str,
    reference: &str,
    children: &[&Pushed],
) -> Pushed {
    let index = index_of(children);
    assert_eq!(put_manifest(client, server, repo, reference, &index).await.status(), StatusCode::CREATED);
    index.0
}

async fn manifest_status(client: &reqwest::Client, server: &TestServer, repo: &str, reference: &str) -> StatusCode {
    let accept = format!("{IMAGE}, {INDEX}");
    let url = server.url(&format!("/v2/{repo}/manifests/{reference}"));
    client.get(url).header("accept", accept).send().await.unwrap().status()
}

async fn untagged_manifests_go_unless_something_kept_holds_them(backend: Backend) {
    let server = start(backend).await;
    let admin = server.admin_actor().await;
    let client = common::admin_client();
    let repo = "library/untagged";
    let kept = push_image_of(&client, &server, repo, "keep", b"kept layer", None).await;
    // `moving` moves on: the image it named is untagged.
    let replaced = push_image_of(&client, &server, repo, "moving", b"replaced layer", None).await;
    let current = push_image_of(&client, &server, repo, "moving", b"current layer", None).await;
    // A tagged index and an untagged one, sharing an image.
    let in_tagged = push_image_of(&client, &server, repo, "", b"image of the tagged index", None).await;
    let in_both = push_image_of(&client, &server, repo, "", b"image of both indexes", None).await;
    let in_loose = push_image_of(&client, &server, repo, "", b"image of the untagged index only", None).await;
    let multi = push_index_of(&client, &server, repo, "multi", &[&in_tagged, &in_both]).await;
    let loose = push_index_of(&client, &server, repo, "", &[&in_both, &in_loose]).await;
    // Signatures of a kept image and of the untagged one.
    let signature = push_image_of(&client, &server, repo, "", b"signature of the kept image", Some(&kept)).await;
    let orphan = push_image_of(&client, &server, repo, "", b"signature of the replaced image", Some(&replaced)).await;
    tokio::time::sleep(Duration::from_secs(WINDOW + 1)).await;
    // Pushed within the window: a push in flight may be about to tag it.
    let young = push_image_of(&client, &server, repo, "", b"pushed just now", None).await;

    let going = [&replaced, &loose, &in_loose, &orphan];
    let staying = [&kept, &current, &in_tagged, &in_both, &multi, &signature, &young];
    let dry = collect(&server, &admin, json!({ "delete_untagged": true, "dry_run": true })).await;
    assert_eq!(dry.summary.as_ref().unwrap()["manifests_deleted"], going.len(), "{dry:?}");
    for manifest in going.iter().chain(&staying) {
        assert_eq!(
            manifest_status(&client, &server, repo, &manifest.digest).await,
            StatusCode::OK,
            "a dry run deletes nothing"
        );
    }

    let run = collect(&server, &admin, json!({ "delete_untagged": true })).await;
    let summary = run.summary.clone().unwrap();
    assert_eq!(run.status, Status::Success, "{run:?}");
    assert_eq!(summary["manifests_deleted"], going.len(), "{summary}");
    for manifest in going {
        assert_eq!(
            manifest_status(&client, &server, repo, &manifest.digest).await,
            StatusCode::NOT_FOUND,
            "{manifest:?} went"
        );
    }
    for manifest in staying {
        assert_eq!(
            manifest_status(&client, &server, repo, &manifest.digest).await,
            StatusCode::OK,
            "{manifest:?} stays"
        );
    }
    for tag in ["keep", "moving", "multi"] {
        assert_eq!(manifest_status(&client, &server, repo, tag).await, StatusCode::OK, "{tag}");
    }
    // The layers only the deleted manifests named went in the same run.
    for layer in [&b"replaced layer"[..], b"image of the untagged index only", b"signature of the replaced image"] {
        assert!(!stored(&server, layer).await, "{:?} went", String::from_utf8_lossy(layer));
    }
    for layer in [&b"kept layer"[..], b"image of both indexes", b"signature of the kept image", b"pushed just now"] {
        assert!(stored(&server, layer).await, "{:?} stays", String::from_utf8_lossy(layer));
    }
    let referrers: Value = client
        .get(server.url(&format!("/v2/{repo}/referrers/{}", kept.digest)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(referrers["manifests"][0]["digest"], signature.digest.as_str(), "{referrers}");
    // Each deletion is in the audit log, by the collector.
    let audit = common::audit_log(&server, "username=system:gc").await;
    let mut resources: Vec<&str> = audit.iter().map(|row| row["resource"].as_str().unwrap()).collect();
    resources.sort();
    let mut expected: Vec<String> = going.iter().map(|m| format!("{repo}@{}", m.digest)).collect();
    expected.sort();
    assert_eq!(resources, expected, "{audit:?}");
    // An index naming a deleted image is refused; nothing dangles.
    let refused = put_manifest(&client, &server, repo, "again", &index_of(&[&replaced])).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(refused.json::<Value>().await.unwrap()["errors"][0]["code"], "MANIFEST_BLOB_UNKNOWN");
    server.stop().await;
}

/// Clients tag, or include in a new index, untagged manifests old enough to
/// go while collections with `delete_untagged` run back to back. Whichever
/// comes first, a tag acknowledged with 201 names a whole image and an
/// acknowledged index names images that exist; a refused index push says
/// MANIFEST_BLOB_UNKNOWN and leaves no tag.
async fn tagging_races_untagged_collection_safely(backend: Backend) {
    const IMAGES: usize = 24;
    let server = Arc::new(start(backend).await);
    let admin = server.admin_actor().await;
    let client = common::admin_client();
    let repo = "library/race";
    let mut images = Vec::new();
    for n in 0..IMAGES {
        let layer = format!("untagged image {n}").into_bytes();
        images.push((push_image_of(&client, &server, repo, "", &layer, None).await, layer));
    }
    tokio::time::sleep(Duration::from_secs(WINDOW + 1)).await;

    let running = Arc::new(AtomicBool::new(true));
    let collector = {
        let (server, admin, running) = (server.clone(), admin.clone(), running.clone());
        tokio::spawn(async move {
            let mut deleted = 0;
            while running.load(Ordering::Relaxed) {
                let run = collect(&server, &admin, json!({ "delete_untagged": true, "workers": 4 })).await;
                assert_eq!(run.status, Status::Success, "{run:?}");
                deleted += run.summary.unwrap()["manifests_deleted"].as_u64().unwrap();
            }
            deleted
        })
    };
    let pushes: Vec<_> = images
        .iter()
        .cloned()
        .enumerate()
        .map(|(n, (image, layer))| {
            let (server, client) = (server.clone(), client.clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(15 * n as u64)).await;
                if n % 2 == 0 {
                    // As a client tags: whatever the registry lacks is pushed again first.
                    for blob in [EMPTY, &layer[..]] {
                        let url = server.url(&format!("/v2/{repo}/blobs/{}", Digest::sha256_of(blob)));
                        if client.head(url).send().await.unwrap().status() == StatusCode::NOT_FOUND {
                            assert_eq!(common::push_blob(&client, &server, repo, blob).await, StatusCode::CREATED);
                        }
                    }
                    let tagged = put_manifest(&client, &server, repo, &format!("t{n}"), &image_of(&layer, None)).await;
                    assert_eq!(tagged.status(), StatusCode::CREATED, "tag t{n}");
                    (n, true)
                } else {
                    let response = put_manifest(&client, &server, repo, &format!("i{n}"), &index_of(&[&image])).await;
                    match response.status() {
                        StatusCode::CREATED => (n, true),
                        StatusCode::BAD_REQUEST => {
                            let body: Value = response.json().await.unwrap();
                            assert_eq!(body["errors"][0]["code"], "MANIFEST_BLOB_UNKNOWN", "index i{n}: {body}");
                            (n, false)
                        }
                        other => panic!("index i{n}: {other}"),
                    }
                }
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for push in pushes {
        outcomes.push(push.await.unwrap());
    }
    running.store(false, Ordering::Relaxed);
    let deleted = collector.await.unwrap();
    let last = collect(&server, &admin, json!({ "delete_untagged": true })).await;
    assert_eq!(last.status, Status::Success, "{last:?}");

    for (n, acknowledged) in outcomes {
        let (image, layer) = &images[n];
        let tag = if n % 2 == 0 { format!("t{n}") } else { format!("i{n}") };
        if !acknowledged {
            assert_eq!(manifest_status(&client, &server, repo, &tag).await, StatusCode::NOT_FOUND, "{tag} was refused");
            continue;
        }
        assert_eq!(manifest_status(&client, &server, repo, &tag).await, StatusCode::OK, "{tag}");
        assert_eq!(manifest_status(&client, &server, repo, &image.digest).await, StatusCode::OK, "{tag}'s image");
        for blob in [EMPTY, &layer[..]] {
            let url = server.url(&format!("/v2/{repo}/blobs/{}", Digest::sha256_of(blob)));
            let bytes = client.get(url).send().await.unwrap().bytes().await.unwrap();
            assert_eq!(bytes.as_ref(), blob, "{tag}'s blob is whole");
        }
    }
    println!("collections deleted {deleted} untagged manifests while clients tagged them");
    Arc::into_inner(server).expect("every task has ended").stop().await;
}

/// Deleting an image gives its project's quota back once collection has
/// removed what only that image held.
async fn quota_follows_what_collection_deletes(backend: Backend) {
    let server = start(backend).await;
    let admin = server.admin_actor().await;
    let client = common::admin_client();
    let project = json!({ "project_name": "tight", "storage_limit": 1 << 20 });
    let created = client.post(server.url("/api/v2.0/projects")).json(&project).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let first: Vec<u8> = (0..700 * 1024).map(|i| (i % 251) as u8).collect();
    let second: Vec<u8> = (0..700 * 1024).map(|i| (i % 241) as u8).collect();
    let (digest, size) = common::push_image(&client, &server, "tight/app", "v1", &first).await;
    assert_eq!(common::push_blob(&client, &server, "tight/app", &second).await, StatusCode::FORBIDDEN, "over quota");
    // Harbor's /quotas reports the same usage the pushes are held to.
    let id = server.state.projects.find("tight").await.unwrap().unwrap().id.0;
    let used = || async {
        let quota: Value =
            client.get(server.url(&format!("/api/v2.0/quotas/{id}"))).send().await.unwrap().json().await.unwrap();
        assert_eq!(quota["hard"]["storage"], 1 << 20);
        quota["used"]["storage"].as_i64().unwrap()
    };
    assert_eq!(used().await, size);

    let deleted = client.delete(server.url(&format!("/v2/tight/app/manifests/{digest}"))).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::ACCEPTED);
    // The manifest's bytes go at once; the deleted image's blobs count until collection removes their links.
    let manifest_bytes = client.get(server.url("/v2/tight/app/manifests/v1")).send().await.unwrap();
    assert_eq!(manifest_bytes.status(), StatusCode::NOT_FOUND);
    assert!(used().await < size && used().await > 0, "blobs still linked");
    assert_eq!(common::push_blob(&client, &server, "tight/app", &second).await, StatusCode::FORBIDDEN);
    tokio::time::sleep(Duration::from_secs(WINDOW + 1)).await;
    let run = collect(&server, &admin, json!({})).await;
    assert_eq!(run.summary.as_ref().map(|s| s["blobs_deleted"].as_u64()), Some(Some(2)), "{run:?}");
    assert_eq!(used().await, 0, "usage right after collection");
    assert_eq!(
        common::push_blob(&client, &server, "tight/app", &second).await,
        StatusCode::CREATED,
        "the quota is free again"
    );
    server.stop().await;
}

/// Collection on S3-compatible storage (a real Garage) with two nodes on
/// one PostgreSQL: pushed through one node, deleted and collected through
/// the other, with parallel deletes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collection_deletes_from_object_storage_across_nodes() {
    common::within_time_limit(async {
        common::init_test_logging();
        let garage = common::garage::Garage::start().await;
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let database = common::TestDatabase::create(Backend::Postgres, dir_a.path()).await;
        let mut settings = garage.berth_settings();
        settings.push(("BERTH_GC_LINK_WINDOW_SECONDS", WINDOW.to_string()));
        let node_a = TestServer::start_with(dir_a.path().to_owned(), &database.url, &settings).await;
        let node_b = TestServer::start_with(dir_b.path().to_owned(), &database.url, &settings).await;
        let admin = node_b.admin_actor().await;
        let client = common::admin_client();
        let (gone, shared, kept) =
            (b"layer only the deleted image has", b"layer both have", b"layer of the kept image");
        let first = push_two_layer_image(&client, &node_a, "library/s3gc", "first", gone, shared).await;
        push_two_layer_image(&client, &node_a, "library/s3gc", "second", shared, kept).await;
        let deleted = client.delete(node_b.url(&format!("/v2/library/s3gc/manifests/{first}"))).send().await.unwrap();
        assert_eq!(deleted.status(), StatusCode::ACCEPTED);
        tokio::time::sleep(Duration::from_secs(WINDOW + 1)).await;

        let run = collect(&node_b, &admin, json!({ "workers": 4 })).await;
        assert_eq!(run.status, Status::Success, "{run:?}");
        assert_eq!(run.summary.as_ref().unwrap()["blobs_deleted"], 1, "{run:?}");
        assert!(!stored(&node_a, gone).await, "the deleted image's own layer left the bucket");
        for content in [&shared[..], &kept[..]] {
            let url = node_b.url(&format!("/v2/library/s3gc/blobs/{}", Digest::sha256_of(content)));
            assert_eq!(client.get(url).send().await.unwrap().bytes().await.unwrap().as_ref(), content);
        }
        node_b.stop().await;
        node_a.stop().await;
    })
    .await;
}

fn describe(halt: &Halt) -> String {
    match halt {
        Halt::Dropped => "a connection dropped".to_owned(),
        Halt::Refused(refusal) => refusal.to_string(),
    }
}

on_both_databases!(
    collection_reclaims_what_no_manifest_names,
    no_push_fails_and_nothing_breaks_while_collections_run,
    untagged_manifests_go_unless_something_kept_holds_them,
    tagging_races_untagged_collection_safely,
    quota_follows_what_collection_deletes,
);
