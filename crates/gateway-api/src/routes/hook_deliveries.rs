//! A hook's delivery log (`GET /hooks/{id}/deliveries/`), resending one delivery, and replaying
//! every event since a moment. Resends and replays go through the dispatcher's deliveries queue
//! under the original webhook-id, so a consumer that already has an event de-duplicates it.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::ApiError;
use domain::event::FaceEvent;
use domain::filters::EventFilters;
use domain::messages::DeliveryRetry;
use domain::models::{FaceEventRow, Hook, WebhookDelivery};
use domain::schema::{face_events, hooks, webhook_deliveries};
use futures_util::FutureExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::pagination::{self as p, ListPage};
use crate::auth::{AuthUser, Role};
use crate::event_loader;
use crate::json_body::JsonBody;
use crate::state::AppState;

/// A replay queues at most this many events per call; the answer says where to go on from.
const REPLAY_LIMIT: i64 = 10_000;
const REPLAY_PAGE: i64 = 500;

fn view(d: &WebhookDelivery) -> Value {
    json!({
        "id": d.id, "hook": d.hook_id, "webhook_id": d.message_id, "events": d.event_ids,
        "attempt": d.attempt, "success": d.success, "status": d.response_status, "error": d.error,
        "response_body": d.response_body, "duration_ms": d.duration_ms, "created_date": d.created_date,
    })
}

async fn hook_of(state: &AppState, id: i64) -> Result<Hook, ApiError> {
    let mut conn = state.conn().await?;
    hooks::table
        .find(id)
        .select(Hook::as_select())
        .first(&mut conn)
        .await
        .optional()
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("hook"))
}

/// Newest first; `cursor` (the last id of a page) and `success=true|false`.
#[utoipa::path(get, path = "/hooks/{id}/deliveries/", tag = "hooks", params(("id" = i64, Path, description = "the object's id"), ("limit" = Option<i64>, Query, description = "1..1000, default 20"), ("cursor" = Option<i64>, Query, description = "the last delivery id of the previous page"), ("success" = Option<bool>, Query, description = "only successful or failed deliveries")), responses((status = 200, description = "deliveries, newest first", body = ListPage), (status = 400, description = "a bad parameter, named in param", body = ApiError), (status = 404, description = "no such object", body = ApiError)))]
pub async fn get_hook_deliveries(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    let hook_id = id.into_inner();
    hook_of(&state, hook_id).await?;
    let pairs = p::query_pairs(&req)?;
    let limit = p::limit(&pairs)?;
    let success = p::parse_bool(&pairs, "success")?;
    let cursor: Option<i64> = p::parse_one(&pairs, "cursor")?;
    let filtered = || {
        let mut q = webhook_deliveries::table.filter(webhook_deliveries::hook_id.eq(hook_id)).into_boxed();
        if let Some(s) = success {
            q = q.filter(webhook_deliveries::success.eq(s));
        }
        q
    };
    let mut page = filtered();
    if let Some(c) = cursor {
        page = page.filter(webhook_deliveries::id.lt(c));
    }
    let count_query = filtered().count();
    // One snapshot for the count and the page: deliveries are logged all the time.
    let (count, mut rows) = p::snapshot(&state, move |conn| {
        async move {
            let count: i64 = count_query.get_result(conn).await?;
            let rows: Vec<WebhookDelivery> = page
                .order(webhook_deliveries::id.desc())
                .limit(limit + 1)
                .select(WebhookDelivery::as_select())
                .load(conn)
                .await?;
            Ok((count, rows))
        }
        .boxed()
    })
    .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next =
        more.then(|| rows.last().map(|r| p::url_with(&state, &req, &pairs, "cursor", &r.id.to_string()))).flatten();
    Ok(p::list(count, next, rows.iter().map(view).collect()))
}

async fn queue(state: &AppState, hook_id: i64, message_id: String, events: Vec<FaceEvent>) -> Result<(), ApiError> {
    let retry = DeliveryRetry { hook_id, message_id, attempts: 0, deferrals: 0, events };
    let names = state.bus.names();
    state
        .bus
        .publish("", &names.deliveries_queue(), &retry, &retry.message_id)
        .await
        .map_err(|e| ApiError::unavailable(format!("cannot queue the delivery right now: {e}")))
}

