//! One matching and one unmatched face from a worker, all the way to PostgreSQL, a live WebSocket
//! client and a signed webhook.

use std::collections::HashSet;
use std::time::Duration;

use ffsec_tests::worker::{Face, facen, vector};
use ffsec_tests::{Receiver, Stack, TestEnv, wait_until};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const DIM: usize = 128;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_face_reaches_the_database_the_websocket_and_a_signed_webhook() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    let stack = Stack::start(&mut env).await.unwrap();

    // Operator set-up: a camera, a watch list, a dossier with one enrolled face, a hook.
    let camera = stack.create("/cameras/", json!({"name": "Entrance", "active": "true"})).await.unwrap();
    let camera_id = camera["id"].as_i64().unwrap();
    let list = stack.create("/dossier-lists/", json!({"name": "VIP", "color": "ff0000"})).await.unwrap();
    let dossier = stack.create("/dossiers/", json!({"name": "Alice", "dossier_lists": [list["id"]]})).await.unwrap();
    let dossier_id = dossier["id"].as_i64().unwrap();
    stack.enroll_face(dossier_id, facen(&vector(DIM, 0, 1, 0.0)), ffsec_tests::worker::jpeg(7)).await.unwrap();
    // The receiver refuses its first request, so the event reaches it through a retry.
    let receiver = Receiver::start(1).unwrap();
    let hook = stack.create("/hooks/", json!({"name": "all", "url": receiver.url(), "filters": {}})).await.unwrap();
    let secret = hook["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    stack.wait_gallery(1.0, 1.0).await.unwrap();
    stack.wait_hooks(1.0).await.unwrap();

    // A web client on the live feed, authenticated as the wire doc says.
    let ws_url = format!("ws://{}/events/", stack.gateway.addr);
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    let auth = json!({"type": "auth", "data": {"token": stack.token, "msg_groups": {"ws_events": true}}});
    socket.send(Message::text(auth.to_string())).await.unwrap();

    // The worker posts a face like Alice's (cosine 0.995) and a stranger's (orthogonal).
    let url = stack.ingest.url("/video-detector/frame/");
    let token = Some(ffsec_tests::env::WORKER_TOKEN);
    let matching = Face::new(camera_id, Some(facen(&vector(DIM, 0, 1, 0.1))));
    let response = matching.post(&stack.client, &url, token).await.unwrap();
    assert_eq!(response.status(), 200);
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(accepted["matched"], true);
    let matched_id = accepted["event_id"].as_str().unwrap().to_string();
    let mut stranger = Face::new(camera_id, Some(facen(&vector(DIM, 5, 6, 0.0))));
    // Seen a second later: id order is detection order.
    stranger.timestamp = Some("2026-11-26T10:00:01".into());
    stranger.crop_name = Some("face0");
    let response =
        stranger.post(&stack.client, stack.ingest.url("/video-detector/frame").as_str(), token).await.unwrap();
    assert_eq!(response.status(), 200);
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(accepted["matched"], false);
    let stranger_id = accepted["event_id"].as_str().unwrap().to_string();

    // Both events are stored, newest first, with the right match.
    let events = wait_until("both events in GET /events/faces/", Duration::from_secs(10), || async {
        let page = stack.get("/events/faces/").await.ok()?;
        (page["count"] == 2).then_some(page)
    })
    .await
    .unwrap();
    let results = events["results"].as_array().unwrap();
    assert_eq!(results[0]["id"], stranger_id.as_str(), "newest first");
    assert_eq!(results[1]["id"], matched_id.as_str());
    let matched = &results[1];
    assert_eq!(matched["matched"], true);
    assert_eq!(matched["matched_dossier"], dossier_id);
    assert_eq!(matched["matched_lists"], json!([list["id"]]));
    assert!((matched["confidence"].as_f64().unwrap() - 0.995).abs() < 1e-3, "{}", matched["confidence"]);
    assert_eq!(matched["camera"], camera_id);
    assert_eq!(matched["frame_coords_left"], 10);
    assert_eq!(matched["created_date"], "2026-11-26T10:00:00Z");
    let unmatched = &results[0];
    assert_eq!(unmatched["matched"], false);
    assert_eq!(unmatched["matched_dossier"], Value::Null);
    assert_eq!(unmatched["confidence"], 0.0);
    // The face crop is served where the event says.
    let crop = stack.client.get(matched["thumbnail"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(crop.status(), 200);
    assert_eq!(crop.bytes().await.unwrap().to_vec(), ffsec_tests::worker::jpeg(1));
    // Filters.
    let only_matched = stack.get("/events/faces/?matched=true").await.unwrap();
    assert_eq!(only_matched["count"], 1);
    assert_eq!(only_matched["results"][0]["id"], matched_id.as_str());
    let by_camera = stack.get(&format!("/events/faces/?cameras={}&limit=1", camera_id)).await.unwrap();
    assert_eq!(by_camera["count"], 2);
    let next = by_camera["next_page"].as_str().unwrap();
    let second = stack.client.get(next).header("Authorization", format!("Token {}", stack.token)).send().await.unwrap();
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["results"][0]["id"], matched_id.as_str());
    assert_eq!(second["next_page"], Value::Null);

    // The live client got event_created for both.
    let mut seen = HashSet::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while seen.len() < 2 {
            let Some(Ok(Message::Text(text))) = socket.next().await else { panic!("socket closed") };
            let frame: Value = serde_json::from_str(&text).unwrap();
            if frame["type"] == "event_created" {
                seen.insert(frame["data"]["id"].as_str().unwrap().to_string());
            }
        }
    })
    .await
    .expect("event_created frames for both events");
    assert_eq!(seen, HashSet::from([matched_id.clone(), stranger_id.clone()]));

    // The receiver got both (one through a retry), each signature verified independently.
    let delivered = wait_until("both events at the webhook receiver", Duration::from_secs(15), || {
        let received = receiver.received();
        async move {
            let ok: Vec<_> = received.into_iter().filter(|r| r.status == 200).collect();
            (ok.len() >= 2).then_some(ok)
        }
    })
    .await
    .unwrap();
    let verifier = standardwebhooks::Webhook::new(&secret).unwrap();
    let mut delivered_ids = HashSet::new();
    for request in &delivered {
        verifier.verify(&request.body, &request.headers).expect("signature verifies");
        let batch: Value = serde_json::from_slice(&request.body).unwrap();
        let event = &batch.as_array().unwrap()[0];
        delivered_ids.insert(event["id"].as_str().unwrap().to_string());
        assert_eq!(event["camera"], json!({"id": camera_id, "name": "Entrance"}));
        if event["id"] == matched_id.as_str() {
            assert_eq!(event["matched_dossier"], json!({"id": dossier_id, "name": "Alice"}));
            assert_eq!(event["matched_lists"], json!([{"id": list["id"], "name": "VIP"}]));
            assert!(event["dossier_photo"].as_str().unwrap().starts_with("http://"));
        } else {
            assert_eq!(event["matched_dossier"], Value::Null);
        }
        let thumbnail = event["thumbnail"].as_str().unwrap();
        assert!(thumbnail.starts_with(&format!("http://{}/uploads/", stack.gateway.addr)));
        // A receiver has no token: the link is signed (with the SECRET_KEY both services share).
        let image = reqwest::get(thumbnail).await.unwrap();
        assert_eq!(image.status(), 200, "{thumbnail}");
        assert_eq!(image.headers()["content-type"], "image/jpeg");
    }
    assert_eq!(delivered_ids, HashSet::from([matched_id.clone(), stranger_id.clone()]));
    // The refused first attempt was retried under the same webhook-id.
    let all = receiver.received();
    let refused = all.iter().find(|r| r.status == 503).expect("the first request was refused");
    let refused_id = refused.headers["webhook-id"].clone();
    assert!(delivered.iter().any(|r| r.headers["webhook-id"] == refused_id));

    receiver.stop().await;
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}
