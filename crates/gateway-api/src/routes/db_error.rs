//! Database errors a client caused, told apart from ours.

use diesel::result::{DatabaseErrorKind, Error};
use domain::ApiError;
use domain::error::ErrorCode;

/// Foreign-key violations name the client's `param`; unique violations are conflicts; the rest is ours.
pub fn map(e: Error, param: &str) -> ApiError {
    match e {
        Error::NotFound => ApiError::not_found("object"),
        Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
            ApiError::bad_param(param, format!("{param} refers to an object that does not exist"))
        }
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            ApiError::new(ErrorCode::Conflict, "an object with these values already exists").with_param(param)
        }
        Error::DatabaseError(DatabaseErrorKind::CheckViolation, _) => {
            ApiError::bad_param(param, format!("{param} is out of range"))
        }
        // diesel refuses an UPDATE without columns: a PATCH whose body names no field.
        Error::QueryBuilderError(_) => ApiError::bad_param("body", "the body changes nothing: give at least one field"),
        other => ApiError::internal(other),
    }
}

/// A DELETE that removed no row: the object did not exist.
pub fn deleted(rows: usize, what: &str) -> Result<(), ApiError> {
    if rows == 0 { Err(ApiError::not_found(what)) } else { Ok(()) }
}
