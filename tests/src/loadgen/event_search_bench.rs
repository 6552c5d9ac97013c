//! The event search benchmark of docs/benchmarks.md (`looks_like` on `GET /events/faces/`):
//! - `event-index`: gateway-api's in-memory event index alone, in this process, one thread:
//!   memory per event, scan p50/p99, and whether every event an exact f32 scan puts over the
//!   threshold is among the scan's candidates (the search's recall before PostgreSQL rescoring);
//! - `seed-event-vectors`: a vector for every event `seed-events` wrote, plus probe dossier faces;
//! - `event-search`: the whole request against a running gateway-api over those events.
//!
//! Vectors model people seen several times: event `i` shows person `i % people`, its vector is the
//! person's direction plus noise (cosine ~0.85 to it, ~0.72 between two sightings, like the
//! built-in recognizer's same-person scores); a probe is another noisy sighting of a person.

use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::models::EventVectorRow;
use domain::schema::{event_vectors, face_events};
use gateway_api::event_index::{EventIndex, MARGIN, Narrowing};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::event_bench::percentile;

/// Noise relative to the person's unit direction: cosine 1/sqrt(1 + 0.62²) ≈ 0.85.
const NOISE: f32 = 0.62;
pub const THRESHOLD: f32 = 0.5;

fn unit(seed: u64, dim: usize) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let v: Vec<f32> = (0..dim).map(|_| rng.r#gen::<f32>() - 0.5).collect();
    domain::vector::normalise(v).unwrap_or_else(|| vec![1.0; dim])
}

/// Sighting `sighting` of person `person` (sightings are numbered per run, so every event and
/// every probe is a different look).
pub fn sighting(person: u64, sighting: u64, dim: usize) -> Vec<f32> {
    let center = unit(person, dim);
    let noise = unit(sighting | (1 << 62), dim);
    let v: Vec<f32> = center.iter().zip(&noise).map(|(c, n)| c + NOISE * n).collect();
    domain::vector::normalise(v).unwrap_or(center)
}

fn people(events: u64) -> u64 {
    (events / 10).max(1)
}

fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()).unwrap_or(0) * 4096
}

pub fn event_index(events: u64, dim: usize, queries: usize) {
    let before = rss();
    let index = EventIndex::new();
    let started = Instant::now();
    let now = Utc::now();
    let ids: Vec<uuid::Uuid> = (0..events).map(|_| uuid::Uuid::now_v7()).collect();
    for (i, id) in ids.iter().enumerate() {
        let i = i as u64;
        index.insert(*id, now, i.is_multiple_of(10), &sighting(i % people(events), i, dim));
    }
    let built = started.elapsed();
    let ids_bytes = ids.len() * 16;
    let per_event = (rss().saturating_sub(before) as f64 - ids_bytes as f64) / events as f64;
    let probes: Vec<Vec<f32>> =
        (0..queries as u64).map(|q| sighting(q * 7919 % people(events), u64::MAX / 2 - q, dim)).collect();
    let mut times = Vec::with_capacity(queries);
    let mut candidates = 0;
    let mut answers = Vec::with_capacity(queries);
    for probe in &probes {
        let t = Instant::now();
        let (found, _) = index.search(probe, THRESHOLD - MARGIN, Narrowing::default(), 10_000);
        times.push(t.elapsed());
        candidates += found.len();
        answers.push(found);
    }
    times.sort();
    println!(
        "event index: {events} x {dim}, built in {built:.1?}; {per_event:.0} bytes resident per event \
         ({} of them the f32 vector); scan p50 {:.2?} p99 {:.2?} (one thread, {queries} queries, \
         {:.1} candidates each at threshold {THRESHOLD})",
        dim * 4,
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        candidates as f64 / queries as f64
    );
    // Recall: every event whose exact score reaches the threshold must be a candidate.
    let checked = queries.min(50);
    let (mut want, mut missed) = (0, 0);
    for (probe, found) in probes.iter().zip(&answers).take(checked) {
        let nominated: std::collections::HashSet<uuid::Uuid> = found.iter().map(|c| c.id).collect();
        for (i, id) in ids.iter().enumerate() {
            let i = i as u64;
            let v = sighting(i % people(events), i, dim);
            let exact: f32 = v.iter().zip(probe).map(|(a, b)| a * b).sum();
            if exact >= THRESHOLD {
                want += 1;
                missed += usize::from(!nominated.contains(id));
            }
        }
    }
    println!(
        "recall against exact f32 over {checked} queries: {want} events at >= {THRESHOLD}, {missed} not nominated \
         (recall {:.4})",
        if want == 0 { 1.0 } else { (want - missed) as f64 / want as f64 }
    );
}

