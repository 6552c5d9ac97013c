//! The live feed (wire doc §4): per-connection filters, a client that never reads, and several
//! gateway replicas on one bus.

use std::collections::HashSet;
use std::time::Duration;

use diesel::QueryDsl;
use diesel_async::RunQueryDsl;
use domain::event::{Attribute, FaceEvent};
use domain::schema::face_events;
use ffsec_tests::events::{EventBus, event};
use ffsec_tests::live::LiveClient;
use ffsec_tests::service::{Running, bind, metric};
use ffsec_tests::{Stack, TestEnv, wait_until};
use serde_json::json;

const FRAME_WAIT: Duration = Duration::from_secs(10);

fn female(mut e: FaceEvent) -> FaceEvent {
    e.features.gender = Some(Attribute { name: json!("female"), confidence: 0.9 });
    e
}

/// The ids of `event_created` frames until (and with) `last`.
async fn created_until(client: &mut LiveClient, last: &FaceEvent) -> Vec<String> {
    let mut ids = Vec::new();
    loop {
        let frame = client.next_frame(FRAME_WAIT).await.unwrap();
        if frame["type"] != "event_created" {
            continue;
        }
        let id = frame["data"]["id"].as_str().unwrap().to_string();
        let done = id == last.id.to_string();
        ids.push(id);
        if done {
            return ids;
        }
    }
}

/// The ids of the next `n` distinct `event_created` frames.
async fn created_set(client: &mut LiveClient, n: usize) -> HashSet<String> {
    let mut ids = HashSet::new();
    while ids.len() < n {
        let frame = client.next_frame(FRAME_WAIT).await.unwrap();
        if frame["type"] == "event_created" {
            ids.insert(frame["data"]["id"].as_str().unwrap().to_string());
        }
    }
    ids
}

fn ids_of(events: &[&FaceEvent]) -> Vec<String> {
    events.iter().map(|e| e.id.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_filters_select_events() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    let stack = Stack::start(&mut env).await.unwrap();
    let addr = stack.gateway.addr.to_string();

    // A bad filter on the URL is refused before the upgrade, with the list's error.
    let refused = tokio_tungstenite::connect_async(format!("ws://{addr}/events/?cameras=two")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400);
            let body: serde_json::Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
            assert_eq!((body["code"].as_str(), body["param"].as_str()), (Some("BAD_PARAM"), Some("cameras")));
        }
        other => panic!("expected a 400, got {other:?}"),
    }

    let mut by_url = LiveClient::connect(&addr, &stack.token, "?cameras=2&matched=true").await.unwrap();
    let mut by_message = LiveClient::connect(&addr, &stack.token, "").await.unwrap();
    let mut everything = LiveClient::connect(&addr, &stack.token, "").await.unwrap();
    let mut muted = LiveClient::connect_with_events(&addr, &stack.token, "", false).await.unwrap();
    by_message.send(json!({"type": "filters", "data": {"matched_dossier": [5], "gender": "female"}})).await.unwrap();
    assert_eq!(by_message.next_frame(FRAME_WAIT).await.unwrap()["type"], "filters");
    // A bad filters message is answered with the error and leaves the filters in force.
    by_message.send(json!({"type": "filters", "data": {"age_gte": "old"}})).await.unwrap();
    let invalid = by_message.next_frame(FRAME_WAIT).await.unwrap();
    assert_eq!(invalid["type"], "filters_invalid");
    assert_eq!(invalid["data"]["param"], "age_gte");

    let unmatched_1 = event(1, None);
    let matched_female = female(event(2, Some(5)));
    let matched_other = event(2, Some(6));
    let unmatched_2 = female(event(2, None));
    // Matches every client's filters, so each knows the stream is done once it sees it.
    let last = female(event(2, Some(5)));
    let all = [&unmatched_1, &matched_female, &matched_other, &unmatched_2, &last];
    let bus = EventBus::connect(&env.config.rabbitmq.url, &env.names()).await.unwrap();
    bus.publish_many(&all.iter().map(|e| (*e).clone()).collect::<Vec<_>>()).await.unwrap();

    assert_eq!(created_until(&mut by_url, &last).await, ids_of(&[&matched_female, &matched_other, &last]));
    assert_eq!(created_until(&mut by_message, &last).await, ids_of(&[&matched_female, &last]));
    assert_eq!(created_until(&mut everything, &last).await, ids_of(&all));
    // `ws_events: false` gets no event frames. Every frame is in the feed's queues by now; any
    // queued for this client would be written while it waits for each of two round trips, so
    // before the second answer.
    for _ in 0..2 {
        muted.send(json!({"type": "filters", "data": {}})).await.unwrap();
        assert_eq!(muted.next_frame(FRAME_WAIT).await.unwrap()["type"], "filters");
    }

    // Clearing the filters (an empty object) lets everything through again.
    by_url.send(json!({"type": "filters", "data": {}})).await.unwrap();
    assert_eq!(by_url.next_frame(FRAME_WAIT).await.unwrap()["type"], "filters");
    let next = event(1, None);
    bus.publish(&next).await.unwrap();
    assert_eq!(created_until(&mut by_url, &next).await, ids_of(&[&next]));

    bus.close().await;
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

