//! `/hooks/`: webhook subscriptions. Each gets a Standard Webhooks secret (`whsec_<base64>`) at
//! creation, shown to admins so consumers can verify signatures.

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
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

use super::{db_error, pagination as p};
use crate::auth::{AuthUser, Role};
use crate::state::AppState;

#[derive(Deserialize)]
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
        "secret": h.secret, "created_date": h.created_date, "modified_date": h.modified_date,
    })
}

fn new_secret() -> String {
    let mut raw = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(raw))
}

pub async fn post_hook(
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<HookBody>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    let body = body.into_inner();
    if body.name.trim().is_empty() {
        return Err(ApiError::bad_param("name", "name must not be empty"));
    }
    let url = body.url.trim().to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
        return Err(ApiError::bad_param("url", "url must be an http:// or https:// URL"));
    }
    let batch_size = body.batch_size.unwrap_or(1);
    if !(1..=1000).contains(&batch_size) {
        return Err(ApiError::bad_param("batch_size", "batch_size must be between 1 and 1000"));
    }
    let send_attempts = body.send_attempts.unwrap_or(5);
    if send_attempts < 0 {
        return Err(ApiError::bad_param("send_attempts", "send_attempts must be 0 (retry until delivered) or more"));
    }
    let filters = body.filters.unwrap_or_else(|| json!({}));
    serde_json::from_value::<EventFilters>(filters.clone())
        .map_err(|e| ApiError::bad_param("filters", format!("invalid filters: {e}")))?;
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

pub async fn get_hooks(req: HttpRequest, user: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    let pairs = p::query_pairs(&req)?;
    let (limit, page) = (p::limit(&pairs)?, p::page(&pairs)?);
    let mut conn = state.conn().await?;
    let count: i64 = hooks::table.count().get_result(&mut conn).await.map_err(ApiError::internal)?;
    let rows: Vec<Hook> = hooks::table
        .order(hooks::id)
        .limit(limit)
        .offset((page - 1) * limit)
        .select(Hook::as_select())
        .load(&mut conn)
        .await
        .map_err(ApiError::internal)?;
    let results: Vec<Value> = rows.iter().map(view).collect();
    Ok(p::offset_list(&state, &req, &pairs, count, page, limit, results))
}
