//! End-to-end tests: the three services against real PostgreSQL and RabbitMQ.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod negative;
mod processes;
mod walking_skeleton;

/// Logs from the services under test, when RUST_LOG asks for them.
pub fn init_logs() {
    domain::telemetry::init(&domain::config::Logging {
        format: domain::config::LogFormat::Human,
        level: "warn".into(),
    });
}
