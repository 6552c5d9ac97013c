//! webhook-dispatcher's Prometheus figures.

use domain::metrics::register;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

#[derive(Clone)]
pub struct DispatcherMetrics {
    pub registry: Registry,
    /// Delivery attempts by result: success, failure.
    pub attempts: IntCounterVec,
    /// Events by what became of them per hook: delivered, parked (for a retry), gave_up, dropped.
    pub deliveries: IntCounterVec,
    pub attempt_seconds: Histogram,
    pub hooks_disabled: IntCounter,
    pub active_hooks: IntGauge,
    pub hook_reloads: IntCounter,
    /// Messages waiting, by queue: events, deliveries, retry_<ms>.
    pub queue_depth: IntGaugeVec,
    pub bus_up: IntGauge,
    /// Events seen by the Genetec integration, by what became of them: sent, gave_up,
    /// rate_limited, not_linked, already_sent, unmatched.
    pub genetec_alarms: IntCounterVec,
    /// Calls to the Genetec Web SDK by result: success, failure.
    pub genetec_attempts: IntCounterVec,
}

impl DispatcherMetrics {
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let attempts = IntCounterVec::new(
            Opts::new("ffsec_webhook_attempts_total", "Webhook delivery attempts by result"),
            &["result"],
        )?;
        let deliveries = IntCounterVec::new(
            Opts::new(
                "ffsec_webhook_deliveries_total",
                "Events per hook by outcome: delivered, parked, gave_up, dropped",
            ),
            &["outcome"],
        )?;
        let attempt_seconds = Histogram::with_opts(
            HistogramOpts::new("ffsec_webhook_attempt_seconds", "Duration of one delivery attempt")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
        )?;
        let queue_depth = IntGaugeVec::new(
            Opts::new("ffsec_webhook_queue_depth", "Messages waiting in the dispatcher's queues"),
            &["queue"],
        )?;
        Ok(Self {
            attempts: register(&registry, attempts)?,
            deliveries: register(&registry, deliveries)?,
            attempt_seconds: register(&registry, attempt_seconds)?,
            hooks_disabled: register(
                &registry,
                IntCounter::new("ffsec_webhook_hooks_disabled_total", "Hooks switched off by the dispatcher")?,
            )?,
            active_hooks: register(
                &registry,
                IntGauge::new("ffsec_webhook_active_hooks", "Active hooks in this replica's cache")?,
            )?,
            hook_reloads: register(
                &registry,
                IntCounter::new("ffsec_webhook_hook_reloads_total", "Loads of the hook cache")?,
            )?,
            queue_depth: register(&registry, queue_depth)?,
            bus_up: register(&registry, IntGauge::new("ffsec_bus_up", "1 while the RabbitMQ link is up")?)?,
            genetec_alarms: register(
                &registry,
                IntCounterVec::new(
                    Opts::new("ffsec_genetec_alarms_total", "Events seen by the Genetec integration, by outcome"),
                    &["outcome"],
                )?,
            )?,
            genetec_attempts: register(
                &registry,
                IntCounterVec::new(
                    Opts::new("ffsec_genetec_attempts_total", "Genetec Web SDK calls by result"),
                    &["result"],
                )?,
            )?,
            registry,
        })
    }
}
