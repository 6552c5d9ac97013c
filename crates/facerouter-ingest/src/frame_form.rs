//! The worker's multipart form (wire doc §1) read into typed values. Parts are identified by name
//! and images by their bytes; unknown parts are read and ignored, as the vendor's gateway did.

use actix_multipart::Multipart;
use bytes::Bytes;
use chrono::{DateTime, NaiveDateTime, Utc};
use domain::config::{EventFeature, FfSecurity};
use domain::event::{Attribute, BBox, BsType, Features};
use domain::image::ImageKind;
use domain::multipart;
use domain::{ApiError, ErrorCode};

/// The raw parts, before validation.
#[derive(Debug, Default)]
pub struct RawForm {
    pub cam_id: Option<String>,
    pub bbox: Option<String>,
    pub timestamp: Option<String>,
    pub detector_params: Option<String>,
    pub bs_type: Option<String>,
    pub photo: Option<Bytes>,
    pub normalized: Option<Bytes>,
    pub facen: Option<Bytes>,
    pub attributes: Option<String>,
}

pub async fn read_form(multipart: Multipart, image_limit: usize) -> Result<RawForm, ApiError> {
    // Parts are buffered up to `image_limit` each and refused past it, before anything is decoded.
    let mut parts = multipart::read_parts(multipart, &["photo", "normalized", "face0", "facen"], image_limit).await?;
    Ok(RawForm {
        cam_id: multipart::text(&parts, "cam_id")?,
        bbox: multipart::text(&parts, "bbox")?,
        timestamp: multipart::text(&parts, "timestamp")?,
        detector_params: multipart::text(&parts, "detectorParams")?,
        bs_type: multipart::text(&parts, "bs_type")?,
        attributes: multipart::text(&parts, "attributes")?,
        photo: parts.remove("photo"),
        // `face0` is what older workers call the normalized crop.
        normalized: parts.remove("normalized").or_else(|| parts.remove("face0")),
        facen: parts.remove("facen"),
    })
}

pub fn parse_cam_id(raw: Option<&str>) -> Result<i64, ApiError> {
    let raw = raw.ok_or_else(|| ApiError::bad_param("cam_id", "cam_id is required"))?;
    raw.trim().parse::<i64>().map_err(|_| ApiError::bad_param("cam_id", "cam_id must be an integer camera id"))
}

/// `[[left, top, right, bottom]]` (a list of boxes; the first is this face's) or a single box.
pub fn parse_bbox(raw: Option<&str>) -> Result<BBox, ApiError> {
    let bad =
        || ApiError::bad_param("bbox", "bbox must be [[left, top, right, bottom]] with left < right and top < bottom");
    let raw = raw.ok_or_else(|| ApiError::bad_param("bbox", "bbox is required"))?;
    let value: serde_json::Value = serde_json::from_str(raw).map_err(|_| bad())?;
    let first = match value.as_array().and_then(|a| a.first()) {
        Some(serde_json::Value::Array(inner)) => inner.clone(),
        Some(_) => value.as_array().cloned().unwrap_or_default(),
        None => return Err(bad()),
    };
    let coords: Vec<i32> = first
        .iter()
        .map(|v| v.as_f64().filter(|f| f.is_finite() && f.abs() < 1e7).map(|f| f.round() as i32))
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    match coords.as_slice() {
        [l, t, r, b] => BBox::new(*l, *t, *r, *b).ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// `%Y-%m-%dT%H:%M:%S[.f]` read as UTC unless it carries an offset; absent means now.
pub fn parse_timestamp(raw: Option<&str>, now: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else { return Ok(now) };
    if let Ok(with_offset) = DateTime::parse_from_rfc3339(raw) {
        return Ok(with_offset.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z"] {
        if let Ok(with_offset) = DateTime::parse_from_str(raw, format) {
            return Ok(with_offset.with_timezone(&Utc));
        }
    }
    NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f").map(|naive| naive.and_utc()).map_err(|_| {
        ApiError::bad_param("timestamp", "timestamp must look like 2024-05-01T12:30:00 (UTC) or carry an offset")
    })
}

pub fn parse_detector_params(raw: Option<&str>) -> Result<serde_json::Value, ApiError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else { return Ok(serde_json::json!({})) };
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(value @ serde_json::Value::Object(_)) => Ok(value),
        _ => Err(ApiError::bad_param("detectorParams", "detectorParams must be a JSON object")),
    }
}

pub fn parse_bs_type(raw: Option<&str>) -> Result<BsType, ApiError> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(BsType::Overall),
        Some(value) => {
            BsType::parse(value).ok_or_else(|| ApiError::bad_param("bs_type", "bs_type must be overall or realtime"))
        }
    }
}

/// The image type by its bytes, and the pixel count its header declares against `max_pixels`.
/// A header we cannot read passes: nothing on the accept path decodes images.
pub fn require_image(name: &str, bytes: Option<Bytes>, max_pixels: u64) -> Result<(Bytes, ImageKind), ApiError> {
    let bytes = bytes.ok_or_else(|| ApiError::bad_param(name, format!("{name} is required")))?;
    let kind = ImageKind::sniff(&bytes)
        .ok_or_else(|| ApiError::bad_param(name, format!("{name} is not a JPEG, PNG or WebP image")))?;
    if let Some((width, height)) = domain::image_header::dimensions(&bytes, kind)
        && u64::from(width) * u64::from(height) > max_pixels
    {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("{name} is {width}x{height} pixels, more than MAX_IMAGE_PIXELS ({max_pixels})"),
        )
        .with_param(name));
    }
    Ok((bytes, kind))
}

