//! The operator's commands, run as the real executable against a running
//! Berth's data: `berth storage verify` finds content that changed on disk
//! after it was published (and can quarantine it; with `verify_on_read` a
//! pull of it fails instead of delivering wrong bytes), and `berth admin
//! reset-password` gives an operator who lost a password a new one.

mod common;

use std::{path::PathBuf, time::Duration};

use app::core::registry::digest::Digest;
use common::{Backend, TestServer};
use reqwest::StatusCode;

const BERTH: &str = env!("CARGO_BIN_EXE_berth");

fn blob_file(server: &TestServer, digest: &Digest) -> PathBuf {
    let hex = digest.hex();
    server.data_dir.join("storage").join("blobs").join("sha256").join(&hex[..2]).join(hex)
}

/// Flips one byte of the stored file, keeping its size.
fn corrupt(path: &PathBuf) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(path, bytes).unwrap();
}

async fn verify(server: &TestServer, quarantine: bool) -> (i32, String) {
    let args: &[&str] = if quarantine { &["storage", "verify", "--quarantine"] } else { &["storage", "verify"] };
    berth(server, args, None).await
}

/// Runs the executable on `server`'s data and database; exit code and everything printed.
async fn berth(server: &TestServer, args: &[&str], stdin: Option<&str>) -> (i32, String) {
    use tokio::io::AsyncWriteExt;

    let mut command = tokio::process::Command::new(BERTH);
    command.args(args).kill_on_drop(true);
    command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (key, _) in std::env::vars().filter(|(key, _)| key.starts_with("BERTH_")) {
        command.env_remove(key);
    }
    command.env("BERTH_DATA_DIR", &server.data_dir).env("BERTH_DATABASE_URL", &server.config.database_url);
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).await.unwrap();
    }
    drop(input);
    let output =
        tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await.expect("berth finishes").unwrap();
    let printed = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), printed)
}

async fn verify_reports_and_quarantines_changed_content(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = common::admin_client();
    let good = b"content that stays as pushed".to_vec();
    let bad = b"content that will change on disk".to_vec();
    for content in [&good, &bad] {
        assert_eq!(common::push_blob(&admin, &server, "library/app", content).await, StatusCode::CREATED);
    }
    let (good_digest, bad_digest) = (Digest::sha256_of(&good), Digest::sha256_of(&bad));

    let (code, printed) = verify(&server, false).await;
    assert_eq!(code, 0, "{printed}");
    assert!(printed.contains("checked 2 blobs") && printed.contains("all match"), "{printed}");

    corrupt(&blob_file(&server, &bad_digest));
    let (code, printed) = verify(&server, false).await;
    assert_eq!(code, 1, "{printed}");
    assert!(printed.contains(&format!("{bad_digest}: content does not match")), "{printed}");
    assert!(!printed.contains(&good_digest.to_string()), "{printed}");
    // Without the setting the changed bytes are still served (what verify_on_read is for).
    let pulled = admin.get(server.url(&format!("/v2/library/app/blobs/{bad_digest}"))).send().await.unwrap();
    assert_eq!(pulled.status(), StatusCode::OK);

    let (code, printed) = verify(&server, true).await;
    assert_eq!(code, 1, "{printed}");
    assert!(printed.contains("(quarantined)"), "{printed}");
    assert!(!blob_file(&server, &bad_digest).exists());
    assert_eq!(common::files_under(&server.data_dir.join("storage").join("quarantine")).len(), 1);
    let pulled = admin.get(server.url(&format!("/v2/library/app/blobs/{bad_digest}"))).send().await.unwrap();
    assert_eq!(pulled.status(), StatusCode::NOT_FOUND, "quarantined content is never served");
    let head = admin.head(server.url(&format!("/v2/library/app/blobs/{bad_digest}"))).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::NOT_FOUND, "so a client checking first pushes it again");

    // Pushing the content again stores it again, and everything checks out.
    assert_eq!(common::push_blob(&admin, &server, "library/app", &bad).await, StatusCode::CREATED);
    let (code, printed) = verify(&server, false).await;
    assert_eq!(code, 0, "{printed}");
    server.stop().await;
}

async fn verify_on_read_fails_a_pull_of_changed_content(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let database = common::TestDatabase::create(backend, dir.path()).await;
    let server =
        TestServer::start_with(dir.path().to_owned(), &database.url, &[("BERTH_VERIFY_ON_READ", "true".to_owned())])
            .await;
    let admin = common::admin_client();
    let content: Vec<u8> = (0..3 << 20).map(|i| (i % 253) as u8).collect();
    let digest = Digest::sha256_of(&content);
    assert_eq!(common::push_blob(&admin, &server, "library/app", &content).await, StatusCode::CREATED);
    let url = server.url(&format!("/v2/library/app/blobs/{digest}"));
    let whole = admin.get(&url).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(Digest::sha256_of(&whole), digest, "intact content is served whole");

    corrupt(&blob_file(&server, &digest));
    let response = admin.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "the headers went out before the last byte was hashed");
    assert!(response.bytes().await.is_err(), "the transfer fails instead of delivering changed content");
    // A range cannot be checked against the digest and is served as stored.
    let ranged = admin.get(&url).header("range", "bytes=10-19").send().await.unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    server.stop().await;
    drop(database);
}

/// An operator who lost a password sets a new one from the server's side,
/// while Berth runs: it works at once, the old one does not, the account's
/// sessions end, and the audit log says an operator did it.
async fn an_operator_resets_a_password(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_user("alice", "Old-passw0rd").await;
    let portal = common::portal_client(&server, "alice", "Old-passw0rd").await;
    assert_eq!(portal.post(server.url("/portal/fn/profile")).send().await.unwrap().status(), StatusCode::OK);

    let (code, printed) = berth(&server, &["admin", "reset-password", "alice"], None).await;
    assert_eq!(code, 0, "{printed}");
    let password = printed.trim().rsplit(' ').next().unwrap().to_owned();
    assert_eq!(password.len(), 24, "{printed}");
    let v2 = |password: &str| common::client_as("alice", password).get(server.url("/v2/")).send();
    assert_eq!(v2(&password).await.unwrap().status(), StatusCode::OK);
    assert_eq!(v2("Old-passw0rd").await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let after = portal.post(server.url("/portal/fn/profile")).send().await.unwrap().status();
    assert_eq!(after, StatusCode::UNAUTHORIZED, "the old session ended");

    let chosen = ["admin", "reset-password", "alice", "--password-stdin"];
    let (code, printed) = berth(&server, &chosen, Some("Ch0sen-password\n")).await;
    assert_eq!(code, 0, "{printed}");
    assert_eq!(v2("Ch0sen-password").await.unwrap().status(), StatusCode::OK);
    let (code, printed) = berth(&server, &chosen, Some("short\n")).await;
    assert_eq!(code, 1, "{printed}");
    assert!(printed.contains("password"), "{printed}");
    let (code, printed) = berth(&server, &["admin", "reset-password", "nobody"], None).await;
    assert_eq!(code, 1);
    assert!(printed.contains("user nobody does not exist"), "{printed}");

    let logs = common::audit_log(&server, "resource=alice").await;
    assert!(logs.iter().any(|l| l["username"] == "operator (berth admin)"), "{logs:?}");
    server.stop().await;
}

on_both_databases!(
    verify_reports_and_quarantines_changed_content,
    verify_on_read_fails_a_pull_of_changed_content,
    an_operator_resets_a_password
);
