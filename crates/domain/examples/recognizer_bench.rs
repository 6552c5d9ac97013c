//! Measures the built-in recognizer (docs/benchmarks.md, docs/recognizer.md), one inference
//! thread on one core:
//! - faces/s for detect + embed on a 1080p frame and on a ready face crop, and embed alone;
//! - peak resident memory after loading one engine, and after a run;
//! - the similarity table behind RECOMMENDED_THRESHOLD, on the real test photos.
//!
//! `cargo run --release -p domain --features recognizer --example recognizer_bench [seconds]`
//! (needs `source scripts/services.sh && ensure_face_models && ensure_face_testdata`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Cursor;
use std::time::{Duration, Instant};

use domain::config::Recognizer;
use domain::recognizer::{Engine, Select, Settings, decode_image, similarity};
use image::{DynamicImage, RgbImage};

fn rss_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn jpeg(image: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
    DynamicImage::ImageRgb8(image.clone()).write_with_encoder(encoder).unwrap();
    out.into_inner()
}

/// Nanoseconds this thread has run on a CPU (ORT runs each op on the calling thread here, one
/// intra-op thread): per-core cost that other processes on a shared machine do not inflate.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn rate(label: &str, seconds: f64, mut once: impl FnMut() -> usize) {
    // Warm-up: ONNX Runtime plans its memory on the first runs.
    for _ in 0..3 {
        once();
    }
    let started = Instant::now();
    let cpu_started = thread_cpu_ns();
    let (mut runs, mut faces) = (0usize, 0usize);
    while started.elapsed() < Duration::from_secs_f64(seconds) {
        faces += once();
        runs += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = (thread_cpu_ns() - cpu_started) as f64 / 1e9;
    println!(
        "{label:<40} wall {:>6.1} ms/run {:>6.1} faces/s | CPU {:>6.1} ms/run {:>6.1} faces/s per core ({runs} runs)",
        elapsed * 1000.0 / runs as f64,
        faces as f64 / elapsed,
        cpu * 1000.0 / runs as f64,
        faces as f64 / cpu,
    );
}

fn main() {
    let seconds: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(10.0);
    let config = Recognizer::default();
    let dir = config.model_dir().join("testdata");
    let read = |n: &str| std::fs::read(dir.join(n)).unwrap();
    println!("RSS before loading: {} MiB", rss_kib("VmRSS:") / 1024);
    let mut engine = Engine::load(&config, Settings::from_config(&config, 40_000_000)).unwrap();
    println!("RSS after loading one engine (both models): {} MiB", rss_kib("VmRSS:") / 1024);

    // A 1080p frame: the Obama portrait placed at a CCTV-like scale (face ~ 160 px) on a grey frame.
    let portrait = image::load_from_memory(&read("obama.jpg")).unwrap();
    let mut frame = RgbImage::from_pixel(1920, 1080, image::Rgb([100, 100, 100]));
    let tile = portrait.resize(1000, 560, image::imageops::FilterType::Triangle).into_rgb8();
    image::imageops::overlay(&mut frame, &tile, 700, 300);
    let frame_jpeg = jpeg(&frame, 90);
    // A ready crop: the face with a margin, as a worker's `normalized` crop (≈ 300×360).
    let face = engine.faces(&read("obama.jpg"), Select::Biggest).unwrap().remove(0);
    let [l, t, r, b] = face.bbox;
    let (w, h) = (r - l, b - t);
    let crop =
        portrait.crop_imm((l - w / 4) as u32, (t - h / 4) as u32, (w * 3 / 2) as u32, (h * 3 / 2) as u32).into_rgb8();
    let crop_jpeg = jpeg(&crop, 90);
    println!(
        "1080p frame: {} KiB JPEG; crop {}x{}: {} KiB JPEG",
        frame_jpeg.len() / 1024,
        crop.width(),
        crop.height(),
        crop_jpeg.len() / 1024
    );

    rate("1080p frame: decode + detect + embed", seconds, || engine.faces(&frame_jpeg, Select::All).unwrap().len());
    let decoded = decode_image(&frame_jpeg, 40_000_000).unwrap();
    rate("1080p frame: detect only (decoded)", seconds, || engine.detect(&decoded).unwrap().len());
    rate("1080p frame: letterbox only", seconds, || {
        std::hint::black_box(domain::recognizer::detect::letterbox(&decoded));
        0
    });
    rate("1080p frame: decode only", seconds, || {
        decode_image(&frame_jpeg, 40_000_000).unwrap();
        0
    });
    rate("crop: decode + detect + embed", seconds, || engine.faces(&crop_jpeg, Select::Biggest).unwrap().len());
    let crop_decoded = decode_image(&crop_jpeg, 40_000_000).unwrap();
    let detection = engine.detect(&crop_decoded).unwrap().remove(0);
    rate("crop: align + embed only (SFace)", seconds, || {
        engine.embed(&crop_decoded, &detection).unwrap();
        1
    });
    println!("peak RSS (VmHWM) after the runs: {} MiB", rss_kib("VmHWM:") / 1024);

    // The similarity table (docs/recognizer.md).
    println!("\nsimilarity (cosine of L2-normalised SFace vectors):");
    let names = ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "astronaut.png"];
    let vectors: Vec<Vec<f32>> =
        names.iter().map(|n| engine.faces(&read(n), Select::Biggest).unwrap().remove(0).vector).collect();
    for (i, a) in names.iter().enumerate() {
        for (j, b) in names.iter().enumerate().skip(i + 1) {
            println!("  {a:<14} {b:<14} {:.3}", similarity(&vectors[i], &vectors[j]));
        }
    }
}
