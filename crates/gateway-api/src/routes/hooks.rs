//! `/hooks/`: webhook subscriptions. Each gets a Standard Webhooks secret (`whsec_<base64>`) at
//! creation, shown to admins so consumers can verify signatures.

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::ApiError;
use domain::filters::EventFilters;
use domain::flex;
use domain::messages::GalleryObject;
use domain::models::{Hook, NewHook};
use domain::schema::hooks;
use rand::RngCore;
use serde::Deserialize;
use serde_json::{Value, json};

use super::db_error;
use super::pagination::{ListPage, PageParams, list_table};
use crate::auth::{AuthUser, Role};
use crate::json_body::JsonBody;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct HookBody {
    name: String,
    url: String,
    #[serde(default)]
    comment: String,
    #[serde(default, deserialize_with = "flex::bool_opt")]
    active: Option<bool>,
    #[serde(default)]
    batch_size: Option<i32>,
    #[serde(default)]
    send_attempts: Option<i32>,
    #[serde(default)]
    filters: Option<Value>,
}

pub fn view(h: &Hook) -> Value {
    json!({
        "id": h.id, "name": h.name, "comment": h.comment, "active": h.active, "url": h.url,
        "batch_size": h.batch_size, "send_attempts": h.send_attempts, "filters": h.filters,
        "secret": h.secret, "previous_secret_expires": h.previous_secret_expires,
        "failed_attempts": h.failed_attempts, "failing_since": h.failing_since,
        "disabled_reason": h.disabled_reason, "disabled_date": h.disabled_date,
        "created_date": h.created_date, "modified_date": h.modified_date,
    })
}

fn check_url(url: &str) -> Result<(), ApiError> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(ApiError::bad_param("url", "url must be an http:// or https:// URL")),
    }
}

fn check_batch_size(batch_size: i32) -> Result<(), ApiError> {
    if (1..=1000).contains(&batch_size) {
        Ok(())
    } else {
        Err(ApiError::bad_param("batch_size", "batch_size must be between 1 and 1000"))
    }
}

fn check_send_attempts(send_attempts: i32) -> Result<(), ApiError> {
    if send_attempts >= 0 {
        Ok(())
    } else {
        Err(ApiError::bad_param("send_attempts", "send_attempts must be 0 (retry until delivered) or more"))
    }
}

fn check_filters(filters: &Value) -> Result<(), ApiError> {
    serde_json::from_value::<EventFilters>(filters.clone())
        .map(|_| ())
        .map_err(|e| ApiError::bad_param("filters", format!("invalid filters: {e}")))
}

pub fn new_secret() -> String {
    let mut raw = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(raw))
}

#[utoipa::path(post, path = "/hooks/", tag = "hooks", request_body = HookBody, responses((status = 201, description = "the created object", body = Object), (status = 400, description = "a bad parameter, named in param", body = ApiError), (status = 409, description = "conflicts with a stored object", body = ApiError)))]
pub async fn post_hook(
    user: AuthUser,
    state: web::Data<AppState>,
    body: JsonBody<HookBody>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    let body = body.into_inner()?;
    if body.name.trim().is_empty() {
        return Err(ApiError::bad_param("name", "name must not be empty"));
    }
    let url = body.url.trim().to_string();
    check_url(&url)?;
    let batch_size = body.batch_size.unwrap_or(1);
    check_batch_size(batch_size)?;
    let send_attempts = body.send_attempts.unwrap_or(5);
    check_send_attempts(send_attempts)?;
    let filters = body.filters.unwrap_or_else(|| json!({}));
    check_filters(&filters)?;
    let row = NewHook {
        name: body.name.trim().to_string(),
        comment: body.comment,
        active: body.active.unwrap_or(true),
        url,
        batch_size,
        send_attempts,
        filters,
        secret: new_secret(),
    };
    let mut conn = state.conn().await?;
    let hook: Hook = diesel::insert_into(hooks::table)
        .values(row)
        .returning(Hook::as_returning())
        .get_result(&mut conn)
        .await
        .map_err(|e| db_error::map(e, "name"))?;
    drop(conn);
    state.announce(GalleryObject::Hook, hook.id).await;
    tracing::info!(hook.id = hook.id, user.id = user.id, "hook {} created", hook.id);
    Ok(HttpResponse::Created().json(view(&hook)))
}

#[utoipa::path(get, path = "/hooks/", tag = "hooks", params(PageParams), responses((status = 200, description = "hooks, in id order, with their secrets", body = ListPage), (status = 400, description = "a bad parameter, named in param", body = ApiError)))]
pub async fn get_hooks(req: HttpRequest, user: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    list_table!(&state, &req, hooks, Hook, view)
}

async fn load(state: &AppState, id: i64) -> Result<Hook, ApiError> {
    let mut conn = state.conn().await?;
    hooks::table.find(id).select(Hook::as_select()).first(&mut conn).await.map_err(|e| db_error::map(e, "id"))
}

