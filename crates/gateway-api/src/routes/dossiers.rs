//! `/dossiers/`: the people watched for, each on one or more watch lists.

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use domain::ApiError;
use domain::flex;
use domain::messages::GalleryObject;
use domain::models::{Dossier, NewDossier};
use domain::schema::{dossier_list_members, dossiers};
use futures_util::FutureExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::pagination::{ListPage, PageParams};
use super::{db_error, pagination as p};
use crate::auth::{AuthUser, Role};
use crate::json_body::JsonBody;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DossierBody {
    name: String,
    #[serde(default)]
    comment: String,
    #[serde(default, deserialize_with = "flex::bool_opt")]
    active: Option<bool>,
    #[serde(default)]
    dossier_lists: Vec<i64>,
}

pub fn view(d: &Dossier, lists: &[i64]) -> Value {
    json!({
        "id": d.id, "name": d.name, "comment": d.comment, "active": d.active, "dossier_lists": lists,
        "created_date": d.created_date, "modified_date": d.modified_date,
    })
}

#[utoipa::path(post, path = "/dossiers/", tag = "dossiers", request_body = DossierBody, responses((status = 201, description = "the created object", body = Object), (status = 400, description = "a bad parameter, e.g. an unknown or empty dossier_lists", body = ApiError)))]
pub async fn post_dossier(
    user: AuthUser,
    state: web::Data<AppState>,
    body: JsonBody<DossierBody>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Operator)?;
    let body = body.into_inner()?;
    if body.name.trim().is_empty() {
        return Err(ApiError::bad_param("name", "name must not be empty"));
    }
    if body.dossier_lists.is_empty() {
        return Err(ApiError::bad_param("dossier_lists", "a dossier must be on at least one watch list"));
    }
    let mut lists = body.dossier_lists.clone();
    lists.sort_unstable();
    lists.dedup();
    let row =
        NewDossier { name: body.name.trim().to_string(), comment: body.comment, active: body.active.unwrap_or(true) };
    let mut conn = state.conn().await?;
    let members = lists.clone();
    let dossier = conn
        .transaction::<Dossier, diesel::result::Error, _>(async move |conn| {
            let dossier: Dossier = diesel::insert_into(dossiers::table)
                .values(row)
                .returning(Dossier::as_returning())
                .get_result(conn)
                .await?;
            let rows: Vec<_> = members
                .iter()
                .map(|list| (dossier_list_members::dossier_id.eq(dossier.id), dossier_list_members::list_id.eq(*list)))
                .collect();
            diesel::insert_into(dossier_list_members::table).values(rows).execute(conn).await?;
            Ok(dossier)
        })
        .await
        .map_err(|e| db_error::map(e, "dossier_lists"))?;
    drop(conn);
    state.announce(GalleryObject::Dossier, dossier.id).await;
    Ok(HttpResponse::Created().json(view(&dossier, &lists)))
}

pub(super) async fn lists_of(
    conn: &mut diesel_async::AsyncPgConnection,
    ids: &[i64],
) -> diesel::QueryResult<Vec<(i64, i64)>> {
    dossier_list_members::table
        .filter(dossier_list_members::dossier_id.eq_any(ids))
        .select((dossier_list_members::dossier_id, dossier_list_members::list_id))
        .order((dossier_list_members::dossier_id, dossier_list_members::list_id))
        .load(conn)
        .await
}

#[utoipa::path(get, path = "/dossiers/", tag = "dossiers", params(PageParams, ("looks_like" = Option<String>, Query, description = "detection:<id> or dossierface:<id>: only dossiers with a face this alike, most alike first, each with looks_like {matched_object, confidence}; one page"), ("threshold" = Option<f32>, Query, description = "with looks_like: 0..1, default FFSECURITY.CONFIDENCE_THRESHOLD"), ("dossier_lists" = Option<Vec<i64>>, Query, description = "with looks_like: only dossiers on these watch lists")), responses((status = 200, description = "dossiers, in id order (by similarity with looks_like)", body = ListPage), (status = 400, description = "a bad parameter, named in param", body = ApiError)))]
pub async fn get_dossiers(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Viewer)?;
    let pairs = p::query_pairs(&req)?;
    if let Some(face) = p::single(&pairs, "looks_like") {
        return super::dossier_search::get_looks_like(&state, &pairs, face).await;
    }
    let (limit, page) = (p::limit(&pairs)?, p::page(&pairs)?);
    // The page's watch lists come from the count's snapshot too.
    let (count, rows, members) = p::snapshot(&state, move |conn| {
        async move {
            let count: i64 = dossiers::table.count().get_result(conn).await?;
            let rows: Vec<Dossier> = dossiers::table
                .order(dossiers::id)
                .limit(limit)
                .offset((page - 1) * limit)
                .select(Dossier::as_select())
                .load(conn)
                .await?;
            let ids: Vec<i64> = rows.iter().map(|d| d.id).collect();
            let members = lists_of(conn, &ids).await?;
            Ok((count, rows, members))
        }
        .boxed()
    })
    .await?;
    let results: Vec<Value> = rows
        .iter()
        .map(|d| {
            let lists: Vec<i64> = members.iter().filter(|(id, _)| *id == d.id).map(|(_, l)| *l).collect();
            view(d, &lists)
        })
        .collect();
    Ok(p::offset_list(&state, &req, &pairs, count, page, limit, results))
}

