//! Garbage collection on SQLite and PostgreSQL, run through the job
//! service: a dry run reports what would go and deletes nothing; a run
//! deletes the content no manifest names once its links are past the
//! window, keeps what live images and recently used links need, and logs
//! it; and under load (GC back to back while eight clients push images
//! that share layers and delete others) every acknowledged image stays
//! whole and no push fails.

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
    let base = server.url("");
    let mut rng = Rng::seeded("BERTH_GC_SEED", &format!("{backend:?}"));
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
    while started.elapsed() < LOAD {
        let run = collect(&server, &admin, json!({ "workers": 4 })).await;
        assert_eq!(run.status, Status::Success, "{run:?}");
        let summary = run.summary.unwrap();
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
    let last = collect(&server, &admin, json!({ "workers": 4 })).await;
    deleted_blobs += last.summary.as_ref().unwrap()["blobs_deleted"].as_u64().unwrap();
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
    server.stop().await;
}

fn describe(halt: &Halt) -> String {
    match halt {
        Halt::Dropped => "a connection dropped".to_owned(),
        Halt::Refused(refusal) => refusal.to_string(),
    }
}

on_both_databases!(collection_reclaims_what_no_manifest_names, no_push_fails_and_nothing_breaks_while_collections_run);
