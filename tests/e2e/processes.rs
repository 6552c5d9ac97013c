//! The real service binaries: `config check`, start-up as processes and a clean exit on SIGTERM.

use std::path::PathBuf;
use std::process::Command;

use ffsec_tests::TestEnv;
use ffsec_tests::process::{Process, write_config};

/// Runs `<binary> --config <file> config check` with no FFSEC_* variables from our environment.
fn config_check(name: &str, file: &PathBuf) -> std::process::Output {
    let mut command = Command::new(ffsec_tests::process::binary(name));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("FFSEC_")) {
        command.env_remove(key);
    }
    command.arg("--config").arg(file).args(["config", "check"]).output().unwrap()
}

#[test]
fn config_check_accepts_a_good_file_and_names_the_bad_key() {
    let good = write_config("[FFSECURITY]\nVIDEO_DETECTOR_TOKEN = 'abc'\nIGNORE_UNMATCHED = true\n");
    for name in ["gateway-api", "facerouter-ingest", "webhook-dispatcher"] {
        let output = config_check(name, &good);
        assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stderr));
    }
    let unknown = write_config("[FFSECURITY]\nVIDEO_DETECTOR_TOKEN = 'abc'\nCONFIDENCE_TRESHOLD = 0.5\n");
    let output = config_check("gateway-api", &unknown);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("CONFIDENCE_TRESHOLD") && stderr.contains(&unknown.display().to_string()), "{stderr}");
    let bad_value = write_config("[FFSECURITY]\nEVENTS_MAX_AGE = 'thirty'\n");
    let output = config_check("webhook-dispatcher", &bad_value);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("FFSECURITY.EVENTS_MAX_AGE"));
    // ingest cannot run without a worker token.
    let no_token = write_config("");
    assert!(!config_check("facerouter-ingest", &no_token).status.success());
    for file in [good, unknown, bad_value, no_token] {
        let _ = std::fs::remove_file(file);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_run_as_processes_and_exit_cleanly_on_sigterm() {
    let env = TestEnv::new().await.unwrap();
    let config = write_config(&toml::to_string(&env.config).unwrap());
    let gateway = Process::spawn("gateway-api", &config);
    gateway.wait_healthy().await;
    let ingest = Process::spawn("facerouter-ingest", &config);
    let dispatcher = Process::spawn("webhook-dispatcher", &config);
    ingest.wait_healthy().await;
    dispatcher.wait_healthy().await;
    // Liveness, what deploy/kubernetes/ probes besides /health (readiness).
    for process in [&gateway, &ingest, &dispatcher] {
        let url = format!("http://127.0.0.1:{}/health/live", process.port);
        let response = reqwest::get(&url).await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["service"], process.name, "{url}");
    }
    for process in [ingest, dispatcher, gateway] {
        let name = process.name;
        let status = process.terminate().await;
        assert!(status.success(), "{name} exited with {status} after SIGTERM");
    }
    let _ = std::fs::remove_file(config);
    env.cleanup().await.unwrap();
}

/// Ingest's readiness waits for the gallery: with its bus up but no database to read the gallery
/// from, `/health` answers 503 "gallery still loading" while `/health/live` answers 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_is_not_ready_before_its_gallery_loads() {
    let env = TestEnv::new().await.unwrap();
    let mut config = env.config.clone();
    config.databases.default.name = format!("{}_missing", env.config.databases.default.name);
    let file = write_config(&toml::to_string(&config).unwrap());
    let ingest = Process::spawn("facerouter-ingest", &file);
    let url = format!("http://127.0.0.1:{}/health", ingest.port);
    let body: serde_json::Value =
        ffsec_tests::wait_until("ingest's /health to report the gallery", std::time::Duration::from_secs(30), || {
            let url = url.clone();
            async move {
                let response = reqwest::get(&url).await.ok()?;
                let status = response.status();
                let body: serde_json::Value = response.json().await.ok()?;
                (body["bus"] == "up").then(|| {
                    assert_eq!(status, 503, "ready without a gallery: {body}");
                    body
                })
            }
        })
        .await
        .unwrap();
    assert_eq!(body["reason"], "gallery still loading", "{body}");
    let live = reqwest::get(format!("http://127.0.0.1:{}/health/live", ingest.port)).await.unwrap();
    assert_eq!(live.status(), 200);
    ingest.kill();
    let _ = std::fs::remove_file(file);
    env.cleanup().await.unwrap();
}

/// A listed but misconfigured integration stops start-up with a message naming the key; a set
/// NTLS_HTTP_URL is accepted and logged once as ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misconfigured_integration_stops_start_up_and_ntls_is_ignored_with_one_warning() {
    let misconfigured = write_config("INTEGRATIONS = ['video_manager']\n[FFSECURITY]\nVIDEO_DETECTOR_TOKEN = 'abc'\n");
    for name in ["gateway-api", "webhook-dispatcher"] {
        let mut command = Command::new(ffsec_tests::process::binary(name));
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("FFSEC_")) {
            command.env_remove(key);
        }
        let output = command.arg("--config").arg(&misconfigured).arg("serve").output().unwrap();
        assert!(!output.status.success(), "{name} started");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("FFSECURITY.VIDEO_MANAGER_ADDRESS") && stderr.contains("video_manager"), "{stderr}");
    }
    let _ = std::fs::remove_file(misconfigured);

    let mut env = TestEnv::new().await.unwrap();
    env.config.ffsecurity.ntls_http_url = "http://ntls.example:3185".into();
    let config = write_config(&toml::to_string(&env.config).unwrap());
    let log = std::env::temp_dir().join(format!("ffsec-ntls-{}.log", uuid::Uuid::now_v7()));
    let dispatcher = Process::spawn_logged("webhook-dispatcher", &config, &log);
    dispatcher.wait_healthy().await;
    assert!(dispatcher.terminate().await.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let warnings = text.lines().filter(|l| l.contains("NTLS_HTTP_URL is set but ignored")).count();
    assert_eq!(warnings, 1, "{text}");
    for file in [config, log] {
        let _ = std::fs::remove_file(file);
    }
    env.cleanup().await.unwrap();
}
