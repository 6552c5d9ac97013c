//! The service binaries as real processes (for tests that kill or signal them).
// Test harness: a failed set-up step should stop the test right there.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::wait_until;

/// `target/<profile>/<name>`, next to the test binary's `deps/` folder.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let path = exe.parent().and_then(|p| p.parent()).map(|p| p.join(name)).unwrap_or_default();
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first (scripts/test.sh does)",
        path.display()
    );
    path
}

pub fn write_config(text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("ffsec-{}.toml", uuid::Uuid::now_v7()));
    if let Err(e) = std::fs::write(&path, text) {
        panic!("cannot write {}: {e}", path.display());
    }
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub struct Process {
    pub port: u16,
    pub name: &'static str,
    child: Child,
}

impl Process {
    pub fn spawn(name: &'static str, config: &PathBuf) -> Self {
        Self::spawn_with(name, config, Stdio::null(), Stdio::null(), free_port())
    }

    /// Like [`Process::spawn`], with the process's stdout and stderr appended to `log`.
    pub fn spawn_logged(name: &'static str, config: &PathBuf, log: &std::path::Path) -> Self {
        Self::spawn_logged_on(name, config, log, free_port())
    }

    /// Like [`Process::spawn_logged`] on a given port: a restarted service keeps its address.
    pub fn spawn_logged_on(name: &'static str, config: &PathBuf, log: &std::path::Path, port: u16) -> Self {
        let open = || std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        Self::spawn_with(name, config, Stdio::from(open()), Stdio::from(open()), port)
    }

    fn spawn_with(name: &'static str, config: &PathBuf, stdout: Stdio, stderr: Stdio, port: u16) -> Self {
        let mut command = Command::new(binary(name));
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("FFSEC_")) {
            command.env_remove(key);
        }
        let child = command
            .arg("--config")
            .arg(config)
            .arg("--port")
            .arg(port.to_string())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap();
        Self { name, port, child }
    }

    pub async fn wait_healthy(&self) {
        let url = format!("http://127.0.0.1:{}/health", self.port);
        wait_until(&format!("{} to be healthy", self.name), Duration::from_secs(60), || {
            let url = url.clone();
            async move { reqwest::get(&url).await.ok().filter(|r| r.status().is_success()).map(|_| ()) }
        })
        .await
        .unwrap();
    }

    /// SIGTERM, then the exit status once the process has wound down.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        wait_until(&format!("{} to exit after SIGTERM", self.name), Duration::from_secs(20), || {
            let status = self.child.try_wait().unwrap();
            async move { status }
        })
        .await
        .unwrap()
    }
}

impl Process {
    /// SIGKILL: no shutdown at all, as a crash or an OOM kill.
    pub fn kill(self) {
        drop(self);
    }
}

/// A test that fails half-way leaves no service running behind it.
impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
