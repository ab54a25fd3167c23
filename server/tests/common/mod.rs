//! Test harness: a real Berth on a real socket (127.0.0.1, a free port, a
//! temporary data directory), on SQLite or on a uniquely named PostgreSQL
//! database that is dropped afterwards.
#![allow(dead_code)] // each test binary uses part of the harness

use std::{collections::BTreeMap, net::TcpListener, path::PathBuf, sync::atomic::AtomicU32};

pub mod cluster;
pub mod distribution;
pub mod docker;
pub mod endpoint;
pub mod garage;
pub mod oidc;
pub mod private_postgres;
pub mod process;
pub mod replication;
pub mod slapd;
pub mod traffic;
pub mod usage;

pub use endpoint::Endpoint;
use server::config::{Config, Sources};
use tokio::sync::oneshot;

pub const ADMIN_PASSWORD: &str = "Adm1n-Passw0rd";

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("BERTH_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub url: String,
    cleanup: Option<(String, String)>,
}

impl TestDatabase {
    pub async fn create(backend: Backend, data_dir: &std::path::Path) -> Self {
        match backend {
            Backend::Sqlite => Self { url: format!("sqlite://{}", data_dir.join("berth.db").display()), cleanup: None },
            Backend::Postgres => {
                static COUNTER: AtomicU32 = AtomicU32::new(0);
                let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let name = format!("berth_test_{}_{}_{n}", std::process::id(), rand_suffix());
                let admin_url = postgres_admin_url();
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL must be reachable at {admin_url}: {e}"));
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create test database");
                let mut url = url::Url::parse(&admin_url).expect("valid PostgreSQL URL");
                url.set_path(&name);
                Self { url: url.to_string(), cleanup: Some((admin_url, name)) }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.cleanup.take() {
            // Drop runs outside async context; use a private runtime on its own thread.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                runtime.block_on(async {
                    if let Ok(mut conn) = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url).await {
                        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut conn)
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    hasher.finish() % 1_000_000_000
}

/// Builds a configuration the way the binary does, from `settings` given as
/// environment variables (`BERTH_*`).
pub fn config(settings: &[(&str, String)]) -> Config {
    let env: BTreeMap<String, String> = settings.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    Sources::gather(None, |k| env.get(k).cloned(), &BTreeMap::new())
        .and_then(|s| s.resolve(None))
        .expect("test configuration is valid")
}

/// A Berth serving on a real socket until dropped.
pub struct TestServer {
    pub base: String,
    pub data_dir: PathBuf,
    pub config: Config,
    pub admin: server::AdminBootstrap,
    /// The running server's state, for tests that look behind the HTTP surface.
    pub state: app::core::AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), server::Error>>>,
    _dir: Option<tempfile::TempDir>,
    pub database: Option<TestDatabase>,
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        init_test_logging();
        let dir = tempfile::tempdir().expect("temporary directory");
        let database = TestDatabase::create(backend, dir.path()).await;
        let mut server = Self::start_with(dir.path().to_owned(), &database.url, &[]).await;
        server._dir = Some(dir);
        server.database = Some(database);
        server
    }

    /// Starts on an existing data directory and database (to test restarts).
    pub async fn start_with(data_dir: PathBuf, database_url: &str, extra: &[(&str, String)]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let addr = listener.local_addr().unwrap();
        let mut settings = vec![
            ("BERTH_LISTEN", addr.to_string()),
            ("BERTH_DATA_DIR", data_dir.display().to_string()),
            ("BERTH_DATABASE_URL", database_url.to_owned()),
            ("BERTH_ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
            ("BERTH_SHUTDOWN_GRACE_SECONDS", "5".to_owned()),
        ];
        settings.extend(extra.iter().cloned());
        let config = config(&settings);
        let berth = server::build_app(&config).await.expect("berth starts");
        let admin = berth.admin.clone();
        let state = berth.state.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let serve_config = config.clone();
        let task = tokio::spawn(async move {
            server::serve(&serve_config, berth, listener, async {
                let _ = rx.await;
            })
            .await
        });
        Self {
            base: format!("http://{addr}"),
            data_dir,
            config,
            admin,
            state,
            shutdown: Some(tx),
            task: Some(task),
            _dir: None,
            database: None,
        }
    }

    /// Keeps a restarted server's data directory and database, removed with it.
    pub fn keep(&mut self, dir: tempfile::TempDir, database: TestDatabase) {
        self._dir = Some(dir);
        self.database = Some(database);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// This server as its clients reach it.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::new(&self.base)
    }

    /// Stops the server and waits until it has closed everything.
    pub async fn stop(mut self) -> (Option<tempfile::TempDir>, Option<TestDatabase>) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(std::time::Duration::from_secs(30), task)
                .await
                .expect("the server stopped within 30 s")
                .expect("server task")
                .expect("server stops cleanly");
        }
        (self._dir.take(), self.database.take())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Every file below `dir` (none when it does not exist).
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() { files.extend(files_under(&path)) } else { files.push(path) }
        }
    }
    files
}

