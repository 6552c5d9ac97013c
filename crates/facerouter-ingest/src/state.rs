//! What every ingest request handler shares.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use domain::ApiError;
use domain::Config;
use domain::bus::Bus;
use domain::media::MediaStore;

use crate::accept::Failure;
use crate::gallery::Gallery;
use crate::in_flight::InFlight;
use crate::metrics::IngestMetrics;
use crate::publish_batcher::PublishBatcher;
use crate::recognition::Recognizer;

pub struct AppState {
    pub config: Arc<Config>,
    pub bus: Bus,
    pub gallery: Gallery,
    pub media: Arc<dyn MediaStore>,
    pub recognizer: Arc<dyn Recognizer>,
    /// The built-in recognizer's inference pool (RECOGNITION_BACKEND = "builtin"): full frames on
    /// `/events/faces/add/` are detected here.
    pub faces: Option<Arc<domain::recognizer::pool::Pool>>,
    pub metrics: IngestMetrics,
    /// Publishes accepted faces several per message (FACEROUTER.PUBLISH_BATCH > 1); `None`: each
    /// request publishes its own `face.detected`.
    pub publisher: Option<PublishBatcher>,
    pub in_flight: InFlight,
    /// Set once the gallery has been loaded; until then frames get 503 rather than "unknown camera".
    pub gallery_loaded: Arc<AtomicBool>,
}

impl AppState {
    pub fn gallery_ready(&self) -> bool {
        self.gallery_loaded.load(Ordering::Acquire)
    }

    /// 503 at once while we could not accept a face durably (reading the bus state costs microseconds).
    pub fn ready(&self) -> Result<(), Failure> {
        if !self.bus.is_up() {
            return Err(Failure::new(ApiError::unavailable("message bus unavailable; retry shortly"), "bus_down"));
        }
        if !self.gallery_ready() {
            return Err(Failure::new(ApiError::unavailable("gallery still loading; retry shortly"), "gallery_loading"));
        }
        Ok(())
    }

    /// Counts one request by outcome and reason, and its accept latency when it was accepted.
    pub fn count(&self, started: Instant, outcome: Result<(&'static str, &'static str), &Failure>) {
        match outcome {
            Ok((outcome, reason)) => {
                self.metrics.frames.with_label_values(&[outcome, reason]).inc();
                self.metrics.accept_seconds.observe(started.elapsed().as_secs_f64());
            }
            Err(failure) => {
                self.metrics.frames.with_label_values(&[failure.outcome(), failure.reason.as_ref()]).inc();
            }
        }
    }
}
