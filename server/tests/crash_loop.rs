//! The crash loop: the real `berth` killed with SIGKILL at random moments,
//! again and again, while three clients push images (monolithic, one-shot,
//! chunked and mounted blobs; layers shared between images and
//! repositories) and delete others. After every kill `berth storage verify`
//! finds the store clean; after every restart each acknowledged push pulls
//! with its digests, each acknowledged delete stays deleted, and every tag
//! anyone can see is whole: nothing half-published shows. On SQLite and on
//! PostgreSQL; the seed is printed so a failure can be replayed
//! (`BERTH_CRASH_SEED`).
//!
//! And garbage collection killed in the middle of its sweep: the store
//! verifies clean, the execution ends as Error once its lease runs out,
//! every kept image pulls whole, and the next run completes.

mod common;

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::StreamExt;

use common::{
    Backend, TestDatabase, process,
    traffic::{self, Halt, Image, Pusher, Rng},
};
use tokio::process::Child;

/// Kills per database backend: 60 in all.
const KILLS: u32 = 30;
const CLIENTS: u64 = 3;
const REPOSITORIES: [&str; 2] = ["library/crash-a", "library/crash-b"];
/// Live images above which clients delete more than they push, so the
/// checks after each restart stay bounded.
const LIVE_TARGET: usize = 60;

#[tokio::test]
async fn acknowledged_pushes_survive_sigkill_on_sqlite() {
    crash_loop(Backend::Sqlite).await;
}

#[tokio::test]
async fn acknowledged_pushes_survive_sigkill_on_postgres() {
    crash_loop(Backend::Postgres).await;
}