/// Gives every event in `face_events` a vector (person `n % people` for the n-th event by id)
/// and writes `probes` dossier faces, each another sighting of a person; prints their ids.
pub async fn seed_event_vectors(url: &str, probes: usize, dim: usize) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    let started = Instant::now();
    let total: i64 = face_events::table.count().get_result(&mut conn).await?;
    let people = people(total as u64);
    let mut after: Option<uuid::Uuid> = None;
    let mut n: u64 = 0;
    loop {
        let mut query = face_events::table
            .select((face_events::id, face_events::created_date, face_events::matched))
            .order(face_events::id)
            .limit(2_000)
            .into_boxed();
        if let Some(a) = after {
            query = query.filter(face_events::id.gt(a));
        }
        let rows: Vec<(uuid::Uuid, chrono::DateTime<Utc>, bool)> = query.load(&mut conn).await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.0);
        let vectors: Vec<EventVectorRow> = rows
            .iter()
            .map(|(id, created, matched)| {
                n += 1;
                EventVectorRow {
                    event_id: *id,
                    created_date: *created,
                    matched: *matched,
                    embedding: sighting(n % people, n, dim),
                }
            })
            .collect();
        diesel::insert_into(event_vectors::table).values(&vectors).on_conflict_do_nothing().execute(&mut conn).await?;
    }
    diesel::sql_query("VACUUM ANALYZE event_vectors").execute(&mut conn).await?;
    println!("seeded {n} event vectors ({people} people) in {:.1?}", started.elapsed());
    let dossier: i64 = diesel::insert_into(domain::schema::dossiers::table)
        .values(domain::schema::dossiers::name.eq("event search probes"))
        .returning(domain::schema::dossiers::id)
        .get_result(&mut conn)
        .await?;
    let faces: Vec<domain::models::NewDossierFace> = (0..probes as u64)
        .map(|q| domain::models::NewDossierFace {
            dossier_id: dossier,
            source_photo: String::new(),
            thumbnail: String::new(),
            embedding: sighting(q * 7919 % people, u64::MAX / 2 - q, dim),
            quality: 1.0,
            source_coords_left: None,
            source_coords_top: None,
            source_coords_right: None,
            source_coords_bottom: None,
            // Probes only: not watched, so ingest never matches against them.
            active: false,
        })
        .collect();
    let ids: Vec<i64> = diesel::insert_into(domain::schema::dossier_faces::table)
        .values(&faces)
        .returning(domain::schema::dossier_faces::id)
        .get_results(&mut conn)
        .await?;
    println!("probe dossier faces: {}..={}", ids.iter().min().unwrap_or(&0), ids.iter().max().unwrap_or(&0));
    Ok(())
}

/// `GET <path>?looks_like=dossierface:<id>&threshold=…` (plus `extra`) for each probe id, on
/// `/events/faces/` or `/dossiers/`:
/// p50/p99 of the whole request, and the mean count.
pub async fn event_search(
    base: &str,
    user: &str,
    password: &str,
    probes: std::ops::RangeInclusive<i64>,
    path: &str,
    extra: &str,
) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let token = crate::event_bench::login(&client, base, user, password).await?;
    let mut times: Vec<Duration> = Vec::new();
    let mut counts = 0;
    let mut results = 0;
    for probe in probes {
        let url = format!("{base}{path}?looks_like=dossierface:{probe}&threshold={THRESHOLD}&limit=20{extra}");
        let started = Instant::now();
        let response = client.get(&url).header("Authorization", format!("Token {token}")).send().await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await?;
        times.push(started.elapsed());
        anyhow::ensure!(status.is_success(), "{url}: {status} {body}");
        counts += body["count"].as_i64().unwrap_or(0);
        results += body["results"].as_array().map_or(0, Vec::len);
    }
    let n = times.len().max(1);
    times.sort();
    println!(
        "{path} looks_like{extra}: {} requests, p50 {:.1?} p99 {:.1?}; mean count {:.1}, mean results {:.1}",
        times.len(),
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        counts as f64 / n as f64,
        results as f64 / n as f64
    );
    Ok(())
}
