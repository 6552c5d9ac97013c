//! P3 (shared/docs/anchors.md): webhook deliveries per second to a local receiver, signed, with
//! batch 1 and batch 50, latency from `event.created` to receipt, and the same with a dead hook
//! beside the healthy one. Runs the services in-process against local PostgreSQL and RabbitMQ:
//!
//!     cargo run --release -p ffsec-tests --example p3_webhooks -- [events]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ffsec_tests::events::{EventBus, event};
use ffsec_tests::{Receiver, Stack, TestEnv, wait_until};
use serde_json::{Value, json};

struct Run {
    label: &'static str,
    batch_size: i64,
    dead_neighbour: bool,
    /// Events per second to publish at; 0 = all at once (throughput).
    rate: u64,
}

#[tokio::main]
async fn main() {
    domain::telemetry::init(&domain::config::Logging {
        format: domain::config::LogFormat::Human,
        level: "warn".into(),
    });
    let count: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let runs = [
        Run { label: "batch 1", batch_size: 1, dead_neighbour: false, rate: 0 },
        Run { label: "batch 1 + dead hook", batch_size: 1, dead_neighbour: true, rate: 0 },
        Run { label: "batch 50", batch_size: 50, dead_neighbour: false, rate: 0 },
        Run { label: "batch 1 @1k/s", batch_size: 1, dead_neighbour: false, rate: 1000 },
        Run { label: "batch 1 @1k/s + dead", batch_size: 1, dead_neighbour: true, rate: 1000 },
    ];
    let only: Option<String> = std::env::args().nth(2);
    for run in runs.into_iter().filter(|r| only.as_deref().is_none_or(|o| r.label == o)) {
        measure(&run, count).await;
    }
}

async fn dead_listener() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

async fn measure(run: &Run, count: usize) {
    let mut env = TestEnv::new().await.unwrap();
    env.config.logging.level = "error".into();
    env.config.dispatcher.workers = 1;
    if let Some(n) = std::env::var("P3_CONCURRENCY").ok().and_then(|v| v.parse().ok()) {
        env.config.webhooks.concurrency = n;
    }
    // The production retry ladder (tests use a fast one).
    env.config.webhooks.retry_delays_ms = domain::config::Webhooks::default().retry_delays_ms;
    let stack = Stack::start(&mut env).await.unwrap();
    let receiver = Receiver::start(0).unwrap();
    let mut hooks = 1.0;
    stack
        .create("/hooks/", json!({"name": "healthy", "url": receiver.url(), "batch_size": run.batch_size}))
        .await
        .unwrap();
    if run.dead_neighbour {
        let dead = dead_listener().await;
        stack
            .create("/hooks/", json!({"name": "dead", "url": format!("http://{dead}/"), "send_attempts": 0}))
            .await
            .unwrap();
        hooks += 1.0;
    }
    stack.wait_hooks(hooks).await.unwrap();
    let bus = EventBus::connect(&env.config.rabbitmq.url, &env.names()).await.unwrap();
    // A steady rate runs ten seconds' worth of events.
    let count = if run.rate > 0 { (run.rate * 10) as usize } else { count };
    let slice = if run.rate > 0 { (run.rate / 20).max(1) as usize } else { 500 };
    let rate = run.rate;
    let events: Vec<_> = (0..count).map(|n| event((n % 10) as i64, None)).collect();
    let cpu_before = (process_cpu_ms("self"), broker_cpu_ms());
    let started = Instant::now();
    let publishing = {
        let events = events.clone();
        tokio::spawn(async move {
            // Stamp each event as the recorder would, at announcement time, in slices.
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            for slice in events.chunks(slice) {
                if rate > 0 {
                    tick.tick().await;
                }
                let stamped: Vec<_> = slice
                    .iter()
                    .cloned()
                    .map(|mut e| {
                        e.created_date = chrono::Utc::now();
                        e
                    })
                    .collect();
                bus.publish_many(&stamped).await.unwrap();
            }
            bus.close().await;
        })
    };
    wait_until("every event at the receiver", Duration::from_secs(600), || {
        let n = receiver.events_ok();
        async move { (n >= count).then_some(()) }
    })
    .await
    .unwrap();
    let elapsed = started.elapsed();
    let cpu_ms = process_cpu_ms("self") - cpu_before.0;
    let broker_ms = broker_cpu_ms() - cpu_before.1;
    let received = receiver.received();
    publishing.await.unwrap();
    let mut latencies: Vec<f64> = received
        .iter()
        .flat_map(|r| {
            batch(&r.body)
                .iter()
                .map(|e| {
                    let created: chrono::DateTime<chrono::Utc> = e["created_date"].as_str().unwrap().parse().unwrap();
                    (r.at - created).num_microseconds().unwrap_or(0) as f64 / 1000.0
                })
                .collect::<Vec<_>>()
        })
        .collect();
    latencies.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    println!(
        "{:<22} {count} events in {:>6.2} s: {:>7.0} events/s, {:>6} requests, latency p50 {:>7.1} ms p99 {:>7.1} ms",
        run.label,
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64(),
        received.len(),
        pct(0.5),
        pct(0.99)
    );
    // CPU per event is what a saturating burst is bound by, and unlike events/s it does not move
    // when other work shares the machine: this process (the three services and the receiver) and
    // the RabbitMQ node (shared with anything else using the broker meanwhile).
    println!(
        "    cpu per event: services+receiver {:.3} ms, broker {:.3} ms",
        cpu_ms / count as f64,
        broker_ms / count as f64
    );
    let metrics = reqwest::get(stack.dispatcher.url("/metrics")).await.unwrap().text().await.unwrap();
    for line in metrics.lines().filter(|l| {
        l.starts_with("ffsec_webhook_attempt_seconds_sum")
            || l.starts_with("ffsec_webhook_attempt_seconds_count")
            || l.starts_with("ffsec_webhook_deliveries_total")
    }) {
        println!("    {line}");
    }
    receiver.stop().await;
    let Stack { gateway, ingest, dispatcher, .. } = stack;
    ingest.stop().await.expect("ingest stops");
    dispatcher.stop().await.expect("dispatcher stops");
    gateway.stop().await.expect("gateway stops");
    env.cleanup().await.unwrap();
}

fn batch(body: &[u8]) -> Vec<Value> {
    serde_json::from_slice::<Vec<Value>>(body).unwrap_or_default()
}

/// utime + stime of a process in milliseconds, from /proc (0 where it cannot be read).
fn process_cpu_ms(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let Some((_, rest)) = stat.rsplit_once(')') else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    ticks * 10.0 // USER_HZ is 100 on Linux
}

fn broker_cpu_ms() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0.0 };
    dir.filter_map(Result::ok)
        .filter(|e| std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "beam.smp"))
        .map(|e| process_cpu_ms(&e.file_name().to_string_lossy()))
        .sum()
}
