//! Blobs in S3-compatible object storage (a real Garage started per test):
//! the blob store contract, and two Berth nodes sharing one PostgreSQL
//! database and one bucket, as behind a load balancer.

mod common;

use app::core::{
    registry::digest::Digest,
    storage::{BlobStore, UploadId, suite},
};
use common::{Backend, TestDatabase, TestServer, garage::Garage, within_time_limit};
use reqwest::{Client, StatusCode, header};

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_s3_store_passes_the_blob_store_suite() {
    within_time_limit(async {
        let garage = Garage::start().await;
        suite::run(&garage.store()).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_bucket_and_database() {
    within_time_limit(async {
        common::init_test_logging();
        let garage = Garage::start().await;
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let database = TestDatabase::create(Backend::Postgres, dir_a.path()).await;
        // Nodes behind one load balancer share its URL (tokens name it as issuer and audience).
        let mut settings = garage.berth_settings();
        settings.push(("BERTH_EXTERNAL_URL", "http://registry.test:5000".to_owned()));
        let node_a = TestServer::start_with(dir_a.path().to_owned(), &database.url, &settings).await;
        let node_b = TestServer::start_with(dir_b.path().to_owned(), &database.url, &settings).await;
        node_a.create_projects(&["team"]).await;
        let client = common::admin_client();

        // Both nodes sign and verify registry tokens with the one shared key.
        let token: serde_json::Value = client
            .get(node_a.url("/service/token?scope=repository:team/app:pull,push"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let tags = Client::new()
            .get(node_b.url("/v2/team/app/tags/list"))
            .bearer_auth(token["token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(tags.status(), StatusCode::NOT_FOUND, "accepted by node B; the repository has no pushes yet");

        // A chunked upload started on one node continues and ends on the other.
        let layer = pattern(9 * 1024 * 1024 + 5, 1);
        let digest = Digest::sha256_of(&layer);
        let start = client.post(node_a.url("/v2/team/app/blobs/uploads/")).send().await.unwrap();
        assert_eq!(start.status(), StatusCode::ACCEPTED);
        let location = start.headers()[header::LOCATION].to_str().unwrap().to_owned();
        let (first, rest) = layer.split_at(6 * 1024 * 1024);
        let patch = client.patch(node_a.url(&location)).body(first.to_vec()).send().await.unwrap();
        assert_eq!(patch.status(), StatusCode::ACCEPTED);
        let status = client.get(node_b.url(&location)).send().await.unwrap();
        assert_eq!(status.headers()[header::RANGE], format!("0-{}", first.len() - 1));
        let patch = client.patch(node_b.url(&location)).body(rest.to_vec()).send().await.unwrap();
        assert_eq!(patch.headers()[header::RANGE], format!("0-{}", layer.len() - 1));
        let put = client.put(node_b.url(&format!("{location}?digest={digest}"))).send().await.unwrap();
        assert_eq!(put.status(), StatusCode::CREATED);

        // A monolithic push of a config on node B, a manifest on node A.
        let config = br#"{"architecture":"amd64","os":"linux"}"#;
        let config_digest = Digest::sha256_of(config);
        let pushed = client
            .post(node_b.url(&format!("/v2/team/app/blobs/uploads/?digest={config_digest}")))
            .body(config.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(pushed.status(), StatusCode::CREATED);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": { "mediaType": "application/vnd.oci.image.config.v1+json",
                        "digest": config_digest.to_string(), "size": config.len() },
            "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar",
                         "digest": digest.to_string(), "size": layer.len() }]
        });
        let put = client
            .put(node_a.url("/v2/team/app/manifests/v1"))
            .header(header::CONTENT_TYPE, "application/vnd.oci.image.manifest.v1+json")
            .body(manifest.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), StatusCode::CREATED);

        // Both nodes serve everything, ranges included.
        for node in [&node_a, &node_b] {
            let got = client.get(node.url("/v2/team/app/manifests/v1")).send().await.unwrap();
            assert_eq!(got.status(), StatusCode::OK);
            let blob = client.get(node.url(&format!("/v2/team/app/blobs/{digest}"))).send().await.unwrap();
            assert_eq!(blob.headers()[header::CONTENT_LENGTH], layer.len().to_string());
            assert!(blob.bytes().await.unwrap() == layer, "the layer reads back whole");
            let ranged = client
                .get(node.url(&format!("/v2/team/app/blobs/{digest}")))
                .header(header::RANGE, "bytes=100-199")
                .send()
                .await
                .unwrap();
            assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
            assert_eq!(ranged.bytes().await.unwrap().as_ref(), &layer[100..200]);
        }

        // A lying push through either node stores nothing.
        let claimed = Digest::sha256_of(b"something else");
        let lie = client
            .post(node_a.url(&format!("/v2/team/app/blobs/uploads/?digest={claimed}")))
            .body(b"not that".to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(lie.status(), StatusCode::BAD_REQUEST);
        assert_eq!(garage.store().stat(&claimed).await.unwrap(), None);

        // An abandoned upload is cleaned up by whichever node runs the job.
        let start = client.post(node_a.url("/v2/team/app/blobs/uploads/")).send().await.unwrap();
        let abandoned = start.headers()[header::LOCATION].to_str().unwrap().to_owned();
        client.patch(node_a.url(&abandoned)).body(b"half".to_vec()).send().await.unwrap();
        let orphan = UploadId::generate();
        garage.store().start_upload(&orphan).await.unwrap();
        assert_eq!(garage.store().list_uploads().await.unwrap().len(), 2);
        let later = chrono::Utc::now() + chrono::Duration::seconds(5);
        let report = node_b.state.registry.clean_up_abandoned(later).await.unwrap();
        assert_eq!(report.uploads, 2);
        assert!(report.repositories.is_empty(), "team/app has a manifest");
        assert!(garage.store().list_uploads().await.unwrap().is_empty());
        assert_eq!(client.get(node_a.url(&abandoned)).send().await.unwrap().status(), StatusCode::NOT_FOUND);

        // Nothing went to local disk.
        for dir in [&dir_a, &dir_b] {
            assert!(common::files_under(&dir.path().join("storage")).is_empty());
        }
        node_a.stop().await;
        node_b.stop().await;
        drop(database);
    })
    .await;
}
