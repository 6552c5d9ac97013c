//! Reading a multipart form into named parts with per-part size limits, before anything is decoded.

use std::collections::HashMap;

use actix_multipart::Multipart;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use crate::ApiError;
use crate::error::ErrorCode;

/// Text parts are small; anything bigger is a client bug or an attack.
pub const TEXT_LIMIT: usize = 64 * 1024;
/// No form we read has more parts than this; more is a client bug or an attack.
pub const MAX_PARTS: usize = 32;

/// Reads every part. Parts named in `binary` may be up to `binary_limit` bytes, the rest up to
/// [`TEXT_LIMIT`]. A repeated name keeps its last value.
pub async fn read_parts(
    mut multipart: Multipart,
    binary: &[&str],
    binary_limit: usize,
) -> Result<HashMap<String, Bytes>, ApiError> {
    let mut parts = HashMap::new();
    // Each part has its limit, and the whole form one too, so unknown parts cannot pile up.
    let total_limit = binary_limit.saturating_mul(2).saturating_add(MAX_PARTS * TEXT_LIMIT);
    let (mut total, mut count) = (0_usize, 0_usize);
    while let Some(field) = multipart.next().await {
        count += 1;
        if count > MAX_PARTS {
            return Err(ApiError::bad_param("body", format!("more than {MAX_PARTS} parts")));
        }
        let mut field = field.map_err(|e| ApiError::bad_param("body", format!("malformed multipart body: {e}")))?;
        let name = field.name().unwrap_or_default().to_string();
        let limit = if binary.contains(&name.as_str()) { binary_limit } else { TEXT_LIMIT };
        let mut buffer = BytesMut::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| ApiError::bad_param(&name, format!("cannot read part: {e}")))?;
            if buffer.len() + chunk.len() > limit {
                return Err(ApiError::new(ErrorCode::PayloadTooLarge, format!("part {name} exceeds {limit} bytes"))
                    .with_param(&name));
            }
            total += chunk.len();
            if total > total_limit {
                return Err(ApiError::new(ErrorCode::PayloadTooLarge, format!("form exceeds {total_limit} bytes")));
            }
            buffer.extend_from_slice(&chunk);
        }
        parts.insert(name, buffer.freeze());
    }
    Ok(parts)
}

/// A text part as UTF-8.
pub fn text(parts: &HashMap<String, Bytes>, name: &str) -> Result<Option<String>, ApiError> {
    parts
        .get(name)
        .map(|b| {
            String::from_utf8(b.to_vec()).map_err(|_| ApiError::bad_param(name, format!("{name} must be UTF-8 text")))
        })
        .transpose()
}
