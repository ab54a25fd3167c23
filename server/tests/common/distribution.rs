//! Debian's `docker-registry` (distribution 2.8) for one test, on a free
//! loopback port with its storage in a temporary directory or in an S3
//! bucket; optionally behind htpasswd Basic authentication.
//! `scripts/test.sh` installs it (and `htpasswd`, from apache2-utils).

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use app::core::storage::S3Settings;

pub struct Distribution {
    child: Child,
    dir: tempfile::TempDir,
    pub url: String,
}

impl Distribution {
    /// A registry anyone may push to and pull from.
    pub async fn start() -> Self {
        Self::launch(None, None).await
    }

    /// A registry that asks for `user` and `password` (Basic).
    pub async fn start_with_user(user: &str, password: &str) -> Self {
        Self::launch(Some((user, password)), None).await
    }

    /// A registry that asks for `user` and `password` and keeps its data
    /// in the bucket `s3` names, under its prefix. Distribution's s3 driver
    /// answers blob GETs and HEADs with a 307 to a presigned URL on the
    /// bucket's endpoint.
    pub async fn start_with_user_on_s3(user: &str, password: &str, s3: &S3Settings) -> Self {
        Self::launch(Some((user, password)), Some(s3)).await
    }

    async fn launch(user: Option<(&str, &str)>, s3: Option<&S3Settings>) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = super::process::free_port();
        let storage = match s3 {
            None => format!("filesystem: {{ rootdirectory: {} }}", dir.path().join("data").display()),
            Some(s3) => s3_storage(s3),
        };
        let mut config = format!(
            "version: 0.1\nlog: {{ level: error, accesslog: {{ disabled: true }} }}\n\
             storage:\n  {storage}\n  delete: {{ enabled: true }}\n\
             http: {{ addr: 127.0.0.1:{port}, secret: berth-test-upload-state }}\n",
        );
        if let Some((user, password)) = user {
            let htpasswd = dir.path().join("htpasswd");
            let status = Command::new("htpasswd")
                .args(["-Bbc", htpasswd.to_str().unwrap(), user, password])
                .stderr(Stdio::null())
                .status()
                .expect("htpasswd is installed (scripts/test.sh installs apache2-utils)");
            assert!(status.success(), "htpasswd wrote the password file");
            config.push_str(&format!("auth:\n  htpasswd: {{ realm: berth-test, path: {} }}\n", htpasswd.display()));
        }
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let child = spawn(dir.path());
        let url = format!("http://127.0.0.1:{port}");
        let registry = Self { child, dir, url };
        registry.wait_until_serving().await;
        registry
    }

    /// Kills the registry at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the registry again on the same port and storage.
    pub async fn restart(&mut self) {
        self.kill();
        self.child = spawn(self.dir.path());
        self.wait_until_serving().await;
    }

    /// Where it keeps its data.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    async fn wait_until_serving(&self) {
        let started = Instant::now();
        let client = reqwest::Client::new();
        while started.elapsed() < Duration::from_secs(30) {
            if client.get(format!("{}/v2/", self.url)).send().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let log = std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default();
        panic!("docker-registry did not start:\n{log}");
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }
}

impl Drop for Distribution {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `s3` storage driver's settings for `s3` (one YAML flow mapping;
/// values quoted as JSON strings, which YAML reads the same).
fn s3_storage(s3: &S3Settings) -> String {
    let quoted = |value: &str| serde_json::to_string(value).unwrap();
    let endpoint = s3.endpoint.as_deref().expect("an S3-compatible endpoint");
    format!(
        "s3: {{ region: {region}, regionendpoint: {endpoint}, bucket: {bucket}, accesskey: {key}, \
         secretkey: {secret}, rootdirectory: {root}, secure: {secure}, v4auth: true, forcepathstyle: {path_style} }}",
        region = quoted(&s3.region),
        endpoint = quoted(endpoint),
        bucket = quoted(&s3.bucket),
        key = quoted(s3.access_key_id.as_deref().unwrap_or_default()),
        secret = quoted(s3.secret_access_key.as_deref().unwrap_or_default()),
        root = quoted(&format!("/{}", s3.prefix.trim_matches('/'))),
        secure = endpoint.starts_with("https:"),
        path_style = !s3.virtual_hosted_style,
    )
}

fn spawn(dir: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("registry.log")).unwrap();
    let mut command = Command::new("docker-registry");
    // The AWS SDK inside the s3 driver reads `AWS_*` from the environment;
    // a CA bundle named there makes it panic at start ("unsupported
    // transport"), and the configuration file says all it needs.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    command
        .arg("serve")
        .arg(dir.join("config.yml"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("docker-registry is installed (scripts/test.sh installs it)")
}

/// Bytes of blob uploads in progress under `root` (in any `uploads` or
/// `_uploads` directory): what a registry has received of them.
pub fn upload_bytes(root: &std::path::Path) -> u64 {
    fn walk(path: &std::path::Path, inside_uploads: bool) -> u64 {
        let Ok(entries) = std::fs::read_dir(path) else { return 0 };
        entries
            .flatten()
            .map(|entry| {
                let name = entry.file_name();
                let uploads = inside_uploads || name == "uploads" || name == "_uploads";
                match entry.file_type() {
                    Ok(kind) if kind.is_dir() => walk(&entry.path(), uploads),
                    Ok(kind) if kind.is_file() && uploads => entry.metadata().map_or(0, |m| m.len()),
                    _ => 0,
                }
            })
            .sum()
    }
    walk(root, false)
}
