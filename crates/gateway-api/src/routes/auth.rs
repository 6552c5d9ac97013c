//! `POST /auth/login/` (HTTP Basic -> token), `POST /auth/logout/`, `GET /users/me/`.

use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::ApiError;
use domain::models::User;
use domain::schema::users;
use serde_json::json;

use crate::auth::user::header_token;
use crate::auth::{AuthUser, password, token};
use crate::state::AppState;

fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

/// The JSON body clients send along (`video_auth_token`, `uuid`, `mobile`, `device_info`) is
/// accepted and ignored.
#[utoipa::path(post, path = "/auth/login/", tag = "auth", responses((status = 200, description = "`{token, user, token_expiration_datetime}`", body = Object), (status = 401, description = "no HTTP Basic credentials, or wrong ones", body = ApiError), (status = 429, description = "too many failed logins; see Retry-After", body = ApiError)))]
pub async fn post_login(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (username, pass) =
        basic_credentials(&req).ok_or_else(|| ApiError::unauthorized("login needs HTTP Basic credentials"))?;
    // The TCP peer, not X-Forwarded-For: a header the client writes must not pick its own bucket.
    let address = req.peer_addr().map_or_else(|| "unknown".to_string(), |a| a.ip().to_string());
    state.login_limiter.attempt(&username, &address)?;
    let mut conn = state.conn().await?;
    let user: Option<User> = users::table
        .filter(users::username.eq(&username))
        .filter(users::active.eq(true))
        .select(User::as_select())
        .first(&mut conn)
        .await
        .optional()
        .map_err(ApiError::internal)?;
    // Verify against a fixed hash when the user is unknown, so timing does not reveal usernames.
    let stored = user.as_ref().map_or_else(|| UNKNOWN_USER_HASH.to_string(), |u| u.password_hash.clone());
    let valid = password::verify(pass, stored).await;
    let Some(user) = user.filter(|_| valid) else {
        tracing::info!(username = %username, "failed login for {username}");
        return Err(ApiError::unauthorized("invalid username or password"));
    };
    state.login_limiter.succeeded(&username, &address);
    let (token, expires) =
        token::issue(&mut conn, user.id, state.config.auth.token_ttl_hours).await.map_err(ApiError::internal)?;
    diesel::update(users::table.find(user.id))
        .set(users::last_login.eq(Utc::now()))
        .execute(&mut conn)
        .await
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(json!({
        "token": token,
        "user": {"id": user.id, "username": user.username, "role": user.role, "active": user.active},
        "token_expiration_datetime": expires,
    })))
}

#[utoipa::path(post, path = "/auth/logout/", tag = "auth", responses((status = 204, description = "the token is revoked")))]
pub async fn post_logout(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = header_token(&req).ok_or_else(|| ApiError::unauthorized("missing token"))?;
    let mut conn = state.conn().await?;
    token::revoke(&mut conn, &token).await.map_err(ApiError::internal)?;
    tracing::info!(user.id = user.id, "user {} logged out", user.id);
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/users/me/", tag = "auth", responses((status = 200, description = "`{id, username, role}`", body = Object)))]
pub async fn get_me(user: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(json!({"id": user.id, "username": user.username, "role": user.role}))
}

/// argon2id hash of a random string nobody knows; only used to spend the same time on unknown users.
const UNKNOWN_USER_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$5ZJmS2C0gU0jYkDJX2c2iJ8qQ4yZ2wq3vB1mXh0x7hA";
