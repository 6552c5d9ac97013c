//! The checks an auditor runs (issue 6): secrets never in logs, every filter parameter safe from
//! SQL injection, a WebSocket that never authenticates is closed. Route permissions are the
//! matrix in `gateway_resources`, walked over the same route table the OpenAPI document is built
//! from; media traversal is in `gateway_media`, SSRF in `webhooks` and the dispatcher's `ssrf`.

use std::time::{Duration, Instant};

use ffsec_tests::env::{ADMIN_PASSWORD, ADMIN_USER, WORKER_TOKEN};
use ffsec_tests::live::LiveClient;
use ffsec_tests::process::{Process, write_config};
use ffsec_tests::worker::Face;
use ffsec_tests::{Stack, TestEnv, wait_until};
use futures_util::StreamExt;
use serde_json::{Value, json};

/// Every credential the run handles, right or wrong, with a name for the failure message.
struct Secrets(Vec<(&'static str, String)>);

impl Secrets {
    fn leaked_in<'a>(&'a self, log: &str) -> Vec<&'a str> {
        self.0.iter().filter(|(_, secret)| log.contains(secret.as_str())).map(|(name, _)| *name).collect()
    }
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_and_tokens_never_reach_the_logs() {
    let mut env = TestEnv::new().await.unwrap();
    // Debug everywhere, JSON lines: the most a misconfigured deployment would write.
    env.config.logging.level = "debug".into();
    let log = std::env::temp_dir().join(format!("ffsec-security-{}.log", env.config.rabbitmq.prefix));
    let config = write_config(&toml::to_string(&env.config).unwrap());
    let gateway = Process::spawn_logged("gateway-api", &config, &log);
    gateway.wait_healthy().await;
    let ingest = Process::spawn_logged("facerouter-ingest", &config, &log);
    let dispatcher = Process::spawn_logged("webhook-dispatcher", &config, &log);
    ingest.wait_healthy().await;
    dispatcher.wait_healthy().await;
    let api = |path: &str| format!("http://127.0.0.1:{}{path}", gateway.port);
    let client = reqwest::Client::new();

    let mut secrets = Secrets(vec![
        ("admin password", ADMIN_PASSWORD.to_string()),
        ("worker token", WORKER_TOKEN.to_string()),
        ("SECRET_KEY", env.config.secret_key.clone()),
        ("a wrong password", "wrong-password-7731".to_string()),
        ("a forged API token", "forged-api-token-5519".to_string()),
        ("a wrong worker token", "wrong-worker-token-8842".to_string()),
    ]);

    // Logins, right and wrong; a forged token.
    let login = client.post(api("/auth/login/")).basic_auth(ADMIN_USER, Some(ADMIN_PASSWORD)).json(&json!({})).send();
    let (status, body) = json_of(login.await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_string();
    secrets.0.push(("the API token", token.clone()));
    let auth = format!("Token {token}");
    let wrong = client.post(api("/auth/login/")).basic_auth(ADMIN_USER, Some("wrong-password-7731")).send();
    assert_eq!(wrong.await.unwrap().status(), 401);
    let forged = client.get(api("/users/me/")).header("Authorization", "Token forged-api-token-5519").send();
    assert_eq!(forged.await.unwrap().status(), 401);

    // A camera (its external-detector token) and a hook (its signing secret, then a rotation).
    let camera = client.post(api("/cameras/")).header("Authorization", &auth).json(&json!({"name": "Gate"})).send();
    let (status, camera) = json_of(camera.await.unwrap()).await;
    assert_eq!(status, 201, "{camera}");
    secrets.0.push(("a camera token", camera["external_detector_token"].as_str().unwrap().to_string()));
    let receiver = ffsec_tests::receiver::Receiver::start(0).unwrap();
    let hook = client
        .post(api("/hooks/"))
        .header("Authorization", &auth)
        .json(&json!({"name": "audit", "url": receiver.url()}))
        .send();
    let (status, hook) = json_of(hook.await.unwrap()).await;
    assert_eq!(status, 201, "{hook}");
    secrets.0.push(("a hook secret", hook["secret"].as_str().unwrap().to_string()));

    // A face from the worker (and one with a wrong token), seen live and delivered to the hook.
    let mut live = LiveClient::connect(&format!("127.0.0.1:{}", gateway.port), &token, "").await.unwrap();
    let ingest_url = format!("http://127.0.0.1:{}/video-detector/frame/", ingest.port);
    let face = Face::new(camera["id"].as_i64().unwrap(), None);
    wait_until("ingest to accept a face for the new camera", Duration::from_secs(20), || async {
        let response = face.post(&client, &ingest_url, Some(WORKER_TOKEN)).await.ok()?;
        response.status().is_success().then_some(())
    })
    .await
    .unwrap();
    let refused = face.post(&client, &ingest_url, Some("wrong-worker-token-8842")).await.unwrap();
    assert_eq!(refused.status(), 401);
    let frame = live.next_frame(Duration::from_secs(20)).await.unwrap();
    assert_eq!(frame["type"], "event_created", "{frame}");
    wait_until("the hook's first delivery", Duration::from_secs(20), || async {
        (receiver.events_ok() > 0).then_some(())
    })
    .await
    .unwrap();
    let rotated =
        client.post(api(&format!("/hooks/{}/rotate-secret/", hook["id"]))).header("Authorization", &auth).send();
    let (status, rotated) = json_of(rotated.await.unwrap()).await;
    assert_eq!(status, 200, "{rotated}");
    secrets.0.push(("a rotated hook secret", rotated["secret"].as_str().unwrap().to_string()));
    let logout = client.post(api("/auth/logout/")).header("Authorization", &auth).send();
    assert!(logout.await.unwrap().status().is_success());

    receiver.stop().await;
    for process in [ingest, dispatcher, gateway] {
        assert!(process.terminate().await.success());
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("listening") && text.lines().count() > 20, "the logs were captured:\n{text}");
    let leaked = secrets.leaked_in(&text);
    assert!(leaked.is_empty(), "found in the logs: {leaked:?} (log file {})", log.display());
    let _ = std::fs::remove_file(log);
    let _ = std::fs::remove_file(config);
    env.cleanup().await.unwrap();
}

/// Filter keys of the event list, with values built to break out of a SQL literal or list.
const INJECTIONS: &[&str] = &[
    "1' OR '1'='1",
    "1) OR (1=1",
    "1; DROP TABLE face_events; --",
    "female' OR 'x'='x",
    "0 UNION SELECT id FROM users",
    "2026-01-01T00:00:00Z' OR '1'='1",
    "\\'; SELECT pg_sleep(5); --",
    "%27%20OR%201%3D1",
];

fn with_query(url: &str, key: &str, value: &str) -> reqwest::Url {
    let mut url = reqwest::Url::parse(url).unwrap();
    url.query_pairs_mut().append_pair(key, value);
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_filter_parameter_reaches_sql_as_code() {
    let mut env = TestEnv::new().await.unwrap();
    let stack = Stack::start(&mut env).await.unwrap();
    let camera = stack.create("/cameras/", json!({"name": "Gate"})).await.unwrap()["id"].as_i64().unwrap();
    stack.wait_gallery(1.0, 0.0).await.unwrap();
    let url = stack.ingest.url("/video-detector/frame/");
    let posted = Face::new(camera, None).post(&stack.client, &url, Some(WORKER_TOKEN)).await.unwrap();
    assert_eq!(posted.status(), 200);
    wait_until("the event to be recorded", Duration::from_secs(20), || async {
        let page = stack.get("/events/faces/").await.ok()?;
        (page["count"] == 1).then_some(())
    })
    .await
    .unwrap();

    let paging = ["limit", "cursor", "ordering"];
    let keys = domain::list_filters::FILTER_PARAMS.iter().chain(&paging).copied();
    for key in keys {
        for value in INJECTIONS {
            let response = stack
                .client
                .get(with_query(&stack.gateway.url("/events/faces/"), key, value))
                .header("Authorization", format!("Token {}", stack.token))
                .send()
                .await
                .unwrap();
            let (status, body) = json_of(response).await;
            match status {
                // Accepted as a literal: it matches nothing (no value here names a real event).
                200 => assert_eq!(body["results"].as_array().map(Vec::len), Some(0), "{key}={value}: {body}"),
                400 => assert_eq!(body["param"], key, "{key}={value}: {body}"),
                other => panic!("{key}={value}: {other} {body}"),
            }
        }
    }
    // Nothing was dropped or changed, and a plain list still answers.
    let page = stack.get("/events/faces/").await.unwrap();
    assert_eq!(page["count"], 1, "{page}");
    assert!(stack.get("/users/me/").await.is_ok());
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_that_never_authenticates_is_closed() {
    let mut env = TestEnv::new().await.unwrap();
    let stack = Stack::start(&mut env).await.unwrap();
    let addr = stack.gateway.url("").trim_start_matches("http://").trim_end_matches('/').to_string();

    // Silent: closed by the server within its auth deadline (10 s) plus slack.
    let started = Instant::now();
    let (mut silent, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/events/")).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(Ok(message)) = silent.next().await {
            if message.is_close() {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "a silent socket was still open after {:?}", started.elapsed());

    // A bad token: told so and closed at once.
    let mut forged = LiveClient::connect(&addr, "forged-token", "").await.unwrap();
    let frame = forged.next_frame(Duration::from_secs(5)).await;
    let closed = forged.drain_until_closed(Duration::from_secs(5)).await;
    assert!(
        frame.as_ref().is_ok_and(|f| f["type"] == "token_invalid" || f.to_string().contains("token")) || closed.is_ok(),
        "forged token: {frame:?} / {closed:?}"
    );
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}
