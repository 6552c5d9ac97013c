//! `/cameras/`: the cameras workers post for, each with its own external-detector token.

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::ApiError;
use domain::event::json_f32;
use domain::flex;
use domain::messages::GalleryObject;
use domain::models::{Camera, NewCamera};
use domain::schema::cameras;
use rand::RngCore;
use serde::Deserialize;
use serde_json::{Value, json};

use super::db_error;
use super::pagination::{ListPage, PageParams, list_table};
use crate::auth::{AuthUser, Role};
use crate::json_body::JsonBody;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CameraBody {
    name: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    url: String,
    #[serde(default, deserialize_with = "flex::bool_opt")]
    active: Option<bool>,
    #[serde(default)]
    group: Option<i64>,
    #[serde(default)]
    confidence_threshold: Option<f32>,
    #[serde(default)]
    roi: String,
    /// Video stream parameters the camera's video manager job carries (fps, ffmpeg_params, ...).
    #[serde(default)]
    #[schema(value_type = Object)]
    stream_settings: Option<Value>,
    /// Logical ID of the Security Center camera this camera is (links it to Genetec alarms).
    #[serde(default)]
    genetec_camera: Option<i32>,
}

/// `Some(None)` for an explicit null (clear the value), `None` when the key is absent.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Database errors of a camera write, naming the parameter at fault.
fn write_error(e: diesel::result::Error) -> ApiError {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => db_error::map(e, "genetec_camera"),
        other => db_error::map(other, "group"),
    }
}

/// A JSON object, or BAD_PARAM.
fn settings_object(settings: Option<Value>) -> Result<Option<Value>, ApiError> {
    match settings {
        Some(Value::Object(map)) => Ok(Some(Value::Object(map))),
        Some(_) => Err(ApiError::bad_param("stream_settings", "stream_settings must be a JSON object")),
        None => Ok(None),
    }
}

/// The external-detector token is a credential: only admins (who manage cameras) see it.
pub fn view(c: &Camera, role: Role) -> Value {
    let token = (role >= Role::Admin).then_some(c.external_detector_token.as_str());
    json!({
        "id": c.id, "name": c.name, "comment": c.comment, "url": c.url, "active": c.active,
        "group": c.group_id, "external_detector_token": token,
        "confidence_threshold": c.confidence_threshold.map(json_f32), "roi": c.roi,
        "stream_settings": c.stream_settings, "genetec_camera": c.genetec_camera,
        "created_date": c.created_date, "modified_date": c.modified_date,
    })
}

pub(crate) fn new_token() -> String {
    let mut raw = [0_u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    hex::encode(raw)
}

#[utoipa::path(post, path = "/cameras/", tag = "cameras", request_body = CameraBody, responses((status = 201, description = "the created object", body = Object), (status = 400, description = "a bad parameter, named in param", body = ApiError)))]
pub async fn post_camera(
    user: AuthUser,
    state: web::Data<AppState>,
    body: JsonBody<CameraBody>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    let body = body.into_inner()?;
    if body.name.trim().is_empty() {
        return Err(ApiError::bad_param("name", "name must not be empty"));
    }
    if body.confidence_threshold.is_some_and(|t| !(0.0..=1.0).contains(&t)) {
        return Err(ApiError::bad_param("confidence_threshold", "confidence_threshold must be between 0 and 1"));
    }
    let row = NewCamera {
        name: body.name.trim().to_string(),
        comment: body.comment,
        url: body.url,
        active: body.active.unwrap_or(true),
        group_id: body.group.unwrap_or(1),
        external_detector_token: new_token(),
        confidence_threshold: body.confidence_threshold,
        roi: body.roi,
        stream_settings: settings_object(body.stream_settings)?.unwrap_or_else(|| json!({})),
        genetec_camera: body.genetec_camera,
    };
    let mut conn = state.conn().await?;
    let camera: Camera = diesel::insert_into(cameras::table)
        .values(row)
        .returning(Camera::as_returning())
        .get_result(&mut conn)
        .await
        .map_err(write_error)?;
    drop(conn);
    state.announce(GalleryObject::Camera, camera.id).await;
    crate::video_manager::kick(&state);
    tracing::info!(camera.id = camera.id, user.id = user.id, "camera {} created", camera.id);
    Ok(HttpResponse::Created().json(view(&camera, user.role)))
}

#[utoipa::path(get, path = "/cameras/", tag = "cameras", params(PageParams), responses((status = 200, description = "cameras, in id order (external_detector_token only for admins)", body = ListPage), (status = 400, description = "a bad parameter, named in param", body = ApiError)))]
pub async fn get_cameras(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Viewer)?;
    list_table!(&state, &req, cameras, Camera, |c| view(c, user.role))
}

