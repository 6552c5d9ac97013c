//! The video manager sync against a fake video manager that speaks its job API (`/job/<id>`,
//! job objects with `status`/`status_msg`, errors as `{"code", "desc"}`): camera writes drive the
//! job through create, update, stop and delete; an outage never blocks a camera write and the sync
//! catches up after it; a licence refusal is shown as such; with the switch off nothing is called;
//! with two gateway-api replicas each change is pushed once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use domain::config::Integration;
use ffsec_tests::env::WORKER_TOKEN;
use ffsec_tests::live::LiveClient;
use ffsec_tests::service::{Running, bind};
use ffsec_tests::{Stack, TestEnv, wait_until};
use reqwest::Method;
use serde_json::{Value, json};

const UP: usize = 0;
const DOWN: usize = 1;
const NO_LICENCE: usize = 2;
/// Up, but each job call takes 30 ms (a busy video manager): passes last long enough to overlap.
const SLOW: usize = 3;
const WAIT: Duration = Duration::from_secs(20);

#[derive(Default)]
struct FakeVm {
    mode: AtomicUsize,
    jobs: Mutex<HashMap<String, Value>>,
    /// (method, job id) of every call.
    calls: Mutex<Vec<(String, String)>>,
}

impl FakeVm {
    fn job(&self, id: i64) -> Option<Value> {
        self.jobs.lock().unwrap().get(&id.to_string()).cloned()
    }

    fn set_status(&self, id: i64, status: &str) {
        if let Some(job) = self.jobs.lock().unwrap().get_mut(&id.to_string()) {
            job["status"] = json!(status);
        }
    }

    fn calls(&self, method: &str, id: i64) -> usize {
        self.calls.lock().unwrap().iter().filter(|(m, j)| m == method && *j == id.to_string()).count()
    }
}

fn error(status: u16, code: &str, desc: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .json(json!({"code": code, "desc": desc}))
}

async fn job_call(req: HttpRequest, body: web::Bytes, fake: web::Data<Arc<FakeVm>>) -> HttpResponse {
    let id = req.match_info().get("id").unwrap_or_default().to_string();
    let method = req.method().to_string();
    fake.calls.lock().unwrap().push((method.clone(), id.clone()));
    match fake.mode.load(Ordering::SeqCst) {
        // Down as a hung host is: no answer within the sync's 2 s timeout.
        DOWN => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            return HttpResponse::ServiceUnavailable().finish();
        }
        NO_LICENCE if method == "POST" => return error(403, "TOO_MANY_CAMERAS", "the licence allows no more cameras"),
        SLOW => tokio::time::sleep(Duration::from_millis(30)).await,
        _ => {}
    }
    let mut jobs = fake.jobs.lock().unwrap();
    let sent: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match method.as_str() {
        "POST" if jobs.contains_key(&id) => error(409, "CONFLICT", "job exists"),
        "POST" => {
            let mut job = sent;
            job["id"] = json!(id);
            job["status"] = json!("AWAITING");
            job["status_msg"] = json!("");
            jobs.insert(id, job.clone());
            HttpResponse::Ok().json(job)
        }
        "PATCH" | "GET" => match jobs.get_mut(&id) {
            None => error(404, "NOT_FOUND", "job not found"),
            Some(job) => {
                if let Value::Object(changes) = sent {
                    for (key, value) in changes {
                        job[key] = value;
                    }
                }
                HttpResponse::Ok().json(job.clone())
            }
        },
        "DELETE" => match jobs.remove(&id) {
            None => error(404, "NOT_FOUND", "job not found"),
            Some(_) => HttpResponse::NoContent().finish(),
        },
        _ => HttpResponse::MethodNotAllowed().finish(),
    }
}

/// `GET /jobs`: every job, as the video manager lists them.
async fn get_jobs(fake: web::Data<Arc<FakeVm>>) -> HttpResponse {
    fake.calls.lock().unwrap().push(("GET".into(), "*".into()));
    if fake.mode.load(Ordering::SeqCst) == DOWN {
        tokio::time::sleep(Duration::from_secs(3)).await;
        return HttpResponse::ServiceUnavailable().finish();
    }
    let jobs: Vec<Value> = fake.jobs.lock().unwrap().values().cloned().collect();
    HttpResponse::Ok().json(jobs)
}

