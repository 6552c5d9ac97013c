//! `/dossier-faces/`: enrolled face photos. The feature vector comes with the request (`facen`, as
//! the worker sends it) or, with FACEROUTER.RECOGNITION_BACKEND = "builtin", from the photo: the
//! built-in recognizer takes its biggest face, and its measured quality is what
//! MINIMUM_DOSSIER_QUALITY is compared with (docs/recognizer.md).

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::error::ErrorCode;
use domain::event::json_f32;
use domain::image::ImageKind;
use domain::messages::GalleryObject;
use domain::models::{DossierFace, NewDossierFace};
use domain::recognizer::{RecognizeError, Select};
use domain::schema::dossier_faces;
use domain::{ApiError, flex, multipart, vector};
use futures_util::FutureExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::face_refs::{self, FaceRef};
use super::pagination::{ListPage, PageParams};
use super::{db_error, pagination as p};
use crate::auth::{AuthUser, Role};
use crate::json_body::JsonBody;
use crate::state::AppState;

/// The multipart form of `POST /dossier-faces/` (for the OpenAPI document; the handler reads the
/// parts itself).
#[derive(utoipa::ToSchema)]
pub struct DossierFaceForm {
    /// The dossier's id.
    pub dossier: i64,
    /// The face's feature vector, as the worker sends it; optional with the built-in recognizer,
    /// which computes it from the photo.
    #[schema(value_type = String, format = Binary)]
    pub facen: Vec<u8>,
    /// A JPEG, PNG or WebP photo (`photo` is accepted too).
    #[schema(value_type = Option<String>, format = Binary)]
    pub source_photo: Option<Vec<u8>>,
    /// Below MINIMUM_DOSSIER_QUALITY the face is refused with LOW_QUALITY; default 0 (the
    /// built-in recognizer's own measure when it computed the vector).
    pub quality: Option<f32>,
    /// Default true.
    pub active: Option<bool>,
    /// `detection:<id>` from `POST /detect/`, instead of a photo: the face, its box and its photo
    /// are taken from the detection (until DETECTION_TTL runs out).
    pub create_from: Option<String>,
    /// `biggest` (default) takes the largest face of the photo; `all` refuses a photo of several
    /// faces with BAD_PARAM, since one dossier face is one face.
    pub mf_selector: Option<String>,
}

pub fn view(state: &AppState, f: &DossierFace) -> Value {
    json!({
        "id": f.id, "dossier": f.dossier_id, "source_photo": state.media_url(&f.source_photo),
        "thumbnail": state.media_url(&f.thumbnail), "quality": json_f32(f.quality), "active": f.active,
        "source_coords_left": f.source_coords_left, "source_coords_top": f.source_coords_top,
        "source_coords_right": f.source_coords_right, "source_coords_bottom": f.source_coords_bottom,
        "created_date": f.created_date, "modified_date": f.modified_date,
    })
}

