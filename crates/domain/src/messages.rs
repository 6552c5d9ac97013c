//! Bus messages: versioned JSON in an envelope `{"type", "version", "data"}`. A consumer refuses a
//! type or version it does not know (the message is dead-lettered, never silently dropped).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::event::FaceEvent;

pub trait BusMessage: Serialize + DeserializeOwned {
    const TYPE: &'static str;
    const VERSION: u32;
}

#[derive(Serialize)]
struct EnvelopeOut<'a, T> {
    #[serde(rename = "type")]
    kind: &'static str,
    version: u32,
    data: &'a T,
}

#[derive(Deserialize)]
struct EnvelopeIn {
    #[serde(rename = "type")]
    kind: String,
    version: u32,
    data: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not a bus envelope: {0}")]
    Envelope(serde_json::Error),
    #[error("expected message type {expected} v{version}, got {got} v{got_version}")]
    Unexpected { expected: &'static str, version: u32, got: String, got_version: u32 },
    #[error("bad {kind} payload: {source}")]
    Payload { kind: &'static str, source: serde_json::Error },
}

pub fn encode<T: BusMessage>(message: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&EnvelopeOut { kind: T::TYPE, version: T::VERSION, data: message })
}

pub fn decode<T: BusMessage>(bytes: &[u8]) -> Result<T, DecodeError> {
    let envelope: EnvelopeIn = serde_json::from_slice(bytes).map_err(DecodeError::Envelope)?;
    if envelope.kind != T::TYPE || envelope.version != T::VERSION {
        return Err(DecodeError::Unexpected {
            expected: T::TYPE,
            version: T::VERSION,
            got: envelope.kind,
            got_version: envelope.version,
        });
    }
    serde_json::from_value(envelope.data).map_err(|source| DecodeError::Payload { kind: T::TYPE, source })
}

/// Published by ingest once a face is stored and matched; consumed by the recorder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceDetected(pub FaceEvent);

impl BusMessage for FaceDetected {
    const TYPE: &'static str = "face.detected";
    const VERSION: u32 = 1;
}

/// Several accepted faces in one message: ingest's publisher puts the faces that are waiting
/// together into one publish (one broker write, one confirm), which is most of the broker's cost
/// per face. Same exchange, routing key and queue as [`FaceDetected`]; the recorder reads both
/// ([`decode_faces`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FacesDetected(pub Vec<FaceEvent>);

impl BusMessage for FacesDetected {
    const TYPE: &'static str = "faces.detected";
    const VERSION: u32 = 1;
}

/// The [`FacesDetected`] message of events each already encoded as JSON (by [`serde_json`], on
/// the request's own thread): the publisher only splices them into one envelope.
pub fn encode_faces_detected<B: AsRef<[u8]>>(events: &[B]) -> Vec<u8> {
    let head = format!(r#"{{"type":"{}","version":{},"data":["#, FacesDetected::TYPE, FacesDetected::VERSION);
    let body: usize = events.iter().map(|e| e.as_ref().len() + 1).sum();
    let mut out = Vec::with_capacity(head.len() + body + 2);
    out.extend_from_slice(head.as_bytes());
    for (n, event) in events.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(event.as_ref());
    }
    out.extend_from_slice(b"]}");
    out
}

/// The events of a message on the recorder queue: one [`FaceDetected`] or a [`FacesDetected`]
/// batch (ingest replicas of either kind may publish during a rolling upgrade).
pub fn decode_faces(bytes: &[u8]) -> Result<Vec<FaceEvent>, DecodeError> {
    let envelope: EnvelopeIn = serde_json::from_slice(bytes).map_err(DecodeError::Envelope)?;
    let payload = |kind: &'static str| move |source| DecodeError::Payload { kind, source };
    match (envelope.kind.as_str(), envelope.version) {
        (FaceDetected::TYPE, FaceDetected::VERSION) => {
            serde_json::from_value(envelope.data).map(|e| vec![e]).map_err(payload(FaceDetected::TYPE))
        }
        (FacesDetected::TYPE, FacesDetected::VERSION) => {
            serde_json::from_value(envelope.data).map_err(payload(FacesDetected::TYPE))
        }
        _ => Err(DecodeError::Unexpected {
            expected: FacesDetected::TYPE,
            version: FacesDetected::VERSION,
            got: envelope.kind,
            got_version: envelope.version,
        }),
    }
}

/// Published by the recorder once the event is in PostgreSQL; consumed by the live feed and webhooks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventCreated(pub FaceEvent);

impl BusMessage for EventCreated {
    const TYPE: &'static str = "event.created";
    const VERSION: u32 = 1;
}

/// An event changed after it was stored (acknowledged or un-acknowledged); carries its REST view,
/// so every gateway replica can push `event_updated` to its WebSocket clients as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventUpdated {
    pub event: serde_json::Value,
}

