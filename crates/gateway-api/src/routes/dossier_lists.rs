//! `/dossier-lists/`: watch lists. A list may carry its own `confidence_threshold` (null = the
//! camera's override, else CONFIDENCE_THRESHOLD); ingest's matching rule is in docs/ingest.md.

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::ApiError;
use domain::event::json_f32;
use domain::flex;
use domain::messages::GalleryObject;
use domain::models::{DossierList, NewDossierList};
use domain::schema::dossier_lists;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{db_error, pagination as p};
use crate::auth::{AuthUser, Role};
use crate::json_body::JsonBody;
use crate::state::AppState;

#[derive(Deserialize)]
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

pub fn view(l: &DossierList, confidence_threshold: Option<f32>) -> Value {
    json!({
        "id": l.id, "name": l.name, "comment": l.comment, "color": l.color, "active": l.active,
        "notify": l.notify, "confidence_threshold": confidence_threshold.map(json_f32),
        "created_date": l.created_date, "modified_date": l.modified_date,
    })
}

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
    if color.len() != 6 || !color.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::bad_param("color", "color must be six hex digits, e.g. ff0000"));
    }
    let threshold = body.confidence_threshold;
    if threshold.is_some_and(|t| !(0.0..=1.0).contains(&t)) {
        return Err(ApiError::bad_param("confidence_threshold", "confidence_threshold must be between 0 and 1"));
    }
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

pub async fn get_dossier_lists(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Viewer)?;
    let pairs = p::query_pairs(&req)?;
    let (limit, page) = (p::limit(&pairs)?, p::page(&pairs)?);
    let mut conn = state.conn().await?;
    let count: i64 = dossier_lists::table.count().get_result(&mut conn).await.map_err(ApiError::internal)?;
    let rows: Vec<(DossierList, Option<f32>)> = dossier_lists::table
        .order(dossier_lists::id)
        .limit(limit)
        .offset((page - 1) * limit)
        .select((DossierList::as_select(), dossier_lists::confidence_threshold))
        .load(&mut conn)
        .await
        .map_err(ApiError::internal)?;
    let results: Vec<Value> = rows.iter().map(|(l, t)| view(l, *t)).collect();
    Ok(p::offset_list(&state, &req, &pairs, count, page, limit, results))
}
