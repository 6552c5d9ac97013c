//! One matched event: is an alarm owed (a linked camera, not sent before, not rate limited), then
//! the attempts with their waits, each written to the `genetec_alarms` log.

use std::time::Instant;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::event::FaceEvent;
use domain::models::NewGenetecAlarm;
use domain::schema::{camera_groups, cameras, genetec_alarms};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::Alarms;
use crate::payload::event_json;

/// What to do with the message once handled.
pub enum Disposition {
    /// Done: sent, given up, or nothing owed.
    Ack,
    /// The decision could not be made (the database is down): try the message again later.
    Requeue,
    /// Cut off by a shutdown: leave it unacked, so it is redelivered.
    Leave,
}

pub async fn handle(a: &Alarms, event: &FaceEvent, cancel: &CancellationToken) -> Disposition {
    let Some(dossier) = event.matched_dossier.as_ref().filter(|_| event.matched) else {
        a.metrics.genetec_alarms.with_label_values(&["unmatched"]).inc();
        return Disposition::Ack;
    };
    let source = match link(a, event).await {
        Ok(Some(source)) => source,
        Ok(None) => {
            a.metrics.genetec_alarms.with_label_values(&["not_linked"]).inc();
            return Disposition::Ack;
        }
        Err(e) => {
            tracing::warn!(event.id = %event.id, error = %e, "cannot tell whether event {} needs a Genetec alarm: {e}", event.id);
            return Disposition::Requeue;
        }
    };
    let row = |attempt: i32, outcome: &str| NewGenetecAlarm {
        event_id: event.id,
        camera_id: event.camera.id,
        dossier_id: dossier.id,
        attempt,
        outcome: outcome.into(),
        response_status: None,
        error: String::new(),
        duration_ms: 0,
    };
    if !a.limiter.admit(event.camera.id, dossier.id, Instant::now()) {
        a.metrics.genetec_alarms.with_label_values(&["rate_limited"]).inc();
        log(a, row(0, "rate_limited")).await;
        return Disposition::Ack;
    }
    let context = context(a, event);
    let delays = &a.settings.retry_delays_ms;
    for attempt in 0..=delays.len() {
        let started = Instant::now();
        let outcome = a.sdk.trigger_alarm(a.settings.alarm, source, &context).await;
        let number = i32::try_from(attempt + 1).unwrap_or(i32::MAX);
        let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        let last = attempt == delays.len();
        match outcome {
            Ok(status) => {
                a.metrics.genetec_attempts.with_label_values(&["success"]).inc();
                a.metrics.genetec_alarms.with_label_values(&["sent"]).inc();
                log(
                    a,
                    NewGenetecAlarm { response_status: Some(i32::from(status)), duration_ms, ..row(number, "sent") },
                )
                .await;
                tracing::info!(event.id = %event.id, camera.id = event.camera.id, "Genetec alarm raised for event {}", event.id);
                return Disposition::Ack;
            }
            Err(e) => {
                a.metrics.genetec_attempts.with_label_values(&["failure"]).inc();
                let outcome = if last { "gave_up" } else { "failed" };
                let status = e.status.map(i32::from);
                log(
                    a,
                    NewGenetecAlarm {
                        response_status: status,
                        error: e.message.clone(),
                        duration_ms,
                        ..row(number, outcome)
                    },
                )
                .await;
                if last {
                    a.metrics.genetec_alarms.with_label_values(&["gave_up"]).inc();
                    tracing::warn!(event.id = %event.id, error = %e, "gave up the Genetec alarm for event {}: {e}", event.id);
                    return Disposition::Ack;
                }
            }
        }
        let wait = std::time::Duration::from_millis(delays[attempt]);
        tokio::select! {
            () = cancel.cancelled() => return Disposition::Leave,
            () = tokio::time::sleep(wait) => {}
        }
    }
    Disposition::Ack
}

/// `Some(source camera)` when the event's camera is linked to Genetec: by its own
/// `genetec_camera` (which is then the alarm's source), or by being in GENETEC.CAMERA_GROUP.
/// Read from PostgreSQL as it is now (matched events are few), not from the event.
async fn link(a: &Alarms, event: &FaceEvent) -> anyhow::Result<Option<Option<i32>>> {
    let mut conn = a.pool.get().await?;
    let row: Option<(Option<i32>, String)> = cameras::table
        .inner_join(camera_groups::table)
        .filter(cameras::id.eq(event.camera.id))
        .select((cameras::genetec_camera, camera_groups::name))
        .first(&mut conn)
        .await
        .optional()?;
    let Some((source, group)) = row else { return Ok(None) };
    if source.is_some() || group == a.settings.camera_group {
        // A redelivered event whose alarm went out already is not raised twice.
        let sent: i64 = genetec_alarms::table
            .filter(genetec_alarms::event_id.eq(event.id))
            .filter(genetec_alarms::outcome.eq("sent"))
            .count()
            .get_result(&mut conn)
            .await?;
        if sent > 0 {
            a.metrics.genetec_alarms.with_label_values(&["already_sent"]).inc();
            return Ok(None);
        }
        return Ok(Some(source));
    }
    Ok(None)
}

/// What the alarm carries: the face crop, the dossier's photo and name, the confidence, the watch
/// lists and the full frame, as absolute (signed) links like the webhooks'.
fn context(a: &Alarms, event: &FaceEvent) -> Value {
    let full = event_json(&a.links, event);
    json!({
        "event_id": event.id,
        "created_date": full["created_date"],
        "camera": full["camera"],
        "dossier": full["matched_dossier"],
        "dossier_photo": full["dossier_photo"],
        "confidence": full["confidence"],
        "watch_lists": full["matched_lists"],
        "face": full["thumbnail"],
        "fullframe": full["fullframe"],
        "event_url": format!("{}/events/faces/{}/", a.links.base, event.id),
    })
}

async fn log(a: &Alarms, row: NewGenetecAlarm) {
    let written = async {
        let mut conn = a.pool.get().await?;
        diesel::insert_into(genetec_alarms::table).values(&row).execute(&mut conn).await?;
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = written {
        tracing::warn!(event.id = %row.event_id, error = %e, "cannot log a Genetec alarm attempt: {e}");
    }
}
