//! A real single-node Garage (S3-compatible object storage) for one test:
//! its own temporary directory, free loopback ports, a bucket and a key.
//! `scripts/test.sh` installs the `garage` binary.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use app::core::storage::{BlobStore, S3BlobStore, S3Settings};

pub struct Garage {
    child: Child,
    _dir: tempfile::TempDir,
    pub settings: S3Settings,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Garage {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1").await
    }

    /// A Garage whose S3 API listens on `host` (another loopback address
    /// than Berth's makes its URLs another host's, as in a deployment).
    pub async fn start_on(host: &str) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (s3_port, rpc_port) = (free_port(), free_port());
        let rpc_secret: String =
            (0..64).map(|i| b"0123456789abcdef"[(i * 7 + rpc_port as usize) % 16] as char).collect();
        let config = format!(
            "metadata_dir = \"{meta}\"\ndata_dir = \"{data}\"\ndb_engine = \"sqlite\"\nreplication_factor = 1\n\
             rpc_bind_addr = \"127.0.0.1:{rpc_port}\"\nrpc_public_addr = \"127.0.0.1:{rpc_port}\"\n\
             rpc_secret = \"{rpc_secret}\"\n\n[s3_api]\ns3_region = \"garage\"\n\
             api_bind_addr = \"{host}:{s3_port}\"\nroot_domain = \".s3.garage.localhost\"\n",
            meta = dir.path().join("meta").display(),
            data = dir.path().join("data").display(),
        );
        let config_path = dir.path().join("garage.toml");
        std::fs::write(&config_path, config).unwrap();
        let settings = S3Settings {
            endpoint: Some(format!("http://{host}:{s3_port}")),
            region: "garage".to_owned(),
            bucket: "berth-test".to_owned(),
            prefix: "registry".to_owned(),
            access_key_id: Some("GKberthtest0001".to_owned()),
            secret_access_key: Some("berth-test-secret-key-0123456789".to_owned()),
            virtual_hosted_style: false,
            redirect_pulls: false,
        };
        let log = std::fs::File::create(dir.path().join("garage.log")).unwrap();
        let child = Command::new("garage")
            .arg("-c")
            .arg(&config_path)
            .args(["server", "--single-node", "--default-bucket"])
            .env("GARAGE_DEFAULT_ACCESS_KEY", settings.access_key_id.as_deref().unwrap())
            .env("GARAGE_DEFAULT_SECRET_KEY", settings.secret_access_key.as_deref().unwrap())
            .env("GARAGE_DEFAULT_BUCKET", &settings.bucket)
            .env("RUST_LOG", "garage=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("`garage` must be installed (scripts/test.sh installs it)");
        let garage = Self { child, _dir: dir, settings };
        garage.wait_until_ready().await;
        garage
    }

    /// A store on this Garage's bucket.
    pub fn store(&self) -> S3BlobStore {
        S3BlobStore::open(&self.settings).expect("S3 settings are valid")
    }

    /// Berth settings (`BERTH_*`) that put its blobs in this Garage.
    pub fn berth_settings(&self) -> Vec<(&'static str, String)> {
        let s3 = &self.settings;
        vec![
            ("BERTH_STORAGE", "s3".to_owned()),
            ("BERTH_S3_ENDPOINT", s3.endpoint.clone().unwrap()),
            ("BERTH_S3_REGION", s3.region.clone()),
            ("BERTH_S3_BUCKET", s3.bucket.clone()),
            ("BERTH_S3_PREFIX", s3.prefix.clone()),
            ("BERTH_S3_ACCESS_KEY_ID", s3.access_key_id.clone().unwrap()),
            ("BERTH_S3_SECRET_ACCESS_KEY", s3.secret_access_key.clone().unwrap()),
        ]
    }

    async fn wait_until_ready(&self) {
        let store = self.store();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match store.check_writable().await {
                Ok(()) => return,
                Err(error) if Instant::now() > deadline => {
                    let log = std::fs::read_to_string(self._dir.path().join("garage.log")).unwrap_or_default();
                    panic!("Garage did not become ready: {error}\n{log}");
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
