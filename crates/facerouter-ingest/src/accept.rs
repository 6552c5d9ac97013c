//! The path every face takes once its form is read, whichever endpoint it came through:
//! recognise -> match -> (IGNORE_UNMATCHED) -> store images -> publish with a confirm. Only a
//! confirmed publish is answered 2xx, so a 2xx face is never lost.

use std::borrow::Cow;
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use domain::bus::PublishError;
use domain::bus::topology::ROUTE_FACE_DETECTED;
use domain::event::{BBox, BsType, FaceEvent, Features, IdName};
use domain::image::ImageKind;
use domain::messages::FaceDetected;
use domain::{ApiError, ErrorCode};
use serde::Serialize;
use uuid::Uuid;

use crate::gallery::CameraEntry;
use crate::publish_batcher::Unpublished;
use crate::recognition::Probe;
use crate::search_batcher::SearchError;
use crate::state::AppState;

/// A refused request and the reason it is counted under in `ffsec_ingest_frames_total`.
#[derive(Debug)]
pub struct Failure {
    pub error: ApiError,
    pub reason: Cow<'static, str>,
}

impl Failure {
    pub fn new(error: ApiError, reason: &'static str) -> Self {
        Self { error, reason: Cow::Borrowed(reason) }
    }

    pub fn outcome(&self) -> &'static str {
        match self.error.code {
            ErrorCode::ServiceUnavailable => "unavailable",
            ErrorCode::Internal => "error",
            _ => "rejected",
        }
    }
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        let reason = match &error.param {
            Some(param) => Cow::Owned(param.clone()),
            None => Cow::Owned(error.code.as_str().to_ascii_lowercase()),
        };
        Self { error, reason }
    }
}

/// One face, validated, ready to be recognised, matched and published.
pub struct FaceInput {
    pub camera: CameraEntry,
    pub bbox: BBox,
    pub created_date: DateTime<Utc>,
    pub detector_params: serde_json::Value,
    pub bs_type: BsType,
    pub crop: (Bytes, ImageKind),
    /// The full frame; `None` when the worker sent none.
    pub frame: Option<(Bytes, ImageKind)>,
    /// The crop *is* the full frame (external detectors): store it once, for both roles.
    pub crop_is_frame: bool,
    pub vector: Option<Vec<f32>>,
    pub features: Features,
    /// The face quality measured before recognition (the built-in detector on a full frame).
    pub quality: Option<f32>,
}

#[derive(Debug, Serialize)]
pub struct Accepted {
    /// Null when IGNORE_UNMATCHED dropped an unmatched face.
    pub event_id: Option<Uuid>,
    pub matched: bool,
    pub matched_dossier: Option<i64>,
    pub confidence: f32,
}

impl Accepted {
    pub fn reason(&self) -> (&'static str, &'static str) {
        match (self.event_id, self.matched) {
            (None, _) => ("ignored", "unmatched"),
            (Some(_), true) => ("accepted", "matched"),
            (Some(_), false) => ("accepted", "unmatched"),
        }
    }
}

pub async fn accept_face(state: &AppState, input: FaceInput, mut timer: Instant) -> Result<Accepted, Failure> {
    let settings = &state.config.ffsecurity;
    // Before the parts move into the probe: the id is derived from them (see event_id.rs).
    let id = crate::event_id::event_id(&input);
    let probe =
        Probe { crop: input.crop.0.clone(), kind: input.crop.1, vector: input.vector, features: input.features };
    let recognised = state.recognizer.recognise(probe).await?;
    timer = state.metrics.stage("recognise", timer);

    let fallback = input.camera.confidence_threshold.unwrap_or(settings.confidence_threshold);
    let (matched_from, vector) = (timer, recognised.vector.clone());
    let search = async move {
        let best = match vector {
            Some(vector) => state.gallery.search(vector, fallback).await.map_err(search_failure)?,
            None => None,
        };
        state.metrics.stage("match", matched_from);
        Ok::<_, Failure>(best)
    };
    let created = input.created_date;
    let store = |from: Instant| async move {
        let stored = store_images(state, &id, created, input.crop, input.frame, input.crop_is_frame).await?;
        state.metrics.stage("store", from);
        Ok::<_, Failure>(stored)
    };
    let (best, (thumbnail, fullframe)) = if settings.ignore_unmatched {
        // An unmatched face is dropped before anything of it is stored.
        let best = search.await?;
        if best.is_none() {
            return Ok(Accepted { event_id: None, matched: false, matched_dossier: None, confidence: 0.0 });
        }
        (best, store(Instant::now()).await?)
    } else {
        // The face is stored whatever it matches: the two waits (the gallery's queue and scan,
        // the images' sync) overlap instead of adding up, a quarter of an accept under load.
        match tokio::join!(search, store(matched_from)) {
            (Ok(best), Ok(stored)) => (best, stored),
            // The images just stored stay, as after a failed publish: with "files" the same face
            // sent before may have been accepted under the same names (its id comes from its
            // content), so removing them could take an accepted event's images; with "packs"
            // retention's sweep reclaims them.
            (Err(failed), _) | (_, Err(failed)) => return Err(failed),
        }
    };
    timer = Instant::now();

    // The recognizer's own quality when it measured one, else the worker detector's score.
    let quality = recognised.quality.or(input.quality).unwrap_or_else(|| {
        input.detector_params.get("score").and_then(serde_json::Value::as_f64).unwrap_or(0.0) as f32
    });
    let event = FaceEvent {
        id,
        created_date: created,
        camera: IdName { id: input.camera.id, name: input.camera.name.clone() },
        camera_group: input.camera.group.clone(),
        bs_type: input.bs_type,
        thumbnail,
        fullframe,
        matched: best.is_some(),
        matched_dossier: best.as_ref().map(|m| m.face.dossier.clone()),
        matched_face: best.as_ref().map(|m| m.face.face_id),
        matched_face_photo: best.as_ref().map(|m| m.face.photo.clone()).unwrap_or_default(),
        matched_lists: best.as_ref().map(|m| m.lists.clone()).unwrap_or_default(),
        confidence: best.as_ref().map_or(0.0, |m| m.confidence),
        quality,
        frame_coords: input.bbox,
        detector_params: input.detector_params,
        features: recognised.features,
        facen: recognised.vector,
    };
    let accepted = Accepted {
        event_id: Some(id),
        matched: event.matched,
        matched_dossier: event.matched_dossier.as_ref().map(|d| d.id),
        confidence: event.confidence,
    };
    publish(state, event).await?;
    state.metrics.stage("publish", timer);
    Ok(accepted)
}

