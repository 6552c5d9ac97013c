//! The video worker's token check. Both sides are hashed first so the comparison is constant-time
//! and does not even leak the token's length.

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;
use domain::ApiError;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The token of an `Authorization: Token <token>` header (clients also send two spaces).
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("token") && !token.is_empty()).then_some(token)
}

pub fn tokens_equal(given: &str, expected: &str) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    bool::from(a.ct_eq(&b)) && !expected.is_empty()
}

pub fn authorize_worker(req: &HttpRequest, expected: &str) -> Result<(), ApiError> {
    match bearer_token(req) {
        Some(token) if tokens_equal(token, expected) => Ok(()),
        Some(_) => Err(ApiError::unauthorized("invalid video detector token")),
        None => Err(ApiError::unauthorized("missing Authorization: Token <VIDEO_DETECTOR_TOKEN> header")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_tokens() {
        assert!(tokens_equal("abc", "abc"));
        assert!(!tokens_equal("abd", "abc"));
        assert!(!tokens_equal("", ""));
    }

    #[test]
    fn reads_token_header_with_extra_spaces() {
        let req =
            actix_web::test::TestRequest::default().insert_header((AUTHORIZATION, "Token  secret")).to_http_request();
        assert_eq!(bearer_token(&req), Some("secret"));
        let req =
            actix_web::test::TestRequest::default().insert_header((AUTHORIZATION, "Bearer secret")).to_http_request();
        assert_eq!(bearer_token(&req), None);
    }
}
