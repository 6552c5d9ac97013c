//! Watch lists and dossier faces edited through gateway-api: CRUD and validation against real
//! PostgreSQL, and every change reaching ingest's gallery at once (matching starts or stops).

use std::time::Duration;

use ffsec_tests::env::WORKER_TOKEN;
use ffsec_tests::worker::{Face, facen};
use ffsec_tests::{Stack, TestEnv, wait_until};
use reqwest::Method;
use serde_json::{Value, json};

use crate::ingest_support::{axis, enroll};

const DIM: usize = 16;

async fn call(stack: &Stack, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request =
        stack.client.request(method, stack.gateway.url(path)).header("Authorization", format!("Token {}", stack.token));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Posts `vector` until ingest's answer names `expected` as the matched dossier (None: no match);
/// each change reaches ingest as a bus notice, so the first posts may still see the old gallery.
async fn wait_match(stack: &Stack, camera: i64, vector: &[f32], expected: Option<i64>) {
    let url = stack.ingest.url("/video-detector/frame/");
    let want = expected.map_or(Value::Null, Value::from);
    wait_until(&format!("ingest to match {expected:?}"), Duration::from_secs(10), || async {
        let face = Face::new(camera, Some(facen(vector)));
        let response = face.post(&stack.client, &url, Some(WORKER_TOKEN)).await.ok()?;
        let accepted: Value = response.json().await.ok()?;
        (accepted["matched_dossier"] == want).then_some(())
    })
    .await
    .unwrap();
}

async fn face_of(stack: &Stack, dossier: i64) -> Value {
    let page = stack.get(&format!("/dossier-faces/?dossier={dossier}")).await.unwrap();
    page["results"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dossier_lists_and_faces_edit_validate_and_reach_ingest() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    let stack = Stack::start(&mut env).await.unwrap();
    let camera = stack.create("/cameras/", json!({"name": "Hall"})).await.unwrap()["id"].as_i64().unwrap();
    let a = stack.create("/dossier-lists/", json!({"name": "A"})).await.unwrap()["id"].as_i64().unwrap();
    let b = stack.create("/dossier-lists/", json!({"name": "B"})).await.unwrap()["id"].as_i64().unwrap();

    // Dossier lists: read, validation naming the parameter, edits, clearing the threshold.
    let (status, list) = call(&stack, Method::GET, &format!("/dossier-lists/{a}/"), None).await;
    assert_eq!((status, list["name"].as_str(), list["color"].as_str()), (200, Some("A"), Some("ffffff")));
    for path in ["/dossier-lists/999999/", "/dossier-lists/abc/"] {
        let (status, body) = call(&stack, Method::GET, path, None).await;
        assert_eq!((status, body["code"].as_str()), (404, Some("NOT_FOUND")), "{path}");
    }
    for (body, param) in [
        (json!({"color": "zz"}), "color"),
        (json!({"confidence_threshold": 2}), "confidence_threshold"),
        (json!({"name": " "}), "name"),
        (json!({"name": 5}), "body"),
    ] {
        let (status, reply) = call(&stack, Method::PATCH, &format!("/dossier-lists/{a}/"), Some(body.clone())).await;
        assert_eq!((status, reply["code"].as_str()), (400, Some("BAD_PARAM")), "{body}");
        assert_eq!(reply["param"].as_str().unwrap_or("body"), param, "{body}: {reply}");
    }
    let (status, list) = call(
        &stack,
        Method::PATCH,
        &format!("/dossier-lists/{a}/"),
        Some(json!({"comment": "watched", "confidence_threshold": 0.9, "color": "ff0000"})),
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!((list["name"].as_str(), list["comment"].as_str()), (Some("A"), Some("watched")));
    assert_eq!((list["confidence_threshold"].as_f64(), list["color"].as_str()), (Some(0.9), Some("ff0000")));
    let (_, list) =
        call(&stack, Method::PATCH, &format!("/dossier-lists/{a}/"), Some(json!({"confidence_threshold": null}))).await;
    assert_eq!((list["confidence_threshold"].clone(), list["comment"].as_str()), (Value::Null, Some("watched")));

    // Dossier faces: read, validation, deactivation and deletion reach ingest.
    let first = enroll(&stack, "First", &[a], &axis(DIM, 0)).await;
    wait_match(&stack, camera, &axis(DIM, 0), Some(first)).await;
    let face = face_of(&stack, first).await;
    let face_id = face["id"].as_i64().unwrap();
    let (status, got) = call(&stack, Method::GET, &format!("/dossier-faces/{face_id}/"), None).await;
    assert_eq!((status, got["dossier"].as_i64(), got["active"].as_bool()), (200, Some(first), Some(true)));
    for (body, param) in [(json!({}), "active"), (json!({"quality": 1}), "quality"), (json!({"active": "x"}), "body")] {
        let (status, reply) =
            call(&stack, Method::PATCH, &format!("/dossier-faces/{face_id}/"), Some(body.clone())).await;
        assert_eq!((status, reply["code"].as_str()), (400, Some("BAD_PARAM")), "{body}");
        assert_eq!(reply["param"].as_str().unwrap_or("body"), param, "{body}: {reply}");
    }
    let (status, got) =
        call(&stack, Method::PATCH, &format!("/dossier-faces/{face_id}/"), Some(json!({"active": "false"}))).await;
    assert_eq!((status, got["active"].as_bool()), (200, Some(false)));
    wait_match(&stack, camera, &axis(DIM, 0), None).await;
    call(&stack, Method::PATCH, &format!("/dossier-faces/{face_id}/"), Some(json!({"active": true}))).await;
    wait_match(&stack, camera, &axis(DIM, 0), Some(first)).await;
    let photo = env.media_root.join(format!("dossiers/{first}"));
    assert_eq!(std::fs::read_dir(&photo).unwrap().count(), 1);
    let (status, _) = call(&stack, Method::DELETE, &format!("/dossier-faces/{face_id}/"), None).await;
    assert_eq!(status, 204);
    wait_match(&stack, camera, &axis(DIM, 0), None).await;
    assert!(!photo.exists(), "the photo file went with the face, and its emptied directory too");
    for method in [Method::GET, Method::DELETE] {
        let (status, _) = call(&stack, method.clone(), &format!("/dossier-faces/{face_id}/"), None).await;
        assert_eq!(status, 404, "{method} after delete");
    }

    // Purge: dossiers only on A go (with faces), a dossier also on B just leaves A.
    let only_a = enroll(&stack, "Only A", &[a], &axis(DIM, 2)).await;
    let both = enroll(&stack, "Both", &[a, b], &axis(DIM, 4)).await;
    wait_match(&stack, camera, &axis(DIM, 2), Some(only_a)).await;
    let (status, purged) = call(&stack, Method::POST, &format!("/dossier-lists/{a}/purge/"), None).await;
    assert_eq!(status, 200, "{purged}");
    let mut deleted: Vec<i64> =
        purged["deleted_dossiers"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    deleted.sort_unstable();
    assert_eq!(deleted, vec![first, only_a]);
    assert_eq!(purged["unlisted_dossiers"], 1);
    wait_match(&stack, camera, &axis(DIM, 2), None).await;
    wait_match(&stack, camera, &axis(DIM, 4), Some(both)).await;
    let (status, _) = call(&stack, Method::GET, &format!("/dossiers/{only_a}/"), None).await;
    assert_eq!(status, 404);
    let (_, kept) = call(&stack, Method::GET, &format!("/dossiers/{both}/"), None).await;
    assert_eq!(kept["dossier_lists"], json!([b]));
    let (status, list) = call(&stack, Method::GET, &format!("/dossier-lists/{a}/"), None).await;
    assert_eq!((status, list["name"].as_str()), (200, Some("A")), "the list itself stays");
    let (status, _) = call(&stack, Method::POST, "/dossier-lists/999999/purge/", None).await;
    assert_eq!(status, 404);

    // An inactive list stops matching; a deleted one too, and its dossiers stay.
    call(&stack, Method::PATCH, &format!("/dossier-lists/{b}/"), Some(json!({"active": false}))).await;
    wait_match(&stack, camera, &axis(DIM, 4), None).await;
    call(&stack, Method::PATCH, &format!("/dossier-lists/{b}/"), Some(json!({"active": "true"}))).await;
    wait_match(&stack, camera, &axis(DIM, 4), Some(both)).await;
    let (status, _) = call(&stack, Method::DELETE, &format!("/dossier-lists/{b}/"), None).await;
    assert_eq!(status, 204);
    wait_match(&stack, camera, &axis(DIM, 4), None).await;
    let (status, kept) = call(&stack, Method::GET, &format!("/dossiers/{both}/"), None).await;
    assert_eq!((status, kept["dossier_lists"].clone()), (200, json!([])));
    for method in [Method::GET, Method::DELETE] {
        let (status, _) = call(&stack, method.clone(), &format!("/dossier-lists/{b}/"), None).await;
        assert_eq!(status, 404, "{method} after delete");
    }

    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

/// A dossier face written where no notice follows it (straight into PostgreSQL here; in service, a
/// replica whose bus link went down after its commit) reaches ingest's gallery and gateway-api's
/// dossier search index by their periodic re-read, FACEROUTER.GALLERY_RESYNC_SECONDS.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_face_whose_notice_was_lost_arrives_with_the_periodic_resync() {
    use diesel_async::RunQueryDsl;

    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    env.config.facerouter.gallery_resync_seconds = 1;
    let stack = Stack::start(&mut env).await.unwrap();
    let list = stack.create("/dossier-lists/", json!({"name": "Silent"})).await.unwrap()["id"].as_i64().unwrap();
    let first = enroll(&stack, "Announced", &[list], &axis(DIM, 0)).await;
    stack.wait_gallery(0.0, 1.0).await.unwrap();
    let held = |metric: &'static str| {
        let running = if metric.starts_with("ffsec_ingest") { &stack.ingest } else { &stack.gateway };
        async move { ffsec_tests::service::metric(running, metric).await }
    };
    wait_until("the dossier index to hold the announced face", Duration::from_secs(10), || async {
        (held("ffsec_dossier_index_faces").await == Some(1.0)).then_some(())
    })
    .await
    .unwrap();

    let mut conn = env.connect_db().await.unwrap();
    let values: Vec<String> = axis(DIM, 1).iter().map(|v| format!("{v}::real")).collect();
    let unannounced = diesel::sql_query(format!(
        "WITH d AS (INSERT INTO dossiers (name) VALUES ('Unannounced') RETURNING id), \
              m AS (INSERT INTO dossier_list_members (dossier_id, list_id) SELECT id, {list} FROM d), \
              f AS (INSERT INTO dossier_faces (dossier_id, embedding) SELECT id, ARRAY[{}] FROM d) \
         SELECT id FROM d",
        values.join(",")
    ))
    .get_result::<ffsec_tests::env::IdRow>(&mut conn)
    .await
    .unwrap()
    .id;
    for metric in ["ffsec_ingest_gallery_faces", "ffsec_dossier_index_faces"] {
        wait_until(&format!("{metric} to count the unannounced face"), Duration::from_secs(15), || async {
            (held(metric).await == Some(2.0)).then_some(())
        })
        .await
        .unwrap();
    }
    let camera = stack.create("/cameras/", json!({"name": "Door"})).await.unwrap()["id"].as_i64().unwrap();
    wait_match(&stack, camera, &axis(DIM, 1), Some(unannounced)).await;
    wait_match(&stack, camera, &axis(DIM, 0), Some(first)).await;
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}
