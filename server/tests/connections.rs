//! Abusive connections and bodies meet named bounds: headers sent too slowly and
//! connections idle too long are closed (`header_read_timeout_seconds`),
//! connections past `max_connections` are closed as they arrive, a body
//! that stalls fails its request (`body_read_timeout_seconds`), and bytes
//! beyond a declared `Content-Length` are not part of the body. JSON nested
//! past serde_json's 128 levels is refused before any handler runs.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

async fn start(extra: &[(&str, String)]) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("berth.db").display());
    (TestServer::start_with(dir.path().to_owned(), &database, extra).await, dir)
}

fn address(server: &TestServer) -> String {
    server.base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection (or 10 s pass); returns what it sent.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut received)).await;
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_and_idle_connections_are_closed() {
    let (server, _dir) = start(&[("BERTH_HEADER_READ_TIMEOUT_SECONDS", "1".to_owned())]).await;

    // Headers that never end.
    let mut slow = TcpStream::connect(address(&server)).await.unwrap();
    slow.write_all(b"GET /v2/ HTTP/1.1\r\nHost: berth\r\n").await.unwrap();
    let started = Instant::now();
    let answer = read_until_closed(&mut slow).await;
    let took = started.elapsed();
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(5), "closed after {took:?}");

    // A connection left idle after a request.
    let mut idle = TcpStream::connect(address(&server)).await.unwrap();
    idle.write_all(b"GET /v2/ HTTP/1.1\r\nHost: berth\r\n\r\n").await.unwrap();
    let started = Instant::now();
    let answer = read_until_closed(&mut idle).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5), "an idle connection stayed open {:?}", started.elapsed());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_are_closed() {
    let (server, _dir) = start(&[("BERTH_MAX_CONNECTIONS", "20".to_owned())]).await;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(TcpStream::connect(address(&server)).await.unwrap());
    }
    // Give the server a moment to accept them all.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut extra = TcpStream::connect(address(&server)).await.unwrap();
    let _ = extra.write_all(b"GET /v2/ HTTP/1.1\r\nHost: berth\r\n\r\n").await;
    assert_eq!(read_until_closed(&mut extra).await, "", "the 21st connection was served");

    // Places free up as connections close.
    held.truncate(10);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut next = TcpStream::connect(address(&server)).await.unwrap();
        next.write_all(b"GET /v2/ HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n").await.unwrap();
        if read_until_closed(&mut next).await.starts_with("HTTP/1.1 401") {
            break;
        }
        assert!(Instant::now() < deadline, "no place freed up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_fails_its_request_and_extra_bytes_are_not_the_body() {
    let (server, _dir) = start(&[("BERTH_BODY_READ_TIMEOUT_SECONDS", "1".to_owned())]).await;
    server.create_projects(&["team"]).await;
    let basic = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("admin:{}", common::ADMIN_PASSWORD))
    };

    // Declares 10,000 bytes, sends 100, then nothing.
    let content = vec![1u8; 10_000];
    let digest = app::core::registry::digest::Digest::sha256_of(&content);
    let mut stalled = TcpStream::connect(address(&server)).await.unwrap();
    let head = format!(
        "POST /v2/team/app/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: berth\r\nAuthorization: Basic {basic}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: 10000\r\n\r\n"
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    stalled.write_all(&content[..100]).await.unwrap();
    let started = Instant::now();
    let answer = read_until_closed(&mut stalled).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("BLOB_UPLOAD_INVALID"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5), "answered after {:?}", started.elapsed());
    let admin = common::admin_client();
    let head = admin.head(server.url(&format!("/v2/team/app/blobs/{digest}"))).send().await.unwrap();
    assert_eq!(head.status(), reqwest::StatusCode::NOT_FOUND, "nothing of the stalled push was kept");

    // A body longer than declared: the declared bytes are the blob; the rest
    // is read as the next request, which is malformed and refused.
    let declared = b"exactly 20 bytes....";
    let digest = app::core::registry::digest::Digest::sha256_of(declared);
    let mut longer = TcpStream::connect(address(&server)).await.unwrap();
    let head = format!(
        "POST /v2/team/app/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: berth\r\nAuthorization: Basic {basic}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        declared.len()
    );
    longer.write_all(head.as_bytes()).await.unwrap();
    longer.write_all(declared).await.unwrap();
    longer.write_all(b"and these bytes were never declared\r\n\r\n").await.unwrap();
    let answer = read_until_closed(&mut longer).await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(answer.contains("HTTP/1.1 400"), "the undeclared bytes were refused as a request: {answer}");
    let pulled = admin.get(server.url(&format!("/v2/team/app/blobs/{digest}"))).send().await.unwrap();
    assert_eq!(pulled.bytes().await.unwrap().as_ref(), declared);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_json_is_refused() {
    let (server, _dir) = start(&[]).await;
    let admin = common::admin_client();
    let depth = 100_000;
    for body in [
        format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
        format!("{}1{}", "{\"project_name\":".repeat(depth), "}".repeat(depth)),
    ] {
        let response = admin
            .post(server.url("/api/v2.0/projects"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "{}", response.status());
    }
    // The server is unharmed and created nothing.
    let projects: serde_json::Value =
        admin.get(server.url("/api/v2.0/projects")).send().await.unwrap().json().await.unwrap();
    assert_eq!(projects.as_array().unwrap().len(), 1, "only library: {projects}");
    server.stop().await;
}
