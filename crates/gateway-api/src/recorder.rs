//! The recorder: consumes accepted faces, inserts them in multi-row batches (the event id makes the
//! insert idempotent, so redelivery is harmless), then announces each stored event on the events
//! exchange and only then acks. A failure leaves the message to come again.

use std::time::{Duration, Instant};

use diesel_async::RunQueryDsl;
use domain::bus::topology::ROUTE_EVENT_CREATED;
use domain::bus::{Source, ack, reject_poison, run_consumer};
use domain::event::FaceEvent;
use domain::messages::{EventCreated, FaceDetected, decode};
use domain::models::FaceEventRow;
use domain::schema::face_events;
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::BasicNackOptions;
use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// How long a batch waits for more messages once it has one.
const LINGER: Duration = Duration::from_millis(5);
/// Pause after a database failure before the batch is handed back, so an outage is not a hot loop.
const FAILURE_PAUSE: Duration = Duration::from_secs(1);

pub async fn run(state: actix_web::web::Data<AppState>, cancel: CancellationToken) {
    let bus = state.bus.clone();
    let prefetch = state.config.rabbitmq.prefetch;
    let max_batch = usize::from(prefetch);
    let source = Source::Shared(bus.names().recorder_queue());
    run_consumer(&bus, source, prefetch, &cancel, |mut consumer, _generation| {
        let state = state.clone();
        let cancel = cancel.clone();
        async move {
            loop {
                let first = tokio::select! {
                    () = cancel.cancelled() => return,
                    next = consumer.next() => match next {
                        Some(Ok(delivery)) => delivery,
                        _ => return,
                    },
                };
                let mut batch = vec![first];
                let deadline = tokio::time::Instant::now() + LINGER;
                let mut ended = false;
                while batch.len() < max_batch {
                    match tokio::time::timeout_at(deadline, consumer.next()).await {
                        Ok(Some(Ok(delivery))) => batch.push(delivery),
                        Ok(_) => {
                            ended = true;
                            break;
                        }
                        Err(_) => break,
                    }
                }
                // A batch in hand is finished even during shutdown: its acks are the last thing sent.
                record_batch(&state, batch).await;
                if ended {
                    return;
                }
            }
        }
    })
    .await;
}

async fn record_batch(state: &AppState, batch: Vec<Delivery>) {
    let started = Instant::now();
    let mut readable: Vec<(Delivery, FaceEvent)> = Vec::with_capacity(batch.len());
    for delivery in batch {
        match decode::<FaceDetected>(&delivery.data) {
            Ok(FaceDetected(event)) => readable.push((delivery, event)),
            Err(e) => reject_poison(&delivery, &e.to_string()).await,
        }
    }
    if readable.is_empty() {
        return;
    }
    let rows: Vec<FaceEventRow> = readable.iter().map(|(_, e)| FaceEventRow::from_event(e)).collect();
    let inserted = match insert(state, &rows).await {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(error = %e, batch = rows.len(), "recorder cannot store {} events: {e}", rows.len());
            state.metrics.recorded.with_label_values(&["failed"]).inc_by(rows.len() as u64);
            tokio::time::sleep(FAILURE_PAUSE).await;
            for (delivery, _) in &readable {
                let _ = delivery.acker.nack(BasicNackOptions { requeue: true, multiple: false }).await;
            }
            return;
        }
    };
    state.metrics.recorded.with_label_values(&["stored"]).inc_by(inserted as u64);
    state.metrics.recorded.with_label_values(&["duplicate"]).inc_by((rows.len() - inserted) as u64);
    // Announce even events that were already stored: the earlier attempt may have died before it
    // announced them, and every consumer downstream tolerates a repeat.
    let exchange = state.bus.names().events_exchange();
    let announcements = readable.into_iter().map(|(delivery, event)| {
        let exchange = exchange.clone();
        async move {
            let id = event.id.to_string();
            match state.bus.publish(&exchange, ROUTE_EVENT_CREATED, &EventCreated(event), &id).await {
                Ok(()) => {
                    ack(&delivery).await;
                }
                Err(e) => {
                    tracing::warn!(event.id = %id, error = %e, "cannot announce event {id}, will retry: {e}");
                    let _ = delivery.acker.nack(BasicNackOptions { requeue: true, multiple: false }).await;
                }
            }
        }
    });
    futures_util::future::join_all(announcements).await;
    state.metrics.record_batch_seconds.observe(started.elapsed().as_secs_f64());
}

async fn insert(state: &AppState, rows: &[FaceEventRow]) -> anyhow::Result<usize> {
    let mut conn = state.pool.get().await?;
    let inserted = diesel::insert_into(face_events::table)
        .values(rows)
        .on_conflict((face_events::id, face_events::created_date))
        .do_nothing()
        .execute(&mut conn)
        .await?;
    Ok(inserted)
}
