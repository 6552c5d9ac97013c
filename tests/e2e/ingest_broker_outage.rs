//! RabbitMQ unreachable from an ingest replica: workers get 503 + Retry-After quickly (never a
//! hung request), the replica reconnects by itself when the broker is back, and every face it
//! answered 2xx for reaches the database exactly once.
//!
//! The broker is cut for this one replica through a TCP proxy, so the real RabbitMQ stays up for
//! the recorder and for the other tests running at the same time.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::config::MediaLayout;
use domain::schema::face_events;
use ffsec_tests::env::WORKER_TOKEN;
use ffsec_tests::proxy::Proxy;
use ffsec_tests::service::{bind, wait_cameras_at};
use ffsec_tests::worker::Face;
use ffsec_tests::{Running, Stack, TestEnv, wait_until};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct Ledger {
    accepted: Vec<uuid::Uuid>,
    refused: usize,
    refused_without_retry_after: usize,
    unexpected: Vec<String>,
    slowest: Duration,
}

/// `host:port` of the broker in an `amqp://user:pass@host:port/vhost` URL.
fn broker_addr(url: &str) -> SocketAddr {
    let after_at = url.rsplit_once('@').map_or(url, |(_, rest)| rest);
    let host_port = after_at.split('/').next().unwrap();
    host_port.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broker_outage_gives_quick_503s_and_loses_no_accepted_face() {
    broker_outage(MediaLayout::Files).await;
}

/// The same with the images in packs: faces answered 503 leave their bytes in the pack, and the
/// accepted ones around them stay readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broker_outage_loses_no_accepted_face_with_packs() {
    broker_outage(MediaLayout::Packs).await;
}

async fn broker_outage(layout: MediaLayout) {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    env.config.facerouter.media_layout = layout;
    let stack = Stack::start(&mut env).await.unwrap();
    let camera = stack.create("/cameras/", json!({"name": "Door"})).await.unwrap()["id"].as_i64().unwrap();

    // A second ingest replica, whose broker connection runs through a proxy the test can cut.
    let broker = broker_addr(&env.config.rabbitmq.url);
    let proxy = Proxy::start(broker).await.unwrap();
    let mut config = env.config.clone();
    config.rabbitmq.url = config.rabbitmq.url.replace(&broker.to_string(), &proxy.addr.to_string());
    let ingest = Running::start(bind().unwrap(), config, facerouter_ingest::run).unwrap();
    ingest.wait_healthy().await.unwrap();
    wait_cameras_at(&ingest.url("/metrics"), 1.0).await.unwrap();

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = CancellationToken::new();
    let url = ingest.url("/video-detector/frame/");
    let posters: Vec<_> = (0..4)
        .map(|_| {
            let (ledger, stop, url, client) = (ledger.clone(), stop.clone(), url.clone(), reqwest::Client::new());
            tokio::spawn(async move {
                while !stop.is_cancelled() {
                    let started = Instant::now();
                    let outcome = post_face(&client, &url, camera).await;
                    let refused = matches!(outcome, Outcome::Refused { .. });
                    {
                        let mut ledger = ledger.lock().unwrap();
                        ledger.slowest = ledger.slowest.max(started.elapsed());
                        match outcome {
                            Outcome::Accepted(id) => ledger.accepted.push(id),
                            Outcome::Refused { retry_after } => {
                                ledger.refused += 1;
                                ledger.refused_without_retry_after += usize::from(!retry_after);
                            }
                            Outcome::Unexpected(what) => ledger.unexpected.push(what),
                        }
                    }
                    if refused {
                        // A worker backs off as Retry-After asks (shortened: the test needs no full second).
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            })
        })
        .collect();
    let accepted = |n: usize| {
        let ledger = ledger.clone();
        move || {
            let count = ledger.lock().unwrap().accepted.len();
            async move { (count >= n).then_some(count) }
        }
    };

    wait_until("faces accepted before the outage", Duration::from_secs(20), accepted(20)).await.unwrap();
    proxy.cut();
    wait_until("503s while the broker is unreachable", Duration::from_secs(20), || {
        let refused = ledger.lock().unwrap().refused;
        async move { (refused >= 10).then_some(()) }
    })
    .await
    .unwrap();
    proxy.restore();
    let at_restore = ledger.lock().unwrap().accepted.len();
    wait_until("faces accepted again without a restart", Duration::from_secs(30), accepted(at_restore + 20))
        .await
        .unwrap();
    stop.cancel();
    for poster in posters {
        poster.await.unwrap();
    }

    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    assert!(ledger.unexpected.is_empty(), "only 200 or 503: {:?}", ledger.unexpected);
    assert_eq!(ledger.refused_without_retry_after, 0, "every 503 carries Retry-After");
    assert!(ledger.slowest < Duration::from_secs(3), "no request hung: slowest {:?}", ledger.slowest);
    let mut ids = ledger.accepted.clone();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), ledger.accepted.len(), "every accepted face has its own event id");

    // Every 2xx face reaches the recorder, once.
    let env_ref = &env;
    let stored = wait_until("every accepted face in the database", Duration::from_secs(30), || {
        let ids = ids.clone();
        async move {
            let mut conn = env_ref.connect_db().await.ok()?;
            let stored: i64 =
                face_events::table.filter(face_events::id.eq_any(&ids)).count().get_result(&mut conn).await.ok()?;
            (stored >= ids.len() as i64).then_some(stored)
        }
    })
    .await
    .unwrap();
    assert_eq!(stored, ids.len() as i64);

    // And their images are there, whole.
    let media = domain::media::from_config(&env.config).unwrap();
    let mut conn = env.connect_db().await.unwrap();
    let paths: Vec<(String, String)> = face_events::table
        .filter(face_events::id.eq_any(&ids))
        .select((face_events::thumbnail, face_events::fullframe))
        .load(&mut conn)
        .await
        .unwrap();
    for path in paths.into_iter().flat_map(|(thumbnail, fullframe)| [thumbnail, fullframe]) {
        let image = media.get(path.clone()).await.unwrap();
        assert!(image.is_some_and(|i| i.bytes.starts_with(&[0xFF, 0xD8])), "{path} reads back as a JPEG");
    }
    println!("accepted {}, refused {}, slowest {:?}", ids.len(), ledger.refused, ledger.slowest);

    ingest.stop().await.unwrap();
    drop(proxy);
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

enum Outcome {
    Accepted(uuid::Uuid),
    Refused { retry_after: bool },
    Unexpected(String),
}

async fn post_face(client: &reqwest::Client, url: &str, camera: i64) -> Outcome {
    // Distinct faces: no timestamp, so each is stamped with its own arrival time.
    let face = Face { timestamp: None, ..Face::new(camera, None) };
    let response = match face.post(client, url, Some(WORKER_TOKEN)).await {
        Ok(r) => r,
        Err(e) => return Outcome::Unexpected(format!("request failed: {e}")),
    };
    let status = response.status().as_u16();
    let retry_after = response.headers().contains_key("retry-after");
    let body: Value = response.json().await.unwrap_or_default();
    match (status, body["event_id"].as_str().and_then(|id| id.parse().ok())) {
        (200, Some(id)) => Outcome::Accepted(id),
        (503, _) => Outcome::Refused { retry_after },
        _ => Outcome::Unexpected(format!("{status} {body}")),
    }
}
