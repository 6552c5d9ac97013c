//! webhook-dispatcher's Prometheus figures.

use domain::metrics::register;
use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

#[derive(Clone)]
pub struct DispatcherMetrics {
    pub registry: Registry,
    /// Delivery attempts by result: success, failure.
    pub attempts: IntCounterVec,
    pub gave_up: IntCounter,
    pub active_hooks: IntGauge,
    pub bus_up: IntGauge,
}

impl DispatcherMetrics {
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let attempts = IntCounterVec::new(
            Opts::new("ffsec_webhook_attempts_total", "Webhook delivery attempts by result"),
            &["result"],
        )?;
        Ok(Self {
            attempts: register(&registry, attempts)?,
            gave_up: register(
                &registry,
                IntCounter::new("ffsec_webhook_gave_up_total", "Deliveries abandoned after send_attempts")?,
            )?,
            active_hooks: register(
                &registry,
                IntGauge::new("ffsec_webhook_active_hooks", "Active hooks in this replica's cache")?,
            )?,
            bus_up: register(&registry, IntGauge::new("ffsec_bus_up", "1 while the RabbitMQ link is up")?)?,
            registry,
        })
    }
}
