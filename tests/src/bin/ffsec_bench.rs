//! Benchmarks run against a live system (see docs/benchmarks.md):
//! - `broker`: the anchor — raw lapin publishes of 64-byte persistent messages to a durable queue,
//!   confirms awaited in batches of 1000 (shared/docs/anchors.md, P1).
//! - `ingest`: faces/s one ingest replica accepts durably, with worker-supplied vectors.

use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use ffsec_tests::worker::{Face, facen};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Raw publish-with-confirm rate of the broker (the P1 anchor).
    Broker {
        #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
        url: String,
        #[arg(long, default_value_t = 100_000)]
        count: usize,
    },
    /// Durable accepts per second of one ingest replica.
    Ingest {
        #[arg(long, default_value = "http://127.0.0.1:18300/video-detector/frame/")]
        url: String,
        #[arg(long, env = "VIDEO_DETECTOR_TOKEN")]
        token: String,
        #[arg(long, default_value_t = 1)]
        camera: i64,
        #[arg(long, default_value_t = 20_000)]
        count: usize,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Bench::Broker { url, count } => broker(&url, count).await,
        Bench::Ingest { url, token, camera, count, concurrency } => {
            ingest(url, token, camera, count, concurrency).await
        }
    }
}

async fn broker(url: &str, count: usize) -> anyhow::Result<()> {
    let connection = Connection::connect(url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    let queue = format!("ffsec.bench.{}", uuid::Uuid::now_v7().simple());
    let durable = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
    channel.queue_declare(queue.as_str().into(), durable, FieldTable::default()).await?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    let payload = [7_u8; 64];
    let started = Instant::now();
    let mut pending = Vec::with_capacity(1000);
    for _ in 0..count {
        let confirm = channel
            .basic_publish(
                "".into(),
                queue.as_str().into(),
                BasicPublishOptions::default(),
                &payload,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await?;
        pending.push(confirm);
        if pending.len() == 1000 {
            for confirm in pending.drain(..) {
                confirm.await?;
            }
        }
    }
    for confirm in pending.drain(..) {
        confirm.await?;
    }
    let elapsed = started.elapsed();
    println!(
        "broker: {count} persistent 64-byte publishes in {elapsed:.2?}: {:.0} msg/s",
        count as f64 / elapsed.as_secs_f64()
    );
    channel.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await?;
    Ok(())
}

async fn ingest(url: String, token: String, camera: i64, count: usize, concurrency: usize) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(bool, Duration)>();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..concurrency {
        let (client, url, token, tx, next) = (client.clone(), url.clone(), token.clone(), tx.clone(), next.clone());
        tokio::spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < count {
                let vector: Vec<f32> = (0..128).map(|_| rand::random::<f32>() - 0.5).collect();
                let face = Face::new(camera, Some(facen(&vector)));
                let sent = Instant::now();
                let ok = face.post(&client, &url, Some(&token)).await.is_ok_and(|r| r.status().is_success());
                let _ = tx.send((ok, sent.elapsed()));
            }
        });
    }
    drop(tx);
    let mut latencies = Vec::with_capacity(count);
    let mut failed = 0;
    while let Some((ok, latency)) = rx.recv().await {
        if ok {
            latencies.push(latency);
        } else {
            failed += 1;
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies.get(((latencies.len() as f64 - 1.0) * p) as usize).copied().unwrap_or_default();
    println!(
        "ingest: {} accepted, {failed} failed in {elapsed:.2?}: {:.0} faces/s; latency p50 {:.1?} p99 {:.1?}",
        latencies.len(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        pct(0.5),
        pct(0.99)
    );
    Ok(())
}
