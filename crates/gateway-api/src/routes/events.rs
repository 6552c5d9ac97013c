//! `GET /events/faces/` (filters OR'ed within a key and AND'ed across keys, newest first, cursor
//! paging by id) and `GET /events/faces/{id}/`. Event ids are UUIDv7, so id order is time order and
//! a cursor stays stable while new events arrive.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Text};
use diesel_async::RunQueryDsl;
use domain::ApiError;
use domain::bus::topology::{ROUTE_EVENT_UPDATED, ROUTE_EVENTS_ACKNOWLEDGED};
use domain::event::{event_id_ceiling, event_id_floor};
use domain::list_filters::EventListFilters;
use domain::messages::{EventUpdated, EventsAcknowledged};
use domain::models::FaceEventRow;
use domain::schema::face_events;
use serde_json::Value;
use uuid::Uuid;

use super::pagination::{self as p, ListPage, QueryPairs};
use crate::auth::{AuthUser, Role};
use crate::event_view;
use crate::json_body::JsonBody;
use crate::state::AppState;

type Boxed<'a> = face_events::BoxedQuery<'a, Pg>;

/// The list's filters (shared with the live feed, which evaluates them in memory) and its order.
pub struct EventQuery {
    pub filters: EventListFilters,
    ascending: bool,
}

impl EventQuery {
    fn parse(pairs: &QueryPairs) -> Result<Self, ApiError> {
        let ascending = match p::single(pairs, "ordering") {
            None | Some("-id") | Some("-created_date") => false,
            Some("id") | Some("created_date") => true,
            Some(_) => {
                return Err(ApiError::bad_param("ordering", "ordering must be id, -id, created_date or -created_date"));
            }
        };
        Ok(Self { filters: EventListFilters::parse(pairs)?, ascending })
    }

    /// The SQL form of [`EventListFilters::matches`]: keep the two in step.
    pub fn filtered(&self) -> Boxed<'static> {
        let f = &self.filters;
        let mut q = face_events::table.into_boxed();
        if !f.cameras.is_empty() {
            q = q.filter(face_events::camera_id.eq_any(f.cameras.clone()));
        }
        if !f.camera_groups.is_empty() {
            q = q.filter(face_events::camera_group_id.eq_any(f.camera_groups.clone()));
        }
        // Only matched events have a dossier or watch lists, so asking for one implies `matched`,
        // which lets PostgreSQL use the small partial index of matched events.
        let matched = f.matched.or((!f.matched_dossier.is_empty() || !f.matched_lists.is_empty()).then_some(true));
        if let Some(m) = matched {
            q = q.filter(face_events::matched.eq(m));
        }
        if !f.matched_dossier.is_empty() {
            q = q.filter(face_events::matched_dossier_id.eq_any(f.matched_dossier.clone()));
        }
        if !f.matched_lists.is_empty() {
            q = q.filter(face_events::matched_lists.overlaps_with(f.matched_lists.clone()));
        }
        if let Some(a) = f.acknowledged {
            q = q.filter(face_events::acknowledged.eq(a));
        }
        // An event's id carries its creation millisecond (ingest mints it so), so a time bound is
        // also an id bound: with it the (camera_id, id), (camera_group_id, id) and the matched
        // indexes answer "these cameras in this period" by a range, instead of reading every
        // event of the period to keep the camera's. The exact time bound stays: ids only see
        // whole milliseconds.
        if let Some(d) = f.created_gte {
            q = q.filter(face_events::created_date.ge(d)).filter(face_events::id.ge(event_id_floor(d)));
        }
        if let Some(d) = f.created_lte {
            q = q.filter(face_events::created_date.le(d)).filter(face_events::id.le(event_id_ceiling(d)));
        }
        if let Some(id) = f.id_lt {
            q = q.filter(face_events::id.lt(id));
        }
        if let Some(id) = f.id_gt {
            q = q.filter(face_events::id.gt(id));
        }
        if let Some(c) = f.confidence_gte {
            q = q.filter(face_events::confidence.ge(c));
        }
        for (attribute, values) in &f.classes {
            // `attribute` comes from CLASS_FILTERS, never from the request; values are bound.
            let clause = format!("(features -> '{attribute}' ->> 'name') = ANY(");
            q = q.filter(sql::<Bool>(&clause).bind::<Array<Text>, _>(values.clone()).sql(")"));
        }
        // `age` is NULL for events without a numeric age, so they never pass an age filter.
        if let Some(age) = f.age_gte {
            q = q.filter(face_events::age.ge(age));
        }
        if let Some(age) = f.age_lte {
            q = q.filter(face_events::age.le(age));
        }
        q
    }
}

