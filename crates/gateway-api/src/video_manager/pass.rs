//! One pass of the sync and one of the status read-back. A pass stops at the first call the video
//! manager does not answer: it is down, and the next pass (or the next kick) starts over, so an
//! outage costs one timeout per pass rather than one per camera.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::db::DbConn;
use domain::models::{Camera, VideoManagerJob};
use domain::schema::video_manager_jobs;

use super::client::{CallError, JobState, VmClient};
use super::{load, save};
use crate::state::AppState;

/// Pushes every camera whose job is behind (created, changed, refused before) and deletes the jobs
/// of deleted cameras.
pub async fn sync(state: &AppState, client: &VmClient) -> anyhow::Result<()> {
    exclusive(state, async |conn| sync_locked(state, client, conn).await).await
}

async fn sync_locked(state: &AppState, client: &VmClient, conn: &mut DbConn) -> anyhow::Result<()> {
    let (cameras, jobs) = load(conn).await?;
    let behind: Vec<&Camera> =
        cameras.values().filter(|c| jobs.get(&c.id).and_then(|j| j.synced_modified) != Some(c.modified_date)).collect();
    let orphans: Vec<&VideoManagerJob> = jobs.values().filter(|j| !cameras.contains_key(&j.camera_id)).collect();
    state.metrics.video_manager_behind.set(i64::try_from(behind.len() + orphans.len()).unwrap_or(i64::MAX));
    for camera in behind {
        let before = jobs.get(&camera.id);
        let created = before.is_some_and(|j| j.synced_modified.is_some());
        let outcome = push(client, camera, created).await;
        count(state, if created { "update" } else { "create" }, &outcome);
        let down = matches!(outcome, Err(CallError::Unreachable(_)));
        let row = after_push(camera.id, before, outcome, camera.modified_date);
        save(state, conn, before, &row, Some(camera.modified_date)).await?;
        if down {
            return Ok(());
        }
    }
    for job in orphans {
        let outcome = client.delete(job.camera_id).await;
        count(state, "delete", &outcome);
        match outcome {
            Ok(()) => {
                diesel::delete(video_manager_jobs::table.find(job.camera_id)).execute(conn).await?;
                tracing::info!(camera.id = job.camera_id, "deleted the video manager job of camera {}", job.camera_id);
            }
            Err(e) => {
                let row = VideoManagerJob { sync_error: describe(&e), checked_date: chrono::Utc::now(), ..job.clone() };
                save(state, conn, Some(job), &row, None).await?;
                if matches!(e, CallError::Unreachable(_)) {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// Reads back the status of every job that exists, in one `GET /jobs`; a job the video manager
/// lost is created again by the next sync.
pub async fn poll(state: &AppState, client: &VmClient) -> anyhow::Result<()> {
    exclusive(state, async |conn| poll_locked(state, client, conn).await).await
}

async fn poll_locked(state: &AppState, client: &VmClient, conn: &mut DbConn) -> anyhow::Result<()> {
    let (cameras, jobs) = load(conn).await?;
    if jobs.is_empty() {
        return Ok(());
    }
    let listed = client.jobs().await;
    count(state, "status", &listed);
    let listed: HashMap<String, JobState> = match listed {
        Ok(list) => list.into_iter().map(|j| (j.id.clone(), j)).collect(),
        Err(e) => {
            // Shown on every job we know of: the status they carry may be stale.
            for job in jobs.values().filter(|j| j.sync_error != describe(&e)) {
                let row = VideoManagerJob { sync_error: describe(&e), ..job.clone() };
                let modified = cameras.get(&job.camera_id).map(|c| c.modified_date);
                save(state, conn, Some(job), &row, modified).await?;
            }
            return Ok(());
        }
    };
    let mut lost = false;
    for job in jobs.values().filter(|j| j.synced_modified.is_some()) {
        let Some(camera) = cameras.get(&job.camera_id) else { continue };
        let mut row = VideoManagerJob { checked_date: chrono::Utc::now(), ..job.clone() };
        match listed.get(&job.camera_id.to_string()) {
            Some(found) => {
                row.status.clone_from(&found.status);
                row.status_msg.clone_from(&found.status_msg);
                row.sync_error.clear();
            }
            None => {
                row.synced_modified = None;
                row.sync_error = "the video manager has no job for this camera; creating it again".into();
                lost = true;
            }
        }
        // Rows change only when the job did: a steady state costs one read, no writes.
        let changed = row.status != job.status
            || row.status_msg != job.status_msg
            || row.sync_error != job.sync_error
            || row.synced_modified != job.synced_modified;
        if changed {
            save(state, conn, Some(job), &row, Some(camera.modified_date)).await?;
        }
    }
    if lost {
        super::kick(state);
    }
    Ok(())
}

/// Create or update, falling back to the other when the video manager knows better (a job created
/// by another replica, or one it lost).
async fn push(client: &VmClient, camera: &Camera, created: bool) -> Result<JobState, CallError> {
    if created {
        match client.update(camera).await {
            Err(CallError::Refused { status: 404, .. }) => client.create(camera).await,
            other => other,
        }
    } else {
        match client.create(camera).await {
            Err(CallError::Refused { status: 409, .. }) => client.update(camera).await,
            other => other,
        }
    }
}

/// The row after a push: in step on success; a refusal (a licence limit, a bad stream setting) is
/// shown as the job's status and retried on the next pass; an unreachable video manager keeps the
/// last known status and says why.
fn after_push(
    camera_id: i64,
    before: Option<&VideoManagerJob>,
    outcome: Result<JobState, CallError>,
    modified: chrono::DateTime<chrono::Utc>,
) -> VideoManagerJob {
    let mut row = before.cloned().unwrap_or(VideoManagerJob {
        camera_id,
        synced_modified: None,
        status: String::new(),
        status_msg: String::new(),
        sync_error: String::new(),
        checked_date: chrono::Utc::now(),
    });
    row.checked_date = chrono::Utc::now();
    match outcome {
        Ok(job) => {
            row.synced_modified = Some(modified);
            row.status = job.status;
            row.status_msg = job.status_msg;
            row.sync_error.clear();
        }
        Err(CallError::Refused { code, desc, .. }) => {
            row.status = code;
            row.status_msg = desc;
            row.sync_error.clear();
        }
        Err(e @ CallError::Unreachable(_)) => row.sync_error = describe(&e),
    }
    row
}

/// The advisory lock every pass runs under ("ffsec_vm" in ASCII). Each gateway-api replica runs
/// the sync; under the lock one pass runs at a time and starts by reloading what the one before it
/// saved, so a camera change is pushed once, not once per replica (the 409/404 fallbacks of `push`
/// stay for a job the video manager holds or lost on its own). A replica that finds the lock
/// taken waits for it rather than skip: its kick is then served by a pass that sees its write.
const PASS_LOCK: i64 = 0x6666_7365_635f_766d;

/// Runs `pass` on a connection holding [`PASS_LOCK`], released after it whatever its outcome.
async fn exclusive(state: &AppState, pass: impl AsyncFnOnce(&mut DbConn) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let mut conn = state.conn().await.map_err(|e| anyhow::anyhow!("{}", e.desc))?;
    lock_passes(&mut conn).await?;
    let outcome = pass(&mut conn).await;
    unlock_passes(conn).await;
    outcome
}

async fn lock_passes(conn: &mut DbConn) -> anyhow::Result<()> {
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<diesel::sql_types::BigInt, _>(PASS_LOCK)
        .execute(conn)
        .await
        .map_err(|e| anyhow::anyhow!("cannot take the video manager pass lock: {e}"))?;
    Ok(())
}

/// Releases the lock; a connection that cannot is closed instead of going back to the pool (the
/// session's end releases it), so no pooled connection keeps it.
async fn unlock_passes(mut conn: DbConn) {
    let released = diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<diesel::sql_types::BigInt, _>(PASS_LOCK)
        .execute(&mut conn)
        .await;
    if let Err(e) = released {
        tracing::warn!(error = %e, "cannot release the video manager pass lock, closing its connection: {e}");
        drop(diesel_async::pooled_connection::deadpool::Object::take(conn));
    }
}

fn describe(e: &CallError) -> String {
    match e {
        CallError::Refused { code, desc, .. } => format!("{code}: {desc}"),
        CallError::Unreachable(reason) => format!("video manager unreachable: {reason}"),
    }
}

fn count<T>(state: &AppState, call: &str, outcome: &Result<T, CallError>) {
    let label = match outcome {
        Ok(_) => "ok",
        Err(CallError::Refused { .. }) => "refused",
        Err(CallError::Unreachable(_)) => "unreachable",
    };
    state.metrics.video_manager_calls.with_label_values(&[call, label]).inc();
}
