//! Genetec Security Center alarms and camera import against a fake Web SDK that speaks its shape
//! (`/WebSdk/alarm?q=TriggerAlarm(...)`, `/WebSdk/report/EntityConfiguration?q=...`, answers in
//! `{"Rsp": {"Status", "Result"}}`, HTTP Basic as `user;appid`): one alarm per matched face on a
//! linked camera, with its context, retried when the Web SDK fails; none for unmatched faces,
//! unlinked cameras or a repeat within the rate limit; nothing at all with the switch off.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use domain::config::Integration;
use domain::event::{FaceEvent, IdName};
use ffsec_tests::events::{EventBus, event};
use ffsec_tests::{Receiver, Stack, TestEnv, wait_until};
use reqwest::Method;
use serde_json::{Value, json};

use crate::ingest_support::metric_with;

const WAIT: Duration = Duration::from_secs(20);
const ALARM: u32 = 5;
const IMPORT: &str = "/integrations/genetec/import-cameras/";

#[derive(Default)]
struct FakeSdk {
    fail_first: AtomicUsize,
    /// (query string, Authorization header, body, answered 2xx) of every alarm call.
    alarms: Mutex<Vec<(String, String, Value, bool)>>,
    calls: AtomicUsize,
}

impl FakeSdk {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn sent(&self) -> Vec<(String, String, Value, bool)> {
        self.alarms.lock().unwrap().iter().filter(|a| a.3).cloned().collect()
    }
}

async fn post_alarm(req: HttpRequest, body: web::Bytes, fake: web::Data<Arc<FakeSdk>>) -> HttpResponse {
    fake.calls.fetch_add(1, Ordering::SeqCst);
    let failing = fake.fail_first.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let context: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    fake.alarms.lock().unwrap().push((req.query_string().to_string(), auth, context, !failing));
    if failing {
        return HttpResponse::ServiceUnavailable()
            .json(json!({"Rsp": {"Status": "Fail", "Result": {"Message": "busy"}}}));
    }
    HttpResponse::Ok().json(json!({"Rsp": {"Status": "Ok", "Result": {}}}))
}

async fn get_report(req: HttpRequest, fake: web::Data<Arc<FakeSdk>>) -> HttpResponse {
    fake.calls.fetch_add(1, Ordering::SeqCst);
    let cameras = if req.query_string().contains("Page=1,") {
        json!([{"Guid": "00000001-0000-babe-0000-000000000101", "Name": "Lobby", "LogicalId": 101},
               {"Guid": "00000001-0000-babe-0000-000000000102", "Name": "Dock", "LogicalId": 102}])
    } else {
        json!([])
    };
    HttpResponse::Ok().json(json!({"Rsp": {"Status": "Ok", "Result": cameras}}))
}

fn start_fake(fake: Arc<FakeSdk>) -> (String, actix_web::dev::ServerHandle) {
    let (addr, handle) = ffsec_tests::fake_server::serve(fake, 1, |c| {
        c.route("/WebSdk/alarm", web::post().to(post_alarm))
            .route("/WebSdk/report/EntityConfiguration", web::get().to(get_report));
    })
    .unwrap();
    (format!("http://{addr}/WebSdk"), handle)
}

async fn env_with(sdk_url: &str, on: bool) -> TestEnv {
    let mut env = TestEnv::new().await.unwrap();
    let config = &mut env.config;
    if on {
        config.integrations = vec![Integration::Genetec];
    }
    let genetec = &mut config.genetec;
    genetec.url = sdk_url.to_string();
    genetec.username = "ffsec".into();
    genetec.password = "pw".into();
    genetec.application_id = "app".into();
    genetec.alarm = ALARM;
    genetec.retry_delays_ms = vec![200, 400];
    genetec.timeout_ms = 2_000;
    env
}

/// A matched event with the media and lists an alarm carries.
fn matched(camera: i64, dossier: i64) -> FaceEvent {
    let mut e = event(camera, Some(dossier));
    e.fullframe = "events/x_full.jpg".into();
    e.matched_face_photo = format!("dossiers/{dossier}.jpg");
    e.matched_lists = vec![IdName { id: 3, name: "VIP".into() }];
    e.confidence = 0.87;
    e
}

async fn alarms_with(stack: &Stack, outcome: &str) -> f64 {
    metric_with(&stack.dispatcher, "ffsec_genetec_alarms_total", &[("outcome", outcome)]).await
}

