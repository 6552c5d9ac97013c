//! gateway-api's Prometheus figures.

use domain::metrics::register;
use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};

#[derive(Clone)]
pub struct GatewayMetrics {
    pub registry: Registry,
    /// Events through the recorder, by outcome: stored, duplicate, failed, dead_lettered (unreadable).
    pub recorded: IntCounterVec,
    pub record_batch_seconds: Histogram,
    /// Age of an event (now − its `created_date`, the worker's detection time) when it reaches a
    /// stage: `stored` (its insert committed), `announced` (its `event.created` confirmed), `live`
    /// (handed to this replica's WebSocket clients). Where the accept -> live latency accrues.
    pub event_age_seconds: HistogramVec,
    pub websocket_clients: IntGauge,
    pub bus_up: IntGauge,
    /// Calls to the video manager, by call (create, update, delete, status) and outcome (ok,
    /// refused, unreachable).
    pub video_manager_calls: IntCounterVec,
    /// Cameras whose video manager job is not in step (at the start of the last sync pass).
    pub video_manager_behind: IntGauge,
    /// Dossier faces in this replica's search index; 0 until its first load is done.
    pub dossier_index_faces: IntGauge,
}

impl GatewayMetrics {
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let recorded = IntCounterVec::new(
            Opts::new("ffsec_recorder_events_total", "Events handled by the recorder, by outcome"),
            &["outcome"],
        )?;
        let batch = Histogram::with_opts(
            HistogramOpts::new("ffsec_recorder_batch_seconds", "Time to insert and announce one batch")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0]),
        )?;
        let age = HistogramVec::new(
            HistogramOpts::new("ffsec_event_age_seconds", "Age of an event (since created_date) on reaching a stage")
                .buckets(vec![0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 5.0]),
            &["stage"],
        )?;
        Ok(Self {
            recorded: register(&registry, recorded)?,
            record_batch_seconds: register(&registry, batch)?,
            event_age_seconds: register(&registry, age)?,
            websocket_clients: register(
                &registry,
                IntGauge::new("ffsec_websocket_clients", "Connected WebSocket clients")?,
            )?,
            bus_up: register(&registry, IntGauge::new("ffsec_bus_up", "1 while the RabbitMQ link is up")?)?,
            video_manager_calls: register(
                &registry,
                IntCounterVec::new(
                    Opts::new("ffsec_video_manager_calls_total", "Calls to the video manager, by call and outcome"),
                    &["call", "outcome"],
                )?,
            )?,
            video_manager_behind: register(
                &registry,
                IntGauge::new("ffsec_video_manager_jobs_behind", "Cameras whose video manager job is not in step")?,
            )?,
            dossier_index_faces: register(
                &registry,
                IntGauge::new("ffsec_dossier_index_faces", "Dossier faces in the search index (0 while loading)")?,
            )?,
            registry,
        })
    }
}
