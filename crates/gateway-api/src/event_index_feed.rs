//! Keeping this replica's [`EventIndex`] equal to `event_vectors`. Three sources, in this order of
//! trust:
//! - the live feed's own queue (every replica gets every `event.created`, which carries the vector
//!   when the recorder kept it): new events, within milliseconds;
//! - a full load from PostgreSQL (paged, progress in the log) once the feed's queue is bound for
//!   the first time, so that nothing committed between the two is missed: what committed before
//!   the binding is read by the load, what committed after arrives on the queue;
//! - a catch-up after each reconnect: the queue is exclusive, so what was announced while it was
//!   gone is read back by `recorded_date`, from a margin before the loss (a recorder transaction
//!   stamps its rows when it starts and may commit later; the gateway's and the database's
//!   clocks differ).
//!
//! The index holds an id once, so the overlaps are harmless. A periodic purge drops what the age
//! limits (EVENT_SEARCH.VECTORS_MAX_AGE, EVENTS_MAX_AGE, RETENTION.UNMATCHED_MAX_AGE) expire; the
//! retention job deletes the same rows from PostgreSQL.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::Config;
use domain::db::DbPool;
use domain::event::FaceEvent;
use domain::schema::event_vectors;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::event_index::EventIndex;

/// Rows read per query of a load.
const PAGE: i64 = 5_000;
/// How far before the feed's loss a catch-up starts reading.
const CATCH_UP_MARGIN: chrono::Duration = chrono::Duration::minutes(2);
/// Pause before a failed load is tried again.
const RETRY: Duration = Duration::from_secs(2);
/// How often expired rows leave the index.
const PURGE_EVERY: Duration = Duration::from_secs(600);

pub struct EventSearch {
    pub index: EventIndex,
    pool: DbPool,
    config: Arc<Config>,
    cancel: CancellationToken,
    /// Whether the first full load was started (it runs once per process).
    load_started: AtomicBool,
    /// When the live feed lost its queue, since the last catch-up began (the earliest loss).
    lost_at: Mutex<Option<DateTime<Utc>>>,
}

type VectorRow = (Uuid, DateTime<Utc>, bool, Vec<f32>, DateTime<Utc>);

impl EventSearch {
    /// `None` when EVENT_SEARCH.KEEP_VECTORS is `none`: no index, no memory, no load.
    pub fn new(pool: DbPool, config: Arc<Config>, cancel: CancellationToken) -> Option<Arc<Self>> {
        (config.event_search.keep_vectors != domain::config::KeepVectors::None).then(|| {
            Arc::new(Self {
                index: EventIndex::new(),
                pool,
                config,
                cancel,
                load_started: AtomicBool::new(false),
                lost_at: Mutex::new(None),
            })
        })
    }

    /// An `event.created` off the live feed.
    pub fn on_event(&self, event: &FaceEvent) {
        if let Some(vector) = &event.facen {
            self.index.insert(event.id, event.created_date, event.matched, vector);
        }
    }

    /// The live feed's queue is bound (again): load everything the first time, else catch up on
    /// what was announced while it was gone.
    pub fn on_feed_up(self: &Arc<Self>) {
        let since = if self.load_started.swap(true, Ordering::AcqRel) {
            match self.lost_at.lock().unwrap_or_else(PoisonError::into_inner).take() {
                Some(lost) => Some(lost - CATCH_UP_MARGIN),
                None => return,
            }
        } else {
            None
        };
        let this = self.clone();
        tokio::spawn(async move { this.load_until_done(since).await });
    }

    /// The live feed lost its queue.
    pub fn on_feed_down(&self) {
        self.lost_at.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert_with(Utc::now);
    }

    async fn load_until_done(&self, since: Option<DateTime<Utc>>) {
        let what = if since.is_some() { "catch-up" } else { "load" };
        loop {
            let started = Instant::now();
            match self.load(since).await {
                Ok(read) => {
                    if since.is_none() {
                        self.index.set_ready();
                    }
                    tracing::info!(
                        rows = read,
                        indexed = self.index.len(),
                        seconds = started.elapsed().as_secs_f64(),
                        "event search index {what} done: {read} vectors read, {} held",
                        self.index.len()
                    );
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "event search index {what} failed, will retry: {e}"),
            }
            tokio::select! {
                () = self.cancel.cancelled() => return,
                () = tokio::time::sleep(RETRY) => {}
            }
        }
    }

