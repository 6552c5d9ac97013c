//! `GET /events/faces/?looks_like=detection:<id>|dossierface:<id>&threshold=&limit=` plus any of
//! the list's filters: "where was this person seen?". The past events whose face looks like the
//! given one, most alike first, each with `looks_like: {matched_object, confidence}`.
//!
//! Three steps: the in-memory index (`event_index.rs`) nominates every kept event whose 8-bit
//! score is within its error bound of `threshold` (narrowed by date and `matched` on the way, at
//! most EVENT_SEARCH.MAX_CANDIDATES, best first); PostgreSQL keeps those that pass the request's
//! filters and gives their f32 vectors; the exact scores decide, rank and cut at `limit`. The
//! filters and the page read one snapshot, like the plain list.

use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::ApiError;
use domain::event::json_f32;
use domain::models::FaceEventRow;
use domain::schema::{event_vectors, face_events};
use serde_json::{Value, json};
use uuid::Uuid;

use super::events::EventQuery;
use super::face_refs::{self, LooksLike};
use super::pagination::{self as p, QueryPairs};
use crate::event_index::{MARGIN, Narrowing};
use crate::event_view;
use crate::state::AppState;

/// Answers the event list for a request that has `looks_like`: one page of at most `limit`
/// events (`next_page` is null: a ranking is asked for its top, not paged through). `count` is
/// how many events pass, up to EVENT_SEARCH.MAX_CANDIDATES.
pub async fn get_looks_like(
    state: &web::Data<AppState>,
    pairs: &QueryPairs,
    raw: &str,
    query: EventQuery,
) -> Result<HttpResponse, ApiError> {
    let search = state.event_search.clone().ok_or_else(|| {
        ApiError::bad_param("looks_like", "event search is off on this server (EVENT_SEARCH.KEEP_VECTORS = \"none\")")
    })?;
    let LooksLike { face, threshold, limit } =
        LooksLike::parse(pairs, raw, state.config.ffsecurity.confidence_threshold)?;
    if p::single(pairs, "cursor").is_some() {
        return Err(ApiError::bad_param("cursor", "a looks_like search is ranked by similarity, not paged: use limit"));
    }
    if !search.index.is_ready() {
        return Err(
            ApiError::unavailable("the event search index is still loading; retry shortly").with_param("looks_like")
        );
    }
    let mut conn = state.conn().await?;
    let probe = face_refs::vector(&mut conn, "looks_like", face).await?;
    let probe = domain::vector::normalise(probe)
        .ok_or_else(|| ApiError::bad_param("looks_like", "the face's vector is all zeros"))?;

    let filters = &query.filters;
    let narrowing =
        Narrowing { created_gte: filters.created_gte, created_lte: filters.created_lte, matched: filters.matched };
    let max = state.config.event_search.max_candidates;
    // Confidence is clamped at 0, so a threshold of 0 takes every face, however unlike.
    let floor = if threshold <= 0.0 { f32::NEG_INFINITY } else { threshold - MARGIN };
    let scan_probe = probe.clone();
    let (candidates, _more) = web::block(move || search.index.search(&scan_probe, floor, narrowing, max))
        .await
        .map_err(ApiError::internal)?;
    let ids: Vec<Uuid> = candidates.iter().map(|c| c.id).collect();

    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let (count, ranked, rows) = conn
        .build_transaction()
        .read_only()
        .repeatable_read()
        .run::<_, diesel::result::Error, _>(async move |conn| {
            let passing: Vec<Uuid> = if ids.is_empty() {
                Vec::new()
            } else {
                query.filtered().filter(face_events::id.eq_any(&ids)).select(face_events::id).load(conn).await?
            };
            let vectors: Vec<(Uuid, Vec<f32>)> = if passing.is_empty() {
                Vec::new()
            } else {
                event_vectors::table
                    .filter(event_vectors::event_id.eq_any(&passing))
                    .select((event_vectors::event_id, event_vectors::embedding))
                    .load(conn)
                    .await?
            };
            let mut ranked: Vec<(Uuid, f32)> = vectors
                .iter()
                .map(|(id, vector)| (*id, face_refs::confidence(&probe, vector)))
                .filter(|(_, c)| *c >= threshold)
                .collect();
            // Ties newest first, so equal scores come in a stable order.
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
            let count = ranked.len() as i64;
            ranked.truncate(limit);
            let page: Vec<Uuid> = ranked.iter().map(|r| r.0).collect();
            let rows: Vec<FaceEventRow> = if page.is_empty() {
                Vec::new()
            } else {
                face_events::table
                    .filter(face_events::id.eq_any(&page))
                    .select(FaceEventRow::as_select())
                    .load(conn)
                    .await?
            };
            Ok((count, ranked, rows))
        })
        .await
        .map_err(ApiError::internal)?;
    let results: Vec<Value> = ranked
        .iter()
        .filter_map(|(id, confidence)| {
            let row = rows.iter().find(|r| r.id == *id)?;
            let mut item = event_view::from_row(state, row);
            item["looks_like"] = json!({"matched_object": id.to_string(), "confidence": json_f32(*confidence)});
            Some(item)
        })
        .collect();
    Ok(p::list(count, None, results))
}
