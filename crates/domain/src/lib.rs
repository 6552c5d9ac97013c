//! ffsec's shared vocabulary: configuration, bus topology and messages, events and their filters,
//! the database schema and models, and the client-visible error table. No HTTP handlers here.

pub mod bus;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod event;
pub mod filters;
pub mod findface;
pub mod flex;
pub mod genetec;
pub mod image;
pub mod image_header;
pub mod list_filters;
pub mod media;
mod media_group_commit;
pub mod media_link;
pub mod media_pack;
mod media_place;
pub mod media_s3;
mod media_sweep;
pub mod messages;
pub mod metrics;
pub mod models;
pub mod multipart;
pub mod net;
pub mod ops;
pub mod query_params;
#[cfg(feature = "recognizer")]
pub mod recognizer;
// SIMD intrinsics behind runtime feature checks: the one module allowed `unsafe` (ingest's gallery
// and gateway-api's event search scan with them).
#[allow(unsafe_code)]
pub mod scan_kernels;
pub mod schema;
pub mod shutdown;
pub mod telemetry;
pub mod vector;

pub use config::Config;
pub use error::{ApiError, ErrorCode};
