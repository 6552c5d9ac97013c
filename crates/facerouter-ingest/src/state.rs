//! What every ingest request handler shares.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use domain::Config;
use domain::bus::Bus;

use crate::gallery::Gallery;
use crate::metrics::IngestMetrics;
use domain::media::LocalMedia;

pub struct AppState {
    pub config: Arc<Config>,
    pub bus: Bus,
    pub gallery: Gallery,
    pub media: LocalMedia,
    pub metrics: IngestMetrics,
    /// Set once the gallery has been loaded; until then frames get 503 rather than "unknown camera".
    pub gallery_loaded: Arc<AtomicBool>,
}

impl AppState {
    pub fn gallery_ready(&self) -> bool {
        self.gallery_loaded.load(Ordering::Acquire)
    }
}
