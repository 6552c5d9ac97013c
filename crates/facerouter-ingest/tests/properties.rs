//! Property tests of the worker form's fields (wire doc §1): any text a worker sends is read or
//! refused with 400 naming the part, never a panic; what is read keeps its invariants.
//! `PROPTEST_CASES=100000 cargo test -p facerouter-ingest --test properties` runs them longer.

use bytes::Bytes;
use chrono::Utc;
use domain::config::FfSecurity;
use domain::error::ErrorCode;
use facerouter_ingest::frame_form as form;
use proptest::prelude::*;

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
        "-?[0-9]{1,30}(\\.[0-9]{0,6})?(e[+-]?[0-9]{1,3})?",
        Just("null".to_string()),
        Just("\"7\"".to_string()),
    ]
}

fn bbox() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(number(), 0..6).prop_map(|n| format!("[[{}]]", n.join(","))),
        prop::collection::vec(number(), 0..6).prop_map(|n| format!("[{}]", n.join(","))),
        "[\\[\\]0-9, .-]{0,40}",
    ]
}

fn refused_as(e: &domain::ApiError, param: &str) -> bool {
    matches!(e.code, ErrorCode::BadParam | ErrorCode::PayloadTooLarge) && e.param.as_deref() == Some(param)
}

proptest! {
    #[test]
    fn bbox_is_a_proper_box_or_refused(raw in bbox()) {
        match form::parse_bbox(Some(&raw)) {
            Ok(b) => prop_assert!(b.left < b.right && b.top < b.bottom, "{b:?} from {raw}"),
            Err(e) => prop_assert!(refused_as(&e, "bbox"), "{e:?}"),
        }
    }

    #[test]
    fn timestamps_parse_or_are_refused(raw in prop_oneof![
        any::<String>(),
        "[0-9]{1,6}-[0-9]{1,2}-[0-9]{1,2}T[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\\.[0-9]{0,12})?(Z|[+-][0-9]{2}:?[0-9]{2})?",
    ]) {
        if let Err(e) = form::parse_timestamp(Some(&raw), Utc::now()) {
            prop_assert!(refused_as(&e, "timestamp"), "{e:?}");
        }
    }

    #[test]
    fn small_text_parts_never_panic(cam in any::<String>(), params in any::<String>(), bs in any::<String>(),
                                    nested in 0_usize..400) {
        if let Err(e) = form::parse_cam_id(Some(&cam)) { prop_assert!(refused_as(&e, "cam_id")); }
        if let Err(e) = form::parse_bs_type(Some(&bs)) { prop_assert!(refused_as(&e, "bs_type")); }
        if let Err(e) = form::parse_detector_params(Some(&params)) { prop_assert!(refused_as(&e, "detectorParams")); }
        // Deep nesting is refused by serde_json's recursion limit, not by the stack.
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(nested), "]".repeat(nested));
        let _ = form::parse_detector_params(Some(&deep));
    }

    #[test]
    fn attributes_are_read_or_refused(raw in prop_oneof![
        any::<String>(),
        "\\{(\"(gender|age|emotions|beard|glasses|liveness|x)\": ?(-?[0-9.]{1,6}|\"[a-z]{0,6}\"|\\{\"name\": ?\"[a-z]{1,6}\", ?\"confidence\": ?[0-9.]{1,5}\\}|null),? ?){0,6}\\}",
    ]) {
        if let Err(e) = form::parse_attributes(Some(&raw), &FfSecurity::default()) {
            prop_assert!(refused_as(&e, "attributes"), "{e:?}");
        }
    }

    #[test]
    fn images_are_typed_by_bytes_and_bounded_by_pixels(head in prop::sample::select(vec![
            // JPEG SOF0 with a height and width, PNG IHDR with width and height.
            &b"\xff\xd8\xff\xc0\x00\x11\x08"[..], b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR", b"RIFF\x00\x00\x00\x00WEBPVP8X", b"GIF89a"]),
            tail in prop::collection::vec(any::<u8>(), 0..64), max_pixels in 1_u64..100_000) {
        let mut bytes = head.to_vec();
        bytes.extend_from_slice(&tail);
        match form::require_image("photo", Some(Bytes::from(bytes.clone())), max_pixels) {
            Ok((kept, kind)) => {
                prop_assert_eq!(&kept[..], &bytes[..], "original bytes kept");
                if let Some((w, h)) = domain::image_header::dimensions(&bytes, kind) {
                    prop_assert!(u64::from(w) * u64::from(h) <= max_pixels);
                }
            }
            Err(e) => prop_assert!(refused_as(&e, "photo"), "{e:?}"),
        }
    }
}
