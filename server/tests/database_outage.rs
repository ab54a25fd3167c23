//! PostgreSQL stopped under a serving Berth while three clients push: every
//! request that needs the database gets a clear 503 (`UNAVAILABLE`, with
//! `Retry-After`) instead of a 500 or a hang, the health check names the
//! database, and once PostgreSQL is back the same process serves again
//! without a restart. Afterwards every acknowledged push pulls whole,
//! every visible tag is whole and the store verifies clean: nothing
//! half-written.

mod common;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU8, Ordering},
    },
    time::Duration,
};

use common::{
    TestServer,
    private_postgres::PrivatePostgres,
    traffic::{self, Halt, Image, Pusher, Rng},
};
use reqwest::{Client, StatusCode};
use serde_json::Value;

const REPOSITORIES: [&str; 2] = ["library/outage-a", "library/outage-b"];
const CLIENTS: u64 = 3;

const BEFORE: u8 = 0;
const OUTAGE: u8 = 1;
const AFTER: u8 = 2;

#[derive(Default)]
struct Tally {
    live: Vec<Image>,
    /// 503 `UNAVAILABLE` answers with `Retry-After`, per phase.
    unavailable: [usize; 3],
    /// Images acknowledged, per phase.
    pushed: [usize; 3],
    /// Anything else: a 500, another code, no answer.
    failures: Vec<String>,
}

impl Tally {
    fn count(&mut self, pushed: Result<Image, Halt>, during: usize) {
        match pushed {
            Ok(image) => {
                self.live.push(image);
                self.pushed[during] += 1;
            }
            Err(Halt::Refused(refusal))
                if refusal.status == StatusCode::SERVICE_UNAVAILABLE
                    && refusal.retry_after.is_some()
                    && (refusal.code == "UNAVAILABLE" || refusal.code.is_empty()) =>
            {
                self.unavailable[during] += 1;
            }
            Err(halt) => self.failures.push(format!("phase {during}: {halt:?}")),
        }
    }
}

#[tokio::test]
async fn a_database_outage_answers_503_and_recovers_without_a_restart() {
    common::init_test_logging();
    let postgres = Arc::new(PrivatePostgres::start());
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir.path().to_owned(), &postgres.url(), &[]).await;
    let mut rng = Rng::seeded("BERTH_OUTAGE_SEED", "database outage");
    let token = Arc::new(traffic::push_token(&server.base, &REPOSITORIES).await);
    let pusher = Pusher::new(&server.base, token.clone(), traffic::shared_layers(&mut rng));
    let first = pusher.push_image(&mut rng, REPOSITORIES[0], REPOSITORIES[1], "before").await;
    let first = first.unwrap_or_else(|halt| panic!("the first push: {halt:?}"));

    let phase = Arc::new(AtomicU8::new(BEFORE));
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let (pusher, phase, stop, tally, mut rng) =
                (pusher.clone(), phase.clone(), stop.clone(), tally.clone(), rng.fork());
            tokio::spawn(async move {
                for seq in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let pick = rng.below(2) as usize;
                    let tag = format!("c{id}-{seq}");
                    let pushed = pusher.push_image(&mut rng, REPOSITORIES[pick], REPOSITORIES[1 - pick], &tag).await;
                    let during = usize::from(phase.load(Ordering::SeqCst));
                    tally.lock().unwrap().count(pushed, during);
                    if during == usize::from(OUTAGE) {
                        // What a client does with Retry-After, shortened.
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(1)).await;
    phase.store(OUTAGE, Ordering::SeqCst);
    let stopping = postgres.clone();
    tokio::task::spawn_blocking(move || stopping.stop()).await.unwrap();

    // In the outage: pulls, tokens and the REST API say so clearly, and the
    // health check names the database.
    let anonymous = Client::new();
    let pull = anonymous
        .get(server.url(&format!("/v2/{}/manifests/before", REPOSITORIES[0])))
        .header("accept", traffic::MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(pull.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(pull.headers()["retry-after"], "5");
    let body: Value = pull.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "UNAVAILABLE", "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("database"), "{body}");

    let service = server.state.tokens.service().to_owned();
    let token_request = common::admin_client()
        .get(server.url(&format!("/service/token?service={service}&scope=repository:library/x:pull")))
        .send()
        .await
        .unwrap();
    assert_eq!(token_request.status(), StatusCode::SERVICE_UNAVAILABLE);

    let projects = common::admin_client().get(server.url("/api/v2.0/projects")).send().await.unwrap();
    assert_eq!(projects.status(), StatusCode::SERVICE_UNAVAILABLE);

    let health: Value = anonymous.get(server.url("/api/v2.0/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "unhealthy", "{health}");
    let database = health["components"].as_array().unwrap().iter().find(|c| c["name"] == "database").unwrap();
    assert_eq!(database["status"], "unhealthy", "{health}");

    let outage_seen = async {
        while tally.lock().unwrap().unavailable[usize::from(OUTAGE)] < 3 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), outage_seen).await.expect("the clients meet the outage");

    // PostgreSQL returns; the same Berth serves again.
    let starting = postgres.clone();
    tokio::task::spawn_blocking(move || starting.start_again()).await.unwrap();
    phase.store(AFTER, Ordering::SeqCst);
    let recovered = async {
        while tally.lock().unwrap().pushed[usize::from(AFTER)] < 3 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), recovered).await.expect("pushes succeed again without a restart");
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        tokio::time::timeout(Duration::from_secs(60), client).await.expect("clients stop").unwrap();
    }

    let tally = std::mem::take(&mut *tally.lock().unwrap());
    println!("pushed per phase {:?}; 503 UNAVAILABLE per phase {:?}", tally.pushed, tally.unavailable);
    assert!(tally.failures.is_empty(), "answers other than success or a clear 503: {:#?}", tally.failures);
    assert_eq!(tally.unavailable[usize::from(BEFORE)], 0, "nothing was unavailable before the outage");

    let mut live = tally.live;
    live.push(first);
    let problems = traffic::check(&server.base, &token, &live, &[], &REPOSITORIES).await;
    assert!(problems.is_empty(), "{problems:#?}");
    let report = server.state.registry.verify_storage(false).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
    let health: Value = anonymous.get(server.url("/api/v2.0/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "healthy", "{health}");
    server.stop().await;
}
