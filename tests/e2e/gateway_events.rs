//! gateway-api's event list filters, acknowledgement (REST and live frames) and retention.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::QueryDsl;
use diesel_async::RunQueryDsl;
use domain::list_filters::{EventFacts, EventListFilters};
use domain::models::{EventVectorRow, FaceEventRow};
use domain::schema::{event_vectors, face_events};
use ffsec_tests::events::EventBus;
use ffsec_tests::live::LiveClient;
use ffsec_tests::service::{Running, bind, metric};
use ffsec_tests::{Stack, TestEnv};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

fn row(camera: i64, created: DateTime<Utc>, matched: Option<i64>, features: Value) -> FaceEventRow {
    let id = ffsec_tests::events::id_at(created);
    // As the recorder fills it (FaceEventRow::from_event): the age when a JSON number.
    let age = features.pointer("/age/name").and_then(Value::as_f64);
    FaceEventRow {
        id,
        created_date: created,
        camera_id: camera,
        camera_group_id: 1,
        bs_type: "overall".into(),
        thumbnail: format!("events/{}/{id}_face.jpg", created.format("%Y/%m/%d/%H")),
        fullframe: format!("events/{}/{id}_frame.jpg", created.format("%Y/%m/%d/%H")),
        matched: matched.is_some(),
        matched_dossier_id: matched,
        matched_face_id: None,
        matched_lists: vec![],
        confidence: if matched.is_some() { 0.8 } else { 0.0 },
        quality: 0.0,
        frame_coords_left: 0,
        frame_coords_top: 0,
        frame_coords_right: 10,
        frame_coords_bottom: 10,
        detector_params: json!({}),
        features,
        acknowledged: false,
        acknowledged_date: None,
        acknowledged_by_id: None,
        age,
    }
}

fn features(gender: &str, age: u32, emotion: &str, glasses: &str, beard: &str, liveness: &str) -> Value {
    let attr = |name: Value| json!({"name": name, "confidence": 0.9});
    json!({
        "gender": attr(json!(gender)), "age": attr(json!(age)), "emotions": attr(json!(emotion)),
        "glasses": attr(json!(glasses)), "beard": attr(json!(beard)), "liveness": attr(json!(liveness)),
    })
}

