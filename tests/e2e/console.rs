//! The operator console in a real browser: the three services, then `tests/browser/console.test.mjs`
//! (playwright-core driving Debian's Chromium) against the console gateway-api serves. The script
//! asks this test for what only a video worker or the harness can do (post a face, wait for the
//! dispatcher to load a hook) with `@@ffsec {json}` lines on its stdout, answered with one JSON line
//! on its stdin; any other line is its log. Screenshots go to `target/console-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use domain::Config;
use ffsec_tests::worker::{Face, facen, vector};
use ffsec_tests::{Receiver, Stack, TestEnv};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const DIM: usize = 128;
const MARKER: &str = "@@ffsec ";

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Where the screenshots go (README: "Operator console").
fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = browser_dir().join("fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// What the browser script asks for.
async fn handle(stack: &mut Stack, config: &Config, command: &Value) -> anyhow::Result<Value> {
    let worker_url = stack.ingest.url("/video-detector/frame/");
    let token = Some(ffsec_tests::env::WORKER_TOKEN);
    match command["cmd"].as_str().unwrap_or_default() {
        // One face as a video worker posts it, seen now: like the dossier's (matched) or a stranger's.
        "post_face" => {
            let camera = command["camera"].as_i64().ok_or_else(|| anyhow::anyhow!("camera"))?;
            let matched = command["matched"].as_bool().unwrap_or(false);
            let v = if matched { vector(DIM, 0, 1, 0.1) } else { vector(DIM, 5, 6, 0.0) };
            let mut face = Face::new(camera, Some(facen(&v)));
            face.timestamp = Some(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string());
            face.bbox = "[[210, 90, 310, 210]]".into();
            face.crop = fixture("face.jpg");
            face.photo = Some(fixture("frame.jpg"));
            // Attribute scores as a worker computes them (our extension of the frame form).
            let mut form = face.form();
            if let Some(attributes) = command.get("attributes") {
                form = form.text("attributes", attributes.to_string());
            }
            let response = stack
                .client
                .post(&worker_url)
                .header("Authorization", format!("Token {}", ffsec_tests::env::WORKER_TOKEN))
                .multipart(form)
                .send()
                .await?;
            anyhow::ensure!(response.status() == 200, "worker post: {}", response.status());
            let accepted: Value = response.json().await?;
            Ok(json!({"event_id": accepted["event_id"], "matched": accepted["matched"]}))
        }
        // A burst at a steady rate (half of them matched), for the feed's smoothness.
        "post_faces" => {
            let camera = command["camera"].as_i64().ok_or_else(|| anyhow::anyhow!("camera"))?;
            let count = command["count"].as_u64().unwrap_or(1);
            let per_second = command["per_second"].as_u64().unwrap_or(50).max(1);
            let mut tick = tokio::time::interval(Duration::from_millis(1000 / per_second));
            let (crop, photo) = (fixture("face.jpg"), fixture("frame.jpg"));
            let mut posts = Vec::new();
            for i in 0..count {
                tick.tick().await;
                let v = if i % 2 == 0 { vector(DIM, 0, 1, 0.1) } else { vector(DIM, 5, 6, 0.0) };
                let mut face = Face::new(camera, Some(facen(&v)));
                face.timestamp = Some(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string());
                // A box of its own: ingest gives one event id to the same face seen in the same second.
                face.bbox = format!("[[{i}, 20, {}, 140]]", i + 100);
                face.crop = crop.clone();
                face.photo = Some(photo.clone());
                let (client, url) = (stack.client.clone(), worker_url.clone());
                posts.push(tokio::spawn(async move { face.post(&client, &url, token).await.map(|r| r.status()) }));
            }
            let mut ok = 0;
            for post in posts {
                if matches!(post.await, Ok(Ok(status)) if status == 200) {
                    ok += 1;
                }
            }
            Ok(json!({"posted": ok}))
        }
        // A real outage of gateway-api: its sockets close and reconnects are refused until it is back.
        "stop_gateway" => {
            stack.gateway.pause().await?;
            Ok(json!({"ok": true}))
        }
        "start_gateway" => {
            stack.gateway.resume(config.clone(), gateway_api::run)?;
            stack.gateway.wait_healthy().await?;
            Ok(json!({"ok": true}))
        }
        "wait_hooks" => {
            stack.wait_hooks(command["count"].as_f64().unwrap_or(1.0)).await?;
            Ok(json!({"ok": true}))
        }
        "wait_gallery" => {
            stack
                .wait_gallery(command["cameras"].as_f64().unwrap_or(0.0), command["faces"].as_f64().unwrap_or(0.0))
                .await?;
            Ok(json!({"ok": true}))
        }
        other => anyhow::bail!("unknown command {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_console_in_headless_chromium() {
    crate::init_logs();
    let dir = browser_dir();
    assert!(
        Path::new("/usr/bin/chromium").exists() && dir.join("node_modules/playwright-core").exists(),
        "the console test needs Debian's chromium and tests/browser/node_modules: run scripts/test.sh \
         (ensure_browser_test in scripts/services.sh installs both)"
    );
    let mut env = TestEnv::new().await.unwrap();
    let mut stack = Stack::start(&mut env).await.unwrap();

    // What an operator would have set up: two cameras, a watch list, Alice enrolled.
    let entrance = stack.create("/cameras/", json!({"name": "Entrance"})).await.unwrap();
    let back_door = stack.create("/cameras/", json!({"name": "Back door"})).await.unwrap();
    let list = stack.create("/dossier-lists/", json!({"name": "VIP", "color": "b3261e"})).await.unwrap();
    let alice = stack.create("/dossiers/", json!({"name": "Alice", "dossier_lists": [list["id"]]})).await.unwrap();
    let alice_id = alice["id"].as_i64().unwrap();
    stack.enroll_face(alice_id, facen(&vector(DIM, 0, 1, 0.0)), fixture("face.jpg")).await.unwrap();
    stack.wait_gallery(2.0, 1.0).await.unwrap();
    let receiver = Receiver::start(0).unwrap();

    let screenshots = screenshot_dir();
    std::fs::create_dir_all(&screenshots).unwrap();
    let mut child = tokio::process::Command::new("node")
        .arg("console.test.mjs")
        .current_dir(&dir)
        .env("FFSEC_GATEWAY", format!("http://{}", stack.gateway.addr))
        .env("FFSEC_ADMIN_USER", ffsec_tests::env::ADMIN_USER)
        .env("FFSEC_ADMIN_PASSWORD", ffsec_tests::env::ADMIN_PASSWORD)
        .env("FFSEC_CAMERA", entrance["id"].to_string())
        .env("FFSEC_OTHER_CAMERA", back_door["id"].to_string())
        .env("FFSEC_DOSSIER", alice["id"].to_string())
        .env("FFSEC_HOOK_URL", receiver.url())
        .env("FFSEC_NEW_FACEN", facen(&vector(DIM, 3, 4, 0.0)))
        .env("FFSEC_SCREENSHOTS", &screenshots)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("cannot start node (install Node.js; scripts/test.sh does)");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let conversation = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let Some(request) = line.strip_prefix(MARKER) else {
                eprintln!("[browser] {line}");
                continue;
            };
            let command: Value = serde_json::from_str(request).unwrap();
            let answer = match handle(&mut stack, &env.config, &command).await {
                Ok(answer) => answer,
                Err(e) => json!({"error": e.to_string()}),
            };
            stdin.write_all(format!("{answer}\n").as_bytes()).await.unwrap();
        }
        child.wait().await.unwrap()
    };
    // Generous: CI runs under load, and the script has its own, shorter, per-step timeouts.
    let status = tokio::time::timeout(Duration::from_secs(600), conversation).await.expect("the browser test hung");
    assert!(status.success(), "the browser test failed ({status}); its log is above");

    // What the browser did, read back over the API.
    let acknowledged = stack.get("/events/faces/?acknowledged=true").await.unwrap();
    assert!(acknowledged["count"].as_i64().unwrap() >= 1, "the browser acknowledged an event: {acknowledged}");
    let dossiers = stack.get("/dossiers/").await.unwrap();
    let bob = dossiers["results"].as_array().unwrap().iter().find(|d| d["name"] == "Bob").cloned();
    let bob = bob.expect("the browser created the dossier Bob");
    let faces = stack.get(&format!("/dossier-faces/?dossier={}", bob["id"])).await.unwrap();
    assert_eq!(faces["count"], 1, "one photo stored, the refused ones not: {faces}");
    let hooks = stack.get("/hooks/").await.unwrap();
    assert_eq!(hooks["count"], 1);
    assert!(!receiver.received().is_empty(), "the hook the browser created delivered");
    let users = stack.get("/users/").await.unwrap();
    assert!(users["results"].as_array().unwrap().iter().any(|u| u["username"] == "victor" && u["role"] == "viewer"));
    for page in [
        "login",
        "live",
        "events",
        "event",
        "watch-lists",
        "dossier",
        "cameras",
        "hooks",
        "hook",
        "users",
        "live-tablet",
    ] {
        let file = screenshots.join(format!("{page}.png"));
        assert!(file.metadata().map(|m| m.len() > 1000).unwrap_or(false), "{} was not saved", file.display());
    }

    receiver.stop().await;
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

/// How gateway-api serves the console: types, revalidation, the fallback for console routes only,
/// and the API paths untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_console_is_served_from_static_root_without_shadowing_the_api() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    let stack = Stack::start(&mut env).await.unwrap();
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let get = |path: &str| plain.get(stack.gateway.url(path)).send();

    let root = get("/").await.unwrap();
    assert_eq!((root.status().as_u16(), root.headers()["location"].to_str().unwrap()), (302, "/console/"));

    let index = std::fs::read(browser_dir().join("../../console/index.html")).unwrap();
    for route in ["/console/", "/console/live", "/console/events/0192c5a0-aaaa-7bbb-8ccc-000000000000"] {
        let response = get(route).await.unwrap();
        assert_eq!(response.status(), 200, "{route}");
        assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8", "{route}");
        assert_eq!(response.headers()["cache-control"], "no-cache");
        assert!(response.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
        assert_eq!(response.bytes().await.unwrap().to_vec(), index, "{route} is the console's page");
    }
    for (path, kind) in
        [("/console/app.js", "text/javascript; charset=utf-8"), ("/console/style.css", "text/css; charset=utf-8")]
    {
        let response = get(path).await.unwrap();
        assert_eq!((response.status().as_u16(), response.headers()["content-type"].to_str().unwrap()), (200, kind));
        // Revalidation: the same file again is a 304 without a body.
        let etag = response.headers()["etag"].clone();
        let again = plain.get(stack.gateway.url(path)).header("If-None-Match", etag).send().await.unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
    // A missing module is a 404, not the page parsed as JavaScript; nothing outside STATIC_ROOT,
    // hidden or of another kind is served.
    for path in ["/console/missing.js", "/console/..%2fCargo.toml", "/console/%2e%2e/README.md", "/console/.hidden.js"]
    {
        let response = get(path).await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "NOT_FOUND", "{path}");
    }
    // The API is where it was: JSON, its own access rules, no console fallback.
    let events = get("/events/faces/").await.unwrap();
    assert_eq!(events.status(), 401);
    assert_eq!(events.json::<Value>().await.unwrap()["code"], "UNAUTHORIZED");
    let unknown = get("/no-such-route/").await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.json::<Value>().await.unwrap()["code"], "NOT_FOUND");
    assert_eq!(get("/health").await.unwrap().status(), 200);

    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}
