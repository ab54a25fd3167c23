//! Several real `berth` processes as one registry, deployed the way the
//! deployment guide describes: one PostgreSQL database, one Garage bucket,
//! and Debian's `haproxy` in front (round robin, each node health-checked on
//! `/api/v2.0/health`). Every node has its own data directory and port; the
//! clients only ever see the load balancer's address, which is also each
//! node's `external_url`. `scripts/test.sh` installs haproxy and garage.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use tokio::process::Child;

use super::{ADMIN_PASSWORD, Backend, Endpoint, TestDatabase, garage::Garage, process};

/// One `berth serve` behind the load balancer.
pub struct Node {
    pub base: String,
    pub name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Node {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Ends the process at once, as a crash or `kill -9` would: no
    /// graceful shutdown, in-flight requests cut off.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Stops the process as an operator would (SIGTERM), waiting for it.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            process::sigterm(&child);
            let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
        }
    }

    /// What the node logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

pub struct Cluster {
    /// The load balancer's address: what clients use.
    pub base: String,
    pub nodes: Vec<Node>,
    pub garage: Garage,
    haproxy: std::process::Child,
    database: Option<TestDatabase>,
    dir: tempfile::TempDir,
    /// Every node's settings but its own address and data directory.
    shared: Vec<(&'static str, String)>,
}

impl Cluster {
    /// `nodes` Berth processes on one new PostgreSQL database and one new
    /// Garage bucket, behind haproxy; returns once the load balancer sees
    /// every node healthy.
    pub async fn start(nodes: usize) -> Self {
        Self::start_with(nodes, &[]).await
    }

