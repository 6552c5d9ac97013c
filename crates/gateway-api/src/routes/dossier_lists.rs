//! `/dossier-lists/`: watch lists. A list may carry its own `confidence_threshold` (null = the
//! camera's override, else CONFIDENCE_THRESHOLD); ingest's matching rule is in docs/ingest.md.

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use domain::ApiError;
use domain::event::json_f32;
use domain::flex;
use domain::messages::GalleryObject;
use domain::models::{DossierList, NewDossierList};
use domain::schema::{dossier_faces, dossier_list_members, dossier_lists, dossiers};
use futures_util::FutureExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::pagination::{ListPage, PageParams};
use super::{db_error, pagination as p};
use crate::auth::{AuthUser, Role};
use crate::json_body::JsonBody;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DossierListBody {
    name: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    color: Option<String>,
    #[serde(default, deserialize_with = "flex::bool_opt")]
    active: Option<bool>,
    #[serde(default, deserialize_with = "flex::bool_opt")]
    notify: Option<bool>,
    #[serde(default)]
    confidence_threshold: Option<f32>,
}

fn check_color(color: &str) -> Result<(), ApiError> {
    if color.len() != 6 || !color.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::bad_param("color", "color must be six hex digits, e.g. ff0000"));
    }
    Ok(())
}

fn check_threshold(threshold: Option<f32>) -> Result<(), ApiError> {
    if threshold.is_some_and(|t| !(0.0..=1.0).contains(&t)) {
        return Err(ApiError::bad_param("confidence_threshold", "confidence_threshold must be between 0 and 1"));
    }
    Ok(())
}

pub fn view(l: &DossierList, confidence_threshold: Option<f32>) -> Value {
    json!({
        "id": l.id, "name": l.name, "comment": l.comment, "color": l.color, "active": l.active,
        "notify": l.notify, "confidence_threshold": confidence_threshold.map(json_f32),
        "created_date": l.created_date, "modified_date": l.modified_date,
    })
}

#[utoipa::path(post, path = "/dossier-lists/", tag = "dossier-lists", request_body = DossierListBody, responses((status = 201, description = "the created object", body = Object), (status = 400, description = "a bad parameter, named in param", body = ApiError), (status = 409, description = "conflicts with a stored object", body = ApiError)))]
pub async fn post_dossier_list(
    user: AuthUser,
    state: web::Data<AppState>,
    body: JsonBody<DossierListBody>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Operator)?;
    let body = body.into_inner()?;
    if body.name.trim().is_empty() {
        return Err(ApiError::bad_param("name", "name must not be empty"));
    }
    let color = body.color.unwrap_or_else(|| "ffffff".into());
    check_color(&color)?;
    let threshold = body.confidence_threshold;
    check_threshold(threshold)?;
    let row = NewDossierList {
        name: body.name.trim().to_string(),
        comment: body.comment,
        color,
        active: body.active.unwrap_or(true),
        notify: body.notify.unwrap_or(false),
    };
    let mut conn = state.conn().await?;
    let (list, threshold): (DossierList, Option<f32>) = diesel::insert_into(dossier_lists::table)
        .values((row, dossier_lists::confidence_threshold.eq(threshold)))
        .returning((DossierList::as_returning(), dossier_lists::confidence_threshold))
        .get_result(&mut conn)
        .await
        .map_err(|e| db_error::map(e, "name"))?;
    drop(conn);
    state.announce(GalleryObject::DossierList, list.id).await;
    Ok(HttpResponse::Created().json(view(&list, threshold)))
}

