//! Client-visible errors: a stable code table and the `{code, desc, param}` body of the wire doc.
//! Anything else is logged once where it happens and answered as a bare `INTERNAL` 500, so no
//! internal text ever reaches a client.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    BadParam,
    /// A dossier photo below MINIMUM_DOSSIER_QUALITY.
    LowQuality,
    /// The built-in recognizer found no face in the image.
    NoFace,
    /// The built-in recognizer found a face, but too small to recognise (RECOGNIZER.MIN_FACE_SIZE).
    FaceTooSmall,
    /// An image part that does not decode (truncated, corrupt or an unsupported format).
    BadImage,
    Unauthorized,
    PermissionDenied,
    NotFound,
    Conflict,
    PayloadTooLarge,
    /// Too many failed logins for one username or one client address; see `Retry-After`.
    TooManyRequests,
    UnsupportedMediaType,
    /// We cannot accept durably right now (broker or database down); retry after a moment.
    ServiceUnavailable,
    Internal,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        match self {
            Self::BadParam | Self::LowQuality | Self::NoFace | Self::FaceTooSmall | Self::BadImage => {
                StatusCode::BAD_REQUEST
            }
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::PermissionDenied => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadParam => "BAD_PARAM",
            Self::LowQuality => "LOW_QUALITY",
            Self::NoFace => "NO_FACE",
            Self::FaceTooSmall => "FACE_TOO_SMALL",
            Self::BadImage => "BAD_IMAGE",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::PermissionDenied => "PERMISSION_DENIED",
            Self::NotFound => "NOT_FOUND",
            Self::Conflict => "CONFLICT",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::TooManyRequests => "TOO_MANY_REQUESTS",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::Internal => "INTERNAL",
        }
    }
}

/// The body of every error answer (the OpenAPI document's `ApiError` schema).
#[derive(Debug, Clone, Serialize, thiserror::Error, utoipa::ToSchema)]
#[error("{code:?}: {desc}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub desc: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    /// Seconds for the `Retry-After` header of a `TOO_MANY_REQUESTS` answer.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, desc: impl Into<String>) -> Self {
        Self { code, desc: desc.into(), param: None, retry_after: None }
    }

    pub fn bad_param(param: &str, desc: impl Into<String>) -> Self {
        Self { code: ErrorCode::BadParam, desc: desc.into(), param: Some(param.to_string()), retry_after: None }
    }

    pub fn with_param(mut self, param: &str) -> Self {
        self.param = Some(param.to_string());
        self
    }

    pub fn unauthorized(desc: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, desc)
    }

    pub fn forbidden(desc: impl Into<String>) -> Self {
        Self::new(ErrorCode::PermissionDenied, desc)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    /// 429 with `Retry-After: seconds` (at least 1).
    pub fn too_many_requests(desc: impl Into<String>, seconds: u64) -> Self {
        Self { retry_after: Some(seconds.max(1)), ..Self::new(ErrorCode::TooManyRequests, desc) }
    }

    pub fn unavailable(desc: impl Into<String>) -> Self {
        Self::new(ErrorCode::ServiceUnavailable, desc)
    }

    /// Logs the real cause once, here at the boundary, and hides it from the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error: {cause}");
        Self::new(ErrorCode::Internal, "internal error")
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self.code {
            // A worker acts on Retry-After; one second is about how long a broker reconnect takes.
            ErrorCode::ServiceUnavailable => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
            }
            ErrorCode::Unauthorized => {
                response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Token")));
            }
            ErrorCode::TooManyRequests => {
                response.insert_header((header::RETRY_AFTER, self.retry_after.unwrap_or(1).max(1).to_string()));
            }
            _ => {}
        }
        response.json(self)
    }
}

/// Maps actix's own extractor failures (bad JSON, bad query string, body too large) onto our body.
pub fn json_error_handler(err: actix_web::error::JsonPayloadError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as J;
    let api = match &err {
        J::Overflow { .. } | J::OverflowKnownLength { .. } => {
            ApiError::new(ErrorCode::PayloadTooLarge, "request body too large")
        }
        J::ContentType => ApiError::new(ErrorCode::UnsupportedMediaType, "expected application/json"),
        J::Deserialize(e) => ApiError::bad_param(&json_param(e), format!("invalid JSON body: {e}")),
        _ => ApiError::new(ErrorCode::BadParam, "invalid JSON body"),
    };
    api.into()
}

pub fn query_error_handler(
    err: actix_web::error::QueryPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::new(ErrorCode::BadParam, format!("invalid query string: {err}")).into()
}

pub fn path_error_handler(err: actix_web::error::PathError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    let _ = err;
    ApiError::new(ErrorCode::NotFound, "no such object").into()
}

/// Best-effort name of the offending field in a serde_json error ("missing field `name`"). Only
/// field errors name a field in backticks; in "invalid type: integer `5`" they quote the value.
fn json_param(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let names_field = ["missing field", "unknown field", "duplicate field"].iter().any(|p| text.starts_with(p));
    text.split('`').nth(1).filter(|_| names_field).map_or_else(|| "body".to_string(), str::to_string)
}
