//! A PostgreSQL server of the test's own (initdb into a temporary
//! directory, a free port on 127.0.0.1), for tests that stop and start the
//! database under a running Berth. Runs as the `postgres` account when the
//! test runs as root, since PostgreSQL refuses root.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
}

impl PrivatePostgres {
    pub fn start() -> Self {
        let bin = server_binaries();
        let dir = tempfile::Builder::new().prefix("berth-pg-").tempdir().unwrap();
        let port = super::process::free_port();
        if nix::unistd::Uid::effective().is_root() {
            assert!(
                Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().unwrap().success()
            );
        }
        let cluster = Self { dir, bin, port };
        let data = cluster.data();
        cluster.run("initdb", &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
        cluster.start_again();
        cluster
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server the way an operator's `pg_ctl stop` does: open
    /// sessions are ended at once ("fast" mode).
    pub fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    /// Starts the (stopped) server again on the same port and data.
    pub fn start_again(&self) {
        let options = format!("-p {} -c listen_addresses=127.0.0.1 -k {}", self.port, self.dir.path().display());
        let log = self.dir.path().join("postgres.log").display().to_string();
        self.run("pg_ctl", &["-D", &self.data(), "-l", &log, "-o", &options, "-w", "start"]);
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// One of the server's programs, as the account that owns the data.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = if nix::unistd::Uid::effective().is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        };
        command.current_dir(self.dir.path());
        command
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = self.command(program).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl").args(["-D", &self.data(), "-m", "immediate", "stop"]).output();
    }
}

/// The newest installed PostgreSQL server's programs (Debian keeps them
/// out of PATH).
fn server_binaries() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("PostgreSQL's server programs belong in {}: {e}", root.display()))
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().expect("a PostgreSQL server with initdb is installed").1
}
