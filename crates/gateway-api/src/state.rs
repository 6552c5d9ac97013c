//! What every gateway-api handler shares.

use std::sync::Arc;

use domain::Config;
use domain::bus::Bus;
use domain::db::{DbConn, DbPool};
use domain::media::MediaStore;
use domain::media_link::{MediaSigner, unix_now};
use domain::messages::{GalleryChanged, GalleryObject};

use crate::auth::login_limit::LoginLimiter;
use crate::live::LiveFeed;
use crate::metrics::GatewayMetrics;

pub struct AppState {
    pub config: Arc<Config>,
    pub pool: DbPool,
    pub bus: Bus,
    pub live: LiveFeed,
    pub media: Arc<dyn MediaStore>,
    pub metrics: GatewayMetrics,
    pub login_limiter: LoginLimiter,
    pub media_signer: MediaSigner,
    /// Wakes the video manager sync; None while INTEGRATIONS does not list `video_manager`.
    pub video_manager: Option<Arc<tokio::sync::Notify>>,
    /// The built-in recognizer's inference pool when FACEROUTER.RECOGNITION_BACKEND = "builtin":
    /// a dossier photo sent without `facen` gets its vector here.
    pub faces: Option<Arc<domain::recognizer::pool::Pool>>,
    /// `looks_like` over past events; None when EVENT_SEARCH.KEEP_VECTORS is `none`.
    pub event_search: Option<Arc<crate::event_index_feed::EventSearch>>,
    /// `looks_like` over dossier faces.
    pub dossier_search: Arc<crate::dossier_index::DossierSearch>,
}

impl AppState {
    pub async fn conn(&self) -> Result<DbConn, domain::ApiError> {
        self.pool.get().await.map_err(|e| {
            tracing::error!(error = %e, "database unavailable: {e}");
            domain::ApiError::unavailable("database unavailable; retry shortly")
        })
    }

    /// Tells ingest replicas and the dispatcher that a cached object changed. Called after the
    /// change committed; if the bus is down the notice is lost, which the receivers' periodic
    /// reload and their reload on reconnect cover. This replica's own dossier search index takes
    /// the change first, so the next request here sees it.
    pub async fn announce(&self, object: GalleryObject, id: i64) {
        self.dossier_search.on_own_change(object, id).await;
        let message = GalleryChanged { object, id };
        let message_id = uuid::Uuid::now_v7().to_string();
        let exchange = self.bus.names().gallery_exchange();
        if let Err(e) = self.bus.publish(&exchange, "", &message, &message_id).await {
            tracing::warn!(error = %e, "cannot announce change of {object:?} {id}: {e}");
        }
    }

    /// Absolute, signed URL of a media path (loadable without a token until it expires), or null
    /// for an empty one.
    pub fn media_url(&self, path: &str) -> Option<String> {
        (!path.is_empty()).then(|| {
            let query = self.media_signer.query(path, unix_now());
            format!("{}/uploads/{path}?{query}", self.config.external_base())
        })
    }
}
