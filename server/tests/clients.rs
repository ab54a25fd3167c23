//! Real registry clients against a real Berth: skopeo (containers/image, the
//! library podman and buildah share) pushes an image built with umoci, then
//! inspects, lists, pulls, copies between repositories and deletes it; podman
//! and buildah push from their own storage (compressing on the fly, so their
//! chunks have no length) and podman pulls back.

mod common;

use std::{path::Path, process::Command};

use common::{Backend, TestServer};

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
    let layout = dir.join("layout");
    let bundle = dir.join("bundle");
    let (layout, bundle) = (layout.to_str().unwrap(), bundle.to_str().unwrap());
    run("umoci", &["init", "--layout", layout]);
    run("umoci", &["new", "--image", &format!("{layout}:v1")]);
    run("umoci", &["unpack", "--rootless", "--image", &format!("{layout}:v1"), bundle]);
    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(dir.join("bundle/rootfs/data.bin"), data).unwrap();
    std::fs::write(dir.join("bundle/rootfs/hello"), "hello from berth\n").unwrap();
    run("umoci", &["repack", "--image", &format!("{layout}:v1"), bundle]);
}

async fn skopeo_pushes_inspects_pulls_copies_and_deletes(backend: Backend) {
    let server = TestServer::start(backend).await;
    let host = server.base.trim_start_matches("http://").to_owned();
    let work = tempfile::tempdir().unwrap();
    build_image(work.path());
    let layout = work.path().join("layout");
    let source = format!("oci:{}:v1", layout.display());
    let image = format!("docker://{host}/proj/img:v1");

    // skopeo is synchronous; run it off the runtime that serves Berth.
    let blocking = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || run("skopeo", &args.iter().map(String::as_str).collect::<Vec<_>>()))
    };
    let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    blocking(args(&["copy", "--dest-tls-verify=false", &source, &image])).await.unwrap();

    let inspect: serde_json::Value =
        serde_json::from_str(&blocking(args(&["inspect", "--tls-verify=false", &image])).await.unwrap()).unwrap();
    assert_eq!(inspect["RepoTags"], serde_json::json!(["v1"]));
    assert_eq!(inspect["Os"], "linux");
    let digest = inspect["Digest"].as_str().unwrap().to_owned();

    let tags: serde_json::Value = serde_json::from_str(
        &blocking(args(&["list-tags", "--tls-verify=false", &format!("docker://{host}/proj/img")])).await.unwrap(),
    )
    .unwrap();
    assert_eq!(tags["Tags"], serde_json::json!(["v1"]));

    // Pull back into a new layout: same manifest digest, same layer bytes.
    let pulled = work.path().join("pulled");
    let target = format!("oci:{}:v1", pulled.display());
    blocking(args(&["copy", "--src-tls-verify=false", &image, &target])).await.unwrap();
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(pulled.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], digest.as_str());
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(original["manifests"][0]["digest"], digest.as_str(), "the digest survives the round trip");

    // Registry-to-registry copy into another repository, then delete it there.
    let copy = format!("docker://{host}/other/img:v2");
    blocking(args(&["copy", "--src-tls-verify=false", "--dest-tls-verify=false", &image, &copy])).await.unwrap();
    blocking(args(&["inspect", "--tls-verify=false", &copy])).await.unwrap();
    blocking(args(&["delete", "--tls-verify=false", &copy])).await.unwrap();
    let gone = reqwest::get(server.url(&format!("/v2/other/img/manifests/{digest}"))).await.unwrap();
    assert_eq!(gone.status(), reqwest::StatusCode::NOT_FOUND);
    let kept = reqwest::get(server.url("/v2/proj/img/manifests/v1")).await.unwrap();
    assert_eq!(kept.status(), reqwest::StatusCode::OK, "the source repository keeps its image");
    server.stop().await;
}

async fn podman_and_buildah_push_and_pull(backend: Backend) {
    let server = TestServer::start(backend).await;
    let host = server.base.trim_start_matches("http://").to_owned();
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

    tool(
        "podman",
        vec!["push".into(), "--tls-verify=false".into(), id.clone(), format!("docker://{host}/proj/pod:v1")],
    )
    .await
    .unwrap();
    tool(
        "buildah",
        vec!["push".into(), "--tls-verify=false".into(), id.clone(), format!("docker://{host}/proj/bud:v1")],
    )
    .await
    .unwrap();
    for repo in ["pod", "bud"] {
        let response = reqwest::get(server.url(&format!("/v2/proj/{repo}/manifests/v1"))).await.unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::OK, "{repo}");
    }

    tool("podman", vec!["rmi".into(), "--all".into(), "--force".into()]).await.unwrap();
    let pulled =
        tool("podman", vec!["pull".into(), "-q".into(), "--tls-verify=false".into(), format!("{host}/proj/pod:v1")])
            .await
            .unwrap();
    // `images -q` prints the short form of the image id.
    assert!(pulled.trim().starts_with(&id), "the same image comes back: {pulled} vs {id}");
    server.stop().await;
}

on_both_databases!(skopeo_pushes_inspects_pulls_copies_and_deletes, podman_and_buildah_push_and_pull);
