//! `/health` (readiness), `/health/live` (liveness) and `/metrics`: for probes and scrapers, which carry no token.

use actix_web::{HttpResponse, web};
use domain::ops;

use crate::state::AppState;

#[utoipa::path(get, path = "/health", tag = "ops",
    responses((status = 200, description = "the service and its bus link are up", body = Object),
              (status = 503, description = "the bus link is down", body = Object)))]
pub async fn get_health(state: web::Data<AppState>) -> HttpResponse {
    ops::health("gateway-api", &state.bus)
}

#[utoipa::path(get, path = "/health/live", tag = "ops",
    responses((status = 200, description = "the process answers (liveness; ignores the bus link)", body = Object)))]
pub async fn get_live() -> HttpResponse {
    ops::live("gateway-api")
}

#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub async fn get_metrics(state: web::Data<AppState>) -> HttpResponse {
    state.metrics.bus_up.set(i64::from(state.bus.is_up()));
    ops::metrics(&state.metrics.registry)
}