async fn ids(stack: &Stack, query: &str) -> Vec<String> {
    let page = stack.get(&format!("/events/faces/?limit=100&{query}")).await.unwrap();
    let mut ids: Vec<String> =
        page["results"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attribute_filters_acknowledgement_and_live_updates() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    let stack = Stack::start(&mut env).await.unwrap();
    let now = Utc::now();
    let a = row(1, now, Some(5), features("female", 30, "happy", "none", "none", "real"));
    let b = row(1, now, None, features("male", 31, "sad", "sun", "beard", "fake"));
    let c = row(2, now, None, json!({}));
    // Age boundaries between whole years, and an age that is not a number (never passes an age filter).
    let d = row(3, now, None, json!({"age": {"name": 30.5, "confidence": 0.9}}));
    let e = row(3, now, None, json!({"age": {"name": "31", "confidence": 0.9}}));
    let mut conn = env.connect_db().await.unwrap();
    diesel::insert_into(face_events::table)
        .values(vec![a.clone(), b.clone(), c.clone(), d.clone(), e.clone()])
        .execute(&mut conn)
        .await
        .unwrap();
    let (a_id, b_id, c_id) = (a.id.to_string(), b.id.to_string(), c.id.to_string());
    let (d_id, e_id) = (d.id.to_string(), e.id.to_string());
    let sorted = |mut v: Vec<&String>| {
        v.sort();
        v.into_iter().cloned().collect::<Vec<_>>()
    };
    let table: Vec<(&str, Vec<String>)> = vec![
        ("gender=female", vec![a_id.clone()]),
        ("gender=female&gender=male", sorted(vec![&a_id, &b_id])),
        ("gender=female,male", sorted(vec![&a_id, &b_id])),
        ("age_gte=30", sorted(vec![&a_id, &b_id, &d_id])),
        ("age_gte=31", vec![b_id.clone()]),
        ("age_lte=30", vec![a_id.clone()]),
        ("age_lte=29", vec![]),
        ("age_gte=30.5&age_lte=30.5", vec![d_id.clone()]),
        ("age_gte=30.6", vec![b_id.clone()]),
        ("age_lte=30.4", vec![a_id.clone()]),
        ("age_lte=200", sorted(vec![&a_id, &b_id, &d_id])),
        ("age_gte=30&age_lte=31&gender=male", vec![b_id.clone()]),
        ("emotions=sad", vec![b_id.clone()]),
        ("glasses=none,eye", vec![a_id.clone()]),
        ("beard=beard", vec![b_id.clone()]),
        ("liveness=real", vec![a_id.clone()]),
        ("gender=male&beard=none", vec![]),
        ("cameras=2", vec![c_id.clone()]),
        ("matched=true", vec![a_id.clone()]),
        ("no_match=true", sorted(vec![&b_id, &c_id, &d_id, &e_id])),
        ("matched_dossier=5", vec![a_id.clone()]),
        ("confidence_gte=0.8", vec![a_id.clone()]),
        ("camera_groups=1", sorted(vec![&a_id, &b_id, &c_id, &d_id, &e_id])),
    ];
    // The live feed filters in memory (EventListFilters::matches): it must keep the same events.
    let all = stack.get("/events/faces/?limit=100").await.unwrap();
    let facts: Vec<EventFacts> = serde_json::from_value(all["results"].clone()).unwrap();
    for (query, want) in table {
        assert_eq!(ids(&stack, query).await, want, "{query}");
        let pairs: Vec<(String, String)> =
            query.split('&').filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))).collect();
        let filters = EventListFilters::parse(&pairs).unwrap();
        let mut live: Vec<String> = facts.iter().filter(|f| filters.matches(f)).map(|f| f.id.to_string()).collect();
        live.sort();
        assert_eq!(live, want, "{query} in memory");
    }
    let bad = stack
        .client
        .get(stack.gateway.url("/events/faces/?age_gte=old"))
        .header("Authorization", format!("Token {}", stack.token))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert_eq!((body["code"].as_str(), body["param"].as_str()), (Some("BAD_PARAM"), Some("age_gte")));

    // A live client sees acknowledgements.
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/events/", stack.gateway.addr)).await.unwrap();
    socket.send(Message::text(json!({"type": "auth", "data": {"token": stack.token}}).to_string())).await.unwrap();
    let me = stack.get("/users/me/").await.unwrap();
    let response = stack
        .client
        .patch(stack.gateway.url(&format!("/events/faces/{a_id}/")))
        .header("Authorization", format!("Token {}", stack.token))
        .json(&json!({"acknowledged": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["acknowledged"], true);
    assert_eq!(updated["acknowledged_by"], me["id"]);
    assert!(updated["acknowledged_date"].is_string());
    let response = stack
        .client
        .post(stack.gateway.url("/events/faces/acknowledge/?cameras=1"))
        .header("Authorization", format!("Token {}", stack.token))
        .send()
        .await
        .unwrap();
    let all: Value = response.json().await.unwrap();
    assert_eq!(all["acknowledged"], 1, "only b was still unacknowledged on camera 1");
    assert_eq!(ids(&stack, "acknowledged=false").await, sorted(vec![&c_id, &d_id, &e_id]));
    let mut frames = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while frames.len() < 2 {
            let Some(Ok(Message::Text(text))) = socket.next().await else { panic!("socket closed") };
            let frame: Value = serde_json::from_str(&text).unwrap();
            if frame["type"] != "ping" {
                frames.push(frame);
            }
        }
    })
    .await
    .expect("two live frames");
    assert_eq!(frames[0]["type"], "event_updated");
    assert_eq!(frames[0]["data"]["id"], a_id.as_str());
    assert_eq!(frames[0]["data"]["acknowledged"], true);
    assert_eq!(frames[1]["type"], "events_acknowledged");
    assert_eq!(frames[1]["data"]["count"], 1);

    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_old_events_and_their_images() {
    let env = TestEnv::new().await.unwrap();
    let pool = domain::db::pool(&env.config).unwrap();
    domain::db::run_migrations(&pool).await.unwrap();
    let days = |n: i64| Utc::now() - chrono::Duration::days(n);
    let old_matched = row(1, days(40), Some(1), json!({}));
    let mid_matched = row(1, days(20), Some(1), json!({}));
    let mid_unmatched = row(1, days(20), None, json!({}));
    let old_unmatched = [row(1, days(45), None, json!({})), row(1, days(41), None, json!({}))];
    let fresh = row(1, days(0), None, json!({}));
    let mut rows = vec![old_matched.clone(), mid_matched.clone(), mid_unmatched.clone(), fresh.clone()];
    rows.extend(old_unmatched.iter().cloned());
    for r in &rows {
        for path in [&r.thumbnail, &r.fullframe] {
            let file = env.media_root.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, b"img").unwrap();
        }
    }
    let mut conn = env.connect_db().await.unwrap();
    diesel::insert_into(face_events::table).values(rows.clone()).execute(&mut conn).await.unwrap();
    // Every event keeps its vector for event search: a vector goes with its event.
    let vectors: Vec<EventVectorRow> = rows
        .iter()
        .map(|r| EventVectorRow {
            event_id: r.id,
            created_date: r.created_date,
            matched: r.matched,
            embedding: vec![0.6, 0.8],
        })
        .collect();
    diesel::insert_into(event_vectors::table).values(vectors).execute(&mut conn).await.unwrap();
    // Matched kept 30 days, unmatched 10; batches of 2 to go round the loop.
    let purged = gateway_api::retention::purge(&pool, &domain::media::LocalMedia::new(&env.media_root), (30, 10), 2)
        .await
        .unwrap();
    assert_eq!(purged, gateway_api::retention::Purged { events: 4, files: 8 });
    let mut left: Vec<uuid::Uuid> = face_events::table.select(face_events::id).load(&mut conn).await.unwrap();
    left.sort();
    let mut want = vec![mid_matched.id, fresh.id];
    want.sort();
    assert_eq!(left, want);
    for r in &rows {
        let image = env.media_root.join(&r.thumbnail);
        assert_eq!(image.exists(), want.contains(&r.id), "image of {}", r.id);
        // A directory goes with the last image in it: it stays while a kept event's images are there.
        let dir = image.parent().unwrap();
        let in_use =
            rows.iter().any(|k| want.contains(&k.id) && env.media_root.join(&k.thumbnail).parent() == Some(dir));
        assert_eq!(dir.exists(), in_use, "directory of {}", r.id);
    }
    let again = gateway_api::retention::purge(&pool, &domain::media::LocalMedia::new(&env.media_root), (30, 10), 2)
        .await
        .unwrap();
    assert_eq!(again.events, 0);
    let mut kept: Vec<uuid::Uuid> = event_vectors::table.select(event_vectors::event_id).load(&mut conn).await.unwrap();
    kept.sort();
    assert_eq!(kept, want, "the purged events' vectors went with them");
    // EVENT_SEARCH.VECTORS_MAX_AGE shorter than the events' age: the vector goes, the event stays.
    let cutoffs = gateway_api::event_index_feed::Cutoffs { matched: days(5), unmatched: days(5) };
    assert_eq!(gateway_api::retention::purge_vectors(&pool, cutoffs, 1).await.unwrap(), 1);
    let kept: Vec<uuid::Uuid> = event_vectors::table.select(event_vectors::event_id).load(&mut conn).await.unwrap();
    assert_eq!(kept, [fresh.id]);
    assert_eq!(face_events::table.count().get_result::<i64>(&mut conn).await.unwrap(), 2);
    drop(conn);
    drop(pool);
    env.cleanup().await.unwrap();
}

