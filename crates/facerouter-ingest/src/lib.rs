//! facerouter-ingest: authenticates video workers, matches each face against the dossier gallery
//! and publishes it as an event. Stateless apart from its caches: run as many replicas as needed.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use domain::bus::Bus;
use domain::config::RecognitionBackend;
use domain::{Config, db, ops};
use tokio_util::sync::CancellationToken;

pub mod accept;
pub mod cameras_list;
pub mod event_id;
pub mod external_detector;
pub mod face_index;
pub mod frame;
pub mod frame_form;
pub mod gallery;
mod gallery_load;
mod gallery_sync;
pub mod in_flight;
mod kmeans;
pub mod metrics;
pub mod publish_batcher;
pub mod recognition;
// The scan kernels live in domain, shared with gateway-api's event search.
pub use domain::scan_kernels;
pub mod search_batcher;
mod slot_table;
pub mod state;
mod str_arena;
pub mod worker_auth;

use state::AppState;

/// Serves on `listener` until `shutdown` fires, then stops accepting, lets in-flight requests
/// finish and closes the bus link last.
pub async fn run(listener: TcpListener, config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    if config.ffsecurity.video_detector_token.trim().is_empty() {
        anyhow::bail!("FFSECURITY.VIDEO_DETECTOR_TOKEN must be set for facerouter-ingest");
    }
    if let Err((key, why)) = config.facerouter.validate(&config.ffsecurity.sf_api_address) {
        anyhow::bail!("bad value for key {key}: {why}");
    }
    let config = Arc::new(config);
    let pool = db::pool(&config)?;
    let metrics = metrics::IngestMetrics::new()?;
    let media = domain::media::from_config(&config)?;
    let faces = match config.facerouter.recognition_backend {
        RecognitionBackend::Builtin => Some(domain::recognizer::pool::Pool::start_for(&config).await?),
        _ => None,
    };
    let recognizer: Arc<dyn recognition::Recognizer> = match (config.facerouter.recognition_backend, &faces) {
        (RecognitionBackend::Builtin, Some(pool)) => {
            Arc::new(recognition::builtin::BuiltinBackend { pool: pool.clone() })
        }
        (RecognitionBackend::Sfapi, _) => Arc::new(recognition::sfapi::SfApiBackend::new(&config)?),
        _ => Arc::new(recognition::WorkerBackend),
    };
    let bus_stop = CancellationToken::new();
    let bus = Bus::start(&config, "facerouter-ingest", bus_stop.clone());
    let search = search_batcher::SearchSettings {
        threads: config.facerouter.search_threads,
        batch: config.facerouter.search_batch,
        queue: config.facerouter.search_queue,
    };
    let gallery = gallery::Gallery::new(search, metrics.search_batch.clone());
    let loaded = Arc::new(AtomicBool::new(false));
    let replica = uuid::Uuid::now_v7().simple().to_string();

    let background = CancellationToken::new();
    let (changes_tx, changes_rx) = tokio::sync::mpsc::unbounded_channel();
    let updater = gallery_sync::Updater {
        pool,
        gallery: gallery.clone(),
        loaded: loaded.clone(),
        metrics: metrics.clone(),
        page_size: config.facerouter.gallery_page_size,
        index: gallery::IndexSettings::of(&config.facerouter),
        resync: Duration::from_secs(config.facerouter.gallery_resync_seconds),
    };
    let updater_task = tokio::spawn(updater.run(changes_rx, background.clone()));
    let listener_task = tokio::spawn(gallery_sync::listen(bus.clone(), replica, changes_tx, background.clone()));

    let publisher = (config.facerouter.publish_batch > 1).then(|| {
        let settings = &config.facerouter;
        let sizes = metrics.publish_batch.clone();
        publish_batcher::PublishBatcher::start(bus.clone(), settings.publish_batch, settings.publish_pipeline, sizes)
    });
    let state = web::Data::new(AppState {
        publisher,
        media,
        recognizer,
        faces,
        config: config.clone(),
        bus: bus.clone(),
        gallery,
        in_flight: in_flight::InFlight::new(config.facerouter.max_in_flight, metrics.in_flight.clone()),
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
            .route("/video-detector/cameras", web::get().to(cameras_list::get_cameras))
            .route("/video-detector/cameras/", web::get().to(cameras_list::get_cameras))
            .route("/events/faces/add", web::post().to(external_detector::post_external_face))
            .route("/events/faces/add/", web::post().to(external_detector::post_external_face))
            .route("/health", web::get().to(get_health))
            .route("/health/live", web::get().to(|| async { ops::live("facerouter-ingest") }))
            .route("/metrics", web::get().to(get_metrics))
            .default_service(web::to(ops::not_found))
    })
    .workers(config.ingest.workers)
    // An answer is written the moment its face is durable; Nagle's algorithm would hold a small
    // one back behind the client's delayed ACK of the one before on a kept-alive connection.
    .tcp_nodelay(true)
    .disable_signals()
    .listen(listener)?
    .run();
    tracing::info!(%address, "facerouter-ingest listening on {address}");
    let served = ops::serve_until(server, shutdown).await;
    background.cancel();
    let _ = tokio::join!(updater_task, listener_task);
    bus_stop.cancel();
    served?;
    tracing::info!("facerouter-ingest stopped");
    Ok(())
}

/// Readiness: the bus link, and the first gallery load (until then every frame would get 503, so
/// a new replica stays out of a Service or load balancer while it reads the gallery).
async fn get_health(state: web::Data<AppState>) -> HttpResponse {
    if state.bus.is_up() && !state.gallery_ready() {
        return HttpResponse::ServiceUnavailable().json(serde_json::json!({
            "status": "unavailable", "service": "facerouter-ingest", "bus": "up", "reason": "gallery still loading",
        }));
    }
    ops::health("facerouter-ingest", &state.bus)
}

async fn get_metrics(state: web::Data<AppState>) -> HttpResponse {
    state.metrics.bus_up.set(i64::from(state.bus.is_up()));
    if let Some(pool) = &state.faces {
        state.metrics.recognizer_pending.set(i64::try_from(pool.pending()).unwrap_or(i64::MAX));
    }
    ops::metrics(&state.metrics.registry)
}
