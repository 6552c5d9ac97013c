//! The no-loss chaos test (docs/reliability.md): the three services as real processes against a
//! RabbitMQ node and a PostgreSQL cluster of the test's own, a worker posting faces at a steady
//! rate, and meanwhile `kill -9` of each service in turn (restarted), RabbitMQ stopped and started,
//! PostgreSQL restarted and the webhook receiver failing for a while. The worker retries refused
//! faces as a real one does; every event id answered 2xx goes into a ledger, checked at the end:
//! stored exactly once (retries included) with its images, delivered to the hook at least once
//! with a valid signature. `CHAOS_FACES` sets how many faces are posted.
// A test: a failed step should stop it right there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use domain::Config;
use ffsec_tests::env::{ADMIN_PASSWORD, ADMIN_USER, WORKER_TOKEN};
use ffsec_tests::private_servers::{PrivatePostgres, PrivateRabbit};
use ffsec_tests::process::{Process, write_config};
use ffsec_tests::receiver::Reply;
use ffsec_tests::service::wait_cameras_at;
use ffsec_tests::worker::{Face, jpeg};
use ffsec_tests::{Receiver, TestEnv, wait_until};
use serde_json::{Value, json};

const RATE_PER_SECOND: u64 = 100;
const POSTERS: u64 = 8;

/// The three services, restartable on their ports, logging to one file.
struct Services {
    config: PathBuf,
    log: PathBuf,
    ports: HashMap<&'static str, u16>,
    running: HashMap<&'static str, Process>,
}

impl Services {
    const NAMES: [&'static str; 3] = ["gateway-api", "facerouter-ingest", "webhook-dispatcher"];

    async fn start(config: PathBuf, log: PathBuf) -> Self {
        let mut services = Self { config, log, ports: HashMap::new(), running: HashMap::new() };
        for name in Self::NAMES {
            let process = Process::spawn_logged(name, &services.config, &services.log);
            services.ports.insert(name, process.port);
            // gateway-api first: it applies the migrations the others read.
            process.wait_healthy().await;
            services.running.insert(name, process);
        }
        services
    }

    fn url(&self, name: &str, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ports[name])
    }

    /// SIGKILL, as a crash or an OOM kill, then the same binary again on the same port.
    async fn crash_and_restart(&mut self, name: &'static str) {
        if let Some(process) = self.running.remove(name) {
            process.kill();
        }
        let process = Process::spawn_logged_on(name, &self.config, &self.log, self.ports[name]);
        process.wait_healthy().await;
        self.running.insert(name, process);
    }

    async fn stop(mut self) {
        for name in Self::NAMES.iter().rev() {
            if let Some(process) = self.running.remove(name) {
                assert!(process.terminate().await.success(), "{name} did not exit cleanly");
            }
        }
    }
}

#[derive(Default)]
struct Ledger {
    /// Face number → the event id of its 2xx answer.
    accepted: HashMap<u64, uuid::Uuid>,
    /// Attempts answered otherwise, by status (or "no answer").
    refused: HashMap<String, usize>,
    /// Faces still refused after MAX_ATTEMPTS.
    gave_up: usize,
}

/// What a worker retries before it drops a face.
const MAX_ATTEMPTS: usize = 120;

/// A distinct face: its own crop bytes (a JPEG with the face number after its end) and its
/// detection time, both kept across retries, as a real worker keeps a detection.
fn face(camera: i64, number: u64) -> Face {
    let mut crop = jpeg(1);
    crop.extend_from_slice(&number.to_le_bytes());
    let timestamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    Face { crop, timestamp: Some(timestamp), ..Face::new(camera, None) }
}