/// An unfiltered live client, once the gateway counts it (so no announcement can precede it).
async fn connected_live_client(stack: &Stack) -> LiveClient {
    let live = LiveClient::connect(&stack.gateway.addr.to_string(), &stack.token, "").await.unwrap();
    ffsec_tests::wait_until("a live client", Duration::from_secs(10), || async {
        (metric(&stack.gateway, "ffsec_websocket_clients").await? == 1.0).then_some(())
    })
    .await
    .unwrap();
    live
}

/// The same accepted face twice (as when it is published twice), then a marker: one row and one
/// `event.created` for the face.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_recorder_stores_a_redelivered_face_once() {
    use domain::bus::topology::ROUTE_FACE_DETECTED;
    use domain::messages::{FaceDetected, encode};
    use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    let stack = Stack::start(&mut env).await.unwrap();
    let mut live = connected_live_client(&stack).await;
    let face = ffsec_tests::events::event(1, None);
    let payload = encode(&FaceDetected(face.clone())).unwrap();
    let connection =
        lapin::Connection::connect(&env.config.rabbitmq.url, lapin::ConnectionProperties::default()).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    // The same accepted face twice, then a marker face after it.
    let marker = ffsec_tests::events::event(2, None);
    let marker_payload = encode(&FaceDetected(marker.clone())).unwrap();
    for body in [&payload, &payload, &marker_payload] {
        let confirm = channel
            .basic_publish(
                env.names().faces_exchange().as_str().into(),
                ROUTE_FACE_DETECTED.into(),
                BasicPublishOptions::default(),
                body,
                lapin::BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(confirm.is_ack());
    }
    let page = ffsec_tests::wait_until("the marker event stored", Duration::from_secs(10), || async {
        let page = stack.get("/events/faces/").await.ok()?;
        let ids: Vec<String> =
            page["results"].as_array()?.iter().filter_map(|e| e["id"].as_str().map(str::to_string)).collect();
        ids.contains(&marker.id.to_string()).then_some(page)
    })
    .await
    .unwrap();
    assert_eq!(page["count"], 2, "the repeated face is stored once: {page}");

    // One more face bounds the frames to read: a second announcement of the face would be queued
    // before it (the recorder inserts batches in order and publishes right after each insert).
    let last = ffsec_tests::events::event(1, None);
    let bus = EventBus::connect(&env.config.rabbitmq.url, &env.names()).await.unwrap();
    bus.publish_detected(std::slice::from_ref(&last)).await.unwrap();
    let mut seen = Vec::new();
    while !seen.contains(&last.id.to_string()) {
        let frame = live.next_frame(Duration::from_secs(10)).await.unwrap();
        if frame["type"] == "event_created" {
            seen.push(frame["data"]["id"].as_str().unwrap().to_string());
        }
    }
    let announced = |id: uuid::Uuid| seen.iter().filter(|s| **s == id.to_string()).count();
    assert_eq!((announced(face.id), announced(marker.id)), (1, 1), "announcements: {seen:?}");
    bus.close().await;
    let _ = connection.close(200, "done".into()).await;
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

/// Ingest's batch message: every face in it is stored and announced once, a face in it that a
/// single message already stored is not stored twice, and the message is acked (the queue drains).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_recorder_stores_every_face_of_a_batch_message_once() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    let stack = Stack::start(&mut env).await.unwrap();
    let mut live = connected_live_client(&stack).await;
    let bus = EventBus::connect(&env.config.rabbitmq.url, &env.names()).await.unwrap();
    let early = ffsec_tests::events::event(1, None);
    bus.publish_detected(std::slice::from_ref(&early)).await.unwrap();
    let batch = vec![ffsec_tests::events::event(2, None), early.clone(), ffsec_tests::events::event(3, Some(4))];
    bus.publish_detected_together(&batch).await.unwrap();
    let want: Vec<String> = batch.iter().map(|e| e.id.to_string()).collect();
    let mut seen = Vec::new();
    while !want.iter().filter(|id| **id != early.id.to_string()).all(|id| seen.contains(id)) {
        let frame = live.next_frame(Duration::from_secs(10)).await.unwrap();
        if frame["type"] == "event_created" {
            seen.push(frame["data"]["id"].as_str().unwrap().to_string());
        }
    }
    let page = stack.get("/events/faces/").await.unwrap();
    assert_eq!(page["count"], 3, "three faces, one of them sent twice: {page}");
    let matched = stack.get(&format!("/events/faces/{}/", batch[2].id)).await.unwrap();
    assert_eq!(matched["matched_dossier"], 4, "{matched}");
    assert_eq!(seen.iter().filter(|id| **id == early.id.to_string()).count(), 1, "announcements: {seen:?}");
    ffsec_tests::wait_until("the recorder queue drained (the batch acked)", Duration::from_secs(10), || async {
        let connection =
            lapin::Connection::connect(&env.config.rabbitmq.url, lapin::ConnectionProperties::default()).await.ok()?;
        let channel = connection.create_channel().await.ok()?;
        let queue = channel
            .queue_declare(
                env.names().recorder_queue().as_str().into(),
                lapin::options::QueueDeclareOptions { passive: true, ..Default::default() },
                lapin::types::FieldTable::default(),
            )
            .await
            .ok()?;
        let _ = connection.close(200, "done".into()).await;
        (queue.message_count() == 0).then_some(())
    })
    .await
    .unwrap();
    bus.close().await;
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

/// A recorder that committed a face and died before announcing it: the broker redelivers the
/// message, the insert finds the row, and the event is announced all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_stored_before_a_crash_is_announced_on_redelivery() {
    use domain::bus::topology::ROUTE_EVENT_CREATED;
    use domain::messages::{EventCreated, decode};
    use lapin::options::{BasicConsumeOptions, BasicGetOptions, QueueBindOptions, QueueDeclareOptions};
    use lapin::types::FieldTable;
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    let mut stack = Stack::start(&mut env).await.unwrap();
    stack.gateway.stop().await.unwrap();

    // What the dead attempt left: the row...
    let face = ffsec_tests::events::event(1, None);
    let mut conn = env.connect_db().await.unwrap();
    diesel::insert_into(face_events::table).values(FaceEventRow::from_event(&face)).execute(&mut conn).await.unwrap();
    // ...and the message, delivered once and never acked (its channel closes with it unacked).
    let bus = EventBus::connect(&env.config.rabbitmq.url, &env.names()).await.unwrap();
    bus.publish_detected(std::slice::from_ref(&face)).await.unwrap();
    let connection =
        lapin::Connection::connect(&env.config.rabbitmq.url, lapin::ConnectionProperties::default()).await.unwrap();
    let dying = connection.create_channel().await.unwrap();
    let taken = ffsec_tests::wait_until("the face in the recorder queue", Duration::from_secs(10), || async {
        dying.basic_get(env.names().recorder_queue().as_str().into(), BasicGetOptions { no_ack: false }).await.ok()?
    })
    .await
    .unwrap();
    assert!(!taken.delivery.redelivered);
    // Watch the announcements before the recorder comes back.
    let watch = connection.create_channel().await.unwrap();
    let queue = watch
        .queue_declare(
            "".into(),
            QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() },
            FieldTable::default(),
        )
        .await
        .unwrap();
    watch
        .queue_bind(
            queue.name().clone(),
            env.names().events_exchange().as_str().into(),
            ROUTE_EVENT_CREATED.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut announcements = watch
        .basic_consume(
            queue.name().clone(),
            "watch".into(),
            BasicConsumeOptions { no_ack: true, ..Default::default() },
            FieldTable::default(),
        )
        .await
        .unwrap();
    dying.close(200, "the recorder died".into()).await.unwrap();

    stack.gateway = Running::start(bind().unwrap(), env.config.clone(), gateway_api::run).unwrap();
    stack.gateway.wait_healthy().await.unwrap();
    let announced =
        tokio::time::timeout(Duration::from_secs(10), announcements.next()).await.unwrap().unwrap().unwrap();
    let EventCreated(event) = decode(&announced.data).unwrap();
    assert_eq!(event.id, face.id);
    let stored: i64 = face_events::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(stored, 1);

    bus.close().await;
    let _ = connection.close(200, "done".into()).await;
    drop(conn);
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

/// Walks the list page by page (both orders) while new events are stored between pages: no event
/// comes twice, and every event that existed at the start comes once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn event_pages_stay_stable_while_events_arrive() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    let stack = Stack::start(&mut env).await.unwrap();
    let mut conn = env.connect_db().await.unwrap();
    let now = Utc::now();
    // Two cameras, so that a filtered walk skips rows too.
    let initial: Vec<FaceEventRow> = (0..95).map(|n| row(1 + n % 2, now, None, json!({}))).collect();
    diesel::insert_into(face_events::table).values(initial.clone()).execute(&mut conn).await.unwrap();
    for (query, camera) in [("limit=10", None), ("limit=7&ordering=id", None), ("limit=6&cameras=2", Some(2))] {
        let mut url = format!("/events/faces/?{query}");
        let mut seen: Vec<String> = Vec::new();
        let mut pages = 0;
        loop {
            let page = stack.get(&url).await.unwrap();
            pages += 1;
            seen.extend(page["results"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()));
            // New events (newer ids, and one stamped with an old `created_date`) land between pages.
            let fresh =
                vec![row(1, Utc::now(), None, json!({})), row(2, now - chrono::Duration::days(1), None, json!({}))];
            diesel::insert_into(face_events::table).values(fresh).execute(&mut conn).await.unwrap();
            let Some(next) = page["next_page"].as_str() else { break };
            url = next.strip_prefix(&stack.gateway.url("")).unwrap().to_string();
            assert!(pages < 100, "{query}: the walk does not end");
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{query}: an event came twice");
        let wanted: HashSet<String> =
            initial.iter().filter(|r| camera.is_none_or(|c| r.camera_id == c)).map(|r| r.id.to_string()).collect();
        let seen: HashSet<String> = seen.into_iter().collect();
        assert!(wanted.is_subset(&seen), "{query}: {} initial events missing", wanted.difference(&seen).count());
    }
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_unfiltered_list_counts_by_the_planner_estimate() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    // A "large" table for the test: more than 4 events.
    env.config.event_list.count_estimate_above = 4;
    let stack = Stack::start(&mut env).await.unwrap();
    let mut conn = env.connect_db().await.unwrap();
    let now = Utc::now();
    let counted = (0..6).map(|n| row(1 + n % 2, now, None, json!({}))).collect::<Vec<_>>();
    diesel::insert_into(face_events::table).values(counted).execute(&mut conn).await.unwrap();
    diesel::sql_query("ANALYZE face_events").execute(&mut conn).await.unwrap();
    // Rows the statistics do not know of yet (autovacuum ignores so few).
    let later = (0..3).map(|_| row(1, now, None, json!({}))).collect::<Vec<_>>();
    diesel::insert_into(face_events::table).values(later).execute(&mut conn).await.unwrap();

    let count = |query: &'static str| {
        let stack = &stack;
        async move { stack.get(&format!("/events/faces/?{query}")).await.unwrap()["count"].as_i64().unwrap() }
    };
    assert_eq!(count("limit=2").await, 6, "unfiltered: the statistics' estimate");
    assert_eq!(count("limit=2&matched=false").await, 9, "filtered: exact");
    assert_eq!(count("limit=2&cameras=1,2").await, 9, "filtered: exact");
    // The page itself is exact whatever the count says.
    let all = stack.get("/events/faces/?limit=100").await.unwrap();
    assert_eq!(all["results"].as_array().unwrap().len(), 9);

    drop(conn);
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}