/// The query parameters of the event list and of `acknowledge` (for the OpenAPI document; the
/// handlers parse them with [`EventListFilters::parse`]). Every id filter takes one value or a
/// repeated key; values of one key are OR'ed, keys are AND'ed.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventListParams {
    pub cameras: Option<Vec<i64>>,
    /// An alias of `cameras`.
    pub camera: Option<Vec<i64>>,
    pub camera_groups: Option<Vec<i64>>,
    pub matched_dossier: Option<Vec<i64>>,
    pub matched_lists: Option<Vec<i64>>,
    pub matched: Option<bool>,
    pub no_match: Option<bool>,
    pub acknowledged: Option<bool>,
    /// RFC 3339 with an offset or `Z`.
    pub created_date_gte: Option<chrono::DateTime<Utc>>,
    pub created_date_lte: Option<chrono::DateTime<Utc>>,
    pub id_lt: Option<Uuid>,
    pub id_gt: Option<Uuid>,
    pub confidence_gte: Option<f64>,
    pub age_gte: Option<f64>,
    pub age_lte: Option<f64>,
    /// `-id` (default), `id`, `-created_date` or `created_date`.
    pub ordering: Option<String>,
    /// The last event id of the previous page.
    pub cursor: Option<Uuid>,
    /// 1..1000, default 20.
    pub limit: Option<i64>,
    /// `detection:<id>` or `dossierface:<id>`: only events whose face looks like it, most alike
    /// first, each with `looks_like: {matched_object, confidence}`; not paged (no `cursor`).
    pub looks_like: Option<String>,
    /// With `looks_like`: the lowest confidence, 0..1 (default CONFIDENCE_THRESHOLD).
    pub threshold: Option<f32>,
}

#[utoipa::path(get, path = "/events/faces/", tag = "events", params(EventListParams), responses((status = 200, description = "events, newest first by default", body = ListPage), (status = 400, description = "a bad parameter, named in param", body = ApiError)))]
pub async fn get_events(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Viewer)?;
    let pairs = p::query_pairs(&req)?;
    let limit = p::limit(&pairs)?;
    let query = EventQuery::parse(&pairs)?;
    if let Some(raw) = p::single(&pairs, "looks_like") {
        return super::event_search::get_looks_like(&state, &pairs, raw, query).await;
    }
    let cursor: Option<Uuid> = p::parse_one(&pairs, "cursor")?;
    let mut page = query.filtered();
    page = match (query.ascending, cursor) {
        (false, Some(c)) => page.filter(face_events::id.lt(c)).order(face_events::id.desc()),
        (false, None) => page.order(face_events::id.desc()),
        (true, Some(c)) => page.filter(face_events::id.gt(c)).order(face_events::id.asc()),
        (true, None) => page.order(face_events::id.asc()),
    };
    let mut conn = state.conn().await?;
    let estimate_above = state.config.event_list.count_estimate_above;
    // The count and the page come from one snapshot: an event stored between two separate
    // statements would otherwise be on the page but not in the count.
    let (count, mut rows) = conn
        .build_transaction()
        .read_only()
        .repeatable_read()
        .run::<_, diesel::result::Error, _>(async move |conn| {
            let count = count_events(conn, &query, estimate_above).await?;
            // One row more than asked tells whether a next page exists without a second query.
            let rows: Vec<FaceEventRow> = page.limit(limit + 1).select(FaceEventRow::as_select()).load(conn).await?;
            Ok((count, rows))
        })
        .await
        .map_err(ApiError::internal)?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = has_more
        .then(|| rows.last().map(|last| p::url_with(&state, &req, &pairs, "cursor", &last.id.to_string())))
        .flatten();
    let results: Vec<Value> = rows.iter().map(|e| event_view::from_row(&state, e)).collect();
    Ok(p::list(count, next, results))
}

/// The list's `count`: exact, except for an unfiltered list over more than `estimate_above` events,
/// which reports the planner's row estimate (kept by autovacuum's ANALYZE) instead of reading a
/// whole index on every page (~200 ms per million events). Filtered counts use the indexes.
async fn count_events(
    conn: &mut diesel_async::AsyncPgConnection,
    query: &EventQuery,
    estimate_above: i64,
) -> diesel::QueryResult<i64> {
    if estimate_above > 0 && query.filters.is_empty() {
        let estimate: Option<f32> =
            diesel::select(diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Float4>>(
                "(SELECT reltuples FROM pg_class WHERE oid = 'face_events'::regclass)",
            ))
            .get_result(conn)
            .await?;
        // -1 = never analysed.
        if let Some(rows) = estimate.map(|e| e as i64).filter(|&rows| rows > estimate_above) {
            return Ok(rows);
        }
    }
    query.filtered().count().get_result(conn).await
}

