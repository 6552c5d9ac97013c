//! `ffsec-loadgen`: load for facerouter-ingest and the benchmarks of docs/benchmarks.md.
//! - `seed`: cameras and M dossier faces written straight into PostgreSQL (100k in seconds; start
//!   ingest afterwards so its start-up load reads them);
//! - `run`: N simulated cameras posting faces (realistic multipart bodies, synthetic vectors, a
//!   share of them matching seeded dossiers) at a target rate, or as fast as answered (`--rate 0`);
//!   prints accepted/s, rejections by reason and p50/p95/p99 latency;
//! - `broker`: the P1 anchor, raw lapin publishes with confirms awaited in batches of 1000;
//! - `search`: P4, exact 1:N search over an in-process gallery;
//! - `seed-events`, `list`, `live`: the event list and live feed benchmarks (`loadgen/event_bench.rs`);
//! - `event-index`, `seed-event-vectors`, `event-search`: `looks_like` over past events
//!   (`loadgen/event_search_bench.rs`);
//! - `media`: the durable image store per face (`loadgen/media_bench.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::config::GalleryIndex;
use domain::event::IdName;
use domain::models::{NewCamera, NewDossier, NewDossierFace};
use domain::schema::{cameras, dossier_faces, dossier_list_members, dossier_lists, dossiers};
use facerouter_ingest::face_index::{FaceMeta, ListEntry, Query};
use facerouter_ingest::gallery::{FaceRecord, GalleryData, IndexSettings};
use ffsec_tests::worker::{Face, facen, jpeg};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "../loadgen/event_bench.rs"]
mod event_bench;
#[path = "../loadgen/event_search_bench.rs"]
mod event_search_bench;
#[path = "../loadgen/media_bench.rs"]
mod media_bench;