fn start_fake(fake: Arc<FakeVm>) -> (String, actix_web::dev::ServerHandle) {
    let (addr, handle) = ffsec_tests::fake_server::serve(fake, 1, |c| {
        c.route("/job/{id}", web::route().to(job_call)).route("/jobs", web::get().to(get_jobs));
    })
    .unwrap();
    (addr.to_string(), handle)
}

async fn env_with(vm_address: &str, on: bool) -> TestEnv {
    let mut env = TestEnv::new().await.unwrap();
    let config = &mut env.config;
    if on {
        config.integrations = vec![Integration::VideoManager];
    }
    config.ffsecurity.video_manager_address = vm_address.to_string();
    config.ffsecurity.router_url = "10.1.2.3:18300".into();
    config.video_manager.sync_interval_ms = 200;
    config.video_manager.status_interval_ms = 200;
    config.video_manager.timeout_ms = 2_000;
    env
}

async fn patch(stack: &Stack, id: i64, body: Value) -> (u16, Duration) {
    let started = Instant::now();
    let response = stack.send(Method::PATCH, &format!("/cameras/{id}/"), Some(body)).await.unwrap();
    (response.status().as_u16(), started.elapsed())
}

async fn delete(stack: &Stack, id: i64) -> u16 {
    stack.send(Method::DELETE, &format!("/cameras/{id}/"), None).await.unwrap().status().as_u16()
}

/// Waits until the camera's `vm_status` passes `check`, and returns it.
async fn wait_vm_status(stack: &Stack, id: i64, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    wait_until(what, WAIT, || async {
        let camera = stack.get(&format!("/cameras/{id}/")).await.ok()?;
        check(&camera["vm_status"]).then(|| camera["vm_status"].clone())
    })
    .await
    .unwrap()
}

async fn wait_job(fake: &FakeVm, id: i64, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    wait_until(what, WAIT, || async { fake.job(id).filter(|job| check(job)) }).await.unwrap()
}

