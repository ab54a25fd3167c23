//! A full disk: the blob store lives on a 16 MiB tmpfs (the database
//! elsewhere). A push that runs out of space fails with a clear error and
//! leaves no bytes and no repository behind, pulls keep working, and once
//! space returns pushes work again without a restart.

mod common;

use std::{path::Path, process::Command};

use common::{Backend, TestDatabase, TestServer};
use reqwest::StatusCode;
use serde_json::Value;

const SIZE_MIB: u64 = 16;

/// A tmpfs of [`SIZE_MIB`] mounted for the test's life.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={SIZE_MIB}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount runs");
        assert!(status.success(), "mounting a small tmpfs needs root, as the test command runs");
        Self(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

fn bytes_under(dir: &Path) -> u64 {
    common::files_under(dir).iter().filter_map(|f| f.metadata().ok()).map(|m| m.len()).sum()
}

async fn blob_status(client: &reqwest::Client, server: &TestServer, repo: &str, blob: &[u8]) -> (StatusCode, Value) {
    let digest = app::core::registry::digest::Digest::sha256_of(blob);
    let response = client
        .post(server.url(&format!("/v2/{repo}/blobs/uploads/?digest={digest}")))
        .body(blob.to_vec())
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn a_full_disk_refuses_pushes_cleanly(backend: Backend) {
    let disk = SmallDisk::mount();
    let database_dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(backend, database_dir.path()).await;
    let server = TestServer::start_with(disk.path().to_owned(), &database.url, &[]).await;
    server.create_projects(&["team"]).await;
    let client = common::admin_client();
    let (image, _) = common::push_image(&client, &server, "team/app", "v1", b"a small layer").await;
    let stored = bytes_under(disk.path());

    // Bigger than the disk: refused, clearly, with nothing left. Only just
    // bigger: the server answers when the disk fills and stops reading, and
    // the client must still be able to send the rest (about 1 MiB, which the
    // sockets' buffers take) to read that answer rather than a broken pipe.
    let big = vec![7u8; (SIZE_MIB as usize + 1) << 20];
    let (status, body) = blob_status(&client, &server, "team/big", &big).await;
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE, "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("storage is full"), "{body}");
    assert_eq!(bytes_under(disk.path()), stored, "the refused push left bytes behind");
    let repositories: Value = client.get(server.url("/v2/_catalog")).send().await.unwrap().json().await.unwrap();
    assert_eq!(repositories["repositories"], serde_json::json!(["team/app"]), "no empty repository");

    // Pulls keep working.
    let pulled = client
        .get(server.url(&format!("/v2/team/app/manifests/{image}")))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(pulled.status(), StatusCode::OK);

    // A disk filled by something else refuses even a small push...
    let filler = disk.path().join("filler");
    let free = (SIZE_MIB << 20) - stored;
    let _ = std::fs::write(&filler, vec![0u8; free as usize]);
    let small = vec![9u8; 1 << 20];
    let (status, body) = blob_status(&client, &server, "team/app", &small).await;
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE, "{body}");
    // ...and takes it once space is back, without a restart.
    std::fs::remove_file(&filler).unwrap();
    let (status, body) = blob_status(&client, &server, "team/app", &small).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let digest = app::core::registry::digest::Digest::sha256_of(&small);
    let pulled = client.get(server.url(&format!("/v2/team/app/blobs/{digest}"))).send().await.unwrap();
    assert_eq!(pulled.bytes().await.unwrap().len(), small.len());

    server.stop().await;
    drop(database);
}

on_both_databases!(a_full_disk_refuses_pushes_cleanly);