#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes `cameras` cameras and `faces` dossier faces (one dossier each, on one watch list).
    Seed {
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/ffsec")]
        database_url: String,
        #[arg(long, default_value_t = 10)]
        cameras: usize,
        #[arg(long, default_value_t = 100_000)]
        faces: u64,
        #[arg(long, default_value_t = 128)]
        dim: usize,
    },
    /// Posts faces from simulated cameras.
    Run {
        #[arg(long, default_value = "http://127.0.0.1:18300/video-detector/frame/")]
        url: String,
        #[arg(long, env = "VIDEO_DETECTOR_TOKEN")]
        token: String,
        /// Camera ids to post for (comma-separated); `seed` prints them.
        #[arg(long, value_delimiter = ',', default_value = "1")]
        cameras: Vec<i64>,
        /// Faces per second over all cameras; 0 = as fast as answered (closed loop).
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Requests in flight at most (closed loop: exactly).
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Seeded gallery size, so that matching faces pick an enrolled dossier.
        #[arg(long, default_value_t = 100_000)]
        gallery: u64,
        /// Share of faces that belong to a seeded dossier.
        #[arg(long, default_value_t = 0.2)]
        match_ratio: f64,
        #[arg(long, default_value_t = 128)]
        dim: usize,
        /// Size of the face crop in bytes (the full frame is four times as big).
        #[arg(long, default_value_t = 2048)]
        crop_bytes: usize,
        /// Send each post through reqwest's streaming `Form` (a dozen small chunks) instead of
        /// the same multipart body built in one buffer (the default, cheaper for the generator).
        #[arg(long)]
        reqwest_form: bool,
    },
    /// Raw publish-with-confirm rate of the broker (the P1 anchor).
    Broker {
        #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
        url: String,
        #[arg(long, default_value_t = 100_000)]
        count: usize,
        /// Payload bytes per message: 64 is the anchor's; a `face.detected` is ~2-3 KiB.
        #[arg(long, default_value_t = 64)]
        size: usize,
    },
    /// Writes `count` face events straight into PostgreSQL (one generate_series insert).
    SeedEvents {
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/ffsec")]
        database_url: String,
        #[arg(long, default_value_t = 1_000_000)]
        count: i64,
        #[arg(long, default_value_t = 10.0)]
        days: f64,
        #[arg(long, default_value_t = 20)]
        cameras: i64,
    },
    /// `GET /events/faces/` with the common filters: p50/p99 of first and following pages.
    List {
        #[arg(long, default_value = "http://127.0.0.1:8002")]
        base: String,
        #[arg(long, default_value = "admin")]
        user: String,
        #[arg(long, env = "ADMIN_PASSWORD")]
        password: String,
        /// Walks per query.
        #[arg(long, default_value_t = 50)]
        requests: usize,
        /// Pages followed after the first.
        #[arg(long, default_value_t = 3)]
        walk: usize,
    },
    /// N WebSocket clients of `/events/`: frames, cut-offs, accept -> receipt latency.
    Live {
        /// host:port of gateway-api.
        #[arg(long, default_value = "127.0.0.1:8002")]
        addr: String,
        #[arg(long, default_value = "admin")]
        user: String,
        #[arg(long, env = "ADMIN_PASSWORD")]
        password: String,
        #[arg(long, default_value_t = 1)]
        clients: usize,
        /// Query strings handed out round-robin (`;`-separated), e.g. `cameras=1;matched=true`.
        #[arg(long, value_delimiter = ';')]
        filters: Vec<String>,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// 1:N search over `faces` random unit vectors, one thread: latency, memory, and recall@1
    /// against an exact f32 scan (built afterwards, so it does not count in the memory figure).
    Search {
        #[arg(long, default_value_t = 1_000_000)]
        faces: u64,
        #[arg(long, default_value_t = 128)]
        dim: usize,
        #[arg(long, default_value_t = 200)]
        queries: usize,
        /// The index under test: flat (exact f32), int8 or ivf (approximate).
        #[arg(long, default_value = "flat", value_parser = parse_index)]
        index: GalleryIndex,
        /// ivf: lists (0 = automatic, as IVF_LISTS).
        #[arg(long, default_value_t = 0)]
        lists: usize,
        /// ivf: lists each query scans (IVF_PROBES); default: the config's.
        #[arg(long)]
        probes: Option<usize>,
        /// Cosine similarity between an enrolled face and its probe (even queries): 0.99 is an
        /// easy probe; real same-person faces sit nearer 0.8 (still over the default threshold
        /// 0.739).
        #[arg(long, default_value_t = 0.99)]
        near_cosine: f32,
        /// Also answer the queries N at a time, one pass over the gallery per N (as ingest's
        /// search threads do under load): queries/s and the pass time each query waits.
        #[arg(long, default_value_t = 1)]
        batch: usize,
    },
    /// gateway-api's in-memory event index alone, one thread: memory per event, scan p50/p99,
    /// candidate recall against exact f32.
    EventIndex {
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        #[arg(long, default_value_t = 128)]
        dim: usize,
        #[arg(long, default_value_t = 200)]
        queries: usize,
    },
    /// A vector for every stored event (people seen ~10 times each) and `probes` probe dossier faces.
    SeedEventVectors {
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/ffsec")]
        database_url: String,
        #[arg(long, default_value_t = 200)]
        probes: usize,
        #[arg(long, default_value_t = 128)]
        dim: usize,
    },
    /// `looks_like` on `GET /events/faces/` for each probe dossier face `first..=last`.
    EventSearch {
        #[arg(long, default_value = "http://127.0.0.1:8002")]
        base: String,
        #[arg(long, default_value = "admin")]
        user: String,
        #[arg(long, env = "ADMIN_PASSWORD")]
        password: String,
        #[arg(long)]
        first: i64,
        #[arg(long)]
        last: i64,
        /// More query parameters, e.g. `&cameras=3`.
        #[arg(long, default_value = "")]
        extra: String,
        /// The list searched: `/events/faces/` or `/dossiers/`.
        #[arg(long, default_value = "/events/faces/")]
        path: String,
    },
    /// Durable image writes as ingest makes them: faces/s and per-face latency, the per-write
    /// reference against ffsec's store, on the disk under `root`.
    Media {
        #[arg(long, default_value = "target/media-bench")]
        root: std::path::PathBuf,
        #[arg(long, default_value_t = 5_000)]
        faces: usize,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        #[arg(long, default_value_t = 2048)]
        crop_bytes: usize,
        /// Only `per-write`, `side-by-side`, `LocalMedia`, `fdatasync` or `syncfs` (to count one way's
        /// syscalls with `strace -c`).
        #[arg(long)]
        only: Option<String>,
    },
}

