//! Blob pulls redirected to object storage (`s3_redirect`): Berth checks
//! the client's rights, then answers `307` with a presigned URL on the
//! bucket (Garage, on another loopback address than Berth, as another host
//! would be), and the bytes never pass through Berth. The docker CLI,
//! podman and skopeo follow it; HEAD, refusals and the default (off) are
//! answered by Berth itself.

mod common;

use std::process::Command;

use app::core::registry::digest::Digest;
use common::{Backend, TestDatabase, TestServer, docker::Docker, garage::Garage};
use reqwest::{StatusCode, header};

/// A Berth on S3 (Garage listening on 127.0.0.2), redirecting pulls or not.
async fn start(redirect: bool) -> (TestServer, Garage) {
    start_with(redirect, false).await
}

async fn start_with(redirect: bool, verify_on_read: bool) -> (TestServer, Garage) {
    common::init_test_logging();
    let garage = Garage::start_on("127.0.0.2").await;
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(Backend::Sqlite, dir.path()).await;
    let mut settings = garage.berth_settings();
    settings.push(("BERTH_S3_REDIRECT", redirect.to_string()));
    settings.push(("BERTH_VERIFY_ON_READ", verify_on_read.to_string()));
    let mut server = TestServer::start_with(dir.path().to_owned(), &database.url, &settings).await;
    server.keep(dir, database);
    server.create_projects(&["team"]).await;
    (server, garage)
}

