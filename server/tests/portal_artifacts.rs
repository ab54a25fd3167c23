//! The portal's repository functions over real HTTP, on SQLite and
//! PostgreSQL: artifacts with tags, types, sizes and index platforms, a
//! page at a time (tag filter, order, keyset cursors); adding and removing
//! tags and deleting artifacts as the roles allow, with the change visible
//! on `/v2`; and a seeded repository of 10,000 artifacts and 1,000 tags
//! whose first and middle pages render.

mod common;

use app::core::registry::digest::Digest;
use common::{Backend, TestServer};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

async fn call(client: &Client, server: &TestServer, function: &str, fields: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = client.post(server.url(&format!("/portal/fn/{function}"))).form(fields).send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn tags_of(view: &Value) -> Vec<Vec<String>> {
    view["artifacts"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect())
        .collect()
}

/// Pushes an image index of two single-layer images (amd64 and arm64) as
/// `repo:tag`; returns its digest and total size (the index and its images).
async fn push_index(client: &Client, server: &TestServer, repo: &str, tag: &str) -> (String, i64) {
    let mut entries = Vec::new();
    let mut total = 0;
    for arch in ["amd64", "arm64"] {
        let (digest, size) = common::push_image(client, server, repo, &format!("{arch}-build"), arch.as_bytes()).await;
        total += size;
        let manifest = client
            .get(server.url(&format!("/v2/{repo}/manifests/{digest}")))
            .header("accept", "application/vnd.oci.image.manifest.v1+json")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        entries.push(json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest, "size": manifest.len(),
            "platform": {"os": "linux", "architecture": arch},
        }));
        // The per-platform tags go, as a multi-platform push leaves none.
        let tag = client.delete(server.url(&format!("/v2/{repo}/manifests/{arch}-build"))).send().await.unwrap();
        assert_eq!(tag.status(), StatusCode::ACCEPTED);
    }
    let index =
        json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries})
            .to_string();
    let pushed = client
        .put(server.url(&format!("/v2/{repo}/manifests/{tag}")))
        .header("content-type", "application/vnd.oci.image.index.v1+json")
        .body(index.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), StatusCode::CREATED);
    (Digest::sha256_of(index.as_bytes()).to_string(), total + index.len() as i64)
}

