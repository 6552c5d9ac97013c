//! `/users/` (admin only): accounts with the roles viewer, operator and admin. Passwords are stored
//! as argon2id hashes and never returned; changing a password or deactivating a user revokes its
//! tokens.

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::error::ErrorCode;
use domain::models::{NewUser, User};
use domain::schema::{api_tokens, users};
use domain::{ApiError, flex};
use serde::Deserialize;
use serde_json::{Value, json};

use super::db_error;
use super::pagination::{ListPage, PageParams, list_table};
use crate::auth::{AuthUser, Role, password};
use crate::json_body::JsonBody;
use crate::state::AppState;

const MIN_PASSWORD: usize = 8;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct UserBody {
    username: Option<String>,
    password: Option<String>,
    role: Option<String>,
    #[serde(default, deserialize_with = "flex::bool_opt")]
    active: Option<bool>,
}

pub fn view(u: &User) -> Value {
    json!({
        "id": u.id, "username": u.username, "role": u.role, "active": u.active,
        "created_date": u.created_date, "last_login": u.last_login,
    })
}

fn checked_role(role: Option<String>) -> Result<Option<String>, ApiError> {
    match role {
        Some(r) if Role::parse(&r).is_none() => {
            Err(ApiError::bad_param("role", "role must be viewer, operator or admin"))
        }
        other => Ok(other),
    }
}

async fn checked_hash(password: Option<String>) -> Result<Option<String>, ApiError> {
    match password {
        Some(p) if p.chars().count() < MIN_PASSWORD => {
            Err(ApiError::bad_param("password", format!("password must have at least {MIN_PASSWORD} characters")))
        }
        Some(p) => password::hash(p).await.map(Some).map_err(ApiError::internal),
        None => Ok(None),
    }
}

#[utoipa::path(post, path = "/users/", tag = "users", request_body = UserBody, responses((status = 201, description = "the created object", body = Object), (status = 400, description = "a bad parameter, named in param", body = ApiError), (status = 409, description = "conflicts with a stored object", body = ApiError)))]
pub async fn post_user(
    user: AuthUser,
    state: web::Data<AppState>,
    body: JsonBody<UserBody>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    let body = body.into_inner()?;
    let username = body.username.map(|u| u.trim().to_string()).filter(|u| !u.is_empty());
    let username = username.ok_or_else(|| ApiError::bad_param("username", "username is required"))?;
    let role = checked_role(body.role)?.unwrap_or_else(|| "viewer".into());
    let hash =
        checked_hash(body.password).await?.ok_or_else(|| ApiError::bad_param("password", "password is required"))?;
    let mut conn = state.conn().await?;
    let created: User = diesel::insert_into(users::table)
        .values(NewUser { username, password_hash: hash, role, active: body.active.unwrap_or(true) })
        .returning(User::as_returning())
        .get_result(&mut conn)
        .await
        .map_err(|e| db_error::map(e, "username"))?;
    tracing::info!(user.id = user.id, created.id = created.id, "user {} created user {}", user.id, created.id);
    Ok(HttpResponse::Created().json(view(&created)))
}

#[utoipa::path(get, path = "/users/", tag = "users", params(PageParams), responses((status = 200, description = "users, in id order", body = ListPage), (status = 400, description = "a bad parameter, named in param", body = ApiError)))]
pub async fn get_users(req: HttpRequest, user: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    list_table!(&state, &req, users, User, view)
}

#[utoipa::path(get, path = "/users/{id}/", tag = "users", params(("id" = i64, Path, description = "the object's id")), responses((status = 200, description = "the object", body = Object), (status = 404, description = "no such object", body = ApiError)))]
pub async fn get_user(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    let mut conn = state.conn().await?;
    let found: User = users::table
        .find(id.into_inner())
        .select(User::as_select())
        .first(&mut conn)
        .await
        .map_err(|e| db_error::map(e, "id"))?;
    Ok(HttpResponse::Ok().json(view(&found)))
}

#[derive(AsChangeset)]
#[diesel(table_name = users)]
struct UserChanges {
    username: Option<String>,
    password_hash: Option<String>,
    role: Option<String>,
    active: Option<bool>,
}

#[utoipa::path(patch, path = "/users/{id}/", tag = "users", params(("id" = i64, Path, description = "the object's id")), request_body = UserBody, responses((status = 200, description = "the changed object", body = Object), (status = 400, description = "a bad parameter, named in param", body = ApiError), (status = 404, description = "no such object", body = ApiError), (status = 409, description = "conflicts with a stored object", body = ApiError)))]
pub async fn patch_user(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<UserBody>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    let id = id.into_inner();
    let body = body.into_inner()?;
    if id == user.id && (body.active == Some(false) || body.role.as_deref().is_some_and(|r| r != "admin")) {
        return Err(ApiError::new(ErrorCode::Conflict, "admins cannot demote or deactivate themselves"));
    }
    let username = match body.username.map(|u| u.trim().to_string()) {
        Some(u) if u.is_empty() => return Err(ApiError::bad_param("username", "username must not be empty")),
        other => other,
    };
    let revoke = body.password.is_some() || body.active == Some(false);
    let changes = UserChanges {
        username,
        password_hash: checked_hash(body.password).await?,
        role: checked_role(body.role)?,
        active: body.active,
    };
    let mut conn = state.conn().await?;
    let updated: User = diesel::update(users::table.find(id))
        .set(changes)
        .returning(User::as_returning())
        .get_result(&mut conn)
        .await
        .map_err(|e| db_error::map(e, "username"))?;
    if revoke {
        diesel::delete(api_tokens::table.filter(api_tokens::user_id.eq(id)))
            .execute(&mut conn)
            .await
            .map_err(ApiError::internal)?;
    }
    Ok(HttpResponse::Ok().json(view(&updated)))
}

#[utoipa::path(delete, path = "/users/{id}/", tag = "users", params(("id" = i64, Path, description = "the object's id")), responses((status = 204, description = "deleted"), (status = 404, description = "no such object", body = ApiError), (status = 409, description = "conflicts with a stored object", body = ApiError)))]
pub async fn delete_user(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    user.require(Role::Admin)?;
    let id = id.into_inner();
    if id == user.id {
        return Err(ApiError::new(ErrorCode::Conflict, "admins cannot delete themselves"));
    }
    let mut conn = state.conn().await?;
    let deleted = diesel::delete(users::table.find(id)).execute(&mut conn).await.map_err(ApiError::internal)?;
    db_error::deleted(deleted, "user")?;
    Ok(HttpResponse::NoContent().finish())
}
