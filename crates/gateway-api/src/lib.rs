//! gateway-api: the REST and WebSocket front of the web interface, the owner of database writes
//! (the recorder lives here), media serving and the live feed.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, web};
use domain::bus::Bus;
use domain::{Config, db, ops};
use tokio_util::sync::CancellationToken;

pub mod admin;
pub mod auth;
pub mod console;
pub mod dossier_index;
pub mod event_index;
pub mod event_index_feed;
pub mod event_loader;
pub mod event_view;
pub mod json_body;
pub mod live;
mod live_outbox;
pub mod media;
pub mod metrics;
pub mod openapi;
pub mod recorder;
pub mod retention;
pub mod routes;
pub mod scan_index;
pub mod state;
pub mod video_manager;

use state::AppState;

/// Applies migrations, creates the first admin if configured, then serves on `listener` until
/// `shutdown` fires: stops accepting, finishes in-flight requests and the recorder's batch, and
/// closes the bus link last.
pub async fn run(listener: TcpListener, config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let pool = db::pool(&config)?;
    let applied = db::run_migrations(&pool).await?;
    tracing::info!(migrations.applied = applied, "database ready ({applied} migrations applied)");
    if admin::ensure_first(&pool, &config.auth.admin_username, &config.auth.admin_password).await? {
        tracing::info!(username = %config.auth.admin_username, "created the first admin user {}", config.auth.admin_username);
    }
    let store = domain::media::from_config(&config)?;
    if config.facerouter.media_url.trim().is_empty() {
        // Fail at start, not at the first upload, when MEDIA_ROOT cannot be created.
        std::fs::create_dir_all(&config.media_root)?;
    }

    // Built before anything starts, so a bad address stops start-up rather than the first sync.
    let vm_client = config
        .integration_on(domain::config::Integration::VideoManager)
        .then(|| video_manager::client::VmClient::new(&config))
        .transpose()?;
    let faces = match config.facerouter.recognition_backend {
        domain::config::RecognitionBackend::Builtin => Some(domain::recognizer::pool::Pool::start_for(&config).await?),
        _ => None,
    };
    let bus_stop = CancellationToken::new();
    let bus = Bus::start(&config, "gateway-api", bus_stop.clone());
    let background = CancellationToken::new();
    let event_search = event_index_feed::EventSearch::new(pool.clone(), config.clone(), background.clone());
    let metrics = metrics::GatewayMetrics::new()?;
    let dossier_search = dossier_index::DossierSearch::new(pool.clone(), metrics.dossier_index_faces.clone());
    let state = web::Data::new(AppState {
        config: config.clone(),
        pool,
        bus: bus.clone(),
        live: live::LiveFeed::new(shutdown.clone()),
        media: store.clone(),
        metrics,
        login_limiter: auth::login_limit::LoginLimiter::new(&config.auth),
        media_signer: media::signer(&config),
        video_manager: vm_client.is_some().then(|| Arc::new(tokio::sync::Notify::new())),
        faces,
        event_search: event_search.clone(),
        dossier_search,
    });
    let replica = uuid::Uuid::now_v7().simple().to_string();
    let recorder = tokio::spawn(recorder::run(state.clone(), background.clone()));
    let dossier_index = tokio::spawn(state.dossier_search.clone().run(
        bus.clone(),
        replica.clone(),
        Duration::from_secs(config.facerouter.gallery_resync_seconds),
        background.clone(),
    ));
    let fanout = tokio::spawn(live::run_fanout(state.clone(), bus.clone(), replica, background.clone()));
    let retention =
        tokio::spawn(retention::run_periodic(state.pool.clone(), store, config.clone(), background.clone()));

    let index_purge = event_search.map(|search| tokio::spawn(search.run_purge()));
    let vm_sync = match (vm_client, state.video_manager.clone()) {
        (Some(client), Some(kick)) => {
            tracing::info!("video manager sync on ({})", config.ffsecurity.video_manager_address);
            Some(tokio::spawn(video_manager::run(state.clone(), client, kick, background.clone())))
        }
        _ => None,
    };

    let address = listener.local_addr()?;
    let app_state = state.clone();
    let max_body = config.server.max_body_bytes;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(app_state.clone())
            // Called on each worker's thread: the worker's own share of the live feed.
            .app_data(app_state.live.worker())
            .app_data(web::JsonConfig::default().limit(max_body).error_handler(domain::error::json_error_handler))
            .app_data(web::QueryConfig::default().error_handler(domain::error::query_error_handler))
            .app_data(web::PathConfig::default().error_handler(domain::error::path_error_handler))
            .configure(routes::configure)
            .default_service(web::to(ops::not_found))
    })
    .workers(config.server.workers)
    // Live frames are small writes a millisecond or so apart: with Nagle's algorithm on (the OS
    // default) each waited for the client's ACK of the one before, which took P2's delivery from
    // 7 to 25 ms at p50 and from 24 to 56 ms at p99 (docs/benchmarks.md, P2 2026-11-27 20:54).
    .tcp_nodelay(true)
    .disable_signals()
    .listen(listener)?
    .run();
    tracing::info!(%address, "gateway-api listening on {address}");
    let served = ops::serve_until(server, shutdown).await;
    background.cancel();
    let _ = tokio::join!(recorder, fanout, retention, dossier_index);
    if let Some(index_purge) = index_purge {
        let _ = index_purge.await;
    }
    if let Some(vm_sync) = vm_sync {
        let _ = vm_sync.await;
    }
    bus_stop.cancel();
    served?;
    tracing::info!("gateway-api stopped");
    Ok(())
}