fn search_failure(error: SearchError) -> Failure {
    match error {
        SearchError::Busy => Failure::new(
            ApiError::unavailable("too many faces waiting for the gallery search; retry shortly"),
            "search_busy",
        ),
        SearchError::Stopped => ApiError::internal("gallery search threads unavailable").into(),
    }
}

async fn publish(state: &AppState, event: FaceEvent) -> Result<(), Failure> {
    let id = event.id;
    let unconfirmed = || {
        let error = ApiError::unavailable("message bus did not confirm the event; retry shortly");
        Failure::new(error, "bus_unconfirmed")
    };
    if let Some(publisher) = &state.publisher {
        // Encoded here, on the request's thread: the publishing task only splices events together.
        let encoded = serde_json::to_vec(&event).map_err(|e| Failure::from(ApiError::internal(e)))?;
        // The publisher logs a failed message once, for all of its faces.
        return match publisher.publish(id, encoded).await {
            Ok(()) => Ok(()),
            Err(Unpublished::Down(_)) => {
                Err(Failure::new(ApiError::unavailable("message bus unavailable; retry shortly"), "bus_down"))
            }
            Err(_) => Err(unconfirmed()),
        };
    }
    let id = id.to_string();
    let exchange = state.bus.names().faces_exchange();
    match state.bus.publish(&exchange, ROUTE_FACE_DETECTED, &FaceDetected(event), &id).await {
        Ok(()) => {
            tracing::debug!(event.id = %id, "accepted face event {id}");
            Ok(())
        }
        Err(PublishError::Encode(e)) => Err(ApiError::internal(e).into()),
        Err(e) => {
            // Outcome unknown: the worker retries and the recorder's idempotent insert absorbs a duplicate.
            tracing::warn!(event.id = %id, error = %e, "face {id} not confirmed by the broker: {e}");
            Err(unconfirmed())
        }
    }
}

/// The directory of an event's images: `events/YYYY/MM/DD/HH/xx`, by the hour of `created` and
/// one of 256 buckets (`xx`, the id's last byte, which comes from its hash). A directory per day
/// held two entries per face: at 100 faces/s that is 17M a day, past what an ext4 directory index
/// takes, and every create and rename in it queued on the one directory lock and searched a
/// deeper index (docs/ingest.md, "Image storage"). Here a directory holds about 1/6 000 of a day's
/// faces, and concurrent faces mostly write to different directories.
fn media_dir(created: DateTime<Utc>, id: &Uuid) -> String {
    format!("events/{}/{:02x}", created.format("%Y/%m/%d/%H"), id.as_bytes()[15])
}

/// Stores the crop and the frame durably and returns their paths (thumbnail, fullframe). Both go
/// to the store in one call, so the local store writes them in one blocking job with one directory
/// fsync. The crop of an external detector *is* the frame: it is stored once, for both roles.
async fn store_images(
    state: &AppState,
    id: &Uuid,
    created: DateTime<Utc>,
    crop: (Bytes, ImageKind),
    frame: Option<(Bytes, ImageKind)>,
    crop_is_frame: bool,
) -> Result<(String, String), Failure> {
    let dir = media_dir(created, id);
    let path = |role: &str, kind: ImageKind| format!("{dir}/{id}_{role}.{}", kind.extension());
    let mut objects = vec![(path(if crop_is_frame { "frame" } else { "face" }, crop.1), crop.0)];
    if let (false, Some((bytes, kind))) = (crop_is_frame, frame) {
        objects.push((path("frame", kind), bytes));
    }
    let stored = state.media.put_all(objects).await.map_err(|e| {
        tracing::error!(event.id = %id, error = %e, "cannot store media of event {id}: {e}");
        Failure::new(ApiError::unavailable("cannot store the image right now; retry shortly"), "storage")
    })?;
    let mut stored = stored.into_iter();
    let thumbnail = stored.next().unwrap_or_default();
    let fullframe = if crop_is_frame { thumbnail.clone() } else { stored.next().unwrap_or_default() };
    Ok((thumbnail, fullframe))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn media_goes_to_a_bucket_of_its_hour() {
        let created = Utc.with_ymd_and_hms(2026, 11, 27, 9, 59, 59).single().unwrap_or_default();
        let id = Uuid::parse_str("01a21e5d-e4e3-7db7-9aa7-0912cde4b3f4").unwrap_or_default();
        assert_eq!(media_dir(created, &id), "events/2026/11/27/09/f4");
    }
}
