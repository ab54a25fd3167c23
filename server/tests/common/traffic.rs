//! Registry traffic for the robustness tests: clients that push images
//! (each blob a different way: monolithic, one-shot, chunked, mounted; some
//! layers shared between images and repositories) and delete them, and the
//! check that everything acknowledged is whole afterwards.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use app::core::registry::digest::Digest;
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::Value;

pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// xorshift64*: small, deterministic (a printed seed replays a run), and
/// enough to pick moments, sizes and ways.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded from `variable` when set, else from the clock; prints the seed.
    pub fn seeded(variable: &str, what: &str) -> Self {
        let seed = std::env::var(variable).ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
        });
        println!("{what}: {variable}={seed}");
        Self(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// An independent generator for another task.
    pub fn fork(&mut self) -> Self {
        Self(self.next() | 1)
    }
}

/// Layers that many images share, up to a few MiB so that a kill or an
/// outage can land in the middle of a body.
pub fn shared_layers(rng: &mut Rng) -> Arc<Vec<Vec<u8>>> {
    Arc::new([512, 4 << 10, 64 << 10, 256 << 10, 1 << 20, 3 << 20].iter().map(|&len| rng.bytes(len)).collect())
}

/// An image a client was told is stored.
#[derive(Clone, Debug)]
pub struct Image {
    pub repository: String,
    pub tag: String,
    pub digest: Digest,
    pub blobs: Vec<Digest>,
}

/// Why a step stopped before its success.
#[derive(Debug)]
pub enum Halt {
    /// No answer: the connection failed or died.
    Dropped,
    /// An answer other than the step's success.
    Refused(Refusal),
}

#[derive(Debug)]
pub struct Refusal {
    pub what: String,
    pub status: StatusCode,
    /// The OCI error code (empty for `HEAD`, which has no body).
    pub code: String,
    pub retry_after: Option<String>,
    pub body: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} {}", self.what, self.status, self.body)
    }
}

pub type Step<T = ()> = Result<T, Halt>;

/// A registry client with a token that may push and delete.
#[derive(Clone)]
pub struct Pusher {
    client: Client,
    base: String,
    token: Arc<String>,
    layers: Arc<Vec<Vec<u8>>>,
}

impl Pusher {
    pub fn new(base: &str, token: Arc<String>, layers: Arc<Vec<Vec<u8>>>) -> Self {
        let client = Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        Self { client, base: base.to_owned(), token, layers }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") { path.to_owned() } else { format!("{}{path}", self.base) }
    }

