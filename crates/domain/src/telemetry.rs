//! Logging set-up: human or JSON lines on stdout, filtered by LOGGING.LEVEL (RUST_LOG wins).

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, Logging};

/// Installs the global subscriber; a second call (tests starting several services) is a no-op.
pub fn init(logging: &Logging) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&logging.level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match logging.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Human => builder.try_init(),
    };
}
