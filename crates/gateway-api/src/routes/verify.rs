//! `GET /verify?face1=&face2=` (or `face1=&dossier_id=`): how alike two faces are, as
//! `{"confidence"}` in 0..1, the same measure ingest matches with (face_refs::confidence).

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::ApiError;
use domain::schema::dossier_faces;
use serde_json::json;

use super::face_refs::{self, FaceRef};
use super::pagination as p;
use crate::auth::{AuthUser, Role};
use crate::state::AppState;

#[utoipa::path(get, path = "/verify", tag = "search", params(("face1" = String, Query, description = "detection:<id> or dossierface:<id>"), ("face2" = Option<String>, Query, description = "the other face; or send dossier_id"), ("dossier_id" = Option<i64>, Query, description = "compare with this dossier's active faces: the best one counts")), responses((status = 200, description = "`{confidence}`, 0..1, symmetric", body = Object), (status = 400, description = "a bad or missing face reference, named in param", body = ApiError), (status = 404, description = "an unknown or expired face, or a dossier without active faces", body = ApiError)))]
pub async fn get_verify(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    verify(req, user, state).await
}

/// `GET /verify/`, the same with the slash the other resources have.
#[utoipa::path(get, path = "/verify/", tag = "search", params(("face1" = String, Query, description = "as `GET /verify`")), responses((status = 200, description = "as `GET /verify`", body = Object), (status = 400, description = "as `GET /verify`", body = ApiError)))]
pub async fn get_verify_slash(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    verify(req, user, state).await
}

async fn verify(req: HttpRequest, user: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    user.require(Role::Viewer)?;
    let pairs = p::query_pairs(&req)?;
    let face1 = p::single(&pairs, "face1").ok_or_else(|| ApiError::bad_param("face1", "face1 is required"))?;
    let face1 = FaceRef::parse("face1", face1)?;
    let face2 = p::single(&pairs, "face2").map(|raw| FaceRef::parse("face2", raw)).transpose()?;
    let dossier: Option<i64> = p::parse_one(&pairs, "dossier_id")?;
    let mut conn = state.conn().await?;
    let a = face_refs::vector(&mut conn, "face1", face1).await?;
    let confidence = match (face2, dossier) {
        (Some(face2), None) => face_refs::confidence(&a, &face_refs::vector(&mut conn, "face2", face2).await?),
        (None, Some(dossier)) => {
            let faces: Vec<Vec<f32>> = dossier_faces::table
                .filter(dossier_faces::dossier_id.eq(dossier))
                .filter(dossier_faces::active.eq(true))
                .select(dossier_faces::embedding)
                .load(&mut conn)
                .await
                .map_err(ApiError::internal)?;
            faces.iter().map(|b| face_refs::confidence(&a, b)).reduce(f32::max).ok_or_else(|| {
                ApiError::not_found(&format!("an active face of dossier {dossier}")).with_param("dossier_id")
            })?
        }
        _ => return Err(ApiError::bad_param("face2", "send exactly one of face2 and dossier_id")),
    };
    Ok(HttpResponse::Ok().json(json!({ "confidence": confidence })))
}