pub fn optional_image(
    name: &str,
    bytes: Option<Bytes>,
    max_pixels: u64,
) -> Result<Option<(Bytes, ImageKind)>, ApiError> {
    match bytes.filter(|b| !b.is_empty()) {
        None => Ok(None),
        some => require_image(name, some, max_pixels).map(Some),
    }
}

/// Our extension: the worker's own feature vector (see [`domain::vector::parse`]).
pub fn parse_facen(raw: Option<&Bytes>) -> Result<Option<Vec<f32>>, ApiError> {
    domain::vector::parse("facen", raw.map(|b| b.as_ref()))
}

/// Our extension: attribute scores from the worker, in the event's `features` shape. `beard` and
/// `liveness` may also be bare scores, classed with BEARD_THRESHOLD / LIVENESS_THRESHOLD. Only the
/// attributes EVENTS_FEATURES lists are kept.
pub fn parse_attributes(raw: Option<&str>, settings: &FfSecurity) -> Result<Features, ApiError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else { return Ok(Features::default()) };
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(raw)
        .map_err(|e| ApiError::bad_param("attributes", format!("attributes must be a JSON object: {e}")))?;
    features_from_object(object, settings)
}

/// Attributes in the event's `features` shape, bare `beard`/`liveness` scores classed with their
/// thresholds, reduced to what EVENTS_FEATURES keeps.
pub fn features_from_object(
    mut object: serde_json::Map<String, serde_json::Value>,
    settings: &FfSecurity,
) -> Result<Features, ApiError> {
    let bad = |why: String| ApiError::bad_param("attributes", why);
    for (key, threshold, yes, no) in [
        ("beard", settings.beard_threshold, "beard", "none"),
        ("liveness", settings.liveness_threshold, "real", "fake"),
    ] {
        if let Some(score) = object.get(key).and_then(serde_json::Value::as_f64) {
            let class = if score >= f64::from(threshold) { yes } else { no };
            object.insert(key.into(), serde_json::json!({"name": class, "confidence": score}));
        }
    }
    let mut features: Features =
        serde_json::from_value(serde_json::Value::Object(object)).map_err(|e| bad(format!("bad attributes: {e}")))?;
    let keep = |f: EventFeature| settings.events_features.contains(&f);
    let clear = |slot: &mut Option<Attribute>, f| {
        if !keep(f) {
            *slot = None;
        }
    };
    clear(&mut features.gender, EventFeature::Gender);
    clear(&mut features.age, EventFeature::Age);
    clear(&mut features.emotions, EventFeature::Emotions);
    clear(&mut features.beard, EventFeature::Beard);
    clear(&mut features.glasses, EventFeature::Glasses);
    clear(&mut features.liveness, EventFeature::Liveness);
    Ok(features)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bbox_forms() {
        assert_eq!(parse_bbox(Some("[[1, 2, 30, 40]]")).unwrap(), BBox { left: 1, top: 2, right: 30, bottom: 40 });
        assert_eq!(parse_bbox(Some("[1, 2, 30, 40]")).unwrap(), BBox { left: 1, top: 2, right: 30, bottom: 40 });
        for bad in ["", "[]", "[[1,2,3]]", "[[30, 2, 1, 40]]", "[[\"a\",1,2,3]]", "{}"] {
            assert!(parse_bbox(Some(bad)).is_err(), "{bad}");
        }
        assert_eq!(parse_bbox(None).unwrap_err().param.as_deref(), Some("bbox"));
    }

    #[test]
    fn timestamps_with_and_without_offset() {
        let now = Utc::now();
        let utc = parse_timestamp(Some("2024-05-01T12:30:00"), now).unwrap();
        assert_eq!(utc.to_rfc3339(), "2024-05-01T12:30:00+00:00");
        let offset = parse_timestamp(Some("2024-05-01T12:30:00+02:00"), now).unwrap();
        assert_eq!(offset.to_rfc3339(), "2024-05-01T10:30:00+00:00");
        assert_eq!(parse_timestamp(None, now).unwrap(), now);
        assert!(parse_timestamp(Some("yesterday"), now).is_err());
    }

    #[test]
    fn facen_base64_and_json() {
        use base64::Engine;
        let raw: Vec<u8> = [3.0_f32, 4.0].iter().flat_map(|f| f.to_le_bytes()).collect();
        let b64 = Bytes::from(base64::engine::general_purpose::STANDARD.encode(raw));
        assert_eq!(parse_facen(Some(&b64)).unwrap().unwrap(), vec![0.6, 0.8]);
        assert_eq!(parse_facen(Some(&Bytes::from_static(b"[3, 4]"))).unwrap().unwrap(), vec![0.6, 0.8]);
        assert!(parse_facen(Some(&Bytes::from_static(b"[0, 0]"))).is_err());
        assert!(parse_facen(Some(&Bytes::from_static(b"!!"))).is_err());
    }

    #[test]
    fn attributes_are_classed_and_filtered() {
        let settings = FfSecurity::default();
        let f = parse_attributes(
            Some(r#"{"gender": {"name": "male", "confidence": 0.9}, "beard": 0.8, "liveness": 0.9}"#),
            &settings,
        )
        .unwrap();
        assert_eq!(f.gender(), Some("male"));
        assert_eq!(f.beard(), Some("beard"));
        // liveness is not in the default EVENTS_FEATURES
        assert!(f.liveness.is_none());
        assert!(parse_attributes(Some("[1]"), &settings).is_err());
    }
}
