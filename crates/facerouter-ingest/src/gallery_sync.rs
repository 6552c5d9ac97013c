//! Keeps the gallery current: a reloader task coalesces change notices (from
//! [`domain::bus::watch_gallery`]) into full reloads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use domain::db::DbPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::gallery::Gallery;

const SAFETY_RELOAD: Duration = Duration::from_secs(60);
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
                tracing::info!(
                    gallery.cameras = cameras,
                    gallery.faces = faces,
                    "gallery loaded: {cameras} cameras, {faces} faces"
                );
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
            // A notice lost while gateway-api's bus link was down is caught up here.
            () = tokio::time::sleep(SAFETY_RELOAD) => {}
        }
    }
}