/// One client reads, one never does. The reader gets every event promptly, the other is cut off,
/// and the recorder stores everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_that_never_reads_is_cut_off_and_slows_nobody() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    let stack = Stack::start(&mut env).await.unwrap();
    let addr = stack.gateway.addr.to_string();
    let mut reader = LiveClient::connect(&addr, &stack.token, "").await.unwrap();
    let mut sleeper = LiveClient::connect(&addr, &stack.token, "").await.unwrap();
    wait_until("two live clients", FRAME_WAIT, || async {
        (metric(&stack.gateway, "ffsec_websocket_clients").await? == 2.0).then_some(())
    })
    .await
    .unwrap();

    // Fill the sleeper's socket: 120 frames of 64 KiB (7.7 MB; the server's send buffer is at
    // most 4 MiB and the receive side stays small while nobody reads). They go straight on the
    // events exchange, so only the live feed carries the bulk.
    let bus = EventBus::connect(&env.config.rabbitmq.url, &env.names()).await.unwrap();
    let padding = "x".repeat(64 * 1024);
    let bulk: Vec<FaceEvent> = (0..120)
        .map(|_| {
            let mut e = event(1, None);
            e.detector_params = json!({"padding": padding});
            e
        })
        .collect();
    bus.publish_many(&bulk).await.unwrap();
    assert_eq!(created_set(&mut reader, bulk.len()).await.len(), bulk.len());
    // The sleeper is now stuck in a send (cut off after 5 s). Small faces through the recorder at
    // 1000/s: the reader's delay is receipt minus `created_date`, stamped just before publishing.
    const EVENTS: usize = 300;
    let publisher = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_millis(20));
        for _ in 0..EVENTS / 20 {
            ticker.tick().await;
            let chunk: Vec<FaceEvent> = (0..20).map(|_| event(2, None)).collect();
            bus.publish_detected(&chunk).await.unwrap();
        }
        bus.close().await;
    });
    let mut seen: HashSet<String> = HashSet::new();
    let mut worst = Duration::ZERO;
    while seen.len() < EVENTS {
        let frame = reader.next_frame(FRAME_WAIT).await.unwrap();
        if frame["type"] != "event_created" {
            continue;
        }
        let created: chrono::DateTime<chrono::Utc> = frame["data"]["created_date"].as_str().unwrap().parse().unwrap();
        worst = worst.max((chrono::Utc::now() - created).to_std().unwrap_or_default());
        seen.insert(frame["data"]["id"].as_str().unwrap().to_string());
    }
    publisher.await.unwrap();
    // Well under the 5 s send timeout: a reader held up behind the sleeper's send would pass it.
    assert!(worst < Duration::from_secs(2), "the reader waited {worst:?} for an event");

    wait_until("the sleeper to be cut off", Duration::from_secs(20), || async {
        (metric(&stack.gateway, "ffsec_websocket_clients").await? == 1.0).then_some(())
    })
    .await
    .unwrap();
    let got = sleeper.drain_until_closed(Duration::from_secs(20)).await.unwrap();
    assert!(got < bulk.len() + EVENTS, "the sleeper was cut off, so it cannot have every frame ({got})");
    let mut conn = env.connect_db().await.unwrap();
    let stored: i64 = face_events::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(stored, EVENTS as i64);

    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

/// Two gateway-api replicas on one database and bus prefix: the recorder queue is shared (each
/// face stored once), and each replica's own live queue gets every event for its clients.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_gateway_replicas_each_deliver_every_event() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    let stack = Stack::start(&mut env).await.unwrap();
    // The second replica with two HTTP workers: its connections are spread over both, and each
    // worker fans frames out to its own clients.
    let mut config = env.config.clone();
    config.server.workers = 2;
    let second = Running::start(bind().unwrap(), config, gateway_api::run).unwrap();
    second.wait_healthy().await.unwrap();
    let mut first_client = LiveClient::connect(&stack.gateway.addr.to_string(), &stack.token, "").await.unwrap();
    let mut second_clients = Vec::new();
    for query in ["?cameras=1", "", "?cameras=1", ""] {
        second_clients.push(LiveClient::connect(&second.addr.to_string(), &stack.token, query).await.unwrap());
    }
    for (running, clients) in [(&stack.gateway, 1.0), (&second, 4.0)] {
        wait_until("the live clients on each replica", FRAME_WAIT, || async {
            (metric(running, "ffsec_websocket_clients").await? == clients).then_some(())
        })
        .await
        .unwrap();
    }

    let events: Vec<FaceEvent> = (0..200).map(|n| event(1 + n % 2, None)).collect();
    let bus = EventBus::connect(&env.config.rabbitmq.url, &env.names()).await.unwrap();
    bus.publish_detected(&events).await.unwrap();
    let want_all: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
    let want_camera_1: Vec<String> = events.iter().filter(|e| e.camera.id == 1).map(|e| e.id.to_string()).collect();
    // The replicas' recorders store concurrently, so announcements may come in any order.
    let want_all: HashSet<String> = want_all.into_iter().collect();
    let want_camera_1: HashSet<String> = want_camera_1.into_iter().collect();
    assert_eq!(created_set(&mut first_client, want_all.len()).await, want_all);
    for (n, client) in second_clients.iter_mut().enumerate() {
        let want = if n % 2 == 0 { &want_camera_1 } else { &want_all };
        assert_eq!(&created_set(client, want.len()).await, want, "client {n} of the second replica");
    }
    let mut conn = env.connect_db().await.unwrap();
    let stored: i64 = face_events::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(stored, 200, "each face stored once across both recorders");

    bus.close().await;
    second.stop().await.unwrap();
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}