#[utoipa::path(get, path = "/dossier-lists/", tag = "dossier-lists", params(PageParams), responses((status = 200, description = "watch lists, in id order", body = ListPage), (status = 400, description = "a bad parameter, named in param", body = ApiError)))]
pub async fn get_dossier_lists(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Viewer)?;
    let pairs = p::query_pairs(&req)?;
    let (limit, page) = (p::limit(&pairs)?, p::page(&pairs)?);
    let (count, rows) = p::snapshot(&state, move |conn| {
        async move {
            let count: i64 = dossier_lists::table.count().get_result(conn).await?;
            let rows: Vec<(DossierList, Option<f32>)> = dossier_lists::table
                .order(dossier_lists::id)
                .limit(limit)
                .offset((page - 1) * limit)
                .select((DossierList::as_select(), dossier_lists::confidence_threshold))
                .load(conn)
                .await?;
            Ok((count, rows))
        }
        .boxed()
    })
    .await?;
    let results: Vec<Value> = rows.iter().map(|(l, t)| view(l, *t)).collect();
    Ok(p::offset_list(&state, &req, &pairs, count, page, limit, results))
}

#[utoipa::path(get, path = "/dossier-lists/{id}/", tag = "dossier-lists", params(("id" = i64, Path, description = "the object's id")), responses((status = 200, description = "the object", body = Object), (status = 404, description = "no such object", body = ApiError)))]
pub async fn get_dossier_list(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Viewer)?;
    let mut conn = state.conn().await?;
    let (list, threshold): (DossierList, Option<f32>) = dossier_lists::table
        .find(id.into_inner())
        .select((DossierList::as_select(), dossier_lists::confidence_threshold))
        .first(&mut conn)
        .await
        .map_err(|e| db_error::map(e, "id"))?;
    Ok(HttpResponse::Ok().json(view(&list, threshold)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DossierListPatch {
    name: Option<String>,
    comment: Option<String>,
    color: Option<String>,
    #[serde(default, deserialize_with = "flex::bool_opt")]
    active: Option<bool>,
    #[serde(default, deserialize_with = "flex::bool_opt")]
    notify: Option<bool>,
    /// Absent: unchanged; `null`: back to the camera's or the global threshold.
    #[serde(default, deserialize_with = "flex::double_option")]
    #[schema(value_type = Option<f32>)]
    confidence_threshold: Option<Option<f32>>,
}

#[derive(diesel::AsChangeset)]
#[diesel(table_name = dossier_lists)]
struct DossierListChanges {
    name: Option<String>,
    comment: Option<String>,
    color: Option<String>,
    active: Option<bool>,
    notify: Option<bool>,
    // Option<Option<_>>: None leaves the column alone, Some(None) writes NULL.
    confidence_threshold: Option<Option<f32>>,
    modified_date: chrono::DateTime<chrono::Utc>,
}

/// `active: false` stops ingest matching the list's dossiers (unless they are on another active
/// list) as soon as the change notice arrives.
#[utoipa::path(patch, path = "/dossier-lists/{id}/", tag = "dossier-lists", params(("id" = i64, Path, description = "the object's id")), request_body = DossierListPatch, responses((status = 200, description = "the changed object", body = Object), (status = 400, description = "a bad parameter, named in param", body = ApiError), (status = 404, description = "no such object", body = ApiError), (status = 409, description = "conflicts with a stored object", body = ApiError)))]
pub async fn patch_dossier_list(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<DossierListPatch>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Operator)?;
    let id = id.into_inner();
    let body = body.into_inner()?;
    let name = match body.name.map(|n| n.trim().to_string()) {
        Some(n) if n.is_empty() => return Err(ApiError::bad_param("name", "name must not be empty")),
        other => other,
    };
    if let Some(color) = &body.color {
        check_color(color)?;
    }
    check_threshold(body.confidence_threshold.flatten())?;
    let changes = DossierListChanges {
        name,
        comment: body.comment,
        color: body.color,
        active: body.active,
        notify: body.notify,
        confidence_threshold: body.confidence_threshold,
        modified_date: chrono::Utc::now(),
    };
    let mut conn = state.conn().await?;
    let (list, threshold): (DossierList, Option<f32>) = diesel::update(dossier_lists::table.find(id))
        .set(changes)
        .returning((DossierList::as_returning(), dossier_lists::confidence_threshold))
        .get_result(&mut conn)
        .await
        .map_err(|e| db_error::map(e, "name"))?;
    drop(conn);
    state.announce(GalleryObject::DossierList, id).await;
    Ok(HttpResponse::Ok().json(view(&list, threshold)))
}

/// Deletes the list and its memberships; its dossiers stay (they may be on other lists, or be
/// put on one again). The list's own purge removes dossiers.
#[utoipa::path(delete, path = "/dossier-lists/{id}/", tag = "dossier-lists", params(("id" = i64, Path, description = "the object's id")), responses((status = 204, description = "deleted"), (status = 404, description = "no such object", body = ApiError)))]
pub async fn delete_dossier_list(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Operator)?;
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    let deleted = diesel::delete(dossier_lists::table.find(id)).execute(&mut conn).await.map_err(ApiError::internal)?;
    drop(conn);
    db_error::deleted(deleted, "dossier list")?;
    state.announce(GalleryObject::DossierList, id).await;
    Ok(HttpResponse::NoContent().finish())
}

