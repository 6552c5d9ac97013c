//! Stored events back into their bus form ([`FaceEvent`], with the names of what they refer to),
//! for webhook resends and replays. Names are read as they are now; an object deleted since
//! leaves an empty name.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::db::DbConn;
use domain::event::{BBox, BsType, FaceEvent, IdName};
use domain::models::FaceEventRow;
use domain::schema::{camera_groups, cameras, dossier_faces, dossier_lists, dossiers};

fn unique(ids: impl Iterator<Item = i64>) -> Vec<i64> {
    ids.collect::<HashSet<_>>().into_iter().collect()
}

pub async fn to_events(conn: &mut DbConn, rows: Vec<FaceEventRow>) -> QueryResult<Vec<FaceEvent>> {
    let camera_ids = unique(rows.iter().map(|r| r.camera_id));
    let group_ids = unique(rows.iter().map(|r| r.camera_group_id));
    let dossier_ids = unique(rows.iter().filter_map(|r| r.matched_dossier_id));
    let list_ids = unique(rows.iter().flat_map(|r| r.matched_lists.iter().copied()));
    let face_ids = unique(rows.iter().filter_map(|r| r.matched_face_id));
    let cameras: HashMap<i64, String> = cameras::table
        .filter(cameras::id.eq_any(camera_ids))
        .select((cameras::id, cameras::name))
        .load::<(i64, String)>(conn)
        .await?
        .into_iter()
        .collect();
    let groups: HashMap<i64, String> = camera_groups::table
        .filter(camera_groups::id.eq_any(group_ids))
        .select((camera_groups::id, camera_groups::name))
        .load::<(i64, String)>(conn)
        .await?
        .into_iter()
        .collect();
    let dossiers: HashMap<i64, String> = dossiers::table
        .filter(dossiers::id.eq_any(dossier_ids))
        .select((dossiers::id, dossiers::name))
        .load::<(i64, String)>(conn)
        .await?
        .into_iter()
        .collect();
    let lists: HashMap<i64, String> = dossier_lists::table
        .filter(dossier_lists::id.eq_any(list_ids))
        .select((dossier_lists::id, dossier_lists::name))
        .load::<(i64, String)>(conn)
        .await?
        .into_iter()
        .collect();
    let photos: HashMap<i64, String> = dossier_faces::table
        .filter(dossier_faces::id.eq_any(face_ids))
        .select((dossier_faces::id, dossier_faces::thumbnail))
        .load::<(i64, String)>(conn)
        .await?
        .into_iter()
        .collect();
    let named = |map: &HashMap<i64, String>, id: i64| IdName { id, name: map.get(&id).cloned().unwrap_or_default() };
    Ok(rows
        .into_iter()
        .map(|r| FaceEvent {
            id: r.id,
            created_date: r.created_date,
            camera: named(&cameras, r.camera_id),
            camera_group: named(&groups, r.camera_group_id),
            bs_type: BsType::parse(&r.bs_type).unwrap_or_default(),
            thumbnail: r.thumbnail,
            fullframe: r.fullframe,
            matched: r.matched,
            matched_dossier: r.matched_dossier_id.map(|id| named(&dossiers, id)),
            matched_face: r.matched_face_id,
            matched_face_photo: r.matched_face_id.and_then(|id| photos.get(&id).cloned()).unwrap_or_default(),
            matched_lists: r.matched_lists.iter().map(|id| named(&lists, *id)).collect(),
            confidence: r.confidence,
            quality: r.quality,
            frame_coords: BBox {
                left: r.frame_coords_left,
                top: r.frame_coords_top,
                right: r.frame_coords_right,
                bottom: r.frame_coords_bottom,
            },
            detector_params: r.detector_params,
            features: serde_json::from_value(r.features).unwrap_or_default(),
            facen: None,
        })
        .collect())
}
