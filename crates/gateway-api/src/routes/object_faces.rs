//! `/objects/faces/`: the 4.x name of `/dossier-faces/` (wire doc §3). Each handler is the 2.x one;
//! they exist separately only so that the OpenAPI document and the permission matrix list the
//! 4.x paths too. The 2.x resource already speaks the 4.x fields (`source_photo`, `dossier`,
//! `mf_selector`, `active`, `source_coords_*`), filters (`dossier`, `id_in`) and statuses (201, 204).

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, web};
use domain::ApiError;

use super::dossier_faces::{self as twin, DossierFaceForm, DossierFacePatch};
use super::pagination::{ListPage, PageParams};
use crate::auth::AuthUser;
use crate::json_body::JsonBody;
use crate::state::AppState;

#[utoipa::path(post, path = "/objects/faces/", tag = "dossier-faces", request_body(content = inline(DossierFaceForm), content_type = "multipart/form-data"), responses((status = 201, description = "as `POST /dossier-faces/`", body = Object), (status = 400, description = "as `POST /dossier-faces/`", body = ApiError)))]
pub async fn post_object_face(
    user: AuthUser,
    state: web::Data<AppState>,
    form: Multipart,
) -> Result<HttpResponse, ApiError> {
    twin::post_dossier_face(user, state, form).await
}

#[utoipa::path(get, path = "/objects/faces/", tag = "dossier-faces", params(PageParams, ("dossier" = Option<Vec<i64>>, Query, description = "only these dossiers' faces"), ("id_in" = Option<Vec<i64>>, Query, description = "only these faces")), responses((status = 200, description = "as `GET /dossier-faces/`", body = ListPage), (status = 400, description = "a bad parameter, named in param", body = ApiError)))]
pub async fn get_object_faces(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    twin::get_dossier_faces(req, user, state).await
}

#[utoipa::path(get, path = "/objects/faces/{id}/", tag = "dossier-faces", params(("id" = i64, Path, description = "the object's id")), responses((status = 200, description = "the object", body = Object), (status = 404, description = "no such object", body = ApiError)))]
pub async fn get_object_face(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    twin::get_dossier_face(user, state, id).await
}

#[utoipa::path(patch, path = "/objects/faces/{id}/", tag = "dossier-faces", params(("id" = i64, Path, description = "the object's id")), request_body = DossierFacePatch, responses((status = 200, description = "the changed object", body = Object), (status = 404, description = "no such object", body = ApiError)))]
pub async fn patch_object_face(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<DossierFacePatch>,
) -> Result<HttpResponse, ApiError> {
    twin::patch_dossier_face(user, state, id, body).await
}

#[utoipa::path(delete, path = "/objects/faces/{id}/", tag = "dossier-faces", params(("id" = i64, Path, description = "the object's id")), responses((status = 204, description = "deleted"), (status = 404, description = "no such object", body = ApiError)))]
pub async fn delete_object_face(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    twin::delete_dossier_face(user, state, id).await
}
