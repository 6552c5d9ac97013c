//! webhook-dispatcher end to end: events put on the bus as the recorder announces them, hooks made
//! through gateway-api, receivers inside the test, signatures checked with the Standard Webhooks
//! reference library.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use ffsec_tests::events::{EventBus, event};
use ffsec_tests::receiver::{Received, Reply};
use ffsec_tests::{Receiver, Stack, TestEnv, wait_until};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(15);

struct Hook {
    id: i64,
    secret: String,
}

async fn create_hook(stack: &Stack, url: &str, extra: Value) -> Hook {
    let mut body = json!({"name": "hook", "url": url, "filters": {}});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let hook = stack.create("/hooks/", body).await.unwrap();
    Hook { id: hook["id"].as_i64().unwrap(), secret: hook["secret"].as_str().unwrap().to_string() }
}

async fn deliveries(stack: &Stack, hook: i64) -> Vec<Value> {
    let page = stack.get(&format!("/hooks/{hook}/deliveries/?limit=1000")).await.unwrap();
    page["results"].as_array().cloned().unwrap_or_default()
}

fn event_ids(request: &Received) -> Vec<String> {
    let batch: Value = serde_json::from_slice(&request.body).unwrap();
    batch.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect()
}

fn webhook_id(request: &Received) -> String {
    request.headers["webhook-id"].to_str().unwrap().to_string()
}

