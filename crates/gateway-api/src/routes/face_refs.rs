//! Naming a face in a request: `detection:<uuid>` (a `POST /detect/` result, until DETECTION_TTL
//! runs out) or `dossierface:<id>` (an enrolled face). Verify, `create_from` and `looks_like` all
//! resolve their faces here, so every endpoint answers an unknown or expired face the same way.

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::ApiError;
use domain::db::DbConn;
use domain::schema::{detection_photos, detections, dossier_faces};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceRef {
    Detection(uuid::Uuid),
    DossierFace(i64),
}

impl FaceRef {
    /// Parses `detection:<uuid>` or `dossierface:<id>`; `param` names the field in the error.
    pub fn parse(param: &str, raw: &str) -> Result<Self, ApiError> {
        let bad =
            || ApiError::bad_param(param, format!("{param} must be detection:<id> or dossierface:<id>, not {raw:?}"));
        let (kind, id) = raw.trim().split_once(':').ok_or_else(bad)?;
        match kind {
            "detection" => id.parse().map(Self::Detection).map_err(|_| bad()),
            "dossierface" => id.parse().map(Self::DossierFace).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

/// A `looks_like` search: the face, `threshold` (0..1, default CONFIDENCE_THRESHOLD) and `limit`
/// (the list's, 1..1000, default 20), as `GET /dossiers/` and `GET /events/faces/` read them.
pub struct LooksLike {
    pub face: FaceRef,
    pub threshold: f32,
    pub limit: i64,
}

impl LooksLike {
    pub fn parse(pairs: &super::pagination::QueryPairs, raw: &str, default_threshold: f32) -> Result<Self, ApiError> {
        use super::pagination as p;
        let face = FaceRef::parse("looks_like", raw)?;
        let limit = p::limit(pairs)?;
        let threshold = match p::parse_one::<f32>(pairs, "threshold")? {
            Some(t) if (0.0..=1.0).contains(&t) => t,
            Some(_) => return Err(ApiError::bad_param("threshold", "threshold must be between 0 and 1")),
            None => default_threshold,
        };
        Ok(Self { face, threshold, limit })
    }
}

/// A live detection with its photo, as `create_from` needs it.
pub struct StoredDetection {
    pub embedding: Vec<f32>,
    pub quality: f32,
    /// left, top, right, bottom in the photo's pixels.
    pub bbox: [i32; 4],
    pub photo: Vec<u8>,
}

/// The detection, if it exists and has not expired. Expired rows may linger until the next
/// `POST /detect/` sweeps them, so the expiry is checked here rather than trusted to the sweep.
pub async fn detection(conn: &mut DbConn, param: &str, id: uuid::Uuid) -> Result<StoredDetection, ApiError> {
    type Row = (Vec<f32>, f32, i32, i32, i32, i32, Vec<u8>);
    let row: Option<Row> = detections::table
        .inner_join(detection_photos::table)
        .filter(detections::id.eq(id))
        .filter(detection_photos::expires_at.gt(Utc::now()))
        .select((
            detections::embedding,
            detections::quality,
            detections::bbox_left,
            detections::bbox_top,
            detections::bbox_right,
            detections::bbox_bottom,
            detection_photos::photo,
        ))
        .first(conn)
        .await
        .optional()
        .map_err(ApiError::internal)?;
    let (embedding, quality, l, t, r, b, photo) = row.ok_or_else(|| {
        ApiError::new(
            domain::error::ErrorCode::NotFound,
            format!("detection {id} is unknown or expired (POST /detect/ results are kept DETECTION_TTL seconds)"),
        )
        .with_param(param)
    })?;
    Ok(StoredDetection { embedding, quality, bbox: [l, t, r, b], photo })
}

/// The face's feature vector.
pub async fn vector(conn: &mut DbConn, param: &str, face: FaceRef) -> Result<Vec<f32>, ApiError> {
    match face {
        FaceRef::Detection(id) => Ok(detection(conn, param, id).await?.embedding),
        FaceRef::DossierFace(id) => dossier_faces::table
            .find(id)
            .select(dossier_faces::embedding)
            .first(conn)
            .await
            .optional()
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::not_found(&format!("dossier face {id}")).with_param(param)),
    }
}

/// The `confidence` of two faces: their cosine similarity clamped to 0..1 (opposite vectors are
/// as different as orthogonal ones to a client), the same measure ingest matches with.
pub fn confidence(a: &[f32], b: &[f32]) -> f32 {
    let c = if a.len() == b.len() { domain::recognizer::similarity(a, b) } else { 0.0 };
    if c.is_finite() { c.clamp(0.0, 1.0) } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_kinds_and_refuses_the_rest() {
        let id = uuid::Uuid::now_v7();
        assert_eq!(FaceRef::parse("f", &format!("detection:{id}")).unwrap(), FaceRef::Detection(id));
        assert_eq!(FaceRef::parse("f", "dossierface:7").unwrap(), FaceRef::DossierFace(7));
        for bad in ["", "7", "detection:7", "dossierface:x", "event:1"] {
            assert_eq!(FaceRef::parse("f", bad).unwrap_err().param.as_deref(), Some("f"), "{bad}");
        }
    }

    #[test]
    fn confidence_is_bounded_and_symmetric() {
        let (a, b) = ([0.6_f32, 0.8], [0.8_f32, 0.6]);
        assert_eq!(confidence(&a, &b), confidence(&b, &a));
        assert_eq!(confidence(&a, &[-0.6, -0.8]), 0.0);
        assert!((confidence(&a, &a) - 1.0).abs() < 1e-6);
        assert_eq!(confidence(&a, &[1.0]), 0.0);
    }
}
