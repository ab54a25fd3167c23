//! Configuration: a TOML file (`--config`, or `berth.toml` when present),
//! overridden by `BERTH_*` environment variables, overridden by flags.
//!
//! Every key is declared once in [`KEYS`]; the flag, the environment variable
//! and the file key all derive from that table, and every value from every
//! source goes through the same parser, so an error always names the key and
//! where the bad value came from.

use std::{
    collections::BTreeMap,
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

mod storage;
mod values;

use app::core::storage::StorageSettings;

use crate::client_addr::{ForwardingHeader, TrustedProxies};
use url::Url;
use values::{
    boolean, existing_file, non_empty_path, number_between, parse_database_url, parse_external_url, parse_with,
    positive_number, redact_url, strip_field,
};

/// One configuration key: its file name, flag and environment variable.
pub struct Key {
    pub name: &'static str,
    pub env: &'static str,
    pub flag: &'static str,
    pub help: &'static str,
    pub secret: bool,
}

macro_rules! keys {
    ($($name:literal, $env:literal, $flag:literal, $secret:literal, $help:literal;)*) => {
        pub const KEYS: &[Key] = &[$(Key { name: $name, env: $env, flag: $flag, help: $help, secret: $secret },)*];
    };
}

keys! {
    "listen", "BERTH_LISTEN", "listen", false, "Address to listen on [default: 127.0.0.1:8080]";
    "data_dir", "BERTH_DATA_DIR", "data-dir", false, "Directory for the SQLite database and the blob store [default: ./berth-data]";
    "database_url", "BERTH_DATABASE_URL", "database-url", true, "sqlite:// or postgres:// URL [default: SQLite at <data_dir>/berth.db]";
    "external_url", "BERTH_EXTERNAL_URL", "external-url", false, "URL clients use to reach Berth [default: http(s)://<listen>]";
    "admin_password", "BERTH_ADMIN_PASSWORD", "admin-password", true, "Password of the first administrator, used on first start only [default: generated and printed once]";
    "tls_cert", "BERTH_TLS_CERT", "tls-cert", false, "PEM certificate chain; serve HTTPS (needs tls_key)";
    "tls_key", "BERTH_TLS_KEY", "tls-key", false, "PEM private key for tls_cert";
    "session_timeout_minutes", "BERTH_SESSION_TIMEOUT_MINUTES", "session-timeout-minutes", false, "Lifetime of a portal session until an administrator sets one in the portal [default: 720]";
    "shutdown_grace_seconds", "BERTH_SHUTDOWN_GRACE_SECONDS", "shutdown-grace-seconds", false, "How long in-flight requests may finish after SIGTERM/SIGINT [default: 30]";
    "max_manifest_bytes", "BERTH_MAX_MANIFEST_BYTES", "max-manifest-bytes", false, "Largest manifest accepted, in bytes [default: 4194304 (4 MiB)]";
    "log_format", "BERTH_LOG_FORMAT", "log-format", false, "text or json [default: text]";
    "log_level", "BERTH_LOG_LEVEL", "log-level", false, "tracing filter, e.g. info or berth=debug,info [default: info]";
    "site_root", "BERTH_SITE_ROOT", "site-root", false, "Directory with the portal's built assets (pkg/) [default: $LEPTOS_SITE_ROOT or target/site]";
    "audit_retention_days", "BERTH_AUDIT_RETENTION_DAYS", "audit-retention-days", false, "Audit log entries older than this are deleted hourly (set at each start, over the portal's audit rotation schedule); 0 leaves rotation to the portal [default: 0]";
    "token_expiry_minutes", "BERTH_TOKEN_EXPIRY_MINUTES", "token-expiry-minutes", false, "Lifetime of a registry token from /service/token [default: 30]";
    "upload_expiry_hours", "BERTH_UPLOAD_EXPIRY_HOURS", "upload-expiry-hours", false, "Unfinished uploads untouched this long are removed, with repositories left empty by them [default: 24]";
    "storage", "BERTH_STORAGE", "storage", false, "Where blobs live: filesystem (<data_dir>/storage) or s3 [default: filesystem]";
    "trusted_proxies", "BERTH_TRUSTED_PROXIES", "trusted-proxies", false, "Comma-separated addresses or networks (10.0.0.0/8) of proxies whose X-Forwarded-For / Forwarded headers name the client [default: none, headers ignored]";
    "trusted_proxy_header", "BERTH_TRUSTED_PROXY_HEADER", "trusted-proxy-header", false, "The header the trusted proxies write: x-forwarded-for or forwarded (RFC 7239); the other is ignored [default: x-forwarded-for]";
    "gc_link_window_seconds", "BERTH_GC_LINK_WINDOW_SECONDS", "gc-link-window-seconds", false, "How long garbage collection keeps a blob link no manifest names after it was last used, so pushes in flight keep their blobs [default: 7200]";
    "verify_on_read", "BERTH_VERIFY_ON_READ", "verify-on-read", false, "Hash every whole-blob pull as it streams and fail it if the stored content no longer matches its digest [default: false]";
    "render_threads", "BERTH_RENDER_THREADS", "render-threads", false, "Threads rendering portal pages, apart from those serving the registry [default: the number of CPUs]";
    "render_timeout_seconds", "BERTH_RENDER_TIMEOUT_SECONDS", "render-timeout-seconds", false, "Longest a portal page or server function may take before it is cut off with 503 [default: 30]";
    "max_connections", "BERTH_MAX_CONNECTIONS", "max-connections", false, "Most client connections open at once; more are closed as they arrive [default: 10000]";
    "header_read_timeout_seconds", "BERTH_HEADER_READ_TIMEOUT_SECONDS", "header-read-timeout-seconds", false, "Longest a client may take to send a request's headers, or keep an idle connection open between requests [default: 30]";
    "body_read_timeout_seconds", "BERTH_BODY_READ_TIMEOUT_SECONDS", "body-read-timeout-seconds", false, "Longest a request body may go without sending anything before the request fails [default: 60]";
    "s3_endpoint", "BERTH_S3_ENDPOINT", "s3-endpoint", false, "http(s)://host:port of an S3-compatible service (Garage, MinIO…) [default: AWS]";
    "s3_region", "BERTH_S3_REGION", "s3-region", false, "Region of the bucket [default: us-east-1]";
    "s3_bucket", "BERTH_S3_BUCKET", "s3-bucket", false, "Bucket holding the blobs (required with storage = s3)";
    "s3_prefix", "BERTH_S3_PREFIX", "s3-prefix", false, "Key prefix inside the bucket [default: none]";
    "s3_access_key_id", "BERTH_S3_ACCESS_KEY_ID", "s3-access-key-id", false, "Access key id [default: $AWS_ACCESS_KEY_ID]";
    "s3_secret_access_key", "BERTH_S3_SECRET_ACCESS_KEY", "s3-secret-access-key", true, "Secret access key [default: $AWS_SECRET_ACCESS_KEY]";
    "s3_virtual_hosted_style", "BERTH_S3_VIRTUAL_HOSTED_STYLE", "s3-virtual-hosted-style", false, "Address the bucket as bucket.host instead of host/bucket [default: false]";
    "s3_redirect", "BERTH_S3_REDIRECT", "s3-redirect", false, "Answer blob pulls with a redirect to a presigned URL (valid 20 minutes) on the bucket, so the bytes do not pass through Berth (not while verify_on_read is on); clients must reach s3_endpoint [default: false]";
}

/// Where a value came from; later sources win.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Default,
    File(PathBuf),
    Env(&'static str),
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::File(path) => write!(f, "in {}", path.display()),
            Self::Env(var) => write!(f, "from environment variable {var}"),
            Self::Flag(flag) => write!(f, "from flag --{flag}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid value for `{key}` ({origin}): {message}")]
    Invalid { key: &'static str, origin: Origin, message: String },
    #[error("cannot read configuration file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("configuration file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("unknown key `{key}` in {path}; known keys: {known}")]
    UnknownKey { key: String, path: PathBuf, known: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The resolved configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub external_url: Url,
    pub admin_password: Option<String>,
    pub tls: Option<TlsFiles>,
    pub session_timeout: Duration,
    pub shutdown_grace: Duration,
    pub max_manifest_bytes: usize,
    pub log_format: LogFormat,
    pub log_level: String,
    pub site_root: PathBuf,
    pub storage: StorageSettings,
    pub upload_expiry: Duration,
    pub token_expiry: Duration,
    /// `None`: keep the audit log forever.
    pub audit_retention: Option<Duration>,
    /// Proxies whose forwarding headers are believed.
    pub trusted_proxies: TrustedProxies,
    pub verify_on_read: bool,
    /// How long an unreferenced blob link is kept after it was last used.
    pub gc_link_window: Duration,
    pub render_threads: usize,
    pub render_timeout: Duration,
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    /// Where each key's value came from, for `berth config`.
    pub origins: BTreeMap<&'static str, Origin>,
}

/// Raw values gathered from all sources, before parsing.
#[derive(Default)]
pub struct Sources {
    values: BTreeMap<&'static str, (String, Origin)>,
}

impl Sources {
    /// Layers the file (if any), then the environment, then the flags.
    pub fn gather(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        flags: &BTreeMap<&'static str, String>,
    ) -> Result<Self, Error> {
        let mut sources = Self::default();
        if let Some(path) = file {
            sources.read_file(path)?;
        }
        for key in KEYS {
            if let Some(value) = env(key.env) {
                sources.values.insert(key.name, (value, Origin::Env(key.env)));
            }
            if let Some(value) = flags.get(key.name) {
                sources.values.insert(key.name, (value.clone(), Origin::Flag(key.flag)));
            }
        }
        Ok(sources)
    }

    fn read_file(&mut self, path: &Path) -> Result<(), Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_owned(), source })?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| Error::Syntax { path: path.to_owned(), message: e.to_string() })?;
        for (name, value) in table {
            let Some(key) = KEYS.iter().find(|k| k.name == name) else {
                let known = KEYS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ");
                return Err(Error::UnknownKey { key: name, path: path.to_owned(), known });
            };
            let origin = Origin::File(path.to_owned());
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    let message = format!("expected a string or a number, found {}", other.type_str());
                    return Err(Error::Invalid { key: key.name, origin, message });
                }
            };
            self.values.insert(key.name, (text, origin));
        }
        Ok(())
    }

    fn take<T>(
        &mut self,
        key: &'static str,
        origins: &mut BTreeMap<&'static str, Origin>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, Error> {
        match self.values.remove(key) {
            None => {
                origins.insert(key, Origin::Default);
                Ok(None)
            }
            Some((text, origin)) => match parse(&text) {
                Ok(value) => {
                    origins.insert(key, origin);
                    Ok(Some(value))
                }
                Err(message) => Err(Error::Invalid { key, origin, message }),
            },
        }
    }

    /// Parses and validates every key, filling in defaults.
    pub fn resolve(mut self, leptos_site_root: Option<String>) -> Result<Config, Error> {
        let mut origins = BTreeMap::new();
        let o = &mut origins;
        let listen = self.take("listen", o, parse_with(|s| s.parse::<SocketAddr>()))?;
        let data_dir = self.take("data_dir", o, non_empty_path)?;
        let database_url = self.take("database_url", o, parse_database_url)?;
        let external_url = self.take("external_url", o, parse_external_url)?;
        let admin_password = self.take("admin_password", o, |s| {
            app::core::users::validate_password("admin_password", s).map_err(|e| strip_field(&e.to_string()))?;
            Ok(s.to_owned())
        })?;
        let tls_cert = self.take("tls_cert", o, existing_file)?;
        let tls_key = self.take("tls_key", o, existing_file)?;
        let session_minutes = self.take("session_timeout_minutes", o, positive_number)?;
        let grace_seconds = self.take("shutdown_grace_seconds", o, positive_number)?;
        let max_manifest_bytes = self.take("max_manifest_bytes", o, positive_number)?;
        let log_format = self.take("log_format", o, |s| match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err("expected `text` or `json`".to_owned()),
        })?;
        let log_level = self.take("log_level", o, |s| {
            tracing_subscriber::EnvFilter::try_new(s).map(|_| s.to_owned()).map_err(|e| e.to_string())
        })?;
        let site_root = self.take("site_root", o, non_empty_path)?;
        let upload_expiry_hours = self.take("upload_expiry_hours", o, positive_number)?;
        let token_minutes = self.take("token_expiry_minutes", o, positive_number)?;
        let retention_days = self.take("audit_retention_days", o, |s| {
            s.trim().parse::<u64>().map_err(|_| "expected a whole number of days (0 keeps everything)".to_owned())
        })?;
        let trusted_proxies = self.take("trusted_proxies", o, TrustedProxies::parse)?;
        let proxy_header = self.take("trusted_proxy_header", o, ForwardingHeader::parse)?;
        let verify_on_read = self.take("verify_on_read", o, boolean)?;
        let link_window = self.take("gc_link_window_seconds", o, |s| number_between(s, 1, 30 * 24 * 3600))?;
        let render_threads = self.take("render_threads", o, |s| number_between(s, 1, 64))?;
        let render_timeout = self.take("render_timeout_seconds", o, |s| number_between(s, 1, 3600))?;
        let max_connections = self.take("max_connections", o, |s| number_between(s, 1, 1_000_000))?;
        let header_read_timeout = self.take("header_read_timeout_seconds", o, |s| number_between(s, 1, 3600))?;
        let body_read_timeout = self.take("body_read_timeout_seconds", o, |s| number_between(s, 1, 3600))?;
        let storage = self.take_storage(o)?;

        let tls = match (tls_cert, tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            (cert, _) => {
                let (key, other) = if cert.is_some() { ("tls_cert", "tls_key") } else { ("tls_key", "tls_cert") };
                let origin = origins[key].clone();
                return Err(Error::Invalid { key, origin, message: format!("needs `{other}` too") });
            }
        };
        let listen = listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        let data_dir = data_dir.unwrap_or_else(|| PathBuf::from("berth-data"));
        let storage = storage.settings(&data_dir, &origins)?;
        let database_url = database_url.unwrap_or_else(|| format!("sqlite://{}", data_dir.join("berth.db").display()));
        let external_url = external_url.unwrap_or_else(|| {
            let scheme = if tls.is_some() { "https" } else { "http" };
            Url::parse(&format!("{scheme}://{listen}/")).expect("a socket address makes a valid URL")
        });
        let site_root = site_root
            .or_else(|| leptos_site_root.filter(|s| !s.is_empty()).map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("target/site"));
        Ok(Config {
            listen,
            data_dir,
            database_url,
            external_url,
            admin_password,
            tls,
            session_timeout: Duration::from_secs(60 * session_minutes.unwrap_or(720)),
            shutdown_grace: Duration::from_secs(grace_seconds.unwrap_or(30)),
            max_manifest_bytes: max_manifest_bytes.map_or(4 * 1024 * 1024, |n| n as usize),
            log_format: log_format.unwrap_or(LogFormat::Text),
            log_level: log_level.unwrap_or_else(|| "info".to_owned()),
            site_root,
            storage,
            upload_expiry: Duration::from_secs(60 * 60 * upload_expiry_hours.unwrap_or(24)),
            token_expiry: Duration::from_secs(60 * token_minutes.unwrap_or(30)),
            audit_retention: retention_days
                .filter(|days| *days > 0)
                .map(|days| Duration::from_secs(days * 24 * 60 * 60)),
            trusted_proxies: trusted_proxies.unwrap_or_default().reading(proxy_header.unwrap_or_default()),
            verify_on_read: verify_on_read.unwrap_or(false),
            gc_link_window: Duration::from_secs(link_window.unwrap_or(7200)),
            render_threads: render_threads.map_or_else(
                || std::thread::available_parallelism().map_or(2, |n| n.get().min(64)),
                |n| usize::try_from(n).unwrap_or(usize::MAX),
            ),
            render_timeout: Duration::from_secs(render_timeout.unwrap_or(30)),
            max_connections: max_connections.map_or(10_000, |n| usize::try_from(n).unwrap_or(usize::MAX)),
            header_read_timeout: Duration::from_secs(header_read_timeout.unwrap_or(30)),
            body_read_timeout: Duration::from_secs(body_read_timeout.unwrap_or(60)),
            origins,
        })
    }
}

