//! `GET /events/faces/` (filters OR'ed within a key and AND'ed across keys, newest first, cursor
//! paging by id) and `GET /events/faces/{id}/`. Event ids are UUIDv7, so id order is time order and
//! a cursor stays stable while new events arrive.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::ApiError;
use domain::models::FaceEventRow;
use domain::schema::face_events;
use serde_json::Value;
use uuid::Uuid;

use super::pagination::{self as p, QueryPairs};
use crate::auth::{AuthUser, Role};
use crate::event_view;
use crate::state::AppState;

type Boxed<'a> = face_events::BoxedQuery<'a, Pg>;

struct EventQuery {
    cameras: Vec<i64>,
    camera_groups: Vec<i64>,
    matched: Option<bool>,
    matched_dossier: Vec<i64>,
    matched_lists: Vec<i64>,
    acknowledged: Option<bool>,
    created_gte: Option<DateTime<Utc>>,
    created_lte: Option<DateTime<Utc>>,
    id_lt: Option<Uuid>,
    id_gt: Option<Uuid>,
    confidence_gte: Option<f32>,
    ascending: bool,
}

fn parse_date(pairs: &QueryPairs, key: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    p::single(pairs, key)
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|_| ApiError::bad_param(key, format!("{key} must be an RFC 3339 date-time")))
        })
        .transpose()
}

impl EventQuery {
    fn parse(pairs: &QueryPairs) -> Result<Self, ApiError> {
        let mut cameras: Vec<i64> = p::parse_many(pairs, "cameras")?;
        cameras.extend(p::parse_many::<i64>(pairs, "camera")?);
        let no_match = p::parse_bool(pairs, "no_match")?;
        let matched = match (p::parse_bool(pairs, "matched")?, no_match) {
            (Some(m), _) => Some(m),
            (None, Some(no)) => Some(!no),
            (None, None) => None,
        };
        let ascending = match p::single(pairs, "ordering") {
            None | Some("-id") | Some("-created_date") => false,
            Some("id") | Some("created_date") => true,
            Some(_) => {
                return Err(ApiError::bad_param("ordering", "ordering must be id, -id, created_date or -created_date"));
            }
        };
        Ok(Self {
            cameras,
            camera_groups: p::parse_many(pairs, "camera_groups")?,
            matched,
            matched_dossier: p::parse_many(pairs, "matched_dossier")?,
            matched_lists: p::parse_many(pairs, "matched_lists")?,
            acknowledged: p::parse_bool(pairs, "acknowledged")?,
            created_gte: parse_date(pairs, "created_date_gte")?,
            created_lte: parse_date(pairs, "created_date_lte")?,
            id_lt: p::parse_one(pairs, "id_lt")?,
            id_gt: p::parse_one(pairs, "id_gt")?,
            confidence_gte: p::parse_one(pairs, "confidence_gte")?,
            ascending,
        })
    }

    fn filtered(&self) -> Boxed<'static> {
        let mut q = face_events::table.into_boxed();
        if !self.cameras.is_empty() {
            q = q.filter(face_events::camera_id.eq_any(self.cameras.clone()));
        }
        if !self.camera_groups.is_empty() {
            q = q.filter(face_events::camera_group_id.eq_any(self.camera_groups.clone()));
        }
        if let Some(m) = self.matched {
            q = q.filter(face_events::matched.eq(m));
        }
        if !self.matched_dossier.is_empty() {
            q = q.filter(face_events::matched_dossier_id.eq_any(self.matched_dossier.clone()));
        }
        if !self.matched_lists.is_empty() {
            q = q.filter(face_events::matched_lists.overlaps_with(self.matched_lists.clone()));
        }
        if let Some(a) = self.acknowledged {
            q = q.filter(face_events::acknowledged.eq(a));
        }
        if let Some(d) = self.created_gte {
            q = q.filter(face_events::created_date.ge(d));
        }
        if let Some(d) = self.created_lte {
            q = q.filter(face_events::created_date.le(d));
        }
        if let Some(id) = self.id_lt {
            q = q.filter(face_events::id.lt(id));
        }
        if let Some(id) = self.id_gt {
            q = q.filter(face_events::id.gt(id));
        }
        if let Some(c) = self.confidence_gte {
            q = q.filter(face_events::confidence.ge(c));
        }
        q
    }
}

pub async fn get_events(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Viewer)?;
    let pairs = p::query_pairs(&req)?;
    let limit = p::limit(&pairs)?;
    let query = EventQuery::parse(&pairs)?;
    let cursor: Option<Uuid> = p::parse_one(&pairs, "cursor")?;
    let mut page = query.filtered();
    page = match (query.ascending, cursor) {
        (false, Some(c)) => page.filter(face_events::id.lt(c)).order(face_events::id.desc()),
        (false, None) => page.order(face_events::id.desc()),
        (true, Some(c)) => page.filter(face_events::id.gt(c)).order(face_events::id.asc()),
        (true, None) => page.order(face_events::id.asc()),
    };
    let mut conn = state.conn().await?;
    let count: i64 = query.filtered().count().get_result(&mut conn).await.map_err(ApiError::internal)?;
    // One row more than asked tells whether a next page exists without a second query.
    let mut rows: Vec<FaceEventRow> =
        page.limit(limit + 1).select(FaceEventRow::as_select()).load(&mut conn).await.map_err(ApiError::internal)?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = has_more
        .then(|| rows.last().map(|last| p::url_with(&state, &req, &pairs, "cursor", &last.id.to_string())))
        .flatten();
    let results: Vec<Value> = rows.iter().map(|e| event_view::from_row(&state, e)).collect();
    Ok(p::list(count, next, results))
}

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
