//! The operator console: plain HTML, CSS and ES modules read from STATIC_ROOT and served under
//! `/console/`, so that no console path can shadow an API path (they all live elsewhere).
//!
//! - A path whose last segment has no dot (`/console/`, `/console/events/123`) is a console route
//!   and gets `index.html`: the console routes in the browser (history API), and a reload or a
//!   bookmarked link must land in it. A missing file with an extension is a 404, never index.html,
//!   so a typo in a module name fails loudly instead of parsing HTML as JavaScript.
//! - Only the extensions of [`content_type`] are served, typed by the name (the files are ours);
//!   other files under STATIC_ROOT, hidden ones and anything outside it cannot be named.
//! - The files are not fingerprinted (there is no build step), so every answer is `no-cache` with
//!   an ETag: the browser revalidates each load with a cheap 304 and sees an upgrade at once.

use std::path::Path;
use std::time::UNIX_EPOCH;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use domain::ApiError;
use domain::media_link::safe_relative;

use crate::state::AppState;

/// Where the console lives; `/` redirects here.
pub const PREFIX: &str = "/console/";

/// Same origin only: no inline script, no external fonts or CDNs; images from the signed media
/// URLs (same host, or EXTERNAL_ADDRESS's) and `blob:` previews of a photo about to be uploaded.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' http: https: blob: data:; \
                   connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/// The content type of a console file by its extension, or None for a file the console does not
/// serve.
pub fn content_type(path: &str) -> Option<&'static str> {
    let extension = path.rsplit_once('.')?.1;
    Some(match extension {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => return None,
    })
}

/// Which file answers the console path `tail` (the part after `/console/`): index.html for a
/// console route, the file itself otherwise; None when the path cannot name a console file.
pub fn file_for(tail: &str) -> Option<&str> {
    let last = tail.rsplit('/').next().unwrap_or_default();
    if !last.contains('.') {
        return Some("index.html");
    }
    let relative = safe_relative(tail)?;
    content_type(relative)?;
    Some(relative)
}

/// `GET /`: the console.
#[utoipa::path(get, path = "/", tag = "console", responses((status = 302, description = "to /console/")))]
pub async fn get_root() -> HttpResponse {
    HttpResponse::Found().insert_header((header::LOCATION, PREFIX)).finish()
}

#[utoipa::path(get, path = "/console/{path}", tag = "console",
    params(("path" = String, Path, description = "a console file (`app.js`), or a console route (`events/<id>`) answered with index.html")),
    responses((status = 200, description = "the file", body = String, content_type = "text/html"),
              (status = 304, description = "the cached copy is current"),
              (status = 404, description = "no such console file, or no console under STATIC_ROOT", body = ApiError)))]
pub async fn get_console(req: HttpRequest, state: actix_web::web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    // The raw, undecoded path, as for media: `%2e%2e` stays plain characters that safe_relative refuses.
    let tail = req.uri().path().strip_prefix(PREFIX).unwrap_or_default();
    let relative = file_for(tail).ok_or_else(|| ApiError::not_found("console file"))?;
    let root = &state.config.static_root;
    let file = read(root, relative).await.map_err(|e| {
        if relative == "index.html" {
            tracing::warn!(static_root = %root.display(), error = %e, "the console is not installed: cannot read index.html under STATIC_ROOT {}: {e}", root.display());
        }
        ApiError::not_found("console file")
    })?;
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim().trim_start_matches("W/") == file.etag));
    let mut response = if fresh { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    response
        .insert_header((header::ETAG, file.etag.as_str()))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .insert_header((header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .insert_header((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .insert_header((header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)));
    if fresh {
        return Ok(response.finish());
    }
    let kind = content_type(relative).unwrap_or("application/octet-stream");
    Ok(response.content_type(kind).body(file.bytes))
}

struct ConsoleFile {
    bytes: Vec<u8>,
    etag: String,
}

async fn read(root: &Path, relative: &str) -> std::io::Result<ConsoleFile> {
    let path = root.join(relative);
    let bytes = tokio::fs::read(&path).await?;
    let modified = tokio::fs::metadata(&path)
        .await?
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    Ok(ConsoleFile { etag: format!("\"{:x}-{modified:x}\"", bytes.len()), bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_routes_get_the_index_and_files_themselves() {
        assert_eq!(file_for(""), Some("index.html"));
        assert_eq!(file_for("live"), Some("index.html"));
        assert_eq!(file_for("events/0192c5a0-aaaa-7bbb-8ccc-000000000000"), Some("index.html"));
        assert_eq!(file_for("app.js"), Some("app.js"));
        assert_eq!(file_for("pages/live.js"), Some("pages/live.js"));
        assert_eq!(file_for("style.css"), Some("style.css"));
    }

    #[test]
    fn nothing_outside_the_console_or_of_an_unknown_kind() {
        for bad in ["../Cargo.toml", "%2e%2e/x.js", ".env.js", "a//b.js", "x.rs", "secret.toml", "a\\b.js"] {
            assert_eq!(file_for(bad), None, "{bad}");
        }
    }

    #[test]
    fn types_by_extension() {
        assert_eq!(content_type("a.js"), Some("text/javascript; charset=utf-8"));
        assert_eq!(content_type("index.html"), Some("text/html; charset=utf-8"));
        assert_eq!(content_type("a.css"), Some("text/css; charset=utf-8"));
        assert_eq!(content_type("a"), None);
    }
}
