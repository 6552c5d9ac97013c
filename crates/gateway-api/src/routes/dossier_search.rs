//! `GET /dossiers/?looks_like=detection:<id>|dossierface:<id>&threshold=&limit=&dossier_lists=`:
//! the dossiers whose faces look like a given face, most alike first, each with
//! `looks_like: {matched_object, confidence}` (its best face).
//!
//! Two steps, as for events (`event_search.rs`): the replica's in-memory index of every dossier
//! face (`dossier_index.rs`) nominates the faces whose 8-bit score is within its error bound of
//! `threshold` (at most EVENT_SEARCH.MAX_CANDIDATES faces, best first); one snapshot keeps those
//! active and on the requested lists, with their f32 vectors, whose exact scores decide and rank.
//! Until the index's first load is done the snapshot reads every active face instead: the same
//! answer, at the cost of reading every vector from PostgreSQL (docs/benchmarks.md).

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::ApiError;
use domain::models::Dossier;
use domain::schema::{dossier_faces, dossier_list_members, dossiers};
use futures_util::FutureExt;
use serde_json::{Value, json};

use super::face_refs::{self, LooksLike};
use super::pagination::{self as p, QueryPairs};
use crate::scan_index::MARGIN;
use crate::state::AppState;

/// Answers the list for a request that has `looks_like`: one page of at most `limit` dossiers
/// (`next_page` is null: a similarity ranking is asked for its top, not paged through). `count` is
/// how many dossiers pass, among the best EVENT_SEARCH.MAX_CANDIDATES faces.
pub async fn get_looks_like(state: &AppState, pairs: &QueryPairs, raw: &str) -> Result<HttpResponse, ApiError> {
    let LooksLike { face, threshold, limit } =
        LooksLike::parse(pairs, raw, state.config.ffsecurity.confidence_threshold)?;
    let lists: Vec<i64> = p::parse_many(pairs, "dossier_lists")?;
    let mut conn = state.conn().await?;
    let probe = face_refs::vector(&mut conn, "looks_like", face).await?;
    drop(conn);
    let candidates = candidates(state, &probe, threshold).await?;
    // The faces, their dossiers and their watch lists from one snapshot, so `count` is the number of
    // dossiers shown whenever they fit in `limit`.
    let (count, ranked, rows, members) = p::snapshot(state, move |conn| {
        async move {
            let mut query = dossier_faces::table.filter(dossier_faces::active.eq(true)).into_boxed();
            if let Some(ids) = candidates {
                query = query.filter(dossier_faces::id.eq_any(ids));
            }
            if !lists.is_empty() {
                let members = dossier_list_members::table
                    .filter(dossier_list_members::list_id.eq_any(lists))
                    .select(dossier_list_members::dossier_id);
                query = query.filter(dossier_faces::dossier_id.eq_any(members));
            }
            let faces: Vec<(i64, i64, Vec<f32>)> = query
                .select((dossier_faces::id, dossier_faces::dossier_id, dossier_faces::embedding))
                .load(conn)
                .await?;
            let mut ranked = rank(&probe, &faces, threshold);
            let count = ranked.len() as i64;
            ranked.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            let ids: Vec<i64> = ranked.iter().map(|r| r.0).collect();
            let rows: Vec<Dossier> =
                dossiers::table.filter(dossiers::id.eq_any(&ids)).select(Dossier::as_select()).load(conn).await?;
            let members = super::dossiers::lists_of(conn, &ids).await?;
            Ok((count, ranked, rows, members))
        }
        .boxed()
    })
    .await?;
    let results: Vec<Value> = ranked
        .iter()
        .filter_map(|(dossier_id, face_id, c)| {
            // Every ranked dossier is in `rows` (same snapshot, and a face's dossier outlives it);
            // one missing would be left out rather than shown half.
            let d = rows.iter().find(|d| d.id == *dossier_id)?;
            let lists: Vec<i64> = members.iter().filter(|(id, _)| id == dossier_id).map(|(_, l)| *l).collect();
            let mut item = super::dossiers::view(d, &lists);
            item["looks_like"] = json!({"matched_object": face_id, "confidence": c});
            Some(item)
        })
        .collect();
    Ok(p::list(count, None, results))
}

/// The faces the index nominates, or `None` (every face) until it is loaded or for a probe without
/// a direction.
async fn candidates(state: &AppState, probe: &[f32], threshold: f32) -> Result<Option<Vec<i64>>, ApiError> {
    let search = state.dossier_search.clone();
    let Some(unit) = domain::vector::normalise(probe.to_vec()) else { return Ok(None) };
    if !search.index.is_ready() {
        return Ok(None);
    }
    let max = state.config.event_search.max_candidates;
    // Confidence is clamped at 0, so a threshold of 0 takes every face, however unlike.
    let floor = if threshold <= 0.0 { f32::NEG_INFINITY } else { threshold - MARGIN };
    let (found, _more) =
        web::block(move || search.index.search(&unit, floor, |_| true, max)).await.map_err(ApiError::internal)?;
    Ok(Some(found.iter().map(|c| c.id).collect()))
}

/// The dossiers whose best face is at least `threshold` alike to `probe`, most alike first:
/// `(dossier, face, confidence)`.
fn rank(probe: &[f32], faces: &[(i64, i64, Vec<f32>)], threshold: f32) -> Vec<(i64, i64, f32)> {
    // The best face of each dossier stands for it.
    let mut best: HashMap<i64, (i64, f32)> = HashMap::new();
    for (face_id, dossier_id, vector) in faces {
        let c = face_refs::confidence(probe, vector);
        if c < threshold {
            continue;
        }
        let entry = best.entry(*dossier_id).or_insert((*face_id, c));
        if c > entry.1 {
            *entry = (*face_id, c);
        }
    }
    let mut ranked: Vec<(i64, i64, f32)> = best.into_iter().map(|(d, (f, c))| (d, f, c)).collect();
    // Ties by id, so equal scores come in a stable order.
    ranked.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
    ranked
}
