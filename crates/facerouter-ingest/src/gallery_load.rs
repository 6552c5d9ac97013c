//! Reading the gallery from PostgreSQL: everything (paged, at start and on reconnect) or just what
//! one notice names (a camera list, one face, one dossier's faces).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::db::DbPool;
use domain::event::IdName;
use domain::schema::{camera_groups, cameras, dossier_faces, dossier_list_members, dossier_lists, dossiers};

use crate::face_index::{FaceMeta, ListEntry};
use crate::gallery::{CameraEntry, FaceRecord, GalleryData, IndexSettings};

type Lists = HashMap<i64, Arc<[ListEntry]>>;
type FaceRow = (i64, String, Vec<f32>, i64, String);
/// id, name, active, threshold, url, roi, external detector token, group id, group name.
type CameraRow = (i64, String, bool, Option<f32>, String, String, String, i64, String);

pub async fn cameras(conn: &mut AsyncPgConnection) -> QueryResult<HashMap<i64, CameraEntry>> {
    let rows: Vec<CameraRow> = cameras::table
        .inner_join(camera_groups::table)
        .select((
            cameras::id,
            cameras::name,
            cameras::active,
            cameras::confidence_threshold,
            cameras::url,
            cameras::roi,
            cameras::external_detector_token,
            camera_groups::id,
            camera_groups::name,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, active, confidence_threshold, url, roi, external_detector_token, gid, gname)| {
            let group = IdName { id: gid, name: gname };
            (id, CameraEntry { id, name, active, group, confidence_threshold, url, roi, external_detector_token })
        })
        .collect())
}

/// Active lists per dossier, for `only` those dossiers or for all of them.
async fn lists(conn: &mut AsyncPgConnection, only: Option<i64>) -> QueryResult<Lists> {
    let mut query = dossier_list_members::table
        .inner_join(dossier_lists::table)
        .filter(dossier_lists::active.eq(true))
        .select((
            dossier_list_members::dossier_id,
            dossier_lists::id,
            dossier_lists::name,
            dossier_lists::confidence_threshold,
        ))
        .order((dossier_list_members::dossier_id, dossier_lists::id))
        .into_boxed();
    if let Some(dossier) = only {
        query = query.filter(dossier_list_members::dossier_id.eq(dossier));
    }
    let rows: Vec<(i64, i64, String, Option<f32>)> = query.load(conn).await?;
    let mut grouped: HashMap<i64, Vec<ListEntry>> = HashMap::new();
    for (dossier, id, name, threshold) in rows {
        grouped.entry(dossier).or_default().push(ListEntry { id, name, threshold });
    }
    // Dossiers on the same lists share one copy of them (usually a handful for the whole gallery).
    let mut shared: HashMap<Vec<i64>, Arc<[ListEntry]>> = HashMap::new();
    Ok(grouped
        .into_iter()
        .map(|(dossier, lists)| {
            let key = lists.iter().map(|l| l.id).collect();
            (dossier, shared.entry(key).or_insert_with(|| Arc::from(lists)).clone())
        })
        .collect())
}

/// Active faces of active dossiers after `after_id`, optionally only one face or one dossier's.
async fn face_rows(
    conn: &mut AsyncPgConnection,
    after_id: i64,
    limit: i64,
    face: Option<i64>,
    dossier: Option<i64>,
) -> QueryResult<Vec<FaceRow>> {
    let mut query = dossier_faces::table
        .inner_join(dossiers::table)
        .filter(dossier_faces::active.eq(true))
        .filter(dossiers::active.eq(true))
        .filter(dossier_faces::id.gt(after_id))
        .select((dossier_faces::id, dossier_faces::thumbnail, dossier_faces::embedding, dossiers::id, dossiers::name))
        .order(dossier_faces::id)
        .limit(limit)
        .into_boxed();
    if let Some(face) = face {
        query = query.filter(dossier_faces::id.eq(face));
    }
    if let Some(dossier) = dossier {
        query = query.filter(dossier_faces::dossier_id.eq(dossier));
    }
    query.load(conn).await
}

/// A dossier is watched only through an active list: a face whose dossier has none never matches.
fn records(rows: Vec<FaceRow>, lists: &Lists) -> Vec<FaceRecord> {
    rows.into_iter()
        .filter_map(|(face_id, photo, vector, dossier_id, dossier_name)| {
            let lists = lists.get(&dossier_id)?.clone();
            let meta = FaceMeta { face_id, dossier: IdName { id: dossier_id, name: dossier_name }, lists, photo };
            Some(FaceRecord { meta, vector })
        })
        .collect()
}

/// Everything, faces in pages of `page_size` with progress in the log.
pub async fn everything(pool: &DbPool, page_size: i64, index: IndexSettings) -> anyhow::Result<GalleryData> {
    let started = Instant::now();
    let mut conn = pool.get().await?;
    let mut data = GalleryData::new(index);
    data.cameras = cameras(&mut conn).await?;
    let lists = lists(&mut conn, None).await?;
    let mut after = 0;
    loop {
        let rows = face_rows(&mut conn, after, page_size, None, None).await?;
        let Some(last) = rows.last().map(|r| r.0) else { break };
        let full_page = rows.len() as i64 == page_size;
        after = last;
        for face in records(rows, &lists) {
            data.upsert_face(face);
        }
        let loaded = data.face_count();
        tracing::info!(
            gallery.faces = loaded,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "gallery loading: {loaded} faces so far"
        );
        if !full_page {
            break;
        }
    }
    data.shrink_to_fit();
    Ok(data)
}

/// One face as it is now: `None` when it is gone, inactive or unwatched.
pub async fn face(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<FaceRecord>> {
    let rows = face_rows(conn, 0, 1, Some(id), None).await?;
    let Some(dossier) = <[FaceRow]>::first(&rows).map(|r| r.3) else { return Ok(None) };
    let lists = lists(conn, Some(dossier)).await?;
    Ok(records(rows, &lists).pop())
}

/// Every watched face of one dossier as it is now.
pub async fn dossier(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Vec<FaceRecord>> {
    let rows = face_rows(conn, 0, i64::MAX, None, Some(id)).await?;
    let lists = lists(conn, Some(id)).await?;
    Ok(records(rows, &lists))
}
