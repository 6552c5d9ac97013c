//! Keeps the gallery current. A listener turns gateway-api's `gallery.changed` notices into
//! [`Change`]s; one updater task applies them in arrival order, re-reading only what a notice names
//! (receivers always re-read PostgreSQL, so a late or repeated notice cannot roll anything back).
//! A full paged reload runs at start, after every bus reconnect (notices may have been missed)
//! and every GALLERY_RESYNC_SECONDS.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use domain::bus::{Bus, Source, ack, reject_poison, run_consumer};
use domain::config::GalleryIndex;
use domain::db::DbPool;
use domain::messages::{GalleryChanged, GalleryObject, decode};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::gallery::{Gallery, IndexSettings};
use crate::gallery_load as load;
use crate::metrics::IngestMetrics;

/// Ordered so that `Everything` sorts first and makes the rest of a batch moot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    Everything,
    Cameras,
    Dossier(i64),
    Face(i64),
}

impl Change {
    fn of(notice: &GalleryChanged) -> Option<Self> {
        match notice.object {
            GalleryObject::Camera | GalleryObject::CameraGroup => Some(Self::Cameras),
            GalleryObject::Dossier => Some(Self::Dossier(notice.id)),
            GalleryObject::DossierFace => Some(Self::Face(notice.id)),
            // A list change can touch any number of dossiers: re-read everything.
            GalleryObject::DossierList => Some(Self::Everything),
            GalleryObject::Hook => None,
        }
    }
}

pub async fn listen(bus: Bus, replica: String, changes: mpsc::UnboundedSender<Change>, cancel: CancellationToken) {
    let names = bus.names().clone();
    let source = Source::Replica {
        queue: names.replica_queue("gallery.ingest", &replica),
        exchange: names.gallery_exchange(),
        routing_key: String::new(),
    };
    run_consumer(&bus, source, 64, &cancel, |mut consumer, _generation| {
        let (changes, cancel) = (changes.clone(), cancel.clone());
        async move {
            // A new connection: whatever was announced while we were away is unknown.
            let _ = changes.send(Change::Everything);
            loop {
                let delivery = tokio::select! {
                    () = cancel.cancelled() => return,
                    next = consumer.next() => match next {
                        Some(Ok(delivery)) => delivery,
                        _ => return,
                    },
                };
                match decode::<GalleryChanged>(&delivery.data) {
                    Ok(notice) => {
                        tracing::debug!(object = ?notice.object, id = notice.id, "gallery change: {:?} {}", notice.object, notice.id);
                        if let Some(change) = Change::of(&notice) {
                            let _ = changes.send(change);
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

pub struct Updater {
    pub pool: DbPool,
    pub gallery: Gallery,
    pub loaded: Arc<AtomicBool>,
    pub metrics: IngestMetrics,
    pub page_size: i64,
    pub index: IndexSettings,
    pub resync: Duration,
}

impl Updater {
    pub async fn run(self, mut changes: mpsc::UnboundedReceiver<Change>, cancel: CancellationToken) {
        let mut pending = BTreeSet::from([Change::Everything]);
        let mut next_resync = Instant::now() + self.resync;
        loop {
            while let Ok(change) = changes.try_recv() {
                pending.insert(change);
            }
            if !pending.is_empty() {
                match self.apply(&pending).await {
                    Ok(()) => {
                        if pending.contains(&Change::Everything) {
                            next_resync = Instant::now() + self.resync;
                        }
                        pending.clear();
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot update the gallery, retrying: {e}");
                        tokio::select! {
                            () = cancel.cancelled() => return,
                            () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                        continue;
                    }
                }
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                change = changes.recv() => match change {
                    Some(change) => { pending.insert(change); }
                    None => return,
                },
                () = tokio::time::sleep_until(next_resync.into()) => {
                    pending.insert(Change::Everything);
                    next_resync = Instant::now() + self.resync;
                }
            }
        }
    }

    async fn apply(&self, pending: &BTreeSet<Change>) -> anyhow::Result<()> {
        if pending.contains(&Change::Everything) {
            let started = Instant::now();
            let data = load::everything(&self.pool, self.page_size, self.index).await?;
            // Trained before it is swapped in (nobody searches it yet), off the async threads.
            let data = if data.uses_ivf() {
                tokio::task::spawn_blocking(move || {
                    let mut data = data;
                    data.train_if_due();
                    data
                })
                .await?
            } else {
                data
            };
            let (cameras, faces) = (data.cameras.len(), data.face_count());
            self.gallery.replace(data);
            self.loaded.store(true, Ordering::Release);
            self.metrics.gallery_reloads.inc();
            let elapsed_ms = started.elapsed().as_millis() as u64;
            tracing::info!(
                gallery.cameras = cameras,
                gallery.faces = faces,
                elapsed_ms,
                "gallery loaded: {cameras} cameras, {faces} faces in {elapsed_ms} ms"
            );
        } else {
            let mut conn = self.pool.get().await?;
            for change in pending {
                match *change {
                    Change::Everything => {}
                    Change::Cameras => {
                        let cameras = load::cameras(&mut conn).await?;
                        self.gallery.write().cameras = cameras;
                    }
                    Change::Dossier(id) => {
                        let faces = load::dossier(&mut conn, id).await?;
                        self.gallery.write().replace_dossier(id, faces);
                    }
                    Change::Face(id) => {
                        let face = load::face(&mut conn, id).await?;
                        let mut data = self.gallery.write();
                        match face {
                            Some(face) => data.upsert_face(face),
                            None => data.remove_face(id),
                        }
                    }
                }
                self.metrics.gallery_changes.inc();
                tracing::debug!(change = ?change, "gallery change applied: {change:?}");
            }
            if self.index.kind == GalleryIndex::Ivf {
                // Grown past what the IVF centroids were trained on: re-train (see there).
                let gallery = self.gallery.clone();
                tokio::task::spawn_blocking(move || gallery.train_if_due()).await?;
            }
        }
        let data = self.gallery.read();
        self.metrics.gallery_cameras.set(data.cameras.len() as i64);
        self.metrics.gallery_faces.set(data.face_count() as i64);
        Ok(())
    }
}
