//! Property tests of every parser that reads untrusted input: no input may panic, every refusal
//! names what was wrong, and what is accepted keeps its promises. `PROPTEST_CASES=100000 cargo
//! test -p domain --test properties` runs them longer; `fuzz/` has the same entry points for
//! libFuzzer.

use std::collections::HashMap;

use bytes::Bytes;
use domain::config::{Config, Overrides, Service};
use domain::error::ErrorCode;
use domain::filters::EventFilters;
use domain::image::ImageKind;
use domain::list_filters::{EventFacts, EventListFilters};
use domain::media_link::{MediaSigner, safe_relative};
use domain::messages::{
    self, DeliveryRetry, EventCreated, EventUpdated, EventsAcknowledged, FaceDetected, GalleryChanged,
};
use proptest::prelude::*;

/// Keys the event list reads, plus some it does not, so both paths are walked.
fn list_keys() -> Vec<&'static str> {
    domain::list_filters::FILTER_PARAMS.iter().copied().chain(["ordering", "limit", "unknown"]).collect()
}

/// Values that sit near what parsers expect, mixed with anything at all.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "-?[0-9]{1,25}(,-?[0-9]{0,20}){0,4}",
        "(true|false|True|1|0|yes|)",
        "20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})?",
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "-?[0-9]{0,4}\\.?[0-9]{0,8}(e[+-]?[0-9]{1,4})?|NaN|inf|-inf",
    ]
}

fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((prop::sample::select(list_keys()).prop_map(str::to_string), value()), 0..12)
}

fn facts() -> impl Strategy<Value = EventFacts> {
    (any::<i64>(), any::<i64>(), any::<bool>(), any::<Option<i64>>(), any::<f32>(), any::<bool>(), any::<u128>())
        .prop_map(|(camera, group, matched, dossier, confidence, acknowledged, id)| EventFacts {
            id: uuid::Uuid::from_u128(id),
            created_date: chrono::Utc::now(),
            camera,
            camera_group: group,
            matched,
            matched_dossier: dossier,
            matched_lists: dossier.into_iter().collect(),
            confidence,
            acknowledged,
            features: Default::default(),
        })
}

