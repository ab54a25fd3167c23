//! Tag immutability over real HTTP, on SQLite and PostgreSQL: rules made
//! through Harbor's `/immutabletagrules`, and a protected tag refused on
//! every path that could move or delete it — a `/v2` push over it, `/v2`
//! deletes by tag and by digest, REST deletes of the artifact, the tag and
//! the repository — each refusal naming the rule and leaving nothing
//! behind; pushing the same manifest again, new tags and unprotected tags
//! still work; a PUT of `disabled` alone toggles the rule; the roles and
//! the bounds (15 rules, 256-character patterns) hold.

mod common;

use common::{Backend, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn rule(repositories: (&str, &str), tags: (&str, &str)) -> Value {
    json!({
        "disabled": false,
        "action": "immutable",
        "template": "immutable_template",
        "tag_selectors": [{"kind": "doublestar", "decoration": tags.0, "pattern": tags.1}],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": repositories.0, "pattern": repositories.1}]},
    })
}

/// Creates a rule in `team` as the administrator; its id.
async fn create_rule(server: &TestServer, body: &Value) -> i64 {
    let created = common::admin_client()
        .post(server.url("/api/v2.0/projects/team/immutabletagrules"))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED, "{}", created.text().await.unwrap());
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    location.rsplit('/').next().unwrap().parse().unwrap()
}

/// A manifest of `image` pushed under `reference` to team/app: the status and the body.
async fn put_manifest(server: &TestServer, reference: &str, manifest: &str) -> (StatusCode, String) {
    let response = common::admin_client()
        .put(server.url(&format!("/v2/team/app/manifests/{reference}")))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_owned())
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

/// The manifest `push_image` pushes for `layer`, as text.
fn manifest_of(layer: &[u8]) -> String {
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let digest = |bytes: &[u8]| app::core::registry::digest::Digest::sha256_of(bytes).to_string();
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(layer), "size": layer.len()}],
    })
    .to_string()
}

async fn tag_digest(server: &TestServer, tag: &str) -> Option<String> {
    let response = common::admin_client()
        .head(server.url(&format!("/v2/team/app/manifests/{tag}")))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    (response.status() == StatusCode::OK)
        .then(|| response.headers()["docker-content-digest"].to_str().unwrap().to_owned())
}

