//! The recorder: consumes accepted faces, inserts them in multi-row batches (the event id makes the
//! insert idempotent, so redelivery is harmless), then announces each stored event on the events
//! exchange and only then acks. A failure leaves the message to come again. A message carries one
//! face (`face.detected`) or several (`faces.detected`, ingest's publish batching): it is acked
//! once every event in it is announced, and handed back whole if any is not.
//!
//! Batches are pipelined: while one batch's announcements wait for their publish confirms, the
//! next batch is taken and inserted. A batch is whatever has arrived when the previous insert is
//! done (no linger), so a quiet feed is stored one message at a time and a busy one in large batches.

use std::collections::HashSet;
use std::time::Instant;

use diesel_async::{AsyncConnection, RunQueryDsl};
use domain::bus::topology::ROUTE_EVENT_CREATED;
use domain::bus::{Source, ack, reject_poison, run_consumer};
use domain::event::FaceEvent;
use domain::messages::{EventCreated, decode_faces};
use domain::models::{EventVectorRow, FaceEventRow};
use domain::schema::{event_vectors, face_events};
use futures_util::{FutureExt, StreamExt};
use lapin::message::Delivery;
use lapin::options::BasicNackOptions;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::state::AppState;

/// Pause after a database failure before the batch is handed back, so an outage is not a hot loop.
const FAILURE_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);
/// Rows per insert, about: messages are taken until this many events are in hand, so a batch can
/// pass it by one message (ingest's FACEROUTER.PUBLISH_BATCH, at most 1 000 faces). 2 000 events ×
/// ~25 columns still stays under PostgreSQL's 65 535 bind parameters per statement.
const MAX_BATCH: usize = 1000;
/// Stored batches whose announcements may be awaiting confirms at once. More would only let unacked
/// messages pile up (they count against the prefetch) without storing anything sooner.
const ANNOUNCING: usize = 2;

/// A stored batch, waiting to be announced and acked.
struct Stored {
    /// Each message with its events.
    messages: Vec<(Delivery, Vec<FaceEvent>)>,
    /// The events this batch stored; the others were stored before.
    inserted: HashSet<Uuid>,
    started: Instant,
}

pub async fn run(state: actix_web::web::Data<AppState>, cancel: CancellationToken) {
    let bus = state.bus.clone();
    let prefetch = state.config.rabbitmq.recorder_prefetch;
    let max_messages = usize::from(prefetch);
    let source = Source::Shared(bus.names().recorder_queue());
    run_consumer(&bus, source, prefetch, &cancel, |mut consumer, _generation| {
        let state = state.clone();
        let cancel = cancel.clone();
        async move {
            let mut announcing = JoinSet::new();
            loop {
                let first = tokio::select! {
                    () = cancel.cancelled() => break,
                    next = consumer.next() => match next {
                        Some(Ok(delivery)) => delivery,
                        _ => break,
                    },
                };
                // What has already arrived joins the batch; nothing waits for more.
                let mut batch = Batch::default();
                batch.take(&state, first).await;
                let mut ended = false;
                while batch.messages.len() < max_messages && batch.events < MAX_BATCH {
                    match consumer.next().now_or_never() {
                        Some(Some(Ok(delivery))) => batch.take(&state, delivery).await,
                        Some(_) => {
                            ended = true;
                            break;
                        }
                        None => break,
                    }
                }
                // A batch in hand is finished even during shutdown: its acks are the last thing sent.
                if let Some(stored) = store_batch(&state, batch).await {
                    while announcing.len() >= ANNOUNCING {
                        announcing.join_next().await;
                    }
                    announcing.spawn(announce(state.clone(), stored));
                }
                if ended {
                    break;
                }
            }
            while announcing.join_next().await.is_some() {}
        }
    })
    .await;
}

/// The messages taken for one insert, decoded.
#[derive(Default)]
struct Batch {
    messages: Vec<(Delivery, Vec<FaceEvent>)>,
    events: usize,
}

impl Batch {
    /// Decodes `delivery` into the batch; one that cannot be read is dead-lettered at once.
    async fn take(&mut self, state: &AppState, delivery: Delivery) {
        match decode_faces(&delivery.data) {
            Ok(events) => {
                self.events += events.len();
                self.messages.push((delivery, events));
            }
            Err(e) => {
                state.metrics.recorded.with_label_values(&["dead_lettered"]).inc();
                reject_poison(&delivery, &e.to_string()).await;
            }
        }
    }
}