/// The next `camera_vm_status` frame for `camera` whose status is `status`.
async fn wait_frame(live: &mut LiveClient, camera: i64, status: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = live.next_frame(left).await.unwrap();
        if frame["type"] == "camera_vm_status" && frame["data"]["camera"] == camera && frame["data"]["status"] == status
        {
            return frame;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_crud_drives_the_video_manager_job_through_an_outage_and_a_licence_refusal() {
    crate::init_logs();
    let fake = Arc::new(FakeVm::default());
    let (vm_address, vm) = start_fake(fake.clone());
    let mut env = env_with(&vm_address, true).await;
    let stack = Stack::start(&mut env).await.unwrap();
    let mut live = LiveClient::connect(&stack.gateway.addr.to_string(), &stack.token, "").await.unwrap();

    // Stream settings are an object or nothing.
    let refused =
        stack.send(Method::POST, "/cameras/", Some(json!({"name": "x", "stream_settings": "fps=5"}))).await.unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(
        (error["code"].as_str(), error["param"].as_str()),
        (Some("BAD_PARAM"), Some("stream_settings")),
        "{error}"
    );

    // Create: a job with the stream, our worker endpoint and token, and the camera's stream
    // settings (which cannot redirect the faces elsewhere).
    let camera = stack
        .create(
            "/cameras/",
            json!({"name": "gate", "url": "rtsp://cam/1", "stream_settings": {"fps": 5, "router_url": "http://elsewhere/"}}),
        )
        .await
        .unwrap();
    let id = camera["id"].as_i64().unwrap();
    let job = wait_job(&fake, id, "the job to be created", |_| true).await;
    assert_eq!(job["stream_url"], "rtsp://cam/1");
    assert_eq!(job["router_url"], "http://10.1.2.3:18300/video-detector/frame");
    assert_eq!(job["router_headers"], json!([format!("Authorization: Token {WORKER_TOKEN}")]));
    assert_eq!(job["fps"], 5);
    assert_eq!(job["active"], true);
    assert_eq!(fake.calls("POST", id), 1);

    // Status read back: on the camera and pushed over the WebSocket.
    wait_vm_status(&stack, id, "AWAITING in sync", |s| s["status"] == "AWAITING" && s["in_sync"] == true).await;
    fake.set_status(id, "INPROGRESS");
    let frame = wait_frame(&mut live, id, "INPROGRESS").await;
    assert_eq!(frame["data"]["in_sync"], true, "{frame}");
    wait_vm_status(&stack, id, "INPROGRESS", |s| s["status"] == "INPROGRESS").await;

    // Edit, then deactivate: PATCHes of the job.
    assert_eq!(patch(&stack, id, json!({"url": "rtsp://cam/2"})).await.0, 200);
    wait_job(&fake, id, "the new stream URL", |j| j["stream_url"] == "rtsp://cam/2").await;
    assert_eq!(patch(&stack, id, json!({"active": false})).await.0, 200);
    wait_job(&fake, id, "the job stopped", |j| j["active"] == false).await;
    assert!(fake.calls("PATCH", id) >= 2);

    // Outage: camera writes answer at once, the camera shows it is behind and why.
    fake.mode.store(DOWN, Ordering::SeqCst);
    let (status, took) = patch(&stack, id, json!({"url": "rtsp://cam/3", "active": true})).await;
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(2), "a camera edit waited {took:?} for the video manager");
    let second = stack.create("/cameras/", json!({"name": "yard", "url": "rtsp://cam/yard"})).await.unwrap();
    let second_id = second["id"].as_i64().unwrap();
    let behind = wait_vm_status(&stack, id, "the outage to show", |s| s["in_sync"] == false && s["error"] != "").await;
    assert!(behind["error"].as_str().unwrap().contains("unreachable"), "{behind}");

    // Catch-up: both cameras' jobs in step once it is back.
    fake.mode.store(UP, Ordering::SeqCst);
    wait_job(&fake, id, "the edit made during the outage", |j| {
        j["stream_url"] == "rtsp://cam/3" && j["active"] == true
    })
    .await;
    wait_job(&fake, second_id, "the camera created during the outage", |j| j["stream_url"] == "rtsp://cam/yard").await;
    let caught_up = wait_vm_status(&stack, id, "in sync again", |s| s["in_sync"] == true).await;
    assert_eq!(caught_up["error"], "", "{caught_up}");

    // A job the video manager lost (say, restarted without its store) is created again.
    let posts = fake.calls("POST", id);
    fake.jobs.lock().unwrap().remove(&id.to_string());
    wait_job(&fake, id, "the lost job created again", |j| j["stream_url"] == "rtsp://cam/3").await;
    assert_eq!(fake.calls("POST", id), posts + 1);

    // Delete: the job goes too, also when the delete happens during an outage.
    assert_eq!(delete(&stack, id).await, 204);
    wait_until("the job to be deleted", WAIT, || async { fake.job(id).is_none().then_some(()) }).await.unwrap();
    fake.mode.store(DOWN, Ordering::SeqCst);
    assert_eq!(delete(&stack, second_id).await, 204);
    let calls_before = fake.calls("DELETE", second_id);
    wait_until("a delete tried during the outage", WAIT, || async {
        (fake.calls("DELETE", second_id) > calls_before).then_some(())
    })
    .await
    .unwrap();
    assert!(fake.job(second_id).is_some());
    fake.mode.store(UP, Ordering::SeqCst);
    wait_until("the job deleted after the outage", WAIT, || async { fake.job(second_id).is_none().then_some(()) })
        .await
        .unwrap();

    // Licence refusal: shown as such, and the job is created once the licence allows it.
    fake.mode.store(NO_LICENCE, Ordering::SeqCst);
    let third = stack.create("/cameras/", json!({"name": "dock", "url": "rtsp://cam/dock"})).await.unwrap();
    let third_id = third["id"].as_i64().unwrap();
    let frame = wait_frame(&mut live, third_id, "TOO_MANY_CAMERAS").await;
    assert_eq!(frame["data"]["in_sync"], false, "{frame}");
    let refused = wait_vm_status(&stack, third_id, "the refusal", |s| s["status"] == "TOO_MANY_CAMERAS").await;
    assert_eq!(refused["status_msg"], "the licence allows no more cameras");
    fake.mode.store(UP, Ordering::SeqCst);
    wait_vm_status(&stack, third_id, "the job created after the refusal", |s| {
        s["status"] == "AWAITING" && s["in_sync"] == true
    })
    .await;

    stack.stop().await.unwrap();
    vm.stop(false).await;
    env.cleanup().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_video_manager_switched_off_no_call_is_made() {
    crate::init_logs();
    let fake = Arc::new(FakeVm::default());
    let (vm_address, vm) = start_fake(fake.clone());
    let mut env = env_with(&vm_address, false).await;
    let stack = Stack::start(&mut env).await.unwrap();

    let camera = stack.create("/cameras/", json!({"name": "gate", "url": "rtsp://cam/1"})).await.unwrap();
    let id = camera["id"].as_i64().unwrap();
    assert_eq!(patch(&stack, id, json!({"url": "rtsp://cam/2"})).await.0, 200);
    let other = stack.create("/cameras/", json!({"name": "yard", "url": "rtsp://cam/yard"})).await.unwrap();
    assert_eq!(delete(&stack, other["id"].as_i64().unwrap()).await, 204);
    // Ingest seeing the camera takes a bus round trip: by then a switched-on sync would have been
    // kicked by every write above (it pushes at once, not on its 200 ms period only).
    stack.wait_gallery(1.0, 0.0).await.unwrap();
    let camera = stack.get(&format!("/cameras/{id}/")).await.unwrap();
    assert!(camera.get("vm_status").is_none(), "{camera}");
    let metrics = stack.client.get(stack.gateway.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(!metrics.contains("ffsec_video_manager_calls_total{"), "{metrics}");
    assert!(fake.calls.lock().unwrap().is_empty(), "calls made: {:?}", fake.calls.lock().unwrap());

    stack.stop().await.unwrap();
    vm.stop(false).await;
    env.cleanup().await.unwrap();
}

/// Two gateway-api replicas both run the sync, every 20 ms, against a video manager that takes
/// 30 ms a call: their passes would overlap all the time. One pass at a time (the advisory lock),
/// each reloading what the one before saved: every camera is created once and changed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_push_each_camera_change_once() {
    crate::init_logs();
    let fake = Arc::new(FakeVm::default());
    fake.mode.store(SLOW, Ordering::SeqCst);
    let (vm_address, vm) = start_fake(fake.clone());
    let mut env = env_with(&vm_address, true).await;
    env.config.video_manager.sync_interval_ms = 20;
    let stack = Stack::start(&mut env).await.unwrap();
    let second = Running::start(bind().unwrap(), env.config.clone(), gateway_api::run).unwrap();
    second.wait_healthy().await.unwrap();
    let replicas = [stack.gateway.url(""), second.url("")];
    let write = |method: Method, replica: usize, path: String, body: Value| {
        stack
            .client
            .request(method, format!("{}{path}", replicas[replica % 2]))
            .header("Authorization", format!("Token {}", stack.token))
            .json(&body)
            .send()
    };

    let mut ids = Vec::new();
    for n in 0..8 {
        let created = write(
            Method::POST,
            n,
            "/cameras/".into(),
            json!({"name": format!("cam {n}"), "url": format!("rtsp://cam/{n}")}),
        )
        .await
        .unwrap();
        assert_eq!(created.status(), 201);
        ids.push(created.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
    }
    for &id in &ids {
        wait_job(&fake, id, "the job to be created", |_| true).await;
    }
    // Each changed through the replica that did not create it.
    for (n, &id) in ids.iter().enumerate() {
        let url = format!("rtsp://cam/{n}/2");
        let changed = write(Method::PATCH, n + 1, format!("/cameras/{id}/"), json!({"url": url})).await.unwrap();
        assert_eq!(changed.status(), 200);
    }
    for &id in &ids {
        wait_job(&fake, id, "the job to be changed", |job| {
            job["stream_url"].as_str().is_some_and(|u| u.ends_with("/2"))
        })
        .await;
        wait_vm_status(&stack, id, "the job in step", |s| s["in_sync"] == true).await;
    }
    // More passes of both replicas, which must find nothing to push.
    let status_reads = || fake.calls.lock().unwrap().iter().filter(|(m, j)| m == "GET" && j == "*").count();
    let before = status_reads();
    wait_until("both replicas to pass again", WAIT, || async { (status_reads() >= before + 4).then_some(()) })
        .await
        .unwrap();
    for &id in &ids {
        assert_eq!(fake.calls("POST", id), 1, "camera {id} created once");
        assert_eq!(fake.calls("PATCH", id), 1, "camera {id} changed once");
    }

    second.stop().await.unwrap();
    stack.stop().await.unwrap();
    vm.stop(false).await;
    env.cleanup().await.unwrap();
}
