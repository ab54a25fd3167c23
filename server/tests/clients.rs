//! Real registry clients against a real Berth: skopeo (containers/image, the
//! library podman and buildah share) pushes an image built with umoci, then
//! inspects, lists, pulls, copies between repositories and deletes it; it
//! also pushes and pulls a two-platform image index and an image with a
//! 200 MiB layer; podman and buildah push from their own storage
//! (compressing on the fly, so their chunks have no length) and podman pulls
//! back; the ORAS Python SDK pushes artifacts with an `artifactType` and a
//! referrer through `subject`; the docker CLI logs in, pushes and pulls.
//! Each runs against one node (SQLite, PostgreSQL) and against three nodes
//! behind a load balancer.

mod common;

use std::{path::Path, process::Command};

use common::{Backend, Endpoint, TestServer};

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed (scripts/test.sh installs it): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{program} {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// An OCI layout at `dir` holding image `v1` with one layer of random data.
fn build_image(dir: &Path) {
    add_image(dir, "v1", "amd64", 2_000_000, 1);
}

/// Adds image `tag` for `arch` to the OCI layout at `dir/layout` (created
/// when missing), with one layer holding `size` bytes of noise.
fn add_image(dir: &Path, tag: &str, arch: &str, size: usize, seed: u64) {
    let layout = dir.join("layout");
    let bundle = dir.join(format!("bundle-{tag}"));
    let (layout, bundle) = (layout.to_str().unwrap(), bundle.to_str().unwrap());
    if !Path::new(layout).exists() {
        run("umoci", &["init", "--layout", layout]);
    }
    let image = format!("{layout}:{tag}");
    run("umoci", &["new", "--image", &image]);
    run("umoci", &["config", "--image", &image, "--architecture", arch, "--os", "linux"]);
    run("umoci", &["unpack", "--rootless", "--image", &image, bundle]);
    std::fs::write(format!("{bundle}/rootfs/data.bin"), noise(size, seed)).unwrap();
    std::fs::write(format!("{bundle}/rootfs/hello"), format!("hello from berth on {arch}\n")).unwrap();
    run("umoci", &["repack", "--image", &image, bundle]);
    std::fs::remove_dir_all(bundle).unwrap();
}

fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The descriptor `index.json` of a layout gives for `tag`.
fn descriptor(layout: &Path, tag: &str) -> serde_json::Value {
    let index = read_json(&layout.join("index.json"));
    let found = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .cloned();
    found.unwrap_or_else(|| panic!("no {tag} in {index}"))
}

/// Writes an image index over `platforms` (tag, architecture) into the
/// layout as tag `multi`; returns its digest.
fn add_index(layout: &Path, platforms: &[(&str, &str)]) -> String {
    let manifests: Vec<_> = platforms
        .iter()
        .map(|(tag, arch)| {
            let d = descriptor(layout, tag);
            serde_json::json!({
                "mediaType": d["mediaType"], "digest": d["digest"], "size": d["size"],
                "platform": { "architecture": arch, "os": "linux" }
            })
        })
        .collect();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests
    });
    let bytes = serde_json::to_vec(&index).unwrap();
    let digest = app::core::registry::digest::Digest::sha256_of(&bytes);
    std::fs::write(layout.join("blobs/sha256").join(digest.hex()), &bytes).unwrap();
    let mut top = read_json(&layout.join("index.json"));
    top["manifests"].as_array_mut().unwrap().push(serde_json::json!({
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": digest.to_string(),
        "size": bytes.len(),
        "annotations": { "org.opencontainers.image.ref.name": "multi" }
    }));
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
    digest.to_string()
}

/// Runs skopeo off the runtime that serves Berth (it is synchronous), with
/// the credentials stored in `authfile` (none when it does not exist).
async fn skopeo(authfile: &Path, args: &[&str]) -> String {
    let mut all: Vec<String> = vec![args[0].to_owned(), format!("--authfile={}", authfile.display())];
    all.extend(args[1..].iter().map(|s| s.to_string()));
    tokio::task::spawn_blocking(move || run("skopeo", &all.iter().map(String::as_str).collect::<Vec<_>>()))
        .await
        .unwrap()
}