impl Config {
    /// Cookies get `Secure` whenever browsers reach Berth over HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.tls.is_some() || self.external_url.scheme() == "https"
    }

    /// The effective configuration as TOML, secrets redacted, each key
    /// annotated with where its value came from.
    pub fn describe(&self) -> String {
        let tls_cert = self.tls.as_ref().map(|t| t.cert.display().to_string());
        let tls_key = self.tls.as_ref().map(|t| t.key.display().to_string());
        let values = [
            ("listen", Some(self.listen.to_string())),
            ("data_dir", Some(self.data_dir.display().to_string())),
            ("database_url", Some(redact_url(&self.database_url))),
            ("external_url", Some(self.external_url.to_string())),
            ("admin_password", self.admin_password.as_ref().map(|_| "********".to_owned())),
            ("tls_cert", tls_cert),
            ("tls_key", tls_key),
            ("session_timeout_minutes", Some((self.session_timeout.as_secs() / 60).to_string())),
            ("shutdown_grace_seconds", Some(self.shutdown_grace.as_secs().to_string())),
            ("max_manifest_bytes", Some(self.max_manifest_bytes.to_string())),
            ("log_format", Some(if self.log_format == LogFormat::Json { "json" } else { "text" }.to_owned())),
            ("log_level", Some(self.log_level.clone())),
            ("site_root", Some(self.site_root.display().to_string())),
            ("audit_retention_days", Some(self.audit_retention.map_or(0, |d| d.as_secs() / 86_400).to_string())),
            ("token_expiry_minutes", Some((self.token_expiry.as_secs() / 60).to_string())),
            ("upload_expiry_hours", Some((self.upload_expiry.as_secs() / 3600).to_string())),
            ("trusted_proxies", Some(self.trusted_proxies.describe()).filter(|list| !list.is_empty())),
            ("trusted_proxy_header", Some(self.trusted_proxies.header().name().to_owned())),
            ("verify_on_read", Some(self.verify_on_read.to_string())),
            ("gc_link_window_seconds", Some(self.gc_link_window.as_secs().to_string())),
            ("render_threads", Some(self.render_threads.to_string())),
            ("render_timeout_seconds", Some(self.render_timeout.as_secs().to_string())),
            ("max_connections", Some(self.max_connections.to_string())),
            ("header_read_timeout_seconds", Some(self.header_read_timeout.as_secs().to_string())),
            ("body_read_timeout_seconds", Some(self.body_read_timeout.as_secs().to_string())),
        ];
        let mut out = String::new();
        for (key, value) in values.into_iter().chain(storage::describe(&self.storage)) {
            let origin = self.origins.get(key).cloned().unwrap_or(Origin::Default);
            match value {
                Some(value) => {
                    let value = toml::Value::String(value);
                    out.push_str(&format!("{key} = {value}  # {origin}\n"));
                }
                None => out.push_str(&format!("# {key} is not set\n")),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(file: Option<&str>, env: &[(&str, &str)], flags: &[(&'static str, &str)]) -> Result<Config, Error> {
        // Removed when the configuration has been read.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("berth.toml");
        if let Some(text) = file {
            std::fs::write(&path, text).unwrap();
        }
        let env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let flags = flags.iter().map(|(k, v)| (*k, v.to_string())).collect();
        let sources = Sources::gather(file.map(|_| path.as_path()), |k| env.get(k).cloned(), &flags)?;
        sources.resolve(None)
    }

    #[test]
    fn defaults() {
        let config = resolve(None, &[], &[]).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.database_url, "sqlite://berth-data/berth.db");
        assert_eq!(config.external_url.as_str(), "http://127.0.0.1:8080/");
        assert!(!config.secure_cookies());
        assert_eq!(config.origins["listen"], Origin::Default);
    }

    #[test]
    fn file_then_env_then_flag() {
        let file = Some("listen = \"127.0.0.1:1001\"\ndata_dir = \"/from-file\"\nlog_level = \"debug\"\n");
        let env = [("BERTH_LISTEN", "127.0.0.1:1002"), ("BERTH_DATA_DIR", "/from-env")];
        let flags = [("listen", "127.0.0.1:1003")];
        let config = resolve(file, &env, &flags).unwrap();
        assert_eq!(config.listen.port(), 1003);
        assert_eq!(config.origins["listen"], Origin::Flag("listen"));
        assert_eq!(config.data_dir, PathBuf::from("/from-env"));
        assert_eq!(config.origins["data_dir"], Origin::Env("BERTH_DATA_DIR"));
        assert_eq!(config.log_level, "debug");
        assert!(matches!(config.origins["log_level"], Origin::File(_)));
        assert_eq!(config.database_url, "sqlite:///from-env/berth.db");
    }

    #[test]
    fn errors_name_the_key_and_the_source() {
        let err = resolve(None, &[("BERTH_LISTEN", "nowhere")], &[]).unwrap_err().to_string();
        assert!(err.contains("`listen`") && err.contains("BERTH_LISTEN"), "{err}");
        let err = resolve(Some("session_timeout_minutes = 0\n"), &[], &[]).unwrap_err().to_string();
        assert!(err.contains("`session_timeout_minutes`") && err.contains(".toml"), "{err}");
        let err = resolve(None, &[], &[("database_url", "mysql://x")]).unwrap_err().to_string();
        assert!(err.contains("`database_url`") && err.contains("--database-url"), "{err}");
        let err = resolve(Some("lisen = \"x\"\n"), &[], &[]).unwrap_err().to_string();
        assert!(err.contains("unknown key `lisen`"), "{err}");
        let err = resolve(None, &[("BERTH_ADMIN_PASSWORD", "short")], &[]).unwrap_err().to_string();
        assert!(err.contains("`admin_password`") && err.contains("between 8 and 128"), "{err}");
        let err = resolve(None, &[("BERTH_EXTERNAL_URL", "ftp://x")], &[]).unwrap_err().to_string();
        assert!(err.contains("`external_url`"), "{err}");
    }

    #[test]
    fn tls_needs_both_files_and_makes_cookies_secure() {
        let err = resolve(None, &[("BERTH_TLS_CERT", "/definitely/missing.pem")], &[]).unwrap_err().to_string();
        assert!(err.contains("`tls_cert`") && err.contains("not a readable file"), "{err}");
        let config = resolve(None, &[("BERTH_EXTERNAL_URL", "https://registry.example.com")], &[]).unwrap();
        assert!(config.secure_cookies());
    }

    #[test]
    fn describe_redacts_secrets() {
        let env =
            [("BERTH_DATABASE_URL", "postgres://berth:hunter2@db/berth"), ("BERTH_ADMIN_PASSWORD", "VerySecret123")];
        let text = resolve(None, &env, &[]).unwrap().describe();
        assert!(!text.contains("hunter2") && !text.contains("VerySecret123"), "{text}");
        assert!(text.contains("from environment variable BERTH_DATABASE_URL"), "{text}");
    }

    #[test]
    fn storage_is_the_filesystem_unless_s3_is_chosen() {
        let config = resolve(None, &[("BERTH_DATA_DIR", "/srv/berth")], &[]).unwrap();
        assert_eq!(config.storage, StorageSettings::Filesystem { root: PathBuf::from("/srv/berth/storage") });
        assert_eq!(config.upload_expiry, Duration::from_secs(24 * 3600));

        let file = "storage = \"s3\"\ns3_endpoint = \"http://127.0.0.1:3900\"\ns3_bucket = \"blobs\"\n\
                    s3_prefix = \"/berth/\"\ns3_secret_access_key = \"s3cr3t-key\"\n";
        let config = resolve(Some(file), &[("BERTH_S3_ACCESS_KEY_ID", "GK1")], &[]).unwrap();
        let StorageSettings::S3(s3) = &config.storage else { panic!("{:?}", config.storage) };
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:3900"));
        assert_eq!((s3.bucket.as_str(), s3.prefix.as_str(), s3.region.as_str()), ("blobs", "berth", "us-east-1"));
        assert_eq!(s3.access_key_id.as_deref(), Some("GK1"));
        assert!(!s3.virtual_hosted_style);
        let text = config.describe();
        assert!(text.contains("storage = \"s3\"") && !text.contains("s3cr3t-key"), "{text}");

        let err = resolve(None, &[("BERTH_STORAGE", "s3")], &[]).unwrap_err().to_string();
        assert!(err.contains("`storage`") && err.contains("s3_bucket"), "{err}");
        let err = resolve(None, &[("BERTH_STORAGE", "tape")], &[]).unwrap_err().to_string();
        assert!(err.contains("filesystem` or `s3"), "{err}");
        let err = resolve(None, &[("BERTH_S3_ENDPOINT", "http://minio:9000/bucket")], &[]).unwrap_err().to_string();
        assert!(err.contains("`s3_endpoint`") && err.contains("without a path"), "{err}");
    }
}
