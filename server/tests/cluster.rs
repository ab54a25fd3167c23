//! Three real `berth` processes behind haproxy, on one PostgreSQL database
//! and one Garage bucket, behave as one registry: an upload moves from node
//! to node, a token or a portal session from one node is good on every
//! node, taking a robot's rights away or changing settings reaches every
//! node within 5 s, sign-in throttling counts across nodes, one schedule
//! tick makes one execution (garbage collection and replication), a node
//! killed in the middle of a push loses the client nothing and publishes
//! nothing half-written (and docker's own retry then completes its push),
//! a node killed while replicating leaves nothing Running, and a newer
//! release's migration applies under serving nodes. (The client tests and
//! the GC stress test run on such a cluster too, in `clients.rs` and
//! `gc.rs`.)

mod common;

use std::time::{Duration, Instant};

use app::core::registry::digest::Digest;
use common::{ADMIN_PASSWORD, admin_client, browser_like_client, client_as, cluster::Cluster, replication::id_of};
use reqwest::{Client, StatusCode, header};
use serde_json::{Value, json};

/// What the issue asks: rights and settings reach every node within this long.
const PROPAGATION_BOUND: Duration = Duration::from_secs(5);

/// Bytes that do not repeat, `len` of them.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Polls `check` on every node until it holds on all of them; the time that
/// took, failing past [`PROPAGATION_BOUND`] (plus a second for the polling).
async fn until_every_node<F, Fut>(cluster: &Cluster, what: &str, check: F) -> Duration
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    for node in &cluster.nodes {
        while !check(node.base.clone()).await {
            assert!(
                started.elapsed() < PROPAGATION_BOUND + Duration::from_secs(1),
                "{what}: {} still disagrees after {:?}",
                node.name,
                started.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_moves_from_node_to_node() {
    common::within_time_limit(async {
        let cluster = Cluster::start(3).await;
        cluster.endpoint().create_projects(&["team"]).await;
        let admin = admin_client();
        let chunks: Vec<Vec<u8>> = (0..4).map(|n| noise(1 << 20, n)).collect();
        let whole: Vec<u8> = chunks.concat();
        let digest = Digest::sha256_of(&whole);
        let node = |n: usize, path: &str| cluster.nodes[n % 3].url(path);

        // Started on node0, a chunk each on node1, node2 and node0, its
        // progress asked of node1, finished on node2.
        let started = admin.post(node(0, "/v2/team/app/blobs/uploads/")).send().await.unwrap();
        assert_eq!(started.status(), StatusCode::ACCEPTED);
        let mut location = started.headers()[header::LOCATION].to_str().unwrap().to_owned();
        let mut offset = 0;
        for (n, chunk) in chunks[..3].iter().enumerate() {
            let response = admin
                .patch(node(n + 1, &location))
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .header(header::CONTENT_RANGE, format!("{offset}-{}", offset + chunk.len() - 1))
                .body(chunk.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::ACCEPTED, "chunk {n} on node{}", (n + 1) % 3);
            offset += chunk.len();
            assert_eq!(response.headers()["range"], format!("0-{}", offset - 1).as_str());
            location = response.headers()[header::LOCATION].to_str().unwrap().to_owned();
        }
        let progress = admin.get(node(1, &location)).send().await.unwrap();
        assert_eq!(progress.status(), StatusCode::NO_CONTENT);
        assert_eq!(progress.headers()["range"], format!("0-{}", offset - 1).as_str());
        let separator = if location.contains('?') { '&' } else { '?' };
        let finished = admin
            .put(node(2, &format!("{location}{separator}digest={digest}")))
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(chunks[3].clone())
            .send()
            .await
            .unwrap();
        assert_eq!(finished.status(), StatusCode::CREATED);

        // Every node serves the same bytes.
        for n in 0..3 {
            let pulled = admin.get(node(n, &format!("/v2/team/app/blobs/{digest}"))).send().await.unwrap();
            assert_eq!(pulled.status(), StatusCode::OK);
            assert_eq!(Digest::sha256_of(&pulled.bytes().await.unwrap()), digest, "node{n}");
        }

        // Through the load balancer, round robin spreads one upload's
        // requests over the nodes: each node counts some of its PATCHes.
        let mut before = Vec::new();
        for node in &cluster.nodes {
            before.push(patches_served(node).await);
        }
        let started = admin.post(cluster.url("/v2/team/other/blobs/uploads/")).send().await.unwrap();
        let mut location = started.headers()[header::LOCATION].to_str().unwrap().to_owned();
        let small: Vec<Vec<u8>> = (0..9).map(|n| noise(64 << 10, 100 + n)).collect();
        for chunk in &small {
            let response = admin.patch(cluster.url(&location)).body(chunk.clone()).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::ACCEPTED);
            location = response.headers()[header::LOCATION].to_str().unwrap().to_owned();
        }
        let digest = Digest::sha256_of(&small.concat());
        let separator = if location.contains('?') { '&' } else { '?' };
        let finished = admin.put(cluster.url(&format!("{location}{separator}digest={digest}"))).send().await.unwrap();
        assert_eq!(finished.status(), StatusCode::CREATED);
        for (node, before) in cluster.nodes.iter().zip(before) {
            let served = patches_served(node).await - before;
            assert!(served >= 1, "{} served none of the chunks", node.name);
        }
        let pulled = admin.get(cluster.url(&format!("/v2/team/other/blobs/{digest}"))).send().await.unwrap();
        assert_eq!(Digest::sha256_of(&pulled.bytes().await.unwrap()), digest, "through the load balancer");
        cluster.stop().await;
    })
    .await;
}

/// Saves Debian's docker-registry at `url` as a replication peer, through
/// the load balancer; its id.
async fn add_peer(cluster: &Cluster, url: &str) -> i64 {
    let registry = json!({"name": "peer", "type": "docker-registry", "url": url});
    let created = admin_client().post(cluster.url("/api/v2.0/registries")).json(&registry).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    id_of(&created)
}

/// PATCH requests `node` has served, from its metrics.
async fn patches_served(node: &common::cluster::Node) -> u64 {
    let metrics = Client::new().get(node.url("/metrics")).send().await.unwrap().text().await.unwrap();
    metrics
        .lines()
        .filter(|line| line.starts_with("berth_http_requests_total") && line.contains("method=\"PATCH\""))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// The token service's name, as the registry's challenge gives it.
async fn token_service(cluster: &Cluster) -> String {
    let challenge = Client::new().get(cluster.url("/v2/")).send().await.unwrap();
    let header = challenge.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().to_owned();
    let start = header.find("service=\"").expect("the challenge names the service") + "service=\"".len();
    header[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_or_a_session_from_one_node_is_good_on_every_node() {
    common::within_time_limit(async {
        let cluster = Cluster::start(3).await;
        cluster.endpoint().create_projects(&["team"]).await;
        let service = token_service(&cluster).await;

        // A registry token from node0 pushes on node1 and pulls on node2.
        let url = format!("/service/token?service={service}&scope=repository:team/app:pull,push");
        let issued: Value = admin_client().get(cluster.nodes[0].url(&url)).send().await.unwrap().json().await.unwrap();
        let token = issued["token"].as_str().unwrap().to_owned();
        let blob = noise(100_000, 7);
        let digest = Digest::sha256_of(&blob);
        let pushed = Client::new()
            .post(cluster.nodes[1].url(&format!("/v2/team/app/blobs/uploads/?digest={digest}")))
            .bearer_auth(&token)
            .body(blob.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(pushed.status(), StatusCode::CREATED);
        let pulled = Client::new()
            .get(cluster.nodes[2].url(&format!("/v2/team/app/blobs/{digest}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(pulled.status(), StatusCode::OK);
        assert_eq!(pulled.bytes().await.unwrap(), blob);

        // A portal session opened on node0 is good on node1 and node2 (the
        // cookie is the host's, whatever the port); signing out on node2
        // ends it on every node.
        let browser = browser_like_client();
        let login = browser
            .post(cluster.nodes[0].url("/portal/fn/login"))
            .header(header::ACCEPT, "text/html")
            .form(&[("username", "admin"), ("password", ADMIN_PASSWORD), ("next", "/")])
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), StatusCode::FOUND);
        for node in &cluster.nodes[1..] {
            let me = browser.get(node.url("/api/v2.0/users/current")).send().await.unwrap();
            assert_eq!(me.status(), StatusCode::OK, "{}", node.name);
            assert_eq!(me.json::<Value>().await.unwrap()["username"], "admin");
            let page = browser.get(node.url("/")).send().await.unwrap();
            assert_eq!(page.status(), StatusCode::OK, "the dashboard renders on {}", node.name);
        }
        let cookie = login.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
        let logout = browser
            .post(cluster.nodes[2].url("/portal/fn/logout"))
            .header(header::ACCEPT, "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(logout.status(), StatusCode::FOUND);
        let replay = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        for node in &cluster.nodes {
            let me = replay.get(node.url("/api/v2.0/users/current")).header(header::COOKIE, &cookie).send().await;
            assert_eq!(me.unwrap().status(), StatusCode::UNAUTHORIZED, "{} ended the session", node.name);
        }
        cluster.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_robot_is_refused_by_every_node_within_5_seconds() {
    common::within_time_limit(async {
        let cluster = Cluster::start(3).await;
        let endpoint = cluster.endpoint();
        endpoint.create_projects(&["team"]).await;
        let robot = endpoint.project_robot("team", "ci", &["pull", "push"]).await;
        let service = token_service(&cluster).await;
        let basic = client_as(&robot.name, &robot.secret);
        let url = format!("/service/token?service={service}&scope=repository:team/app:pull,push");
        let issued: Value = basic.get(cluster.url(&url)).send().await.unwrap().json().await.unwrap();
        let token = issued["token"].as_str().unwrap().to_owned();
        // Every node has just verified the robot's secret (and may remember it).
        for node in &cluster.nodes {
            assert_eq!(basic.get(node.url("/v2/")).send().await.unwrap().status(), StatusCode::OK);
            let started = Client::new().post(node.url("/v2/team/app/blobs/uploads/")).bearer_auth(&token).send();
            assert_eq!(started.await.unwrap().status(), StatusCode::ACCEPTED);
        }

        common::Endpoint::new(&cluster.nodes[1].base).set_robot_disabled(&robot, true).await;
        let took = until_every_node(&cluster, "the robot's secret", |base| {
            let basic = basic.clone();
            async move { basic.get(format!("{base}/v2/")).send().await.unwrap().status() == StatusCode::UNAUTHORIZED }
        })
        .await;
        let token_took = until_every_node(&cluster, "the robot's token", |base| {
            let token = token.clone();
            async move {
                let started = Client::new().post(format!("{base}/v2/team/app/blobs/uploads/")).bearer_auth(&token);
                started.send().await.unwrap().status() == StatusCode::UNAUTHORIZED
            }
        })
        .await;
        eprintln!("disabled robot refused everywhere after {took:?} (secret) and {token_took:?} (token)");
        cluster.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settings_change_reaches_every_node_within_5_seconds() {
    common::within_time_limit(async {
        let slapd = common::slapd::Slapd::start().await;
        let cluster = Cluster::start(3).await;
        let endpoint = cluster.endpoint();
        endpoint.create_user("dev", "Dev-Passw0rd-1").await;
        let dev = client_as("dev", "Dev-Passw0rd-1");
        for node in &cluster.nodes {
            assert_eq!(dev.get(node.url("/v2/")).send().await.unwrap().status(), StatusCode::OK);
        }
        // Switched to LDAP through node0: a database user can no longer sign
        // in anywhere, and a directory user can, everywhere.
        common::Endpoint::new(&cluster.nodes[0].base).use_ldap(&slapd.settings()).await;
        let alice = client_as("alice", "alice-pass");
        let took = until_every_node(&cluster, "login mode", |base| {
            let (dev, alice) = (dev.clone(), alice.clone());
            async move {
                dev.get(format!("{base}/v2/")).send().await.unwrap().status() == StatusCode::UNAUTHORIZED
                    && alice.get(format!("{base}/v2/")).send().await.unwrap().status() == StatusCode::OK
            }
        })
        .await;
        eprintln!("login mode changed everywhere after {took:?}");
        cluster.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_throttling_counts_across_nodes() {
    common::within_time_limit(async {
        let cluster = Cluster::start(3).await;
        cluster.endpoint().create_user("dev", "Dev-Passw0rd-1").await;
        let wrong = client_as("dev", "not-the-password");
        // Five wrong passwords, spread over the three nodes as a load
        // balancer would spread them…
        for n in 0..5 {
            let refused = wrong.get(cluster.nodes[n % 3].url("/v2/")).send().await.unwrap();
            assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "attempt {n}");
        }
        // …lock the pair out on every node, even with the right password,
        // through the load balancer too.
        let right = client_as("dev", "Dev-Passw0rd-1");
        for node in &cluster.nodes {
            let locked = right.get(node.url("/v2/")).send().await.unwrap();
            assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS, "{}", node.name);
        }
        let service = token_service(&cluster).await;
        let token = right.get(cluster.url(&format!("/service/token?service={service}"))).send().await.unwrap();
        assert_eq!(token.status(), StatusCode::TOO_MANY_REQUESTS, "through the load balancer");
        cluster.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_schedule_tick_makes_one_execution_on_three_nodes() {
    common::within_time_limit(async {
        let cluster = Cluster::start(3).await;
        let admin = admin_client();
        push_image(&admin, &cluster.base, "library/app", "v1", 1000).await.unwrap();
        let peer = common::distribution::Distribution::start().await;
        let registry_id = add_peer(&cluster, &peer.url).await;

        // Garbage collection and a replication every two seconds, for about ten seconds.
        let every_two_seconds = "*/2 * * * * *";
        let schedule = json!({"schedule": {"type": "Custom", "cron": every_two_seconds}, "parameters": {}});
        let set = admin.post(cluster.url("/api/v2.0/system/gc/schedule")).json(&schedule).send().await.unwrap();
        assert_eq!(set.status(), StatusCode::CREATED, "{}", set.text().await.unwrap());
        let mut policy = json!({
            "name": "ticking", "dest_registry": {"id": registry_id}, "filters": [{"type": "name", "value": "library/**"}],
            "trigger": {"type": "scheduled", "trigger_settings": {"cron": every_two_seconds}},
            "override": true, "enabled": true,
        });
        let created = admin.post(cluster.url("/api/v2.0/replication/policies")).json(&policy).send().await.unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        let policy_path = created.headers()["location"].to_str().unwrap().to_owned();
        let policy_id = id_of(&created);
        tokio::time::sleep(Duration::from_secs(10)).await;
        let none = json!({"schedule": {"type": "None"}, "parameters": {}});
        let unset = admin.put(cluster.url("/api/v2.0/system/gc/schedule")).json(&none).send().await.unwrap();
        assert_eq!(unset.status(), StatusCode::OK);
        policy["enabled"] = json!(false);
        let disabled = admin.put(cluster.url(&policy_path)).json(&policy).send().await.unwrap();
        assert_eq!(disabled.status(), StatusCode::OK);

        let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(cluster.database_url()).await.unwrap();
        for kind in ["gc".to_owned(), format!("replication:{policy_id}")] {
            let ticks: Vec<(Option<String>, i64)> = sqlx::query_as(
                "SELECT scheduled_for::text, count(*) FROM job_executions WHERE kind = $1 AND trigger = 'schedule' \
                 GROUP BY scheduled_for ORDER BY scheduled_for",
            )
            .bind(&kind)
            .fetch_all(&mut db)
            .await
            .unwrap();
            assert!(ticks.len() >= 3, "{kind}: a tick every two seconds for ten seconds: {ticks:?}");
            let once = ticks.iter().all(|(tick, count)| tick.is_some() && *count == 1);
            assert!(once, "{kind}: one execution per tick: {ticks:?}");
            // Three runners racing for each tick and its execution: none of them broke one.
            let failed: Vec<(i64, String, Option<String>)> = sqlx::query_as(
                "SELECT id, status, error FROM job_executions WHERE kind = $1 AND status IN ('error', 'stopped')",
            )
            .bind(&kind)
            .fetch_all(&mut db)
            .await
            .unwrap();
            assert!(failed.is_empty(), "{kind}: {failed:?}");
        }
        let nodes: Vec<(String,)> =
            sqlx::query_as("SELECT DISTINCT node FROM job_nodes").fetch_all(&mut db).await.unwrap();
        assert_eq!(nodes.len(), 3, "all three nodes' runners were looking: {nodes:?}");
        cluster.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_during_a_push_loses_the_client_nothing() {
    use futures_util::StreamExt;

    common::within_time_limit(async {
        let mut cluster = Cluster::start(3).await;
        cluster.endpoint().create_projects(&["team"]).await;
        let admin = admin_client();
        let layer = noise(48 << 20, 11);
        let digest = Digest::sha256_of(&layer);
        let started = admin.post(cluster.url("/v2/team/app/blobs/uploads/")).send().await.unwrap();
        assert_eq!(started.status(), StatusCode::ACCEPTED);
        let location = started.headers()[header::LOCATION].to_str().unwrap().to_owned();

        // The layer streams through the load balancer in 1 MiB pieces; once
        // 16 MiB are out, the node receiving it is killed.
        let (sent_tx, mut sent_rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
        let pieces: Vec<Vec<u8>> = layer.chunks(1 << 20).map(<[u8]>::to_vec).collect();
        let stream = futures_util::stream::iter(pieces.into_iter().enumerate()).then(move |(i, piece)| {
            let sent_tx = sent_tx.clone();
            async move {
                let _ = sent_tx.send(i + 1);
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok::<_, std::io::Error>(piece)
            }
        });
        let patch = tokio::spawn({
            let (admin, url) = (admin.clone(), cluster.url(&location));
            async move { admin.patch(url).body(reqwest::Body::wrap_stream(stream)).send().await }
        });
        while let Some(mebibytes) = sent_rx.recv().await {
            if mebibytes >= 16 {
                break;
            }
        }
        let busy = cluster.busy_nodes().await;
        assert_eq!(busy.len(), 1, "one node receives the layer: {busy:?}");
        cluster.nodes[busy[0]].kill().await;
        match patch.await.unwrap() {
            Err(_) => {}
            Ok(response) => assert!(response.status().is_server_error(), "the push fails: {}", response.status()),
        }

        // Nothing half-written is visible, on any node that is left.
        let survivors: Vec<usize> = (0..3).filter(|n| *n != busy[0]).collect();
        for &n in &survivors {
            let head = admin.head(cluster.nodes[n].url(&format!("/v2/team/app/blobs/{digest}"))).send().await;
            assert_eq!(head.unwrap().status(), StatusCode::NOT_FOUND, "node{n} shows no blob");
        }
        // The client asks where its upload stands (another node answers) and
        // sends the rest from there, then finishes it: the retry completes.
        let progress = admin.get(cluster.url(&location)).send().await.unwrap();
        assert_eq!(progress.status(), StatusCode::NO_CONTENT, "the upload outlives its node");
        let range = progress.headers()["range"].to_str().unwrap().to_owned();
        let stored: usize = match range.as_str() {
            "0-0" => 0,
            range => range.trim_start_matches("0-").parse::<usize>().unwrap() + 1,
        };
        assert_eq!(stored, 0, "a request cut off keeps none of its bytes: {range}");
        let resumed = admin
            .patch(cluster.url(&location))
            .header(header::CONTENT_RANGE, format!("{stored}-{}", layer.len() - 1))
            .body(layer[stored..].to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(resumed.status(), StatusCode::ACCEPTED);
        let location = resumed.headers()[header::LOCATION].to_str().unwrap().to_owned();
        let separator = if location.contains('?') { '&' } else { '?' };
        let finished = admin.put(cluster.url(&format!("{location}{separator}digest={digest}"))).send().await.unwrap();
        assert_eq!(finished.status(), StatusCode::CREATED);
        for &n in &survivors {
            let pulled = admin.get(cluster.nodes[n].url(&format!("/v2/team/app/blobs/{digest}"))).send().await;
            assert_eq!(Digest::sha256_of(&pulled.unwrap().bytes().await.unwrap()), digest, "node{n}");
        }
        // No staged part is left behind in the bucket.
        use app::core::storage::BlobStore;
        let staged = cluster.garage.store().list_uploads().await.unwrap();
        assert!(staged.is_empty(), "{staged:?}");

        // The killed node comes back and serves the same registry.
        cluster.restart(busy[0]).await;
        let pulled = admin.get(cluster.nodes[busy[0]].url(&format!("/v2/team/app/blobs/{digest}"))).send().await;
        assert_eq!(pulled.unwrap().status(), StatusCode::OK);
        cluster.stop().await;
    })
    .await;
}

/// Pushes a small image as `team/app:<tag>` through `base` and pulls its
/// manifest back; whether both answered as they should.
async fn push_and_pull(client: &Client, base: &str, tag: &str) -> Result<(), String> {
    push_image(client, base, "team/app", tag, 0).await?;
    let pulled = client
        .get(format!("{base}/v2/team/app/manifests/{tag}"))
        .header(header::ACCEPT, "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if pulled.status() != StatusCode::OK {
        return Err(format!("pull {tag}: {}", pulled.status()));
    }
    Ok(())
}

/// Pushes an image as `repo:tag` through `base`: a config naming the tag
/// and, when `layer_bytes` is not zero, one layer of that many bytes.
async fn push_image(client: &Client, base: &str, repo: &str, tag: &str, layer_bytes: usize) -> Result<(), String> {
    let config = format!(r#"{{"architecture":"amd64","os":"linux","tag":"{tag}"}}"#).into_bytes();
    let layer = noise(layer_bytes, tag.len() as u64 * 31 + tag.bytes().map(u64::from).sum::<u64>());
    let mut layers = Vec::new();
    let blobs: Vec<&[u8]> = if layer_bytes > 0 { vec![&config, &layer] } else { vec![&config] };
    for blob in blobs {
        let digest = Digest::sha256_of(blob);
        let pushed = client
            .post(format!("{base}/v2/{repo}/blobs/uploads/?digest={digest}"))
            .body(blob.to_vec())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if pushed.status() != StatusCode::CREATED {
            return Err(format!("blob of {repo}:{tag}: {}", pushed.status()));
        }
        if blob.len() == layer_bytes && layer_bytes > 0 {
            layers.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest.to_string(), "size": blob.len()}));
        }
    }
    let digest = Digest::sha256_of(&config);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest.to_string(), "size": config.len()},
        "layers": layers,
    });
    let put = client
        .put(format!("{base}/v2/{repo}/manifests/{tag}"))
        .header(header::CONTENT_TYPE, "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if put.status() != StatusCode::CREATED {
        return Err(format!("manifest {repo}:{tag}: {} {}", put.status(), put.text().await.unwrap_or_default()));
    }
    Ok(())
}

/// The PostgreSQL migrations from the first release that supports rolling
/// upgrades on: each must leave the previous release working, so it may
/// only add (docs/deployment.md).
const ROLLING_SINCE: u32 = 25;

#[test]
fn migrations_since_rolling_upgrades_only_add() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/postgres");
    // Anything that takes away or tightens what an older node reads or writes.
    let forbidden =
        ["DROP ", "RENAME", "TRUNCATE", "ALTER COLUMN", "SET NOT NULL", "ALTER TYPE", "CREATE UNIQUE INDEX"];
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let number: u32 = name.split('_').next().unwrap().parse().unwrap();
        if number < ROLLING_SINCE {
            continue;
        }
        checked += 1;
        let sql: String = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|line| line.split("--").next().unwrap())
            .collect::<Vec<_>>()
            .join(" ")
            .to_uppercase();
        let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        for word in forbidden {
            assert!(!sql.contains(word), "{name} uses {word}: older nodes may still rely on what it changes");
        }
        for statement in sql.split(';').map(str::trim).filter(|s| s.starts_with("ALTER TABLE")) {
            // The one change to an existing table allowed: a column older
            // nodes can ignore (nullable, or with a default).
            let actions = statement.split(',').map(str::trim);
            for (n, action) in actions.enumerate() {
                // The first action follows `ALTER TABLE <name>`.
                let action = if n == 0 { action.splitn(4, ' ').nth(3).unwrap_or_default() } else { action };
                assert!(action.starts_with("ADD COLUMN"), "{name}: {statement}: only ADD COLUMN may change a table");
                let needs_value = action.contains("NOT NULL") && !action.contains("DEFAULT");
                assert!(!needs_value, "{name}: {statement} needs a value older nodes do not write");
            }
        }
    }
    assert!(checked >= 1, "the migrations since {ROLLING_SINCE} were read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_release_migrates_while_the_nodes_serve() {
    use std::sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    };

    common::within_time_limit(async {
        let mut cluster = Cluster::start(3).await;
        cluster.endpoint().create_projects(&["team"]).await;

        // Clients push and pull through the load balancer all along.
        let stop = Arc::new(AtomicBool::new(false));
        let traffic = tokio::spawn({
            let (stop, base) = (stop.clone(), cluster.base.clone());
            async move {
                let client = admin_client();
                let (mut done, mut failures) = (0, Vec::new());
                while !stop.load(Ordering::Relaxed) {
                    if let Err(failure) = push_and_pull(&client, &base, &format!("t{done}")).await {
                        failures.push(failure);
                    }
                    done += 1;
                }
                (done, failures)
            }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;

        // The next release's first node migrates: this release's migrations
        // and one more of the kinds the deployment guide allows, applied by
        // sqlx's migrator under the serving nodes.
        let next = tempfile::tempdir().unwrap();
        let ours = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/postgres");
        for entry in std::fs::read_dir(ours).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, next.path().join(path.file_name().unwrap())).unwrap();
        }
        std::fs::write(
            next.path().join("9999_next_release.sql"),
            "ALTER TABLE manifests ADD COLUMN next_release_note TEXT;\n\
             ALTER TABLE repositories ADD COLUMN next_release_flag BOOLEAN NOT NULL DEFAULT false;\n\
             ALTER TABLE tags ADD COLUMN next_release_seen TIMESTAMPTZ;\n\
             CREATE TABLE next_release_things (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name TEXT NOT NULL);\n\
             CREATE INDEX next_release_manifests ON manifests (repository_id, next_release_note);\n",
        )
        .unwrap();
        let pool = sqlx::PgPool::connect(cluster.database_url()).await.unwrap();
        let migrator = sqlx::migrate::Migrator::new(next.path()).await.unwrap();
        migrator.run(&pool).await.expect("the next release migrates");
        tokio::time::sleep(Duration::from_secs(2)).await;
        stop.store(true, Ordering::Relaxed);
        let (done, failures) = traffic.await.unwrap();
        assert!(done >= 5, "pushes kept going: {done}");
        assert!(failures.is_empty(), "{} of {done} pushes failed: {failures:?}", failures.len());

        // A node of this release restarting after that (a crash, a rolling
        // restart) still starts, ignoring the migration it does not know, and serves.
        cluster.nodes[1].stop().await;
        cluster.restart(1).await;
        push_and_pull(&admin_client(), &cluster.nodes[1].base, "after-restart").await.unwrap();
        cluster.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_while_replicating_leaves_nothing_running() {
    common::within_time_limit(async {
        let mut cluster = Cluster::start(3).await;
        let admin = admin_client();
        // Enough artifacts (in the `library` project every registry starts with) that replicating them takes a few seconds.
        let pushes = (0..120).map(|n| {
            let (admin, base) = (admin.clone(), cluster.base.clone());
            async move { push_image(&admin, &base, "library/app", &format!("v{n}"), 256 << 10).await }
        });
        for pushed in futures_util::future::join_all(pushes).await {
            pushed.unwrap();
        }
        let peer = common::distribution::Distribution::start().await;
        let registry_id = add_peer(&cluster, &peer.url).await;
        let policy = json!({
            "name": "to-peer", "dest_registry": {"id": registry_id}, "filters": [{"type": "name", "value": "library/**"}],
            "trigger": {"type": "manual"}, "override": true, "enabled": true,
        });
        let created = admin.post(cluster.url("/api/v2.0/replication/policies")).json(&policy).send().await.unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        let policy_id = id_of(&created);
        let started = admin
            .post(cluster.url("/api/v2.0/replication/executions"))
            .json(&json!({"policy_id": policy_id}))
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), StatusCode::CREATED);
        let location = started.headers()["location"].to_str().unwrap().to_owned();
        let execution = id_of(&started);

        // Once the execution is running and has copied something, the node
        // holding its lease is killed.
        let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(cluster.database_url()).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let pid: i64 = loop {
            let holder: Option<(i64, i64)> = sqlx::query_as(
                "SELECT n.pid::BIGINT, (SELECT count(*) FROM replication_tasks t WHERE t.execution_id = e.id \
                 AND t.status = 'succeeded') FROM job_executions e JOIN job_nodes n ON n.node = e.lease_owner \
                 WHERE e.id = $1 AND e.status = 'running'",
            )
            .bind(execution)
            .fetch_optional(&mut db)
            .await
            .unwrap();
            if let Some((pid, copied)) = holder
                && copied >= 3
            {
                break pid;
            }
            assert!(Instant::now() < deadline, "the replication never got going");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let victim = cluster.nodes.iter().position(|node| node.pid() == Some(pid as u32)).expect("a node of ours");
        cluster.nodes[victim].kill().await;

        // Another node ends it once the lease runs out: Error, with no task
        // left pending or running, as the API reports it too.
        let deadline = Instant::now() + Duration::from_secs(75);
        let status = loop {
            let (status,): (String,) = sqlx::query_as("SELECT status FROM job_executions WHERE id = $1")
                .bind(execution)
                .fetch_one(&mut db)
                .await
                .unwrap();
            if status != "running" {
                break status;
            }
            assert!(Instant::now() < deadline, "the execution stayed Running after its node died");
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        assert_eq!(status, "error");
        let (unfinished,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM replication_tasks WHERE execution_id = $1 AND status IN ('pending', 'running')",
        )
        .bind(execution)
        .fetch_one(&mut db)
        .await
        .unwrap();
        assert_eq!(unfinished, 0, "the dead node's tasks ended with its execution");
        let reported: Value = admin.get(cluster.url(&location)).send().await.unwrap().json().await.unwrap();
        assert_eq!(reported["status"], "Failed", "{reported}");
        cluster.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_retries_a_push_whose_node_was_killed_and_finishes_elsewhere() {
    use common::docker::{Docker, text};

    common::within_time_limit(async {
        let mut cluster = Cluster::start(3).await;
        cluster.endpoint().create_projects(&["team"]).await;
        let docker = Docker::start().await;
        let host = cluster.endpoint().host();
        let login = docker.login(&host, "admin", ADMIN_PASSWORD).await;
        assert!(login.status.success(), "{}", text(&login));

        // An image with one 48 MiB layer of noise: docker compresses it as
        // it uploads, so the layer's PATCH streams for a while.
        let rootfs = docker.dir().join("big-rootfs");
        std::fs::create_dir_all(&rootfs).unwrap();
        std::fs::write(rootfs.join("noise.bin"), noise(48 << 20, 99)).unwrap();
        let tar = docker.dir().join("big.tar");
        let packed = std::process::Command::new("tar")
            .args(["-C", &rootfs.display().to_string(), "-cf", &tar.display().to_string(), "."])
            .status()
            .unwrap();
        assert!(packed.success());
        let image = format!("{host}/team/big:v1");
        docker.ok(&["import", &tar.display().to_string(), &image]).await;
        let id = docker.ok(&["image", "inspect", "--format", "{{.Id}}", &image]).await;

        // The push runs; a node that stays busy across two looks is the one
        // receiving the layer, and it is killed.
        let push = tokio::spawn({
            let image = image.clone();
            let docker_dir = docker.dir().to_owned();
            async move {
                tokio::process::Command::new("/usr/bin/docker")
                    .args(["push", &image])
                    .env("DOCKER_HOST", format!("unix://{}", docker_dir.join("docker.sock").display()))
                    .env("DOCKER_CONFIG", docker_dir.join("config"))
                    .output()
                    .await
                    .unwrap()
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let victim = loop {
            let first = cluster.busy_nodes().await;
            tokio::time::sleep(Duration::from_millis(150)).await;
            let second = cluster.busy_nodes().await;
            if let Some(node) = first.iter().find(|n| second.contains(n)) {
                break *node;
            }
            assert!(!push.is_finished(), "the push ended before a node could be killed under it");
            assert!(Instant::now() < deadline, "no node was ever busy with the push");
        };
        cluster.nodes[victim].kill().await;

        // docker retries the layer and the push completes through the others.
        let output = push.await.unwrap();
        assert!(output.status.success(), "docker push failed:\n{}", text(&output));
        // The kill cut the layer's upload, and docker's own retry went to another node.
        let printed = text(&output);
        assert!(printed.contains("Retrying in"), "node{victim}'s death did not touch the push:\n{printed}");
        docker.ok(&["rmi", &image]).await;
        docker.ok(&["pull", &image]).await;
        assert_eq!(docker.ok(&["image", "inspect", "--format", "{{.Id}}", &image]).await, id, "the same image");
        cluster.stop().await;
    })
    .await;
}