/// Redirects Berth answered to blob GETs so far, from its metrics.
async fn redirects(server: &TestServer) -> u64 {
    let metrics = reqwest::get(server.url("/metrics")).await.unwrap().text().await.unwrap();
    metrics
        .lines()
        .filter(|line| {
            line.starts_with("berth_http_requests_total")
                && line.contains("method=\"GET\"")
                && line.contains("status=\"307\"")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_is_redirected_to_a_presigned_url_once_rights_are_checked() {
    common::within_time_limit(async {
        let (server, _garage) = start(true).await;
        let admin = common::admin_client();
        let blob: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let digest = Digest::sha256_of(&blob);
        assert_eq!(common::push_blob(&admin, &server, "team/app", &blob).await, StatusCode::CREATED);
        let url = server.url(&format!("/v2/team/app/blobs/{digest}"));

        // GET: 307 to the bucket's host, signed, and the digest named.
        let basic = {
            use base64::Engine;
            let pair = format!("admin:{}", common::ADMIN_PASSWORD);
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
        };
        let redirected = no_redirects().get(&url).header(header::AUTHORIZATION, &basic).send().await.unwrap();
        assert_eq!(redirected.status(), StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(redirected.headers()["docker-content-digest"], digest.to_string().as_str());
        let location = redirected.headers()[header::LOCATION].to_str().unwrap().to_owned();
        assert!(location.starts_with("http://127.0.0.2:"), "{location}");
        assert!(location.contains("X-Amz-Signature=") && location.contains("X-Amz-Expires=1200"), "{location}");
        // The URL alone fetches the bytes (no credentials), a range of them too.
        let fetched = reqwest::get(&location).await.unwrap();
        assert_eq!(fetched.status(), StatusCode::OK);
        assert_eq!(Digest::sha256_of(&fetched.bytes().await.unwrap()), digest);
        let part = no_redirects().get(&location).header(header::RANGE, "bytes=10-19").send().await.unwrap();
        assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(part.bytes().await.unwrap(), &blob[10..20]);
        // A tampered URL is refused by the bucket.
        let tampered = location.replace("X-Amz-Expires=1200", "X-Amz-Expires=9999");
        assert_eq!(reqwest::get(&tampered).await.unwrap().status(), StatusCode::FORBIDDEN);

        // HEAD is Berth's own answer.
        let head = admin.head(&url).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(head.headers()[header::CONTENT_LENGTH], blob.len().to_string().as_str());

        // No rights, no URL: anonymous and someone else get the usual refusals.
        let anonymous = no_redirects().get(&url).send().await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        assert!(anonymous.headers().get(header::LOCATION).is_none());
        server.create_user("eve", "Eve-Passw0rd-1").await;
        let eve = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .default_headers({
                use base64::Engine;
                let mut headers = header::HeaderMap::new();
                let value = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("eve:Eve-Passw0rd-1"));
                headers.insert(header::AUTHORIZATION, value.parse().unwrap());
                headers
            })
            .build()
            .unwrap();
        let refused = eve.get(&url).send().await.unwrap();
        assert!(refused.status().is_client_error() && refused.headers().get(header::LOCATION).is_none());
        // A blob the repository does not have is unknown, not redirected.
        let missing = Digest::sha256_of(b"not pushed");
        let unknown = admin.get(server.url(&format!("/v2/team/app/blobs/{missing}"))).send().await.unwrap();
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_off_by_default_and_while_reads_are_verified() {
    common::within_time_limit(async {
        // With verify_on_read the bytes must pass through Berth to be checked.
        let (server, _garage) = start_with(true, true).await;
        let admin = common::admin_client();
        let blob = b"checked by Berth".to_vec();
        assert_eq!(common::push_blob(&admin, &server, "team/app", &blob).await, StatusCode::CREATED);
        let digest = Digest::sha256_of(&blob);
        let pulled = no_redirects().get(server.url(&format!("/v2/team/app/blobs/{digest}")));
        let pulled = pulled.basic_auth("admin", Some(common::ADMIN_PASSWORD)).send().await.unwrap();
        assert_eq!(pulled.status(), StatusCode::OK);
        assert_eq!(pulled.bytes().await.unwrap(), blob);
        assert_eq!(redirects(&server).await, 0);
        server.stop().await;

        let (server, _garage) = start(false).await;
        let admin = common::admin_client();
        let blob = b"served by Berth".to_vec();
        assert_eq!(common::push_blob(&admin, &server, "team/app", &blob).await, StatusCode::CREATED);
        let digest = Digest::sha256_of(&blob);
        let pulled = admin.get(server.url(&format!("/v2/team/app/blobs/{digest}"))).send().await.unwrap();
        assert_eq!(pulled.status(), StatusCode::OK);
        assert_eq!(pulled.bytes().await.unwrap(), blob);
        assert_eq!(redirects(&server).await, 0);
        server.stop().await;
    })
    .await;
}

fn run(program: &str, args: &[String]) -> String {
    let output = Command::new(program).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{program} {args:?}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_podman_and_skopeo_follow_the_redirect() {
    common::within_time_limit(async {
        let (server, _garage) = start(true).await;
        let host = server.endpoint().host();
        let image = format!("{host}/team/hello:v1");

        // docker pushes (through Berth) and pulls (from the bucket).
        let docker = Docker::start().await;
        let login = docker.login(&host, "admin", common::ADMIN_PASSWORD).await;
        assert!(login.status.success(), "{}", common::docker::text(&login));
        docker.import(&image, "redirected").await;
        let id = docker.ok(&["image", "inspect", "--format", "{{.Id}}", &image]).await;
        docker.ok(&["push", &image]).await;
        docker.ok(&["rmi", &image]).await;
        let before = redirects(&server).await;
        docker.ok(&["pull", &image]).await;
        assert_eq!(docker.ok(&["image", "inspect", "--format", "{{.Id}}", &image]).await, id);
        let after_docker = redirects(&server).await;
        assert!(after_docker >= before + 2, "docker fetched the config and the layer from the bucket");

        // podman, into private storage, and skopeo, into an OCI layout.
        let work = tempfile::tempdir().unwrap();
        let storage = [
            format!("--root={}", work.path().join("storage").display()),
            format!("--runroot={}", work.path().join("run").display()),
            "--storage-driver=vfs".to_owned(),
        ];
        let creds = format!("admin:{}", common::ADMIN_PASSWORD);
        let mut pull = storage.to_vec();
        pull.extend(["pull".into(), "--tls-verify=false".into(), format!("--creds={creds}"), image.clone()]);
        tokio::task::spawn_blocking(move || run("podman", &pull)).await.unwrap();
        let after_podman = redirects(&server).await;
        assert!(after_podman >= after_docker + 2, "podman fetched from the bucket");

        let layout = work.path().join("layout");
        let copy = vec![
            "copy".to_owned(),
            "--src-tls-verify=false".into(),
            format!("--src-creds={creds}"),
            format!("docker://{image}"),
            format!("oci:{}:v1", layout.display()),
        ];
        tokio::task::spawn_blocking(move || run("skopeo", &copy)).await.unwrap();
        assert!(redirects(&server).await >= after_podman + 2, "skopeo fetched from the bucket");
        // skopeo checked each blob's digest as it wrote it; the layout holds the image.
        assert!(layout.join("index.json").exists());
        server.stop().await;
    })
    .await;
}
