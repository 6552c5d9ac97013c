//! FACEROUTER.MEDIA_LAYOUT = "packs" through the real services: ingest appends a face's images to
//! its pack, gateway-api serves them from their ranges and retention punches them out.

use domain::config::MediaLayout;
use ffsec_tests::env::WORKER_TOKEN;
use ffsec_tests::worker::{Face, jpeg};
use ffsec_tests::{Stack, TestEnv};
use serde_json::{Value, json};

use crate::ingest_support::stored_event;

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.flatten().flat_map(|e| if e.path().is_dir() { files_under(&e.path()) } else { vec![e.path()] }).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn event_images_go_to_packs_and_are_served_and_purged_from_them() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    env.config.facerouter.media_layout = MediaLayout::Packs;
    let stack = Stack::start(&mut env).await.unwrap();
    let camera = stack.create("/cameras/", json!({"name": "Packs"})).await.unwrap()["id"].as_i64().unwrap();
    stack.wait_gallery(1.0, 0.0).await.unwrap();
    let url = stack.ingest.url("/video-detector/frame/");
    let mut events = Vec::new();
    for n in 0..3u8 {
        let mut face = Face::new(camera, None);
        face.crop = jpeg(10 + n);
        face.photo = Some(jpeg(20 + n));
        let response = face.post(&stack.client, &url, Some(WORKER_TOKEN)).await.unwrap();
        assert_eq!(response.status(), 200);
        let accepted: Value = response.json().await.unwrap();
        events.push((n, stored_event(&stack, accepted["event_id"].as_str().unwrap()).await));
    }

    let files = files_under(&env.media_root);
    assert_eq!(files.len(), 1, "one pack holds every image: {files:?}");
    assert!(files[0].extension().is_some_and(|e| e == "pack"), "{files:?}");
    for (n, event) in &events {
        for (field, bytes) in [("thumbnail", jpeg(10 + n)), ("fullframe", jpeg(20 + n))] {
            let link = event[field].as_str().unwrap();
            assert!(link.contains(".pack/"), "{field} names a range of the pack: {link}");
            let served = stack.client.get(link).send().await.unwrap();
            assert_eq!(served.status(), 200, "{field} {link}");
            assert_eq!(served.headers()["content-type"], "image/jpeg");
            let etag = served.headers()["etag"].to_str().unwrap().to_string();
            assert_eq!(served.bytes().await.unwrap().to_vec(), bytes, "{field} {link}");
            let cached = stack.client.get(link).header("If-None-Match", &etag).send().await.unwrap();
            assert_eq!(cached.status(), 304, "{field} revalidated");
        }
    }

    // Retention punches each image out of the pack; the pack itself stays while ingest may
    // still append to it.
    let store = domain::media::from_config(&env.config).unwrap();
    let pool = domain::db::pool(&env.config).unwrap();
    let purged = gateway_api::retention::purge(&pool, store.as_ref(), (0, 0), 100).await.unwrap();
    assert_eq!(purged, gateway_api::retention::Purged { events: 3, files: 6 });
    for (_, event) in &events {
        for field in ["thumbnail", "fullframe"] {
            let gone = stack.client.get(event[field].as_str().unwrap()).send().await.unwrap();
            assert_eq!(gone.status(), 404, "the purged {field} is no longer served");
        }
    }
    assert_eq!(files_under(&env.media_root), files, "the open pack stays");

    // The next face goes on into the same pack.
    let response = Face::new(camera, None).post(&stack.client, &url, Some(WORKER_TOKEN)).await.unwrap();
    assert_eq!(response.status(), 200);
    let accepted: Value = response.json().await.unwrap();
    let event = stored_event(&stack, accepted["event_id"].as_str().unwrap()).await;
    let served = stack.client.get(event["thumbnail"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(served.bytes().await.unwrap().to_vec(), jpeg(1));
    assert_eq!(files_under(&env.media_root), files);

    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}