/// `skopeo login` as the administrator into a fresh auth file under `dir`:
/// the docker token flow (401 challenge, token service, Bearer).
async fn login_as_admin(dir: &Path, host: &str) -> std::path::PathBuf {
    let authfile = dir.join("auth.json");
    let output =
        skopeo(&authfile, &["login", "--tls-verify=false", "-u", "admin", "-p", common::ADMIN_PASSWORD, host]).await;
    assert!(output.contains("Login Succeeded"), "{output}");
    authfile
}

async fn skopeo_pushes_inspects_pulls_copies_and_deletes(registry: &Endpoint) {
    registry.create_projects(&["proj", "other"]).await;
    let host = registry.host();
    let work = tempfile::tempdir().unwrap();
    let auth = login_as_admin(work.path(), &host).await;
    build_image(work.path());
    let layout = work.path().join("layout");
    let source = format!("oci:{}:v1", layout.display());
    let image = format!("docker://{host}/proj/img:v1");

    skopeo(&auth, &["copy", "--dest-tls-verify=false", &source, &image]).await;

    let inspect: serde_json::Value =
        serde_json::from_str(&skopeo(&auth, &["inspect", "--tls-verify=false", &image]).await).unwrap();
    assert_eq!(inspect["RepoTags"], serde_json::json!(["v1"]));
    assert_eq!(inspect["Os"], "linux");
    let digest = inspect["Digest"].as_str().unwrap().to_owned();

    let tags: serde_json::Value = serde_json::from_str(
        &skopeo(&auth, &["list-tags", "--tls-verify=false", &format!("docker://{host}/proj/img")]).await,
    )
    .unwrap();
    assert_eq!(tags["Tags"], serde_json::json!(["v1"]));

    // Pull back into a new layout: same manifest digest, same layer bytes.
    let pulled = work.path().join("pulled");
    let target = format!("oci:{}:v1", pulled.display());
    skopeo(&auth, &["copy", "--src-tls-verify=false", &image, &target]).await;
    let index = read_json(&pulled.join("index.json"));
    assert_eq!(index["manifests"][0]["digest"], digest.as_str());
    let original = read_json(&layout.join("index.json"));
    assert_eq!(original["manifests"][0]["digest"], digest.as_str(), "the digest survives the round trip");

    // Registry-to-registry copy into another repository, then delete it there.
    let copy = format!("docker://{host}/other/img:v2");
    skopeo(&auth, &["copy", "--src-tls-verify=false", "--dest-tls-verify=false", &image, &copy]).await;
    skopeo(&auth, &["inspect", "--tls-verify=false", &copy]).await;
    skopeo(&auth, &["delete", "--tls-verify=false", &copy]).await;
    let admin = common::admin_client();
    let gone = admin.get(registry.url(&format!("/v2/other/img/manifests/{digest}"))).send().await.unwrap();
    assert_eq!(gone.status(), reqwest::StatusCode::NOT_FOUND);
    let kept = admin.get(registry.url("/v2/proj/img/manifests/v1")).send().await.unwrap();
    assert_eq!(kept.status(), reqwest::StatusCode::OK, "the source repository keeps its image");

    // Without credentials: refused while the project is private, pulled
    // (through an anonymous token) once it is public.
    let anonymous = work.path().join("no-auth.json");
    let args = [
        "inspect".to_owned(),
        format!("--authfile={}", anonymous.display()),
        "--tls-verify=false".into(),
        image.clone(),
    ];
    let refused =
        tokio::task::spawn_blocking(move || Command::new("skopeo").args(&args).output().unwrap()).await.unwrap();
    assert!(!refused.status.success(), "a private project is not readable anonymously");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unauthorized"), "{refused:?}");
    registry.set_public("proj", true).await;
    let public: serde_json::Value =
        serde_json::from_str(&skopeo(&anonymous, &["inspect", "--tls-verify=false", &image]).await).unwrap();
    assert_eq!(public["Digest"], digest.as_str());
}

