//! gateway-api's Prometheus figures.

use domain::metrics::register;
use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry};

#[derive(Clone)]
pub struct GatewayMetrics {
    pub registry: Registry,
    /// Events through the recorder, by outcome: stored, duplicate, failed, dead_lettered (unreadable).
    pub recorded: IntCounterVec,
    pub record_batch_seconds: Histogram,
    pub websocket_clients: IntGauge,
    pub bus_up: IntGauge,
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
        Ok(Self {
            recorded: register(&registry, recorded)?,
            record_batch_seconds: register(&registry, batch)?,
            websocket_clients: register(
                &registry,
                IntGauge::new("ffsec_websocket_clients", "Connected WebSocket clients")?,
            )?,
            bus_up: register(&registry, IntGauge::new("ffsec_bus_up", "1 while the RabbitMQ link is up")?)?,
            registry,
        })
    }
}
