//! Blob pushes and pulls over real HTTP, on SQLite and PostgreSQL: every
//! upload flow of the distribution spec, ranges, mounts, deletes and the
//! errors each can produce.

mod common;

use app::core::registry::digest::{Algorithm, Digest};
use common::{Backend, TestServer};
use reqwest::{Client, Response, StatusCode, header};
use serde_json::Value;

fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    // xorshift: deterministic, incompressible enough, no extra dependency.
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

async fn error_code(response: Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["errors"][0]["code"].as_str().unwrap_or_default().to_owned()
}

async fn push_monolithic(client: &Client, server: &TestServer, repo: &str, content: &[u8]) -> Digest {
    let digest = Digest::sha256_of(content);
    let response = client
        .post(server.url(&format!("/v2/{repo}/blobs/uploads/?digest={digest}")))
        .body(content.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    digest
}

async fn monolithic_push_then_pull_with_ranges(backend: Backend) {
    let server = TestServer::start(backend).await;
    let client = common::admin_client();
    let content = random_bytes(100_000, 1);
    let digest = Digest::sha256_of(&content);
    let response = client
        .post(server.url(&format!("/v2/library/app/blobs/uploads/?digest={digest}")))
        .body(content.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()[header::LOCATION], format!("/v2/library/app/blobs/{digest}"));
    assert_eq!(response.headers()["docker-content-digest"], digest.to_string());

    let url = server.url(&format!("/v2/library/app/blobs/{digest}"));
    let head = client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()[header::CONTENT_LENGTH], "100000");
    assert_eq!(head.headers()[header::ACCEPT_RANGES], "bytes");
    assert_eq!(head.headers()["docker-content-digest"], digest.to_string());

    let get = client.get(&url).send().await.unwrap();
    assert_eq!(get.status(), StatusCode::OK);
    assert_eq!(get.bytes().await.unwrap().as_ref(), content.as_slice());

    let partial = client.get(&url).header(header::RANGE, "bytes=1000-1999").send().await.unwrap();
    assert_eq!(partial.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(partial.headers()[header::CONTENT_RANGE], "bytes 1000-1999/100000");
    assert_eq!(partial.headers()[header::CONTENT_LENGTH], "1000");
    assert_eq!(partial.bytes().await.unwrap().as_ref(), &content[1000..2000]);

    let tail = client.get(&url).header(header::RANGE, "bytes=-10").send().await.unwrap();
    assert_eq!(tail.bytes().await.unwrap().as_ref(), &content[99_990..]);

    let outside = client.get(&url).header(header::RANGE, "bytes=100000-").send().await.unwrap();
    assert_eq!(outside.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(outside.headers()[header::CONTENT_RANGE], "bytes */100000");
    server.stop().await;
}

async fn chunked_upload_in_order_with_status_and_resume(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    let client = common::admin_client();
    let content = random_bytes(3 * 1024 * 1024 + 17, 2);
    let digest = Digest::sha256_of(&content);

    let start = client.post(server.url("/v2/team/api/blobs/uploads/")).send().await.unwrap();
    assert_eq!(start.status(), StatusCode::ACCEPTED);
    assert_eq!(start.headers()[header::RANGE], "0-0");
    let location = start.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert!(location.starts_with("/v2/team/api/blobs/uploads/"), "{location}");
    let uuid = start.headers()["docker-upload-uuid"].to_str().unwrap().to_owned();
    assert!(location.ends_with(&uuid));
    let upload = server.url(&location);

    // First chunk with Content-Range, as the spec's chunked flow sends it.
    let first = &content[..1024 * 1024];
    let response = client
        .patch(&upload)
        .header(header::CONTENT_RANGE, format!("0-{}", first.len() - 1))
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(first.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.headers()[header::RANGE], format!("0-{}", first.len() - 1));

    // A chunk that does not start where the upload ends is out of order:
    // 416, nothing appended. (Small, so the client has sent it all before
    // the early answer arrives.)
    let again =
        client.patch(&upload).header(header::CONTENT_RANGE, "0-9").body(first[..10].to_vec()).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(error_code(again).await, "BLOB_UPLOAD_INVALID");

    // A resuming client asks where to continue.
    let status = client.get(&upload).send().await.unwrap();
    assert_eq!(status.status(), StatusCode::NO_CONTENT);
    assert_eq!(status.headers()[header::RANGE], format!("0-{}", first.len() - 1));
    assert_eq!(status.headers()["docker-upload-uuid"], uuid.as_str());

    // Second chunk streamed without a length (as podman does), then PUT with the rest.
    let middle = content[first.len()..2 * 1024 * 1024].to_vec();
    let stream = futures_util::stream::iter(
        middle.chunks(64 * 1024).map(|c| Ok::<_, std::io::Error>(c.to_vec())).collect::<Vec<_>>(),
    );
    let response = client.patch(&upload).body(reqwest::Body::wrap_stream(stream)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.headers()[header::RANGE], format!("0-{}", 2 * 1024 * 1024 - 1));

    let rest = content[2 * 1024 * 1024..].to_vec();
    let response = client.put(format!("{upload}?digest={digest}")).body(rest).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["docker-content-digest"], digest.to_string());

    let pulled = client.get(server.url(&format!("/v2/team/api/blobs/{digest}"))).send().await.unwrap();
    assert_eq!(pulled.bytes().await.unwrap().as_ref(), content.as_slice());
    // The session is finished.
    assert_eq!(client.get(&upload).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    server.stop().await;
}

async fn post_then_put_with_the_whole_blob(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    let client = common::admin_client();
    let content = b"single put".to_vec();
    let digest = Digest::sha256_of(&content);
    let start = client.post(server.url("/v2/team/one/blobs/uploads/")).send().await.unwrap();
    let upload = server.url(start.headers()[header::LOCATION].to_str().unwrap());
    let response = client
        .put(format!("{upload}?digest={digest}"))
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(content.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let head = client.head(server.url(&format!("/v2/team/one/blobs/{digest}"))).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    server.stop().await;
}

async fn a_wrong_digest_stores_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    let client = common::admin_client();
    let claimed = Digest::sha256_of(b"what the client says");
    let response = client
        .post(server.url(&format!("/v2/team/one/blobs/uploads/?digest={claimed}")))
        .body("what the client sends")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "DIGEST_INVALID");
    let head = client.head(server.url(&format!("/v2/team/one/blobs/{claimed}"))).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
    let stored = common::files_under(&server.data_dir.join("storage/blobs"));
    assert!(stored.is_empty(), "{stored:?}");
    assert!(common::files_under(&server.data_dir.join("storage/uploads")).is_empty(), "staging is cleaned up");

    // Chunked: the mismatch is found at PUT and the session ends.
    let start = client.post(server.url("/v2/team/one/blobs/uploads/")).send().await.unwrap();
    let upload = server.url(start.headers()[header::LOCATION].to_str().unwrap());
    client.patch(&upload).body("some bytes").send().await.unwrap();
    let response = client.put(format!("{upload}?digest={claimed}")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "DIGEST_INVALID");
    assert_eq!(client.get(&upload).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    server.stop().await;
}

async fn bad_input_gets_the_spec_error(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    let client = common::admin_client();
    let good = Digest::sha256_of(b"x");
    let cases: Vec<(reqwest::Method, String, StatusCode, &str)> = vec![
        (
            reqwest::Method::HEAD,
            "/v2/Upper/blobs/".to_owned() + &good.to_string(),
            StatusCode::BAD_REQUEST,
            "NAME_INVALID",
        ),
        (reqwest::Method::GET, "/v2/team/ok/blobs/sha256:1234".to_owned(), StatusCode::BAD_REQUEST, "DIGEST_INVALID"),
        (
            reqwest::Method::GET,
            "/v2/team/ok/blobs/md5:d41d8cd98f00b204e9800998ecf8427e".to_owned(),
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
        ),
        (reqwest::Method::GET, format!("/v2/team/ok/blobs/{good}"), StatusCode::NOT_FOUND, "BLOB_UNKNOWN"),
        (reqwest::Method::DELETE, format!("/v2/team/ok/blobs/{good}"), StatusCode::NOT_FOUND, "BLOB_UNKNOWN"),
        (
            reqwest::Method::POST,
            "/v2/team/ok/blobs/uploads/?digest=sha256:zz".to_owned(),
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
        ),
        (
            reqwest::Method::GET,
            "/v2/team/ok/blobs/uploads/not-a-session".to_owned(),
            StatusCode::NOT_FOUND,
            "BLOB_UPLOAD_UNKNOWN",
        ),
        (
            reqwest::Method::PATCH,
            "/v2/team/ok/blobs/uploads/0b4a7e5e-3c2f-4a8e-9a55-5f6b7c8d9e0f".to_owned(),
            StatusCode::NOT_FOUND,
            "BLOB_UPLOAD_UNKNOWN",
        ),
        (reqwest::Method::PUT, format!("/v2/team/ok/blobs/{good}"), StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED"),
        (reqwest::Method::GET, "/v2/team/ok/unknown/thing".to_owned(), StatusCode::NOT_FOUND, "NAME_UNKNOWN"),
    ];
    for (method, path, status, code) in cases {
        let response = client.request(method.clone(), server.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), status, "{method} {path}");
        assert_eq!(response.headers()["docker-distribution-api-version"], "registry/2.0");
        if method != reqwest::Method::HEAD {
            assert_eq!(error_code(response).await, code, "{method} {path}");
        }
    }

    // PUT without ?digest= is refused and the session survives for a retry.
    let start = client.post(server.url("/v2/team/ok/blobs/uploads/")).send().await.unwrap();
    let upload = server.url(start.headers()[header::LOCATION].to_str().unwrap());
    let response = client.put(&upload).body("abc").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "DIGEST_INVALID");
    assert_eq!(client.get(&upload).send().await.unwrap().status(), StatusCode::NO_CONTENT);

    // A session belongs to its repository.
    let elsewhere = upload.replace("/v2/team/ok/", "/v2/team/other/");
    let response = client.patch(&elsewhere).body("x").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(response).await, "BLOB_UPLOAD_UNKNOWN");

    // Cancelling ends it.
    assert_eq!(client.delete(&upload).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(client.get(&upload).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    server.stop().await;
}

async fn repositories_see_only_their_blobs_and_mounts(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["a", "b"]).await;
    let client = common::admin_client();
    let digest = push_monolithic(&client, &server, "a/one", b"shared layer").await;
    let head = |repo: &str| client.head(server.url(&format!("/v2/{repo}/blobs/{digest}"))).send();
    assert_eq!(head("a/one").await.unwrap().status(), StatusCode::OK);
    assert_eq!(head("b/two").await.unwrap().status(), StatusCode::NOT_FOUND, "not pushed there");

    let mount =
        client.post(server.url(&format!("/v2/b/two/blobs/uploads/?mount={digest}&from=a/one"))).send().await.unwrap();
    assert_eq!(mount.status(), StatusCode::CREATED);
    assert_eq!(mount.headers()[header::LOCATION], format!("/v2/b/two/blobs/{digest}"));
    assert_eq!(head("b/two").await.unwrap().status(), StatusCode::OK);

    // Mounting what the source does not have falls back to an upload session.
    let missing = Digest::sha256_of(b"nowhere");
    let fallback =
        client.post(server.url(&format!("/v2/b/two/blobs/uploads/?mount={missing}&from=a/one"))).send().await.unwrap();
    assert_eq!(fallback.status(), StatusCode::ACCEPTED);
    assert!(fallback.headers()[header::LOCATION].to_str().unwrap().starts_with("/v2/b/two/blobs/uploads/"));

    // Deleting from one repository leaves the other's link.
    let deleted = client.delete(server.url(&format!("/v2/a/one/blobs/{digest}"))).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::ACCEPTED);
    assert_eq!(head("a/one").await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(head("b/two").await.unwrap().status(), StatusCode::OK);
    server.stop().await;
}

async fn concurrent_pushes_of_one_blob_store_it_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    let client = common::admin_client();
    let content = random_bytes(512 * 1024, 3);
    let pushes = (0..12).map(|i| {
        let client = client.clone();
        let url = server.url(&format!("/v2/team/app{}/blobs/uploads/?digest={}", i % 3, Digest::sha256_of(&content)));
        let body = content.clone();
        async move { client.post(url).body(body).send().await.unwrap().status() }
    });
    let statuses = futures_util::future::join_all(pushes).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED), "{statuses:?}");
    let stored = common::files_under(&server.data_dir.join("storage/blobs"));
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(std::fs::read(&stored[0]).unwrap(), content);
    server.stop().await;
}

