//! The S3-compatible image store against a real S3 API (moto's server, `pip install moto[server]`):
//! ingest writes to the bucket, gateway-api serves from it and retention deletes from it.
//! Needs moto's S3-compatible server (`moto_server`, from PyPI; scripts/test.sh installs it).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ffsec_tests::env::WORKER_TOKEN;
use ffsec_tests::worker::{Face, jpeg};
use ffsec_tests::{Stack, TestEnv, wait_until};
use object_store::ObjectStoreExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use serde_json::{Value, json};

use crate::ingest_support::stored_event;

const BUCKET: &str = "ffsec-media";

/// moto_server on a free port, killed on drop.
struct Moto {
    child: Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_moto() -> Option<Moto> {
    let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let moto = Moto { child, url: format!("http://127.0.0.1:{port}") };
    let client = reqwest::Client::new();
    wait_until("moto_server to answer", Duration::from_secs(20), || async {
        client.get(&moto.url).send().await.ok().map(|_| ())
    })
    .await
    .ok()?;
    Some(moto)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn images_go_to_an_s3_compatible_bucket() {
    crate::init_logs();
    // scripts/test.sh installs moto's server; without it this test fails rather than pass untested.
    let Some(moto) = start_moto().await else {
        panic!("moto_server is not installed or did not start: pip install 'moto[server]' (scripts/test.sh does)");
    };
    let client = reqwest::Client::new();
    // Public-read: the services use anonymous requests here (`skip_signature`); a real deployment
    // gives them credentials through the AWS_* environment variables.
    let created = client.put(format!("{}/{BUCKET}", moto.url)).header("x-amz-acl", "public-read").send().await.unwrap();
    assert!(created.status().is_success(), "create bucket: {}", created.status());

    let mut env = TestEnv::new().await.unwrap();
    env.config.facerouter.media_url =
        format!("s3://{BUCKET}/media?endpoint={}&region=us-east-1&skip_signature=true", moto.url);
    let stack = Stack::start(&mut env).await.unwrap();
    let camera = stack.create("/cameras/", json!({"name": "S3"})).await.unwrap()["id"].as_i64().unwrap();
    stack.wait_gallery(1.0, 0.0).await.unwrap();
    let url = stack.ingest.url("/video-detector/frame/");
    let response = Face::new(camera, None).post(&stack.client, &url, Some(WORKER_TOKEN)).await.unwrap();
    assert_eq!(response.status(), 200);
    let accepted: Value = response.json().await.unwrap();
    let event = stored_event(&stack, accepted["event_id"].as_str().unwrap()).await;

    // Read back with signed requests (moto takes any credentials).
    let bucket = AmazonS3Builder::new()
        .with_bucket_name(BUCKET)
        .with_endpoint(&moto.url)
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .build()
        .unwrap();
    let prefix = format!("{}/uploads/", stack.gateway.url(""));
    for (field, bytes) in [("thumbnail", jpeg(1)), ("fullframe", jpeg(2))] {
        let url = event[field].as_str().unwrap().strip_prefix(&prefix).unwrap();
        // The URL carries its signature in the query; the object key is the path before it.
        let path = url.split_once('?').map_or(url, |(path, _)| path).to_string();
        let object = bucket.get(&Path::from(format!("media/{path}"))).await.unwrap();
        assert_eq!(object.bytes().await.unwrap().to_vec(), bytes, "{field} {path}");

        // gateway-api serves it from the bucket, by the event's signed URL, with a validator.
        let served = stack.client.get(event[field].as_str().unwrap()).send().await.unwrap();
        assert_eq!(served.status(), 200, "{field}");
        assert_eq!(served.headers()["content-type"], "image/jpeg");
        let etag = served.headers()["etag"].to_str().unwrap().to_string();
        assert_eq!(served.bytes().await.unwrap().to_vec(), bytes, "{field} served");
        let cached =
            stack.client.get(event[field].as_str().unwrap()).header("If-None-Match", &etag).send().await.unwrap();
        assert_eq!(cached.status(), 304, "{field} revalidated");
    }
    assert!(!env.media_root.join("events").exists(), "nothing went to the local disk");

    // Retention deletes the event's images from the bucket too.
    let store = domain::media::from_config(&env.config).unwrap();
    let pool = domain::db::pool(&env.config).unwrap();
    let purged = gateway_api::retention::purge(&pool, store.as_ref(), (0, 0), 100).await.unwrap();
    assert_eq!(purged, gateway_api::retention::Purged { events: 1, files: 2 });
    let gone = stack.client.get(event["thumbnail"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(gone.status(), 404, "the purged thumbnail is no longer served");
    for field in ["thumbnail", "fullframe"] {
        let url = event[field].as_str().unwrap().strip_prefix(&prefix).unwrap();
        let path = url.split_once('?').map_or(url, |(path, _)| path);
        assert!(bucket.head(&Path::from(format!("media/{path}"))).await.is_err(), "{field} deleted from the bucket");
    }

    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
    drop(moto);
}
