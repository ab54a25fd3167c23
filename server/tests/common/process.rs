//! The real `berth` executable as a child process: a clean environment,
//! start-up awaited on its "listening" line, signals.

use std::{path::Path, process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, BufReader},
    process::{Child, Command},
};

pub const BERTH: &str = env!("CARGO_BIN_EXE_berth");

/// `berth` with a clean environment: no inherited BERTH_* or LEPTOS_* settings.
pub fn berth(dir: &Path) -> Command {
    let mut command = Command::new(BERTH);
    command.current_dir(dir).kill_on_drop(true);
    for (key, _) in std::env::vars() {
        if key.starts_with("BERTH_") || key.starts_with("LEPTOS_") {
            command.env_remove(key);
        }
    }
    command
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `berth serve` and waits for its "listening" line; returns the
/// process and everything it printed to stdout until then. Standard error
/// goes where the command sends it.
pub async fn start(mut command: Command) -> (Child, String) {
    let mut child = command.arg("serve").stdout(Stdio::piped()).spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    let ready = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            printed.push_str(&line);
            printed.push('\n');
            if line.contains("is listening on") {
                return true;
            }
        }
        false
    });
    if !matches!(ready.await, Ok(true)) {
        let _ = child.kill().await;
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            pipe.read_to_string(&mut stderr).await.unwrap();
        }
        panic!("berth did not start:\n{printed}\n{stderr}");
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
    // The first lines come right after the listener is bound, so the port is open.
    (child, printed)
}

fn signal(child: &Child, signal: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(child.id().expect("running") as i32);
    nix::sys::signal::kill(pid, signal).unwrap();
}

pub fn sigterm(child: &Child) {
    signal(child, nix::sys::signal::Signal::SIGTERM);
}