/// Arbitrary JSON, a few levels deep.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        value().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::hash_map(prop::sample::select(list_keys()).prop_map(str::to_string), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn event_list_filters_parse_or_name_the_bad_parameter(pairs in pairs(), facts in facts()) {
        match EventListFilters::parse(&pairs) {
            Ok(filters) => {
                // Whatever was accepted can be evaluated against any event.
                let _ = filters.matches(&facts);
            }
            Err(e) => {
                prop_assert_eq!(e.code, ErrorCode::BadParam);
                let param = e.param.clone().unwrap_or_default();
                prop_assert!(list_keys().contains(&param.as_str()), "refusal names {param:?}");
            }
        }
    }

    #[test]
    fn websocket_filter_messages_never_panic(data in json()) {
        // The WebSocket `filters` message and the webhook filter object both start as JSON.
        if let Ok(pairs) = domain::query_params::from_json_object(&data, "filters") {
            let _ = EventListFilters::parse(&pairs);
        }
        let _ = serde_json::from_value::<EventFilters>(data);
    }

    #[test]
    fn bus_decoders_refuse_garbage_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let decoded = messages::decode::<FaceDetected>(&bytes).is_ok();
        prop_assert!(!decoded || bytes.first() == Some(&b'{'), "decoded a non-object");
        let _ = messages::decode::<EventCreated>(&bytes);
        let _ = messages::decode::<EventUpdated>(&bytes);
        let _ = messages::decode::<EventsAcknowledged>(&bytes);
        let _ = messages::decode::<GalleryChanged>(&bytes);
        let _ = messages::decode::<DeliveryRetry>(&bytes);
        let _ = messages::decode_faces(&bytes);
    }

    #[test]
    fn bus_decoders_survive_envelopes_with_any_data(kind in "(face.detected|faces.detected|event.created|event.updated|gallery.changed|[a-z.]{0,12})",
                                                     version in 0_u32..4, data in json()) {
        let bytes = serde_json::to_vec(&serde_json::json!({"type": kind, "version": version, "data": data}))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let _ = messages::decode::<FaceDetected>(&bytes);
        let _ = messages::decode_faces(&bytes);
        let _ = messages::decode::<EventCreated>(&bytes);
        let _ = messages::decode::<GalleryChanged>(&bytes);
        let _ = messages::decode::<DeliveryRetry>(&bytes);
    }

    #[test]
    fn image_headers_never_panic_and_sniff_by_magic(tail in prop::collection::vec(any::<u8>(), 0..256),
                                                     head in prop::sample::select(vec![
                                                         &b"\xff\xd8\xff"[..], b"\x89PNG\r\n\x1a\n", b"RIFF\0\0\0\0WEBPVP8 ", b""])) {
        let mut bytes = head.to_vec();
        bytes.extend_from_slice(&tail);
        let kind = ImageKind::sniff(&bytes);
        if let Some(kind) = kind {
            // Dimensions come from the header alone; a truncated or lying header gives None.
            let _ = domain::image_header::dimensions(&bytes, kind);
        }
        if head.is_empty() && !tail.is_empty() {
            let _ = ImageKind::sniff(&tail);
        }
    }

    #[test]
    fn feature_vectors_parse_to_bounded_dimensions(raw in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        prop::collection::vec(any::<f32>(), 0..64).prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
        "\\[[-0-9., e]{0,64}\\]".prop_map(String::into_bytes),
    ]) {
        match domain::vector::parse("facen", Some(&raw)) {
            Ok(Some(vector)) => prop_assert!(!vector.is_empty() && vector.len() <= domain::vector::MAX_DIMENSIONS),
            Ok(None) => prop_assert!(raw.is_empty()),
            Err(e) => prop_assert_eq!(e.param.as_deref(), Some("facen")),
        }
    }

    #[test]
    fn media_paths_accepted_never_leave_the_root(raw in prop_oneof![any::<String>(), "([a-z.%/\\\\]{0,6}/?){0,6}"]) {
        if let Some(path) = safe_relative(&raw) {
            prop_assert!(!path.starts_with('/'));
            for segment in path.split('/') {
                prop_assert!(!segment.is_empty() && !segment.starts_with('.') && !segment.contains('%'));
            }
            prop_assert!(domain::media::plain_relative(path).is_some());
        }
    }

    #[test]
    fn signed_media_links_verify_only_unchanged(path in "[a-z0-9]{1,8}(/[a-z0-9_.-]{1,12}){0,3}",
                                                now in 1_000_000_u64..4_000_000_000, forged in any::<String>(),
                                                expires in any::<u64>()) {
        let signer = MediaSigner::new(b"key".to_vec(), 3600);
        let query = signer.query(&path, now);
        let fields: HashMap<&str, &str> = query.split('&').filter_map(|kv| kv.split_once('=')).collect();
        let good_expires: u64 = fields.get("expires").and_then(|e| e.parse().ok()).unwrap_or_default();
        let signature = fields.get("signature").copied().unwrap_or_default();
        prop_assert!(signer.verify(&path, good_expires, signature, now).is_ok());
        prop_assert!(signer.verify(&path, good_expires, &forged, now).is_err() || forged == signature);
        prop_assert!(signer.verify(&path, expires, signature, now).is_err() || expires == good_expires);
    }

    #[test]
    fn config_from_the_environment_loads_or_names_the_key(vars in prop::collection::vec((
        prop_oneof![
            Just("FFSEC_FFSECURITY__CONFIDENCE_THRESHOLD"), Just("FFSEC_FFSECURITY__IGNORE_UNMATCHED"),
            Just("FFSEC_FFSECURITY__EVENTS_MAX_AGE"), Just("FFSEC_SERVER__PORT"), Just("FFSEC_INGEST__WORKERS"),
            Just("FFSEC_FACEROUTER__MAX_IMAGE_PIXELS"), Just("FFSEC_WEBHOOKS__ALLOWED_ADDRESSES"),
            Just("FFSEC_NO__SUCH_KEY"), Just("FFSEC_"), Just("FFSEC___"), Just("UNRELATED"),
        ].prop_map(str::to_string),
        value(),
    ), 0..6)) {
        match Config::load(None, vars, &Overrides::default(), Service::Ingest) {
            Ok(config) => prop_assert!(config.ffsecurity.confidence_threshold.is_finite()),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn config_files_load_or_explain(text in prop_oneof![
        any::<String>(),
        "\\[(FFSECURITY|SERVER|INGEST|NOPE)\\]\n[A-Z_]{1,24} = (\"[^\"\n]{0,12}\"|-?[0-9.]{1,12}|true|\\[\\])\n",
    ]) {
        let file = std::env::temp_dir().join(format!("ffsec-prop-{}.toml", uuid::Uuid::now_v7()));
        std::fs::write(&file, &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let loaded = Config::load(Some(&file), Vec::new(), &Overrides::default(), Service::Gateway);
        let _ = std::fs::remove_file(&file);
        if let Err(e) = loaded {
            prop_assert!(e.to_string().contains("ffsec-prop-"), "the error names the file: {e}");
        }
    }
}

/// The multipart reader: any body, any boundary, refuses or reads within its limits.
mod multipart {
    use super::*;
    use actix_web::http::header::{self, HeaderMap, HeaderValue};
    use futures_util::stream;

    fn read(boundary: &str, body: Vec<u8>, chunk: usize) -> Result<HashMap<String, Bytes>, domain::ApiError> {
        let mut headers = HeaderMap::new();
        let content_type = format!("multipart/form-data; boundary={boundary}");
        if let Ok(v) = HeaderValue::from_str(&content_type) {
            headers.insert(header::CONTENT_TYPE, v);
        }
        let chunks: Vec<Result<Bytes, actix_web::error::PayloadError>> =
            body.chunks(chunk.max(1)).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let form = actix_multipart::Multipart::new(&headers, stream::iter(chunks));
        let runtime = tokio::runtime::Builder::new_current_thread().build().map_err(domain::ApiError::internal)?;
        runtime.block_on(domain::multipart::read_parts(form, &["photo"], 1024))
    }

    fn part(boundary: &str, name: &str, content: &[u8]) -> Vec<u8> {
        let mut out = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").into_bytes();
        out.extend_from_slice(content);
        out.extend_from_slice(b"\r\n");
        out
    }

    proptest! {
        #[test]
        fn any_body_is_read_or_refused_within_limits(boundary in "[A-Za-z0-9'()+_,-./:=?]{1,40}",
                                                      body in prop::collection::vec(any::<u8>(), 0..2048),
                                                      chunk in 1_usize..64) {
            if let Ok(parts) = read(&boundary, body, chunk) {
                prop_assert!(parts.len() <= domain::multipart::MAX_PARTS);
                for (name, bytes) in &parts {
                    let limit = if name == "photo" { 1024 } else { domain::multipart::TEXT_LIMIT };
                    prop_assert!(bytes.len() <= limit);
                }
            }
        }

        #[test]
        fn well_formed_forms_read_back_exactly(boundary in "[A-Za-z0-9]{8,30}",
                                                fields in prop::collection::vec(("[a-z]{1,8}", prop::collection::vec(any::<u8>(), 0..300)), 1..6),
                                                chunk in 1_usize..97, cut in any::<bool>()) {
            let mut body = Vec::new();
            for (name, content) in &fields {
                body.extend(part(&boundary, name, content));
            }
            body.extend(format!("--{boundary}--\r\n").into_bytes());
            if cut {
                // A body cut short is refused, never read as if complete.
                body.truncate(body.len() / 2);
                prop_assert!(read(&boundary, body, chunk).is_err());
            } else {
                let parts = read(&boundary, body, chunk).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
                // A repeated name keeps its last value.
                let last: HashMap<&String, &Vec<u8>> = fields.iter().map(|(n, c)| (n, c)).collect();
                prop_assert_eq!(parts.len(), last.len());
                for (name, content) in last {
                    prop_assert_eq!(parts.get(name).map(|b| b.to_vec()), Some(content.clone()));
                }
            }
        }
    }
}