/// Waits until webhook-dispatcher has declared the Genetec queue (its consumer started), so that
/// events published from now on reach it.
async fn wait_queue(env: &TestEnv) {
    let queue = env.names().genetec_queue();
    wait_until("the Genetec queue", WAIT, || async {
        let connection =
            lapin::Connection::connect(&env.config.rabbitmq.url, lapin::ConnectionProperties::default()).await.ok()?;
        let channel = connection.create_channel().await.ok()?;
        let options = lapin::options::QueueDeclareOptions { passive: true, ..Default::default() };
        let found = channel.queue_declare(queue.as_str().into(), options, Default::default()).await.is_ok();
        let _ = connection.close(200, "done".into()).await;
        found.then_some(())
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matched_face_on_a_genetec_camera_raises_one_alarm_with_its_context() {
    crate::init_logs();
    let fake = Arc::new(FakeSdk::default());
    // The first two calls fail: the alarms are retried.
    fake.fail_first.store(2, Ordering::SeqCst);
    let (sdk_url, sdk) = start_fake(fake.clone());
    let mut env = env_with(&sdk_url, true).await;
    let stack = Stack::start(&mut env).await.unwrap();
    wait_queue(&env).await;

    let linked = stack.create("/cameras/", json!({"name": "gate", "genetec_camera": 42})).await.unwrap();
    let group = stack.create("/camera-groups/", json!({"name": "Genetec"})).await.unwrap();
    let in_group = stack.create("/cameras/", json!({"name": "yard", "group": group["id"]})).await.unwrap();
    let plain = stack.create("/cameras/", json!({"name": "hall"})).await.unwrap();
    let (linked, in_group, plain) =
        (linked["id"].as_i64().unwrap(), in_group["id"].as_i64().unwrap(), plain["id"].as_i64().unwrap());

    let bus = EventBus::connect(&env.config.rabbitmq.url, &env.names()).await.unwrap();
    let first = matched(linked, 7);
    bus.publish(&event(linked, None)).await.unwrap();
    bus.publish(&first).await.unwrap();
    bus.publish(&matched(plain, 7)).await.unwrap();
    bus.publish(&matched(in_group, 8)).await.unwrap();
    wait_until("two alarms sent, one unlinked and one unmatched event", WAIT, || async {
        let done = alarms_with(&stack, "sent").await == 2.0
            && alarms_with(&stack, "not_linked").await == 1.0
            && alarms_with(&stack, "unmatched").await == 1.0;
        done.then_some(())
    })
    .await
    .unwrap();
    // The same person on the same camera again, within the rate limit: no second alarm.
    bus.publish(&matched(linked, 7)).await.unwrap();
    wait_until("the repeat rate limited", WAIT, || async {
        (alarms_with(&stack, "rate_limited").await == 1.0).then_some(())
    })
    .await
    .unwrap();

    let sent = fake.sent();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(fake.calls(), 4, "two failed calls, retried");
    let (query, auth, context, _) =
        sent.iter().find(|a| a.0.contains("LogicalID(Camera,42)")).cloned().expect("the alarm of the linked camera");
    assert_eq!(query, format!("q=TriggerAlarm(LogicalID(Alarm,{ALARM}),LogicalID(Camera,42))"));
    use base64::Engine as _;
    assert_eq!(auth, format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("ffsec;app:pw")));
    assert_eq!(context["event_id"], first.id.to_string());
    assert_eq!(context["dossier"], json!({"id": 7, "name": "dossier 7"}));
    assert_eq!(context["camera"]["id"], linked);
    assert_eq!(context["confidence"], 0.87);
    assert_eq!(context["watch_lists"], json!([{"id": 3, "name": "VIP"}]));
    let base = env.config.external_base().to_string();
    for (key, path) in
        [("face", "events/x_face.jpg"), ("fullframe", "events/x_full.jpg"), ("dossier_photo", "dossiers/7.jpg")]
    {
        let url = context[key].as_str().unwrap_or_default();
        assert!(url.starts_with(&format!("{base}/uploads/{path}?")), "{key}: {url}");
    }
    let group_alarm =
        sent.iter().find(|a| !a.0.contains("Camera")).expect("the alarm of the camera in the Genetec group");
    assert_eq!(group_alarm.0, format!("q=TriggerAlarm(LogicalID(Alarm,{ALARM}))"));
    assert_eq!(group_alarm.2["dossier"]["id"], 8);

    // The log: every attempt, like the webhooks' delivery log.
    let log = stack.get("/integrations/genetec/alarms/?limit=100").await.unwrap();
    let rows = log["results"].as_array().unwrap();
    let count = |outcome: &str| rows.iter().filter(|r| r["outcome"] == outcome).count();
    assert_eq!(
        (log["count"].as_i64(), count("failed"), count("sent"), count("rate_limited")),
        (Some(5), 2, 2, 1),
        "{log}"
    );
    assert!(rows.iter().filter(|r| r["outcome"] == "failed").all(|r| r["status"] == 503), "{log}");
    let first_sent: Vec<&Value> =
        rows.iter().filter(|r| r["event"] == first.id.to_string() && r["outcome"] == "sent").collect();
    assert_eq!(first_sent.len(), 1, "{log}");
    assert_eq!(first_sent[0]["dossier"], 7);
    let failed = stack.get("/integrations/genetec/alarms/?outcome=failed&limit=1").await.unwrap();
    assert_eq!((failed["count"].as_i64(), failed["results"].as_array().map(Vec::len)), (Some(2), Some(1)), "{failed}");
    assert!(failed["next_page"].is_string(), "{failed}");

    // A Web SDK that keeps failing: three attempts (the first and two retries), then given up.
    fake.fail_first.store(3, Ordering::SeqCst);
    let doomed = matched(in_group, 9);
    bus.publish(&doomed).await.unwrap();
    wait_until("the alarm given up", WAIT, || async { (alarms_with(&stack, "gave_up").await == 1.0).then_some(()) })
        .await
        .unwrap();
    let log = stack.get("/integrations/genetec/alarms/?limit=100").await.unwrap();
    let attempts: Vec<(i64, String)> = log["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["event"] == doomed.id.to_string())
        .map(|r| (r["attempt"].as_i64().unwrap(), r["outcome"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(attempts, vec![(3, "gave_up".into()), (2, "failed".into()), (1, "failed".into())], "{log}");
    assert_eq!(fake.sent().len(), 2, "nothing more was sent");

    bus.close().await;
    stack.stop().await.unwrap();
    sdk.stop(false).await;
    env.cleanup().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genetec_cameras_are_imported_into_the_genetec_group_once() {
    crate::init_logs();
    let fake = Arc::new(FakeSdk::default());
    let (sdk_url, sdk) = start_fake(fake.clone());
    let mut env = env_with(&sdk_url, true).await;
    let stack = Stack::start(&mut env).await.unwrap();
    let import = || async {
        let response = stack.send(Method::POST, IMPORT, None).await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        response.json::<Value>().await.unwrap()
    };
    let first = import().await;
    assert_eq!((first["created"].as_u64(), first["existing"].as_u64()), (Some(2), Some(0)), "{first}");
    let group = stack.get(&format!("/camera-groups/{}/", first["group"])).await.unwrap();
    assert_eq!(group["name"], "Genetec");
    let cameras = stack.get("/cameras/").await.unwrap();
    let mut imported: Vec<(String, i64, i64)> = cameras["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["genetec_camera"].as_i64().unwrap(),
                c["group"].as_i64().unwrap(),
            )
        })
        .collect();
    imported.sort();
    let group_id = first["group"].as_i64().unwrap();
    assert_eq!(imported, vec![("Dock".to_string(), 102, group_id), ("Lobby".to_string(), 101, group_id)]);
    let again = import().await;
    assert_eq!(
        (again["created"].as_u64(), again["existing"].as_u64(), again["group"].as_i64()),
        (Some(0), Some(2), Some(group_id))
    );

    stack.stop().await.unwrap();
    sdk.stop(false).await;
    env.cleanup().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_genetec_switched_off_no_call_is_made() {
    crate::init_logs();
    let fake = Arc::new(FakeSdk::default());
    let (sdk_url, sdk) = start_fake(fake.clone());
    let mut env = env_with(&sdk_url, false).await;
    let stack = Stack::start(&mut env).await.unwrap();
    let receiver = Receiver::start(0).unwrap();
    stack.create("/hooks/", json!({"name": "hook", "url": receiver.url(), "filters": {}})).await.unwrap();
    stack.wait_hooks(1.0).await.unwrap();
    let linked = stack.create("/cameras/", json!({"name": "gate", "genetec_camera": 42})).await.unwrap();

    let bus = EventBus::connect(&env.config.rabbitmq.url, &env.names()).await.unwrap();
    bus.publish(&matched(linked["id"].as_i64().unwrap(), 7)).await.unwrap();
    // The dispatcher has read the event once its webhook is out.
    wait_until("the webhook of the event", WAIT, || async { (receiver.events_ok() == 1).then_some(()) }).await.unwrap();
    assert_eq!(stack.send(Method::POST, IMPORT, None).await.unwrap().status().as_u16(), 404);
    assert_eq!(fake.calls(), 0);
    assert_eq!(alarms_with(&stack, "unmatched").await + alarms_with(&stack, "not_linked").await, 0.0);

    bus.close().await;
    receiver.stop().await;
    stack.stop().await.unwrap();
    sdk.stop(false).await;
    env.cleanup().await.unwrap();
}