async fn browse_and_change_a_repository(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    let admin = common::admin_client();
    for (user, role) in [("gina", 3), ("mo", 4)] {
        server.create_user(user, &format!("{user}-password-1")).await;
        let member = json!({"role_id": role, "member_user": {"username": user}});
        admin.post(server.url("/api/v2.0/projects/team/members")).json(&member).send().await.unwrap();
    }
    let (v1, v1_size) = common::push_image(&admin, &server, "team/app", "v1", b"first layer").await;
    let (v2, _) = common::push_image(&admin, &server, "team/app", "v2", b"second layer").await;
    let (index, index_size) = push_index(&admin, &server, "team/app", "multi").await;
    let gina = common::portal_client(&server, "gina", "gina-password-1").await;
    let mo = common::portal_client(&server, "mo", "mo-password-1").await;

    // Newest first: the index (its images are not listed on their own), v2, v1.
    let (status, view) = call(&gina, &server, "repository", &[("name", "team/app")]).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let items = view["artifacts"]["items"].as_array().unwrap();
    let digests: Vec<&str> = items.iter().map(|a| a["digest"].as_str().unwrap()).collect();
    assert_eq!(digests, [index.as_str(), v2.as_str(), v1.as_str()]);
    assert_eq!(view["artifacts"]["total"], 3);
    assert_eq!((items[0]["kind"].as_str(), items[2]["kind"].as_str()), (Some("Image index"), Some("Image")));
    assert_eq!(items[0]["platforms"], json!(["linux/amd64", "linux/arm64"]));
    assert_eq!((items[0]["size"].as_i64(), items[2]["size"].as_i64()), (Some(index_size), Some(v1_size)));
    assert_eq!(tags_of(&view), [vec!["multi"], vec!["v2"], vec!["v1"]]);
    assert_eq!(view["registry_host"].as_str().unwrap(), server.base.trim_start_matches("http://"));
    let guest_may = &view["permissions"];
    assert_eq!(
        (guest_may["delete_artifacts"].as_bool(), guest_may["manage_tags"].as_bool()),
        (Some(false), Some(false))
    );

    // Filtered by tag, oldest first.
    let (_, view) = call(&gina, &server, "repository", &[("name", "team/app"), ("tag", "v")]).await;
    assert_eq!(tags_of(&view), [vec!["v2"], vec!["v1"]]);
    let (_, view) = call(&gina, &server, "repository", &[("name", "team/app"), ("sort", "oldest")]).await;
    assert_eq!(tags_of(&view), [vec!["v1"], vec!["v2"], vec!["multi"]]);
    let (status, _) = call(&gina, &server, "repository", &[("name", "team/app"), ("after", "garbage")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // One artifact: config, layers and referrers; an index: its images.
    let sbom = br#"{"spdxVersion":"SPDX-2.3"}"#;
    assert_eq!(common::push_blob(&admin, &server, "team/app", sbom).await, StatusCode::CREATED);
    let empty = br#"{}"#;
    assert_eq!(common::push_blob(&admin, &server, "team/app", empty).await, StatusCode::CREATED);
    let v1_manifest = admin
        .get(server.url(&format!("/v2/team/app/manifests/{v1}")))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let attached = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/spdx+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": Digest::sha256_of(empty).to_string(), "size": 2},
        "layers": [{"mediaType": "application/spdx+json", "digest": Digest::sha256_of(sbom).to_string(), "size": sbom.len()}],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": v1, "size": v1_manifest.len()},
    })
    .to_string();
    let attached_digest = Digest::sha256_of(attached.as_bytes()).to_string();
    let pushed = admin
        .put(server.url(&format!("/v2/team/app/manifests/{attached_digest}")))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(attached)
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), StatusCode::CREATED);
    let (status, artifact) = call(&gina, &server, "artifact", &[("repository", "team/app"), ("digest", &v1)]).await;
    assert_eq!(status, StatusCode::OK, "{artifact}");
    assert_eq!((artifact["item"]["kind"].as_str(), artifact["item"]["size"].as_i64()), (Some("Image"), Some(v1_size)));
    assert_eq!(artifact["config"]["os"], "linux");
    assert_eq!(artifact["config"]["architecture"], "amd64");
    assert_eq!(artifact["layers"].as_array().unwrap().len(), 1);
    assert_eq!(artifact["layers"][0]["size"], b"first layer".len());
    assert!(artifact["manifest"].as_str().unwrap().contains("\"schemaVersion\": 2"));
    assert_eq!(
        artifact["referrers"],
        json!([{"digest": attached_digest, "kind": "SBOM", "artifact_type": "application/spdx+json", "size": artifact["referrers"][0]["size"]}])
    );
    let (_, by_tag) = call(&gina, &server, "artifact", &[("repository", "team/app"), ("digest", "v1")]).await;
    assert_eq!(by_tag["item"]["digest"], v1.as_str());
    let (_, multi) = call(&gina, &server, "artifact", &[("repository", "team/app"), ("digest", &index)]).await;
    let platforms: Vec<&str> =
        multi["children"].as_array().unwrap().iter().map(|c| c["platform"].as_str().unwrap()).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    assert!(multi["config"].is_null() && multi["layers"].as_array().unwrap().is_empty());
    let (status, _) = call(&gina, &server, "artifact", &[("repository", "team/app"), ("digest", "nope")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.create_user("olga", "olga-password-1").await;
    let olga = common::portal_client(&server, "olga", "olga-password-1").await;
    let (status, _) = call(&olga, &server, "artifact", &[("repository", "team/app"), ("digest", &v1)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no member, no look");

    // A guest's forged calls change nothing.
    for (function, fields) in [
        ("add_tag", vec![("repository", "team/app"), ("digest", v1.as_str()), ("tag", "stable")]),
        ("remove_tag", vec![("repository", "team/app"), ("digest", v1.as_str()), ("tag", "v1")]),
        ("delete_artifact", vec![("repository", "team/app"), ("digest", v1.as_str())]),
    ] {
        let (status, _) = call(&gina, &server, function, &fields).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{function}");
    }

    // A maintainer adds and removes tags; /v2 sees them at once.
    let (_, view) = call(&mo, &server, "repository", &[("name", "team/app")]).await;
    assert_eq!(view["permissions"], json!({"delete_artifacts": true, "manage_tags": true, "edit_description": true}));
    let add = |tag: &'static str| [("repository", "team/app"), ("digest", v1.as_str()), ("tag", tag)];
    assert_eq!(call(&mo, &server, "add_tag", &add("stable")).await.0, StatusCode::OK);
    let stable = admin.head(server.url("/v2/team/app/manifests/stable")).send().await.unwrap();
    assert_eq!(stable.headers()["docker-content-digest"], v1.as_str());
    assert_eq!(call(&mo, &server, "add_tag", &add("v2")).await.0, StatusCode::CONFLICT);
    let (status, error) = call(&mo, &server, "add_tag", &add("bad tag!")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let (status, _) =
        call(&mo, &server, "remove_tag", &[("repository", "team/app"), ("digest", &v1), ("tag", "v1")]).await;
    assert_eq!(status, StatusCode::OK);
    let (_, view) = call(&mo, &server, "repository", &[("name", "team/app"), ("tag", "stable")]).await;
    assert_eq!(tags_of(&view), [vec!["stable"]]);

    // Deleting an artifact removes it and its tags from /v2 too.
    assert_eq!(
        call(&mo, &server, "delete_artifact", &[("repository", "team/app"), ("digest", &v2)]).await.0,
        StatusCode::OK
    );
    let gone = admin.get(server.url(&format!("/v2/team/app/manifests/{v2}"))).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let (_, view) = call(&mo, &server, "repository", &[("name", "team/app")]).await;
    assert_eq!(view["artifacts"]["total"], 2);

    // Keyset pages of 25: forward, then back to the first.
    for n in 0..30 {
        common::push_image(&admin, &server, "team/many", &format!("t{n:02}"), format!("layer {n}").as_bytes()).await;
    }
    let (_, first) = call(&gina, &server, "repository", &[("name", "team/many")]).await;
    assert_eq!(tags_of(&first).len(), 25);
    assert_eq!(tags_of(&first)[0], ["t29"]);
    let next = first["artifacts"]["next"].as_str().unwrap().to_owned();
    let (_, second) = call(&gina, &server, "repository", &[("name", "team/many"), ("after", &next)]).await;
    let expected: Vec<Vec<String>> = (0..5).rev().map(|n| vec![format!("t{n:02}")]).collect();
    assert_eq!(tags_of(&second), expected);
    assert!(second["artifacts"]["next"].is_null());
    let previous = second["artifacts"]["previous"].as_str().unwrap().to_owned();
    let (_, back) = call(&gina, &server, "repository", &[("name", "team/many"), ("before", &previous)]).await;
    assert_eq!(tags_of(&back), tags_of(&first));
    server.stop().await;
}

/// 10,000 artifacts, the newest 1,000 tagged, written straight into the
/// database (pushing them would take minutes and test nothing more).
async fn seed_large_repository(server: &TestServer) -> Vec<(String, chrono::DateTime<chrono::Utc>)> {
    use app::core::db::Db;

    server.create_projects(&["big"]).await;
    let admin = common::admin_client();
    common::push_empty_image(&admin, server, "big/app", "seed").await;
    let base = chrono::Utc::now() - chrono::Duration::days(1);
    let rows: Vec<(String, chrono::DateTime<chrono::Utc>)> = (0..10_000)
        .map(|n| {
            (Digest::sha256_of(format!("artifact {n}").as_bytes()).to_string(), base + chrono::Duration::seconds(n))
        })
        .collect();
    macro_rules! seed {
        ($pool:expr) => {{
            let repository: i64 = sqlx::query_scalar("SELECT id FROM repositories WHERE name = 'big/app'")
                .fetch_one($pool)
                .await
                .unwrap();
            // Writes first, so SQLite never has to upgrade a read transaction.
            #[allow(clippy::disallowed_methods)] // the test is the only writer
            let mut tx = $pool.begin().await.unwrap();
            for chunk in rows.chunks(500) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO manifests (repository_id, digest, media_type, size, content, created_at) ",
                );
                insert.push_values(chunk, |mut row, (digest, at)| {
                    row.push_bind(repository)
                        .push_bind(digest.clone())
                        .push_bind("application/vnd.oci.image.manifest.v1+json")
                        .push_bind(2i64)
                        .push_bind(b"{}".to_vec())
                        .push_bind(*at);
                });
                insert.build().execute(&mut *tx).await.unwrap();
            }
            sqlx::query(
                "INSERT INTO tags (repository_id, name, manifest_id, updated_at) \
                 SELECT m.repository_id, 't' || substr(m.digest, 8, 16), m.id, m.created_at FROM manifests m \
                 WHERE m.repository_id = $1 AND m.digest <> (SELECT digest FROM manifests WHERE id = \
                 (SELECT manifest_id FROM tags WHERE name = 'seed')) ORDER BY m.created_at DESC LIMIT 1000",
            )
            .bind(repository)
            .execute(&mut *tx)
            .await
            .unwrap();
            tx.commit().await.unwrap();
        }};
    }
    match &server.state.db {
        Db::Sqlite(pool) => seed!(pool),
        Db::Postgres(pool) => seed!(pool),
    }
    rows
}

async fn a_large_repository_pages(backend: Backend) {
    let server = TestServer::start(backend).await;
    let rows = seed_large_repository(&server).await;
    let admin = common::portal_client(&server, "admin", common::ADMIN_PASSWORD).await;
    let tag_of = |digest: &str| format!("t{}", &digest[7..23]);

    // The first page: the seed push (newest), then the newest seeded ones, tagged.
    let (_, first) = call(&admin, &server, "repository", &[("name", "big/app")]).await;
    assert_eq!(first["artifacts"]["total"], 10_001);
    let items = first["artifacts"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 25);
    assert_eq!(items[1]["digest"], rows[9_999].0.as_str());
    assert_eq!(items[1]["tags"], json!([tag_of(&rows[9_999].0)]));
    let (_, tagged) = call(&admin, &server, "repository", &[("name", "big/app"), ("tag", "t")]).await;
    assert_eq!(tagged["artifacts"]["total"], 1_000);

    // Page 201 of 401, reached by following the cursors as the Next link does.
    let mut cursor = first["artifacts"]["next"].as_str().unwrap().to_owned();
    for _ in 0..199 {
        let (_, page) = call(&admin, &server, "repository", &[("name", "big/app"), ("after", &cursor)]).await;
        cursor = page["artifacts"]["next"].as_str().unwrap().to_owned();
    }
    let (_, page) = call(&admin, &server, "repository", &[("name", "big/app"), ("after", &cursor)]).await;
    let digests: Vec<&str> =
        page["artifacts"]["items"].as_array().unwrap().iter().map(|a| a["digest"].as_str().unwrap()).collect();
    let expected: Vec<&str> = rows[4_976..5_001].iter().rev().map(|(digest, _)| digest.as_str()).collect();
    assert_eq!(digests, expected);
    assert!(page["artifacts"]["items"][0]["tags"].as_array().unwrap().is_empty(), "old artifacts are untagged");
    assert!(page["artifacts"]["previous"].is_string() && page["artifacts"]["next"].is_string());

    // The same page renders on the server, before any script runs.
    let url = server.url(&format!("/projects/big/repositories/app?after={}", url_escape(&cursor)));
    let response = admin.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    for digest in &expected {
        assert!(html.contains(&digest[..19]), "the page shows {digest}");
    }
    assert!(html.contains("25 shown of 10001"), "the total is shown");
    server.stop().await;
}

/// Every portal page answers 200 when rendered on the server (and an
/// unknown address 404), whatever the router has to match.
async fn every_page_renders(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    let admin = common::admin_client();
    let (digest, _) = common::push_image(&admin, &server, "team/app", "v1", b"layer").await;
    common::push_image(&admin, &server, "team/nested/tool", "v1", b"tool layer").await;
    let portal = common::portal_client(&server, "admin", common::ADMIN_PASSWORD).await;
    for path in common::portal_pages(&digest) {
        let response = portal.get(server.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    let missing = portal.get(server.url("/no/such/page")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}

fn url_escape(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A repository's description: developers write markdown, everyone who may
/// pull reads it rendered with nothing executable left; the REST API reads
/// and writes the same text. Pulls set an artifact's last pull time. An
/// index's images are listed again once the index is deleted.
async fn descriptions_pull_times_and_listing(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    let admin = common::admin_client();
    for (user, role) in [("gina", 3), ("dev", 2)] {
        server.create_user(user, &format!("{user}-password-1")).await;
        let member = json!({"role_id": role, "member_user": {"username": user}});
        admin.post(server.url("/api/v2.0/projects/team/members")).json(&member).send().await.unwrap();
    }
    let (v1, _) = common::push_image(&admin, &server, "team/app", "v1", b"first layer").await;
    let gina = common::portal_client(&server, "gina", "gina-password-1").await;
    let dev = common::portal_client(&server, "dev", "dev-password-1").await;

    let (_, view) = call(&gina, &server, "repository", &[("name", "team/app")]).await;
    assert_eq!(
        (view["description"].as_str(), view["permissions"]["edit_description"].as_bool()),
        (Some(""), Some(false))
    );
    let markdown = "# App\n\nRun it with `podman run`.\n\n<script>alert(1)</script>\n\n[docs](https://example.com) [bad](javascript:alert(1))";
    let describe = |text: &'static str| [("repository", "team/app"), ("description", text)];
    assert_eq!(call(&gina, &server, "set_repository_description", &describe(markdown)).await.0, StatusCode::FORBIDDEN);
    assert_eq!(call(&dev, &server, "set_repository_description", &describe(markdown)).await.0, StatusCode::OK);
    let (_, view) = call(&gina, &server, "repository", &[("name", "team/app")]).await;
    assert_eq!(view["description"], markdown);
    server.state.events.flush().await;
    let (_, logs) = call(&gina, &server, "project_logs", &[("project", "team"), ("operation", "update")]).await;
    assert_eq!(
        (logs["items"][0]["actor"].as_str(), logs["items"][0]["resource"].as_str()),
        (Some("dev"), Some("team/app"))
    );
    let html = view["description_html"].as_str().unwrap();
    assert!(html.contains("<h1>App</h1>") && html.contains("<code>podman run</code>"), "{html}");
    assert!(html.contains("href=\"https://example.com\""), "{html}");
    assert!(!html.contains("<script") && !html.contains("javascript:"), "{html}");
    let long = "x".repeat(65 * 1024);
    let (status, error) =
        call(&dev, &server, "set_repository_description", &[("repository", "team/app"), ("description", &long)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error.to_string().contains("description"), "{error}");
    let (status, _) =
        call(&dev, &server, "set_repository_description", &[("repository", "team/none"), ("description", "x")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The REST API shows and changes the same description.
    let rest: Value =
        admin.get(server.url("/api/v2.0/projects/team/repositories/app")).send().await.unwrap().json().await.unwrap();
    assert_eq!(rest["description"], markdown);
    let put = |body: Value| admin.put(server.url("/api/v2.0/projects/team/repositories/app")).json(&body).send();
    assert_eq!(put(json!({"description": "Short."})).await.unwrap().status(), StatusCode::OK);
    let refused = put(json!({"description": "x", "pull_count": 9})).await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "unknown fields are refused");
    let (_, view) = call(&gina, &server, "repository", &[("name", "team/app")]).await;
    assert_eq!(view["description_html"], "<p>Short.</p>\n");

    // Last pull time: none until pulled; a HEAD is no pull.
    assert!(view["artifacts"]["items"][0]["pulled_at"].is_null());
    admin.head(server.url("/v2/team/app/manifests/v1")).send().await.unwrap();
    server.state.events.flush().await;
    let (_, view) = call(&gina, &server, "repository", &[("name", "team/app")]).await;
    assert!(view["artifacts"]["items"][0]["pulled_at"].is_null());
    let before = chrono::Utc::now();
    let pulled = admin.get(server.url("/v2/team/app/manifests/v1")).send().await.unwrap();
    assert_eq!(pulled.status(), StatusCode::OK);
    server.state.events.flush().await;
    let (_, view) = call(&gina, &server, "repository", &[("name", "team/app")]).await;
    let pulled_at: chrono::DateTime<chrono::Utc> =
        view["artifacts"]["items"][0]["pulled_at"].as_str().unwrap().parse().unwrap();
    assert!(pulled_at >= before - chrono::TimeDelta::seconds(1), "{pulled_at} {before}");
    let rest: Value = admin
        .get(server.url(&format!("/api/v2.0/projects/team/repositories/app/artifacts/{v1}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(rest["pull_time"].is_string(), "{rest}");

    // An index hides its images; deleting it lists them again.
    let (index, _) = push_index(&admin, &server, "team/app", "multi").await;
    let (_, view) = call(&gina, &server, "repository", &[("name", "team/app")]).await;
    assert_eq!(view["artifacts"]["total"], 2);
    let deleted = admin.delete(server.url(&format!("/v2/team/app/manifests/{index}"))).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::ACCEPTED);
    let (_, view) = call(&gina, &server, "repository", &[("name", "team/app")]).await;
    assert_eq!(view["artifacts"]["total"], 3, "v1 and the two images, no longer part of an index");
    let kinds: Vec<&str> =
        view["artifacts"]["items"].as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Image", "Image", "Image"]);
    server.stop().await;
}

on_both_databases!(
    browse_and_change_a_repository,
    descriptions_pull_times_and_listing,
    a_large_repository_pages,
    every_page_renders
);
