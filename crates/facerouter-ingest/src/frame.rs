//! `POST /video-detector/frame[/]`: one face from a video worker (wire doc §1), answered 2xx only
//! once the event is on the broker (publisher confirm), so a 2xx face is never lost.

use std::time::Instant;

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::Utc;
use domain::ApiError;

use crate::accept::{Accepted, FaceInput, Failure, accept_face};
use crate::frame_form::{self as form, RawForm};
use crate::state::AppState;
use crate::worker_auth::authorize_worker;

pub async fn post_frame(req: HttpRequest, state: web::Data<AppState>, multipart: Multipart) -> HttpResponse {
    let started = Instant::now();
    let outcome = accept_frame(&req, &state, multipart, started).await;
    state.count(started, outcome.as_ref().map(Accepted::reason));
    match outcome {
        Ok(accepted) => HttpResponse::Ok().json(accepted),
        Err(failure) => failure.error.error_response(),
    }
}

async fn accept_frame(
    req: &HttpRequest,
    state: &AppState,
    multipart: Multipart,
    started: Instant,
) -> Result<Accepted, Failure> {
    let _slot = state.in_flight.enter().map_err(|e| Failure::new(e, "overloaded"))?;
    authorize_worker(req, &state.config.ffsecurity.video_detector_token).map_err(|e| Failure::new(e, "token"))?;
    // Refuse before reading a big body when we could not accept it durably anyway.
    state.ready()?;
    let raw = form::read_form(multipart, state.config.facerouter.max_image_bytes).await?;
    let input = frame_input(state, raw)?;
    let timer = state.metrics.stage("parse", started);
    accept_face(state, input, timer).await
}

/// Validates the worker's form against the camera cache.
fn frame_input(state: &AppState, raw: RawForm) -> Result<FaceInput, ApiError> {
    let max_pixels = state.config.facerouter.max_image_pixels;
    let camera_id = form::parse_cam_id(raw.cam_id.as_deref())?;
    let camera = state.gallery.camera(camera_id).ok_or_else(|| ApiError::bad_param("cam_id", "unknown camera"))?;
    if !camera.active {
        return Err(ApiError::bad_param("cam_id", "camera is inactive"));
    }
    Ok(FaceInput {
        bbox: form::parse_bbox(raw.bbox.as_deref())?,
        created_date: form::parse_timestamp(raw.timestamp.as_deref(), Utc::now())?,
        detector_params: form::parse_detector_params(raw.detector_params.as_deref())?,
        bs_type: form::parse_bs_type(raw.bs_type.as_deref())?,
        crop: form::require_image("normalized", raw.normalized, max_pixels)?,
        frame: form::optional_image("photo", raw.photo, max_pixels)?,
        crop_is_frame: false,
        vector: form::parse_facen(raw.facen.as_ref())?,
        features: form::parse_attributes(raw.attributes.as_deref(), &state.config.ffsecurity)?,
        quality: None,
        camera,
    })
}