#[tokio::test]
async fn a_collection_killed_mid_sweep_loses_nothing_on_sqlite() {
    collection_killed_mid_sweep(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_collection_killed_mid_sweep_loses_nothing_on_postgres() {
    collection_killed_mid_sweep(Backend::Postgres).await;
}

/// What the clients were told, and what no crash explains.
#[derive(Default)]
struct Ledger {
    /// Acknowledged with 201 and not deleted since.
    live: Vec<Image>,
    /// Deleted with an acknowledged 202.
    deleted: Vec<Image>,
    /// Answers that a killed server does not explain.
    failures: Vec<String>,
    pushed: u64,
}

/// One berth process with its data directory, database and port.
struct Node {
    dir: tempfile::TempDir,
    database: TestDatabase,
    port: u16,
    child: Option<Child>,
    /// Settings besides the harness's own.
    extra: Vec<(&'static str, String)>,
}

impl Node {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn command(&self) -> tokio::process::Command {
        let mut command = process::berth(self.dir.path());
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("berth.log")).unwrap();
        command
            .env("BERTH_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("BERTH_EXTERNAL_URL", self.base())
            .env("BERTH_DATA_DIR", "data")
            .env("BERTH_DATABASE_URL", &self.database.url)
            .env("BERTH_ADMIN_PASSWORD", common::ADMIN_PASSWORD)
            .env("BERTH_LOG_LEVEL", "warn")
            .envs(self.extra.iter().cloned())
            .stderr(Stdio::from(log));
        command
    }

    async fn start(&mut self) {
        let (child, _) = process::start(self.command()).await;
        self.child = Some(child);
    }

    async fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().await.unwrap();
    }

    /// `berth storage verify` on the stopped node's data.
    async fn verify_storage(&self) -> Result<String, String> {
        let output = self.command().args(["storage", "verify"]).stderr(Stdio::piped()).output().await.unwrap();
        let report = String::from_utf8_lossy(&output.stdout);
        if output.status.success() && report.contains("all match their digests") {
            Ok(report.into_owned())
        } else {
            Err(format!("{report}{}", String::from_utf8_lossy(&output.stderr)))
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("berth.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

async fn crash_loop(backend: Backend) {
    common::init_test_logging();
    let mut rng = Rng::seeded("BERTH_CRASH_SEED", &format!("{backend:?}"));
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(backend, &dir.path().join("data")).await;
    let mut node = Node { dir, database, port: process::free_port(), child: None, extra: Vec::new() };
    node.start().await;
    let token = Arc::new(traffic::push_token(&node.base(), &REPOSITORIES).await);
    let layers = traffic::shared_layers(&mut rng);
    let ledger = Arc::new(Mutex::new(Ledger::default()));

    for round in 0..KILLS {
        let pusher = Pusher::new(&node.base(), token.clone(), layers.clone());
        let clients: Vec<_> = (0..CLIENTS)
            .map(|id| tokio::spawn(client(pusher.clone(), ledger.clone(), format!("c{id}-r{round}"), rng.fork())))
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.below(1500))).await;
        node.kill().await;
        for client in clients {
            tokio::time::timeout(Duration::from_secs(60), client).await.expect("clients stop").unwrap();
        }
        if let Err(report) = node.verify_storage().await {
            panic!("after kill {round}, `berth storage verify` reports:\n{report}");
        }
        node.start().await;
        let (live, deleted) = {
            let ledger = ledger.lock().unwrap();
            (ledger.live.clone(), ledger.deleted.clone())
        };
        let problems = traffic::check(&node.base(), &token, &live, &deleted, &REPOSITORIES).await;
        let failures = std::mem::take(&mut ledger.lock().unwrap().failures);
        if !problems.is_empty() || !failures.is_empty() {
            panic!(
                "after kill {round}:\nproblems: {problems:#?}\nfailed requests: {failures:#?}\nserver log:\n{}",
                node.log_tail()
            );
        }
    }
    node.kill().await;
    let ledger = ledger.lock().unwrap();
    println!(
        "{backend:?}: {KILLS} kills; {} pushes acknowledged; {} live images and {} deletes checked after the last",
        ledger.pushed,
        ledger.live.len(),
        ledger.deleted.len()
    );
    assert!(ledger.pushed >= u64::from(KILLS), "the clients pushed too little to prove anything: {}", ledger.pushed);
}

/// One client: pushes and deletes until the server dies under it. Deletes
/// claim their image first, so no two clients race for one; a delete the
/// kill cut short leaves its image in neither list (either outcome is right).
async fn client(pusher: Pusher, ledger: Arc<Mutex<Ledger>>, name: String, mut rng: Rng) {
    for seq in 0.. {
        let live = ledger.lock().unwrap().live.len();
        let deletes_in_ten = if live > LIVE_TARGET { 6 } else { 3 };
        let step = if rng.below(10) < deletes_in_ten {
            let claimed = {
                let mut ledger = ledger.lock().unwrap();
                let index = rng.below(ledger.live.len().max(1) as u64) as usize;
                (index < ledger.live.len()).then(|| ledger.live.swap_remove(index))
            };
            match claimed {
                Some(image) => pusher.delete(&image).await.map(|()| ledger.lock().unwrap().deleted.push(image)),
                None => Ok(()),
            }
        } else {
            let pick = rng.below(2) as usize;
            let (repository, other) = (REPOSITORIES[pick], REPOSITORIES[1 - pick]);
            pusher.push_image(&mut rng, repository, other, &format!("{name}-{seq}")).await.map(|image| {
                let mut ledger = ledger.lock().unwrap();
                ledger.live.push(image);
                ledger.pushed += 1;
            })
        };
        match step {
            Ok(()) => {}
            Err(Halt::Dropped) => return,
            Err(Halt::Refused(refusal)) => {
                ledger.lock().unwrap().failures.push(refusal.to_string());
                return;
            }
        }
    }
}

/// Garbage blobs a collection has to sweep: enough that it is still
/// deleting when the kill comes.
const GARBAGE: usize = 1500;

async fn collection_killed_mid_sweep(backend: Backend) {
    common::init_test_logging();
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(backend, &dir.path().join("data")).await;
    let extra = vec![("BERTH_GC_LINK_WINDOW_SECONDS", "1".to_owned())];
    let mut node = Node { dir, database, port: process::free_port(), child: None, extra };
    node.start().await;
    let client = common::admin_client();
    let base = node.base();

    let mut kept = Vec::new();
    for n in 0..10 {
        kept.push(
            push_image(&client, &base, "library/kept", &format!("v{n}"), format!("kept layer {n}").as_bytes()).await,
        );
    }
    for attempt in 0..3 {
        // Blobs pushed and never named: the collection's to sweep.
        let garbage: Vec<Vec<u8>> =
            (0..GARBAGE).map(|n| format!("garbage {attempt}-{n} {}", "x".repeat(512)).into_bytes()).collect();
        futures_util::stream::iter(garbage.iter().map(|blob| push_blob(&client, &base, "library/scratch", blob)))
            .buffer_unordered(8)
            .collect::<Vec<()>>()
            .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;

        let id = start_collection(&client, &base).await;
        // Killed once the sweep has begun.
        let log_url = format!("{base}/api/v2.0/system/gc/{id}/log");
        for _ in 0..1000 {
            let log = client.get(&log_url).send().await.unwrap().text().await.unwrap();
            if log.contains("blobs no repository links to") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(attempt * 40)).await;
        node.kill().await;
        if let Err(report) = node.verify_storage().await {
            panic!("after the kill, `berth storage verify` reports:\n{report}");
        }
        node.start().await;
        let status = run_status(&client, &base, id).await;
        if status == "Success" {
            println!("attempt {attempt}: the sweep ended before the kill; again with more garbage");
            continue;
        }
        assert_eq!(status, "Running", "a run killed mid-sweep");
        // The lease runs out (30 s) and another look ends the run as Error.
        let mut status = status;
        for _ in 0..90 {
            status = run_status(&client, &base, id).await;
            if status != "Running" {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        assert_eq!(status, "Error", "a killed run does not stay Running:\n{}", node.log_tail());

        let next = start_collection(&client, &base).await;
        let mut status = String::new();
        for _ in 0..600 {
            status = run_status(&client, &base, next).await;
            if status != "Running" && status != "Pending" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(status, "Success", "the next run completes:\n{}", node.log_tail());
        for (tag, blobs) in &kept {
            for blob in blobs {
                let url =
                    format!("{base}/v2/library/kept/blobs/{}", app::core::registry::digest::Digest::sha256_of(blob));
                let pulled = client.get(url).send().await.unwrap().bytes().await.unwrap();
                assert_eq!(pulled.as_ref(), blob.as_slice(), "{tag} pulls whole");
            }
            let manifest = client
                .get(format!("{base}/v2/library/kept/manifests/{tag}"))
                .header("accept", "application/vnd.oci.image.manifest.v1+json")
                .send()
                .await
                .unwrap();
            assert_eq!(manifest.status(), reqwest::StatusCode::OK, "{tag}");
        }
        node.kill().await;
        let report = node.verify_storage().await.expect("the store verifies clean");
        assert!(!report.contains("cut short"), "the next run removed every record it left: {report}");
        return;
    }
    panic!("three sweeps ended before the kill reached them");
}

/// Starts a collection over REST (Harbor's "Manual" schedule); its id.
async fn start_collection(client: &reqwest::Client, base: &str) -> i64 {
    let body = serde_json::json!({ "schedule": { "type": "Manual" }, "parameters": { "workers": 1 } });
    let response = client.post(format!("{base}/api/v2.0/system/gc/schedule")).json(&body).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    location.rsplit('/').next().unwrap().parse().unwrap()
}

async fn run_status(client: &reqwest::Client, base: &str, id: i64) -> String {
    let run: serde_json::Value =
        client.get(format!("{base}/api/v2.0/system/gc/{id}")).send().await.unwrap().json().await.unwrap();
    run["job_status"].as_str().unwrap().to_owned()
}

async fn push_blob(client: &reqwest::Client, base: &str, repo: &str, blob: &[u8]) {
    let digest = app::core::registry::digest::Digest::sha256_of(blob);
    let url = format!("{base}/v2/{repo}/blobs/uploads/?digest={digest}");
    let response = client.post(url).body(blob.to_vec()).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
}

/// Pushes an image of one layer; its tag and blobs.
async fn push_image(
    client: &reqwest::Client,
    base: &str,
    repo: &str,
    tag: &str,
    layer: &[u8],
) -> (String, Vec<Vec<u8>>) {
    use app::core::registry::digest::Digest;
    let config = format!(r#"{{"architecture":"amd64","os":"linux","tag":"{tag}"}}"#).into_bytes();
    for blob in [&config, &layer.to_vec()] {
        push_blob(client, base, repo, blob).await;
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": Digest::sha256_of(&config).to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": Digest::sha256_of(layer).to_string(), "size": layer.len()}],
    });
    let response = client
        .put(format!("{base}/v2/{repo}/manifests/{tag}"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    (tag.to_owned(), vec![config, layer.to_vec()])
}
