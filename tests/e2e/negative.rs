//! Bad input gets a clear error and leaves nothing behind.

use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use ffsec_tests::env::WORKER_TOKEN;
use ffsec_tests::stack::login;
use ffsec_tests::worker::{Face, facen, vector};
use ffsec_tests::{Stack, TestEnv, wait_until};
use serde_json::{Value, json};

async fn error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn files_under(root: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else { return 0 };
    entries.flatten().map(|e| if e.path().is_dir() { files_under(&e.path()) } else { 1 }).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_worker_posts_are_refused_and_leave_nothing_behind() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    let stack = Stack::start(&mut env).await.unwrap();
    let camera = stack.create("/cameras/", json!({"name": "Gate"})).await.unwrap();
    let camera_id = camera["id"].as_i64().unwrap();
    let inactive = stack.create("/cameras/", json!({"name": "Off", "active": false})).await.unwrap();
    stack.wait_gallery(2.0, 0.0).await.unwrap();
    let url = stack.ingest.url("/video-detector/frame");
    let client = &stack.client;
    let good = || Face::new(camera_id, Some(facen(&vector(8, 0, 1, 0.0))));

    let (status, body) = error_of(good().post(client, &url, None).await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("UNAUTHORIZED")));
    let (status, body) = error_of(good().post(client, &url, Some("wrong-token")).await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("UNAUTHORIZED")));

    let cases: Vec<(&str, Face)> = vec![
        ("cam_id", Face { cam_id: "999999".into(), ..good() }),
        ("cam_id", Face { cam_id: inactive["id"].to_string(), ..good() }),
        ("cam_id", Face { cam_id: "abc".into(), ..good() }),
        ("normalized", Face { crop_name: None, ..good() }),
        ("normalized", Face { crop: b"not an image".to_vec(), ..good() }),
        ("bbox", Face { bbox: "[[10, 20, 5]]".into(), ..good() }),
        ("bbox", Face { bbox: "[[110, 20, 10, 140]]".into(), ..good() }),
        ("bbox", Face { bbox: "nonsense".into(), ..good() }),
        ("timestamp", Face { timestamp: Some("yesterday".into()), ..good() }),
        ("facen", Face { facen: Some("%%%".into()), ..good() }),
    ];
    for (param, face) in cases {
        let (status, body) = error_of(face.post(client, &url, Some(WORKER_TOKEN)).await.unwrap()).await;
        assert_eq!(status, 400, "{param}: {body}");
        assert_eq!(body["code"], "BAD_PARAM", "{param}: {body}");
        assert_eq!(body["param"], param, "{body}");
        assert!(body["desc"].as_str().is_some_and(|d| !d.is_empty()));
    }
    assert_eq!(files_under(&env.media_root), 0, "a refused face stored no image");

    // One good face after all the bad ones: once it is stored, nothing else was published before it.
    let response = good().post(client, &url, Some(WORKER_TOKEN)).await.unwrap();
    assert_eq!(response.status(), 200);
    wait_until("the good event to be stored", Duration::from_secs(10), || async {
        (stack.get("/events/faces/").await.ok()?["count"] == 1).then_some(())
    })
    .await
    .unwrap();
    let mut conn = env.connect_db().await.unwrap();
    let stored: i64 = domain::schema::face_events::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(stored, 1);
    assert_eq!(files_under(&env.media_root), 2, "crop and frame of the one good face");

    // Login with a wrong password.
    let error = login(client, &stack.gateway, "admin", "wrong").await.unwrap_err();
    assert!(error.to_string().contains("401"), "{error}");
    let response = client.post(stack.gateway.url("/auth/login/")).basic_auth("nobody", Some("x")).send().await.unwrap();
    let (status, body) = error_of(response).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("UNAUTHORIZED")));
    // And API calls without a token.
    let (status, body) = error_of(client.get(stack.gateway.url("/events/faces/")).send().await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("UNAUTHORIZED")));

    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}