#[utoipa::path(get, path = "/hooks/{id}/", tag = "hooks", params(("id" = i64, Path, description = "the object's id")), responses((status = 200, description = "the object", body = Object), (status = 404, description = "no such object", body = ApiError)))]
pub async fn get_hook(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    Ok(HttpResponse::Ok().json(view(&load(&state, id.into_inner()).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct HookPatch {
    name: Option<String>,
    url: Option<String>,
    comment: Option<String>,
    #[serde(default, deserialize_with = "flex::bool_opt")]
    active: Option<bool>,
    batch_size: Option<i32>,
    send_attempts: Option<i32>,
    filters: Option<Value>,
}

#[derive(AsChangeset)]
#[diesel(table_name = hooks)]
struct HookChanges {
    name: Option<String>,
    url: Option<String>,
    comment: Option<String>,
    active: Option<bool>,
    batch_size: Option<i32>,
    send_attempts: Option<i32>,
    filters: Option<Value>,
    modified_date: DateTime<Utc>,
}

/// Re-enabling a hook the dispatcher switched off clears its failure streak; the response's
/// `replay_since` says from when to replay what it missed (`POST /hooks/{id}/replay/`).
#[utoipa::path(patch, path = "/hooks/{id}/", tag = "hooks", params(("id" = i64, Path, description = "the object's id")), request_body = HookPatch, responses((status = 200, description = "the changed object", body = Object), (status = 400, description = "a bad parameter, named in param", body = ApiError), (status = 404, description = "no such object", body = ApiError), (status = 409, description = "conflicts with a stored object", body = ApiError)))]
pub async fn patch_hook(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<HookPatch>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    let id = id.into_inner();
    let body = body.into_inner()?;
    if let Some(name) = &body.name
        && name.trim().is_empty()
    {
        return Err(ApiError::bad_param("name", "name must not be empty"));
    }
    let url = body.url.map(|u| u.trim().to_string());
    if let Some(url) = &url {
        check_url(url)?;
    }
    body.batch_size.map(check_batch_size).transpose()?;
    body.send_attempts.map(check_send_attempts).transpose()?;
    if let Some(filters) = &body.filters {
        check_filters(filters)?;
    }
    let before = load(&state, id).await?;
    let changes = HookChanges {
        name: body.name.map(|n| n.trim().to_string()),
        url,
        comment: body.comment,
        active: body.active,
        batch_size: body.batch_size,
        send_attempts: body.send_attempts,
        filters: body.filters,
        modified_date: Utc::now(),
    };
    let mut conn = state.conn().await?;
    let mut hook: Hook = diesel::update(hooks::table.find(id))
        .set(changes)
        .returning(Hook::as_returning())
        .get_result(&mut conn)
        .await
        .map_err(|e| db_error::map(e, "id"))?;
    let re_enabled = !before.active && hook.active;
    if re_enabled {
        hook = diesel::update(hooks::table.find(id))
            .set((
                hooks::failed_attempts.eq(0),
                hooks::failing_since.eq(None::<DateTime<Utc>>),
                hooks::disabled_reason.eq(""),
            ))
            .returning(Hook::as_returning())
            .get_result(&mut conn)
            .await
            .map_err(ApiError::internal)?;
    }
    drop(conn);
    state.announce(GalleryObject::Hook, id).await;
    let mut body = view(&hook);
    if re_enabled {
        body["replay_since"] = json!(before.disabled_date);
    }
    Ok(HttpResponse::Ok().json(body))
}

#[utoipa::path(delete, path = "/hooks/{id}/", tag = "hooks", params(("id" = i64, Path, description = "the object's id")), responses((status = 204, description = "deleted"), (status = 404, description = "no such object", body = ApiError)))]
pub async fn delete_hook(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    let deleted = diesel::delete(hooks::table.find(id)).execute(&mut conn).await.map_err(ApiError::internal)?;
    drop(conn);
    db_error::deleted(deleted, "hook")?;
    state.announce(GalleryObject::Hook, id).await;
    Ok(HttpResponse::NoContent().finish())
}

/// A new secret; the old one keeps signing beside it for WEBHOOKS.SECRET_GRACE_HOURS.
#[utoipa::path(post, path = "/hooks/{id}/rotate-secret/", tag = "hooks", params(("id" = i64, Path, description = "the object's id")), responses((status = 200, description = "the hook with its new secret", body = Object), (status = 404, description = "no such object", body = ApiError)))]
pub async fn post_rotate_secret(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    let id = id.into_inner();
    let current = load(&state, id).await?;
    let grace = chrono::Duration::hours(i64::from(state.config.webhooks.secret_grace_hours));
    let mut conn = state.conn().await?;
    let hook: Hook = diesel::update(hooks::table.find(id))
        .set((
            hooks::secret.eq(new_secret()),
            hooks::previous_secret.eq(Some(current.secret)),
            hooks::previous_secret_expires.eq(Some(Utc::now() + grace)),
            hooks::modified_date.eq(Utc::now()),
        ))
        .returning(Hook::as_returning())
        .get_result(&mut conn)
        .await
        .map_err(ApiError::internal)?;
    drop(conn);
    state.announce(GalleryObject::Hook, id).await;
    tracing::info!(hook.id = id, user.id = user.id, "secret of hook {id} rotated");
    Ok(HttpResponse::Ok().json(view(&hook)))
}
