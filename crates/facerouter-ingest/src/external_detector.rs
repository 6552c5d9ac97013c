//! `POST /events/faces/add/`: full frames from external detectors (wire doc §1), authenticated by
//! the camera's own `external_detector_token`. With FACEROUTER.RECOGNITION_BACKEND = "builtin",
//! ffsec finds the faces itself: `mf_selector` = "biggest" makes one event of the largest face,
//! "all" one event per face (at most RECOGNIZER.MAX_FACES), after turning the frame by `rotate` and
//! keeping the faces centred in `roi` (domain::recognizer::View). Otherwise a frame can only become an
//! event when the detector also sends the face's `bbox` and `facen` (our documented extension,
//! docs/ingest.md), and without them the answer carries an error entry.

use std::collections::HashMap;
use std::time::Instant;

use actix_multipart::Multipart;
use actix_web::{HttpResponse, ResponseError, web};
use bytes::Bytes;
use chrono::Utc;
use domain::event::{BBox, BsType};
use domain::image::ImageKind;
use domain::recognizer::{RecognizeError, Roi, Rotate, Select, Turn, View};
use domain::{ApiError, multipart};
use serde_json::{Value, json};

use crate::accept::{FaceInput, Failure, accept_face};
use crate::frame_form as form;
use crate::recognition::builtin;
use crate::state::AppState;
use crate::worker_auth::tokens_equal;

pub async fn post_external_face(state: web::Data<AppState>, body: Multipart) -> HttpResponse {
    let started = Instant::now();
    match add_faces(&state, body, started).await {
        Ok(reply) => {
            let (outcome, reason) = match (reply.events.is_empty(), &reply.error) {
                (false, _) => ("accepted", "external"),
                (true, Some(error)) => error.counted_as,
                (true, None) => ("ignored", "unmatched"),
            };
            state.count(started, Ok((outcome, reason)));
            let events: Vec<String> = reply.events.iter().map(ToString::to_string).collect();
            let errors: Vec<Value> = reply.error.into_iter().map(|e| e.body).collect();
            HttpResponse::Ok().json(json!({"events": events, "errors": errors}))
        }
        Err(failure) => {
            state.count(started, Err(&failure));
            failure.error.error_response()
        }
    }
}

struct Reply {
    events: Vec<uuid::Uuid>,
    error: Option<ReplyError>,
}

/// An entry of the answer's `errors` (200: the vendor reports per-frame problems there).
struct ReplyError {
    body: Value,
    /// `(outcome, reason)` in `ffsec_ingest_frames_total`.
    counted_as: (&'static str, &'static str),
}

