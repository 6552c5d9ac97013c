//! Accepted faces onto the bus, several per message. Each face's event is encoded on its own
//! request's thread and queued here; one task takes every face waiting, up to PUBLISH_BATCH, and
//! publishes them as one `faces.detected` message with a publisher confirm, then answers each of
//! them with the outcome. At most PUBLISH_PIPELINE messages await their confirms at once, and
//! faces that arrive meanwhile gather for the next one: a lone face goes out at once, and batches
//! form only when faces arrive faster than confirms come back. The broker's work is mostly per
//! message (a disk write, a queue entry, a confirm), so under load a batch shares it.
//!
//! The queue is not bounded here: every face in it belongs to a request in flight, which
//! FACEROUTER.MAX_IN_FLIGHT bounds.

use std::sync::Arc;

use domain::bus::topology::ROUTE_FACE_DETECTED;
use domain::bus::{Bus, PublishError};
use domain::messages::encode_faces_detected;
use prometheus::Histogram;
use tokio::sync::{Semaphore, mpsc, oneshot};
use uuid::Uuid;

/// Why a face was not published. Either way the worker is told to retry: a face that was sent
/// but not confirmed may still be stored, and the recorder's idempotent insert absorbs the copy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unpublished {
    /// The bus was down: nothing was sent.
    #[error("message bus unavailable: {0}")]
    Down(String),
    /// Sent, but the broker did not confirm it (nack, error or timeout).
    #[error("publish not confirmed: {0}")]
    Unconfirmed(String),
    /// The publishing task is gone (shutting down).
    #[error("publisher stopped")]
    Stopped,
}

struct Job {
    id: Uuid,
    /// The event, encoded as JSON.
    event: Vec<u8>,
    answer: oneshot::Sender<Result<(), Unpublished>>,
}

/// The handle requests queue their faces through; cheap to clone.
#[derive(Clone)]
pub struct PublishBatcher {
    jobs: mpsc::UnboundedSender<Job>,
}

impl PublishBatcher {
    /// Starts the publishing task on the current runtime. It ends once every handle is dropped
    /// and the faces already queued are published.
    pub fn start(bus: Bus, batch: usize, pipeline: usize, batch_sizes: Histogram) -> Self {
        let (jobs, queued) = mpsc::unbounded_channel();
        tokio::spawn(publish_batches(bus, queued, batch.max(1), pipeline.max(1), batch_sizes));
        Self { jobs }
    }

    /// Publishes the event `id` (its JSON in `event`) and waits for the broker's confirm of the
    /// message that carried it.
    pub async fn publish(&self, id: Uuid, event: Vec<u8>) -> Result<(), Unpublished> {
        let (answer, outcome) = oneshot::channel();
        self.jobs.send(Job { id, event, answer }).map_err(|_| Unpublished::Stopped)?;
        outcome.await.unwrap_or(Err(Unpublished::Stopped))
    }
}

async fn publish_batches(
    bus: Bus,
    mut queued: mpsc::UnboundedReceiver<Job>,
    batch: usize,
    pipeline: usize,
    batch_sizes: Histogram,
) {
    let slots = Arc::new(Semaphore::new(pipeline));
    let exchange: Arc<str> = bus.names().faces_exchange().into();
    loop {
        // A slot first, then the faces: while every slot awaits a confirm, faces keep gathering.
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let Some(first) = queued.recv().await else { return };
        let mut jobs = vec![first];
        while jobs.len() < batch {
            match queued.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        batch_sizes.observe(jobs.len() as f64);
        let (bus, exchange) = (bus.clone(), exchange.clone());
        tokio::spawn(async move {
            let payload = encode_faces_detected(&jobs.iter().map(|job| job.event.as_slice()).collect::<Vec<_>>());
            // The message is named by its first face (ids are unique, so message ids stay unique).
            let message_id = jobs.first().map(|job| job.id.to_string()).unwrap_or_default();
            let outcome = bus.publish_raw(&exchange, ROUTE_FACE_DETECTED, &payload, &message_id, None).await;
            drop(slot);
            let outcome = outcome.map_err(|e| {
                let faces = jobs.len();
                tracing::warn!(error = %e, faces, "{faces} faces (message {message_id}) not confirmed by the broker: {e}");
                match e {
                    PublishError::Down(why) => Unpublished::Down(why),
                    other => Unpublished::Unconfirmed(other.to_string()),
                }
            });
            for job in jobs {
                // A request that gave up (client gone) no longer listens; nothing to do for it.
                let _ = job.answer.send(outcome.clone());
            }
        });
    }
}
