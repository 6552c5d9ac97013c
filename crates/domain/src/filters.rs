//! Face event filters of findface webhooks (wire doc §5): `{}` matches every event, several values
//! in one key are OR'ed, keys are AND'ed, and an empty list matches nothing.

use serde::{Deserialize, Serialize};

use crate::event::FaceEvent;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventFilters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_group_in: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_in: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_lists_in: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_dossier_in: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence_gte: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender_in: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_gte: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_lte: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emotions_in: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glasses_in: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beard_in: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_in: Option<Vec<String>>,
}

fn any_of<T: PartialEq>(wanted: &Option<Vec<T>>, value: Option<&T>) -> bool {
    match wanted {
        None => true,
        Some(list) => value.is_some_and(|v| list.contains(v)),
    }
}

fn any_text(wanted: &Option<Vec<String>>, value: Option<&str>) -> bool {
    match wanted {
        None => true,
        Some(list) => value.is_some_and(|v| list.iter().any(|w| w == v)),
    }
}

impl EventFilters {
    pub fn matches(&self, event: &FaceEvent) -> bool {
        let f = &event.features;
        let lists_ok = match &self.matched_lists_in {
            None => true,
            Some(wanted) => event.matched_lists.iter().any(|l| wanted.contains(&l.id)),
        };
        any_of(&self.camera_group_in, Some(&event.camera_group.id))
            && any_of(&self.camera_in, Some(&event.camera.id))
            && lists_ok
            && any_of(&self.matched_dossier_in, event.matched_dossier.as_ref().map(|d| &d.id))
            && self.matched.is_none_or(|m| m == event.matched)
            && self.confidence_gte.is_none_or(|c| event.confidence >= c)
            && any_text(&self.gender_in, f.gender())
            && self.age_gte.is_none_or(|a| f.age().is_some_and(|age| age >= a))
            && self.age_lte.is_none_or(|a| f.age().is_some_and(|age| age <= a))
            && any_text(&self.emotions_in, f.emotions())
            && any_text(&self.glasses_in, f.glasses())
            && any_text(&self.beard_in, f.beard())
            && any_text(&self.liveness_in, f.liveness())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Features, IdName};

    fn event(camera: i64, matched: Option<i64>) -> FaceEvent {
        crate::event::test_event(camera, matched)
    }

    #[test]
    fn empty_object_matches_everything_and_empty_list_nothing() {
        let all: EventFilters = serde_json::from_str("{}").unwrap();
        assert!(all.matches(&event(1, None)));
        let none: EventFilters = serde_json::from_str(r#"{"camera_in": []}"#).unwrap();
        assert!(!none.matches(&event(1, None)));
    }

    #[test]
    fn or_within_a_key_and_across_keys() {
        let f: EventFilters = serde_json::from_str(r#"{"camera_in": [1, 2], "matched": true}"#).unwrap();
        assert!(f.matches(&event(2, Some(5))));
        assert!(!f.matches(&event(2, None)));
        assert!(!f.matches(&event(3, Some(5))));
    }

    /// One event with every attribute set, and for each filter key a value that matches it and
    /// one that does not.
    #[test]
    fn every_key_table() {
        use crate::event::Attribute;
        let attribute = |name: serde_json::Value| Some(Attribute { name, confidence: 0.9 });
        let mut e = event(3, Some(9));
        e.camera_group = IdName { id: 4, name: "g".into() };
        e.matched_lists = vec![IdName { id: 5, name: "l".into() }, IdName { id: 6, name: "m".into() }];
        e.confidence = 0.8;
        e.features = Features {
            gender: attribute("female".into()),
            age: attribute(31.into()),
            emotions: attribute("happy".into()),
            beard: attribute("none".into()),
            glasses: attribute("sun".into()),
            liveness: attribute("real".into()),
        };
        let table = [
            (r#"{"camera_group_in": [4, 8]}"#, r#"{"camera_group_in": [8]}"#),
            (r#"{"camera_in": [3]}"#, r#"{"camera_in": [2]}"#),
            (r#"{"matched_lists_in": [6, 7]}"#, r#"{"matched_lists_in": [7]}"#),
            (r#"{"matched_dossier_in": [9]}"#, r#"{"matched_dossier_in": [1]}"#),
            (r#"{"matched": true}"#, r#"{"matched": false}"#),
            (r#"{"confidence_gte": 0.8}"#, r#"{"confidence_gte": 0.81}"#),
            (r#"{"gender_in": ["male", "female"]}"#, r#"{"gender_in": ["male"]}"#),
            (r#"{"age_gte": 31}"#, r#"{"age_gte": 32}"#),
            (r#"{"age_lte": 31}"#, r#"{"age_lte": 30}"#),
            (r#"{"emotions_in": ["happy"]}"#, r#"{"emotions_in": ["sad"]}"#),
            (r#"{"glasses_in": ["sun", "eye"]}"#, r#"{"glasses_in": ["none"]}"#),
            (r#"{"beard_in": ["none"]}"#, r#"{"beard_in": ["beard"]}"#),
            (r#"{"liveness_in": ["real"]}"#, r#"{"liveness_in": ["fake"]}"#),
            (
                r#"{"camera_in": [3], "matched": true, "age_gte": 30}"#,
                r#"{"camera_in": [3], "matched": true, "age_gte": 40}"#,
            ),
            ("{}", r#"{"gender_in": []}"#),
        ];
        for (yes, no) in table {
            let yes_filter: EventFilters = serde_json::from_str(yes).unwrap();
            let no_filter: EventFilters = serde_json::from_str(no).unwrap();
            assert!(yes_filter.matches(&e), "{yes} should match");
            assert!(!no_filter.matches(&e), "{no} should not match");
        }
        // An attribute filter never matches an event that lacks the attribute.
        let bare = event(3, None);
        for key in ["gender_in", "emotions_in", "glasses_in", "beard_in", "liveness_in"] {
            let f: EventFilters =
                serde_json::from_str(&format!(r#"{{"{key}": ["none", "male", "real", "happy"]}}"#)).unwrap();
            assert!(!f.matches(&bare), "{key}");
        }
        let f: EventFilters = serde_json::from_str(r#"{"age_lte": 200}"#).unwrap();
        assert!(!f.matches(&bare));
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(serde_json::from_str::<EventFilters>(r#"{"camera": [1]}"#).is_err());
    }
}
