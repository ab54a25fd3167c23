//! The portal under concurrent load, as browsers treat it: every page
//! rendered thousands of times at once, clients that hang up at random
//! points (after the headers, after a piece of the body, before the answer),
//! and sessions that end while pages are being rendered for them. Every
//! render must finish (or be cut off by the server) in bounded time, and the
//! registry must keep answering throughout.
//!
//! The number of renders is `BERTH_STRESS_RENDERS` (default 3000).

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use common::{Backend, TestServer};
use reqwest::{Client, StatusCode};
use tokio::sync::Mutex;

/// Longer than any render may take (the server cuts renders off well before).
const REQUEST_LIMIT: Duration = Duration::from_secs(60);
/// Clients sharing one cookie jar, so one of them signing out ends the
/// session the others are rendering with.
const CLIENTS: usize = 6;
const WORKERS_PER_CLIENT: usize = 3;

/// A small, seeded generator: the run can be repeated from its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[derive(Clone, Copy, Debug)]
enum Visit {
    /// Reads the whole page.
    Whole,
    /// Hangs up once the headers arrived.
    AfterHeaders,
    /// Hangs up after the first piece of the body.
    AfterFirstChunk,
    /// Gives up a few milliseconds in, usually before any answer.
    Impatient,
}

async fn renders_survive_disconnects_and_ending_sessions(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team", "tools"]).await;
    let admin = common::admin_client();
    let (digest, _) = common::push_image(&admin, &server, "team/app", "v1", b"layer").await;
    common::push_image(&admin, &server, "team/nested/tool", "v1", b"tool layer").await;
    common::push_image(&admin, &server, "tools/empty", "latest", b"another layer").await;
    let robot = serde_json::json!({
        "name": "ci", "duration": -1, "level": "project",
        "permissions": [{"kind": "project", "namespace": "team", "access": [{"resource": "repository", "action": "pull"}]}],
    });
    let created = admin.post(server.url("/api/v2.0/robots")).json(&robot).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);

    let mut pages = common::portal_pages(&digest);
    pages.extend(["/projects/tools/repositories/empty", "/login", "/no/such/page"].map(str::to_owned));
    let pages = Arc::new(pages);
    let target: usize = std::env::var("BERTH_STRESS_RENDERS").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
    let started = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let done = Arc::new(AtomicBool::new(false));

    let prober = tokio::spawn(probe_registry(server.base.clone(), done.clone(), failures.clone()));
    let mut workers = Vec::new();
    for c in 0..CLIENTS {
        let client = common::portal_client(&server, "admin", common::ADMIN_PASSWORD).await;
        for w in 0..WORKERS_PER_CLIENT {
            let (client, pages, started, failures, base) =
                (client.clone(), pages.clone(), started.clone(), failures.clone(), server.base.clone());
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((c * WORKERS_PER_CLIENT + w + 1) as u64 * 0x1000_0001));
            workers.push(tokio::spawn(async move {
                while started.fetch_add(1, Ordering::Relaxed) < target {
                    // One worker of each client now and then ends the
                    // session and signs in again while the others render.
                    if w == 0 && rng.below(40) == 0 {
                        sign_out_and_in(&client, &base).await;
                        continue;
                    }
                    let page = &pages[rng.below(pages.len())];
                    let visit =
                        [Visit::Whole, Visit::AfterHeaders, Visit::AfterFirstChunk, Visit::Impatient][rng.below(4)];
                    if let Err(failure) = visit_page(&client, &base, page, visit, rng.below(20)).await {
                        failures.lock().await.push(failure);
                    }
                }
            }));
        }
    }
    for worker in workers {
        worker.await.expect("stress worker");
    }
    done.store(true, Ordering::Relaxed);
    prober.await.expect("registry prober");
    let failures = failures.lock().await;
    assert!(
        failures.is_empty(),
        "{} failures, the first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n")
    );

    // Nothing got stuck: the portal's health component and metrics say so.
    let health: serde_json::Value = reqwest::get(server.url("/api/v2.0/health")).await.unwrap().json().await.unwrap();
    let portal = health["components"].as_array().unwrap().iter().find(|c| c["name"] == "portal").cloned();
    assert_eq!(portal.map(|c| c["status"].clone()), Some(serde_json::json!("healthy")), "{health}");
    // Renders whose clients hung up finish on their own, within their time limit.
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = reqwest::get(server.url("/metrics")).await.unwrap().text().await.unwrap();
        if metrics.contains("berth_portal_renders_in_flight 0") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(metrics.contains("berth_portal_render_threads_stuck 0"), "{metrics}");
    assert!(metrics.contains("berth_portal_renders_in_flight 0"), "{metrics}");

    // After all that, pages still render whole.
    let portal = common::portal_client(&server, "admin", common::ADMIN_PASSWORD).await;
    for page in pages.iter().filter(|p| !p.contains("no/such")) {
        let response = portal.get(server.url(page)).send().await.unwrap();
        if response.status().is_redirection() {
            continue; // the login page, for someone signed in
        }
        assert_eq!(response.status(), StatusCode::OK, "{page}");
        assert!(response.text().await.unwrap().contains("</html>"), "{page} renders whole");
    }
    server.stop().await;
}

/// Visits `page` the way `visit` says; an error describes what went wrong.
async fn visit_page(client: &Client, base: &str, page: &str, visit: Visit, wait_ms: usize) -> Result<(), String> {
    let request = client.get(format!("{base}{page}"));
    let outcome = tokio::time::timeout(REQUEST_LIMIT, async {
        if let Visit::Impatient = visit {
            // Dropping the request future closes the connection mid-render.
            let _ = tokio::time::timeout(Duration::from_millis(wait_ms as u64 + 1), request.send()).await;
            return Ok(());
        }
        let mut response = request.send().await.map_err(|e| format!("{page}: {e}"))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(format!("{page}: answered {status}"));
        }
        match visit {
            Visit::Whole => {
                response.text().await.map_err(|e| format!("{page}: reading the body: {e}"))?;
            }
            Visit::AfterFirstChunk => {
                let _ = response.chunk().await;
            }
            Visit::AfterHeaders | Visit::Impatient => {}
        }
        Ok(())
    })
    .await;
    outcome.unwrap_or_else(|_| Err(format!("{page} ({visit:?}): no answer within {} s", REQUEST_LIMIT.as_secs())))
}

async fn sign_out_and_in(client: &Client, base: &str) {
    let _ = client.post(format!("{base}/portal/fn/logout")).send().await;
    let _ = client
        .post(format!("{base}/portal/fn/login"))
        .form(&[("username", "admin"), ("password", common::ADMIN_PASSWORD)])
        .send()
        .await;
}

/// Pulls a manifest every 50 ms while the portal is under load: the
/// registry must answer each within the request limit.
async fn probe_registry(base: String, done: Arc<AtomicBool>, failures: Arc<Mutex<Vec<String>>>) {
    let client = common::admin_client();
    while !done.load(Ordering::Relaxed) {
        let pull = client
            .get(format!("{base}/v2/team/app/manifests/v1"))
            .header("accept", "application/vnd.oci.image.manifest.v1+json")
            .send();
        match tokio::time::timeout(REQUEST_LIMIT, pull).await {
            Ok(Ok(response)) if response.status() == StatusCode::OK => {}
            Ok(Ok(response)) => failures.lock().await.push(format!("registry answered {}", response.status())),
            Ok(Err(error)) => failures.lock().await.push(format!("registry: {error}")),
            Err(_) => failures.lock().await.push("registry: no answer while the portal was under load".to_owned()),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

on_both_databases!(renders_survive_disconnects_and_ending_sessions);
