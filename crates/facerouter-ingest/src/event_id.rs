//! Event ids derived from the face itself, so that a worker's retry of the same post is the same
//! event. A 503 after a publish whose confirm never came may still have reached the broker; the
//! worker then sends the same face again, and with a fresh id it would be stored twice. Here the
//! retry gets the id of the first attempt, and the recorder's insert by id makes it a no-op.
//!
//! The id keeps the UUIDv7 layout (id order is time order for cursors): the 48-bit millisecond
//! time is the detection time (`created_date`), the other 74 bits come from a SHA-256 of the
//! camera, the exact detection time, the box, the crop's bytes, the worker's vector (if any) and
//! the frame's length. A post without a timestamp is
//! stamped with the arrival time, so its retries stay distinct, as before.

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::accept::FaceInput;

pub fn event_id(input: &FaceInput) -> Uuid {
    let mut hash = Sha256::new();
    hash.update(input.camera.id.to_le_bytes());
    hash.update(input.created_date.timestamp().to_le_bytes());
    hash.update(input.created_date.timestamp_subsec_nanos().to_le_bytes());
    let b = &input.bbox;
    for coordinate in [b.left, b.top, b.right, b.bottom] {
        hash.update(coordinate.to_le_bytes());
    }
    hash.update(&input.crop.0);
    // What else tells two detections apart without hashing a whole frame on the hot path.
    for value in input.vector.iter().flatten() {
        hash.update(value.to_le_bytes());
    }
    hash.update(input.frame.as_ref().map_or(0, |f| f.0.len()).to_le_bytes());
    let digest = hash.finalize();
    let mut tail = [0_u8; 10];
    tail.copy_from_slice(&digest[..10]);
    // Times before 1970 or after the 48-bit range (year 10889) are clamped, never wrapped. The
    // event list relies on this time being `created_date`'s (domain::event::event_id_floor).
    let millis = domain::event::event_id_millis(input.created_date);
    uuid::Builder::from_unix_timestamp_millis(millis, &tail).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gallery::CameraEntry;
    use bytes::Bytes;
    use chrono::{DateTime, TimeZone, Utc};
    use domain::event::{BBox, BsType, Features, IdName};
    use domain::image::ImageKind;

    fn input(camera: i64, at: DateTime<Utc>, crop: &'static [u8]) -> FaceInput {
        FaceInput {
            camera: CameraEntry {
                id: camera,
                name: String::new(),
                active: true,
                group: IdName { id: 1, name: String::new() },
                confidence_threshold: None,
                url: String::new(),
                roi: String::new(),
                external_detector_token: String::new(),
            },
            bbox: BBox { left: 1, top: 2, right: 30, bottom: 40 },
            created_date: at,
            detector_params: serde_json::json!({}),
            bs_type: BsType::Overall,
            crop: (Bytes::from_static(crop), ImageKind::Jpeg),
            frame: None,
            crop_is_frame: false,
            vector: None,
            features: Features::default(),
            quality: None,
        }
    }

    #[test]
    fn a_retry_is_the_same_event_and_anything_else_is_not() {
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).single().unwrap_or_default();
        let first = event_id(&input(7, at, b"crop"));
        assert_eq!(first, event_id(&input(7, at, b"crop")), "the same post again");
        assert_eq!(first.get_version_num(), 7);
        assert_ne!(first, event_id(&input(8, at, b"crop")), "another camera");
        assert_ne!(first, event_id(&input(7, at, b"crop2")), "another crop");
        let with_vector = FaceInput { vector: Some(vec![0.6, 0.8]), ..input(7, at, b"crop") };
        assert_ne!(first, event_id(&with_vector), "another vector");
        let later = at + chrono::Duration::milliseconds(1);
        assert_ne!(first, event_id(&input(7, later, b"crop")), "another time");
        assert!(event_id(&input(7, later, b"crop")) > first, "id order follows detection time");
        let ancient = Utc.with_ymd_and_hms(1960, 1, 1, 0, 0, 0).single().unwrap_or_default();
        assert_eq!(event_id(&input(7, ancient, b"crop")).get_version_num(), 7, "clamped, still v7");
    }
}
