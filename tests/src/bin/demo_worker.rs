//! A demo video worker: posts faces for one camera the way findface-video-worker does. Every other
//! face carries the demo dossier's feature vector (so it matches), the rest are strangers.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ffsec_tests::worker::{Face, facen, vector};

#[derive(Parser)]
#[command(version)]
struct Args {
    /// The ingest endpoint.
    #[arg(long, default_value = "http://127.0.0.1:18300/video-detector/frame/")]
    url: String,
    /// VIDEO_DETECTOR_TOKEN
    #[arg(long, env = "VIDEO_DETECTOR_TOKEN")]
    token: String,
    /// Camera id to post for.
    #[arg(long, default_value_t = 1)]
    camera: i64,
    /// How many faces to post.
    #[arg(long, default_value_t = 10)]
    count: usize,
    /// Faces per second.
    #[arg(long, default_value_t = 2.0)]
    rate: f64,
}

/// The demo dossier's vector (set up by scripts/up.sh): a unit vector along axis 0 of 128.
const DIM: usize = 128;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let client = reqwest::Client::new();
    let pause = Duration::from_secs_f64(1.0 / args.rate.max(0.01));
    let mut failures = 0;
    for n in 0..args.count {
        let vector = if n % 2 == 0 { vector(DIM, 0, 1, 0.1) } else { vector(DIM, 2 + n % 100, 1, 0.0) };
        let mut face = Face::new(args.camera, Some(facen(&vector)));
        face.timestamp = Some(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string());
        match face.post(&client, &args.url, Some(&args.token)).await {
            Ok(response) => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                println!("face {n}: {status} {body}");
                failures += usize::from(!status.is_success());
            }
            Err(e) => {
                println!("face {n}: {e}");
                failures += 1;
            }
        }
        tokio::time::sleep(pause).await;
    }
    if failures == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
