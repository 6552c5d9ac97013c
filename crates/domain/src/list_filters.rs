//! The event list's filters (wire doc §3: `cameras`, `matched`, `created_date_gte`, ...), parsed
//! once from query pairs and used twice: gateway-api turns them into SQL for `GET /events/faces/`,
//! and evaluates them in memory on each live event for a filtered WebSocket. Several values of one
//! key are OR'ed, keys are AND'ed, and an event without an attribute never passes its filter.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::ApiError;
use crate::event::{FaceEvent, Features};
use crate::query_params::{self as q, QueryPairs};

/// The attribute filters: the query key and the `features` key it reads (the same name today).
pub const CLASS_FILTERS: [&str; 5] = ["gender", "emotions", "glasses", "beard", "liveness"];

/// Every query key [`EventListFilters::parse`] reads, for documentation and for the tests that
/// walk each one (injection, fuzzing).
pub const FILTER_PARAMS: [&str; 20] = [
    "cameras",
    "camera",
    "camera_groups",
    "matched",
    "no_match",
    "matched_dossier",
    "matched_lists",
    "acknowledged",
    "created_date_gte",
    "created_date_lte",
    "id_lt",
    "id_gt",
    "confidence_gte",
    "gender",
    "emotions",
    "glasses",
    "beard",
    "liveness",
    "age_gte",
    "age_lte",
];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventListFilters {
    pub cameras: Vec<i64>,
    pub camera_groups: Vec<i64>,
    pub matched: Option<bool>,
    pub matched_dossier: Vec<i64>,
    pub matched_lists: Vec<i64>,
    pub acknowledged: Option<bool>,
    pub created_gte: Option<DateTime<Utc>>,
    pub created_lte: Option<DateTime<Utc>>,
    pub id_lt: Option<Uuid>,
    pub id_gt: Option<Uuid>,
    pub confidence_gte: Option<f32>,
    /// (attribute, accepted classes), for the attributes the query names.
    pub classes: Vec<(&'static str, Vec<String>)>,
    pub age_gte: Option<f64>,
    pub age_lte: Option<f64>,
}

fn parse_date(pairs: &QueryPairs, key: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    q::single(pairs, key)
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|_| ApiError::bad_param(key, format!("{key} must be an RFC 3339 date-time")))
        })
        .transpose()
}

/// What a filter reads of an event. Deserializes from the REST/WebSocket event JSON (related
/// objects as ids), and is built from the bus form [`FaceEvent`].
#[derive(Debug, Clone, Deserialize)]
pub struct EventFacts {
    pub id: Uuid,
    pub created_date: DateTime<Utc>,
    pub camera: i64,
    pub camera_group: i64,
    pub matched: bool,
    pub matched_dossier: Option<i64>,
    #[serde(default)]
    pub matched_lists: Vec<i64>,
    pub confidence: f32,
    #[serde(default)]
    pub acknowledged: bool,
    #[serde(default)]
    pub features: Features,
}

impl From<&FaceEvent> for EventFacts {
    fn from(e: &FaceEvent) -> Self {
        Self {
            id: e.id,
            created_date: e.created_date,
            camera: e.camera.id,
            camera_group: e.camera_group.id,
            matched: e.matched,
            matched_dossier: e.matched_dossier.as_ref().map(|d| d.id),
            matched_lists: e.matched_lists.iter().map(|l| l.id).collect(),
            confidence: e.confidence,
            // A new event is never acknowledged.
            acknowledged: false,
            features: e.features.clone(),
        }
    }
}

fn any_of(wanted: &[i64], value: Option<i64>) -> bool {
    wanted.is_empty() || value.is_some_and(|v| wanted.contains(&v))
}