/// Server logs go to the test's captured output, shown when it fails.
pub fn init_test_logging() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .try_init();
}

/// A client that keeps cookies and does not follow redirects.
pub fn browser_like_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A cookie-keeping client signed in to the portal as `username`: what
/// server-function tests call the portal's functions with.
pub async fn portal_client(server: &TestServer, username: &str, password: &str) -> reqwest::Client {
    let client = browser_like_client();
    let response = client
        .post(server.url("/portal/fn/login"))
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success() || response.status().is_redirection(), "{username} signs in");
    client
}

/// The global audit log as the administrator reads it over REST, after
/// everything recorded so far is written; `q` is Harbor's query (`k=v`).
pub async fn audit_log(server: &TestServer, q: &str) -> Vec<serde_json::Value> {
    server.state.events.flush().await;
    let q: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
    let url = server.url(&format!("/api/v2.0/audit-logs?page_size=100&q={q}"));
    admin_client().get(url).send().await.unwrap().json().await.unwrap()
}

/// Every portal page's address, for a project `team` holding `team/app`
/// (whose artifact is `digest`) and `team/nested/tool`.
pub fn portal_pages(digest: &str) -> Vec<String> {
    vec![
        "/".to_owned(),
        "/projects".to_owned(),
        "/projects?search=te".to_owned(),
        "/new-project".to_owned(),
        "/projects/team".to_owned(),
        "/projects/team/repositories".to_owned(),
        "/projects/team/members".to_owned(),
        "/projects/team/robots".to_owned(),
        "/projects/team/logs".to_owned(),
        "/projects/team/configuration".to_owned(),
        "/projects/team/repositories/app".to_owned(),
        "/projects/team/repositories/nested/tool".to_owned(),
        format!("/projects/team/repositories/app/artifacts/{digest}"),
        "/search?q=app".to_owned(),
        "/api-reference".to_owned(),
        "/profile".to_owned(),
    ]
}

/// Fails a test that hangs instead of letting it stall the whole run.
pub async fn within_time_limit(test: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(std::time::Duration::from_secs(120), test).await.expect("the test finished within 120 s");
}

/// Runs each named `async fn(Backend)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { $crate::common::within_time_limit(super::$test($crate::common::Backend::Sqlite)).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { $crate::common::within_time_limit(super::$test($crate::common::Backend::Postgres)).await })*
        }
    };
}

