//! Debian's `docker-registry` (distribution 2.8) for one test, on a free
//! loopback port with its storage in a temporary directory; optionally
//! behind htpasswd Basic authentication. `scripts/test.sh` installs it
//! (and `htpasswd`, from apache2-utils).

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub struct Distribution {
    child: Child,
    dir: tempfile::TempDir,
    pub url: String,
}

impl Distribution {
    /// A registry anyone may push to and pull from.
    pub async fn start() -> Self {
        Self::launch(None).await
    }

    /// A registry that asks for `user` and `password` (Basic).
    pub async fn start_with_user(user: &str, password: &str) -> Self {
        Self::launch(Some((user, password))).await
    }

    async fn launch(user: Option<(&str, &str)>) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = super::process::free_port();
        let mut config = format!(
            "version: 0.1\nlog: {{ level: error, accesslog: {{ disabled: true }} }}\n\
             storage:\n  filesystem: {{ rootdirectory: {root} }}\n  delete: {{ enabled: true }}\n\
             http: {{ addr: 127.0.0.1:{port} }}\n",
            root = dir.path().join("data").display(),
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
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("registry.log")).unwrap())
            .spawn()
            .expect("docker-registry is installed (scripts/test.sh installs it)");
        let url = format!("http://127.0.0.1:{port}");
        let registry = Self { child, dir, url };
        registry.wait_until_serving().await;
        registry
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
