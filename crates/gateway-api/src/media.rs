//! `GET /uploads/<path>`: stored images, read through the configured media store (MEDIA_ROOT or
//! an S3-compatible bucket), for a caller with a token or a valid signed URL
//! (`domain::media_link`). The path is checked as a sequence of plain segments before the store
//! is asked, so nothing outside it can be named; the content type comes from the image's first
//! bytes, never from the name.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use domain::image::ImageKind;
use domain::media_link::{LinkError, MediaSigner, safe_relative, unix_now};
use domain::{ApiError, Config};
use rand::RngCore;
use serde::Deserialize;

use crate::auth::user::{authenticate, header_token};
use crate::state::AppState;

/// The URL signer: keyed with SECRET_KEY, or with a random key when it is empty.
pub fn signer(config: &Config) -> MediaSigner {
    let key = if config.secret_key.is_empty() {
        tracing::warn!(
            "SECRET_KEY is empty: media URLs are signed with a random key, valid on this replica until it restarts"
        );
        let mut key = vec![0_u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        key
    } else {
        config.secret_key.as_bytes().to_vec()
    };
    MediaSigner::new(key, config.auth.media_url_ttl_seconds)
}

#[derive(Deserialize)]
struct SignedQuery {
    expires: Option<String>,
    signature: Option<String>,
}

/// Whether the caller may read `path`; on success the seconds a private cache may keep it.
/// A token header wins over a signature (a logged-in client with a stale URL still gets the
/// file); without either the answer is 401, with a bad or expired signature 403.
async fn authorise(req: &HttpRequest, state: &AppState, path: &str) -> Result<u64, ApiError> {
    if let Some(token) = header_token(req) {
        authenticate(state, &token).await?;
        return Ok(state.config.auth.media_url_ttl_seconds);
    }
    let query: SignedQuery =
        serde_urlencoded::from_str(req.query_string()).map_err(|_| ApiError::forbidden("invalid media link"))?;
    let Some(signature) = query.signature else {
        return Err(ApiError::unauthorized("media needs a token or a signed URL"));
    };
    let expires: u64 =
        query.expires.and_then(|e| e.parse().ok()).ok_or_else(|| ApiError::forbidden("invalid media link"))?;
    state.media_signer.verify(path, expires, &signature, unix_now()).map_err(|e| match e {
        LinkError::Expired => ApiError::forbidden("media link expired; fetch the object again for a fresh one"),
        LinkError::BadSignature => ApiError::forbidden("invalid media link"),
    })
}

/// The content type of a stored image from its first bytes; anything not a known image is served
/// as opaque bytes, so a planted file can never be rendered as HTML or script.
fn content_type(bytes: &[u8]) -> &'static str {
    match ImageKind::sniff(&bytes[..bytes.len().min(16)]) {
        Some(ImageKind::Jpeg) => "image/jpeg",
        Some(ImageKind::Png) => "image/png",
        Some(ImageKind::Webp) => "image/webp",
        None => "application/octet-stream",
    }
}

/// Whether the client's cached copy (`If-None-Match`) is still this object.
fn still_fresh(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == "*" || tag.trim().trim_start_matches("W/") == etag))
}

#[utoipa::path(get, path = "/uploads/{path}", tag = "media", params(("path" = String, Path, description = "the file's path under MEDIA_ROOT, as object URLs give it"),
        ("expires" = Option<u64>, Query, description = "a signed URL's expiry (Unix seconds); with signature, replaces the token"),
        ("signature" = Option<String>, Query, description = "a signed URL's signature")),
    responses((status = 200, description = "the file; its type from its first bytes", body = String, content_type = "application/octet-stream"),
              (status = 403, description = "a bad or expired signed URL", body = ApiError),
              (status = 404, description = "no such file", body = ApiError)))]
pub async fn get_media(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    // The raw, undecoded path: `%2e%2e` stays four plain characters that safe_relative refuses.
    let raw = req.uri().path().strip_prefix("/uploads/").unwrap_or_default();
    let max_age = authorise(&req, &state, raw).await?;
    let relative = safe_relative(raw).ok_or_else(|| ApiError::not_found("file"))?;
    let object = state
        .media
        .get(relative.to_string())
        .await
        .map_err(|e| {
            tracing::error!(path = %raw, error = %e, "cannot read media {raw}: {e}");
            ApiError::unavailable("media store unavailable; retry shortly")
        })?
        .ok_or_else(|| ApiError::not_found("file"))?;
    // Private: the image is only for this caller; stored images never change, so caching for as
    // long as the authorisation lasts is safe.
    let cache = format!("private, max-age={max_age}");
    let fresh = still_fresh(&req, &object.etag);
    let mut response = if fresh { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    response
        .insert_header((header::ETAG, object.etag.as_str()))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")));
    if let Some(modified) = object.modified {
        response.insert_header((header::LAST_MODIFIED, header::HttpDate::from(modified)));
    }
    if fresh {
        return Ok(response.finish());
    }
    Ok(response.content_type(content_type(&object.bytes)).body(object.bytes))
}

/// `HEAD /uploads/<path>`: the same answer without the body (actix drops it for HEAD).
#[utoipa::path(head, path = "/uploads/{path}", tag = "media", params(("path" = String, Path, description = "the file's path under MEDIA_ROOT, as object URLs give it"),
        ("expires" = Option<u64>, Query, description = "a signed URL's expiry (Unix seconds); with signature, replaces the token"),
        ("signature" = Option<String>, Query, description = "a signed URL's signature")),
    responses((status = 200, description = "the file's headers"),
              (status = 403, description = "a bad or expired signed URL", body = ApiError),
              (status = 404, description = "no such file", body = ApiError)))]
pub async fn head_media(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    get_media(req, state).await
}
