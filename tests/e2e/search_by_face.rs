//! Search by face (issue 11, first increment) on real photos with the built-in recognizer:
//! `POST /detect/` with none, one and several faces and its errors, `GET /verify`, dossier faces
//! created from a detection, detections that expired, the 4.x `/objects/faces/` names answering
//! as their 2.x twins, and who may call what.

use std::collections::HashMap;
use std::time::Duration;

use diesel_async::RunQueryDsl;
use domain::config::RecognitionBackend;
use ffsec_tests::stack::login;
use ffsec_tests::{Stack, TestEnv};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::ingest_support::error_of;
use crate::recognizer_builtin::{group_frame, photo};

const THRESHOLD: f64 = domain::recognizer::RECOMMENDED_THRESHOLD as f64;

async fn send_form(stack: &Stack, token: &str, method: Method, path: &str, form: Form) -> (u16, Value) {
    let response = stack
        .client
        .request(method, stack.gateway.url(path))
        .header("Authorization", format!("Token {token}"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    error_of(response).await
}

/// `POST /detect/` with the photo. A 503 (the shared CI machine starving the gateway of its
/// database or inference thread) says "retry", so it is retried, as a client would, for a while.
async fn detect(stack: &Stack, token: &str, path: &str, bytes: Vec<u8>) -> (u16, Value) {
    ffsec_tests::wait_until("an answer other than 503 from POST /detect/", Duration::from_secs(60), || {
        let form = Form::new().part("photo", Part::bytes(bytes.clone()).file_name("photo.jpg"));
        async move {
            let (status, body) = send_form(stack, token, Method::POST, path, form).await;
            (status != 503).then_some((status, body))
        }
    })
    .await
    .unwrap()
}

/// The ids of every face `POST /detect/` finds in the photo.
async fn detection_ids(stack: &Stack, token: &str, bytes: Vec<u8>) -> Vec<String> {
    let (status, body) = detect(stack, token, "/detect/", bytes).await;
    assert_eq!(status, 200, "{body}");
    body["faces"].as_array().unwrap().iter().map(|f| format!("detection:{}", f["id"].as_str().unwrap())).collect()
}

async fn call(stack: &Stack, token: &str, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request =
        stack.client.request(method, stack.gateway.url(path)).header("Authorization", format!("Token {token}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    error_of(request.send().await.unwrap()).await
}

async fn confidence(stack: &Stack, token: &str, query: &str) -> f64 {
    let (status, body) = call(stack, token, Method::GET, &format!("/verify?{query}"), None).await;
    assert_eq!(status, 200, "{query}: {body}");
    let c = body["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&c), "{query}: {body}");
    c
}

/// A face's fields that do not depend on when it was read (its URLs are signed with the time).
fn stable(face: &Value) -> Value {
    let mut face = face.clone();
    for url in ["source_photo", "thumbnail"] {
        let signed = face[url].as_str().unwrap_or_default();
        face[url] = json!(signed.split('?').next());
    }
    face
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn search_by_face_detects_verifies_and_serves_the_4x_face_paths() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    env.config.facerouter.recognition_backend = RecognitionBackend::Builtin;
    env.config.recognizer.workers = 1;
    // Big enough for every test photo, small enough to test the limit cheaply.
    env.config.server.max_body_bytes = 1_000_000;
    let stack = Stack::start(&mut env).await.unwrap();
    let admin = stack.token.clone();
    for (name, role) in [("olga", "operator"), ("victor", "viewer")] {
        stack.create("/users/", json!({"username": name, "password": "password-1", "role": role})).await.unwrap();
    }
    let operator = login(&stack.client, &stack.gateway, "olga", "password-1").await.unwrap();
    let viewer = login(&stack.client, &stack.gateway, "victor", "password-1").await.unwrap();

    // Detect: one face, several faces (largest first), with and without the slash; viewers may.
    let (status, one) = detect(&stack, &viewer, "/detect/", photo("obama.jpg")).await;
    assert_eq!(status, 200, "{one}");
    let faces = one["faces"].as_array().unwrap();
    assert_eq!(faces.len(), 1, "{one}");
    let bbox = &faces[0]["bbox"];
    assert!(bbox["right"].as_i64().unwrap() > bbox["left"].as_i64().unwrap(), "{one}");
    assert!(bbox["bottom"].as_i64().unwrap() > bbox["top"].as_i64().unwrap(), "{one}");
    let score = faces[0]["detection_score"].as_f64().unwrap();
    assert!(score > 0.5 && score <= 1.0, "{one}");
    let (status, group) = detect(&stack, &viewer, "/detect", group_frame()).await;
    assert_eq!(status, 200, "{group}");
    let group = group["faces"].as_array().unwrap().clone();
    assert_eq!(group.len(), 3, "{group:?}");
    let lefts: Vec<i64> = group.iter().map(|f| f["bbox"]["left"].as_i64().unwrap()).collect();
    assert!(lefts[0] < lefts[1], "Obama's tile is the largest and leftmost: {lefts:?}");
    let mut ids: Vec<&str> = group.iter().map(|f| f["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 3, "{group:?}");

    // No face, not an image, no photo, too large: each its code, naming the part.
    for (bytes, status, code) in [
        (photo("coffee.png"), 400, "NO_FACE"),
        (b"GIF89a not an image we read".to_vec(), 400, "BAD_IMAGE"),
        (vec![0xFF; 1_200_000], 413, "PAYLOAD_TOO_LARGE"),
    ] {
        let (got, body) = detect(&stack, &viewer, "/detect/", bytes).await;
        assert_eq!((got, body["code"].as_str(), body["param"].as_str()), (status, Some(code), Some("photo")), "{body}");
    }
    let form = Form::new().text("image", "x");
    let (status, body) = send_form(&stack, &viewer, Method::POST, "/detect/", form).await;
    assert_eq!((status, body["code"].as_str(), body["param"].as_str()), (400, Some("BAD_PARAM"), Some("photo")));

    // Verify: the same man above the threshold, another man below, symmetric, bounded.
    let obama = format!("detection:{}", faces[0]["id"].as_str().unwrap());
    let obama2 = detection_ids(&stack, &viewer, photo("obama2.jpg")).await.remove(0);
    let biden = detection_ids(&stack, &viewer, photo("biden.jpg")).await.remove(0);
    let same = confidence(&stack, &viewer, &format!("face1={obama}&face2={obama2}")).await;
    assert!(same >= THRESHOLD, "same person: {same}");
    assert_eq!(same, confidence(&stack, &viewer, &format!("face1={obama2}&face2={obama}")).await);
    let other = confidence(&stack, &viewer, &format!("face1={obama}&face2={biden}")).await;
    assert!(other < THRESHOLD, "different people: {other}");
    assert_eq!(other, confidence(&stack, &viewer, &format!("face1={biden}&face2={obama}")).await);
    let itself = confidence(&stack, &viewer, &format!("face1={obama}&face2={obama}")).await;
    assert!(itself > 0.99, "{itself}");
    for (query, param) in [
        ("face2=dossierface:1", "face1"),
        ("face1=event:3&face2=dossierface:1", "face1"),
        (&*format!("face1={obama}"), "face2"),
    ] {
        let (status, body) = call(&stack, &viewer, Method::GET, &format!("/verify/?{query}"), None).await;
        assert_eq!(
            (status, body["code"].as_str(), body["param"].as_str()),
            (400, Some("BAD_PARAM"), Some(param)),
            "{query}"
        );
    }

    // A dossier face made from a detection: the detection's box and photo; viewers may not.
    let list = stack.create("/dossier-lists/", json!({"name": "VIP"})).await.unwrap()["id"].as_i64().unwrap();
    let dossier = stack.create("/dossiers/", json!({"name": "Barack", "dossier_lists": [list]})).await.unwrap();
    let dossier = dossier["id"].as_i64().unwrap();
    let from =
        |reference: &str| Form::new().text("dossier", dossier.to_string()).text("create_from", reference.to_string());
    let (status, body) = send_form(&stack, &viewer, Method::POST, "/dossier-faces/", from(&obama)).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("PERMISSION_DENIED")), "{body}");
    let (status, created) = send_form(&stack, &operator, Method::POST, "/dossier-faces/", from(&obama)).await;
    assert_eq!(status, 201, "{created}");
    for (side, field) in
        [("left", "source_coords_left"), ("top", "source_coords_top"), ("right", "source_coords_right")]
    {
        assert_eq!(created[field], bbox[side], "{created}");
    }
    let face_id = created["id"].as_i64().unwrap();
    let media = stack.client.get(created["source_photo"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(media.bytes().await.unwrap().to_vec(), photo("obama.jpg"));
    let enrolled = format!("dossierface:{face_id}");
    let c = confidence(&stack, &viewer, &format!("face1={obama2}&face2={enrolled}")).await;
    assert!((c - same).abs() < 1e-4, "the enrolled face is the detection: {c} vs {same}");
    let c = confidence(&stack, &viewer, &format!("face1={obama2}&dossier_id={dossier}")).await;
    assert!((c - same).abs() < 1e-4, "{c} vs {same}");
    let (status, body) =
        call(&stack, &viewer, Method::GET, "/verify?face1=dossierface:999999&face2=dossierface:1", None).await;
    assert_eq!((status, body["code"].as_str(), body["param"].as_str()), (404, Some("NOT_FOUND"), Some("face1")));

    // An expired detection: a clear 404 naming the parameter, and the next upload sweeps it away.
    let mut db = env.connect_db().await.unwrap();
    let biden_id = biden.trim_start_matches("detection:").to_string();
    let expired = diesel::sql_query(format!(
        "UPDATE detection_photos SET expires_at = now() - interval '1 second' \
         WHERE id = (SELECT photo_id FROM detections WHERE id = '{biden_id}')"
    ))
    .execute(&mut db)
    .await
    .unwrap();
    assert_eq!(expired, 1);
    let (status, body) =
        call(&stack, &viewer, Method::GET, &format!("/verify?face1={obama}&face2={biden}"), None).await;
    assert_eq!(
        (status, body["code"].as_str(), body["param"].as_str()),
        (404, Some("NOT_FOUND"), Some("face2")),
        "{body}"
    );
    assert!(body["desc"].as_str().unwrap().contains("expired"), "{body}");
    let (status, body) = send_form(&stack, &operator, Method::POST, "/dossier-faces/", from(&biden)).await;
    assert_eq!((status, body["param"].as_str()), (404, Some("create_from")), "{body}");
    let unknown = format!("detection:{}", uuid::Uuid::now_v7());
    let (status, body) =
        call(&stack, &viewer, Method::GET, &format!("/verify?face1={unknown}&face2={obama}"), None).await;
    assert_eq!((status, body["param"].as_str()), (404, Some("face1")), "{body}");
    detection_ids(&stack, &viewer, photo("obama3.jpg")).await;
    let left =
        diesel::sql_query(format!("SELECT id FROM detections WHERE id = '{biden_id}'")).execute(&mut db).await.unwrap();
    assert_eq!(left, 0, "the expired detection is swept by the next upload");
    // The periodic retention removes expired detections too, and only those.
    let live = diesel::sql_query("SELECT id FROM detection_photos").execute(&mut db).await.unwrap();
    diesel::sql_query(format!(
        "UPDATE detection_photos SET expires_at = now() - interval '1 second' \
         WHERE id = (SELECT photo_id FROM detections WHERE id = '{}')",
        obama2.trim_start_matches("detection:")
    ))
    .execute(&mut db)
    .await
    .unwrap();
    let pool = domain::db::pool(&env.config).unwrap();
    assert_eq!(gateway_api::retention::purge_detections(&pool).await.unwrap(), 1);
    let after = diesel::sql_query("SELECT id FROM detection_photos").execute(&mut db).await.unwrap();
    assert_eq!(after, live - 1);
    drop(pool);

    // The 4.x names: a photo upload with the 4.x fields, then every path answers as its 2.x twin.
    let form = Form::new()
        .text("dossier", dossier.to_string())
        .text("mf_selector", "biggest")
        .text("active", "false")
        .part("source_photo", Part::bytes(photo("obama3.jpg")).file_name("obama3.jpg"));
    let (status, second) = send_form(&stack, &operator, Method::POST, "/objects/faces/", form).await;
    assert_eq!(status, 201, "{second}");
    assert_eq!((second["dossier"].as_i64(), second["active"].as_bool()), (Some(dossier), Some(false)), "{second}");
    assert!(second["source_coords_bottom"].as_i64().unwrap() > second["source_coords_top"].as_i64().unwrap());
    let second_id = second["id"].as_i64().unwrap();
    let form = Form::new()
        .text("dossier", dossier.to_string())
        .text("mf_selector", "all")
        .part("source_photo", Part::bytes(group_frame()).file_name("group.jpg"));
    let (status, body) = send_form(&stack, &operator, Method::POST, "/objects/faces/", form).await;
    assert_eq!((status, body["param"].as_str()), (400, Some("mf_selector")), "{body}");
    let form = Form::new().text("dossier", dossier.to_string()).text("create_from", obama2.clone());
    let (status, body) = send_form(&stack, &viewer, Method::POST, "/objects/faces/", form).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("PERMISSION_DENIED")), "{body}");
    for query in [
        format!("?dossier={dossier}"),
        format!("?id_in={second_id}"),
        format!("?id_in={face_id},{second_id}&limit=1"),
        String::new(),
    ] {
        let (s4, four) = call(&stack, &viewer, Method::GET, &format!("/objects/faces/{query}"), None).await;
        let (s2, two) = call(&stack, &viewer, Method::GET, &format!("/dossier-faces/{query}"), None).await;
        assert_eq!((s4, s2), (200, 200), "{query}");
        assert_eq!(four["count"], two["count"], "{query}");
        let results = |page: &Value| page["results"].as_array().unwrap().iter().map(stable).collect::<Vec<_>>();
        assert_eq!(results(&four), results(&two), "{query}");
    }
    let (_, page) = call(&stack, &viewer, Method::GET, &format!("/objects/faces/?id_in={second_id}"), None).await;
    assert_eq!(page["count"], 1, "{page}");
    let (_, page) =
        call(&stack, &viewer, Method::GET, &format!("/objects/faces/?id_in={face_id},{second_id}&limit=1"), None).await;
    assert_eq!((page["count"].as_i64(), page["results"][0]["id"].as_i64()), (Some(2), Some(face_id)), "{page}");
    let path =
        |id: i64, four: bool| if four { format!("/objects/faces/{id}/") } else { format!("/dossier-faces/{id}/") };
    let (s4, four) = call(&stack, &viewer, Method::GET, &path(second_id, true), None).await;
    let (s2, two) = call(&stack, &viewer, Method::GET, &path(second_id, false), None).await;
    assert_eq!((s4, stable(&four)), (s2, stable(&two)));
    let (status, patched) =
        call(&stack, &operator, Method::PATCH, &path(second_id, true), Some(json!({"active": "true"}))).await;
    assert_eq!((status, patched["active"].as_bool()), (200, Some(true)), "{patched}");
    let (status, body) =
        call(&stack, &viewer, Method::PATCH, &path(second_id, true), Some(json!({"active": false}))).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("PERMISSION_DENIED")));
    let (status, body) = call(&stack, &viewer, Method::DELETE, &path(second_id, true), None).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("PERMISSION_DENIED")));
    let (status, _) = call(&stack, &operator, Method::DELETE, &path(second_id, true), None).await;
    assert_eq!(status, 204);
    for four in [true, false] {
        let (status, body) = call(&stack, &viewer, Method::GET, &path(second_id, four), None).await;
        assert_eq!((status, body["code"].as_str()), (404, Some("NOT_FOUND")), "{}", path(second_id, four));
    }
    let (status, body) = call(&stack, &admin, Method::DELETE, &path(second_id, false), None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("NOT_FOUND")));

    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dossiers_looks_like_finds_the_same_person_first_and_honours_its_filters() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    env.config.facerouter.recognition_backend = RecognitionBackend::Builtin;
    env.config.recognizer.workers = 1;
    let stack = Stack::start(&mut env).await.unwrap();
    let admin = stack.token.clone();
    stack.create("/users/", json!({"username": "victor", "password": "password-1", "role": "viewer"})).await.unwrap();
    let viewer = login(&stack.client, &stack.gateway, "victor", "password-1").await.unwrap();
    let vip = stack.create("/dossier-lists/", json!({"name": "VIP"})).await.unwrap()["id"].as_i64().unwrap();
    let other = stack.create("/dossier-lists/", json!({"name": "Other"})).await.unwrap()["id"].as_i64().unwrap();
    let mut enrolled = HashMap::new();
    for (name, list, file) in
        [("Barack", vip, "obama.jpg"), ("Joe", other, "biden.jpg"), ("Eileen", vip, "astronaut.png")]
    {
        let dossier = stack.create("/dossiers/", json!({"name": name, "dossier_lists": [list]})).await.unwrap();
        let dossier = dossier["id"].as_i64().unwrap();
        let form = Form::new()
            .text("dossier", dossier.to_string())
            .part("source_photo", Part::bytes(photo(file)).file_name(file.to_string()));
        let (status, face) = send_form(&stack, &admin, Method::POST, "/dossier-faces/", form).await;
        assert_eq!(status, 201, "{face}");
        enrolled.insert(name, (dossier, face["id"].as_i64().unwrap()));
    }
    let probe = detection_ids(&stack, &viewer, photo("obama2.jpg")).await.remove(0);
    let search = |query: String| {
        let (stack, viewer) = (&stack, &viewer);
        async move {
            let (status, page) = call(stack, viewer, Method::GET, &format!("/dossiers/?{query}"), None).await;
            assert_eq!(status, 200, "{query}: {page}");
            page
        }
    };
    let names = |page: &Value| -> Vec<String> {
        page["results"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap().to_string()).collect()
    };

    // At the recommended threshold only the same man is found, with his face and the confidence.
    let page = search(format!("looks_like={probe}&threshold={THRESHOLD}")).await;
    assert_eq!(names(&page), ["Barack"], "{page}");
    let hit = &page["results"][0];
    assert_eq!(hit["looks_like"]["matched_object"], enrolled["Barack"].1, "{page}");
    assert!(hit["looks_like"]["confidence"].as_f64().unwrap() >= THRESHOLD, "{page}");
    assert_eq!(hit["dossier_lists"], json!([vip]));
    // Threshold 0: everyone, most alike first; limit keeps the top, count tells how many matched.
    let page = search(format!("looks_like={probe}&threshold=0")).await;
    assert_eq!(page["count"], 3, "{page}");
    assert_eq!(names(&page)[0], "Barack", "{page}");
    let confidences: Vec<f64> =
        page["results"].as_array().unwrap().iter().map(|d| d["looks_like"]["confidence"].as_f64().unwrap()).collect();
    assert!(confidences.windows(2).all(|w| w[0] >= w[1]), "{confidences:?}");
    let page = search(format!("looks_like={probe}&threshold=0&limit=1")).await;
    assert_eq!((page["count"].as_i64(), names(&page)), (Some(3), vec!["Barack".to_string()]), "{page}");
    // dossier_lists narrows the search to those lists' dossiers.
    let page = search(format!("looks_like={probe}&threshold=0&dossier_lists={other}")).await;
    assert_eq!(names(&page), ["Joe"], "{page}");
    let page = search(format!("looks_like={probe}&threshold={THRESHOLD}&dossier_lists={other}")).await;
    assert_eq!(page["count"], 0, "{page}");
    // An enrolled face finds its own dossier.
    let page = search(format!("looks_like=dossierface:{}&threshold={THRESHOLD}", enrolled["Joe"].1)).await;
    assert_eq!(names(&page), ["Joe"], "{page}");
    assert!(page["results"][0]["looks_like"]["confidence"].as_f64().unwrap() > 0.99, "{page}");

    for (query, status, param) in [
        (format!("looks_like={probe}&threshold=1.5"), 400, "threshold"),
        ("looks_like=face:1".to_string(), 400, "looks_like"),
        (format!("looks_like=detection:{}", uuid::Uuid::now_v7()), 404, "looks_like"),
    ] {
        let (got, body) = call(&stack, &viewer, Method::GET, &format!("/dossiers/?{query}"), None).await;
        assert_eq!((got, body["param"].as_str()), (status, Some(param)), "{query}: {body}");
    }
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

/// `GET /dossiers/?looks_like=` on `replica`: the dossier ids found, with the face that matched.
async fn dossiers_like(stack: &Stack, replica: &ffsec_tests::Running, token: &str, query: &str) -> Vec<(i64, i64)> {
    let url = replica.url(&format!("/dossiers/?{query}"));
    let response = stack.client.get(url).header("Authorization", format!("Token {token}")).send().await.unwrap();
    let (status, page) = error_of(response).await;
    assert_eq!(status, 200, "{query}: {page}");
    let hits = page["results"].as_array().unwrap().iter();
    hits.map(|d| (d["id"].as_i64().unwrap(), d["looks_like"]["matched_object"].as_i64().unwrap())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dossiers_looks_like_follows_faces_written_through_another_replica() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    env.config.facerouter.recognition_backend = RecognitionBackend::Builtin;
    env.config.recognizer.workers = 1;
    let stack = Stack::start(&mut env).await.unwrap();
    let token = stack.token.clone();
    let first = &stack.gateway;
    let second =
        ffsec_tests::Running::start(ffsec_tests::service::bind().unwrap(), env.config.clone(), gateway_api::run)
            .unwrap();
    second.wait_healthy().await.unwrap();
    let faces_held = |replica: &'static str| {
        let running = if replica == "first" { first } else { &second };
        async move { ffsec_tests::service::metric(running, "ffsec_dossier_index_faces").await }
    };
    // Both indexes loaded (the gauge stays 0 until then, so this waits on the load itself).
    let list = stack.create("/dossier-lists/", json!({"name": "VIP"})).await.unwrap()["id"].as_i64().unwrap();
    let barack = stack.create("/dossiers/", json!({"name": "Barack", "dossier_lists": [list]})).await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let form = Form::new()
        .text("dossier", barack.to_string())
        .part("source_photo", Part::bytes(photo("obama.jpg")).file_name("obama.jpg"));
    let (status, face) = send_form(&stack, &token, Method::POST, "/dossier-faces/", form).await;
    assert_eq!(status, 201, "{face}");
    for replica in ["first", "second"] {
        ffsec_tests::wait_until(&format!("the {replica} replica's index loaded"), Duration::from_secs(10), || async {
            (faces_held(replica).await == Some(1.0)).then_some(())
        })
        .await
        .unwrap();
    }
    let probe = detection_ids(&stack, &token, photo("obama2.jpg")).await.remove(0);
    let query = format!("looks_like={probe}&threshold={THRESHOLD}");

    // A face added through the second replica: found there at once (its own write), and by the
    // first one as soon as the notice arrives.
    let joe = stack.create("/dossiers/", json!({"name": "Lookalike", "dossier_lists": [list]})).await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let form = Form::new()
        .text("dossier", joe.to_string())
        .part("source_photo", Part::bytes(photo("obama3.jpg")).file_name("obama3.jpg"));
    let response = stack
        .client
        .post(second.url("/dossier-faces/"))
        .header("Authorization", format!("Token {token}"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, face) = error_of(response).await;
    assert_eq!(status, 201, "{face}");
    let joe_face = face["id"].as_i64().unwrap();
    assert!(dossiers_like(&stack, &second, &token, &query).await.contains(&(joe, joe_face)));
    let found = ffsec_tests::wait_until("the first replica to find the new face", Duration::from_secs(5), || async {
        let found = dossiers_like(&stack, first, &token, &query).await;
        found.contains(&(joe, joe_face)).then_some(found)
    })
    .await
    .unwrap();
    assert!(found.iter().any(|(d, _)| *d == barack), "{found:?}");
    assert_eq!(faces_held("first").await, Some(2.0));

    // Deleted through the second replica: the face leaves both indexes, and is found no more.
    let response = stack
        .client
        .delete(second.url(&format!("/dossier-faces/{joe_face}/")))
        .header("Authorization", format!("Token {token}"))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{:?}", response.status());
    assert!(!dossiers_like(&stack, &second, &token, &query).await.iter().any(|(d, _)| *d == joe));
    for replica in ["first", "second"] {
        ffsec_tests::wait_until(&format!("the {replica} replica to drop the face"), Duration::from_secs(5), || async {
            (faces_held(replica).await == Some(1.0)).then_some(())
        })
        .await
        .unwrap();
    }
    assert!(!dossiers_like(&stack, first, &token, &query).await.iter().any(|(d, _)| *d == joe));
    // A deleted dossier takes its faces out of the index with it (they go by cascade, unannounced).
    let response = stack
        .client
        .delete(second.url(&format!("/dossiers/{barack}/")))
        .header("Authorization", format!("Token {token}"))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{:?}", response.status());
    ffsec_tests::wait_until("the first replica to drop the dossier's face", Duration::from_secs(5), || async {
        (faces_held("first").await == Some(0.0)).then_some(())
    })
    .await
    .unwrap();
    assert_eq!(dossiers_like(&stack, first, &token, &query).await, []);
    second.stop().await.unwrap();
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

/// Posts `file` as a worker's face crop (no vector: the built-in recognizer makes it) seen by
/// `camera` at `time`, and returns the stored event's id.
async fn seen(stack: &Stack, camera: i64, file: &str, time: &str) -> String {
    let face = ffsec_tests::worker::Face {
        crop: photo(file),
        timestamp: Some(time.to_string()),
        ..ffsec_tests::worker::Face::new(camera, None)
    };
    let url = stack.ingest.url("/video-detector/frame/");
    let id = ffsec_tests::wait_until(&format!("ingest to accept {file}"), Duration::from_secs(60), || {
        let face = &face;
        let url = &url;
        async move {
            let response = face.post(&stack.client, url, Some(ffsec_tests::env::WORKER_TOKEN)).await.ok()?;
            // 503: the recognizer's pool is busy on a loaded machine; a worker retries.
            if response.status() == 503 {
                return None;
            }
            let body: Value = response.json().await.ok()?;
            Some(body["event_id"].as_str().map(str::to_string).unwrap_or_else(|| panic!("{file}: {body}")))
        }
    })
    .await
    .unwrap();
    crate::ingest_support::stored_event(stack, &id).await;
    id
}

/// `looks_like` on `GET /events/faces/`, as `token`, on `gateway`: the page, once the replica's
/// event index has loaded (503 until then).
async fn events_like(stack: &Stack, gateway: &ffsec_tests::Running, token: &str, query: &str) -> Value {
    ffsec_tests::wait_until(&format!("GET /events/faces/?{query}"), Duration::from_secs(30), || async {
        let response = stack
            .client
            .get(gateway.url(&format!("/events/faces/?{query}")))
            .header("Authorization", format!("Token {token}"))
            .send()
            .await
            .ok()?;
        let (status, body) = error_of(response).await;
        match status {
            503 => None,
            200 => Some(body),
            _ => panic!("{query}: {status} {body}"),
        }
    })
    .await
    .unwrap()
}

fn ids_of(page: &Value) -> Vec<String> {
    page["results"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_looks_like_finds_where_a_person_was_seen_on_every_replica() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    env.config.facerouter.recognition_backend = RecognitionBackend::Builtin;
    env.config.recognizer.workers = 1;
    let stack = Stack::start(&mut env).await.unwrap();
    stack.create("/users/", json!({"username": "victor", "password": "password-1", "role": "viewer"})).await.unwrap();
    let viewer = login(&stack.client, &stack.gateway, "victor", "password-1").await.unwrap();
    let hall = stack.create("/cameras/", json!({"name": "Hall"})).await.unwrap()["id"].as_i64().unwrap();
    let gate = stack.create("/cameras/", json!({"name": "Gate"})).await.unwrap()["id"].as_i64().unwrap();
    stack.wait_gallery(2.0, 0.0).await.unwrap();

    let obama_hall = seen(&stack, hall, "obama.jpg", "2026-11-26T09:00:00").await;
    let biden_hall = seen(&stack, hall, "biden.jpg", "2026-11-26T09:05:00").await;
    let astronaut_gate = seen(&stack, gate, "astronaut.png", "2026-11-26T09:10:00").await;
    let obama_gate = seen(&stack, gate, "obama3.jpg", "2026-11-26T12:00:00").await;
    let probe = detection_ids(&stack, &viewer, photo("obama2.jpg")).await.remove(0);
    let gateway = &stack.gateway;

    // At the recommended threshold: the two sightings of the same man, most alike first.
    let page = events_like(&stack, gateway, &viewer, &format!("looks_like={probe}&threshold={THRESHOLD}")).await;
    let mut found = ids_of(&page);
    assert_eq!(page["count"], 2, "{page}");
    found.sort();
    let mut expected = vec![obama_hall.clone(), obama_gate.clone()];
    expected.sort();
    assert_eq!(found, expected, "{page}");
    let confidences: Vec<f64> =
        page["results"].as_array().unwrap().iter().map(|e| e["looks_like"]["confidence"].as_f64().unwrap()).collect();
    assert!(confidences.windows(2).all(|w| w[0] >= w[1]) && confidences[1] >= THRESHOLD, "{confidences:?}");
    assert_eq!(page["results"][0]["looks_like"]["matched_object"], page["results"][0]["id"], "{page}");
    assert_eq!(page["next_page"], Value::Null);
    // Threshold 0: every event with a face, ranked; limit keeps the top, count tells how many.
    let page = events_like(&stack, gateway, &viewer, &format!("looks_like={probe}&threshold=0")).await;
    assert_eq!(page["count"], 4, "{page}");
    let all = ids_of(&page);
    assert!(all[..2].contains(&obama_hall) && all[..2].contains(&obama_gate), "{page}");
    assert!(all[2..].contains(&biden_hall) && all[2..].contains(&astronaut_gate), "{page}");
    let page = events_like(&stack, gateway, &viewer, &format!("looks_like={probe}&threshold=0&limit=1")).await;
    assert_eq!((page["count"].as_i64(), ids_of(&page)), (Some(4), vec![all[0].clone()]), "{page}");
    // The list's other filters apply: by camera, and by date.
    let page = events_like(&stack, gateway, &viewer, &format!("looks_like={probe}&threshold=0&cameras={hall}")).await;
    assert_eq!(ids_of(&page), [obama_hall.clone(), biden_hall.clone()], "{page}");
    let query = format!("looks_like={probe}&threshold={THRESHOLD}&created_date_gte=2026-11-26T11:00:00Z");
    assert_eq!(ids_of(&events_like(&stack, gateway, &viewer, &query).await), std::slice::from_ref(&obama_gate));
    let query = format!("looks_like={probe}&threshold=0&created_date_lte=2026-11-26T09:07:00Z&matched=false");
    let page = events_like(&stack, gateway, &viewer, &query).await;
    assert_eq!(ids_of(&page), [obama_hall.clone(), biden_hall.clone()], "{page}");

    // A second replica fills its index from PostgreSQL and finds the same; a new sighting then
    // reaches both replicas' indexes over the bus.
    let second =
        ffsec_tests::Running::start(ffsec_tests::service::bind().unwrap(), env.config.clone(), gateway_api::run)
            .unwrap();
    second.wait_healthy().await.unwrap();
    let query = format!("looks_like={probe}&threshold={THRESHOLD}");
    let page = events_like(&stack, &second, &viewer, &query).await;
    assert_eq!(page["count"], 2, "{page}");
    let obama_again = seen(&stack, hall, "obama.jpg", "2026-11-26T15:00:00").await;
    for replica in [gateway, &second] {
        let page = ffsec_tests::wait_until("the new sighting in the index", Duration::from_secs(10), || async {
            let page = events_like(&stack, replica, &viewer, &query).await;
            (page["count"] == 3).then_some(page)
        })
        .await
        .unwrap();
        assert!(ids_of(&page).contains(&obama_again), "{page}");
    }

    for (query, status, param) in [
        (format!("looks_like={probe}&threshold=2"), 400, "threshold"),
        (format!("looks_like={probe}&cursor={obama_hall}"), 400, "cursor"),
        ("looks_like=event:1".to_string(), 400, "looks_like"),
        (format!("looks_like=detection:{}", uuid::Uuid::now_v7()), 404, "looks_like"),
        (format!("looks_like={probe}&cameras=x"), 400, "cameras"),
    ] {
        let (got, body) = call(&stack, &viewer, Method::GET, &format!("/events/faces/?{query}"), None).await;
        assert_eq!((got, body["param"].as_str()), (status, Some(param)), "{query}: {body}");
    }
    second.stop().await.unwrap();
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}
