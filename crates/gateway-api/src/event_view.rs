//! The REST/WebSocket shape of an event (wire doc §3): ids for related objects, absolute media URLs.

use domain::event::{FaceEvent, json_f32};
use domain::models::FaceEventRow;
use serde_json::{Value, json};

use crate::state::AppState;

pub fn from_row(state: &AppState, e: &FaceEventRow) -> Value {
    json!({
        "id": e.id, "created_date": e.created_date, "bs_type": e.bs_type,
        "camera": e.camera_id, "camera_group": e.camera_group_id,
        "thumbnail": state.media_url(&e.thumbnail), "fullframe": state.media_url(&e.fullframe),
        "matched": e.matched, "matched_dossier": e.matched_dossier_id, "matched_face": e.matched_face_id,
        "matched_lists": e.matched_lists, "confidence": json_f32(e.confidence), "quality": json_f32(e.quality),
        "frame_coords_left": e.frame_coords_left, "frame_coords_top": e.frame_coords_top,
        "frame_coords_right": e.frame_coords_right, "frame_coords_bottom": e.frame_coords_bottom,
        "detector_params": e.detector_params, "features": e.features,
        "acknowledged": e.acknowledged, "acknowledged_date": e.acknowledged_date,
        "acknowledged_by": e.acknowledged_by_id,
    })
}

pub fn from_event(state: &AppState, event: &FaceEvent) -> Value {
    from_row(state, &FaceEventRow::from_event(event))
}
