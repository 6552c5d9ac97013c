//! MAX_IN_FLIGHT: past the cap a worker gets 503 + Retry-After at once, and the slot comes back.

use std::time::Duration;

use ffsec_tests::env::WORKER_TOKEN;
use ffsec_tests::service::metric;
use ffsec_tests::worker::Face;
use ffsec_tests::{Stack, TestEnv, wait_until};
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::ingest_support::{error_of, metric_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_past_the_in_flight_cap_get_503_with_retry_after() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    env.config.facerouter.max_in_flight = 1;
    let stack = Stack::start(&mut env).await.unwrap();
    let camera = stack.create("/cameras/", json!({"name": "Busy"})).await.unwrap()["id"].as_i64().unwrap();
    stack.wait_gallery(1.0, 0.0).await.unwrap();

    // A worker that sends its headers and the start of its body, then stalls: it holds the slot.
    let mut stalled = tokio::net::TcpStream::connect(stack.ingest.addr).await.unwrap();
    let head = format!(
        "POST /video-detector/frame/ HTTP/1.1\r\nHost: ingest\r\nAuthorization: Token {WORKER_TOKEN}\r\n\
         Content-Type: multipart/form-data; boundary=XYZ\r\nContent-Length: 100000\r\n\r\n\
         --XYZ\r\nContent-Disposition: form-data; name=\"cam_id\"\r\n\r\n{camera}\r\n"
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    wait_until("the stalled request to hold the slot", Duration::from_secs(5), || async {
        (metric(&stack.ingest, "ffsec_ingest_in_flight").await? == 1.0).then_some(())
    })
    .await
    .unwrap();

    let url = stack.ingest.url("/video-detector/frame/");
    let started = std::time::Instant::now();
    let response = Face::new(camera, None).post(&stack.client, &url, Some(WORKER_TOKEN)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1), "refused at once");
    assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    let (status, body) = error_of(response).await;
    assert_eq!((status, body["code"].as_str()), (503, Some("SERVICE_UNAVAILABLE")));
    assert_eq!(metric_with(&stack.ingest, "ffsec_ingest_frames_total", &[("reason", "overloaded")]).await, 1.0);

    // The stalled worker goes away: its slot is freed and faces are accepted again.
    drop(stalled);
    wait_until("the slot to be freed", Duration::from_secs(5), || async {
        (metric(&stack.ingest, "ffsec_ingest_in_flight").await? == 0.0).then_some(())
    })
    .await
    .unwrap();
    let response = Face::new(camera, None).post(&stack.client, &url, Some(WORKER_TOKEN)).await.unwrap();
    assert_eq!(response.status(), 200);

    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}