/// Posts `total` faces at RATE_PER_SECOND from POSTERS concurrent workers, each retrying a face
/// after a refusal or a lost answer (one second apart, as `Retry-After: 1` asks) like a
/// findface-video-worker; every 2xx event id goes into the ledger.
async fn post_faces(ingest: String, camera: i64, total: u64, ledger: Arc<Mutex<Ledger>>) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let url = format!("{ingest}/video-detector/frame/");
    let tasks: Vec<_> = (0..POSTERS)
        .map(|poster| {
            let (client, url, ledger) = (client.clone(), url.clone(), ledger.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 * POSTERS / RATE_PER_SECOND));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                for number in (poster..total).step_by(POSTERS as usize) {
                    tick.tick().await;
                    let face = face(camera, number);
                    let mut accepted = None;
                    for _ in 0..MAX_ATTEMPTS {
                        let outcome = match face.post(&client, &url, Some(WORKER_TOKEN)).await {
                            Ok(response) if response.status().is_success() => {
                                let body: Value = response.json().await.unwrap_or(Value::Null);
                                body["event_id"]
                                    .as_str()
                                    .and_then(|id| id.parse::<uuid::Uuid>().ok())
                                    .ok_or("2xx without id".to_string())
                            }
                            Ok(response) => Err(response.status().as_u16().to_string()),
                            Err(_) => Err("no answer".to_string()),
                        };
                        match outcome {
                            Ok(id) => {
                                accepted = Some(id);
                                break;
                            }
                            Err(reason) => *ledger.lock().unwrap().refused.entry(reason).or_default() += 1,
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    let mut ledger = ledger.lock().unwrap();
                    match accepted {
                        Some(id) => {
                            ledger.accepted.insert(number, id);
                        }
                        None => ledger.gave_up += 1,
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// Event ids delivered 2xx to the receiver, with how often, after checking every signature with
/// the Standard Webhooks reference verifier.
fn delivered(receiver: &Receiver, secret: &str) -> HashMap<uuid::Uuid, usize> {
    let verifier = standardwebhooks::Webhook::new(secret).unwrap();
    let mut seen = HashMap::new();
    for request in receiver.received().iter().filter(|r| (200..300).contains(&r.status)) {
        verifier.verify(&request.body, &request.headers).expect("every delivery is signed with the hook's secret");
        let events: Vec<Value> = serde_json::from_slice(&request.body).unwrap();
        for event in events {
            let id = event["id"].as_str().and_then(|id| id.parse().ok()).expect("each event carries its id");
            *seen.entry(id).or_insert(0) += 1;
        }
    }
    seen
}

#[derive(diesel::QueryableByName)]
struct Stored {
    #[diesel(sql_type = SqlUuid)]
    id: uuid::Uuid,
    #[diesel(sql_type = Text)]
    thumbnail: String,
    #[diesel(sql_type = Text)]
    fullframe: String,
}

async fn stored_events(env: &TestEnv) -> Vec<Stored> {
    let Ok(mut conn) = env.connect_db().await else { return Vec::new() };
    diesel::sql_query("SELECT id, thumbnail, fullframe FROM face_events").load(&mut conn).await.unwrap_or_default()
}

async fn admin_call(client: &reqwest::Client, url: String, token: &str, body: Value) -> Value {
    let response = client.post(url).header("Authorization", format!("Token {token}")).json(&body).send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_accepted_face_is_lost_through_crashes_and_outages() {
    let total: u64 = std::env::var("CHAOS_FACES").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let mut rabbit = PrivateRabbit::start().await.unwrap();
    let postgres = PrivatePostgres::start().await.unwrap();
    let mut base = Config::default();
    base.databases.default.host = "127.0.0.1".into();
    base.databases.default.port = postgres.port;
    base.rabbitmq.url = rabbit.url();
    let mut env = TestEnv::with_config(base).await.unwrap();
    env.config.webhooks.retry_delays_ms = vec![250, 1000, 2000];
    let log = std::env::temp_dir().join(format!("ffsec-chaos-{}.log", env.config.rabbitmq.prefix));
    let config = write_config(&toml::to_string(&env.config).unwrap());
    let mut services = Services::start(config.clone(), log.clone()).await;
    println!("chaos: services up, logs in {}", log.display());

    let client = reqwest::Client::new();
    let login = client
        .post(services.url("gateway-api", "/auth/login/"))
        .basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let token = login.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    let camera = admin_call(&client, services.url("gateway-api", "/cameras/"), &token, json!({"name": "Chaos"})).await;
    let camera = camera["id"].as_i64().unwrap();
    let receiver = Receiver::start(0).unwrap();
    // send_attempts 0: retry until delivered, so a receiver outage can only delay.
    let hook = admin_call(
        &client,
        services.url("gateway-api", "/hooks/"),
        &token,
        json!({"name": "ledger", "url": receiver.url(), "send_attempts": 0, "batch_size": 1}),
    )
    .await;
    let secret = hook["secret"].as_str().unwrap().to_string();
    wait_cameras_at(&services.url("facerouter-ingest", "/metrics"), 1.0).await.unwrap();

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let started = Instant::now();
    let load = tokio::spawn(post_faces(services.url("facerouter-ingest", ""), camera, total, ledger.clone()));
    tokio::time::sleep_until((started + Duration::from_secs(8)).into()).await;
    for name in ["facerouter-ingest", "gateway-api", "webhook-dispatcher"] {
        println!("chaos: {:>5.1} s kill -9 {name}", started.elapsed().as_secs_f64());
        services.crash_and_restart(name).await;
        tokio::time::sleep(Duration::from_secs(8)).await;
    }
    println!("chaos: {:>5.1} s RabbitMQ stopped for 5 s", started.elapsed().as_secs_f64());
    rabbit.down().await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    rabbit.up().await.unwrap();
    tokio::time::sleep(Duration::from_secs(8)).await;
    println!("chaos: {:>5.1} s PostgreSQL restarted", started.elapsed().as_secs_f64());
    postgres.down().unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    postgres.up().unwrap();
    tokio::time::sleep(Duration::from_secs(8)).await;
    println!("chaos: {:>5.1} s webhook receiver failing for 8 s", started.elapsed().as_secs_f64());
    receiver.always(Reply::Status(503));
    tokio::time::sleep(Duration::from_secs(8)).await;
    receiver.recover();
    load.await.unwrap();
    println!("chaos: {:>5.1} s load finished", started.elapsed().as_secs_f64());

    let (accepted, refused, gave_up) = {
        let ledger = ledger.lock().unwrap();
        (ledger.accepted.clone(), ledger.refused.clone(), ledger.gave_up)
    };
    let ledger_ids: HashSet<uuid::Uuid> = accepted.values().copied().collect();
    assert_eq!(ledger_ids.len(), accepted.len(), "two faces were answered with one event id");
    // Everything accepted must arrive; how long it takes depends on the machine, hence the wait.
    let settled = wait_until("every accepted face stored and delivered", Duration::from_secs(180), || async {
        // The cheap count first: the full comparison reads every row and checks every signature.
        if receiver.events_ok() < ledger_ids.len() {
            return None;
        }
        let stored: HashSet<uuid::Uuid> = stored_events(&env).await.iter().map(|s| s.id).collect();
        let seen = delivered(&receiver, &secret);
        (ledger_ids.is_subset(&stored) && ledger_ids.iter().all(|id| seen.contains_key(id))).then_some(())
    })
    .await;

    let stored = stored_events(&env).await;
    let mut rows: HashMap<uuid::Uuid, usize> = HashMap::new();
    for row in &stored {
        *rows.entry(row.id).or_default() += 1;
    }
    let seen = delivered(&receiver, &secret);
    let lost_in_db = ledger_ids.iter().filter(|id| !rows.contains_key(id)).count();
    let lost_at_hook = ledger_ids.iter().filter(|id| !seen.contains_key(id)).count();
    let duplicates: usize = seen.values().map(|n| n.saturating_sub(1)).sum();
    // Rows beyond the accepted faces: a face stored twice (a retry under a new id), or one the
    // worker gave up on that had reached the broker anyway.
    let extra_rows = stored.len() - ledger_ids.iter().filter(|id| rows.contains_key(id)).count();
    let unreadable = stored
        .iter()
        .filter(|s| ledger_ids.contains(&s.id))
        .filter(|s| {
            let read = |path: &str| std::fs::read(env.media_root.join(path)).ok();
            read(&s.thumbnail).is_none_or(|b| !b.starts_with(&jpeg(1))) || read(&s.fullframe) != Some(jpeg(2))
        })
        .count();
    println!(
        "chaos: faces {total}, accepted {} (gave up on {gave_up}), refused attempts {refused:?}, rows {} \
         ({extra_rows} beyond the accepted faces), delivered {} events ({duplicates} duplicate deliveries), \
         lost: {lost_in_db} in the database, {lost_at_hook} at the webhook, {unreadable} with unreadable images",
        accepted.len(),
        stored.len(),
        seen.len(),
    );
    assert!(accepted.len() as u64 >= total / 2, "too few faces accepted to prove anything");
    assert!(settled.is_ok(), "not everything arrived within 180 s");
    assert_eq!((lost_in_db, lost_at_hook, unreadable), (0, 0, 0), "accepted faces were lost");
    assert!(extra_rows <= gave_up, "{extra_rows} faces were stored twice");

    receiver.stop().await;
    services.stop().await;
    let _ = std::fs::remove_file(config);
    let _ = std::fs::remove_file(log);
    env.cleanup().await.unwrap();
    drop(postgres);
    drop(rabbit);
}