#[utoipa::path(get, path = "/dossiers/{id}/", tag = "dossiers", params(("id" = i64, Path, description = "the object's id")), responses((status = 200, description = "the object", body = Object), (status = 404, description = "no such object", body = ApiError)))]
pub async fn get_dossier(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Viewer)?;
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    let dossier: Dossier = dossiers::table
        .find(id)
        .select(Dossier::as_select())
        .first(&mut conn)
        .await
        .map_err(|e| db_error::map(e, "id"))?;
    let lists: Vec<i64> =
        lists_of(&mut conn, &[id]).await.map_err(ApiError::internal)?.into_iter().map(|(_, l)| l).collect();
    Ok(HttpResponse::Ok().json(view(&dossier, &lists)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DossierPatch {
    name: Option<String>,
    comment: Option<String>,
    #[serde(default, deserialize_with = "flex::bool_opt")]
    active: Option<bool>,
    /// Replaces the dossier's watch lists.
    dossier_lists: Option<Vec<i64>>,
}

#[derive(diesel::AsChangeset)]
#[diesel(table_name = dossiers)]
struct DossierChanges {
    name: Option<String>,
    comment: Option<String>,
    active: Option<bool>,
    modified_date: chrono::DateTime<chrono::Utc>,
}

#[utoipa::path(patch, path = "/dossiers/{id}/", tag = "dossiers", params(("id" = i64, Path, description = "the object's id")), request_body = DossierPatch, responses((status = 200, description = "the changed object", body = Object), (status = 400, description = "a bad parameter, named in param", body = ApiError), (status = 404, description = "no such object", body = ApiError)))]
pub async fn patch_dossier(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<DossierPatch>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Operator)?;
    let id = id.into_inner();
    let body = body.into_inner()?;
    let name = match body.name.map(|n| n.trim().to_string()) {
        Some(n) if n.is_empty() => return Err(ApiError::bad_param("name", "name must not be empty")),
        other => other,
    };
    let lists = body.dossier_lists.map(|mut l| {
        l.sort_unstable();
        l.dedup();
        l
    });
    if lists.as_ref().is_some_and(Vec::is_empty) {
        return Err(ApiError::bad_param("dossier_lists", "a dossier must be on at least one watch list"));
    }
    let changes =
        DossierChanges { name, comment: body.comment, active: body.active, modified_date: chrono::Utc::now() };
    let mut conn = state.conn().await?;
    let members = lists.clone();
    let dossier = conn
        .transaction::<Dossier, diesel::result::Error, _>(async move |conn| {
            let dossier: Dossier = diesel::update(dossiers::table.find(id))
                .set(changes)
                .returning(Dossier::as_returning())
                .get_result(conn)
                .await?;
            if let Some(members) = members {
                diesel::delete(dossier_list_members::table.filter(dossier_list_members::dossier_id.eq(id)))
                    .execute(conn)
                    .await?;
                let rows: Vec<_> = members
                    .iter()
                    .map(|list| (dossier_list_members::dossier_id.eq(id), dossier_list_members::list_id.eq(*list)))
                    .collect();
                diesel::insert_into(dossier_list_members::table).values(rows).execute(conn).await?;
            }
            Ok(dossier)
        })
        .await
        .map_err(|e| db_error::map(e, "dossier_lists"))?;
    let lists: Vec<i64> =
        lists_of(&mut conn, &[id]).await.map_err(ApiError::internal)?.into_iter().map(|(_, l)| l).collect();
    drop(conn);
    state.announce(GalleryObject::Dossier, id).await;
    Ok(HttpResponse::Ok().json(view(&dossier, &lists)))
}

#[utoipa::path(delete, path = "/dossiers/{id}/", tag = "dossiers", params(("id" = i64, Path, description = "the object's id")), responses((status = 204, description = "deleted"), (status = 404, description = "no such object", body = ApiError)))]
pub async fn delete_dossier(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Operator)?;
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    let deleted = diesel::delete(dossiers::table.find(id)).execute(&mut conn).await.map_err(ApiError::internal)?;
    drop(conn);
    db_error::deleted(deleted, "dossier")?;
    state.announce(GalleryObject::Dossier, id).await;
    Ok(HttpResponse::NoContent().finish())
}
