//! The video manager sync (INTEGRATIONS = ["video_manager"]): a desired-state reconciler. The
//! cameras table is what the video manager should hold; `video_manager_jobs` is what we know it
//! holds. A camera write commits and returns without calling anyone, then kicks the loop; a
//! periodic pass covers other replicas' writes and catches up after an outage. Job statuses are
//! read back on their own period and pushed as `camera_vm_status` frames.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::bus::topology::ROUTE_CAMERA_VM_STATUS;
use domain::db::DbConn;
use domain::messages::CameraVmStatus;
use domain::models::{Camera, VideoManagerJob};
use domain::schema::{cameras, video_manager_jobs};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub mod client;
mod pass;

use client::VmClient;

use crate::state::AppState;

/// The camera's job as clients see it (`vm_status` on the camera, `camera_vm_status` frames).
pub fn status_of(camera_id: i64, job: Option<&VideoManagerJob>, modified: Option<DateTime<Utc>>) -> CameraVmStatus {
    CameraVmStatus {
        camera: camera_id,
        status: job.map(|j| j.status.clone()).unwrap_or_default(),
        status_msg: job.map(|j| j.status_msg.clone()).unwrap_or_default(),
        in_sync: job.and_then(|j| j.synced_modified).is_some_and(|s| Some(s) == modified),
        error: job.map(|j| j.sync_error.clone()).unwrap_or_default(),
    }
}

/// `vm_status` of one camera, or None while the integration is off.
pub async fn camera_status(state: &AppState, conn: &mut DbConn, camera: &Camera) -> Option<CameraVmStatus> {
    state.video_manager.as_ref()?;
    let job: Option<VideoManagerJob> = video_manager_jobs::table
        .find(camera.id)
        .select(VideoManagerJob::as_select())
        .first(conn)
        .await
        .optional()
        .unwrap_or_else(|e| {
            tracing::warn!(camera.id = camera.id, error = %e, "cannot read the video manager job of camera {}: {e}", camera.id);
            None
        });
    Some(status_of(camera.id, job.as_ref(), Some(camera.modified_date)))
}

/// Wakes the sync after a camera write of this replica (a no-op while the integration is off).
pub fn kick(state: &AppState) {
    if let Some(kick) = &state.video_manager {
        kick.notify_one();
    }
}

/// Runs until `cancel`: pushes cameras whose job is behind, deletes jobs of deleted cameras, reads
/// statuses back.
pub async fn run(state: web::Data<AppState>, client: VmClient, kick: Arc<Notify>, cancel: CancellationToken) {
    let settings = &state.config.video_manager;
    let mut sync_tick = tokio::time::interval(Duration::from_millis(settings.sync_interval_ms));
    let mut status_tick = tokio::time::interval(Duration::from_millis(settings.status_interval_ms));
    sync_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    status_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let outcome = tokio::select! {
            () = cancel.cancelled() => return,
            () = kick.notified() => pass::sync(&state, &client).await,
            _ = sync_tick.tick() => pass::sync(&state, &client).await,
            _ = status_tick.tick() => pass::poll(&state, &client).await,
        };
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "video manager sync pass failed: {e:#}");
        }
    }
}

/// Every camera and every job row, keyed by camera id.
async fn load(conn: &mut DbConn) -> anyhow::Result<(HashMap<i64, Camera>, HashMap<i64, VideoManagerJob>)> {
    let cameras: Vec<Camera> = cameras::table.select(Camera::as_select()).load(conn).await?;
    let jobs: Vec<VideoManagerJob> = video_manager_jobs::table.select(VideoManagerJob::as_select()).load(conn).await?;
    Ok((cameras.into_iter().map(|c| (c.id, c)).collect(), jobs.into_iter().map(|j| (j.camera_id, j)).collect()))
}

/// Stores `row` and, when what clients see of it changed, pushes `camera_vm_status`.
async fn save(
    state: &AppState,
    conn: &mut DbConn,
    before: Option<&VideoManagerJob>,
    row: &VideoManagerJob,
    modified: Option<DateTime<Utc>>,
) -> anyhow::Result<()> {
    diesel::insert_into(video_manager_jobs::table)
        .values(row)
        .on_conflict(video_manager_jobs::camera_id)
        .do_update()
        .set(row)
        .execute(conn)
        .await?;
    let now = status_of(row.camera_id, Some(row), modified);
    if before.map(|b| status_of(b.camera_id, Some(b), modified)) != Some(now.clone()) {
        announce(state, &now).await;
    }
    Ok(())
}

/// Tells every replica's live feed. A lost notice only delays the frame: clients re-read
/// `GET /cameras/{id}/`.
async fn announce(state: &AppState, status: &CameraVmStatus) {
    let exchange = state.bus.names().events_exchange();
    let message_id = uuid::Uuid::now_v7().to_string();
    if let Err(e) = state.bus.publish(&exchange, ROUTE_CAMERA_VM_STATUS, status, &message_id).await {
        tracing::warn!(camera.id = status.camera, error = %e, "cannot announce the video manager status of camera {}: {e}", status.camera);
    }
}