#[utoipa::path(get, path = "/events/faces/{id}/", tag = "events", params(("id" = Uuid, Path, description = "the event's id")), responses((status = 200, description = "the event", body = Object), (status = 404, description = "no such object", body = ApiError)))]
pub async fn get_event(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Viewer)?;
    let id: Uuid = id.parse().map_err(|_| ApiError::not_found("event"))?;
    let mut conn = state.conn().await?;
    let row: FaceEventRow = face_events::table
        .filter(face_events::id.eq(id))
        .select(FaceEventRow::as_select())
        .first(&mut conn)
        .await
        .optional()
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("event"))?;
    Ok(HttpResponse::Ok().json(event_view::from_row(&state, &row)))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
pub struct EventPatch {
    #[serde(default, deserialize_with = "domain::flex::bool_opt")]
    acknowledged: Option<bool>,
}

/// `PATCH /events/faces/{id}/ {"acknowledged": true}` records who acknowledged and when
/// (`false` clears both); every gateway replica then pushes `event_updated` to its clients.
#[utoipa::path(patch, path = "/events/faces/{id}/", tag = "events", params(("id" = Uuid, Path, description = "the event's id")), request_body = EventPatch, responses((status = 200, description = "the changed event", body = Object), (status = 400, description = "a bad parameter, named in param", body = ApiError), (status = 404, description = "no such object", body = ApiError)))]
pub async fn patch_event(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody<EventPatch>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Operator)?;
    let body = body.into_inner()?;
    let id: Uuid = id.parse().map_err(|_| ApiError::not_found("event"))?;
    let acknowledged =
        body.acknowledged.ok_or_else(|| ApiError::bad_param("acknowledged", "acknowledged is required"))?;
    let (date, by) = if acknowledged { (Some(Utc::now()), Some(user.id)) } else { (None, None) };
    let mut conn = state.conn().await?;
    let row: FaceEventRow = diesel::update(face_events::table.filter(face_events::id.eq(id)))
        .set((
            face_events::acknowledged.eq(acknowledged),
            face_events::acknowledged_date.eq(date),
            face_events::acknowledged_by_id.eq(by),
        ))
        .returning(FaceEventRow::as_returning())
        .get_result(&mut conn)
        .await
        .optional()
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("event"))?;
    drop(conn);
    let view = event_view::from_row(&state, &row);
    let message = EventUpdated { event: view.clone() };
    let exchange = state.bus.names().events_exchange();
    if let Err(e) = state.bus.publish(&exchange, ROUTE_EVENT_UPDATED, &message, &Uuid::now_v7().to_string()).await {
        tracing::warn!(event.id = %id, error = %e, "cannot announce the update of event {id}: {e}");
    }
    Ok(HttpResponse::Ok().json(view))
}

/// `POST /events/faces/acknowledge/`: acknowledges every unacknowledged event, or those the query
/// string's filters select (same filters as the list).
#[utoipa::path(post, path = "/events/faces/acknowledge/", tag = "events", params(EventListParams), responses((status = 200, description = "`{acknowledged: n}`", body = Object), (status = 400, description = "a bad parameter, named in param", body = ApiError)))]
pub async fn post_acknowledge_events(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Operator)?;
    let pairs = p::query_pairs(&req)?;
    let query = EventQuery::parse(&pairs)?;
    let now = Utc::now();
    let ids = query.filtered().filter(face_events::acknowledged.eq(false)).select(face_events::id);
    let mut conn = state.conn().await?;
    let count = diesel::update(face_events::table.filter(face_events::id.eq_any(ids)))
        .set((
            face_events::acknowledged.eq(true),
            face_events::acknowledged_date.eq(Some(now)),
            face_events::acknowledged_by_id.eq(Some(user.id)),
        ))
        .execute(&mut conn)
        .await
        .map_err(ApiError::internal)?;
    drop(conn);
    let message = EventsAcknowledged { acknowledged_by: user.id, acknowledged_date: now, count };
    let exchange = state.bus.names().events_exchange();
    if let Err(e) = state.bus.publish(&exchange, ROUTE_EVENTS_ACKNOWLEDGED, &message, &Uuid::now_v7().to_string()).await
    {
        tracing::warn!(error = %e, "cannot announce {count} acknowledged events: {e}");
    }
    tracing::info!(user.id = user.id, count, "user {} acknowledged {count} events", user.id);
    Ok(HttpResponse::Ok().json(serde_json::json!({"acknowledged": count})))
}