impl EventListFilters {
    /// Reads the filters from query pairs; unknown keys are ignored, a bad value is 400 naming it.
    pub fn parse(pairs: &QueryPairs) -> Result<Self, ApiError> {
        let mut cameras: Vec<i64> = q::parse_many(pairs, "cameras")?;
        cameras.extend(q::parse_many::<i64>(pairs, "camera")?);
        let no_match = q::parse_bool(pairs, "no_match")?;
        let matched = match (q::parse_bool(pairs, "matched")?, no_match) {
            (Some(m), _) => Some(m),
            (None, Some(no)) => Some(!no),
            (None, None) => None,
        };
        Ok(Self {
            cameras,
            camera_groups: q::parse_many(pairs, "camera_groups")?,
            matched,
            matched_dossier: q::parse_many(pairs, "matched_dossier")?,
            matched_lists: q::parse_many(pairs, "matched_lists")?,
            acknowledged: q::parse_bool(pairs, "acknowledged")?,
            created_gte: parse_date(pairs, "created_date_gte")?,
            created_lte: parse_date(pairs, "created_date_lte")?,
            id_lt: q::parse_one(pairs, "id_lt")?,
            id_gt: q::parse_one(pairs, "id_gt")?,
            confidence_gte: q::parse_one(pairs, "confidence_gte")?,
            classes: CLASS_FILTERS
                .iter()
                .filter_map(|attribute| {
                    let values: Vec<String> = q::values(pairs, attribute).map(str::to_string).collect();
                    (!values.is_empty()).then_some((*attribute, values))
                })
                .collect(),
            age_gte: q::parse_one(pairs, "age_gte")?,
            age_lte: q::parse_one(pairs, "age_lte")?,
        })
    }