async fn sha512_blobs_work_like_sha256(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    let client = common::admin_client();
    let content = random_bytes(70_000, 4);
    let digest = Digest::of(Algorithm::Sha512, &content);
    let response = client
        .post(server.url(&format!("/v2/team/wide/blobs/uploads/?digest={digest}")))
        .body(content.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let get = client.get(server.url(&format!("/v2/team/wide/blobs/{digest}"))).send().await.unwrap();
    assert_eq!(get.headers()["docker-content-digest"], digest.to_string());
    assert_eq!(get.bytes().await.unwrap().as_ref(), content.as_slice());
    server.stop().await;
}

async fn abandoned_uploads_and_repositories_are_cleaned_up(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["abandoned", "kept", "blobs"]).await;
    let client = common::admin_client();
    let staged_files = || common::files_under(&server.data_dir.join("storage/uploads"));

    // An upload left half-way in a repository that never got anything else.
    let start = client.post(server.url("/v2/abandoned/app/blobs/uploads/")).send().await.unwrap();
    let abandoned = server.url(start.headers()[header::LOCATION].to_str().unwrap());
    client.patch(&abandoned).body(random_bytes(1000, 7)).send().await.unwrap();
    // Bytes staged by a node that died before recording the upload.
    let orphan = app::core::storage::UploadId::generate();
    server.state.blobs.start_upload(&orphan).await.unwrap();
    // A repository with a blob but no manifest, and one with a manifest.
    push_monolithic(&client, &server, "blobs/only", b"layer").await;
    let config = push_monolithic(&client, &server, "kept/app", b"{}").await;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.to_string(), "size": 2 },
        "layers": []
    });
    let pushed = client
        .put(server.url("/v2/kept/app/manifests/v1"))
        .header(header::CONTENT_TYPE, "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), StatusCode::CREATED);
    assert_eq!(staged_files().len(), 2);

    // Everything is younger than an hour: nothing goes.
    let report = server.state.registry.clean_up_abandoned(chrono::Utc::now() - chrono::Duration::hours(1)).await;
    assert_eq!(report.unwrap(), Default::default());
    assert_eq!(client.get(&abandoned).send().await.unwrap().status(), StatusCode::NO_CONTENT);

    // As if a day had passed: the upload, the orphaned bytes and the
    // repositories without manifests go; the rest stays.
    let later = chrono::Utc::now() + chrono::Duration::seconds(5);
    let report = server.state.registry.clean_up_abandoned(later).await.unwrap();
    assert_eq!(report.uploads, 2);
    let mut removed = report.repositories.clone();
    removed.sort();
    assert_eq!(removed, ["abandoned/app", "blobs/only"]);
    assert!(staged_files().is_empty(), "{:?}", staged_files());
    let status = client.get(&abandoned).send().await.unwrap();
    assert_eq!(status.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(status).await, "BLOB_UPLOAD_UNKNOWN");
    let catalog: Value = client.get(server.url("/v2/_catalog")).send().await.unwrap().json().await.unwrap();
    assert_eq!(catalog["repositories"], serde_json::json!(["kept/app"]));
    let kept = client.get(server.url("/v2/kept/app/manifests/v1")).send().await.unwrap();
    assert_eq!(kept.status(), StatusCode::OK);
    server.stop().await;
}

on_both_databases!(
    abandoned_uploads_and_repositories_are_cleaned_up,
    monolithic_push_then_pull_with_ranges,
    chunked_upload_in_order_with_status_and_resume,
    post_then_put_with_the_whole_blob,
    a_wrong_digest_stores_nothing,
    bad_input_gets_the_spec_error,
    repositories_see_only_their_blobs_and_mounts,
    concurrent_pushes_of_one_blob_store_it_once,
    sha512_blobs_work_like_sha256,
);