    /// Reads `event_vectors` recorded at or after `since` (all of it for `None`) into the index, in
    /// pages by (recorded_date, event_id); returns the rows read.
    async fn load(&self, since: Option<DateTime<Utc>>) -> anyhow::Result<usize> {
        let cutoffs = Cutoffs::now(&self.config);
        let mut after: Option<(DateTime<Utc>, Uuid)> = None;
        let mut read = 0;
        let mut last_log = Instant::now();
        loop {
            let mut conn = self.pool.get().await?;
            let mut query = event_vectors::table
                .select((
                    event_vectors::event_id,
                    event_vectors::created_date,
                    event_vectors::matched,
                    event_vectors::embedding,
                    event_vectors::recorded_date,
                ))
                .order((event_vectors::recorded_date, event_vectors::event_id))
                .limit(PAGE)
                .into_boxed();
            if let Some(since) = since {
                query = query.filter(event_vectors::recorded_date.ge(since));
            }
            if let Some((at, id)) = after {
                query = query.filter(
                    event_vectors::recorded_date
                        .gt(at)
                        .or(event_vectors::recorded_date.eq(at).and(event_vectors::event_id.gt(id))),
                );
            }
            let rows: Vec<VectorRow> = query.load(&mut conn).await?;
            drop(conn);
            let n = rows.len();
            read += n;
            after = rows.last().map(|r| (r.4, r.0));
            for (id, created, matched, vector, _) in rows {
                if cutoffs.keeps(created, matched) {
                    self.index.insert(id, created, matched, &vector);
                }
            }
            if n < PAGE as usize || self.cancel.is_cancelled() {
                return Ok(read);
            }
            if last_log.elapsed() > Duration::from_secs(5) {
                tracing::info!(rows = read, "event search index loading: {read} vectors read so far");
                last_log = Instant::now();
            }
        }
    }

    /// Drops expired rows from the index every few minutes until cancelled.
    pub async fn run_purge(self: Arc<Self>) {
        loop {
            tokio::select! {
                () = self.cancel.cancelled() => return,
                () = tokio::time::sleep(PURGE_EVERY) => {}
            }
            let cutoffs = Cutoffs::now(&self.config);
            let this = self.clone();
            match tokio::task::spawn_blocking(move || this.index.purge(|t, m| cutoffs.keeps(t, m))).await {
                Ok(n) if n > 0 => tracing::info!(rows = n, "event search index dropped {n} expired vectors"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "event search index purge failed: {e}"),
            }
        }
    }
}

/// The oldest detection time a kept vector may have, for matched and unmatched events.
#[derive(Debug, Clone, Copy)]
pub struct Cutoffs {
    pub matched: DateTime<Utc>,
    pub unmatched: DateTime<Utc>,
}

impl Cutoffs {
    pub fn now(config: &Config) -> Self {
        let (matched, unmatched) = crate::retention::limits(config);
        let vectors = config.event_search.vectors_max_age;
        let days = |d: u32| {
            let d = if vectors > 0 { d.min(vectors) } else { d };
            Utc::now() - chrono::Duration::days(i64::from(d))
        };
        Self { matched: days(matched), unmatched: days(unmatched) }
    }

    pub fn keeps(&self, created: DateTime<Utc>, matched: bool) -> bool {
        created >= if matched { self.matched } else { self.unmatched }
    }
}

/// Held by the live feed while its queue is bound: tells the index when the queue comes and goes
/// (however the feed's session ends).
pub struct FeedLink(Arc<EventSearch>);

impl FeedLink {
    pub fn up(search: Arc<EventSearch>) -> Self {
        search.on_feed_up();
        Self(search)
    }
}

impl Drop for FeedLink {
    fn drop(&mut self) {
        self.0.on_feed_down();
    }
}