async fn add_faces(state: &AppState, body: Multipart, started: Instant) -> Result<Reply, Failure> {
    let _slot = state.in_flight.enter().map_err(|e| Failure::new(e, "overloaded"))?;
    state.ready()?;
    let limit = state.config.facerouter.max_image_bytes;
    let mut parts = multipart::read_parts(body, &["fullframe", "facen"], limit).await?;
    let fullframe = parts.remove("fullframe");
    let text = |name: &str| multipart::text(&parts, name);
    let camera_id: i64 = text("camera")?
        .ok_or_else(|| ApiError::bad_param("camera", "camera is required"))?
        .trim()
        .parse()
        .map_err(|_| ApiError::bad_param("camera", "camera must be a camera id"))?;
    // Unknown camera and wrong token answer alike, so the answer does not tell which cameras exist.
    let given = text("token")?.unwrap_or_default();
    let camera = state
        .gallery
        .camera(camera_id)
        .filter(|c| tokens_equal(given.trim(), &c.external_detector_token))
        .ok_or_else(|| Failure::new(ApiError::forbidden("invalid token for this camera"), "token"))?;
    if !camera.active {
        return Err(ApiError::bad_param("camera", "camera is inactive").into());
    }
    let detector_params = detector_params(&parts)?;
    let max_pixels = state.config.facerouter.max_image_pixels;
    let frame = form::require_image("fullframe", fullframe, max_pixels)?;
    let created_date = form::parse_timestamp(text("timestamp")?.as_deref(), Utc::now())?;
    let vector = form::parse_facen(parts.get("facen"))?;
    let features = form::parse_attributes(text("attributes")?.as_deref(), &state.config.ffsecurity)?;
    let (Some(bbox), Some(vector)) = (text("bbox")?, vector) else {
        if let Some(pool) = &state.faces {
            let select = match detector_params["mf_selector"].as_str() {
                Some("all") => Select::All,
                _ => Select::Biggest,
            };
            let view = view_of(&detector_params);
            let faces = match pool.faces_in(frame.0.clone(), select, view).await {
                Ok(faces) => faces,
                // Faces were found, none in the region the sender asked about: nothing wrong with
                // the request, so a 200 that says why no event came of it.
                Err(e @ RecognizeError::NoFaceInRoi { .. }) => {
                    let body = json!({"code": "NO_FACE", "desc": e.to_string(), "param": "roi"});
                    return Ok(Reply {
                        events: Vec::new(),
                        error: Some(ReplyError { body, counted_as: ("ignored", "roi") }),
                    });
                }
                Err(e) => return Err(builtin::failure(&e, "fullframe")),
            };
            let timer = state.metrics.stage("detect", started);
            let mut events = Vec::with_capacity(faces.len());
            for face in faces {
                let [left, top, right, bottom] = face.bbox.map(|v| i32::try_from(v).unwrap_or(i32::MAX));
                let bbox = BBox::new(left, top, right, bottom)
                    .ok_or_else(|| ApiError::bad_param("fullframe", "a detected face has an empty box"))?;
                // A face found on a turned frame has its own upright thumbnail; the frame is stored
                // as received either way (domain::recognizer::thumbnail).
                let (crop, full, crop_is_frame) = match face.thumbnail {
                    Some(jpeg) => ((Bytes::from(jpeg), ImageKind::Jpeg), Some(frame.clone()), false),
                    None => (frame.clone(), None, true),
                };
                let input = FaceInput {
                    bbox,
                    created_date,
                    detector_params: detector_params.clone(),
                    bs_type: BsType::Overall,
                    crop,
                    frame: full,
                    crop_is_frame,
                    vector: Some(face.vector),
                    features: features.clone(),
                    quality: Some(face.quality.score),
                    camera: camera.clone(),
                };
                if let Some(id) = accept_face(state, input, timer).await?.event_id {
                    events.push(id);
                }
            }
            return Ok(Reply { events, error: None });
        }
        let desc = "ffsec has no face detector: send the face's bbox and facen with the frame (docs/ingest.md)";
        let body = json!({"code": "BAD_PARAM", "desc": desc, "param": "facen"});
        return Ok(Reply {
            events: Vec::new(),
            error: Some(ReplyError { body, counted_as: ("rejected", "no_detector") }),
        });
    };
    let input = FaceInput {
        bbox: form::parse_bbox(Some(&bbox))?,
        created_date,
        detector_params,
        bs_type: BsType::Overall,
        crop: frame,
        frame: None,
        crop_is_frame: true,
        vector: Some(vector),
        features,
        quality: None,
        camera,
    };
    let timer = state.metrics.stage("parse", started);
    let accepted = accept_face(state, input, timer).await?;
    Ok(Reply { events: accepted.event_id.into_iter().collect(), error: None })
}

/// `mf_selector`, `rotate` and `roi` are validated and kept with the event; with the built-in
/// detector they also say which faces become events ([`view_of`]).
fn detector_params(parts: &HashMap<String, Bytes>) -> Result<Value, ApiError> {
    let text = |name: &str| multipart::text(parts, name).map(|v| v.map(|s| s.trim().to_string()));
    let selector = text("mf_selector")?.filter(|s| !s.is_empty()).unwrap_or_else(|| "biggest".into());
    if selector != "biggest" && selector != "all" {
        return Err(ApiError::bad_param("mf_selector", "mf_selector must be biggest or all"));
    }
    let mut params = json!({"mf_selector": selector});
    if let Some(rotate) = text("rotate")?.filter(|s| !s.is_empty()) {
        let value = match domain::config::parse_bool(&rotate) {
            Some(flag) => json!(flag),
            None => match rotate.parse::<u16>() {
                Ok(deg @ (0 | 90 | 180 | 270)) => json!(deg),
                _ => return Err(ApiError::bad_param("rotate", "rotate must be a boolean or 0, 90, 180 or 270")),
            },
        };
        params["rotate"] = value;
    }
    if let Some(roi) = text("roi")?.filter(|s| !s.is_empty()) {
        params["roi"] = json!(parse_roi(&roi)?);
    }
    Ok(params)
}