/// A client that sends `username:password` as Basic credentials with every request.
pub fn client_as(username: &str, password: &str) -> reqwest::Client {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    let mut headers = reqwest::header::HeaderMap::new();
    let mut value = reqwest::header::HeaderValue::from_str(&format!("Basic {encoded}")).unwrap();
    value.set_sensitive(true);
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

/// The client of a user [`TestServer::add_members`] made.
pub fn member_client(user: &str) -> reqwest::Client {
    client_as(user, &format!("{user}-password-1"))
}

/// The first administrator's client: may do anything anywhere.
pub fn admin_client() -> reqwest::Client {
    client_as("admin", ADMIN_PASSWORD)
}

/// Pushes `content` as a blob with one monolithic request; returns the status.
pub async fn push_blob(
    client: &reqwest::Client,
    server: &TestServer,
    repo: &str,
    content: &[u8],
) -> reqwest::StatusCode {
    let digest = app::core::registry::digest::Digest::sha256_of(content);
    client
        .post(server.url(&format!("/v2/{repo}/blobs/uploads/?digest={digest}")))
        .body(content.to_vec())
        .send()
        .await
        .unwrap()
        .status()
}

/// Pushes a minimal OCI image (empty config, no layers) as `repo:tag`.
pub async fn push_empty_image(client: &reqwest::Client, server: &TestServer, repo: &str, tag: &str) {
    const EMPTY: &[u8] = b"{}";
    assert_eq!(push_blob(client, server, repo, EMPTY).await, reqwest::StatusCode::CREATED);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.empty.v1+json",
            "digest": app::core::registry::digest::Digest::sha256_of(EMPTY).to_string(),
            "size": EMPTY.len(),
        },
        "layers": [],
    });
    let response = client
        .put(server.url(&format!("/v2/{repo}/manifests/{tag}")))
        .header(reqwest::header::CONTENT_TYPE, "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::CREATED, "push {repo}:{tag}");
}

/// Pushes an image whose one layer holds `layer`; returns its digest and total size.
pub async fn push_image(
    client: &reqwest::Client,
    server: &TestServer,
    repo: &str,
    tag: &str,
    layer: &[u8],
) -> (String, i64) {
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    for blob in [layer, &config[..]] {
        assert_eq!(push_blob(client, server, repo, blob).await, reqwest::StatusCode::CREATED);
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": app::core::registry::digest::Digest::sha256_of(config).to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": app::core::registry::digest::Digest::sha256_of(layer).to_string(), "size": layer.len()}],
    })
    .to_string();
    let response = client
        .put(server.url(&format!("/v2/{repo}/manifests/{tag}")))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    (
        app::core::registry::digest::Digest::sha256_of(manifest.as_bytes()).to_string(),
        (manifest.len() + config.len() + layer.len()) as i64,
    )
}

impl TestServer {
    /// The first administrator, as the core's services take an actor.
    pub async fn admin_actor(&self) -> app::core::identity::Actor {
        let admin = self.state.users.find("admin").await.unwrap().expect("the first administrator exists");
        app::core::identity::Principal::User(admin).into()
    }

    /// Creates private projects (the administrator creates them) for a test to push into.
    pub async fn create_projects(&self, names: &[&str]) {
        let admin = self.admin_actor().await;
        for name in names {
            self.state
                .projects
                .create(&admin, app::core::projects::NewProject::private(name))
                .await
                .expect("create the test project");
        }
    }

    /// Creates each user (password `<name>-password-1`) and makes them a
    /// member of `project` with the Harbor role id given, through REST.
    pub async fn add_members(&self, project: &str, members: &[(&str, i64)]) {
        for (user, role) in members {
            self.create_user(user, &format!("{user}-password-1")).await;
            let member = serde_json::json!({"role_id": role, "member_user": {"username": user}});
            let url = self.url(&format!("/api/v2.0/projects/{project}/members"));
            let added = admin_client().post(url).json(&member).send().await.unwrap();
            assert_eq!(added.status(), reqwest::StatusCode::CREATED, "{user} joins {project}");
        }
    }

    /// Creates a database user, as the first administrator.
    pub async fn create_user(&self, username: &str, password: &str) -> app::core::identity::User {
        let admin = self.admin_actor().await;
        self.state
            .users
            .create_user(
                &admin,
                app::core::users::NewAccount { username, password, email: None, full_name: "", is_admin: false },
            )
            .await
            .expect("create the test user")
    }
}