async fn a_protected_tag_is_refused_on_every_path(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    let admin = common::admin_client();
    let (first, _) = common::push_image(&admin, &server, "team/app", "v1", b"first layer").await;
    common::push_image(&admin, &server, "team/app", "latest", b"first layer").await;
    let (second, _) = common::push_image(&admin, &server, "team/other", "v1", b"second layer").await;
    // The second layer is in team/app too, so only the rule can refuse its manifest.
    assert_eq!(common::push_blob(&admin, &server, "team/app", b"second layer").await, StatusCode::CREATED);
    let id = create_rule(&server, &rule(("repoMatches", "**"), ("matches", "v*"))).await;
    let named = format!("rule {id} of project team (repositories matching **, tags matching v*)");

    // /v2: moving v1 is DENIED, naming the rule; the other manifest is not kept.
    let (status, body) = put_manifest(&server, "v1", &manifest_of(b"second layer")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["errors"][0]["code"], "DENIED");
    let message = error["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("the tag v1 of team/app is immutable") && message.contains(&named), "{message}");
    assert_eq!(tag_digest(&server, "v1").await.as_deref(), Some(first.as_str()));
    let refused = admin.get(server.url(&format!("/v2/team/app/manifests/{second}"))).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND, "a refused push stores no manifest");
    // The same manifest again, a new tag, and a tag no rule selects all go through.
    assert_eq!(put_manifest(&server, "v1", &manifest_of(b"first layer")).await.0, StatusCode::CREATED);
    assert_eq!(put_manifest(&server, "v2", &manifest_of(b"second layer")).await.0, StatusCode::CREATED);
    assert_eq!(put_manifest(&server, "latest", &manifest_of(b"second layer")).await.0, StatusCode::CREATED);
    assert_eq!(tag_digest(&server, "latest").await.as_deref(), Some(second.as_str()));
    // ...and once v2 exists, it is pinned too.
    assert_eq!(put_manifest(&server, "v2", &manifest_of(b"first layer")).await.0, StatusCode::FORBIDDEN);

    // /v2 deletes, by tag and by digest.
    for reference in ["v1", first.as_str()] {
        let deleted = admin.delete(server.url(&format!("/v2/team/app/manifests/{reference}"))).send().await.unwrap();
        assert_eq!(deleted.status(), StatusCode::FORBIDDEN, "{reference}");
        let error: Value = deleted.json().await.unwrap();
        assert!(error["errors"][0]["message"].as_str().unwrap().contains(&named), "{error}");
    }
    // REST: the artifact, the tag and the repository; 412 as in Harbor.
    let base = server.url("/api/v2.0/projects/team/repositories/app");
    for request in [
        admin.delete(format!("{base}/artifacts/v1")),
        admin.delete(format!("{base}/artifacts/{first}/tags/v1")),
        admin.delete(base.clone()),
    ] {
        let refused = request.send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::PRECONDITION_FAILED);
        let error: Value = refused.json().await.unwrap();
        assert_eq!(error["errors"][0]["code"], "PRECONDITION");
        assert!(error["errors"][0]["message"].as_str().unwrap().contains(&named), "{error}");
    }
    assert_eq!(tag_digest(&server, "v1").await.as_deref(), Some(first.as_str()), "nothing was deleted");
    let deletes = common::audit_log(&server, "operation=delete").await;
    assert!(deletes.is_empty(), "refusals write no delete rows: {deletes:?}");
    // A tag no rule selects is deleted as ever.
    let untagged = admin.delete(server.url("/v2/team/app/manifests/latest")).send().await.unwrap();
    assert_eq!(untagged.status(), StatusCode::ACCEPTED);

    // Listings say which tags are immutable.
    let artifacts: Vec<Value> = admin.get(format!("{base}/artifacts")).send().await.unwrap().json().await.unwrap();
    let mut tags: Vec<(String, bool)> = artifacts
        .iter()
        .flat_map(|a| a["tags"].as_array().unwrap().iter())
        .map(|t| (t["name"].as_str().unwrap().to_owned(), t["immutable"].as_bool().unwrap()))
        .collect();
    tags.sort();
    assert_eq!(tags, [("v1".to_owned(), true), ("v2".to_owned(), true)]);

    // A PUT of `disabled` alone toggles the rule (harborapi's enable/disable).
    let rule_url = server.url(&format!("/api/v2.0/projects/team/immutabletagrules/{id}"));
    let toggled = admin.put(&rule_url).json(&json!({"disabled": true})).send().await.unwrap();
    assert_eq!(toggled.status(), StatusCode::OK);
    let rules: Vec<Value> =
        admin.get(server.url("/api/v2.0/projects/team/immutabletagrules")).send().await.unwrap().json().await.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["disabled"], true);
    assert_eq!(rules[0]["tag_selectors"][0], json!({"kind": "doublestar", "decoration": "matches", "pattern": "v*"}));
    assert_eq!(rules[0]["scope_selectors"]["repository"][0]["decoration"], "repoMatches");
    assert_eq!(put_manifest(&server, "v1", &manifest_of(b"second layer")).await.0, StatusCode::CREATED);
    // Changed to exclude: every tag but v1 is protected now.
    let mut excluding = rule(("repoMatches", "app"), ("excludes", "v1"));
    excluding["disabled"] = json!(false);
    assert_eq!(admin.put(&rule_url).json(&excluding).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(put_manifest(&server, "v1", &manifest_of(b"first layer")).await.0, StatusCode::CREATED);
    assert_eq!(put_manifest(&server, "v2", &manifest_of(b"first layer")).await.0, StatusCode::FORBIDDEN);
    // Deleted, the rule protects nothing.
    assert_eq!(admin.delete(&rule_url).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        admin.delete(server.url("/v2/team/app/manifests/v2")).send().await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    let changes: Vec<String> = common::audit_log(&server, "resource_type=immutable_rule")
        .await
        .iter()
        .map(|entry| entry["operation"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(changes, ["delete", "update", "update", "create"], "each change audited, newest first");
    server.stop().await;
}

async fn roles_and_bounds(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.create_projects(&["team"]).await;
    let admin = common::admin_client();
    server.add_members("team", &[("lima", 5), ("gail", 3), ("devi", 2), ("mia", 4)]).await;
    let client = common::member_client;
    let rules = server.url("/api/v2.0/projects/team/immutabletagrules");
    let body = rule(("repoMatches", "**"), ("matches", "v*"));
    // Maintainers manage rules; developers and guests read them; limited guests do not.
    assert_eq!(client("devi").post(&rules).json(&body).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let made = client("mia").post(&rules).json(&body).send().await.unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    for (user, status) in [("gail", StatusCode::OK), ("devi", StatusCode::OK), ("lima", StatusCode::FORBIDDEN)] {
        assert_eq!(client(user).get(&rules).send().await.unwrap().status(), status, "{user}");
    }
    let id = made.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let toggle = client("devi").put(format!("{rules}/{id}")).json(&json!({"disabled": true})).send().await.unwrap();
    assert_eq!(toggle.status(), StatusCode::FORBIDDEN);
    assert_eq!(client("gail").delete(format!("{rules}/{id}")).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    // Another project's rule id is not found here.
    let missing = admin.put(format!("{rules}/999999")).json(&json!({"disabled": true})).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // Bad rules are refused with the field named, and leave nothing.
    let bad = [
        (rule(("repoMatches", "**"), ("matches", "{v1")), "tags"),
        (rule(("repoMatches", "**"), ("matches", "")), "tags"),
        (rule(("matches", "**"), ("matches", "v*")), "scope_selectors.repository"),
        (rule(("repoMatches", &"x".repeat(257)), ("matches", "v*")), "repositories"),
        (json!({"tag_selectors": [], "scope_selectors": {"repository": []}}), "tag_selectors"),
    ];
    for (body, field) in bad {
        let refused = admin.post(&rules).json(&body).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{body}");
        let error: Value = refused.json().await.unwrap();
        assert!(error["errors"][0]["message"].as_str().unwrap().starts_with(field), "{error}");
    }
    // A pattern of exactly the longest length is accepted.
    create_rule(&server, &rule(("repoMatches", &"x".repeat(256)), ("matches", "v*"))).await;
    // Fifteen rules at most (two exist).
    for n in 0..13 {
        create_rule(&server, &rule(("repoMatches", &format!("app{n}")), ("matches", "v*"))).await;
    }
    let sixteenth = admin.post(&rules).json(&body).send().await.unwrap();
    assert_eq!(sixteenth.status(), StatusCode::CONFLICT);
    let listed = admin.get(format!("{rules}?page=2&page_size=10")).send().await.unwrap();
    assert_eq!(listed.headers()["x-total-count"], "15");
    assert_eq!(listed.json::<Vec<Value>>().await.unwrap().len(), 5);
    server.stop().await;
}

/// Runs podman on private vfs storage under `dir`; its output.
async fn podman(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut all = vec![
        format!("--root={}", dir.join("root").display()),
        format!("--runroot={}", dir.join("run").display()),
        "--storage-driver=vfs".to_owned(),
    ];
    all.extend(args.iter().map(|arg| (*arg).to_owned()));
    tokio::task::spawn_blocking(move || std::process::Command::new("podman").args(&all).output().unwrap())
        .await
        .unwrap()
}

/// A real user's machine: `docker push` and `podman push` over an immutable
/// tag fail with the registry's message, naming the rule; a new tag goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podman_and_docker_cannot_push_over_an_immutable_tag() {
    common::within_time_limit(async {
        let server = TestServer::start(Backend::Sqlite).await;
        server.create_projects(&["team"]).await;
        let host = server.base.trim_start_matches("http://").to_owned();
        let docker = common::docker::Docker::start().await;
        let login = docker.login(&host, "admin", common::ADMIN_PASSWORD).await;
        assert!(login.status.success(), "{}", common::docker::text(&login));
        let image = format!("{host}/team/app:v1");
        docker.import(&image, "first").await;
        docker.ok(&["push", &image]).await;
        let id = create_rule(&server, &rule(("repoMatches", "**"), ("matches", "v*"))).await;
        let pinned = tag_digest(&server, "v1").await;

        // docker: another image under v1 is refused, the message shown.
        docker.import(&image, "second").await;
        let refused = docker.run(&["push", &image]).await;
        let said = common::docker::text(&refused);
        assert!(!refused.status.success(), "{said}");
        assert!(
            said.contains("denied") && said.contains("is immutable") && said.contains(&format!("rule {id}")),
            "{said}"
        );
        assert_eq!(tag_digest(&server, "v1").await, pinned);
        let fresh = format!("{host}/team/app:v2");
        docker.ok(&["tag", &image, &fresh]).await;
        docker.ok(&["push", &fresh]).await;

        // podman, with its own storage and credentials.
        let work = tempfile::tempdir().unwrap();
        let rootfs = work.path().join("rootfs");
        std::fs::create_dir_all(&rootfs).unwrap();
        std::fs::write(rootfs.join("hello.txt"), "third").unwrap();
        let tar = work.path().join("rootfs.tar");
        let packed = std::process::Command::new("tar")
            .args(["-C", &rootfs.display().to_string(), "-cf", &tar.display().to_string(), "."])
            .status()
            .unwrap();
        assert!(packed.success());
        let imported = podman(work.path(), &["import", &tar.display().to_string(), "localhost/third:1"]).await;
        assert!(imported.status.success(), "{}", common::docker::text(&imported));
        let credentials = format!("admin:{}", common::ADMIN_PASSWORD);
        let target = format!("docker://{host}/team/app:v1");
        let pushed =
            podman(work.path(), &["push", "--tls-verify=false", "--creds", &credentials, "localhost/third:1", &target])
                .await;
        let said = common::docker::text(&pushed);
        assert!(!pushed.status.success(), "{said}");
        assert!(said.contains("is immutable") && said.contains(&format!("rule {id}")), "{said}");
        assert_eq!(tag_digest(&server, "v1").await, pinned);
        server.stop().await;
    })
    .await;
}

on_both_databases!(a_protected_tag_is_refused_on_every_path, roles_and_bounds);