    /// Whether no filter is set (every event passes).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The in-memory form of the SQL the list runs: the same event passes both or neither.
    pub fn matches(&self, e: &EventFacts) -> bool {
        let f = &e.features;
        let class = |attribute: &str| match attribute {
            "gender" => f.gender(),
            "emotions" => f.emotions(),
            "glasses" => f.glasses(),
            "beard" => f.beard(),
            _ => f.liveness(),
        };
        any_of(&self.cameras, Some(e.camera))
            && any_of(&self.camera_groups, Some(e.camera_group))
            && self.matched.is_none_or(|m| m == e.matched)
            && any_of(&self.matched_dossier, e.matched_dossier)
            && (self.matched_lists.is_empty() || e.matched_lists.iter().any(|l| self.matched_lists.contains(l)))
            && self.acknowledged.is_none_or(|a| a == e.acknowledged)
            && self.created_gte.is_none_or(|d| e.created_date >= d)
            && self.created_lte.is_none_or(|d| e.created_date <= d)
            && self.id_lt.is_none_or(|id| e.id < id)
            && self.id_gt.is_none_or(|id| e.id > id)
            && self.confidence_gte.is_none_or(|c| e.confidence >= c)
            && self
                .classes
                .iter()
                .all(|(attribute, wanted)| class(attribute).is_some_and(|v| wanted.iter().any(|w| w == v)))
            && self.age_gte.is_none_or(|a| f.age().is_some_and(|age| age >= a))
            && self.age_lte.is_none_or(|a| f.age().is_some_and(|age| age <= a))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_listed_param_is_read() {
        for key in super::FILTER_PARAMS {
            let pairs = vec![(key.to_string(), "not-a-value".to_string())];
            match EventListFilters::parse(&pairs) {
                Ok(filters) => assert!(!filters.is_empty(), "{key} was ignored"),
                Err(e) => assert_eq!(e.param.as_deref(), Some(key)),
            }
        }
    }

    use super::*;

    fn facts() -> EventFacts {
        serde_json::from_value(serde_json::json!({
            "id": "01900000-0000-7000-8000-000000000010", "created_date": "2026-11-26T10:00:00Z",
            "camera": 3, "camera_group": 4, "matched": true, "matched_dossier": 9, "matched_lists": [5, 6],
            "confidence": 0.8, "acknowledged": false, "thumbnail": "ignored",
            "features": {"gender": {"name": "female", "confidence": 0.9}, "age": {"name": 31, "confidence": 0.9},
                         "emotions": {"name": "happy", "confidence": 0.9}, "beard": {"name": "none", "confidence": 0.9},
                         "glasses": {"name": "sun", "confidence": 0.9}, "liveness": {"name": "real", "confidence": 0.9}}
        }))
        .unwrap()
    }

    fn filters(query: &str) -> EventListFilters {
        let pairs: QueryPairs = query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect();
        EventListFilters::parse(&pairs).unwrap()
    }

    /// For each key a query that matches the event and one that does not.
    #[test]
    fn every_key_table() {
        let e = facts();
        let table = [
            ("", "cameras=1"),
            ("cameras=1,3", "cameras=2"),
            ("camera=3", "camera=2"),
            ("camera_groups=4", "camera_groups=1"),
            ("matched=true", "matched=false"),
            ("no_match=false", "no_match=true"),
            ("matched_dossier=8,9", "matched_dossier=8"),
            ("matched_lists=6&matched_lists=7", "matched_lists=7"),
            ("acknowledged=false", "acknowledged=true"),
            ("created_date_gte=2026-11-26T10:00:00Z", "created_date_gte=2026-11-26T10:00:01Z"),
            ("created_date_lte=2026-11-26T10:00:00Z", "created_date_lte=2026-11-26T09:59:59Z"),
            ("id_lt=01900000-0000-7000-8000-000000000011", "id_lt=01900000-0000-7000-8000-000000000010"),
            ("id_gt=01900000-0000-7000-8000-00000000000f", "id_gt=01900000-0000-7000-8000-000000000010"),
            ("confidence_gte=0.8", "confidence_gte=0.81"),
            ("gender=male,female", "gender=male"),
            ("emotions=happy", "emotions=sad"),
            ("glasses=sun", "glasses=none"),
            ("beard=none", "beard=beard"),
            ("liveness=real", "liveness=fake"),
            ("age_gte=31&age_lte=31", "age_gte=32"),
            ("cameras=3&matched=true&gender=female", "cameras=3&matched=true&gender=male"),
        ];
        for (yes, no) in table {
            assert!(filters(yes).matches(&e), "{yes} should match");
            assert!(!filters(no).matches(&e), "{no} should not match");
        }
        assert!(filters("").is_empty());
        assert!(!filters("cameras=1").is_empty());
    }

    #[test]
    fn an_event_without_the_attribute_never_passes_its_filter() {
        let mut e = facts();
        e.features = Features::default();
        for query in ["gender=female", "age_lte=200", "liveness=real,fake"] {
            assert!(!filters(query).matches(&e), "{query}");
        }
    }

    fn bus_event() -> crate::event::FaceEvent {
        crate::event::FaceEvent {
            id: Uuid::now_v7(),
            created_date: Utc::now(),
            camera: crate::event::IdName { id: 2, name: "c".into() },
            camera_group: crate::event::IdName { id: 1, name: "g".into() },
            bs_type: crate::event::BsType::Overall,
            thumbnail: String::new(),
            fullframe: String::new(),
            matched: true,
            matched_dossier: Some(crate::event::IdName { id: 7, name: "d".into() }),
            matched_face: None,
            matched_face_photo: String::new(),
            matched_lists: vec![crate::event::IdName { id: 4, name: "l".into() }],
            confidence: 0.9,
            quality: 0.0,
            frame_coords: crate::event::BBox { left: 0, top: 0, right: 1, bottom: 1 },
            detector_params: serde_json::json!({}),
            features: Features::default(),
            facen: None,
        }
    }

    #[test]
    fn facts_of_a_bus_event_are_its_ids() {
        let mut event = bus_event();
        assert!(filters("cameras=2&matched_dossier=7&matched_lists=4&acknowledged=false").matches(&(&event).into()));
        event.camera.id = 3;
        assert!(!filters("cameras=2").matches(&(&event).into()));
    }

    /// The list filters ages on the `age` column the recorder fills, the live feed on the
    /// features: the column must hold the very number `matches` compares, or none.
    #[test]
    fn the_stored_age_is_the_age_the_live_feed_compares() {
        let mut event = bus_event();
        assert_eq!(crate::models::FaceEventRow::from_event(&event).age, None);
        for (name, stored) in [
            (serde_json::json!(30.1), Some(30.1)),
            (serde_json::json!(31), Some(31.0)),
            (serde_json::json!("31"), None),
        ] {
            event.features.age = Some(crate::event::Attribute { name, confidence: 0.9 });
            assert_eq!(crate::models::FaceEventRow::from_event(&event).age, stored);
            assert_eq!(event.features.age(), stored);
            assert_eq!(filters("age_gte=30.1&age_lte=30.1").matches(&(&event).into()), stored == Some(30.1));
        }
    }
}