async fn podman_and_buildah_push_and_pull(registry: &Endpoint) {
    registry.create_projects(&["proj"]).await;
    let host = registry.host();
    let work = tempfile::tempdir().unwrap();
    build_image(work.path());
    let root = work.path().join("storage");
    let runroot = work.path().join("run");
    // Private vfs storage: no daemon, nothing shared with the machine.
    let storage = vec![
        format!("--root={}", root.display()),
        format!("--runroot={}", runroot.display()),
        "--storage-driver=vfs".to_owned(),
    ];
    let tool = |program: &'static str, args: Vec<String>| {
        let mut all = storage.clone();
        all.extend(args);
        tokio::task::spawn_blocking(move || run(program, &all.iter().map(String::as_str).collect::<Vec<_>>()))
    };
    // Put the image into that storage under a name of our choosing.
    let source = format!("oci:{}:v1", work.path().join("layout").display());
    let store = format!("containers-storage:[vfs@{}+{}]localhost/berth-test:v1", root.display(), runroot.display());
    tokio::task::spawn_blocking(move || run("skopeo", &["copy", &source, &store])).await.unwrap();
    let id = tool("podman", vec!["images".into(), "-q".into(), "localhost/berth-test:v1".into()])
        .await
        .unwrap()
        .trim()
        .to_owned();
    assert!(!id.is_empty());

    // `podman login` stores the credentials; podman and buildah push with them.
    let authfile = format!("--authfile={}", work.path().join("auth.json").display());
    let login = tool(
        "podman",
        vec![
            "login".into(),
            authfile.clone(),
            "--tls-verify=false".into(),
            "-u".into(),
            "admin".into(),
            "-p".into(),
            common::ADMIN_PASSWORD.into(),
            host.clone(),
        ],
    )
    .await
    .unwrap();
    assert!(login.contains("Login Succeeded"), "{login}");
    tool(
        "podman",
        vec![
            "push".into(),
            authfile.clone(),
            "--tls-verify=false".into(),
            id.clone(),
            format!("docker://{host}/proj/pod:v1"),
        ],
    )
    .await
    .unwrap();
    tool(
        "buildah",
        vec![
            "push".into(),
            authfile.clone(),
            "--tls-verify=false".into(),
            id.clone(),
            format!("docker://{host}/proj/bud:v1"),
        ],
    )
    .await
    .unwrap();
    let admin = common::admin_client();
    for repo in ["pod", "bud"] {
        let response = admin.get(registry.url(&format!("/v2/proj/{repo}/manifests/v1"))).send().await.unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::OK, "{repo}");
    }

    tool("podman", vec!["rmi".into(), "--all".into(), "--force".into()]).await.unwrap();
    let pulled = tool(
        "podman",
        vec!["pull".into(), authfile, "-q".into(), "--tls-verify=false".into(), format!("{host}/proj/pod:v1")],
    )
    .await
    .unwrap();
    // `images -q` prints the short form of the image id.
    assert!(pulled.trim().starts_with(&id), "the same image comes back: {pulled} vs {id}");
}

