//! webhook-dispatcher: delivers stored events to the hooks whose filters match, signed with
//! Standard Webhooks headers, retrying through durable delay queues, logging every attempt.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use domain::bus::Bus;
use domain::messages::{GalleryChanged, GalleryObject};
use domain::{Config, db, ops};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub mod delivery;
pub mod hooks_cache;
pub mod metrics;
pub mod payload;
pub mod signing;
pub mod worker;

struct OpsState {
    bus: Bus,
    metrics: metrics::DispatcherMetrics,
}

/// Runs until `shutdown`: stops taking messages, finishes the deliveries in flight (acking what
/// they owe), then closes the bus link.
pub async fn run(listener: TcpListener, config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let pool = db::pool(&config)?;
    let metrics = metrics::DispatcherMetrics::new()?;
    let bus_stop = CancellationToken::new();
    let bus = Bus::start(&config, "webhook-dispatcher", bus_stop.clone());
    let hooks = hooks_cache::HookCache::default();
    let wanted = Arc::new(Notify::new());
    let replica = uuid::Uuid::now_v7().simple().to_string();
    let background = CancellationToken::new();

    let reloader = tokio::spawn(hooks_cache::run_reloader(
        hooks.clone(),
        pool.clone(),
        wanted.clone(),
        metrics.active_hooks.clone(),
        background.clone(),
    ));
    let watcher = tokio::spawn({
        let (bus, background) = (bus.clone(), background.clone());
        async move {
            let relevant = |c: &GalleryChanged| c.object == GalleryObject::Hook;
            domain::bus::watch_gallery(bus, "dispatcher", &replica, wanted, background, relevant).await;
        }
    });
    let worker = Arc::new(worker::Worker {
        bus: bus.clone(),
        pool,
        hooks,
        client: delivery::client(Duration::from_millis(config.webhooks.timeout_ms))?,
        metrics: metrics.clone(),
        external_base: config.external_base().to_string(),
        retry_delays_ms: config.webhooks.retry_delays_ms.clone(),
        concurrency: config.webhooks.concurrency,
    });
    let deliveries = CancellationToken::new();
    let worker_task = tokio::spawn(worker.run(deliveries.clone()));

    let state = web::Data::new(OpsState { bus: bus.clone(), metrics });
    let address = listener.local_addr()?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/health", web::get().to(get_health))
            .route("/metrics", web::get().to(get_metrics))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    tracing::info!(%address, "webhook-dispatcher listening on {address}");
    let handle = server.handle();
    let server_task = tokio::spawn(server);

    shutdown.cancelled().await;
    deliveries.cancel();
    let _ = worker_task.await;
    background.cancel();
    let _ = tokio::join!(reloader, watcher);
    handle.stop(true).await;
    let _ = server_task.await;
    bus_stop.cancel();
    tracing::info!("webhook-dispatcher stopped");
    Ok(())
}

async fn get_health(state: web::Data<OpsState>) -> HttpResponse {
    ops::health("webhook-dispatcher", &state.bus)
}

async fn get_metrics(state: web::Data<OpsState>) -> HttpResponse {
    state.metrics.bus_up.set(i64::from(state.bus.is_up()));
    ops::metrics(&state.metrics.registry)
}