    async fn expect(&self, request: RequestBuilder, expected: &[StatusCode], what: &str) -> Step<Response> {
        let response = request.bearer_auth(self.token.as_str()).send().await.map_err(|_| Halt::Dropped)?;
        if expected.contains(&response.status()) {
            return Ok(response);
        }
        let status = response.status();
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = response.text().await.map_err(|_| Halt::Dropped)?;
        let code = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["errors"][0]["code"].as_str().map(str::to_owned))
            .unwrap_or_default();
        Err(Halt::Refused(Refusal { what: what.to_owned(), status, code, retry_after, body }))
    }

    /// Pushes an image of one or two shared layers, one unique layer and a
    /// unique config, tagged `tag`.
    pub async fn push_image(&self, rng: &mut Rng, repository: &str, other: &str, tag: &str) -> Step<Image> {
        let mut layers: Vec<Vec<u8>> = Vec::new();
        for _ in 0..1 + rng.below(2) {
            let shared = &self.layers[rng.below(self.layers.len() as u64) as usize];
            if !layers.contains(shared) {
                layers.push(shared.clone());
            }
        }
        let unique_len = 64 + rng.below(128 << 10) as usize;
        layers.push(rng.bytes(unique_len));
        let config =
            format!(r#"{{"architecture":"amd64","os":"linux","created_by":"{repository}:{tag}"}}"#).into_bytes();
        for blob in layers.iter().chain([&config]) {
            self.push_blob(rng, repository, other, blob).await?;
        }
        let descriptor = |media_type: &str, blob: &[u8]| serde_json::json!({"mediaType": media_type, "digest": Digest::sha256_of(blob).to_string(), "size": blob.len()});
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": descriptor("application/vnd.oci.image.config.v1+json", &config),
            "layers": layers.iter().map(|layer| descriptor("application/vnd.oci.image.layer.v1.tar", layer)).collect::<Vec<_>>(),
        })
        .to_string();
        let request = self
            .client
            .put(self.url(&format!("/v2/{repository}/manifests/{tag}")))
            .header("content-type", MANIFEST)
            .body(manifest.clone());
        self.expect(request, &[StatusCode::CREATED], &format!("PUT manifest {repository}:{tag}")).await?;
        let mut blobs: Vec<Digest> = layers.iter().map(|blob| Digest::sha256_of(blob)).collect();
        blobs.push(Digest::sha256_of(&config));
        Ok(Image {
            repository: repository.to_owned(),
            tag: tag.to_owned(),
            digest: Digest::sha256_of(manifest.as_bytes()),
            blobs,
        })
    }

    /// Pushes a blob unless the repository has it, a different way each time.
    async fn push_blob(&self, rng: &mut Rng, repository: &str, other: &str, blob: &[u8]) -> Step {
        let digest = Digest::sha256_of(blob);
        let blob_url = self.url(&format!("/v2/{repository}/blobs/{digest}"));
        let known = [StatusCode::OK, StatusCode::NOT_FOUND];
        if self.expect(self.client.head(blob_url), &known, "HEAD blob").await?.status() == StatusCode::OK {
            return Ok(());
        }
        let uploads = self.url(&format!("/v2/{repository}/blobs/uploads/"));
        let created = [StatusCode::CREATED];
        match rng.below(4) {
            0 => {
                let request = self.client.post(format!("{uploads}?digest={digest}")).body(blob.to_vec());
                self.expect(request, &created, "monolithic POST").await?;
            }
            1 => {
                let location = self.start_upload(self.client.post(&uploads)).await?;
                let request = self.client.put(with_digest(&self.url(&location), &digest)).body(blob.to_vec());
                self.expect(request, &created, "PUT with the whole blob").await?;
            }
            2 => {
                let mut location = self.start_upload(self.client.post(&uploads)).await?;
                let piece = blob.len().div_ceil(1 + rng.below(3) as usize);
                for (i, chunk) in blob.chunks(piece).enumerate() {
                    let first = i * piece;
                    let request = self
                        .client
                        .patch(self.url(&location))
                        .header("content-type", "application/octet-stream")
                        .header("content-range", format!("{first}-{}", first + chunk.len() - 1))
                        .body(chunk.to_vec());
                    let response = self.expect(request, &[StatusCode::ACCEPTED], "PATCH chunk").await?;
                    location = location_of(&response)?;
                }
                let request = self.client.put(with_digest(&self.url(&location), &digest));
                self.expect(request, &created, "PUT closing a chunked upload").await?;
            }
            _ => {
                let request = self.client.post(format!("{uploads}?mount={digest}&from={other}"));
                let mounted = [StatusCode::CREATED, StatusCode::ACCEPTED];
                let response = self.expect(request, &mounted, "POST mounting").await?;
                if response.status() == StatusCode::ACCEPTED {
                    let location = location_of(&response)?;
                    let request = self.client.put(with_digest(&self.url(&location), &digest)).body(blob.to_vec());
                    self.expect(request, &created, "PUT after a mount that found nothing").await?;
                }
            }
        }
        Ok(())
    }

    async fn start_upload(&self, request: RequestBuilder) -> Step<String> {
        let response = self.expect(request, &[StatusCode::ACCEPTED], "POST starting an upload").await?;
        location_of(&response)
    }

    /// Deletes an image's manifest by digest.
    pub async fn delete(&self, image: &Image) -> Step {
        let url = self.url(&format!("/v2/{}/manifests/{}", image.repository, image.digest));
        self.expect(self.client.delete(url), &[StatusCode::ACCEPTED], "DELETE manifest").await?;
        Ok(())
    }
}

