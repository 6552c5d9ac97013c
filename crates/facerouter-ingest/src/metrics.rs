//! ingest's Prometheus figures.

use domain::metrics::register;
use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

const LATENCY_BUCKETS: [f64; 13] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

#[derive(Clone)]
pub struct IngestMetrics {
    pub registry: Registry,
    /// Frames by outcome (accepted, ignored, rejected, unavailable, error) and reason (the error's
    /// param or code, `matched`/`unmatched` when accepted).
    pub frames: IntCounterVec,
    pub accept_seconds: Histogram,
    /// Per-stage latency: parse, store, recognise, match, publish.
    pub stage_seconds: HistogramVec,
    pub in_flight: IntGauge,
    /// Faces answered per pass over the gallery (1 when they arrive slower than passes end).
    pub search_batch: Histogram,
    /// Faces per `faces.detected` message (1 when they arrive slower than confirms come back).
    pub publish_batch: Histogram,
    pub gallery_faces: IntGauge,
    pub gallery_cameras: IntGauge,
    /// Full re-reads of the gallery (start, reconnect, resync, list changes).
    pub gallery_reloads: IntCounter,
    /// Single changes applied without a full re-read (a face, a dossier, the camera list).
    pub gallery_changes: IntCounter,
    pub bus_up: IntGauge,
    /// Images accepted by the built-in recognizer's pool and not yet answered (queued or running);
    /// set when scraped. Past RECOGNIZER.QUEUE + WORKERS requests get 503 (`recognizer_busy`).
    pub recognizer_pending: IntGauge,
}

impl IngestMetrics {
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let frames = IntCounterVec::new(
            Opts::new("ffsec_ingest_frames_total", "Frames posted by workers, by outcome and reason"),
            &["outcome", "reason"],
        )?;
        let accept_seconds = Histogram::with_opts(
            HistogramOpts::new("ffsec_ingest_accept_seconds", "Time from request to durable accept")
                .buckets(LATENCY_BUCKETS.to_vec()),
        )?;
        let stage_seconds = HistogramVec::new(
            HistogramOpts::new("ffsec_ingest_stage_seconds", "Time spent in each stage of accepting a face")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["stage"],
        )?;
        let search_batch = Histogram::with_opts(
            HistogramOpts::new("ffsec_ingest_search_batch_size", "Faces answered by one pass over the gallery")
                .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]),
        )?;
        let publish_batch = Histogram::with_opts(
            HistogramOpts::new("ffsec_ingest_publish_batch_size", "Faces published in one bus message")
                .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]),
        )?;
        Ok(Self {
            search_batch: register(&registry, search_batch)?,
            publish_batch: register(&registry, publish_batch)?,
            frames: register(&registry, frames)?,
            accept_seconds: register(&registry, accept_seconds)?,
            stage_seconds: register(&registry, stage_seconds)?,
            in_flight: register(&registry, IntGauge::new("ffsec_ingest_in_flight", "Worker requests being handled")?)?,
            recognizer_pending: register(
                &registry,
                IntGauge::new(
                    "ffsec_ingest_recognizer_pending",
                    "Images queued or running in the built-in recognizer",
                )?,
            )?,
            gallery_faces: register(
                &registry,
                IntGauge::new("ffsec_ingest_gallery_faces", "Dossier faces in this replica's gallery")?,
            )?,
            gallery_cameras: register(
                &registry,
                IntGauge::new("ffsec_ingest_gallery_cameras", "Cameras in this replica's cache")?,
            )?,
            gallery_reloads: register(
                &registry,
                IntCounter::new("ffsec_ingest_gallery_reloads_total", "Full re-reads of the gallery")?,
            )?,
            gallery_changes: register(
                &registry,
                IntCounter::new("ffsec_ingest_gallery_changes_total", "Gallery changes applied one by one")?,
            )?,
            bus_up: register(&registry, IntGauge::new("ffsec_bus_up", "1 while the RabbitMQ link is up")?)?,
            registry,
        })
    }

    /// Records how long `stage` took since `started`, and returns now for the next stage.
    pub fn stage(&self, stage: &str, started: std::time::Instant) -> std::time::Instant {
        let now = std::time::Instant::now();
        self.stage_seconds.with_label_values(&[stage]).observe((now - started).as_secs_f64());
        now
    }
}
