//! A service running in-process on a random port.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use domain::Config;
use tokio_util::sync::CancellationToken;

use crate::wait_until;

pub struct Running {
    pub addr: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub fn bind() -> anyhow::Result<TcpListener> {
    Ok(TcpListener::bind("127.0.0.1:0")?)
}

impl Running {
    pub fn start<F, Fut>(listener: TcpListener, config: Config, run: F) -> anyhow::Result<Self>
    where
        F: FnOnce(TcpListener, Config, CancellationToken) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(listener, config, stop.clone()));
        Ok(Self { addr, stop, task })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Waits until `/health` answers 200 (the service's bus link is up).
    pub async fn wait_healthy(&self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let url = self.url("/health");
        wait_until(&format!("{url} to be healthy"), Duration::from_secs(20), || {
            let request = client.get(&url).send();
            async move { request.await.ok().filter(|r| r.status().is_success()).map(|_| ()) }
        })
        .await
    }

    /// A graceful stop that keeps the address, for [`Running::resume`]: an outage clients see
    /// (their connections close, new ones are refused) until the service comes back.
    pub async fn pause(&mut self) -> anyhow::Result<()> {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(30), &mut self.task).await??
    }

    /// Starts the service again on the address it had (std's listeners set SO_REUSEADDR, so the
    /// closed connections' TIME_WAIT does not hold the port).
    pub fn resume<F, Fut>(&mut self, config: Config, run: F) -> anyhow::Result<()>
    where
        F: FnOnce(TcpListener, Config, CancellationToken) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let listener = TcpListener::bind(self.addr)?;
        self.stop = CancellationToken::new();
        self.task = tokio::spawn(run(listener, config, self.stop.clone()));
        Ok(())
    }

    /// Graceful stop, as on SIGTERM; returns what `run` returned.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.task).await??
    }
}

/// One Prometheus sample from `/metrics` (a metric without labels, or the first line that matches).
pub async fn metric(running: &Running, name: &str) -> Option<f64> {
    metric_at(&running.url("/metrics"), name).await
}

/// Waits until the ingest replica serving `metrics_url` has at least `cameras` cameras cached.
pub async fn wait_cameras_at(metrics_url: &str, cameras: f64) -> anyhow::Result<()> {
    crate::wait_until("ingest to know the cameras", Duration::from_secs(30), || async {
        (metric_at(metrics_url, "ffsec_ingest_gallery_cameras").await? >= cameras).then_some(())
    })
    .await
}

pub async fn metric_at(url: &str, name: &str) -> Option<f64> {
    let text = reqwest::get(url).await.ok()?.text().await.ok()?;
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.split([' ', '{']).next() == Some(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}
