//! Events put straight on the bus: as the recorder announces them (tests of the dispatcher and the
//! live feed), or as ingest hands accepted faces to the recorder.

use domain::bus::Names;
use domain::bus::topology::{ROUTE_EVENT_CREATED, ROUTE_FACE_DETECTED};
use domain::event::{BBox, BsType, FaceEvent, Features, IdName};
use domain::messages::{BusMessage, EventCreated, FaceDetected, FacesDetected, encode};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Connection, ConnectionProperties};

/// A fresh event id for an event created at `created`: its UUIDv7 time is `created`'s millisecond,
/// as ingest mints ids (the event list turns time bounds into id bounds).
pub fn id_at(created: chrono::DateTime<chrono::Utc>) -> uuid::Uuid {
    let random: [u8; 10] = rand::random();
    uuid::Builder::from_unix_timestamp_millis(domain::event::event_id_millis(created), &random).into_uuid()
}

pub fn event(camera: i64, matched_dossier: Option<i64>) -> FaceEvent {
    let created_date = chrono::Utc::now();
    FaceEvent {
        id: id_at(created_date),
        created_date,
        camera: IdName { id: camera, name: format!("camera {camera}") },
        camera_group: IdName { id: 1, name: "Default".into() },
        bs_type: BsType::Overall,
        thumbnail: "events/x_face.jpg".into(),
        fullframe: String::new(),
        matched: matched_dossier.is_some(),
        matched_dossier: matched_dossier.map(|id| IdName { id, name: format!("dossier {id}") }),
        matched_face: None,
        matched_face_photo: String::new(),
        matched_lists: vec![],
        confidence: if matched_dossier.is_some() { 0.9 } else { 0.0 },
        quality: 0.0,
        frame_coords: BBox { left: 1, top: 2, right: 30, bottom: 40 },
        detector_params: serde_json::json!({}),
        features: Features::default(),
        facen: None,
    }
}

/// A publisher of `event.created` messages on a test's bus.
pub struct EventBus {
    connection: Connection,
    channel: lapin::Channel,
    exchange: String,
    faces_exchange: String,
}

impl EventBus {
    pub async fn connect(url: &str, names: &Names) -> anyhow::Result<Self> {
        let connection = Connection::connect(url, ConnectionProperties::default()).await?;
        let channel = connection.create_channel().await?;
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        Ok(Self { connection, channel, exchange: names.events_exchange(), faces_exchange: names.faces_exchange() })
    }

    pub async fn publish(&self, event: &FaceEvent) -> anyhow::Result<()> {
        self.publish_one(&self.exchange, ROUTE_EVENT_CREATED, &encode(&EventCreated(event.clone()))?).await
    }

    /// Publishes many, waiting for the broker's confirms in batches (as fast as the broker goes).
    pub async fn publish_many(&self, events: &[FaceEvent]) -> anyhow::Result<()> {
        self.publish_batches(&self.exchange, ROUTE_EVENT_CREATED, events, |e| EventCreated(e.clone())).await
    }

    /// Hands accepted faces to the recorder, as ingest does: the recorder stores and announces them.
    pub async fn publish_detected(&self, events: &[FaceEvent]) -> anyhow::Result<()> {
        self.publish_batches(&self.faces_exchange, ROUTE_FACE_DETECTED, events, |e| FaceDetected(e.clone())).await
    }

    /// Hands several accepted faces to the recorder in one `faces.detected` message, as ingest's
    /// publish batching does.
    pub async fn publish_detected_together(&self, events: &[FaceEvent]) -> anyhow::Result<()> {
        let payload = encode(&FacesDetected(events.to_vec()))?;
        self.publish_one(&self.faces_exchange, ROUTE_FACE_DETECTED, &payload).await
    }

    /// One persistent message, waiting for its confirm.
    async fn publish_one(&self, exchange: &str, route: &str, payload: &[u8]) -> anyhow::Result<()> {
        let confirm = self
            .channel
            .basic_publish(
                exchange.into(),
                route.into(),
                BasicPublishOptions::default(),
                payload,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await?
            .await?;
        anyhow::ensure!(confirm.is_ack(), "broker refused the message");
        Ok(())
    }

    async fn publish_batches<M: BusMessage>(
        &self,
        exchange: &str,
        route: &str,
        events: &[FaceEvent],
        message: impl Fn(&FaceEvent) -> M,
    ) -> anyhow::Result<()> {
        for chunk in events.chunks(500) {
            let mut pending = Vec::with_capacity(chunk.len());
            for event in chunk {
                let payload = encode(&message(event))?;
                pending.push(
                    self.channel
                        .basic_publish(
                            exchange.into(),
                            route.into(),
                            BasicPublishOptions::default(),
                            &payload,
                            BasicProperties::default().with_delivery_mode(2),
                        )
                        .await?,
                );
            }
            for confirm in pending {
                anyhow::ensure!(confirm.await?.is_ack(), "broker refused an event");
            }
        }
        Ok(())
    }

    pub async fn close(self) {
        let _ = self.connection.close(200, "done".into()).await;
    }
}
