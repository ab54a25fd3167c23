//! The real `berth` executable: configuration precedence and errors, the
//! first-start banner, TLS and graceful shutdown on SIGTERM.

mod common;

use common::process::{self, free_port, sigterm, start};

use std::{
    path::Path,
    process::{Output, Stdio},
    time::Duration,
};

use futures_util::StreamExt;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    process::Command,
};

/// `berth` with a clean environment, its standard error kept for the test to read.
fn berth(dir: &Path) -> Command {
    let mut command = process::berth(dir);
    command.stderr(Stdio::piped());
    command
}

async fn run(command: &mut Command) -> Output {
    tokio::time::timeout(Duration::from_secs(60), command.output()).await.expect("berth finishes").unwrap()
}

#[tokio::test]
async fn config_precedence_is_file_then_env_then_flag() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("berth.toml"),
        "listen = \"127.0.0.1:1001\"\ndata_dir = \"/from-file\"\nlog_level = \"debug\"\nexternal_url = \"https://file.example\"\n",
    )
    .unwrap();
    let output = run(berth(dir.path())
        .args(["config", "--listen", "127.0.0.1:1003"])
        .env("BERTH_LISTEN", "127.0.0.1:1002")
        .env("BERTH_DATA_DIR", "/from-env"))
    .await;
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("listen = \"127.0.0.1:1003\"  # from flag --listen"), "{text}");
    assert!(text.contains("data_dir = \"/from-env\"  # from environment variable BERTH_DATA_DIR"), "{text}");
    assert!(text.contains("log_level = \"debug\"  # in berth.toml"), "{text}");
    assert!(text.contains("database_url = \"sqlite:///from-env/berth.db\"  # default"), "{text}");
    assert!(text.contains("external_url = \"https://file.example/\""), "{text}");

    // --config names another file; a missing one is an error naming it.
    let output = run(berth(dir.path()).args(["config", "--config", "missing.toml"])).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing.toml"), "{output:?}");
}

#[tokio::test]
async fn a_bad_value_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &str); 3] = [
        ("BERTH_LISTEN", "not-an-address", "`listen` (from environment variable BERTH_LISTEN)"),
        ("BERTH_DATABASE_URL", "mysql://db/berth", "`database_url` (from environment variable BERTH_DATABASE_URL)"),
        ("BERTH_ADMIN_PASSWORD", "short", "`admin_password`"),
    ];
    for (var, value, expected) in cases {
        let output = run(berth(dir.path()).arg("serve").env(var, value)).await;
        assert_eq!(output.status.code(), Some(2), "{var}={value}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{var}={value}: {stderr}");
    }
    std::fs::write(dir.path().join("berth.toml"), "listen = [1, 2]\n").unwrap();
    let output = run(berth(dir.path()).arg("serve")).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("`listen`"), "{output:?}");
}

#[tokio::test]
async fn a_broken_database_stops_start_up_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/berth.db"), vec![0x42; 8192]).unwrap();
    let output = run(berth(dir.path())
        .arg("serve")
        .env("BERTH_DATA_DIR", "data")
        .env("BERTH_LISTEN", format!("127.0.0.1:{}", free_port())))
    .await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("start-up failed") && stderr.contains("not a database"), "{stderr}");
}

#[tokio::test]
async fn first_start_prints_a_generated_admin_password_that_works() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut command = berth(dir.path());
    command.env("BERTH_LISTEN", format!("127.0.0.1:{port}")).env("BERTH_DATA_DIR", "data");
    let (child, printed) = start(command).await;
    assert!(printed.contains(&format!("is listening on http://127.0.0.1:{port}/")), "{printed}");
    let password = printed
        .lines()
        .find_map(|line| line.trim().strip_prefix("password: "))
        .unwrap_or_else(|| panic!("no password printed: {printed}"))
        .to_owned();
    assert!(password.len() >= 20, "{password}");
    let client = common::browser_like_client();
    let response = client
        .post(format!("http://127.0.0.1:{port}/portal/fn/login"))
        .form(&[("username", "admin"), ("password", password.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    sigterm(&child);
    let status = child.wait_with_output().await.unwrap().status;
    assert!(status.success(), "{status:?}");

    // The second start prints no password.
    let mut command = berth(dir.path());
    command.env("BERTH_LISTEN", format!("127.0.0.1:{}", free_port())).env("BERTH_DATA_DIR", "data");
    let (child, printed) = start(command).await;
    assert!(!printed.contains("password"), "{printed}");
    sigterm(&child);
    child.wait_with_output().await.unwrap();
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut command = berth(dir.path());
    command
        .env("BERTH_LISTEN", format!("127.0.0.1:{port}"))
        .env("BERTH_DATA_DIR", "data")
        .env("BERTH_ADMIN_PASSWORD", common::ADMIN_PASSWORD);
    let (child, _) = start(command).await;

    // A login whose body is still arriving when SIGTERM lands.
    let body = format!("username=admin&password={}", common::ADMIN_PASSWORD);
    let (first, rest) = body.split_at(10);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "POST /portal/fn/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{first}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    sigterm(&child);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // New connections are refused once shutdown began…
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err(), "listener should be closed");
    // …but the in-flight request completes.
    stream.write_all(rest.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.to_ascii_lowercase().contains("set-cookie: berth_session="), "{response}");

    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output()).await.unwrap().unwrap();
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("shutting down"), "{stderr}");
}

