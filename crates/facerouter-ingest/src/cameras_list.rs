//! `GET /video-detector/cameras/`: the camera list legacy detectors poll (wire doc §1), from the
//! in-memory cache, with the same worker token as frames.

use actix_web::{HttpRequest, HttpResponse, web};
use domain::ApiError;
use serde::Serialize;

use crate::state::AppState;
use crate::worker_auth::authorize_worker;

#[derive(Serialize)]
struct CameraView<'a> {
    id: i64,
    name: &'a str,
    /// The stream the detector should open.
    url: &'a str,
    roi: &'a str,
    /// Legacy detectors read `enabled`, newer clients `active`: the same flag.
    enabled: bool,
    active: bool,
    group: i64,
}

pub async fn get_cameras(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    authorize_worker(&req, &state.config.ffsecurity.video_detector_token)?;
    if !state.gallery_ready() {
        return Err(ApiError::unavailable("camera list still loading; retry shortly"));
    }
    let data = state.gallery.read();
    let mut cameras: Vec<CameraView<'_>> = data
        .cameras
        .values()
        .map(|c| CameraView {
            id: c.id,
            name: &c.name,
            url: &c.url,
            roi: &c.roi,
            enabled: c.active,
            active: c.active,
            group: c.group.id,
        })
        .collect();
    cameras.sort_by_key(|c| c.id);
    Ok(HttpResponse::Ok().json(cameras))
}
