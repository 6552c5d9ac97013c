//! A RabbitMQ node and a PostgreSQL cluster of a test's own, on free ports in a scratch directory,
//! for a test that stops and restarts them (the chaos test) without disturbing anything else that
//! uses the machine's servers. Both keep their data across a restart, as a real one does.
// Test harness: a failed set-up step should stop the test right there.
#![allow(clippy::unwrap_used)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::wait_until;

const RABBITMQ_SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn scratch(kind: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ffsec-{kind}-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A RabbitMQ node (Debian's package) with its own name, ports, database and no plugins.
pub struct PrivateRabbit {
    pub port: u16,
    dir: PathBuf,
    node: String,
    child: Option<Child>,
}

impl PrivateRabbit {
    pub async fn start() -> anyhow::Result<Self> {
        anyhow::ensure!(
            Path::new(RABBITMQ_SERVER).exists(),
            "{RABBITMQ_SERVER} is missing: apt-get install rabbitmq-server"
        );
        let port = free_port();
        let dir = scratch("rabbit");
        std::fs::write(dir.join("rabbitmq.conf"), format!("listeners.tcp.local = 127.0.0.1:{port}\n"))?;
        std::fs::write(dir.join("enabled_plugins"), "[].\n")?;
        let node = format!("ffsec{}@localhost", &uuid::Uuid::now_v7().simple().to_string()[20..]);
        let mut rabbit = Self { port, dir, node, child: None };
        rabbit.up().await?;
        Ok(rabbit)
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// Starts the node (again) and waits until it takes AMQP connections.
    pub async fn up(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("server.out"))?;
        let child = Command::new(RABBITMQ_SERVER)
            // A group of its own: the script starts the Erlang VM as a child, and a signal to the
            // group reaches both.
            .process_group(0)
            .current_dir(&self.dir)
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", free_port().to_string())
            .env("RABBITMQ_CONFIG_FILE", self.dir.join("rabbitmq.conf"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", self.dir.join("enabled_plugins"))
            .env("RABBITMQ_MNESIA_BASE", self.dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", self.dir.join("log"))
            .env("RABBITMQ_PID_FILE", self.dir.join("pid"))
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()?;
        self.child = Some(child);
        let url = self.url();
        wait_until("the private RabbitMQ node to take connections", Duration::from_secs(90), || {
            let url = url.clone();
            async move {
                // A node still booting may take the TCP connection and never answer the handshake.
                let connect = lapin::Connection::connect(&url, lapin::ConnectionProperties::default());
                let connection = tokio::time::timeout(Duration::from_secs(3), connect).await.ok()?.ok()?;
                let _ = connection.close(200, "ready".into()).await;
                Some(())
            }
        })
        .await
    }

    /// Stops the node as `rabbitmqctl stop` would (SIGTERM: connections closed, data kept).
    pub async fn down(&mut self) {
        if let Some(child) = self.child.take() {
            terminate(child, "RabbitMQ").await;
        }
        // The script may exit before the VM has let go of the port and the node name.
        let port = self.port;
        let closed =
            wait_until("the private RabbitMQ node to close its port", Duration::from_secs(30), || async move {
                tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err().then_some(())
            })
            .await;
        assert!(closed.is_ok(), "the private RabbitMQ node still listens on {port} after stopping");
    }
}

impl Drop for PrivateRabbit {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Not async here: the VM is killed outright, with everything it started.
            signal_group(&child, "-KILL");
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Sends `signal` to the child's process group (see `process_group(0)` above).
fn signal_group(child: &Child, signal: &str) {
    let _ = Command::new("kill").args([signal, "--", &format!("-{}", child.id())]).status();
}

/// SIGTERM to the group, then wait for the exit (SIGKILL after 30 s).
async fn terminate(mut child: Child, what: &str) {
    signal_group(&child, "-TERM");
    let exited = wait_until(&format!("{what} to stop"), Duration::from_secs(30), || {
        let status = child.try_wait().ok().flatten();
        async move { status }
    })
    .await;
    if exited.is_err() {
        signal_group(&child, "-KILL");
        let _ = child.wait();
    }
}

/// A PostgreSQL cluster (the machine's PostgreSQL binaries), run as the `postgres` user because
/// PostgreSQL refuses to run as root.
pub struct PrivatePostgres {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
}

impl PrivatePostgres {
    pub async fn start() -> anyhow::Result<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")?
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .find(|b| b.join("initdb").exists())
            .ok_or_else(|| anyhow::anyhow!("no PostgreSQL server binaries under /usr/lib/postgresql"))?;
        let dir = scratch("postgres");
        let owner = Command::new("chown").args(["postgres:postgres"]).arg(&dir).status()?;
        anyhow::ensure!(owner.success(), "cannot hand {} to the postgres user", dir.display());
        let postgres = Self { port: free_port(), dir, bin };
        let data = postgres.data();
        postgres.as_postgres("initdb", &["-D", &data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"])?;
        postgres.up()?;
        Ok(postgres)
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn as_postgres(&self, tool: &str, args: &[&str]) -> anyhow::Result<()> {
        let output = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(tool))
            .args(args)
            .stdin(Stdio::null())
            .output()?;
        anyhow::ensure!(output.status.success(), "{tool} failed: {}", String::from_utf8_lossy(&output.stderr));
        Ok(())
    }

    /// Starts the server and waits until it accepts connections (`pg_ctl -w`).
    pub fn up(&self) -> anyhow::Result<()> {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir.display());
        let log = self.dir.join("server.log").display().to_string();
        self.as_postgres("pg_ctl", &["-D", &self.data(), "-o", &options, "-l", &log, "-w", "-t", "60", "start"])
    }

    /// A fast shutdown: sessions are cut off, committed data stays.
    pub fn down(&self) -> anyhow::Result<()> {
        self.as_postgres("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"])
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.as_postgres("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
