//! Prometheus text exposition. Each service owns its registry (several services can share one test
//! process, so the global default registry is never used).

use prometheus::{Encoder, Registry, TextEncoder};

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn render(registry: &Registry) -> String {
    let mut buffer = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&registry.gather(), &mut buffer) {
        tracing::error!(error = %e, "cannot encode metrics: {e}");
    }
    String::from_utf8(buffer).unwrap_or_default()
}

/// Registers a collector and hands it back (metric definitions are checked once, at start-up).
pub fn register<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    collector: C,
) -> prometheus::Result<C> {
    registry.register(Box::new(collector.clone()))?;
    Ok(collector)
}
