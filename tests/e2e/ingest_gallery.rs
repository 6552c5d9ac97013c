//! The gallery follows gateway-api's changes without full reloads, per-list thresholds decide
//! matches, and IGNORE_UNMATCHED drops strangers before anything is stored.

use domain::config::GalleryIndex;
use ffsec_tests::env::WORKER_TOKEN;
use ffsec_tests::service::metric;
use ffsec_tests::worker::{Face, facen};
use ffsec_tests::{Stack, TestEnv};
use serde_json::{Value, json};

use crate::ingest_support::{at_cosine, axis, enroll, metric_with, stored_event};

const DIM: usize = 16;

async fn post(stack: &Stack, camera: i64, vector: &[f32]) -> Value {
    let face = Face::new(camera, Some(facen(vector)));
    let response =
        face.post(&stack.client, &stack.ingest.url("/video-detector/frame/"), Some(WORKER_TOKEN)).await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_face_enrolled_while_ingest_runs_matches_without_a_full_reload() {
    enrolled_while_running(GalleryIndex::Flat).await;
}

/// The same with the IVF index configured: a gallery this small is answered by its exact
/// fallback, and the updater's training check runs after each change.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_face_enrolled_while_ingest_runs_matches_with_the_ivf_index() {
    enrolled_while_running(GalleryIndex::Ivf).await;
}

async fn enrolled_while_running(index: GalleryIndex) {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    env.config.facerouter.gallery_index = index;
    let stack = Stack::start(&mut env).await.unwrap();
    let camera = stack.create("/cameras/", json!({"name": "Door"})).await.unwrap()["id"].as_i64().unwrap();
    let list = stack.create("/dossier-lists/", json!({"name": "Wanted"})).await.unwrap()["id"].as_i64().unwrap();
    enroll(&stack, "First", &[list], &axis(DIM, 0)).await;
    stack.wait_gallery(1.0, 1.0).await.unwrap();
    let reloads = metric(&stack.ingest, "ffsec_ingest_gallery_reloads_total").await.unwrap();

    assert_eq!(post(&stack, camera, &axis(DIM, 5)).await["matched"], false);
    let dossier = enroll(&stack, "Second", &[list], &axis(DIM, 5)).await;
    stack.wait_gallery(1.0, 2.0).await.unwrap();
    let accepted = post(&stack, camera, &at_cosine(DIM, 5, 6, 0.9)).await;
    assert_eq!(accepted["matched"], true);
    assert_eq!(accepted["matched_dossier"], dossier);
    assert!((accepted["confidence"].as_f64().unwrap() - 0.9).abs() < 1e-4);
    assert_eq!(metric(&stack.ingest, "ffsec_ingest_gallery_reloads_total").await.unwrap(), reloads, "no full reload");
    assert!(metric(&stack.ingest, "ffsec_ingest_gallery_changes_total").await.unwrap() >= 2.0);

    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn list_thresholds_win_over_camera_and_global_ones() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    let stack = Stack::start(&mut env).await.unwrap();
    let camera = stack.create("/cameras/", json!({"name": "Default"})).await.unwrap()["id"].as_i64().unwrap();
    let lenient_camera =
        stack.create("/cameras/", json!({"name": "Lenient", "confidence_threshold": 0.5})).await.unwrap()["id"]
            .as_i64()
            .unwrap();
    let strict =
        stack.create("/dossier-lists/", json!({"name": "Strict", "confidence_threshold": 0.99})).await.unwrap();
    assert_eq!(strict["confidence_threshold"], 0.99);
    let lenient = stack.create("/dossier-lists/", json!({"name": "Loose", "confidence_threshold": 0.6})).await.unwrap();
    let plain = stack.create("/dossier-lists/", json!({"name": "Plain"})).await.unwrap();
    assert_eq!(plain["confidence_threshold"], Value::Null);
    let bad = stack
        .client
        .post(stack.gateway.url("/dossier-lists/"))
        .header("Authorization", format!("Token {}", stack.token))
        .json(&json!({"name": "Bad", "confidence_threshold": 1.5}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let id = |v: &Value| v["id"].as_i64().unwrap();
    let on_strict = enroll(&stack, "Strict one", &[id(&strict)], &axis(DIM, 0)).await;
    let on_lenient = enroll(&stack, "Loose one", &[id(&lenient)], &axis(DIM, 2)).await;
    let on_plain = enroll(&stack, "Plain one", &[id(&plain)], &axis(DIM, 4)).await;
    let on_both = enroll(&stack, "Both", &[id(&strict), id(&lenient)], &axis(DIM, 8)).await;
    stack.wait_gallery(2.0, 4.0).await.unwrap();

    // 0.95 is above the global 0.739 but below the strict list's 0.99.
    assert_eq!(post(&stack, camera, &at_cosine(DIM, 0, 1, 0.95)).await["matched"], false);
    assert_eq!(post(&stack, camera, &at_cosine(DIM, 0, 1, 0.995)).await["matched_dossier"], on_strict);
    // 0.65 is below the global threshold but above the lenient list's 0.6.
    assert_eq!(post(&stack, camera, &at_cosine(DIM, 2, 3, 0.65)).await["matched_dossier"], on_lenient);
    // A list without a threshold uses the camera's override, else the global one.
    assert_eq!(post(&stack, camera, &at_cosine(DIM, 4, 5, 0.55)).await["matched"], false);
    assert_eq!(post(&stack, lenient_camera, &at_cosine(DIM, 4, 5, 0.55)).await["matched_dossier"], on_plain);
    // The camera override does not loosen a list that has its own threshold.
    assert_eq!(post(&stack, lenient_camera, &at_cosine(DIM, 0, 1, 0.95)).await["matched"], false);
    // On two lists, the face matches through the one whose threshold it reaches, and only that
    // list is reported.
    let accepted = post(&stack, camera, &at_cosine(DIM, 8, 9, 0.7)).await;
    assert_eq!(accepted["matched_dossier"], on_both);
    let event = stored_event(&stack, accepted["event_id"].as_str().unwrap()).await;
    assert_eq!(event["matched_lists"], json!([id(&lenient)]));

    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ignore_unmatched_drops_strangers_before_storing_anything() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    env.config.ffsecurity.ignore_unmatched = true;
    let stack = Stack::start(&mut env).await.unwrap();
    let camera = stack.create("/cameras/", json!({"name": "Yard"})).await.unwrap()["id"].as_i64().unwrap();
    let list = stack.create("/dossier-lists/", json!({"name": "VIP"})).await.unwrap()["id"].as_i64().unwrap();
    enroll(&stack, "Known", &[list], &axis(DIM, 0)).await;
    stack.wait_gallery(1.0, 1.0).await.unwrap();

    for stranger in [axis(DIM, 3), axis(DIM, 4)] {
        let accepted = post(&stack, camera, &stranger).await;
        assert_eq!(accepted["event_id"], Value::Null);
        assert_eq!(accepted["matched"], false);
    }
    let known = post(&stack, camera, &axis(DIM, 0)).await;
    stored_event(&stack, known["event_id"].as_str().unwrap()).await;
    let page = stack.get("/events/faces/").await.unwrap();
    assert_eq!(page["count"], 1, "only the known face was recorded");
    let events_dir = env.media_root.join("events");
    let files: usize = walk(&events_dir);
    assert_eq!(files, 2, "crop and frame of the known face only");
    assert_eq!(metric_with(&stack.ingest, "ffsec_ingest_frames_total", &[("outcome", "ignored")]).await, 2.0);

    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

fn walk(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum()
}
