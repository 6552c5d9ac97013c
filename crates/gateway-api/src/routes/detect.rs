//! `POST /detect/`: every face of an uploaded photo, each kept DETECTION_TTL seconds as
//! `detection:<id>` for verify and `create_from` (docs/api.md). Detections are rows in PostgreSQL,
//! not a per-process cache, so an id handed out by one gateway replica works on every other.

use actix_multipart::Multipart;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::recognizer::{RecognizeError, Select};
use domain::schema::{detection_photos, detections};
use domain::{ApiError, multipart};
use serde_json::{Value, json};

use crate::auth::{AuthUser, Role};
use crate::state::AppState;

/// The multipart form of `POST /detect/` (for the OpenAPI document).
#[derive(utoipa::ToSchema)]
pub struct DetectForm {
    /// A JPEG, PNG or WebP photo.
    #[schema(value_type = String, format = Binary)]
    pub photo: Vec<u8>,
}

#[utoipa::path(post, path = "/detect/", tag = "search", request_body(content = inline(DetectForm), content_type = "multipart/form-data"), responses((status = 200, description = "`{faces: [{id, bbox: {left, top, right, bottom}, detection_score}]}`, largest face first; name a face later as `detection:<id>`", body = Object), (status = 400, description = "BAD_PARAM without a photo, BAD_IMAGE, NO_FACE or FACE_TOO_SMALL", body = ApiError), (status = 413, description = "PAYLOAD_TOO_LARGE above SERVER.MAX_BODY_BYTES", body = ApiError), (status = 503, description = "the built-in recognizer is saturated (retry after Retry-After) or not configured", body = ApiError)))]
pub async fn post_detect(
    user: AuthUser,
    state: web::Data<AppState>,
    form: Multipart,
) -> Result<HttpResponse, ApiError> {
    detect(user, state, form).await
}

/// `POST /detect` without the slash, as some 2.x clients call it.
#[utoipa::path(post, path = "/detect", tag = "search", request_body(content = inline(DetectForm), content_type = "multipart/form-data"), responses((status = 200, description = "as `POST /detect/`", body = Object), (status = 400, description = "as `POST /detect/`", body = ApiError)))]
pub async fn post_detect_bare(
    user: AuthUser,
    state: web::Data<AppState>,
    form: Multipart,
) -> Result<HttpResponse, ApiError> {
    detect(user, state, form).await
}

async fn detect(user: AuthUser, state: web::Data<AppState>, form: Multipart) -> Result<HttpResponse, ApiError> {
    user.require(Role::Viewer)?;
    let mut parts = multipart::read_parts(form, &["photo"], state.config.server.max_body_bytes).await?;
    let photo = parts
        .remove("photo")
        .filter(|b| !b.is_empty())
        .ok_or_else(|| ApiError::bad_param("photo", "send the image as the multipart part photo"))?;
    // Checked after the form, so a malformed request is told so whatever the deployment.
    let pool = state.faces.clone().ok_or_else(|| {
        ApiError::unavailable("face detection needs FACEROUTER.RECOGNITION_BACKEND = \"builtin\"").with_param("photo")
    })?;
    let faces = pool.faces(photo.clone(), Select::All).await.map_err(|e| e.to_api("photo"))?;
    if faces.is_empty() {
        return Err(RecognizeError::NoFace.to_api("photo"));
    }
    let now = Utc::now();
    let expires_at = now + chrono::Duration::seconds(i64::from(state.config.ffsecurity.detection_ttl));
    let photo_id = uuid::Uuid::now_v7();
    let coord = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
    // Ids are made here, not read back from RETURNING, whose row order PostgreSQL does not promise.
    let ids: Vec<uuid::Uuid> = faces.iter().map(|_| uuid::Uuid::now_v7()).collect();
    let rows: Vec<_> = faces
        .iter()
        .zip(&ids)
        .map(|(f, id)| {
            (
                detections::id.eq(*id),
                detections::photo_id.eq(photo_id),
                detections::embedding.eq(f.vector.clone()),
                detections::detection_score.eq(f.detection.score),
                detections::quality.eq(f.quality.score),
                detections::bbox_left.eq(coord(f.bbox[0])),
                detections::bbox_top.eq(coord(f.bbox[1])),
                detections::bbox_right.eq(coord(f.bbox[2])),
                detections::bbox_bottom.eq(coord(f.bbox[3])),
            )
        })
        .collect();
    let mut conn = state.conn().await?;
    // The sweep rides on uploads: expired detections are never served (face_refs checks the
    // expiry), this only bounds the table, and the index makes it cheap when nothing expired.
    diesel::delete(detection_photos::table.filter(detection_photos::expires_at.le(now)))
        .execute(&mut conn)
        .await
        .map_err(ApiError::internal)?;
    diesel::insert_into(detection_photos::table)
        .values((
            detection_photos::id.eq(photo_id),
            detection_photos::photo.eq(photo.to_vec()),
            detection_photos::expires_at.eq(expires_at),
        ))
        .execute(&mut conn)
        .await
        .map_err(ApiError::internal)?;
    diesel::insert_into(detections::table).values(rows).execute(&mut conn).await.map_err(ApiError::internal)?;
    let out: Vec<Value> = ids
        .iter()
        .zip(&faces)
        .map(|(id, f)| {
            json!({
                "id": id.to_string(),
                "bbox": {"left": f.bbox[0], "top": f.bbox[1], "right": f.bbox[2], "bottom": f.bbox[3]},
                "detection_score": f.detection.score,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "faces": out })))
}