#[utoipa::path(post, path = "/dossier-faces/", tag = "dossier-faces", request_body(content = inline(DossierFaceForm), content_type = "multipart/form-data"), responses((status = 201, description = "the created object", body = Object), (status = 400, description = "a bad field, LOW_QUALITY below MINIMUM_DOSSIER_QUALITY, or from the built-in recognizer NO_FACE, FACE_TOO_SMALL or BAD_IMAGE", body = ApiError), (status = 503, description = "the built-in recognizer is saturated; retry after Retry-After", body = ApiError)))]
pub async fn post_dossier_face(
    user: AuthUser,
    state: web::Data<AppState>,
    form: Multipart,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Operator)?;
    let mut parts =
        multipart::read_parts(form, &["source_photo", "photo", "facen"], state.config.server.max_body_bytes).await?;
    let dossier_id: i64 = multipart::text(&parts, "dossier")?
        .ok_or_else(|| ApiError::bad_param("dossier", "dossier is required"))?
        .trim()
        .parse()
        .map_err(|_| ApiError::bad_param("dossier", "dossier must be a dossier id"))?;
    let given = vector::parse("facen", parts.get("facen").map(|b| b.as_ref()))?;
    let stated_quality = match multipart::text(&parts, "quality")? {
        Some(raw) => Some(
            raw.trim()
                .parse::<f32>()
                .ok()
                .filter(|q| q.is_finite())
                .ok_or_else(|| ApiError::bad_param("quality", "quality must be a number"))?,
        ),
        None => None,
    };
    let mut photo = parts.remove("source_photo").or_else(|| parts.remove("photo")).filter(|b| !b.is_empty());
    let create_from = multipart::text(&parts, "create_from")?
        .filter(|raw| !raw.trim().is_empty())
        .map(|raw| FaceRef::parse("create_from", &raw))
        .transpose()?;
    let select = match multipart::text(&parts, "mf_selector")?.as_deref().map(str::trim) {
        None | Some("") | Some("biggest") => Select::Biggest,
        Some("all") => Select::All,
        Some(other) => {
            return Err(ApiError::bad_param(
                "mf_selector",
                format!("mf_selector must be biggest or all, not {other:?}"),
            ));
        }
    };
    let (embedding, quality, coords) = match (create_from, given, &state.faces, &photo) {
        (Some(FaceRef::Detection(id)), None, _, None) => {
            // The face found by POST /detect/: its vector, quality, box and the photo it came from.
            let mut conn = state.conn().await?;
            let found = face_refs::detection(&mut conn, "create_from", id).await?;
            drop(conn);
            photo = Some(found.photo.into());
            (found.embedding, found.quality, Some(found.bbox.map(i64::from)))
        }
        (Some(FaceRef::DossierFace(_)), _, _, _) => {
            return Err(ApiError::bad_param("create_from", "create_from takes detection:<id>"));
        }
        (Some(_), _, _, _) => {
            return Err(ApiError::bad_param("create_from", "send create_from without facen and source_photo"));
        }
        (None, Some(embedding), _, _) => (embedding, stated_quality.unwrap_or(0.0), None),
        (None, None, Some(pool), Some(bytes)) => {
            let faces = pool.faces(bytes.clone(), select).await.map_err(|e| e.to_api("source_photo"))?;
            // One dossier face is one face: with mf_selector=all a photo of several people is
            // refused rather than enrolled as whichever face happens to be largest.
            if faces.len() > 1 {
                return Err(ApiError::bad_param(
                    "mf_selector",
                    format!("the photo holds {} faces; send one face, or mf_selector=biggest", faces.len()),
                ));
            }
            let face = faces.into_iter().next().ok_or_else(|| RecognizeError::NoFace.to_api("source_photo"))?;
            (face.vector, face.quality.score, Some(face.bbox))
        }
        (None, None, Some(_), None) => {
            return Err(ApiError::bad_param("source_photo", "send source_photo, create_from or facen for the face"));
        }
        (None, None, None, _) => {
            return Err(ApiError::bad_param(
                "facen",
                "facen (the face's feature vector) is required unless FACEROUTER.RECOGNITION_BACKEND = \"builtin\"",
            ));
        }
    };
    let minimum = state.config.ffsecurity.minimum_dossier_quality;
    if quality < minimum {
        return Err(ApiError::new(
            ErrorCode::LowQuality,
            format!("face quality {quality} is below MINIMUM_DOSSIER_QUALITY {minimum}"),
        )
        .with_param("source_photo"));
    }
    let active = match multipart::text(&parts, "active")? {
        Some(raw) => domain::config::parse_bool(&raw)
            .ok_or_else(|| ApiError::bad_param("active", "active must be true or false"))?,
        None => true,
    };
    let source_photo = match photo {
        Some(bytes) => {
            let kind = ImageKind::sniff(&bytes)
                .ok_or_else(|| ApiError::bad_param("source_photo", "source_photo is not a JPEG, PNG or WebP image"))?;
            let path = format!("dossiers/{dossier_id}/{}.{}", uuid::Uuid::now_v7(), kind.extension());
            state.media.put(path, bytes).await.map_err(ApiError::internal)?
        }
        None => String::new(),
    };
    let coord = |i: usize| coords.map(|c: [i64; 4]| i32::try_from(c[i]).unwrap_or(i32::MAX));
    let row = NewDossierFace {
        dossier_id,
        thumbnail: source_photo.clone(),
        source_photo,
        embedding,
        quality,
        source_coords_left: coord(0),
        source_coords_top: coord(1),
        source_coords_right: coord(2),
        source_coords_bottom: coord(3),
        active,
    };
    let mut conn = state.conn().await?;
    let face: DossierFace = diesel::insert_into(dossier_faces::table)
        .values(row)
        .returning(DossierFace::as_returning())
        .get_result(&mut conn)
        .await
        .map_err(|e| db_error::map(e, "dossier"))?;
    drop(conn);
    state.announce(GalleryObject::DossierFace, face.id).await;
    Ok(HttpResponse::Created().json(view(&state, &face)))
}

