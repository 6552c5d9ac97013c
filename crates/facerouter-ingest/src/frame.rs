//! `POST /video-detector/frame[/]`: one face from a video worker, answered 2xx only once the event
//! is on the broker (publisher confirm), so a 2xx face is never lost.

use std::time::Instant;

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::ApiError;
use domain::bus::PublishError;
use domain::bus::topology::ROUTE_FACE_DETECTED;
use domain::event::{FaceEvent, IdName};
use domain::image::ImageKind;
use domain::messages::FaceDetected;
use serde::Serialize;
use uuid::Uuid;

use crate::frame_form::{self as form, RawForm};
use crate::state::AppState;
use crate::worker_auth::authorize_worker;

#[derive(Serialize)]
struct Accepted {
    /// Null when IGNORE_UNMATCHED dropped an unmatched face.
    event_id: Option<Uuid>,
    matched: bool,
    matched_dossier: Option<i64>,
    confidence: f32,
}

pub async fn post_frame(
    req: HttpRequest,
    state: web::Data<AppState>,
    multipart: Multipart,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let outcome = accept_frame(&req, &state, multipart).await;
    let label = match &outcome {
        Ok(body) if body.event_id.is_none() => "ignored",
        Ok(_) => "accepted",
        Err(e) => match e.code {
            domain::ErrorCode::Unauthorized => "rejected_auth",
            domain::ErrorCode::ServiceUnavailable => "unavailable",
            domain::ErrorCode::Internal => "error",
            _ => "rejected_input",
        },
    };
    state.metrics.frames.with_label_values(&[label]).inc();
    let body = outcome?;
    state.metrics.accept_seconds.observe(started.elapsed().as_secs_f64());
    Ok(HttpResponse::Ok().json(body))
}

async fn accept_frame(req: &HttpRequest, state: &AppState, multipart: Multipart) -> Result<Accepted, ApiError> {
    authorize_worker(req, &state.config.ffsecurity.video_detector_token)?;
    // Refuse before reading a big body when we could not accept it durably anyway.
    if !state.bus.is_up() || !state.gallery_ready() {
        return Err(ApiError::unavailable("cannot accept faces durably right now; retry shortly"));
    }
    let raw = form::read_form(multipart, state.config.ingest.max_body_bytes).await?;
    let event = build_event(state, raw, Utc::now()).await?;
    let Some(event) = event else {
        return Ok(Accepted { event_id: None, matched: false, matched_dossier: None, confidence: 0.0 });
    };
    let names = state.bus.names();
    let id = event.id.to_string();
    let accepted = Accepted {
        event_id: Some(event.id),
        matched: event.matched,
        matched_dossier: event.matched_dossier.as_ref().map(|d| d.id),
        confidence: event.confidence,
    };
    match state.bus.publish(&names.faces_exchange(), ROUTE_FACE_DETECTED, &FaceDetected(event), &id).await {
        Ok(()) => {
            tracing::debug!(event.id = %id, "accepted face event {id}");
            Ok(accepted)
        }
        Err(PublishError::Encode(e)) => Err(ApiError::internal(e)),
        Err(e) => {
            // Outcome unknown: the worker retries and the recorder's idempotent insert absorbs a duplicate.
            tracing::warn!(event.id = %id, error = %e, "face {id} not confirmed by the broker: {e}");
            Err(ApiError::unavailable("message bus did not confirm the event; retry shortly"))
        }
    }
}

/// Validates the form, matches the face and stores its images. `None` when IGNORE_UNMATCHED drops it.
async fn build_event(state: &AppState, raw: RawForm, now: DateTime<Utc>) -> Result<Option<FaceEvent>, ApiError> {
    let settings = &state.config.ffsecurity;
    let camera_id = form::parse_cam_id(raw.cam_id.as_deref())?;
    let gallery = state.gallery.snapshot();
    let camera = gallery.cameras.get(&camera_id).ok_or_else(|| ApiError::bad_param("cam_id", "unknown camera"))?;
    if !camera.active {
        return Err(ApiError::bad_param("cam_id", "camera is inactive"));
    }
    let bbox = form::parse_bbox(raw.bbox.as_deref())?;
    let created_date = form::parse_timestamp(raw.timestamp.as_deref(), now)?;
    let detector_params = form::parse_detector_params(raw.detector_params.as_deref())?;
    let bs_type = form::parse_bs_type(raw.bs_type.as_deref())?;
    let (face, face_kind) = form::require_image("normalized", raw.normalized)?;
    let photo = form::optional_image("photo", raw.photo)?;
    let vector = form::parse_facen(raw.facen.as_ref())?;
    let features = form::parse_attributes(raw.attributes.as_deref(), settings)?;

    let threshold = camera.confidence_threshold.unwrap_or(settings.confidence_threshold);
    let best = vector.as_deref().and_then(|v| gallery.best_match(v, threshold));
    if best.is_none() && settings.ignore_unmatched {
        return Ok(None);
    }
    let id = Uuid::now_v7();
    let thumbnail = store(state, &id, created_date, "face", face, face_kind).await?;
    let fullframe = match photo {
        Some((bytes, kind)) => store(state, &id, created_date, "frame", bytes, kind).await?,
        None => String::new(),
    };
    let quality = detector_params.get("score").and_then(serde_json::Value::as_f64).unwrap_or(0.0) as f32;
    Ok(Some(FaceEvent {
        id,
        created_date,
        camera: IdName { id: camera.id, name: camera.name.clone() },
        camera_group: camera.group.clone(),
        bs_type,
        thumbnail,
        fullframe,
        matched: best.is_some(),
        matched_dossier: best.as_ref().map(|m| m.face.dossier.clone()),
        matched_face: best.as_ref().map(|m| m.face.face_id),
        matched_face_photo: best.as_ref().map(|m| m.face.photo.clone()).unwrap_or_default(),
        matched_lists: best.as_ref().map(|m| m.face.lists.to_vec()).unwrap_or_default(),
        confidence: best.as_ref().map_or(0.0, |m| m.confidence),
        quality,
        frame_coords: bbox,
        detector_params,
        features,
    }))
}

async fn store(
    state: &AppState,
    id: &Uuid,
    created: DateTime<Utc>,
    role: &str,
    bytes: bytes::Bytes,
    kind: ImageKind,
) -> Result<String, ApiError> {
    let path = format!("events/{}/{id}_{role}.{}", created.format("%Y/%m/%d"), kind.extension());
    state.media.put(path, bytes).await.map_err(|e| {
        tracing::error!(event.id = %id, error = %e, "cannot store media of event {id}: {e}");
        ApiError::unavailable("cannot store the image right now; retry shortly")
    })
}
