//! ingest's Prometheus figures.

use domain::metrics::register;
use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry};

#[derive(Clone)]
pub struct IngestMetrics {
    pub registry: Registry,
    /// Frames by outcome: accepted, ignored, rejected_auth, rejected_input, unavailable.
    pub frames: IntCounterVec,
    pub accept_seconds: Histogram,
    pub gallery_faces: IntGauge,
    pub gallery_cameras: IntGauge,
    pub bus_up: IntGauge,
}

impl IngestMetrics {
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let frames = IntCounterVec::new(
            Opts::new("ffsec_ingest_frames_total", "Frames posted by workers, by outcome"),
            &["outcome"],
        )?;
        let accept_seconds = Histogram::with_opts(
            HistogramOpts::new("ffsec_ingest_accept_seconds", "Time from request to durable accept")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]),
        )?;
        Ok(Self {
            frames: register(&registry, frames)?,
            accept_seconds: register(&registry, accept_seconds)?,
            gallery_faces: register(
                &registry,
                IntGauge::new("ffsec_ingest_gallery_faces", "Dossier faces in this replica's gallery")?,
            )?,
            gallery_cameras: register(
                &registry,
                IntGauge::new("ffsec_ingest_gallery_cameras", "Cameras in this replica's cache")?,
            )?,
            bus_up: register(&registry, IntGauge::new("ffsec_bus_up", "1 while the RabbitMQ link is up")?)?,
            registry,
        })
    }
}