fn location_of(response: &Response) -> Step<String> {
    let location = response.headers().get("location").and_then(|value| value.to_str().ok());
    location.map(str::to_owned).ok_or_else(|| {
        Halt::Refused(Refusal {
            what: "an upload answer without a Location".to_owned(),
            status: response.status(),
            code: String::new(),
            retry_after: None,
            body: String::new(),
        })
    })
}

fn with_digest(location: &str, digest: &Digest) -> String {
    let separator = if location.contains('?') { '&' } else { '?' };
    format!("{location}{separator}digest={digest}")
}

/// The first administrator's token to pull, push and delete in `repositories`.
pub async fn push_token(base: &str, repositories: &[&str]) -> String {
    let challenge = Client::new().get(format!("{base}/v2/")).send().await.unwrap();
    let header = challenge.headers()["www-authenticate"].to_str().unwrap().to_owned();
    let service = header.split("service=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap().to_owned();
    let scopes: String =
        repositories.iter().map(|repository| format!("&scope=repository:{repository}:pull,push,delete")).collect();
    let response =
        super::admin_client().get(format!("{base}/service/token?service={service}{scopes}")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
}

/// Everything a client may rely on: each image in `live` pulls with its
/// digests, each in `deleted` is gone, and every tag listed in
/// `repositories` is whole (nothing half-published shows). Returns what is
/// wrong.
pub async fn check(base: &str, token: &str, live: &[Image], deleted: &[Image], repositories: &[&str]) -> Vec<String> {
    let client = Client::new();
    let get = |path: String| client.get(format!("{base}{path}")).bearer_auth(token).header("accept", MANIFEST).send();
    let mut problems = Vec::new();
    let mut pulled: BTreeSet<(String, Digest)> = BTreeSet::new();

    for image in live {
        let response = get(format!("/v2/{}/manifests/{}", image.repository, image.tag)).await.unwrap();
        let status = response.status();
        let body = response.bytes().await.unwrap();
        if status != StatusCode::OK || Digest::sha256_of(&body) != image.digest {
            problems.push(format!("acknowledged {}:{} answers {status}", image.repository, image.tag));
            continue;
        }
        for blob in &image.blobs {
            pull_blob(&get, &image.repository, blob, &mut pulled, &mut problems).await;
        }
    }
    for image in deleted {
        let status = get(format!("/v2/{}/manifests/{}", image.repository, image.digest)).await.unwrap().status();
        if status != StatusCode::NOT_FOUND {
            problems.push(format!("deleted {}@{} answers {status}", image.repository, image.digest));
        }
    }
    for repository in repositories {
        let response = get(format!("/v2/{repository}/tags/list?n=1000")).await.unwrap();
        if response.status() == StatusCode::NOT_FOUND {
            continue;
        }
        let tags: Value = response.json().await.unwrap();
        for tag in tags["tags"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            let response = get(format!("/v2/{repository}/manifests/{tag}")).await.unwrap();
            let status = response.status();
            let body = response.bytes().await.unwrap();
            let Ok(manifest) = serde_json::from_slice::<Value>(&body) else {
                problems.push(format!("listed {repository}:{tag} answers {status} with no manifest"));
                continue;
            };
            let descriptors = manifest["layers"].as_array().into_iter().flatten().chain([&manifest["config"]]);
            for digest in descriptors.filter_map(|d| d["digest"].as_str()) {
                pull_blob(&get, repository, &digest.parse().unwrap(), &mut pulled, &mut problems).await;
            }
        }
    }
    problems
}

/// Pulls a blob (once per check) and compares its digest.
async fn pull_blob<F, Fut>(
    get: &F,
    repository: &str,
    digest: &Digest,
    pulled: &mut BTreeSet<(String, Digest)>,
    problems: &mut Vec<String>,
) where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = reqwest::Result<Response>>,
{
    if !pulled.insert((repository.to_owned(), digest.clone())) {
        return;
    }
    let response = get(format!("/v2/{repository}/blobs/{digest}")).await.unwrap();
    let status = response.status();
    let body = response.bytes().await.unwrap();
    if status != StatusCode::OK || Digest::sha256_of(&body) != *digest {
        problems.push(format!("blob {repository}@{digest} answers {status} with {} bytes", body.len()));
    }
}