#[utoipa::path(get, path = "/cameras/{id}/", tag = "cameras", params(("id" = i64, Path, description = "the object's id")), responses((status = 200, description = "the object", body = Object), (status = 404, description = "no such object", body = ApiError)))]
pub async fn get_camera(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Viewer)?;
    let mut conn = state.conn().await?;
    let camera: Camera = cameras::table
        .find(id.into_inner())
        .select(Camera::as_select())
        .first(&mut conn)
        .await
        .map_err(|e| db_error::map(e, "id"))?;
    let mut body = view(&camera, user.role);
    if let Some(status) = crate::video_manager::camera_status(&state, &mut conn, &camera).await {
        body["vm_status"] = json!(status);
    }
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CameraPatch {
    name: Option<String>,
    comment: Option<String>,
    url: Option<String>,
    #[serde(default, deserialize_with = "flex::bool_opt")]
    active: Option<bool>,
    group: Option<i64>,
    confidence_threshold: Option<f32>,
    roi: Option<String>,
    #[schema(value_type = Object)]
    stream_settings: Option<Value>,
    /// null unlinks the camera.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i32>)]
    genetec_camera: Option<Option<i32>>,
}

#[derive(diesel::AsChangeset)]
#[diesel(table_name = cameras)]
struct CameraChanges {
    name: Option<String>,
    comment: Option<String>,
    url: Option<String>,
    active: Option<bool>,
    group_id: Option<i64>,
    confidence_threshold: Option<f32>,
    roi: Option<String>,
    stream_settings: Option<Value>,
    genetec_camera: Option<Option<i32>>,
    modified_date: chrono::DateTime<chrono::Utc>,
}

#[utoipa::path(patch, path = "/cameras/{id}/", tag = "cameras", params(("id" = i64, Path, description = "the object's id")), request_body = CameraPatch, responses((status = 200, description = "the changed object", body = Object), (status = 400, description = "a bad parameter, named in param", body = ApiError), (status = 404, description = "no such object", body = ApiError)))]
pub async fn patch_camera(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<CameraPatch>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    let id = id.into_inner();
    let body = body.into_inner()?;
    let name = match body.name.map(|n| n.trim().to_string()) {
        Some(n) if n.is_empty() => return Err(ApiError::bad_param("name", "name must not be empty")),
        other => other,
    };
    if body.confidence_threshold.is_some_and(|t| !(0.0..=1.0).contains(&t)) {
        return Err(ApiError::bad_param("confidence_threshold", "confidence_threshold must be between 0 and 1"));
    }
    let changes = CameraChanges {
        name,
        comment: body.comment,
        url: body.url,
        active: body.active,
        group_id: body.group,
        confidence_threshold: body.confidence_threshold,
        roi: body.roi,
        stream_settings: settings_object(body.stream_settings)?,
        genetec_camera: body.genetec_camera,
        modified_date: chrono::Utc::now(),
    };
    let mut conn = state.conn().await?;
    let camera: Camera = diesel::update(cameras::table.find(id))
        .set(changes)
        .returning(Camera::as_returning())
        .get_result(&mut conn)
        .await
        .map_err(write_error)?;
    drop(conn);
    state.announce(GalleryObject::Camera, id).await;
    crate::video_manager::kick(&state);
    Ok(HttpResponse::Ok().json(view(&camera, user.role)))
}

/// Events keep the camera's id after it is deleted (they have no foreign key).
#[utoipa::path(delete, path = "/cameras/{id}/", tag = "cameras", params(("id" = i64, Path, description = "the object's id")), responses((status = 204, description = "deleted"), (status = 404, description = "no such object", body = ApiError)))]
pub async fn delete_camera(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    let deleted = diesel::delete(cameras::table.find(id)).execute(&mut conn).await.map_err(ApiError::internal)?;
    drop(conn);
    db_error::deleted(deleted, "camera")?;
    state.announce(GalleryObject::Camera, id).await;
    crate::video_manager::kick(&state);
    Ok(HttpResponse::NoContent().finish())
}
