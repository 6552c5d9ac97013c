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

pub mod deliverer;
pub mod delivery;
pub mod delivery_log;
pub mod genetec;
pub mod hook_health;
pub mod hooks_cache;
mod lane_clock;
pub mod lanes;
pub mod metrics;
pub mod parking;
pub mod payload;
mod queue_depth;
pub mod schedule;
pub mod signing;
pub mod ssrf;
pub mod worker;

struct OpsState {
    bus: Bus,
    publisher: Bus,
    metrics: metrics::DispatcherMetrics,
}

/// Runs until `shutdown`: stops taking messages, finishes the deliveries in flight (acking what
/// they owe), then closes the bus link.
pub async fn run(listener: TcpListener, config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let pool = db::pool(&config)?;
    let metrics = metrics::DispatcherMetrics::new()?;
    let bus_stop = CancellationToken::new();
    let bus = Bus::start(&config, "webhook-dispatcher", bus_stop.clone());
    // Parked retries are published on a connection of their own: under a burst RabbitMQ's flow
    // control throttles a publishing connection by not reading from it, which on a shared
    // connection would hold back the consumers' acks too, and with them every hook's deliveries.
    let publisher = Bus::start(&config, "webhook-dispatcher-publish", bus_stop.clone());
    let hooks = hooks_cache::HookCache::default();
    let wanted = Arc::new(Notify::new());
    let replica = uuid::Uuid::now_v7().simple().to_string();
    let background = CancellationToken::new();

    let reloader = tokio::spawn(hooks_cache::run_reloader(
        hooks.clone(),
        pool.clone(),
        wanted.clone(),
        metrics.clone(),
        background.clone(),
    ));
    let watcher = tokio::spawn({
        let (bus, background) = (bus.clone(), background.clone());
        async move {
            let relevant = |c: &GalleryChanged| c.object == GalleryObject::Hook;
            domain::bus::watch_gallery(bus, "dispatcher", &replica, wanted, background, relevant).await;
        }
    });
    let settings = &config.webhooks;
    let sender = delivery::Sender::new(&delivery::Settings {
        timeout: Duration::from_millis(settings.timeout_ms),
        connect_timeout: Duration::from_millis(settings.connect_timeout_ms),
        response_limit: settings.response_body_limit,
        allowed_addresses: settings.allowed_addresses.clone(),
    })?;
    let (log, log_writer) = delivery_log::DeliveryLog::start(pool.clone());
    let genetec_pool = pool.clone();
    let expiry = tokio::spawn(delivery_log::run_expiry(pool.clone(), settings.log_max_age_days, background.clone()));
    let depths = tokio::spawn(queue_depth::run(bus.clone(), metrics.clone(), background.clone()));
    let deliverer = Arc::new(deliverer::Deliverer::new(
        publisher.clone(),
        pool,
        hooks,
        sender,
        log,
        metrics.clone(),
        schedule::Schedule::new(&settings.retry_delays_ms),
        hook_health::Policy {
            window: chrono::Duration::milliseconds(i64::try_from(settings.disable_after_ms).unwrap_or(i64::MAX)),
            min_attempts: settings.disable_min_attempts,
        },
        settings.max_payload_bytes,
    ));
    let deliveries = CancellationToken::new();
    let parking = Arc::new(parking::Parking::default());
    let worker = Arc::new(worker::Worker {
        bus: bus.clone(),
        deliverer,
        parking: parking.clone(),
        lanes: lanes::Lanes::new(
            settings.hook_concurrency,
            // Two consumers (new events and retries), each holding this many messages.
            settings.concurrency * 2,
            Duration::from_millis(settings.batch_linger_ms),
            Duration::from_millis(settings.timeout_ms),
            parking,
            deliveries.clone(),
        ),
        links: links(&config),
        concurrency: settings.concurrency,
    });
    let worker_task = tokio::spawn(worker.run(deliveries.clone()));
    // Not listed: no queue is declared and nothing is called.
    let genetec_task = if config.integration_on(domain::config::Integration::Genetec) {
        let alarms = genetec::Alarms::new(&config.genetec, genetec_pool, links(&config), metrics.clone())?;
        tracing::info!("Genetec alarms on ({})", config.genetec.url);
        Some(tokio::spawn(genetec::run(Arc::new(alarms), bus.clone(), config.rabbitmq.prefetch, deliveries.clone())))
    } else {
        None
    };

    let state = web::Data::new(OpsState { bus: bus.clone(), publisher: publisher.clone(), metrics });
    let address = listener.local_addr()?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/health", web::get().to(get_health))
            .route("/health/live", web::get().to(|| async { ops::live("webhook-dispatcher") }))
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
    if let Some(task) = genetec_task {
        let _ = task.await;
    }
    background.cancel();
    let _ = tokio::join!(reloader, watcher, expiry, depths);
    // The worker (and with it every log handle) is gone: the writer drains what is queued and ends.
    if tokio::time::timeout(Duration::from_secs(10), log_writer).await.is_err() {
        tracing::warn!("delivery log writer did not finish in time; some log rows may be missing");
    }
    handle.stop(true).await;
    let _ = server_task.await;
    bus_stop.cancel();
    tracing::info!("webhook-dispatcher stopped");
    Ok(())
}

/// Absolute, signed media links, as webhook bodies and Genetec alarms carry them.
fn links(config: &Config) -> payload::MediaLinks {
    payload::MediaLinks {
        base: config.external_base().to_string(),
        signer: (!config.secret_key.is_empty()).then(|| {
            domain::media_link::MediaSigner::new(config.secret_key.as_bytes(), config.auth.media_url_ttl_seconds)
        }),
    }
}

async fn get_health(state: web::Data<OpsState>) -> HttpResponse {
    // Unhealthy when either link is down: the consumer's, or the one retries are parked through.
    let reported = if state.publisher.is_up() { &state.bus } else { &state.publisher };
    ops::health("webhook-dispatcher", reported)
}

async fn get_metrics(state: web::Data<OpsState>) -> HttpResponse {
    state.metrics.bus_up.set(i64::from(state.bus.is_up() && state.publisher.is_up()));
    ops::metrics(&state.metrics.registry)
}