#[tokio::test]
async fn serves_https_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.key_pair.serialize_pem()).unwrap();
    let port = free_port();
    let mut command = berth(dir.path());
    command
        .env("BERTH_LISTEN", format!("127.0.0.1:{port}"))
        .env("BERTH_DATA_DIR", "data")
        .env("BERTH_TLS_CERT", "cert.pem")
        .env("BERTH_TLS_KEY", "key.pem");
    let (child, printed) = start(command).await;
    assert!(printed.contains(&format!("https://127.0.0.1:{port}/")), "{printed}");

    let root = reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(root)
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .build()
        .unwrap();
    // The API answers over TLS, and its challenge sends clients to the token
    // service at the HTTPS address.
    let response = client.get(format!("https://localhost:{port}/v2/")).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["docker-distribution-api-version"], "registry/2.0");
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with(&format!("Bearer realm=\"https://127.0.0.1:{port}/service/token\"")), "{challenge}");
    sigterm(&child);
    assert!(child.wait_with_output().await.unwrap().status.success());
}

/// SIGKILL in the middle of a 200 MiB chunked upload, then a restart: the
/// client resumes from what the server reports, the blob commits with the
/// right digest, and a fresh re-push of the same blob succeeds too.
#[tokio::test]
async fn a_killed_server_loses_no_blob_and_the_upload_resumes() {
    use app::core::registry::digest::Digest;

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let start_berth = || {
        let mut command = berth(dir.path());
        command
            .env("BERTH_LISTEN", format!("127.0.0.1:{port}"))
            .env("BERTH_DATA_DIR", "data")
            .env("BERTH_ADMIN_PASSWORD", common::ADMIN_PASSWORD);
        start(command)
    };
    const SIZE: usize = 200 * 1024 * 1024;
    let content: Vec<u8> = (0..SIZE as u64).map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8).collect();
    let digest = Digest::sha256_of(&content);
    let base = format!("http://127.0.0.1:{port}");
    let client = common::admin_client();

    let (mut child, _) = start_berth().await;
    let started = client.post(format!("{base}/v2/library/crash-test/blobs/uploads/")).send().await.unwrap();
    assert_eq!(started.status(), reqwest::StatusCode::ACCEPTED);
    let location = format!("{base}{}", started.headers()["location"].to_str().unwrap());

    // Stream the blob in 1 MiB pieces; kill the server once 80 MiB are out.
    let (sent_tx, mut sent_rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let pieces: Vec<Vec<u8>> = content.chunks(1024 * 1024).map(<[u8]>::to_vec).collect();
    let stream = futures_util::stream::iter(pieces.into_iter().enumerate()).then(move |(i, piece)| {
        let sent_tx = sent_tx.clone();
        async move {
            let _ = sent_tx.send(i + 1);
            tokio::time::sleep(Duration::from_millis(2)).await;
            Ok::<_, std::io::Error>(piece)
        }
    });
    let patch = tokio::spawn({
        let client = client.clone();
        let location = location.clone();
        async move { client.patch(location).body(reqwest::Body::wrap_stream(stream)).send().await }
    });
    while let Some(mebibytes) = sent_rx.recv().await {
        if mebibytes >= 80 {
            break;
        }
    }
    child.kill().await.unwrap();
    assert!(patch.await.unwrap().is_err(), "the client sees the connection die");
    let blob_files = || {
        let root = dir.path().join("data/storage/blobs");
        common::files_under(&root)
    };
    assert!(blob_files().is_empty(), "nothing is published before the digest is verified");

    // Restart; the upload is still there with whatever reached the disk.
    let (child, _) = start_berth().await;
    let status = client.get(&location).send().await.unwrap();
    assert_eq!(status.status(), reqwest::StatusCode::NO_CONTENT);
    let range = status.headers()["range"].to_str().unwrap().to_owned();
    let received: usize = range.trim_start_matches("0-").parse::<usize>().unwrap() + 1;
    assert!(received > 0 && received < SIZE, "{range}");

    let rest = content[received..].to_vec();
    let response = client
        .patch(&location)
        .header("content-range", format!("{received}-{}", SIZE - 1))
        .body(rest)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);
    let response = client.put(format!("{location}?digest={digest}")).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::CREATED, "{:?}", response.text().await);

    let pulled = client.get(format!("{base}/v2/library/crash-test/blobs/{digest}")).send().await.unwrap();
    assert_eq!(pulled.status(), reqwest::StatusCode::OK);
    let bytes = pulled.bytes().await.unwrap();
    assert_eq!(Digest::sha256_of(&bytes), digest, "the stored blob has the right content");

    // A fresh push of the same blob (e.g. a client that started over) succeeds too.
    let response = client
        .post(format!("{base}/v2/library/crash-again/blobs/uploads/?digest={digest}"))
        .body(content)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    assert_eq!(blob_files().len(), 1, "stored once");
    sigterm(&child);
    assert!(child.wait_with_output().await.unwrap().status.success());
}
