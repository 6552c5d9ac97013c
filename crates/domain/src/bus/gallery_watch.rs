//! Cache invalidation for every service that caches gallery objects: a per-replica queue on the
//! gallery exchange turns relevant `gallery.changed` notices, and every (re)connect (notices may
//! have been missed while the link was down), into a reload request.

use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Bus, Source, ack, reject_poison, run_consumer};
use crate::messages::{GalleryChanged, decode};

pub async fn watch_gallery<F>(
    bus: Bus,
    role: &str,
    replica: &str,
    wanted: Arc<Notify>,
    cancel: CancellationToken,
    relevant: F,
) where
    F: Fn(&GalleryChanged) -> bool,
{
    let names = bus.names().clone();
    let source = Source::Replica {
        queue: names.replica_queue(&format!("gallery.{role}"), replica),
        exchange: names.gallery_exchange(),
        routing_key: String::new(),
    };
    let relevant = &relevant;
    run_consumer(&bus, source, 16, &cancel, |mut consumer, _generation| {
        let wanted = wanted.clone();
        let cancel = cancel.clone();
        async move {
            wanted.notify_one();
            loop {
                let delivery = tokio::select! {
                    () = cancel.cancelled() => return,
                    next = consumer.next() => match next {
                        Some(Ok(delivery)) => delivery,
                        _ => return,
                    },
                };
                match decode::<GalleryChanged>(&delivery.data) {
                    Ok(change) => {
                        tracing::debug!(object = ?change.object, id = change.id, "gallery change: {:?} {}", change.object, change.id);
                        if relevant(&change) {
                            wanted.notify_one();
                        }
                        ack(&delivery).await;
                    }
                    Err(e) => reject_poison(&delivery, &e.to_string()).await,
                }
            }
        }
    })
    .await;
}
