//! Pull-based replication from Debian's docker-registry (distribution 2.8,
//! behind htpasswd) whose storage is a bucket on a real Garage: its blob
//! GETs answer 307 with a presigned URL on another origin. Berth follows
//! the redirect, sends the registry's credential only to the registry,
//! and stores the blobs byte for byte. A relay in front of Garage keeps a
//! copy of every request that reaches object storage, which shows the
//! presigned requests Berth made and that none of them carried
//! `Authorization`.

mod common;

use std::sync::{Arc, Mutex};

use app::core::{registry::digest::Digest, storage::S3Settings};
use common::{
    Backend, TestServer,
    distribution::Distribution,
    garage::Garage,
    replication::{create_policy, create_registry, descriptor, push_blob_to, push_manifest_to, run, task_logs},
};
use reqwest::StatusCode;
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::{JoinHandle, JoinSet},
};

const USER: &str = "source";
const PASSWORD: &str = "source-password-9";
const REPO: &str = "library/redirected";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// What one client sent on one connection, as it arrives.
type Record = Arc<Mutex<Vec<u8>>>;

/// A TCP relay to `upstream` that keeps, per connection, the bytes the
/// client sent. It forwards them unchanged (the `Host` a presigned URL
/// was signed for included), so Garage answers as if asked directly.
struct Relay {
    url: String,
    sent: Arc<Mutex<Vec<Record>>>,
    task: JoinHandle<()>,
}

impl Relay {
    async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let sent: Arc<Mutex<Vec<Record>>> = Arc::default();
        let (upstream, connections) = (upstream.to_owned(), sent.clone());
        // The connections' tasks live in the set: aborting this task ends them all.
        let task = tokio::spawn(async move {
            let mut relays = JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                let record = Record::default();
                connections.lock().unwrap().push(record.clone());
                relays.spawn(relay(client, upstream.clone(), record));
                while relays.try_join_next().is_some() {}
            }
        });
        Self { url, sent, task }
    }

    /// Every request head clients sent so far, connection by connection.
    fn requests(&self) -> Vec<Head> {
        self.sent.lock().unwrap().iter().flat_map(|record| heads(&record.lock().unwrap())).collect()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(client: TcpStream, upstream: String, record: Record) {
    let Ok(server) = TcpStream::connect(&upstream).await else { return };
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let back = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
        let _ = to_client.shutdown().await;
    });
    let mut buffer = vec![0; 64 << 10];
    while let Ok(read @ 1..) = from_client.read(&mut buffer).await {
        record.lock().unwrap().extend_from_slice(&buffer[..read]);
        if to_server.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
    let _ = to_server.shutdown().await;
    let _ = back.await;
}

/// An HTTP/1.1 request head: its method, target and headers (names in lower case).
#[derive(Debug)]
struct Head {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, value)| value.as_str())
    }
}

/// The request heads in what one client sent on one connection, skipping
/// bodies by their `Content-Length` (a chunked body ends the reading: no
/// client here sends one to object storage).
fn heads(mut sent: &[u8]) -> Vec<Head> {
    let mut heads = Vec::new();
    while let Some(end) = sent.windows(4).position(|window| window == b"\r\n\r\n") {
        let text = String::from_utf8_lossy(&sent[..end]);
        let mut lines = text.split("\r\n");
        let mut request_line = lines.next().unwrap_or_default().split(' ');
        let (method, target) = (request_line.next().unwrap_or_default(), request_line.next().unwrap_or_default());
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let head = Head { method: method.to_owned(), target: target.to_owned(), headers };
        let length: usize = head.header("content-length").and_then(|n| n.parse().ok()).unwrap_or(0);
        let chunked = head.header("transfer-encoding").is_some_and(|coding| coding.contains("chunked"));
        heads.push(head);
        if chunked {
            break;
        }
        sent = &sent[(end + 4 + length).min(sent.len())..];
    }
    heads
}