    /// As [`Cluster::start`], with extra `BERTH_*` settings for every node.
    pub async fn start_with(nodes: usize, extra: &[(&'static str, String)]) -> Self {
        super::init_test_logging();
        let dir = tempfile::Builder::new().prefix("berth-cluster-").tempdir().unwrap();
        let database = TestDatabase::create(Backend::Postgres, dir.path()).await;
        let garage = Garage::start().await;
        let lb_port = process::free_port();
        let base = format!("http://127.0.0.1:{lb_port}");
        let mut shared = vec![
            ("BERTH_DATABASE_URL", database.url.clone()),
            ("BERTH_ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
            ("BERTH_EXTERNAL_URL", base.clone()),
            // haproxy names the client in X-Forwarded-For; only it is believed.
            ("BERTH_TRUSTED_PROXIES", "127.0.0.1".to_owned()),
            ("BERTH_SHUTDOWN_GRACE_SECONDS", "5".to_owned()),
            // Every node is health-checked three times a second: no access lines.
            ("BERTH_LOG_LEVEL", "info,berth::access=warn".to_owned()),
        ];
        if let Ok(site_root) = std::env::var("BERTH_SITE_ROOT") {
            shared.push(("BERTH_SITE_ROOT", site_root));
        }
        shared.extend(garage.berth_settings());
        shared.extend(extra.iter().cloned());
        // The first node migrates the database and creates the administrator
        // alone; the others then start side by side.
        let mut all = vec![spawn_node(dir.path(), &shared, 0).await];
        all.extend(futures_util::future::join_all((1..nodes).map(|n| spawn_node(dir.path(), &shared, n))).await);
        let backends: Vec<String> = all.iter().map(|node| node.base.clone()).collect();
        let haproxy = haproxy(dir.path(), lb_port, &backends);
        let mut cluster = Self { base, nodes: all, garage, haproxy, database: Some(database), dir, shared };
        cluster.wait_until_all_healthy().await;
        cluster
    }

    /// Starts node `n` again after it was killed or stopped, on the same
    /// address and data directory.
    pub async fn restart(&mut self, n: usize) {
        let port: u16 = self.nodes[n].base.rsplit(':').next().unwrap().parse().unwrap();
        self.nodes[n] = spawn_node_on(self.dir.path(), &self.shared, n, port).await;
        self.wait_until_all_healthy().await;
    }

    /// The registry as its clients reach it: through the load balancer.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::new(&self.base)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The database every node shares, for tests that look behind the API.
    pub fn database_url(&self) -> &str {
        &self.database.as_ref().expect("the cluster's database").url
    }

    /// Waits until haproxy's own health checks count every running node up:
    /// requests through it then reach all of them.
    pub async fn wait_until_all_healthy(&mut self) {
        let running: Vec<String> =
            self.nodes.iter_mut().filter_map(|node| node.is_running().then(|| node.name.clone())).collect();
        let stats = self.dir.path().join("haproxy.sock");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(exit)) = self.haproxy.try_wait() {
                panic!("haproxy exited ({exit}):\n{}", self.logs());
            }
            let up = haproxy_servers_up(&stats).await;
            if running.iter().all(|name| up.contains(name)) {
                return;
            }
            assert!(Instant::now() < deadline, "haproxy sees only {up:?} of {running:?} up\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until haproxy has taken `node` out of rotation.
    pub async fn wait_until_down(&self, node: usize) {
        let stats = self.dir.path().join("haproxy.sock");
        let name = &self.nodes[node].name;
        let deadline = Instant::now() + Duration::from_secs(30);
        while haproxy_servers_up(&stats).await.contains(name) {
            assert!(Instant::now() < deadline, "haproxy still sends requests to {name}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The nodes haproxy is passing a request to right now (from its
    /// per-server count of current sessions).
    pub async fn busy_nodes(&self) -> Vec<usize> {
        let answer = haproxy_command(&self.dir.path().join("haproxy.sock"), "show stat\n").await;
        // CSV: pxname,svname,qcur,qmax,scur,…
        answer
            .lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split(',').collect();
                let busy = fields.len() > 4 && fields[0] == "berth" && fields[4].parse::<u32>().is_ok_and(|n| n > 0);
                busy.then(|| fields[1].strip_prefix("node")?.parse().ok()).flatten()
            })
            .collect()
    }

    /// Every node's log and haproxy's, for failure messages.
    pub fn logs(&self) -> String {
        let mut all = String::new();
        for node in &self.nodes {
            all.push_str(&format!("--- {} ---\n{}\n", node.name, node.log()));
        }
        let haproxy = std::fs::read_to_string(self.dir.path().join("haproxy.log")).unwrap_or_default();
        all.push_str(&format!("--- haproxy ---\n{haproxy}"));
        all
    }

    /// Stops every node gracefully, then the load balancer; the database
    /// and the bucket go with the value.
    pub async fn stop(mut self) {
        for node in &mut self.nodes {
            node.stop().await;
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
        let _ = self.haproxy.kill();
        let _ = self.haproxy.wait();
        // Nodes are killed on drop (kill_on_drop); the database is dropped
        // after them, since fields drop in declaration order after this.
        self.nodes.clear();
        drop(self.database.take());
    }
}

async fn spawn_node(dir: &Path, shared: &[(&'static str, String)], n: usize) -> Node {
    spawn_node_on(dir, shared, n, process::free_port()).await
}

async fn spawn_node_on(dir: &Path, shared: &[(&'static str, String)], n: usize, port: u16) -> Node {
    let name = format!("node{n}");
    let data_dir = dir.join(&name);
    std::fs::create_dir_all(&data_dir).unwrap();
    let log = dir.join(format!("{name}.log"));
    let log_file = std::fs::File::options().create(true).append(true).open(&log).unwrap();
    let mut command = process::berth(&data_dir);
    command
        .envs(shared.iter().map(|(key, value)| (*key, value.as_str())))
        .env("BERTH_LISTEN", format!("127.0.0.1:{port}"))
        .env("BERTH_DATA_DIR", &data_dir)
        .stderr(log_file);
    let (child, _) = process::start(command).await;
    Node { base: format!("http://127.0.0.1:{port}"), name, child: Some(child), log }
}

/// Starts haproxy in the foreground on `port`, balancing round robin over
/// `backends`. Checks
/// each node every 300 ms; two failed checks take it out, one good one
/// puts it back. Its runtime socket (`haproxy.sock`) tells who is up.
fn haproxy(dir: &Path, port: u16, backends: &[String]) -> std::process::Child {
    let servers: String = backends
        .iter()
        .enumerate()
        .map(|(n, base)| format!("  server node{n} {} check\n", base.trim_start_matches("http://")))
        .collect();
    let config = format!(
        "global\n  maxconn 2000\n  stats socket {socket} mode 600 level admin\n\n\
         defaults\n  mode http\n  timeout connect 2s\n  timeout client 300s\n  timeout server 300s\n  \
         option forwardfor\n  option redispatch\n  retries 2\n\n\
         frontend registry\n  bind 127.0.0.1:{port}\n  default_backend berth\n\n\
         backend berth\n  balance roundrobin\n  option httpchk GET /api/v2.0/health\n  \
         http-check expect rstring '^\\{{\"status\":\"healthy\"'\n  \
         default-server inter 300ms fall 2 rise 1\n{servers}",
        socket = dir.join("haproxy.sock").display(),
    );
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let _ = std::fs::remove_file(dir.join("haproxy.sock"));
    let log = std::fs::File::options().create(true).append(true).open(dir.join("haproxy.log")).unwrap();
    std::process::Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("`haproxy` must be installed (scripts/test.sh installs it)")
}

/// haproxy's answer to one runtime command (empty while it is not up).
async fn haproxy_command(socket: &Path, command: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::UnixStream::connect(socket).await else { return String::new() };
    if stream.write_all(command.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer).await;
    answer
}

/// The servers haproxy currently sends requests to: up, and their last
/// health check passed (before its first check haproxy counts a server up).
async fn haproxy_servers_up(socket: &Path) -> Vec<String> {
    let answer = haproxy_command(socket, "show stat\n").await;
    let mut lines = answer.lines();
    let Some(header) = lines.next() else { return Vec::new() };
    let columns: Vec<&str> = header.trim_start_matches("# ").split(',').collect();
    let column = |name: &str| columns.iter().position(|c| *c == name);
    let (Some(proxy), Some(server), Some(status), Some(check)) =
        (column("pxname"), column("svname"), column("status"), column("check_status"))
    else {
        return Vec::new();
    };
    lines
        .map(|line| line.split(',').collect::<Vec<_>>())
        .filter(|f| f.len() > check && f[proxy] == "berth" && f[status] == "UP" && f[check].starts_with("L7OK"))
        .map(|f| f[server].to_owned())
        .collect()
}