async fn skopeo_pushes_and_pulls_a_two_platform_index(registry: &Endpoint) {
    registry.create_projects(&["proj"]).await;
    let host = registry.host();
    let work = tempfile::tempdir().unwrap();
    let auth = login_as_admin(work.path(), &host).await;
    add_image(work.path(), "amd64", "amd64", 300_000, 2);
    add_image(work.path(), "arm64", "arm64", 300_000, 3);
    let layout = work.path().join("layout");
    let index_digest = add_index(&layout, &[("amd64", "amd64"), ("arm64", "arm64")]);
    let image = format!("docker://{host}/proj/multi:v1");

    skopeo(&auth, &["copy", "--all", "--dest-tls-verify=false", &format!("oci:{}:multi", layout.display()), &image])
        .await;

    let raw: serde_json::Value =
        serde_json::from_str(&skopeo(&auth, &["inspect", "--raw", "--tls-verify=false", &image]).await)
            .expect("the index comes back as JSON");
    assert_eq!(raw["mediaType"], "application/vnd.oci.image.index.v1+json");
    assert_eq!(raw["manifests"].as_array().unwrap().len(), 2);
    let head = common::admin_client()
        .head(registry.url("/v2/proj/multi/manifests/v1"))
        .header("accept", "application/vnd.oci.image.index.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(head.headers()["docker-content-digest"], index_digest.as_str(), "the index is stored byte for byte");

    // One platform out of the index, as a client on that platform pulls it.
    let arm = work.path().join("arm");
    let arm_target = format!("oci:{}:v1", arm.display());
    skopeo(&auth, &["copy", "--src-tls-verify=false", "--override-arch", "arm64", &image, &arm_target]).await;
    assert_eq!(descriptor(&arm, "v1")["digest"], descriptor(&layout, "arm64")["digest"]);

    // Everything back: the same index and both platforms' blobs.
    let all = work.path().join("all");
    skopeo(&auth, &["copy", "--all", "--src-tls-verify=false", &image, &format!("oci:{}:v1", all.display())]).await;
    assert_eq!(descriptor(&all, "v1")["digest"], index_digest.as_str());
    for tag in ["amd64", "arm64"] {
        let manifest_digest = descriptor(&layout, tag)["digest"].as_str().unwrap().to_owned();
        let hex = manifest_digest.trim_start_matches("sha256:");
        let manifest = read_json(&layout.join("blobs/sha256").join(hex));
        let layer = manifest["layers"][0]["digest"].as_str().unwrap().trim_start_matches("sha256:").to_owned();
        assert!(all.join("blobs/sha256").join(layer).exists(), "{tag}'s layer was pulled");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_round_trips_a_200_mib_layer() {
    common::within_time_limit(async {
        let server = TestServer::start(Backend::Sqlite).await;
        server.create_projects(&["proj"]).await;
        let host = server.base.trim_start_matches("http://").to_owned();
        let work = tempfile::tempdir().unwrap();
        let auth = login_as_admin(work.path(), &host).await;
        add_image(work.path(), "big", "amd64", 200 * 1024 * 1024, 4);
        let layout = work.path().join("layout");
        let image = format!("docker://{host}/proj/big:v1");
        skopeo(&auth, &["copy", "--dest-tls-verify=false", &format!("oci:{}:big", layout.display()), &image]).await;

        let pulled = work.path().join("pulled");
        skopeo(&auth, &["copy", "--src-tls-verify=false", &image, &format!("oci:{}:v1", pulled.display())]).await;
        let digest = descriptor(&layout, "big")["digest"].as_str().unwrap().to_owned();
        assert_eq!(descriptor(&pulled, "v1")["digest"], digest.as_str());
        let manifest = read_json(&layout.join("blobs/sha256").join(digest.trim_start_matches("sha256:")));
        let layer = manifest["layers"][0]["digest"].as_str().unwrap().trim_start_matches("sha256:").to_owned();
        let original = std::fs::metadata(layout.join("blobs/sha256").join(&layer)).unwrap().len();
        assert!(original > 200 * 1024 * 1024, "noise does not compress: {original}");
        // skopeo verifies each blob's digest as it writes it.
        assert_eq!(std::fs::metadata(pulled.join("blobs/sha256").join(&layer)).unwrap().len(), original);
        server.stop().await;
    })
    .await;
}

/// Runs skopeo and returns whether it succeeded, with its error output.
async fn skopeo_outcome(args: Vec<String>) -> (bool, String) {
    let output =
        tokio::task::spawn_blocking(move || Command::new("skopeo").args(&args).output().unwrap()).await.unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// `skopeo --creds` with a robot account and a database user: each pushes
/// and pulls only where it was allowed to.
async fn robots_and_users_push_only_where_allowed(registry: &Endpoint) {
    registry.create_projects(&["team", "other"]).await;
    let ci = registry.project_robot("team", "ci", &["pull", "push"]).await;
    let reader = registry.project_robot("team", "reader", &["pull"]).await;
    registry.create_user("dev", "Member-Passw0rd").await;
    registry.add_member("team", "dev", 2).await;

    let host = registry.host();
    let work = tempfile::tempdir().unwrap();
    build_image(work.path());
    let source = format!("oci:{}:v1", work.path().join("layout").display());
    let push = |creds: String, target: &str| {
        let args = vec![
            "copy".to_owned(),
            format!("--dest-creds={creds}"),
            "--dest-tls-verify=false".to_owned(),
            source.clone(),
            format!("docker://{host}/{target}"),
        ];
        skopeo_outcome(args)
    };
    assert_eq!((ci.name.as_str(), reader.name.as_str()), ("robot$team+ci", "robot$team+reader"));
    let ci_creds = format!("{}:{}", ci.name, ci.secret);
    let reader_creds = format!("{}:{}", reader.name, reader.secret);
    let dev_creds = "dev:Member-Passw0rd".to_owned();

    assert!(push(ci_creds.clone(), "team/from-robot:v1").await.0, "the CI robot pushes into its project");
    assert!(push(dev_creds.clone(), "team/from-dev:v1").await.0, "a developer pushes into the project");
    for (who, creds, target) in [
        ("robot", ci_creds.clone(), "other/img:v1"),
        ("pull-only robot", reader_creds.clone(), "team/nope:v1"),
        ("developer", dev_creds, "other/img:v1"),
    ] {
        let (ok, stderr) = push(creds, target).await;
        assert!(!ok, "{who} must not push to {target}");
        let refused = ["denied", "unauthorized", "403 (Forbidden)"].iter().any(|word| stderr.contains(word));
        assert!(refused, "{who}: {stderr}");
    }
    // The pull-only robot pulls what the CI robot pushed.
    let pulled = work.path().join("pulled");
    let (ok, stderr) = skopeo_outcome(vec![
        "copy".to_owned(),
        format!("--src-creds={reader_creds}"),
        "--src-tls-verify=false".to_owned(),
        format!("docker://{host}/team/from-robot:v1"),
        format!("oci:{}:v1", pulled.display()),
    ])
    .await;
    assert!(ok, "{stderr}");
}

/// An LDAP user logs in with `podman login` (their directory password) and
/// pushes where their LDAP group is a member, and nowhere else.
async fn ldap_users_log_in_with_podman_and_push_where_their_group_may(registry: &Endpoint) {
    let slapd = common::slapd::Slapd::start().await;
    registry.create_projects(&["team", "other"]).await;
    registry.use_ldap(&slapd.settings()).await;
    registry.add_ldap_group_member("team", common::slapd::DEVELOPERS_DN, 2).await;

    let host = registry.host();
    let work = tempfile::tempdir().unwrap();
    build_image(work.path());
    let authfile = work.path().join("auth.json");
    let login = {
        let args: Vec<String> = vec![
            "login".into(),
            format!("--authfile={}", authfile.display()),
            "--tls-verify=false".into(),
            "-u".into(),
            "alice".into(),
            "-p".into(),
            "alice-pass".into(),
            host.clone(),
        ];
        tokio::task::spawn_blocking(move || run("podman", &args.iter().map(String::as_str).collect::<Vec<_>>()))
            .await
            .unwrap()
    };
    assert!(login.contains("Login Succeeded"), "{login}");
    let source = format!("oci:{}:v1", work.path().join("layout").display());
    let push = |target: String| {
        skopeo_outcome(vec![
            "copy".into(),
            format!("--authfile={}", authfile.display()),
            "--dest-tls-verify=false".into(),
            source.clone(),
            format!("docker://{host}/{target}"),
        ])
    };
    let (ok, stderr) = push("team/ldap:v1".into()).await;
    assert!(ok, "{stderr}");
    let (ok, _) = push("other/ldap:v1".into()).await;
    assert!(!ok, "the group is not a member of other");
}

/// The Python interpreter that has the `oras` SDK (scripts/test.sh makes it).
fn oras_python() -> String {
    std::env::var("BERTH_ORAS_PYTHON")
        .unwrap_or_else(|_| format!("{}/.cache/berth/tools-venv/bin/python", std::env::var("HOME").unwrap_or_default()))
}

async fn oras_pushes_artifacts_with_a_referrer_and_pulls_them(registry: &Endpoint) {
    registry.create_projects(&["proj"]).await;
    let host = registry.host();
    let work = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/oras_artifacts.py");
    let workdir = work.path().to_str().unwrap().to_owned();
    let python = oras_python();
    let output =
        tokio::task::spawn_blocking(move || run(&python, &[script, &host, &workdir, "admin", common::ADMIN_PASSWORD]))
            .await
            .unwrap();
    let seen: serde_json::Value = serde_json::from_str(output.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("the driver prints JSON ({e}): {output}"));

    let subject = seen["subject"].as_str().unwrap();
    assert_eq!(seen["signature_status"], 201);
    assert_eq!(seen["chunked_status"], 201);
    assert_eq!(seen["oci_subject_header"], subject);
    let referrers = seen["referrers"]["manifests"].as_array().unwrap();
    assert_eq!(referrers.len(), 1, "{seen}");
    assert_eq!(referrers[0]["digest"], seen["signature"]);
    assert_eq!(referrers[0]["artifactType"], "application/vnd.berth.test.signature");
    assert_eq!(seen["filtered"]["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(seen["filters_applied"], "artifactType");
    let mut tags: Vec<_> = seen["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    tags.sort();
    assert_eq!(tags, ["chunked", "signature", "v1"]);
    assert_eq!(seen["pulled"]["notes.txt"], 3_000_000);
    assert!(seen["pulled"]["sbom.json"].as_u64().unwrap() > 0);

    // The artifact's own manifest carries its type.
    let manifest: serde_json::Value = common::admin_client()
        .get(registry.url("/v2/proj/artifact/manifests/v1"))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(manifest["artifactType"], "application/vnd.berth.test.sbom");
}

/// The docker CLI (Debian's daemon) logs in as the administrator and as a
/// robot, pushes, and pulls back the same image.
async fn docker_logs_in_pushes_and_pulls(registry: &Endpoint) {
    use common::docker::{Docker, text};

    registry.create_projects(&["proj"]).await;
    let robot = registry.project_robot("proj", "builder", &["pull", "push"]).await;
    let docker = Docker::start().await;
    let host = registry.host();
    let login = docker.login(&host, "admin", common::ADMIN_PASSWORD).await;
    assert!(login.status.success(), "{}", text(&login));
    let image = format!("{host}/proj/hello:v1");
    docker.import(&image, "hello from docker").await;
    let id = docker.ok(&["image", "inspect", "--format", "{{.Id}}", &image]).await;
    docker.ok(&["push", &image]).await;
    docker.ok(&["rmi", &image]).await;
    docker.ok(&["pull", &image]).await;
    assert_eq!(docker.ok(&["image", "inspect", "--format", "{{.Id}}", &image]).await, id, "the same image comes back");

    docker.ok(&["logout", &host]).await;
    let login = docker.login(&host, &robot.name, &robot.secret).await;
    assert!(login.status.success(), "{}", text(&login));
    let again = format!("{host}/proj/hello:v2");
    docker.ok(&["tag", &image, &again]).await;
    docker.ok(&["push", &again]).await;
    let tags: serde_json::Value = common::admin_client()
        .get(registry.url("/v2/proj/hello/tags/list"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tags["tags"], serde_json::json!(["v1", "v2"]));
}

/// Runs each named `async fn(&Endpoint)` against one node on SQLite, one on
/// PostgreSQL, and three nodes behind a load balancer (one PostgreSQL
/// database, one Garage bucket): what a client sees must not change.
macro_rules! on_one_node_and_on_a_cluster {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                crate::common::within_time_limit(async {
                    let server = crate::common::TestServer::start(crate::common::Backend::Sqlite).await;
                    super::$test(&server.endpoint()).await;
                    server.stop().await;
                })
                .await
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                crate::common::within_time_limit(async {
                    let server = crate::common::TestServer::start(crate::common::Backend::Postgres).await;
                    super::$test(&server.endpoint()).await;
                    server.stop().await;
                })
                .await
            })*
        }
        mod cluster {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                crate::common::within_time_limit(async {
                    let cluster = crate::common::cluster::Cluster::start(3).await;
                    super::$test(&cluster.endpoint()).await;
                    cluster.stop().await;
                })
                .await
            })*
        }
    };
}

on_one_node_and_on_a_cluster!(
    ldap_users_log_in_with_podman_and_push_where_their_group_may,
    robots_and_users_push_only_where_allowed,
    skopeo_pushes_inspects_pulls_copies_and_deletes,
    podman_and_buildah_push_and_pull,
    skopeo_pushes_and_pulls_a_two_platform_index,
    oras_pushes_artifacts_with_a_referrer_and_pulls_them,
    docker_logs_in_pushes_and_pulls,
);