#[utoipa::path(post, path = "/hooks/{id}/deliveries/{delivery}/resend/", tag = "hooks", params(("id" = i64, Path, description = "the object's id"), ("delivery" = i64, Path, description = "the delivery's id")), responses((status = 202, description = "`{queued: n}`", body = Object), (status = 400, description = "the hook is inactive", body = ApiError), (status = 404, description = "no such object", body = ApiError), (status = 503, description = "the broker is unavailable", body = ApiError)))]
pub async fn post_resend_delivery(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    let (hook_id, delivery_id) = path.into_inner();
    let hook = hook_of(&state, hook_id).await?;
    if !hook.active {
        return Err(ApiError::bad_param("active", "the hook is inactive; activate it first"));
    }
    let mut conn = state.conn().await?;
    let delivery: WebhookDelivery = webhook_deliveries::table
        .find(delivery_id)
        .filter(webhook_deliveries::hook_id.eq(hook_id))
        .select(WebhookDelivery::as_select())
        .first(&mut conn)
        .await
        .optional()
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("delivery"))?;
    let rows: Vec<FaceEventRow> = face_events::table
        .filter(face_events::id.eq_any(&delivery.event_ids))
        .order(face_events::id)
        .select(FaceEventRow::as_select())
        .load(&mut conn)
        .await
        .map_err(ApiError::internal)?;
    if rows.is_empty() {
        return Err(ApiError::not_found("events of this delivery (expired?)"));
    }
    let events = event_loader::to_events(&mut conn, rows).await.map_err(ApiError::internal)?;
    drop(conn);
    let queued = events.len();
    queue(&state, hook_id, delivery.message_id, events).await?;
    tracing::info!(hook.id = hook_id, user.id = user.id, "delivery {delivery_id} of hook {hook_id} queued again");
    Ok(HttpResponse::Accepted().json(json!({"queued": queued})))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReplayBody {
    since: DateTime<Utc>,
    #[serde(default)]
    until: Option<DateTime<Utc>>,
}

/// Every stored event created since `since` (and before `until`) that matches the hook's filters.
#[utoipa::path(post, path = "/hooks/{id}/replay/", tag = "hooks", params(("id" = i64, Path, description = "the object's id")), request_body = ReplayBody, responses((status = 202, description = "`{queued, complete, continue_after}`", body = Object), (status = 400, description = "a bad parameter, named in param", body = ApiError), (status = 404, description = "no such object", body = ApiError), (status = 503, description = "the broker is unavailable", body = ApiError)))]
pub async fn post_replay_hook(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<ReplayBody>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    let body = body.into_inner()?;
    let hook_id = id.into_inner();
    let hook = hook_of(&state, hook_id).await?;
    if !hook.active {
        return Err(ApiError::bad_param("active", "the hook is inactive; activate it first"));
    }
    let filters: EventFilters = serde_json::from_value(hook.filters).map_err(ApiError::internal)?;
    let until = body.until.unwrap_or_else(Utc::now);
    let mut after: Option<uuid::Uuid> = None;
    let (mut scanned, mut queued) = (0_i64, 0_usize);
    let mut conn = state.conn().await?;
    loop {
        let mut page = face_events::table
            .filter(face_events::created_date.ge(body.since))
            .filter(face_events::created_date.lt(until))
            .into_boxed();
        if let Some(a) = after {
            page = page.filter(face_events::id.gt(a));
        }
        let rows: Vec<FaceEventRow> = page
            .order(face_events::id)
            .limit(REPLAY_PAGE)
            .select(FaceEventRow::as_select())
            .load(&mut conn)
            .await
            .map_err(ApiError::internal)?;
        let Some(last) = rows.last() else { break };
        after = Some(last.id);
        scanned += rows.len() as i64;
        for event in event_loader::to_events(&mut conn, rows).await.map_err(ApiError::internal)? {
            if filters.matches(&event) {
                let message_id = format!("msg_{}_{hook_id}", event.id.simple());
                queue(&state, hook_id, message_id, vec![event]).await?;
                queued += 1;
            }
        }
        if scanned >= REPLAY_LIMIT {
            break;
        }
    }
    let complete = scanned < REPLAY_LIMIT;
    tracing::info!(hook.id = hook_id, user.id = user.id, queued, "replay of hook {hook_id}: {queued} events queued");
    Ok(HttpResponse::Accepted().json(json!({"queued": queued, "complete": complete, "continue_after": after})))
}