/// What a purge did.
struct Purged {
    deleted: Vec<i64>,
    unlisted: usize,
    photos: Vec<String>,
}

/// `POST /dossier-lists/{id}/purge/`: empties the list. Dossiers on no other list are deleted
/// with their faces (and photo files); dossiers also on another list only leave this one, since
/// the other list still watches for them. The list itself stays. One transaction, then one
/// notice (ingest reloads its gallery for any list change).
#[utoipa::path(post, path = "/dossier-lists/{id}/purge/", tag = "dossier-lists", params(("id" = i64, Path, description = "the object's id")), responses((status = 200, description = "`{deleted_dossiers: [ids], unlisted_dossiers: n}`", body = Object), (status = 404, description = "no such object", body = ApiError)))]
pub async fn post_purge_dossier_list(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Operator)?;
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    let purged = conn
        .transaction::<Purged, diesel::result::Error, _>(async move |conn| {
            // Lock the list row: a concurrent purge or delete of it waits for this one.
            dossier_lists::table.find(id).select(dossier_lists::id).for_update().first::<i64>(conn).await?;
            let members: Vec<i64> = dossier_list_members::table
                .filter(dossier_list_members::list_id.eq(id))
                .select(dossier_list_members::dossier_id)
                .load(conn)
                .await?;
            let elsewhere: std::collections::HashSet<i64> = dossier_list_members::table
                .filter(dossier_list_members::dossier_id.eq_any(&members))
                .filter(dossier_list_members::list_id.ne(id))
                .select(dossier_list_members::dossier_id)
                .load::<i64>(conn)
                .await?
                .into_iter()
                .collect();
            let only_here: Vec<i64> = members.into_iter().filter(|d| !elsewhere.contains(d)).collect();
            let photos: Vec<String> = dossier_faces::table
                .filter(dossier_faces::dossier_id.eq_any(&only_here))
                .select(dossier_faces::source_photo)
                .load(conn)
                .await?;
            let deleted: Vec<i64> = diesel::delete(dossiers::table.filter(dossiers::id.eq_any(&only_here)))
                .returning(dossiers::id)
                .get_results(conn)
                .await?;
            let unlisted = diesel::delete(dossier_list_members::table.filter(dossier_list_members::list_id.eq(id)))
                .execute(conn)
                .await?;
            Ok(Purged { deleted, unlisted, photos })
        })
        .await
        .map_err(|e| db_error::map(e, "id"))?;
    drop(conn);
    state.announce(GalleryObject::DossierList, id).await;
    crate::retention::remove_files(state.media.as_ref(), purged.photos).await;
    tracing::info!(
        list.id = id,
        user.id = user.id,
        "dossier list {id} purged: {} dossiers deleted",
        purged.deleted.len()
    );
    Ok(HttpResponse::Ok().json(json!({"deleted_dossiers": purged.deleted, "unlisted_dossiers": purged.unlisted})))
}
