//! A face event as it travels the bus: minted by ingest, stored by the recorder, fanned out to
//! WebSocket clients and webhooks. It carries the names of what it refers to (camera, dossier,
//! lists) as they were at detection time, so no consumer needs a database lookup to render it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdName {
    pub id: i64,
    pub name: String,
}

/// `[left, top, right, bottom]` in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BBox {
    pub left: i32,
    pub top: i32,
    pub right: i32,
    pub bottom: i32,
}

impl BBox {
    pub fn new(left: i32, top: i32, right: i32, bottom: i32) -> Option<Self> {
        (left >= 0 && top >= 0 && right > left && bottom > top).then_some(Self { left, top, right, bottom })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BsType {
    /// Best shot of a whole track.
    #[default]
    Overall,
    /// Posted at once and re-posted as quality improves.
    Realtime,
}

impl BsType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Overall => "overall",
            Self::Realtime => "realtime",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "overall" => Some(Self::Overall),
            "realtime" => Some(Self::Realtime),
            _ => None,
        }
    }
}

/// One recognised attribute, in findface-security's event shape: `{"name": "male", "confidence": 0.93}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribute {
    pub name: serde_json::Value,
    #[serde(serialize_with = "shortest_f32")]
    pub confidence: f32,
}

/// Writes an f32 as the number it prints as, so JSON shows 0.93 and not 0.9300000071525574.
fn shortest_f32<S: serde::Serializer>(value: &f32, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(value.to_string().parse::<f64>().unwrap_or(f64::from(*value)))
}

/// The `features` object of an event: the attributes EVENTS_FEATURES asks for, when known.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Features {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<Attribute>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<Attribute>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emotions: Option<Attribute>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beard: Option<Attribute>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glasses: Option<Attribute>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<Attribute>,
}

impl Features {
    pub fn gender(&self) -> Option<&str> {
        self.gender.as_ref().and_then(|a| a.name.as_str())
    }
    pub fn age(&self) -> Option<f64> {
        self.age.as_ref().and_then(|a| a.name.as_f64())
    }
    pub fn emotions(&self) -> Option<&str> {
        self.emotions.as_ref().and_then(|a| a.name.as_str())
    }
    pub fn beard(&self) -> Option<&str> {
        self.beard.as_ref().and_then(|a| a.name.as_str())
    }
    pub fn glasses(&self) -> Option<&str> {
        self.glasses.as_ref().and_then(|a| a.name.as_str())
    }
    pub fn liveness(&self) -> Option<&str> {
        self.liveness.as_ref().and_then(|a| a.name.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceEvent {
    /// UUIDv7 minted by ingest: unique across replicas and time-ordered.
    pub id: Uuid,
    pub created_date: DateTime<Utc>,
    pub camera: IdName,
    pub camera_group: IdName,
    pub bs_type: BsType,
    /// Media path of the face crop, relative to MEDIA_ROOT.
    pub thumbnail: String,
    /// Media path of the full frame; empty when the worker sent none.
    pub fullframe: String,
    pub matched: bool,
    pub matched_dossier: Option<IdName>,
    pub matched_face: Option<i64>,
    /// Media path of the matched dossier face's photo (webhooks send it as `dossier_photo`).
    #[serde(default)]
    pub matched_face_photo: String,
    pub matched_lists: Vec<IdName>,
    pub confidence: f32,
    pub quality: f32,
    pub frame_coords: BBox,
    pub detector_params: serde_json::Value,
    pub features: Features,
    /// The face's feature vector (L2-normalised), when one was extracted: ingest sends it to the
    /// recorder, which keeps it for event search (EVENT_SEARCH.KEEP_VECTORS) and passes it on in
    /// `event.created` only when kept, so every gateway replica's index holds what PostgreSQL
    /// holds. Base64 of little-endian f32 on the bus (a third of the JSON array's size). Never
    /// part of a REST, WebSocket or webhook body.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "facen")]
    pub facen: Option<Vec<f32>>,
}

/// `Option<Vec<f32>>` as base64 of little-endian f32 values, the sf-api `facen` encoding.
mod facen {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Vec<f32>>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(vector) => {
                let bytes: Vec<u8> = vector.iter().flat_map(|v| v.to_le_bytes()).collect();
                serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<f32>>, D::Error> {
        let Some(text) = Option::<String>::deserialize(deserializer)? else { return Ok(None) };
        let bytes = base64::engine::general_purpose::STANDARD.decode(text).map_err(serde::de::Error::custom)?;
        if bytes.len() % 4 != 0 {
            return Err(serde::de::Error::custom("facen length is not a multiple of 4 bytes"));
        }
        Ok(Some(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()))
    }
}

/// An f32 as the JSON number it prints as (0.995, not 0.9950000047683716): `serde_json::Value`
/// stores f64, and widening an f32 drags its binary noise into every API response.
pub fn json_f32(value: f32) -> serde_json::Value {
    value
        .to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(serde_json::Value::Null, serde_json::Value::Number)
}

/// The 48-bit UUIDv7 time of the id of an event created at `at`: its millisecond (floored),
/// clamped to what 48 bits hold (1970 to the year 10889). Ingest mints every event id with this
/// time, so id order is time order and a `created_date` bound is also an id bound
/// ([`event_id_floor`], [`event_id_ceiling`]).
pub fn event_id_millis(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp_millis()).unwrap_or(0).min((1 << 48) - 1)
}

/// The smallest id an event created at or after `at` can have.
pub fn event_id_floor(at: DateTime<Utc>) -> Uuid {
    uuid::Builder::from_unix_timestamp_millis(event_id_millis(at), &[0; 10]).into_uuid()
}

/// The largest id an event created at or before `at` can have.
pub fn event_id_ceiling(at: DateTime<Utc>) -> Uuid {
    uuid::Builder::from_unix_timestamp_millis(event_id_millis(at), &[0xff; 10]).into_uuid()
}

/// An event for unit tests: unmatched unless `matched` names a dossier, no images, no vector.
#[cfg(test)]
pub(crate) fn test_event(camera: i64, matched: Option<i64>) -> FaceEvent {
    FaceEvent {
        id: uuid::Uuid::now_v7(),
        created_date: chrono::Utc::now(),
        camera: IdName { id: camera, name: "c".into() },
        camera_group: IdName { id: 1, name: "g".into() },
        bs_type: BsType::Overall,
        thumbnail: String::new(),
        fullframe: String::new(),
        matched: matched.is_some(),
        matched_dossier: matched.map(|id| IdName { id, name: "d".into() }),
        matched_face: None,
        matched_face_photo: String::new(),
        matched_lists: vec![],
        confidence: 0.9,
        quality: 0.0,
        frame_coords: BBox { left: 0, top: 0, right: 1, bottom: 1 },
        detector_params: serde_json::json!({}),
        features: Features::default(),
        facen: None,
    }
}
