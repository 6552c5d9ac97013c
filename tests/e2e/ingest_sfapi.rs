//! The `sfapi` recognition backend against a fake recognition service that speaks wire doc §2:
//! vectors and attributes come from it, a slow or failing service costs a bounded time and then
//! opens the circuit breaker.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use domain::config::RecognitionBackend;
use ffsec_tests::env::WORKER_TOKEN;
use ffsec_tests::worker::{Face, facen};
use ffsec_tests::{Stack, TestEnv};
use serde_json::{Value, json};

use crate::ingest_support::{axis, enroll, error_of, stored_event};

const DIM: usize = 16;

/// How the fake answers: 0 = a face along axis 0, 1 = too slowly, 2 = 500.
#[derive(Default)]
struct Fake {
    mode: AtomicUsize,
    calls: AtomicUsize,
    queries: Mutex<Vec<String>>,
}

async fn post_detect(req: HttpRequest, body: web::Bytes, fake: web::Data<Arc<Fake>>) -> HttpResponse {
    fake.calls.fetch_add(1, Ordering::SeqCst);
    if let Ok(mut queries) = fake.queries.lock() {
        queries.push(req.query_string().to_string());
    }
    match fake.mode.load(Ordering::SeqCst) {
        0 if body.starts_with(&[0xFF, 0xD8, 0xFF]) => HttpResponse::Ok().json(json!({
            "faces": [{
                "bbox": {"left": 0, "top": 0, "right": 80, "bottom": 100}, "detection_score": 0.98,
                "facen": facen(&axis(DIM, 0)),
                "gender": {"gender": "MALE", "score": 0.93}, "age": 41.6,
                "emotions": [{"emotion": "happy", "score": 0.8}, {"emotion": "neutral", "score": 0.1}]
            }],
            "orientation": 1
        })),
        0 => HttpResponse::BadRequest().json(json!({"code": "BAD_IMAGE"})),
        1 => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            HttpResponse::Ok().json(json!({"faces": []}))
        }
        _ => HttpResponse::InternalServerError().finish(),
    }
}

fn start_fake(fake: Arc<Fake>) -> (String, actix_web::dev::ServerHandle) {
    let (addr, handle) = ffsec_tests::fake_server::serve(fake, 2, |c| {
        c.route("/v2/detect", web::post().to(post_detect));
    })
    .unwrap();
    (format!("http://{addr}"), handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sfapi_backend_recognises_times_out_and_breaks_the_circuit() {
    crate::init_logs();
    let fake = Arc::new(Fake::default());
    let (address, fake_server) = start_fake(fake.clone());
    let mut env = TestEnv::new().await.unwrap();
    env.config.ffsecurity.sf_api_address = address;
    env.config.facerouter.recognition_backend = RecognitionBackend::Sfapi;
    env.config.facerouter.sfapi_timeout_ms = 200;
    env.config.facerouter.sfapi_retries = 1;
    env.config.facerouter.sfapi_breaker_failures = 2;
    env.config.facerouter.sfapi_breaker_cooldown_ms = 60_000;
    let stack = Stack::start(&mut env).await.unwrap();
    let camera = stack.create("/cameras/", json!({"name": "Cam"})).await.unwrap()["id"].as_i64().unwrap();
    let list = stack.create("/dossier-lists/", json!({"name": "L"})).await.unwrap()["id"].as_i64().unwrap();
    let dossier = enroll(&stack, "Carl", &[list], &axis(DIM, 0)).await;
    stack.wait_gallery(1.0, 1.0).await.unwrap();
    let url = stack.ingest.url("/video-detector/frame/");
    // The worker sends no vector: the recognition service supplies it.
    let post = || async { Face::new(camera, None).post(&stack.client, &url, Some(WORKER_TOKEN)).await.unwrap() };

    let response = post().await;
    assert_eq!(response.status(), 200);
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(accepted["matched_dossier"], dossier);
    let event = stored_event(&stack, accepted["event_id"].as_str().unwrap()).await;
    assert_eq!(event["features"]["gender"]["name"], "male");
    assert!((event["features"]["gender"]["confidence"].as_f64().unwrap() - 0.93).abs() < 1e-6);
    assert_eq!(event["features"]["age"]["name"], 42.0);
    assert_eq!(event["features"]["emotions"]["name"], "happy");
    let query = fake.queries.lock().unwrap()[0].clone();
    for flag in ["detector=normalized", "facen=true", "gender=true", "age=true", "emotions=true", "attribute=beard"] {
        assert!(query.contains(flag), "{query} lacks {flag}");
    }
    // A crop the service refuses is the worker's problem: 400, and the breaker stays closed.
    let refused = Face { crop: b"\x89PNG\r\n\x1a\n....".to_vec(), ..Face::new(camera, None) };
    let (status, body) = error_of(refused.post(&stack.client, &url, Some(WORKER_TOKEN)).await.unwrap()).await;
    assert_eq!((status, body["param"].as_str()), (400, Some("normalized")), "{body}");

    // Too slow: each request gives up after the timeout and one retry, well inside the worker's 3 s.
    fake.mode.store(1, Ordering::SeqCst);
    let before = fake.calls.load(Ordering::SeqCst);
    let started = Instant::now();
    let (status, body) = error_of(post().await).await;
    assert_eq!((status, body["code"].as_str()), (503, Some("SERVICE_UNAVAILABLE")));
    assert!(started.elapsed() < Duration::from_millis(1500), "took {:?}", started.elapsed());
    assert_eq!(fake.calls.load(Ordering::SeqCst) - before, 2, "one call and one retry");
    // Failing: the second failed request opens the breaker...
    fake.mode.store(2, Ordering::SeqCst);
    assert_eq!(post().await.status(), 503);
    // ...after which requests are refused at once, without calling the service.
    let calls = fake.calls.load(Ordering::SeqCst);
    let started = Instant::now();
    assert_eq!(post().await.status(), 503);
    assert!(started.elapsed() < Duration::from_millis(150), "took {:?}", started.elapsed());
    assert_eq!(fake.calls.load(Ordering::SeqCst), calls, "open breaker: no call");

    stack.stop().await.unwrap();
    fake_server.stop(false).await;
    env.cleanup().await.unwrap();
}