/// How the built-in detector looks at the frame, read from the validated `detector_params`:
/// `rotate` 90/180/270 turns it clockwise, `true` lets the recognizer find the turn, `false`/0 and
/// no `rotate` leave it; `roi` keeps the faces centred in it.
fn view_of(params: &Value) -> View {
    let rotate = match &params["rotate"] {
        Value::Bool(true) => Rotate::Auto,
        Value::Number(n) => Rotate::Fixed(
            n.as_u64().and_then(|d| u16::try_from(d).ok()).and_then(Turn::from_degrees).unwrap_or_default(),
        ),
        _ => Rotate::default(),
    };
    let roi = serde_json::from_value::<[i64; 4]>(params["roi"].clone()).ok().and_then(Roi::from_ltrb);
    View { rotate, roi }
}

/// `[left, top, right, bottom]` as JSON or comma-separated, like a bbox.
fn parse_roi(raw: &str) -> Result<[i64; 4], ApiError> {
    let bad = || ApiError::bad_param("roi", "roi must be left,top,right,bottom with left < right and top < bottom");
    let trimmed = raw.trim().trim_start_matches('[').trim_end_matches(']');
    let numbers: Vec<i64> =
        trimmed.split(',').map(|n| n.trim().parse().map_err(|_| bad())).collect::<Result<_, _>>()?;
    match numbers.as_slice() {
        &[l, t, r, b] if l >= 0 && t >= 0 && l < r && t < b => Ok([l, t, r, b]),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_selector_rotate_and_roi() {
        let parts: HashMap<String, Bytes> = [("mf_selector", "all"), ("rotate", "90"), ("roi", "[1, 2, 30, 40]")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), Bytes::from(v)))
            .collect();
        assert_eq!(
            detector_params(&parts).unwrap(),
            json!({"mf_selector": "all", "rotate": 90, "roi": [1, 2, 30, 40]})
        );
        for (name, bad) in [("mf_selector", "largest"), ("rotate", "45"), ("roi", "1,2,3")] {
            let parts = HashMap::from([(name.to_string(), Bytes::from(bad))]);
            assert_eq!(detector_params(&parts).unwrap_err().param.as_deref(), Some(name));
        }
        assert_eq!(detector_params(&HashMap::new()).unwrap(), json!({"mf_selector": "biggest"}));
    }

    #[test]
    fn the_kept_params_say_how_to_look_at_the_frame() {
        let view = |pairs: &[(&str, &str)]| {
            let parts: HashMap<String, Bytes> =
                pairs.iter().map(|(k, v)| (k.to_string(), Bytes::from(v.to_string()))).collect();
            view_of(&detector_params(&parts).unwrap())
        };
        assert_eq!(view(&[]), View::default());
        assert_eq!(view(&[("rotate", "90")]).rotate, Rotate::Fixed(Turn::Cw90));
        assert_eq!(view(&[("rotate", "270")]).rotate, Rotate::Fixed(Turn::Cw270));
        assert_eq!(view(&[("rotate", "0")]).rotate, Rotate::Fixed(Turn::None));
        assert_eq!(view(&[("rotate", "true")]).rotate, Rotate::Auto);
        assert_eq!(view(&[("rotate", "false")]).rotate, Rotate::Fixed(Turn::None));
        assert_eq!(view(&[("roi", "10,20,300,400")]).roi, Some(Roi { left: 10, top: 20, right: 300, bottom: 400 }));
    }
}