impl BusMessage for EventUpdated {
    const TYPE: &'static str = "event.updated";
    const VERSION: u32 = 1;
}

/// Many events acknowledged at once (`POST /events/faces/acknowledge/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventsAcknowledged {
    pub acknowledged_by: i64,
    pub acknowledged_date: chrono::DateTime<chrono::Utc>,
    pub count: usize,
}

impl BusMessage for EventsAcknowledged {
    const TYPE: &'static str = "events.acknowledged";
    const VERSION: u32 = 1;
}

/// A camera's video manager job changed state (gateway-api's sync → every replica's live feed,
/// pushed to WebSocket clients as `camera_vm_status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameraVmStatus {
    pub camera: i64,
    /// The job's status as the video manager reports it, or the code it refused the job with
    /// (e.g. `TOO_MANY_CAMERAS`); empty until it first answered.
    pub status: String,
    pub status_msg: String,
    /// Whether the job carries the camera's current settings.
    pub in_sync: bool,
    /// Why the last call failed (the video manager unreachable...); empty after a success.
    pub error: String,
}

impl BusMessage for CameraVmStatus {
    const TYPE: &'static str = "camera.vm_status";
    const VERSION: u32 = 1;
}

/// What changed in the objects other services cache (ingest: cameras and the dossier gallery;
/// webhook-dispatcher: hooks). Receivers re-read the object from PostgreSQL, so a late or
/// repeated notice can never roll a cache back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GalleryObject {
    Camera,
    CameraGroup,
    DossierList,
    Dossier,
    DossierFace,
    Hook,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GalleryChanged {
    pub object: GalleryObject,
    pub id: i64,
}

impl BusMessage for GalleryChanged {
    const TYPE: &'static str = "gallery.changed";
    const VERSION: u32 = 1;
}

/// A webhook delivery waiting for its next attempt (in a delay queue of the dispatcher). It carries
/// the events themselves, so a retry needs nothing but the hook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRetry {
    pub hook_id: i64,
    /// The Standard Webhooks `webhook-id`, the same on every attempt so consumers can de-duplicate.
    pub message_id: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// Times it was parked without an attempt (its hook was failing or saturated): each deferral
    /// waits a rung longer, so a dead hook's backlog backs off instead of churning.
    #[serde(default)]
    pub deferrals: u32,
    pub events: Vec<FaceEvent>,
}

impl BusMessage for DeliveryRetry {
    const TYPE: &'static str = "webhook.retry";
    const VERSION: u32 = 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refuse_other_types() {
        let msg = GalleryChanged { object: GalleryObject::Camera, id: 7 };
        let bytes = encode(&msg).unwrap();
        assert_eq!(decode::<GalleryChanged>(&bytes).unwrap(), msg);
        assert!(matches!(decode::<EventCreated>(&bytes), Err(DecodeError::Unexpected { .. })));
        assert!(matches!(decode::<GalleryChanged>(b"{"), Err(DecodeError::Envelope(_))));
    }

    fn face(camera: i64) -> FaceEvent {
        FaceEvent {
            thumbnail: "events/a_face.jpg".into(),
            fullframe: "events/a_frame.jpg".into(),
            confidence: 0.0,
            quality: 0.5,
            detector_params: serde_json::json!({"score": 0.5}),
            facen: Some(vec![0.25, -0.5]),
            ..crate::event::test_event(camera, None)
        }
    }

    #[test]
    fn a_spliced_batch_is_the_faces_detected_message_of_its_events() {
        let events = vec![face(1), face(2), face(3)];
        let encoded: Vec<Vec<u8>> = events.iter().map(|e| serde_json::to_vec(e).unwrap()).collect();
        let bytes = encode_faces_detected(&encoded);
        assert_eq!(decode::<FacesDetected>(&bytes).unwrap(), FacesDetected(events.clone()));
        assert_eq!(decode_faces(&bytes).unwrap(), events);
        assert_eq!(bytes, encode(&FacesDetected(events)).unwrap(), "the same bytes serde would write");
    }

    #[test]
    fn the_recorder_reads_single_faces_and_batches_and_refuses_the_rest() {
        let one = face(7);
        assert_eq!(decode_faces(&encode(&FaceDetected(one.clone())).unwrap()).unwrap(), vec![one.clone()]);
        assert_eq!(decode_faces(&encode_faces_detected::<Vec<u8>>(&[])).unwrap(), vec![]);
        let other = encode(&EventCreated(one)).unwrap();
        assert!(matches!(decode_faces(&other), Err(DecodeError::Unexpected { .. })));
        let bad = br#"{"type":"faces.detected","version":1,"data":[{"id":1}]}"#;
        assert!(matches!(decode_faces(bad), Err(DecodeError::Payload { .. })));
        assert!(matches!(decode_faces(b"[]"), Err(DecodeError::Envelope(_))));
    }
}
