//! Feature vectors as clients send them: base64 of little-endian f32 values (the sf-api `facen`
//! encoding) or a JSON array of numbers. Stored and compared L2-normalised, so cosine similarity
//! is a dot product.

use base64::Engine;

use crate::ApiError;

/// The widest feature vector we accept; real extractors emit 128 to 512 dimensions.
pub const MAX_DIMENSIONS: usize = 4096;

/// Parses the part or field `param`; `None` when it is absent or empty.
pub fn parse(param: &str, raw: Option<&[u8]>) -> Result<Option<Vec<f32>>, ApiError> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else { return Ok(None) };
    let bad = |why: &str| ApiError::bad_param(param, format!("{param} {why}"));
    let trimmed = raw.trim_ascii();
    let vector: Vec<f32> = if trimmed.starts_with(b"[") {
        serde_json::from_slice::<Vec<f32>>(trimmed).map_err(|_| bad("must be a JSON array of numbers"))?
    } else {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(trimmed)
            .map_err(|_| bad("must be base64 of little-endian f32 values or a JSON array"))?;
        if bytes.len() % 4 != 0 {
            return Err(bad("length is not a multiple of 4 bytes"));
        }
        bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    };
    if vector.is_empty() || vector.len() > MAX_DIMENSIONS {
        return Err(bad(&format!("must have 1 to {MAX_DIMENSIONS} dimensions")));
    }
    if !vector.iter().all(|v| v.is_finite()) {
        return Err(bad("must hold finite numbers"));
    }
    normalise(vector).map(Some).ok_or_else(|| bad("must not be all zeros"))
}

pub fn normalise(mut vector: Vec<f32>) -> Option<Vec<f32>> {
    let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm <= f32::EPSILON || !norm.is_finite() {
        return None;
    }
    vector.iter_mut().for_each(|v| *v /= norm);
    Some(vector)
}