/// Inserts a batch. Returns what is to be announced, or `None` when nothing is (no message held an
/// event, or the insert failed and the batch went back to the queue).
async fn store_batch(state: &AppState, batch: Batch) -> Option<Stored> {
    let started = Instant::now();
    let mut readable = batch.messages;
    if batch.events == 0 {
        // Nothing to insert (an empty batch message): done with at once.
        for (delivery, _) in &readable {
            ack(delivery).await;
        }
        return None;
    }
    let keep = state.config.event_search.keep_vectors;
    for event in readable.iter_mut().flat_map(|(_, events)| events.iter_mut()) {
        // A vector not kept is not announced either: every replica's event index holds exactly
        // what `event_vectors` holds.
        if !keep.keeps(event.matched) {
            event.facen = None;
        }
    }
    let events = || readable.iter().flat_map(|(_, events)| events.iter());
    let rows: Vec<FaceEventRow> = events().map(FaceEventRow::from_event).collect();
    let vectors: Vec<EventVectorRow> = events()
        .filter_map(|e| {
            let embedding = e.facen.clone()?;
            Some(EventVectorRow { event_id: e.id, created_date: e.created_date, matched: e.matched, embedding })
        })
        .collect();
    let count = rows.len();
    let inserted = match insert(state, rows, vectors).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::error!(error = %e, batch = count, "recorder cannot store {count} events: {e}");
            state.metrics.recorded.with_label_values(&["failed"]).inc_by(count as u64);
            tokio::time::sleep(FAILURE_PAUSE).await;
            for (delivery, _) in &readable {
                let _ = delivery.acker.nack(BasicNackOptions { requeue: true, multiple: false }).await;
            }
            return None;
        }
    };
    state.metrics.recorded.with_label_values(&["stored"]).inc_by(inserted.len() as u64);
    observe_age(state, "stored", events().filter(|e| inserted.contains(&e.id)));
    state.metrics.recorded.with_label_values(&["duplicate"]).inc_by((count - inserted.len()) as u64);
    Some(Stored { messages: readable, inserted, started })
}

/// Publishes `event.created` for the events of a stored batch that need it and acks each message
/// once all of its own announcements are confirmed (a message that cannot be is handed back whole).
async fn announce(state: actix_web::web::Data<AppState>, stored: Stored) {
    let exchange = state.bus.names().events_exchange();
    let mut inserted = stored.inserted;
    let announcements = stored.messages.into_iter().map(|(delivery, events)| {
        // A row this batch stored is announced once (by the first of its copies). A row stored
        // before is announced again only when the broker redelivers the message: the attempt that
        // stored it may have died before announcing it. A copy that is not a redelivery (the same
        // face published twice) was or will be announced by the delivery of the first copy.
        let wanted: Vec<FaceEvent> =
            events.into_iter().filter(|event| inserted.remove(&event.id) || delivery.redelivered).collect();
        let (state, exchange) = (&state, &exchange);
        async move {
            let published = wanted.into_iter().map(|event| async move {
                let id = event.id.to_string();
                let created = event.created_date;
                match state.bus.publish(exchange, ROUTE_EVENT_CREATED, &EventCreated(event), &id).await {
                    Ok(()) => {
                        observe_age_of(state, "announced", created);
                        true
                    }
                    Err(e) => {
                        tracing::warn!(event.id = %id, error = %e, "cannot announce event {id}, will retry: {e}");
                        false
                    }
                }
            });
            if futures_util::future::join_all(published).await.into_iter().all(|done| done) {
                ack(&delivery).await;
            } else {
                let _ = delivery.acker.nack(BasicNackOptions { requeue: true, multiple: false }).await;
            }
        }
    });
    futures_util::future::join_all(announcements).await;
    state.metrics.record_batch_seconds.observe(stored.started.elapsed().as_secs_f64());
}

/// Records how old events are on reaching `stage` (see `GatewayMetrics::event_age_seconds`).
fn observe_age<'a>(state: &AppState, stage: &str, events: impl Iterator<Item = &'a FaceEvent>) {
    let histogram = state.metrics.event_age_seconds.with_label_values(&[stage]);
    let now = chrono::Utc::now();
    for event in events {
        histogram.observe(age_seconds(now, event.created_date));
    }
}

pub(crate) fn observe_age_of(state: &AppState, stage: &str, created: chrono::DateTime<chrono::Utc>) {
    let age = age_seconds(chrono::Utc::now(), created);
    state.metrics.event_age_seconds.with_label_values(&[stage]).observe(age);
}

/// A worker clock ahead of ours counts as age 0, not as a negative age.
fn age_seconds(now: chrono::DateTime<chrono::Utc>, created: chrono::DateTime<chrono::Utc>) -> f64 {
    (now - created).to_std().map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Inserts the rows and their kept vectors in one transaction (a vector never outlives a failed
/// insert of its event) and returns the ids of the events that were not stored before.
async fn insert(
    state: &AppState,
    rows: Vec<FaceEventRow>,
    vectors: Vec<EventVectorRow>,
) -> anyhow::Result<HashSet<Uuid>> {
    let mut conn = state.pool.get().await?;
    let inserted: Vec<Uuid> = conn
        .transaction::<_, diesel::result::Error, _>(async move |conn| {
            let inserted: Vec<Uuid> = diesel::insert_into(face_events::table)
                .values(&rows)
                .on_conflict((face_events::id, face_events::created_date))
                .do_nothing()
                .returning(face_events::id)
                .get_results(conn)
                .await?;
            if !vectors.is_empty() {
                diesel::insert_into(event_vectors::table)
                    .values(&vectors)
                    .on_conflict(event_vectors::event_id)
                    .do_nothing()
                    .execute(conn)
                    .await?;
            }
            Ok(inserted)
        })
        .await?;
    Ok(inserted.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::age_seconds;

    #[test]
    fn an_event_from_a_clock_ahead_of_ours_is_age_zero() {
        let now = chrono::Utc::now();
        assert_eq!(age_seconds(now, now + chrono::Duration::seconds(3)), 0.0);
        let age = age_seconds(now, now - chrono::Duration::milliseconds(1500));
        assert!((age - 1.5).abs() < 1e-9, "{age}");
    }
}
