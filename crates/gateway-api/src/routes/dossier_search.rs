//! `GET /dossiers/?looks_like=detection:<id>|dossierface:<id>&threshold=&limit=&dossier_lists=`:
//! the dossiers whose faces look like a given face, most alike first, each with
//! `looks_like: {matched_object, confidence}` (its best face).
//!
//! The search is exhaustive over the active dossier faces, in this request: exact, and the
//! comparison itself is cheap (128 multiply-adds a face); reading every vector from PostgreSQL is
//! the cost (docs/benchmarks.md). Events, where millions of vectors make that too slow, have an
//! in-memory index instead (`event_index.rs`).

use std::collections::HashMap;

use actix_web::HttpResponse;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::ApiError;
use domain::models::Dossier;
use domain::schema::{dossier_faces, dossier_list_members, dossiers};
use futures_util::FutureExt;
use serde_json::{Value, json};

use super::face_refs::{self, LooksLike};
use super::pagination::{self as p, QueryPairs};
use crate::state::AppState;

/// Answers the list for a request that has `looks_like`: one page of at most `limit` dossiers
/// (`next_page` is null: a similarity ranking is asked for its top, not paged through).
pub async fn get_looks_like(state: &AppState, pairs: &QueryPairs, raw: &str) -> Result<HttpResponse, ApiError> {
    let LooksLike { face, threshold, limit } =
        LooksLike::parse(pairs, raw, state.config.ffsecurity.confidence_threshold)?;
    let lists: Vec<i64> = p::parse_many(pairs, "dossier_lists")?;
    let mut conn = state.conn().await?;
    let probe = face_refs::vector(&mut conn, "looks_like", face).await?;
    drop(conn);
    // The faces, their dossiers and their watch lists from one snapshot, so `count` is the number of
    // dossiers shown whenever they fit in `limit`.
    let (count, ranked, rows, members) = p::snapshot(state, move |conn| {
        async move {
            let mut query = dossier_faces::table.filter(dossier_faces::active.eq(true)).into_boxed();
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
