//! The real Docker CLI and Debian's `docker.io` daemon for one test: a
//! private daemon (its own socket, data root and pid file in a temporary
//! directory; vfs storage, no bridge, no iptables) and a private client
//! configuration, so `docker login` / `push` / `pull` talk to Berth as a
//! user's machine would. The daemon treats 127.0.0.0/8 as a plain-http
//! registry. `scripts/test.sh` installs `docker.io`.

use std::{
    path::Path,
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

/// Debian's CLI: some machine images put another `docker` earlier on PATH.
const CLI: &str = "/usr/bin/docker";

pub struct Docker {
    daemon: Child,
    dir: tempfile::TempDir,
}

impl Docker {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = |name: &str| dir.path().join(name).display().to_string();
        let log = std::fs::File::create(dir.path().join("dockerd.log")).unwrap();
        let daemon = Command::new("dockerd")
            .args([
                "--data-root",
                &path("root"),
                "--exec-root",
                &path("exec"),
                "-H",
                &format!("unix://{}", path("docker.sock")),
                "--pidfile",
                &path("docker.pid"),
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--storage-driver=vfs",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("dockerd is installed (scripts/test.sh installs docker.io)");
        let docker = Self { daemon, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let version = docker.command(&["version", "--format", "{{.Server.Version}}"]).output().unwrap();
            if version.status.success() {
                break;
            }
            assert!(Instant::now() < deadline, "dockerd did not start:\n{}", docker.daemon_log());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        docker
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(CLI);
        command
            .args(args)
            .env("DOCKER_HOST", format!("unix://{}", self.dir.path().join("docker.sock").display()))
            .env("DOCKER_CONFIG", self.dir.path().join("config"));
        command
    }

    /// Runs the CLI with `input` on stdin (a password); its output.
    pub async fn run_with_input(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut command = self.command(args);
        let input = input.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut child =
                command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap()
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        self.run_with_input(args, "").await
    }

    /// Runs the CLI and fails the test unless it succeeds; its stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args).await;
        assert!(output.status.success(), "docker {args:?} failed:\n{}", text(&output));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `docker login host` with a password on stdin.
    pub async fn login(&self, host: &str, user: &str, password: &str) -> Output {
        self.run_with_input(&["login", host, "-u", user, "--password-stdin"], password).await
    }

    /// Makes an image `name` holding one file with `content`, without running anything.
    pub async fn import(&self, name: &str, content: &str) {
        let rootfs = self.dir.path().join(format!("rootfs-{}", name.replace(['/', ':'], "_")));
        std::fs::create_dir_all(&rootfs).unwrap();
        std::fs::write(rootfs.join("hello.txt"), content).unwrap();
        let tar = rootfs.with_extension("tar");
        let packed = Command::new("tar")
            .args(["-C", &rootfs.display().to_string(), "-cf", &tar.display().to_string(), "."])
            .status()
            .unwrap();
        assert!(packed.success());
        self.ok(&["import", &tar.display().to_string(), name]).await;
    }

    fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// stdout and stderr together, for assertions and failure messages.
pub fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

impl Drop for Docker {
    fn drop(&mut self) {
        // SIGTERM lets dockerd unmount and remove its runtime state.
        let pid = nix::unistd::Pid::from_raw(self.daemon.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.daemon.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}
