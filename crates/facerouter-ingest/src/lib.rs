//! facerouter-ingest: authenticates video workers, matches each face against the dossier gallery
//! and publishes it as an event. Stateless apart from its caches: run as many replicas as needed.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use actix_web::{App, HttpResponse, HttpServer, web};
use domain::bus::Bus;
use domain::messages::{GalleryChanged, GalleryObject};
use domain::{Config, db, ops};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub mod frame;
pub mod frame_form;
pub mod gallery;
mod gallery_sync;
pub mod metrics;
pub mod state;
pub mod worker_auth;

use state::AppState;

/// Serves on `listener` until `shutdown` fires, then stops accepting, lets in-flight requests
/// finish and closes the bus link last.
pub async fn run(listener: TcpListener, config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    if config.ffsecurity.video_detector_token.trim().is_empty() {
        anyhow::bail!("FFSECURITY.VIDEO_DETECTOR_TOKEN must be set for facerouter-ingest");
    }
    let config = Arc::new(config);
    let pool = db::pool(&config)?;
    let metrics = metrics::IngestMetrics::new()?;
    let bus_stop = CancellationToken::new();
    let bus = Bus::start(&config, "facerouter-ingest", bus_stop.clone());
    let gallery = gallery::Gallery::default();
    let loaded = Arc::new(AtomicBool::new(false));
    let wanted = Arc::new(Notify::new());
    let replica = uuid::Uuid::now_v7().simple().to_string();

    let background = CancellationToken::new();
    let reloader = tokio::spawn(gallery_sync::run_reloader(
        pool.clone(),
        gallery.clone(),
        wanted.clone(),
        loaded.clone(),
        metrics.clone(),
        background.clone(),
    ));
    let listener_task = tokio::spawn({
        let (bus, background) = (bus.clone(), background.clone());
        async move {
            // Ingest caches cameras and the dossier gallery; hook changes are not its business.
            let relevant = |c: &GalleryChanged| c.object != GalleryObject::Hook;
            domain::bus::watch_gallery(bus, "ingest", &replica, wanted, background, relevant).await;
        }
    });

    let state = web::Data::new(AppState {
        media: domain::media::LocalMedia::new(&config.media_root),
        config: config.clone(),
        bus: bus.clone(),
        gallery,
        metrics,
        gallery_loaded: loaded,
    });
    let address = listener.local_addr()?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::JsonConfig::default().error_handler(domain::error::json_error_handler))
            .route("/video-detector/frame", web::post().to(frame::post_frame))
            .route("/video-detector/frame/", web::post().to(frame::post_frame))
            .route("/health", web::get().to(get_health))
            .route("/metrics", web::get().to(get_metrics))
            .default_service(web::to(not_found))
    })
    .workers(config.ingest.workers)
    .disable_signals()
    .listen(listener)?
    .run();
    tracing::info!(%address, "facerouter-ingest listening on {address}");
    let handle = server.handle();
    let stopper = tokio::spawn(async move {
        shutdown.cancelled().await;
        handle.stop(true).await;
    });
    let served = server.await;
    stopper.abort();
    background.cancel();
    let _ = tokio::join!(reloader, listener_task);
    bus_stop.cancel();
    served?;
    tracing::info!("facerouter-ingest stopped");
    Ok(())
}

async fn get_health(state: web::Data<AppState>) -> HttpResponse {
    ops::health("facerouter-ingest", &state.bus)
}

async fn get_metrics(state: web::Data<AppState>) -> HttpResponse {
    state.metrics.bus_up.set(i64::from(state.bus.is_up()));
    ops::metrics(&state.metrics.registry)
}

async fn not_found() -> Result<HttpResponse, domain::ApiError> {
    Err(domain::ApiError::not_found("route"))
}
