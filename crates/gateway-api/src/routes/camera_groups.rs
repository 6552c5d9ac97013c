//! `/camera-groups/`. Group 1 ("Default", created by the first migration) always exists: cameras
//! created without a group land in it, so it cannot be deleted.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::error::ErrorCode;
use domain::messages::GalleryObject;
use domain::models::CameraGroup;
use domain::schema::{camera_groups, cameras};
use domain::{ApiError, flex};
use serde::Deserialize;
use serde_json::{Value, json};

use super::db_error;
use super::pagination::{ListPage, PageParams, list_table};
use crate::auth::{AuthUser, Role};
use crate::json_body::JsonBody;
use crate::state::AppState;

const DEFAULT_GROUP: i64 = 1;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct GroupBody {
    name: Option<String>,
    comment: Option<String>,
    #[serde(default, deserialize_with = "flex::bool_opt")]
    active: Option<bool>,
}

#[derive(AsChangeset)]
#[diesel(table_name = camera_groups)]
struct GroupChanges {
    name: Option<String>,
    comment: Option<String>,
    active: Option<bool>,
    modified_date: DateTime<Utc>,
}

pub fn view(g: &CameraGroup) -> Value {
    json!({
        "id": g.id, "name": g.name, "comment": g.comment, "active": g.active,
        "created_date": g.created_date, "modified_date": g.modified_date,
    })
}

fn checked_name(name: Option<String>) -> Result<Option<String>, ApiError> {
    match name.map(|n| n.trim().to_string()) {
        Some(n) if n.is_empty() => Err(ApiError::bad_param("name", "name must not be empty")),
        other => Ok(other),
    }
}

#[utoipa::path(post, path = "/camera-groups/", tag = "camera-groups", request_body = GroupBody, responses((status = 201, description = "the created object", body = Object), (status = 400, description = "a bad parameter, named in param", body = ApiError), (status = 409, description = "conflicts with a stored object", body = ApiError)))]
pub async fn post_camera_group(
    user: AuthUser,
    state: web::Data<AppState>,
    body: JsonBody<GroupBody>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    let body = body.into_inner()?;
    let name = checked_name(body.name)?.ok_or_else(|| ApiError::bad_param("name", "name is required"))?;
    let mut conn = state.conn().await?;
    let group: CameraGroup = diesel::insert_into(camera_groups::table)
        .values((
            camera_groups::name.eq(name),
            camera_groups::comment.eq(body.comment.unwrap_or_default()),
            camera_groups::active.eq(body.active.unwrap_or(true)),
        ))
        .returning(CameraGroup::as_returning())
        .get_result(&mut conn)
        .await
        .map_err(|e| db_error::map(e, "name"))?;
    drop(conn);
    state.announce(GalleryObject::CameraGroup, group.id).await;
    Ok(HttpResponse::Created().json(view(&group)))
}

#[utoipa::path(get, path = "/camera-groups/", tag = "camera-groups", params(PageParams), responses((status = 200, description = "camera groups, in id order", body = ListPage), (status = 400, description = "a bad parameter, named in param", body = ApiError)))]
pub async fn get_camera_groups(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Viewer)?;
    list_table!(&state, &req, camera_groups, CameraGroup, view)
}

#[utoipa::path(get, path = "/camera-groups/{id}/", tag = "camera-groups", params(("id" = i64, Path, description = "the object's id")), responses((status = 200, description = "the object", body = Object), (status = 404, description = "no such object", body = ApiError)))]
pub async fn get_camera_group(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Viewer)?;
    let mut conn = state.conn().await?;
    let group: CameraGroup = camera_groups::table
        .find(id.into_inner())
        .select(CameraGroup::as_select())
        .first(&mut conn)
        .await
        .map_err(|e| db_error::map(e, "id"))?;
    Ok(HttpResponse::Ok().json(view(&group)))
}

#[utoipa::path(patch, path = "/camera-groups/{id}/", tag = "camera-groups", params(("id" = i64, Path, description = "the object's id")), request_body = GroupBody, responses((status = 200, description = "the changed object", body = Object), (status = 400, description = "a bad parameter, named in param", body = ApiError), (status = 404, description = "no such object", body = ApiError), (status = 409, description = "conflicts with a stored object", body = ApiError)))]
pub async fn patch_camera_group(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<GroupBody>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    let id = id.into_inner();
    let body = body.into_inner()?;
    let changes = GroupChanges {
        name: checked_name(body.name)?,
        comment: body.comment,
        active: body.active,
        modified_date: Utc::now(),
    };
    let mut conn = state.conn().await?;
    let group: CameraGroup = diesel::update(camera_groups::table.find(id))
        .set(changes)
        .returning(CameraGroup::as_returning())
        .get_result(&mut conn)
        .await
        .map_err(|e| db_error::map(e, "id"))?;
    drop(conn);
    state.announce(GalleryObject::CameraGroup, id).await;
    Ok(HttpResponse::Ok().json(view(&group)))
}

#[utoipa::path(delete, path = "/camera-groups/{id}/", tag = "camera-groups", params(("id" = i64, Path, description = "the object's id")), responses((status = 204, description = "deleted"), (status = 404, description = "no such object", body = ApiError), (status = 409, description = "conflicts with a stored object", body = ApiError)))]
pub async fn delete_camera_group(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    let id = id.into_inner();
    if id == DEFAULT_GROUP {
        return Err(ApiError::new(ErrorCode::Conflict, "the default camera group cannot be deleted"));
    }
    let mut conn = state.conn().await?;
    let members: i64 = cameras::table
        .filter(cameras::group_id.eq(id))
        .count()
        .get_result(&mut conn)
        .await
        .map_err(ApiError::internal)?;
    if members > 0 {
        return Err(ApiError::new(ErrorCode::Conflict, format!("the group still has {members} cameras")));
    }
    let deleted =
        diesel::delete(camera_groups::table.find(id)).execute(&mut conn).await.map_err(|e| db_error::map(e, "id"))?;
    drop(conn);
    db_error::deleted(deleted, "camera group")?;
    state.announce(GalleryObject::CameraGroup, id).await;
    Ok(HttpResponse::NoContent().finish())
}