fn parse_index(raw: &str) -> Result<GalleryIndex, String> {
    match raw {
        "flat" => Ok(GalleryIndex::Flat),
        "int8" => Ok(GalleryIndex::Int8),
        "ivf" => Ok(GalleryIndex::Ivf),
        _ => Err("must be flat, int8 or ivf".into()),
    }
}

/// The vector of seeded dossier face `n`: the same on every run.
fn gallery_vector(n: u64, dim: usize) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(n);
    let v: Vec<f32> = (0..dim).map(|_| rng.r#gen::<f32>() - 0.5).collect();
    domain::vector::normalise(v).unwrap_or_else(|| vec![1.0; dim])
}

/// A probe near gallery face `n` (cosine about 0.99).
fn near(n: u64, dim: usize, rng: &mut StdRng) -> Vec<f32> {
    let v: Vec<f32> = gallery_vector(n, dim).iter().map(|x| x + (rng.r#gen::<f32>() - 0.5) * 0.02).collect();
    domain::vector::normalise(v).unwrap_or_else(|| vec![1.0; dim])
}

/// A probe at exactly cosine `cosine` from gallery face `n`: the face turned towards a random
/// direction orthogonal to it.
fn near_at(n: u64, dim: usize, cosine: f32, rng: &mut StdRng) -> Vec<f32> {
    let face = gallery_vector(n, dim);
    let random: Vec<f32> = (0..dim).map(|_| rng.r#gen::<f32>() - 0.5).collect();
    let along: f32 = random.iter().zip(&face).map(|(r, f)| r * f).sum();
    let ortho = domain::vector::normalise(random.iter().zip(&face).map(|(r, f)| r - along * f).collect());
    let ortho = ortho.unwrap_or_else(|| vec![0.0; dim]);
    let sine = (1.0 - cosine * cosine).max(0.0).sqrt();
    let v = face.iter().zip(&ortho).map(|(f, o)| cosine * f + sine * o).collect();
    domain::vector::normalise(v).unwrap_or_else(|| vec![1.0; dim])
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // `run` and `live` share the machine they measure: on one thread they spend less CPU per
    // request or frame (no wake-ups across threads, which were a quarter of `run`'s profile), and
    // one thread keeps up with their load. The other commands (the broker anchor among them) keep
    // the default.
    let mut runtime = match args.command {
        Command::Run { .. } | Command::Live { .. } => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    runtime.enable_all().build()?.block_on(dispatch(args))
}

async fn dispatch(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Seed { database_url, cameras, faces, dim } => seed(&database_url, cameras, faces, dim).await,
        Command::Run {
            url,
            token,
            cameras,
            rate,
            seconds,
            concurrency,
            gallery,
            match_ratio,
            dim,
            crop_bytes,
            reqwest_form,
        } => {
            let load = Load { url, token, cameras, gallery, match_ratio, dim, crop_bytes, reqwest_form };
            run(Arc::new(load), rate, Duration::from_secs(seconds), concurrency).await
        }
        Command::Broker { url, count, size } => broker(&url, count, size).await,
        Command::SeedEvents { database_url, count, days, cameras } => {
            event_bench::seed_events(&database_url, count, days, cameras).await
        }
        Command::List { base, user, password, requests, walk } => {
            event_bench::list(&base, &user, &password, requests, walk).await
        }
        Command::Live { addr, user, password, clients, filters, seconds } => {
            event_bench::live(&addr, &format!("http://{addr}"), &user, &password, clients, &filters, seconds).await
        }
        Command::Search { faces, dim, queries, index, batch, lists, probes, near_cosine } => {
            let mut settings = IndexSettings::from(index);
            settings.ivf.lists = lists;
            settings.ivf.probes = probes.unwrap_or(settings.ivf.probes).max(1);
            search(faces, dim, queries, settings, batch.max(1), near_cosine);
            Ok(())
        }
        Command::EventIndex { events, dim, queries } => {
            event_search_bench::event_index(events, dim, queries);
            Ok(())
        }
        Command::SeedEventVectors { database_url, probes, dim } => {
            event_search_bench::seed_event_vectors(&database_url, probes, dim).await
        }
        Command::EventSearch { base, user, password, first, last, extra, path } => {
            event_search_bench::event_search(&base, &user, &password, first..=last, &path, &extra).await
        }
        Command::Media { root, faces, concurrency, crop_bytes, only } => {
            media_bench::media(&root, faces, concurrency.max(1), crop_bytes, only.as_deref()).await
        }
    }
}

async fn seed(url: &str, camera_count: usize, faces: u64, dim: usize) -> anyhow::Result<()> {
    use diesel::ExpressionMethods;
    let mut conn = AsyncPgConnection::establish(url).await?;
    let new_cameras: Vec<NewCamera> = (0..camera_count)
        .map(|n| NewCamera {
            name: format!("loadgen {n}"),
            comment: String::new(),
            url: String::new(),
            active: true,
            group_id: 1,
            external_detector_token: uuid::Uuid::now_v7().simple().to_string(),
            confidence_threshold: None,
            roi: String::new(),
            stream_settings: serde_json::json!({}),
            genetec_camera: None,
        })
        .collect();
    let camera_ids: Vec<i64> =
        diesel::insert_into(cameras::table).values(&new_cameras).returning(cameras::id).get_results(&mut conn).await?;
    let list: i64 = diesel::insert_into(dossier_lists::table)
        .values(dossier_lists::name.eq(format!("loadgen {}", uuid::Uuid::now_v7().simple())))
        .returning(dossier_lists::id)
        .get_result(&mut conn)
        .await?;
    let started = Instant::now();
    for batch in (0..faces).collect::<Vec<_>>().chunks(2_000) {
        let rows: Vec<NewDossier> = batch
            .iter()
            .map(|n| NewDossier { name: format!("seeded {n}"), comment: String::new(), active: true })
            .collect();
        let ids: Vec<i64> =
            diesel::insert_into(dossiers::table).values(&rows).returning(dossiers::id).get_results(&mut conn).await?;
        let members: Vec<_> = ids
            .iter()
            .map(|d| (dossier_list_members::dossier_id.eq(*d), dossier_list_members::list_id.eq(list)))
            .collect();
        diesel::insert_into(dossier_list_members::table).values(&members).execute(&mut conn).await?;
        let face_rows: Vec<NewDossierFace> = ids
            .iter()
            .zip(batch)
            .map(|(dossier_id, n)| NewDossierFace {
                dossier_id: *dossier_id,
                source_photo: String::new(),
                thumbnail: String::new(),
                embedding: gallery_vector(*n, dim),
                quality: 0.0,
                source_coords_left: None,
                source_coords_top: None,
                source_coords_right: None,
                source_coords_bottom: None,
                active: true,
            })
            .collect();
        diesel::insert_into(dossier_faces::table).values(&face_rows).execute(&mut conn).await?;
    }
    let ids = camera_ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
    println!("seeded {faces} faces of {dim} dimensions in {:.1?}; cameras: {ids}", started.elapsed());
    Ok(())
}

struct Load {
    url: String,
    token: String,
    cameras: Vec<i64>,
    gallery: u64,
    match_ratio: f64,
    dim: usize,
    crop_bytes: usize,
    reqwest_form: bool,
}

/// What one request came to: latency when accepted, else the reason.
type Outcome = Result<Duration, String>;

async fn post_one(client: &reqwest::Client, load: &Load, n: u64) -> Outcome {
    let mut rng = StdRng::seed_from_u64(n ^ 0x5eed);
    let camera = load.cameras[(n as usize) % load.cameras.len()];
    let vector = if load.gallery > 0 && rng.r#gen::<f64>() < load.match_ratio {
        near(rng.gen_range(0..load.gallery), load.dim, &mut rng)
    } else {
        gallery_vector(u64::MAX - n, load.dim)
    };
    let mut face = Face::new(camera, Some(facen(&vector)));
    face.crop.resize(load.crop_bytes.max(face.crop.len()), 0x55);
    let mut frame = jpeg(2);
    frame.resize(load.crop_bytes * 4, 0x66);
    face.photo = Some(frame);
    face.timestamp = Some(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3f").to_string());
    let request = if load.reqwest_form {
        client.post(&load.url).multipart(face.form())
    } else {
        let (content_type, body) = face.body();
        client.post(&load.url).header(reqwest::header::CONTENT_TYPE, content_type).body(body)
    };
    let request = request.header(reqwest::header::AUTHORIZATION, format!("Token {}", load.token));
    let sent = Instant::now();
    match request.send().await {
        Ok(response) if response.status().is_success() => Ok(sent.elapsed()),
        Ok(response) => {
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            Err(format!("{status} {}", body["code"].as_str().unwrap_or("?")))
        }
        Err(e) if e.is_timeout() => Err("client timeout".into()),
        Err(e) if e.is_connect() => Err("connect error".into()),
        Err(_) => Err("transport error".into()),
    }
}

async fn run(load: Arc<Load>, rate: f64, duration: Duration, concurrency: usize) -> anyhow::Result<()> {
    let client =
        reqwest::Client::builder().pool_max_idle_per_host(concurrency).timeout(Duration::from_secs(3)).build()?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Outcome>();
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let slots = Arc::new(tokio::sync::Semaphore::new(concurrency));
    if rate <= 0.0 {
        for _ in 0..concurrency {
            let (client, load, tx, next) = (client.clone(), load.clone(), tx.clone(), next.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let _ = tx.send(post_one(&client, &load, n).await);
                }
            });
        }
    } else {
        let (client, load, tx, next) = (client.clone(), load.clone(), tx.clone(), next.clone());
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            while Instant::now() < deadline {
                ticker.tick().await;
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    let _ = tx.send(Err("loadgen saturated".into()));
                    continue;
                };
                let (client, load, tx) = (client.clone(), load.clone(), tx.clone());
                let n = next.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let _ = tx.send(post_one(&client, &load, n).await);
                    drop(slot);
                });
            }
        });
    }
    drop(tx);
    let mut latencies = Vec::new();
    let mut rejected: BTreeMap<String, u64> = BTreeMap::new();
    while let Some(outcome) = rx.recv().await {
        match outcome {
            Ok(latency) => latencies.push(latency),
            Err(reason) => *rejected.entry(reason).or_default() += 1,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct =
        |p: f64| latencies.get(((latencies.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default();
    println!(
        "run: {} cameras, {} s, rate {}, concurrency {concurrency}",
        load.cameras.len(),
        duration.as_secs(),
        if rate > 0.0 { format!("{rate}/s") } else { "closed loop".into() }
    );
    println!("accepted: {} ({:.0}/s)", latencies.len(), latencies.len() as f64 / elapsed);
    for (reason, count) in &rejected {
        println!("rejected: {count} {reason}");
    }
    println!("latency of accepted: p50 {:.1?} p95 {:.1?} p99 {:.1?}", pct(0.50), pct(0.95), pct(0.99));
    Ok(())
}

async fn broker(url: &str, count: usize, size: usize) -> anyhow::Result<()> {
    use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions};
    use lapin::types::FieldTable;
    use lapin::{BasicProperties, Connection, ConnectionProperties};
    let connection = Connection::connect(url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    let queue = format!("ffsec.bench.{}", uuid::Uuid::now_v7().simple());
    let durable = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
    channel.queue_declare(queue.as_str().into(), durable, FieldTable::default()).await?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    let payload = vec![7_u8; size];
    let started = Instant::now();
    let mut pending = Vec::with_capacity(1000);
    for _ in 0..count {
        let properties = BasicProperties::default().with_delivery_mode(2);
        let options = BasicPublishOptions::default();
        pending.push(channel.basic_publish("".into(), queue.as_str().into(), options, &payload, properties).await?);
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
        "broker: {count} persistent {size}-byte publishes in {elapsed:.2?}: {:.0} msg/s",
        count as f64 / elapsed.as_secs_f64()
    );
    channel.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await?;
    Ok(())
}

/// Resident memory of this process, in bytes (Linux).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()).unwrap_or(0) * 4096
}

/// A gallery of `faces` seeded vectors, with one dossier (and name) per face, as ingest holds it.
fn search_gallery(faces: u64, dim: usize, settings: IndexSettings) -> GalleryData {
    let mut gallery = GalleryData::new(settings);
    let lists: Arc<[ListEntry]> = Arc::from(vec![ListEntry { id: 1, name: "bench".into(), threshold: None }]);
    for n in 0..faces {
        let meta = FaceMeta {
            face_id: n as i64,
            dossier: IdName { id: n as i64, name: format!("d{n}") },
            lists: lists.clone(),
            photo: String::new(),
        };
        gallery.upsert_face(FaceRecord { meta, vector: gallery_vector(n, dim) });
    }
    gallery.shrink_to_fit();
    gallery
}

/// Top-1 face id and confidence of every probe, whatever its similarity (so strangers are ranked
/// too).
fn top1(gallery: &GalleryData, probes: &[Vec<f32>]) -> Vec<Option<(i64, f32)>> {
    probes.iter().map(|p| gallery.best_match(p, -1.0).map(|m| (m.face.face_id, m.confidence))).collect()
}

/// Answers `probes` `batch` at a time: per pass, the time (what each of its queries waits), and
/// overall queries/s; checks every answer against the single-query one.
fn search_batched(gallery: &GalleryData, probes: &[Vec<f32>], batch: usize) {
    let mut passes = Vec::new();
    let mut differ = 0;
    for chunk in probes.chunks(batch) {
        let queries: Vec<Query<'_>> = chunk.iter().map(|p| Query { vector: p, fallback: 0.739 }).collect();
        let pass = Instant::now();
        let answers = gallery.best_matches(&queries);
        passes.push(pass.elapsed());
        for (probe, answer) in chunk.iter().zip(answers) {
            let alone = gallery.best_match(probe, 0.739);
            let key = |m: Option<&facerouter_ingest::face_index::Match>| m.map(|m| (m.face.face_id, m.confidence));
            differ += usize::from(key(answer.as_ref()) != key(alone.as_ref()));
        }
    }
    let busy: Duration = passes.iter().sum();
    passes.sort();
    let pct = |p: f64| passes[((passes.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "batched by {batch}: {} passes, pass (= per-query latency) p50 {:.2?} p99 {:.2?}; {:.0} queries/s; \
         {differ} answers differ from single-query ones",
        passes.len(),
        pct(0.5),
        pct(0.99),
        probes.len() as f64 / busy.as_secs_f64()
    );
}

/// The answer of the exact f32 scan to every probe, top-1 whatever its similarity (so strangers
/// are ranked too), 32 queries per pass (the batched kernel; the answers are the single-query
/// ones).
fn exact_top1(faces: u64, dim: usize, probes: &[Vec<f32>]) -> Vec<Option<(i64, f32)>> {
    let flat = search_gallery(faces, dim, GalleryIndex::Flat.into());
    probes
        .chunks(32)
        .flat_map(|chunk| {
            let queries: Vec<Query<'_>> = chunk.iter().map(|p| Query { vector: p, fallback: -1.0 }).collect();
            flat.best_matches(&queries)
        })
        .map(|m| m.map(|m| (m.face.face_id, m.confidence)))
        .collect()
}

fn search(faces: u64, dim: usize, queries: usize, settings: IndexSettings, batch: usize, near_cosine: f32) {
    const THRESHOLD: f32 = 0.739;
    let kind = settings.kind;
    let mut rng = StdRng::seed_from_u64(7);
    // Even probes are near an enrolled face, odd ones strangers.
    let probes: Vec<Vec<f32>> = (0..queries)
        .map(|q| {
            if q % 2 == 0 {
                near_at(rng.gen_range(0..faces), dim, near_cosine, &mut rng)
            } else {
                gallery_vector(u64::MAX - q as u64, dim)
            }
        })
        .collect();
    let before = resident_bytes();
    let started = Instant::now();
    let mut gallery = search_gallery(faces, dim, settings);
    let built = started.elapsed();
    let started = Instant::now();
    gallery.train_if_due();
    let trained = started.elapsed();
    let per_face = (resident_bytes().saturating_sub(before)) as f64 / faces as f64;
    // What the index holds by its own count (capacities, every column): resident growth can hide
    // spare capacity never touched, or include the allocator's slack.
    let held = gallery.heap_bytes();
    let held_total: usize = held.iter().map(|(_, b)| b).sum();
    let breakdown: Vec<String> = held
        .iter()
        .filter(|(_, b)| *b > 0)
        .map(|(what, b)| format!("{what} {:.1}", *b as f64 / faces as f64))
        .collect();
    match gallery.ivf_trained(dim) {
        Some((lists, on)) => println!(
            "ivf: {lists} lists trained on {on} faces in {trained:.2?} (gallery built in {built:.2?}), {} probes",
            settings.ivf.probes
        ),
        None if kind == GalleryIndex::Ivf => println!("ivf: not trained (too few faces): exact scans"),
        None => println!("{kind:?}: gallery built in {built:.2?}"),
    }
    let mut times = Vec::with_capacity(queries);
    let mut decided = Vec::with_capacity(queries);
    for probe in &probes {
        let started = Instant::now();
        let answer = gallery.best_match(probe, THRESHOLD);
        times.push(started.elapsed());
        decided.push(answer.map(|m| m.face.face_id));
    }
    let found = decided.iter().filter(|d| d.is_some()).count();
    let busy: Duration = times.iter().sum();
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "search: {faces} x {dim} {kind:?}, {queries} queries at cosine {near_cosine} / strangers ({found} matched at \
         {THRESHOLD}): p50 {:.2?} p99 {:.2?}; {:.0} queries/s; {per_face:.0} bytes resident per face, {:.0} held by \
         the index's count (raw f32 vector {} B, goal <= 1.2x = {:.0} B)",
        pct(0.5),
        pct(0.99),
        queries as f64 / busy.as_secs_f64(),
        held_total as f64 / faces as f64,
        dim * 4,
        dim as f64 * 4.0 * 1.2
    );
    println!("held per face (B): {}", breakdown.join(", "));
    if batch > 1 {
        search_batched(&gallery, &probes, batch);
    }
    let got_scored = top1(&gallery, &probes);
    let got: Vec<Option<i64>> = got_scored.iter().map(|g| g.map(|(id, _)| id)).collect();
    drop(gallery);
    let exact = exact_top1(faces, dim, &probes);
    let want: Vec<Option<i64>> = exact.iter().map(|e| e.map(|(id, _)| id)).collect();
    // The reported confidence against the exact f32 one, wherever both name the same face.
    let errors: Vec<f32> = got_scored
        .iter()
        .zip(&exact)
        .filter_map(|(g, e)| match (g, e) {
            (Some((a, c)), Some((b, x))) if a == b => Some((c - x).abs()),
            _ => None,
        })
        .collect();
    let max_error = errors.iter().copied().fold(0.0_f32, f32::max);
    let mean_error = errors.iter().sum::<f32>() / errors.len().max(1) as f32;
    println!(
        "confidence against exact f32 (same top-1 face, {} queries): max error {max_error:.2e}, mean {mean_error:.2e}",
        errors.len()
    );
    // Every bench face is on one list without a threshold: exact matches at THRESHOLD iff its top-1 does.
    let want_decided: Vec<Option<i64>> =
        exact.iter().map(|e| e.filter(|(_, c)| *c >= THRESHOLD).map(|(id, _)| id)).collect();
    let share = |parity: usize, same: &dyn Fn(usize) -> bool| {
        let picked: Vec<usize> = (0..queries).filter(|q| q % 2 == parity).collect();
        picked.iter().filter(|&&q| same(q)).count() as f64 / picked.len().max(1) as f64
    };
    let recall = |q: usize| got[q] == want[q];
    let agree = |q: usize| decided[q] == want_decided[q];
    let exact_matched = |parity: usize| (0..queries).filter(|q| q % 2 == parity && want_decided[*q].is_some()).count();
    println!(
        "recall@1 against exact f32: enrolled {:.4}, strangers {:.4}; match decision at {THRESHOLD} agrees with exact: \
         enrolled {:.4}, strangers {:.4} (exact matched {} enrolled, {} strangers)",
        share(0, &recall),
        share(1, &recall),
        share(0, &agree),
        share(1, &agree),
        exact_matched(0),
        exact_matched(1)
    );
}
