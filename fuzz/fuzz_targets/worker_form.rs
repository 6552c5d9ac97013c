//! The worker form's text parts and images (wire doc §1), split from one input.
#![no_main]

use bytes::Bytes;
use facerouter_ingest::frame_form as form;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = form::parse_bbox(Some(&text));
    let _ = form::parse_timestamp(Some(&text), chrono::Utc::now());
    let _ = form::parse_detector_params(Some(&text));
    let _ = form::parse_attributes(Some(&text), &domain::config::FfSecurity::default());
    let _ = form::parse_cam_id(Some(&text));
    let _ = form::parse_facen(Some(&Bytes::copy_from_slice(data)));
    let _ = form::require_image("photo", Some(Bytes::copy_from_slice(data)), 40_000_000);
});
