//! The authenticated caller, extracted from `Authorization: Token <token>`, and the role ladder.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use domain::ApiError;
use serde::Serialize;

use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "viewer" => Some(Self::Viewer),
            "operator" => Some(Self::Operator),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AuthUser {
    pub id: i64,
    pub username: String,
    pub role: Role,
}

impl AuthUser {
    /// Admin includes operator includes viewer.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("this action needs the {} role", role.as_str())))
        }
    }
}

/// The token of an `Authorization: Token <token>` header; clients also send two spaces.
pub fn header_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("token") && !token.is_empty()).then(|| token.to_string())
}

/// Resolves a token to its user; `UNAUTHORIZED` for an unknown, expired or revoked one.
pub async fn authenticate(state: &AppState, token: &str) -> Result<AuthUser, ApiError> {
    let mut conn = state.conn().await?;
    let user = crate::auth::token::lookup(&mut conn, token)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::unauthorized("invalid or expired token"))?;
    let role =
        Role::parse(&user.role).ok_or_else(|| ApiError::internal(format!("user {} has unknown role", user.id)))?;
    Ok(AuthUser { id: user.id, username: user.username, role })
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = header_token(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = token.ok_or_else(|| ApiError::unauthorized("missing Authorization: Token <token> header"))?;
            let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
            authenticate(&state, &token).await
        })
    }
}
