//! The event benchmarks of docs/benchmarks.md (P2, P5, the event list) and docs/events-queries.md:
//! - `seed-events`: N face events straight into PostgreSQL with one `generate_series` insert;
//! - `list`: `GET /events/faces/` with the common filters, p50/p99 per query;
//! - `live`: N WebSocket clients (with filters) of `/events/`, accept -> receipt latency.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::sql_types::{BigInt, Double};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use ffsec_tests::live::LiveClient;

const SEED_EVENTS: &str = include_str!("seed_events.sql");

pub async fn seed_events(url: &str, count: i64, days: f64, cameras: i64) -> anyhow::Result<()> {
    use diesel_async::RunQueryDsl;
    let mut conn = AsyncPgConnection::establish(url).await?;
    let started = Instant::now();
    let inserted = diesel::sql_query(SEED_EVENTS)
        .bind::<BigInt, _>(count)
        .bind::<Double, _>(days)
        .bind::<BigInt, _>(cameras)
        .execute(&mut conn)
        .await?;
    let insert_time = started.elapsed();
    // Fresh statistics and a visibility map, as autovacuum would leave them on a live system.
    diesel::sql_query("VACUUM ANALYZE face_events").execute(&mut conn).await?;
    println!(
        "seeded {inserted} events over {days} days on {cameras} cameras in {insert_time:.1?} (+ VACUUM ANALYZE: {:.1?})",
        started.elapsed() - insert_time
    );
    Ok(())
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default()
}

pub async fn login(client: &reqwest::Client, base: &str, user: &str, password: &str) -> anyhow::Result<String> {
    let response = client.post(format!("{base}/auth/login/")).basic_auth(user, Some(password)).send().await?;
    anyhow::ensure!(response.status().is_success(), "login failed: {}", response.status());
    let body: serde_json::Value = response.json().await?;
    body["token"].as_str().map(str::to_string).ok_or_else(|| anyhow::anyhow!("no token in {body}"))
}

/// The common list queries: each first page, then (`walk`) the pages after it through `next_page`.
pub const LIST_QUERIES: &[&str] = &[
    "",
    "cameras=3",
    "cameras=3,4,5",
    "camera_groups=2",
    "matched=true",
    "matched_dossier=17",
    "matched_lists=2",
    "acknowledged=false&matched=true",
    "created_date_gte={day_ago}&created_date_lte={hour_ago}",
    "cameras=3&matched=true",
    "cameras=3&created_date_gte={week_ago}&created_date_lte={day_ago}",
    "gender=female&age_gte=30&age_lte=40",
];

pub async fn list(base: &str, user: &str, password: &str, requests: usize, walk: usize) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let token = login(&client, base, user, password).await?;
    let now = chrono::Utc::now();
    let stamp = |hours: i64| (now - chrono::Duration::hours(hours)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    println!("| query | first page p50 / p99 | next pages p50 / p99 | count |");
    println!("|---|---|---|---|");
    for query in LIST_QUERIES {
        let query =
            query.replace("{hour_ago}", &stamp(1)).replace("{day_ago}", &stamp(24)).replace("{week_ago}", &stamp(168));
        let first_url = format!("{base}/events/faces/?limit=20&{query}");
        let (mut first, mut next) = (Vec::new(), Vec::new());
        let mut count = serde_json::Value::Null;
        for _ in 0..requests {
            let mut url = Some(first_url.clone());
            for page in 0..=walk {
                let Some(current) = url.take() else { break };
                let started = Instant::now();
                let response = client.get(&current).header("Authorization", format!("Token {token}")).send().await?;
                anyhow::ensure!(response.status().is_success(), "GET {current}: {}", response.status());
                let body: serde_json::Value = response.json().await?;
                let took = started.elapsed();
                if page == 0 {
                    first.push(took);
                    count = body["count"].clone();
                } else {
                    next.push(took);
                }
                url = body["next_page"].as_str().map(str::to_string);
            }
        }
        first.sort();
        next.sort();
        println!(
            "| `{}` | {:.1?} / {:.1?} | {:.1?} / {:.1?} | {count} |",
            if query.is_empty() { "(none)" } else { &query },
            percentile(&first, 0.5),
            percentile(&first, 0.99),
            percentile(&next, 0.5),
            percentile(&next, 0.99),
        );
    }
    Ok(())
}

#[derive(Default)]
struct LiveTally {
    frames: AtomicU64,
    closed: AtomicU64,
}

/// What the live benchmark reads of a frame.
#[derive(serde::Deserialize)]
struct CreatedFrame<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(borrow)]
    data: Option<CreatedData<'a>>,
}

#[derive(serde::Deserialize)]
struct CreatedData<'a> {
    #[serde(borrow)]
    created_date: Option<&'a str>,
}

/// Opens `clients` WebSocket clients, client n with filters `filters[n % len]` on its URL, for
/// `seconds`; prints frames received, clients cut off, and receipt - `created_date` latency.
pub async fn live(
    addr: &str,
    base: &str,
    user: &str,
    password: &str,
    clients: usize,
    filters: &[String],
    seconds: u64,
) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let token = login(&client, base, user, password).await?;
    let tally = Arc::new(LiveTally::default());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Duration>();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::with_capacity(clients);
    for n in 0..clients {
        let query = filters.get(n % filters.len().max(1)).map(|f| format!("?{f}")).unwrap_or_default();
        let mut live = LiveClient::connect(addr, &token, &query).await?;
        let (tally, tx) = (tally.clone(), tx.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                if left.is_zero() {
                    return;
                }
                match live.next_text(left).await {
                    Ok(text) => {
                        // Only two fields are read, into borrowed strings: a `serde_json::Value` of
                        // every frame cost these clients more CPU than gateway-api spent sending.
                        let Ok(frame) = serde_json::from_str::<CreatedFrame>(&text) else { continue };
                        if frame.kind != "event_created" {
                            continue;
                        }
                        tally.frames.fetch_add(1, Ordering::Relaxed);
                        let created = frame
                            .data
                            .and_then(|d| d.created_date)
                            .and_then(|d| d.parse::<chrono::DateTime<chrono::Utc>>().ok());
                        if let Some(created) = created {
                            let _ = tx.send((chrono::Utc::now() - created).to_std().unwrap_or_default());
                        }
                    }
                    Err(e) => {
                        if !e.to_string().starts_with("no frame within") {
                            tally.closed.fetch_add(1, Ordering::Relaxed);
                        }
                        return;
                    }
                }
            }
        }));
    }
    println!("live: {clients} clients connected, filters {filters:?}; listening {seconds} s");
    drop(tx);
    let mut latencies = Vec::new();
    while let Some(latency) = rx.recv().await {
        latencies.push(latency);
    }
    for task in tasks {
        let _ = task.await;
    }
    latencies.sort();
    let mut histogram: BTreeMap<&str, usize> = BTreeMap::new();
    for l in &latencies {
        let bucket = match l.as_millis() {
            0..=9 => "<10 ms",
            10..=49 => "10-50 ms",
            50..=199 => "50-200 ms",
            _ => ">=200 ms",
        };
        *histogram.entry(bucket).or_default() += 1;
    }
    println!(
        "live: {} frames ({:.0}/s over all clients), {} clients cut off; accept -> receipt p50 {:.1?} p99 {:.1?} max {:.1?}; {histogram:?}",
        tally.frames.load(Ordering::Relaxed),
        tally.frames.load(Ordering::Relaxed) as f64 / seconds as f64,
        tally.closed.load(Ordering::Relaxed),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default(),
    );
    Ok(())
}
