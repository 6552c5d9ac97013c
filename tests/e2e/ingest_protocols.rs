//! Every worker protocol of wire doc §1 beyond the walking skeleton: the legacy camera list, the
//! external detector endpoint with per-camera tokens, the frame form's variants, image limits.

use ffsec_tests::env::WORKER_TOKEN;
use ffsec_tests::worker::{Face, facen, jpeg};
use ffsec_tests::{Stack, TestEnv};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::ingest_support::{axis, enroll, error_of, metric_with, stored_event};

const DIM: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn legacy_detectors_list_cameras_with_the_worker_token() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    let stack = Stack::start(&mut env).await.unwrap();
    let gate = stack
        .create("/cameras/", json!({"name": "Gate", "url": "rtsp://cam/gate", "roi": "10,10,500,400"}))
        .await
        .unwrap();
    let off = stack.create("/cameras/", json!({"name": "Off", "active": false})).await.unwrap();
    stack.wait_gallery(2.0, 0.0).await.unwrap();

    let url = stack.ingest.url("/video-detector/cameras/");
    let (status, body) = error_of(stack.client.get(&url).send().await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("UNAUTHORIZED")));
    let response =
        stack.client.get(&url).header("Authorization", format!("Token {WORKER_TOKEN}")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let cameras: Vec<Value> = response.json().await.unwrap();
    assert_eq!(cameras.len(), 2);
    assert_eq!(cameras[0]["id"], gate["id"]);
    assert_eq!(cameras[0]["name"], "Gate");
    assert_eq!(cameras[0]["url"], "rtsp://cam/gate");
    assert_eq!(cameras[0]["roi"], "10,10,500,400");
    assert_eq!((cameras[0]["enabled"].as_bool(), cameras[0]["active"].as_bool()), (Some(true), Some(true)));
    assert_eq!(cameras[1]["id"], off["id"]);
    assert_eq!(cameras[1]["enabled"], false);

    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

fn external_form(camera: i64, token: &str) -> Form {
    Form::new()
        .text("camera", camera.to_string())
        .text("token", token.to_string())
        .text("mf_selector", "all")
        .text("rotate", "true")
        .text("roi", "[0, 0, 640, 480]")
        .text("timestamp", "2026-11-26T12:00:00+02:00")
        .part("fullframe", Part::bytes(jpeg(3)).file_name("fullframe"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn external_detectors_post_full_frames_with_the_camera_token() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    let stack = Stack::start(&mut env).await.unwrap();
    let camera = stack.create("/cameras/", json!({"name": "Lobby"})).await.unwrap();
    let camera_id = camera["id"].as_i64().unwrap();
    let token = camera["external_detector_token"].as_str().unwrap().to_string();
    let other = stack.create("/cameras/", json!({"name": "Other"})).await.unwrap();
    let list = stack.create("/dossier-lists/", json!({"name": "Staff"})).await.unwrap();
    let dossier = enroll(&stack, "Bob", &[list["id"].as_i64().unwrap()], &axis(DIM, 0)).await;
    stack.wait_gallery(2.0, 1.0).await.unwrap();
    let url = stack.ingest.url("/events/faces/add/");
    let post = |form: Form| stack.client.post(&url).multipart(form).send();

    // Another camera's token, the worker token and an unknown camera are all refused alike.
    for form in [
        external_form(camera_id, other["external_detector_token"].as_str().unwrap()),
        external_form(camera_id, WORKER_TOKEN),
        external_form(999_999, &token),
    ] {
        let (status, body) = error_of(post(form).await.unwrap()).await;
        assert_eq!((status, body["code"].as_str()), (403, Some("PERMISSION_DENIED")), "{body}");
        assert!(body["desc"].as_str().is_some_and(|d| !d.is_empty()));
    }
    let (status, body) =
        error_of(post(external_form(camera_id, &token).text("mf_selector", "most")).await.unwrap()).await;
    assert_eq!((status, body["param"].as_str()), (400, Some("mf_selector")), "{body}");

    // Without a detector of our own, a bare frame comes back as an error entry.
    let response = post(external_form(camera_id, &token)).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["events"], json!([]));
    assert_eq!(body["errors"][0]["param"], "facen", "{body}");

    // With the face's bbox and vector (our extension) it becomes a matched event.
    let form = external_form(camera_id, &token).text("bbox", "[[5, 6, 105, 126]]").text("facen", facen(&axis(DIM, 0)));
    let response = post(form).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"], json!([]));
    let id = body["events"][0].as_str().unwrap().to_string();
    let event = stored_event(&stack, &id).await;
    assert_eq!(event["camera"], camera_id);
    assert_eq!(event["matched_dossier"], dossier);
    assert_eq!(event["created_date"], "2026-11-26T10:00:00Z");
    assert_eq!(event["frame_coords_left"], 5);
    assert_eq!(event["detector_params"], json!({"mf_selector": "all", "rotate": true, "roi": [0, 0, 640, 480]}));
    assert_eq!(event["thumbnail"], event["fullframe"], "the frame is stored once, for both roles");
    let stored = stack.client.get(event["fullframe"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(stored.bytes().await.unwrap().to_vec(), jpeg(3));
    assert_eq!(metric_with(&stack.ingest, "ffsec_ingest_frames_total", &[("reason", "token")]).await, 3.0);
    assert_eq!(metric_with(&stack.ingest, "ffsec_ingest_frames_total", &[("reason", "no_detector")]).await, 1.0);

    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

/// A PNG whose header declares `width` x `height` (nothing after the header: nobody decodes it).
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    png.extend(width.to_be_bytes());
    png.extend(height.to_be_bytes());
    png.extend([8, 2, 0, 0, 0, 0, 0, 0, 0]);
    png
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn frame_variants_and_image_limits() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    env.config.facerouter.max_image_bytes = 4096;
    env.config.facerouter.max_image_pixels = 1_000_000;
    let stack = Stack::start(&mut env).await.unwrap();
    let camera = stack.create("/cameras/", json!({"name": "Hall"})).await.unwrap();
    let camera_id = camera["id"].as_i64().unwrap();
    stack.wait_gallery(1.0, 0.0).await.unwrap();
    let url = stack.ingest.url("/video-detector/frame/");
    let token = Some(WORKER_TOKEN);

    // An offset timestamp, a realtime shot, the vector as a JSON array and attribute scores.
    let mut face = Face::new(camera_id, Some(serde_json::to_string(&axis(DIM, 3)).unwrap()));
    face.timestamp = Some("2026-11-26T10:00:00.250-05:00".into());
    let form = face
        .form()
        .text("bs_type", "realtime")
        .text("attributes", r#"{"gender": {"name": "female", "confidence": 0.9}, "beard": 0.2, "liveness": 0.99}"#);
    let response = stack
        .client
        .post(&url)
        .header("Authorization", format!("Token {WORKER_TOKEN}"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let accepted: Value = response.json().await.unwrap();
    let event = stored_event(&stack, accepted["event_id"].as_str().unwrap()).await;
    assert_eq!(event["created_date"], "2026-11-26T15:00:00.250Z");
    assert_eq!(event["bs_type"], "realtime");
    assert_eq!(event["features"]["gender"]["name"], "female");
    assert_eq!(event["features"]["beard"]["name"], "none", "0.2 is below BEARD_THRESHOLD");
    assert!(event["features"].get("liveness").is_none(), "liveness is not in the default EVENTS_FEATURES");

    // A crop declaring 2000 x 2000 pixels, and a frame over MAX_IMAGE_BYTES.
    let huge = Face { crop: png_declaring(2000, 2000), ..Face::new(camera_id, None) };
    let (status, body) = error_of(huge.post(&stack.client, &url, token).await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str(), body["param"].as_str()),
        (413, Some("PAYLOAD_TOO_LARGE"), Some("normalized"))
    );
    let mut big = jpeg(9);
    big.resize(8192, 0);
    let heavy = Face { photo: Some(big), ..Face::new(camera_id, None) };
    let (status, body) = error_of(heavy.post(&stack.client, &url, token).await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str(), body["param"].as_str()),
        (413, Some("PAYLOAD_TOO_LARGE"), Some("photo"))
    );
    // A small declared size passes.
    let fine = Face { crop: png_declaring(100, 120), ..Face::new(camera_id, None) };
    assert_eq!(fine.post(&stack.client, &url, token).await.unwrap().status(), 200);
    assert_eq!(metric_with(&stack.ingest, "ffsec_ingest_frames_total", &[("outcome", "accepted")]).await, 2.0);
    assert_eq!(metric_with(&stack.ingest, "ffsec_ingest_frames_total", &[("outcome", "rejected")]).await, 2.0);
    assert!(metric_with(&stack.ingest, "ffsec_ingest_stage_seconds_count", &[("stage", "publish")]).await >= 2.0);

    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}