async fn wait_received(receiver: &Receiver, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
    wait_until(what, DEADLINE, || {
        let got = receiver.received();
        let ok = done(&got);
        async move { ok.then_some(got) }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failures_are_retried_logged_resent_and_replayed() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    let stack = Stack::start(&mut env).await.unwrap();
    let receiver = Receiver::start(0).unwrap();
    receiver.plan(vec![Reply::Status(500), Reply::Status(503), Reply::Status(429)]);
    let hook = create_hook(&stack, &receiver.url(), json!({"send_attempts": 0})).await;
    stack.wait_hooks(1.0).await.unwrap();
    let bus = EventBus::connect(&env.config.rabbitmq.url, &env.names()).await.unwrap();
    let before = chrono::Utc::now();
    let sent = event(1, Some(7));
    bus.publish(&sent).await.unwrap();

    let got = wait_received(&receiver, "a success after three failures", |r| r.iter().any(|x| x.status == 200)).await;
    assert_eq!(got.iter().map(|r| r.status).collect::<Vec<_>>(), vec![500, 503, 429, 200]);
    let ids: HashSet<String> = got.iter().map(webhook_id).collect();
    assert_eq!(ids.len(), 1, "one webhook-id across retries: {ids:?}");
    let verifier = standardwebhooks::Webhook::new(&hook.secret).unwrap();
    for request in &got {
        verifier.verify(&request.body, &request.headers).unwrap();
        assert_eq!(event_ids(request), vec![sent.id.to_string()]);
    }
    // Every attempt is in the log, exactly one of them a success.
    let log = wait_until("four log rows", DEADLINE, || async {
        let rows = deliveries(&stack, hook.id).await;
        (rows.len() == 4).then_some(rows)
    })
    .await
    .unwrap();
    let mut attempts: Vec<i64> = log.iter().map(|r| r["attempt"].as_i64().unwrap()).collect();
    attempts.sort_unstable();
    assert_eq!(attempts, vec![1, 2, 3, 4]);
    assert_eq!(log.iter().filter(|r| r["success"] == true).count(), 1);
    assert!(log.iter().any(|r| r["status"] == 429));
    let success = log.iter().find(|r| r["success"] == true).unwrap();
    assert_eq!(success["response_body"], "ok");

    // "Resend this delivery": the same events under the same webhook-id.
    let response = stack
        .client
        .post(stack.gateway.url(&format!("/hooks/{}/deliveries/{}/resend/", hook.id, success["id"])))
        .header("Authorization", format!("Token {}", stack.token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404, "the event was never stored by the recorder in this test");

    // Replay needs stored events: store one through the whole pipeline first.
    let camera = stack.create("/cameras/", json!({"name": "Lobby"})).await.unwrap();
    stack.wait_gallery(1.0, 0.0).await.unwrap();
    let face = ffsec_tests::worker::Face::new(camera["id"].as_i64().unwrap(), None);
    let accepted: Value = face
        .post(&stack.client, &stack.ingest.url("/video-detector/frame"), Some(ffsec_tests::env::WORKER_TOKEN))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored = accepted["event_id"].as_str().unwrap().to_string();
    let first =
        wait_received(&receiver, "the stored event", |r| r.iter().any(|x| event_ids(x).contains(&stored))).await;
    let delivered_before = first.iter().filter(|x| event_ids(x).contains(&stored)).count();
    // The face's timestamp is the worker's (2026-11-26T10:00:00Z); replay from well before it.
    let response = stack
        .client
        .post(stack.gateway.url(&format!("/hooks/{}/replay/", hook.id)))
        .header("Authorization", format!("Token {}", stack.token))
        .json(&json!({"since": "2026-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let replay: Value = response.json().await.unwrap();
    assert_eq!(replay["queued"], 1);
    assert_eq!(replay["complete"], true);
    let again = wait_received(&receiver, "the replayed event", |r| {
        r.iter().filter(|x| event_ids(x).contains(&stored)).count() > delivered_before
    })
    .await;
    let copies: Vec<&Received> = again.iter().filter(|x| event_ids(x).contains(&stored)).collect();
    assert_eq!(webhook_id(copies[0]), webhook_id(copies[copies.len() - 1]), "a replay keeps the webhook-id");
    // Resend the stored event's delivery.
    let log = wait_until("the stored event's log row", DEADLINE, || async {
        let rows = deliveries(&stack, hook.id).await;
        rows.into_iter().find(|r| r["events"].as_array().is_some_and(|e| e.contains(&json!(stored))))
    })
    .await
    .unwrap();
    let count = receiver.received().len();
    let response = stack
        .client
        .post(stack.gateway.url(&format!("/hooks/{}/deliveries/{}/resend/", hook.id, log["id"])))
        .header("Authorization", format!("Token {}", stack.token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let resent = wait_received(&receiver, "the resent delivery", |r| r.len() > count).await;
    assert_eq!(event_ids(&resent[count]), vec![stored.clone()]);
    assert_eq!(webhook_id(&resent[count]), log["webhook_id"].as_str().unwrap());
    assert!(before < chrono::Utc::now());

    bus.close().await;
    receiver.stop().await;
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_are_batched_up_to_batch_size() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    env.config.webhooks.batch_linger_ms = 300;
    let stack = Stack::start(&mut env).await.unwrap();
    let receiver = Receiver::start(0).unwrap();
    create_hook(&stack, &receiver.url(), json!({"batch_size": 5})).await;
    stack.wait_hooks(1.0).await.unwrap();
    let bus = EventBus::connect(&env.config.rabbitmq.url, &env.names()).await.unwrap();
    let sent: Vec<_> = (0..7).map(|n| event(n, None)).collect();
    for e in &sent {
        bus.publish(e).await.unwrap();
    }
    let got =
        wait_received(&receiver, "seven events", |r| r.iter().map(|x| event_ids(x).len()).sum::<usize>() >= 7).await;
    let sizes: Vec<usize> = got.iter().map(|r| event_ids(r).len()).collect();
    assert!(sizes.iter().all(|&n| (1..=5).contains(&n)), "{sizes:?}");
    assert!(sizes.iter().any(|&n| n > 1), "some requests carry several events: {sizes:?}");
    let all: HashSet<String> = got.iter().flat_map(event_ids).collect();
    assert_eq!(all, sent.iter().map(|e| e.id.to_string()).collect());
    bus.close().await;
    receiver.stop().await;
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signatures_verify_with_both_secrets_during_rotation() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    let stack = Stack::start(&mut env).await.unwrap();
    let receiver = Receiver::start(0).unwrap();
    let hook = create_hook(&stack, &receiver.url(), json!({})).await;
    stack.wait_hooks(1.0).await.unwrap();
    let bus = EventBus::connect(&env.config.rabbitmq.url, &env.names()).await.unwrap();
    bus.publish(&event(1, None)).await.unwrap();
    let got = wait_received(&receiver, "the first event", |r| !r.is_empty()).await;
    standardwebhooks::Webhook::new(&hook.secret).unwrap().verify(&got[0].body, &got[0].headers).unwrap();

    let reloads = ffsec_tests::service::metric(&stack.dispatcher, "ffsec_webhook_hook_reloads_total").await.unwrap();
    let rotated = stack
        .client
        .post(stack.gateway.url(&format!("/hooks/{}/rotate-secret/", hook.id)))
        .header("Authorization", format!("Token {}", stack.token))
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().await.unwrap();
    let new_secret = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, hook.secret);
    assert!(rotated["previous_secret_expires"].is_string());
    wait_until("the dispatcher to reload hooks", DEADLINE, || async {
        let now = ffsec_tests::service::metric(&stack.dispatcher, "ffsec_webhook_hook_reloads_total").await?;
        (now > reloads).then_some(())
    })
    .await
    .unwrap();
    bus.publish(&event(2, None)).await.unwrap();
    let got = wait_received(&receiver, "the second event", |r| r.len() >= 2).await;
    let second = &got[1];
    let signatures = second.headers["webhook-signature"].to_str().unwrap();
    assert_eq!(signatures.split(' ').count(), 2, "new and old signature: {signatures}");
    for secret in [&hook.secret, &new_secret] {
        standardwebhooks::Webhook::new(secret).unwrap().verify(&second.body, &second.headers).unwrap();
    }
    bus.close().await;
    receiver.stop().await;
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

/// Accepts connections and never answers: a hook that hangs until the client times out.
async fn dead_listener() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_hook_does_not_hold_back_a_healthy_one() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    env.config.webhooks.timeout_ms = 4_000;
    let stack = Stack::start(&mut env).await.unwrap();
    let healthy = Receiver::start(0).unwrap();
    let dead = dead_listener().await;
    let dead_hook = create_hook(&stack, &format!("http://{dead}/hook"), json!({"name": "dead"})).await;
    create_hook(&stack, &healthy.url(), json!({"name": "healthy"})).await;
    stack.wait_hooks(2.0).await.unwrap();
    let bus = EventBus::connect(&env.config.rabbitmq.url, &env.names()).await.unwrap();
    let started = Instant::now();
    let sent: Vec<_> = (0..40).map(|n| event(n, None)).collect();
    for e in &sent {
        bus.publish(e).await.unwrap();
    }
    wait_received(&healthy, "all events at the healthy hook", |r| r.len() >= sent.len()).await;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(4_000), "the healthy hook waited {took:?}: as long as the dead one's timeout");
    // The dead hook's attempts time out and are logged as such.
    let log = wait_until("a timed-out attempt in the log", DEADLINE, || async {
        let rows = deliveries(&stack, dead_hook.id).await;
        rows.into_iter().find(|r| r["error"].as_str().is_some_and(|e| e.contains("timed out")))
    })
    .await
    .unwrap();
    assert_eq!(log["success"], false);
    bus.close().await;
    healthy.stop().await;
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gone_or_continuously_failing_hooks_are_switched_off() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    env.config.webhooks.disable_after_ms = 300;
    env.config.webhooks.disable_min_attempts = 3;
    let stack = Stack::start(&mut env).await.unwrap();
    let gone = Receiver::start(0).unwrap();
    gone.always(Reply::Status(410));
    let failing = Receiver::start(0).unwrap();
    failing.always(Reply::Status(500));
    let gone_hook = create_hook(&stack, &gone.url(), json!({"send_attempts": 0})).await;
    let failing_hook = create_hook(&stack, &failing.url(), json!({"send_attempts": 0})).await;
    stack.wait_hooks(2.0).await.unwrap();
    let bus = EventBus::connect(&env.config.rabbitmq.url, &env.names()).await.unwrap();
    bus.publish(&event(1, None)).await.unwrap();
    for (hook, reason) in [(&gone_hook, "410"), (&failing_hook, "failed attempts")] {
        let state = wait_until("the hook to be switched off", DEADLINE, || async {
            let h = stack.get(&format!("/hooks/{}/", hook.id)).await.ok()?;
            (h["active"] == false).then_some(h)
        })
        .await
        .unwrap();
        assert!(state["disabled_reason"].as_str().unwrap().contains(reason), "{state}");
        assert!(state["disabled_date"].is_string());
    }
    assert_eq!(gone.received().len(), 1, "410 switches the hook off at once");
    assert!(failing.received().len() >= 3);
    // Re-enabling offers a replay from when it was switched off.
    let response = stack
        .client
        .patch(stack.gateway.url(&format!("/hooks/{}/", gone_hook.id)))
        .header("Authorization", format!("Token {}", stack.token))
        .json(&json!({"active": "true"}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["active"], true);
    assert_eq!(body["failed_attempts"], 0);
    assert!(body["replay_since"].is_string(), "{body}");
    bus.close().await;
    gone.stop().await;
    failing.stop().await;
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_ssrf_guard_refuses_internal_addresses() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    env.config.webhooks.allowed_addresses.clear();
    let stack = Stack::start(&mut env).await.unwrap();
    let receiver = Receiver::start(0).unwrap();
    let port = receiver.addr.port();
    let urls = [
        format!("http://localhost:{port}/hook"),
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        format!("http://[::1]:{port}/hook"),
    ];
    let mut hooks = Vec::new();
    for url in &urls {
        hooks.push(create_hook(&stack, url, json!({"send_attempts": 1})).await);
    }
    stack.wait_hooks(urls.len() as f64).await.unwrap();
    let bus = EventBus::connect(&env.config.rabbitmq.url, &env.names()).await.unwrap();
    bus.publish(&event(1, None)).await.unwrap();
    for (hook, url) in hooks.iter().zip(&urls) {
        let row = wait_until("the refused attempt in the log", DEADLINE, || async {
            deliveries(&stack, hook.id).await.into_iter().next()
        })
        .await
        .unwrap();
        assert_eq!(row["success"], false);
        let error = row["error"].as_str().unwrap();
        assert!(error.contains("loopback") && error.contains("refused"), "{url}: {error}");
    }
    assert!(receiver.received().is_empty(), "nothing reached the receiver");
    bus.close().await;
    receiver.stop().await;
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redirects_are_not_followed() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    let stack = Stack::start(&mut env).await.unwrap();
    let target = Receiver::start(0).unwrap();
    let redirecting = Receiver::start(0).unwrap();
    redirecting.always(Reply::Redirect(target.url()));
    let hook = create_hook(&stack, &redirecting.url(), json!({"send_attempts": 2})).await;
    stack.wait_hooks(1.0).await.unwrap();
    let bus = EventBus::connect(&env.config.rabbitmq.url, &env.names()).await.unwrap();
    bus.publish(&event(1, None)).await.unwrap();
    let log = wait_until("two failed attempts", DEADLINE, || async {
        let rows = deliveries(&stack, hook.id).await;
        (rows.len() == 2).then_some(rows)
    })
    .await
    .unwrap();
    assert!(log.iter().all(|r| r["status"] == 302 && r["success"] == false), "{log:?}");
    assert!(target.received().is_empty(), "the redirect was not followed");
    bus.close().await;
    target.stop().await;
    redirecting.stop().await;
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parked_retries_survive_a_killed_dispatcher() {
    use ffsec_tests::process::{Process, write_config};
    use ffsec_tests::service::{bind, metric_at};
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    // gateway-api in-process (migrations, the hooks API); the dispatcher as a process we can kill.
    let listener = bind().unwrap();
    env.config.ffsecurity.external_address = format!("http://{}", listener.local_addr().unwrap());
    let gateway = ffsec_tests::Running::start(listener, env.config.clone(), gateway_api::run).unwrap();
    gateway.wait_healthy().await.unwrap();
    let client = reqwest::Client::new();
    let token =
        ffsec_tests::stack::login(&client, &gateway, ffsec_tests::env::ADMIN_USER, ffsec_tests::env::ADMIN_PASSWORD)
            .await
            .unwrap();
    let receiver = Receiver::start(0).unwrap();
    receiver.always(Reply::Status(503));
    let response = client
        .post(gateway.url("/hooks/"))
        .header("Authorization", format!("Token {token}"))
        .json(&json!({"name": "h", "url": receiver.url(), "send_attempts": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let config = write_config(&toml::to_string(&env.config).unwrap());
    let dispatcher = Process::spawn("webhook-dispatcher", &config);
    dispatcher.wait_healthy().await;
    let metrics = format!("http://127.0.0.1:{}/metrics", dispatcher.port);
    wait_until("the dispatcher to load the hook", DEADLINE, || async {
        (metric_at(&metrics, "ffsec_webhook_active_hooks").await? >= 1.0).then_some(())
    })
    .await
    .unwrap();

    let bus = EventBus::connect(&env.config.rabbitmq.url, &env.names()).await.unwrap();
    let sent = event(3, None);
    bus.publish(&sent).await.unwrap();
    let failed = wait_received(&receiver, "a failed first attempt", |r| !r.is_empty()).await;
    // A crash with the retry parked in its delay queue, then the receiver comes back.
    dispatcher.kill();
    receiver.recover();
    let restarted = Process::spawn("webhook-dispatcher", &config);
    let got = wait_received(&receiver, "the event after the restart", |r| r.iter().any(|x| x.status == 200)).await;
    let delivered = got.iter().find(|x| x.status == 200).unwrap();
    assert_eq!(event_ids(delivered), vec![sent.id.to_string()]);
    assert_eq!(webhook_id(delivered), webhook_id(&failed[0]));

    assert!(restarted.terminate().await.success());
    bus.close().await;
    receiver.stop().await;
    gateway.stop().await.unwrap();
    let _ = std::fs::remove_file(config);
    env.cleanup().await.unwrap();
}
