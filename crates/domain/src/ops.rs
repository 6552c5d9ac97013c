//! Bodies of `/health` and `/metrics`, shared by the three services (their handlers stay local).

use actix_web::HttpResponse;
use actix_web::dev::Server;
use prometheus::Registry;
use tokio_util::sync::CancellationToken;

use crate::bus::{Bus, BusState};

/// 200 while this replica can do its work, 503 (with the reason) while the bus is down, so load
/// balancers and orchestrators route around it.
pub fn health(service: &str, bus: &Bus) -> HttpResponse {
    match bus.state() {
        BusState::Up(link) => HttpResponse::Ok().json(serde_json::json!({
            "status": "ok", "service": service, "bus": "up", "bus_generation": link.generation,
        })),
        BusState::Down { reason, since } => HttpResponse::ServiceUnavailable().json(serde_json::json!({
            "status": "unavailable", "service": service, "bus": "down", "reason": reason,
            "down_for_ms": since.elapsed().as_millis() as u64,
        })),
    }
}

/// Liveness (`/health/live`): 200 whenever the process answers HTTP. Unlike `/health` it does not
/// look at the bus, so an orchestrator restarts a wedged process but not every replica during a
/// RabbitMQ outage (they reconnect by themselves and `/health` keeps them out of rotation).
pub fn live(service: &str) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok", "service": service }))
}

pub fn metrics(registry: &Registry) -> HttpResponse {
    HttpResponse::Ok().content_type(crate::metrics::CONTENT_TYPE).body(crate::metrics::render(registry))
}

/// Runs an HTTP server until `shutdown`, then stops it gracefully: no new connections, requests in
/// flight finish. Returns once the server has stopped.
pub async fn serve_until(server: Server, shutdown: CancellationToken) -> std::io::Result<()> {
    let handle = server.handle();
    let stopper = tokio::spawn(async move {
        shutdown.cancelled().await;
        handle.stop(true).await;
    });
    let served = server.await;
    stopper.abort();
    served
}

/// The default service: every unknown route is a `NOT_FOUND` in the usual error body.
pub async fn not_found() -> Result<HttpResponse, crate::ApiError> {
    Err(crate::ApiError::not_found("route"))
}