/// A few hundred KB that do not compress (xorshift), the same each run.
fn layer() -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    (0..384 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_follows_blob_redirects_to_object_storage_without_the_credential() {
    common::within_time_limit(async {
        common::init_test_logging();
        let garage = Garage::start().await;
        let garage_endpoint = garage.settings.endpoint.clone().unwrap();
        let relay = Relay::start(garage_endpoint.trim_start_matches("http://")).await;
        let bucket = S3Settings {
            endpoint: Some(relay.url.clone()),
            prefix: "distribution".to_owned(),
            ..garage.settings.clone()
        };
        let source = Distribution::start_with_user_on_s3(USER, PASSWORD, &bucket).await;
        let to_source = common::client_as(USER, PASSWORD);

        // There: an image of a config and one layer, pushed over plain HTTP.
        let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
        let layer = layer();
        for blob in [&config, &layer] {
            push_blob_to(&to_source, &source.url, REPO, blob).await;
        }
        let manifest = json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": descriptor("application/vnd.oci.image.config.v1+json", &config),
            "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", &layer)],
        });
        let (image, _) = push_manifest_to(&to_source, &source.url, REPO, &manifest, Some("v1")).await;
        let (config_digest, layer_digest) = (Digest::sha256_of(&config), Digest::sha256_of(&layer));

        // A blob GET answers 307 to a presigned URL on object storage's
        // origin, which serves the blob to anyone holding the URL.
        let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let answer = no_redirects
            .get(format!("{}/v2/{REPO}/blobs/{layer_digest}", source.url))
            .basic_auth(USER, Some(PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::TEMPORARY_REDIRECT);
        let location = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
        assert_eq!(location.origin(), url::Url::parse(&relay.url).unwrap().origin(), "{location}");
        assert_ne!(location.origin(), url::Url::parse(&source.url).unwrap().origin());
        assert!(location.query().unwrap_or_default().contains("X-Amz-Signature="), "{location}");
        let presigned = reqwest::get(location).await.unwrap();
        assert_eq!(presigned.status(), StatusCode::OK);
        assert_eq!(presigned.bytes().await.unwrap().as_ref(), layer.as_slice());

        // Here: a pull policy for that repository, run once.
        let server = TestServer::start(Backend::Sqlite).await;
        let registry_id =
            create_registry(&server, "source", "docker-registry", &source.url, Some((USER, PASSWORD))).await;
        let policy = json!({
            "name": "from-s3-source", "src_registry": {"id": registry_id}, "dest_namespace": "",
            "filters": [{"type": "name", "value": REPO}],
            "trigger": {"type": "manual"}, "override": true, "enabled": true,
        });
        let execution = run(&server, create_policy(&server, &policy).await).await;
        assert_eq!(execution["status"], "Succeed", "{execution}");
        assert_eq!((execution["total"].as_i64(), execution["succeed"].as_i64()), (Some(1), Some(1)), "{execution}");
        let logs = task_logs(&server, execution["id"].as_i64().unwrap()).await;
        assert!(logs[0].1.contains(&format!("fetched blob {layer_digest}")), "{}", logs[0].1);

        // The image and its blobs, byte for byte.
        let admin = common::admin_client();
        for (digest, content) in [(&config_digest, &config), (&layer_digest, &layer)] {
            let fetched = admin.get(server.url(&format!("/v2/{REPO}/blobs/{digest}"))).send().await.unwrap();
            assert_eq!(fetched.status(), StatusCode::OK, "{digest}");
            assert_eq!(fetched.bytes().await.unwrap().as_ref(), content.as_slice(), "{digest}");
        }
        let tagged = admin
            .get(server.url(&format!("/v2/{REPO}/manifests/v1")))
            .header("accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        assert_eq!(Digest::sha256_of(&tagged.bytes().await.unwrap()).to_string(), image);

        // What reached object storage. Garage (2.5) serves a presigned URL
        // even when the request also carries an unrelated `Authorization`
        // (curl -u against it answers 200), unlike AWS S3, which refuses a
        // request with two ways of authenticating; so the success above
        // does not show by itself that the credential stayed behind: the
        // relay's copy of each request does.
        let requests = relay.requests();
        let signed_by_distribution =
            requests.iter().filter(|head| head.header("authorization").is_some_and(|a| a.starts_with("AWS4-HMAC")));
        assert!(signed_by_distribution.count() > 0, "the relay reads headers: distribution's own requests are signed");
        let from_berth: Vec<&Head> = requests
            .iter()
            .filter(|head| head.header("user-agent").is_some_and(|agent| agent.starts_with("berth-replication/")))
            .collect();
        for digest in [&config_digest, &layer_digest] {
            let hex = digest.to_string().trim_start_matches("sha256:").to_owned();
            assert!(
                from_berth.iter().any(|head| head.method == "GET"
                    && head.target.contains(&hex)
                    && head.target.contains("X-Amz-Signature=")),
                "Berth fetched {digest} from object storage by its presigned URL: {from_berth:#?}"
            );
        }
        assert!(
            from_berth.iter().all(|head| head.header("authorization").is_none()),
            "the registry's credential went to object storage: {from_berth:#?}"
        );
        server.stop().await;
    })
    .await;
}
