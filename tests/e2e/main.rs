//! End-to-end tests: the three services against real PostgreSQL and RabbitMQ.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod console;
mod deploy_files;
mod findface_import;
mod gateway_event_indexes;
mod gateway_events;
mod gateway_list_counts;
mod gateway_live;
mod gateway_login_limits;
mod gateway_media;
mod gateway_resources;
mod gateway_watch_lists;
mod ingest_backpressure;
mod ingest_broker_outage;
mod ingest_gallery;
mod ingest_packs;
mod ingest_protocols;
mod ingest_s3;
mod ingest_sfapi;
mod ingest_support;
mod integrations_genetec;
mod integrations_video_manager;
mod negative;
mod processes;
mod recognizer_builtin;
mod schema;
mod search_by_face;
mod security;
mod walking_skeleton;
mod webhooks;

/// Logs from the services under test, when RUST_LOG asks for them.
pub fn init_logs() {
    domain::telemetry::init(&domain::config::Logging {
        format: domain::config::LogFormat::Human,
        level: "warn".into(),
    });
}