#[utoipa::path(get, path = "/dossier-faces/", tag = "dossier-faces", params(PageParams, ("dossier" = Option<Vec<i64>>, Query, description = "only these dossiers' faces"), ("id_in" = Option<Vec<i64>>, Query, description = "only these faces")), responses((status = 200, description = "dossier faces, in id order", body = ListPage), (status = 400, description = "a bad parameter, named in param", body = ApiError)))]
pub async fn get_dossier_faces(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Viewer)?;
    let pairs = p::query_pairs(&req)?;
    let (limit, page) = (p::limit(&pairs)?, p::page(&pairs)?);
    let dossiers: Vec<i64> = p::parse_many(&pairs, "dossier")?;
    let ids: Vec<i64> = p::parse_many(&pairs, "id_in")?;
    let filtered = move || {
        let mut query = dossier_faces::table.into_boxed();
        if !dossiers.is_empty() {
            query = query.filter(dossier_faces::dossier_id.eq_any(dossiers.clone()));
        }
        if !ids.is_empty() {
            query = query.filter(dossier_faces::id.eq_any(ids.clone()));
        }
        query
    };
    let (count, rows) = p::snapshot(&state, move |conn| {
        async move {
            let count: i64 = filtered().count().get_result(conn).await?;
            let rows: Vec<DossierFace> = filtered()
                .order(dossier_faces::id)
                .limit(limit)
                .offset((page - 1) * limit)
                .select(DossierFace::as_select())
                .load(conn)
                .await?;
            Ok((count, rows))
        }
        .boxed()
    })
    .await?;
    let results: Vec<Value> = rows.iter().map(|f| view(&state, f)).collect();
    Ok(p::offset_list(&state, &req, &pairs, count, page, limit, results))
}

#[utoipa::path(get, path = "/dossier-faces/{id}/", tag = "dossier-faces", params(("id" = i64, Path, description = "the object's id")), responses((status = 200, description = "the object", body = Object), (status = 404, description = "no such object", body = ApiError)))]
pub async fn get_dossier_face(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Viewer)?;
    let mut conn = state.conn().await?;
    let face: DossierFace = dossier_faces::table
        .find(id.into_inner())
        .select(DossierFace::as_select())
        .first(&mut conn)
        .await
        .map_err(|e| db_error::map(e, "id"))?;
    Ok(HttpResponse::Ok().json(view(&state, &face)))
}

/// Only `active` can change: the photo, vector and quality belong together, so a different photo
/// is a new face.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DossierFacePatch {
    #[serde(default, deserialize_with = "flex::bool_opt")]
    active: Option<bool>,
}

/// `active: false` keeps the face but ingest stops matching it once the notice arrives.
#[utoipa::path(patch, path = "/dossier-faces/{id}/", tag = "dossier-faces", params(("id" = i64, Path, description = "the object's id")), request_body = DossierFacePatch, responses((status = 200, description = "the changed object", body = Object), (status = 400, description = "a bad parameter, named in param", body = ApiError), (status = 404, description = "no such object", body = ApiError)))]
pub async fn patch_dossier_face(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<DossierFacePatch>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Operator)?;
    let id = id.into_inner();
    let active = body.into_inner()?.active.ok_or_else(|| ApiError::bad_param("active", "active is required"))?;
    let mut conn = state.conn().await?;
    let face: DossierFace = diesel::update(dossier_faces::table.find(id))
        .set((dossier_faces::active.eq(active), dossier_faces::modified_date.eq(chrono::Utc::now())))
        .returning(DossierFace::as_returning())
        .get_result(&mut conn)
        .await
        .map_err(|e| db_error::map(e, "id"))?;
    drop(conn);
    state.announce(GalleryObject::DossierFace, id).await;
    Ok(HttpResponse::Ok().json(view(&state, &face)))
}

/// Deletes the face and, once that committed and ingest was told, its photo file.
#[utoipa::path(delete, path = "/dossier-faces/{id}/", tag = "dossier-faces", params(("id" = i64, Path, description = "the object's id")), responses((status = 204, description = "deleted"), (status = 404, description = "no such object", body = ApiError)))]
pub async fn delete_dossier_face(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Operator)?;
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    let photos: Option<(String, String)> = diesel::delete(dossier_faces::table.find(id))
        .returning((dossier_faces::source_photo, dossier_faces::thumbnail))
        .get_result(&mut conn)
        .await
        .optional()
        .map_err(ApiError::internal)?;
    drop(conn);
    let (source_photo, thumbnail) = photos.ok_or_else(|| ApiError::not_found("dossier face"))?;
    state.announce(GalleryObject::DossierFace, id).await;
    crate::retention::remove_files(state.media.as_ref(), vec![source_photo, thumbnail]).await;
    Ok(HttpResponse::NoContent().finish())
}
