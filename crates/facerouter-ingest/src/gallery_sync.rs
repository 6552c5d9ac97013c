//! Keeps the gallery current: a reloader task coalesces change notices into full reloads, and a bus
//! consumer turns `gallery.changed` messages (and every reconnect, since notices may have been
//! missed while the link was down) into such notices.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use domain::bus::{Bus, Source, ack, reject_poison, run_consumer};
use domain::db::DbPool;
use domain::messages::{GalleryChanged, decode};
use futures_util::StreamExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::gallery::Gallery;
use crate::metrics::IngestMetrics;

pub async fn run_reloader(
    pool: DbPool,
    gallery: Gallery,
    wanted: Arc<Notify>,
    loaded: Arc<AtomicBool>,
    metrics: IngestMetrics,
    cancel: CancellationToken,
) {
    loop {
        match gallery.reload(&pool).await {
            Ok((cameras, faces)) => {
                metrics.gallery_cameras.set(cameras as i64);
                metrics.gallery_faces.set(faces as i64);
                loaded.store(true, Ordering::Release);
                tracing::info!(gallery.cameras = cameras, gallery.faces = faces, "gallery loaded: {cameras} cameras, {faces} faces");
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot load the gallery, retrying: {e}");
                wanted.notify_one();
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = wanted.notified() => {}
        }
    }
}

pub async fn run_listener(bus: Bus, replica: String, wanted: Arc<Notify>, cancel: CancellationToken) {
    let names = bus.names().clone();
    let source = Source::Replica {
        queue: names.replica_queue("gallery.ingest", &replica),
        exchange: names.gallery_exchange(),
        routing_key: String::new(),
    };
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
                        wanted.notify_one();
                        ack(&delivery).await;
                    }
                    Err(e) => reject_poison(&delivery, &e.to_string()).await,
                }
            }
        }
    })
    .await;
}
