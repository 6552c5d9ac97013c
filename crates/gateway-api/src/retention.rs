//! Retention: events older than FFSECURITY.EVENTS_MAX_AGE days (unmatched ones after
//! RETENTION.UNMATCHED_MAX_AGE, when set) are deleted in batches, with their images (through the
//! configured media store, local or S3).
//! Runs every RETENTION.INTERVAL_MINUTES and as `gateway-api cleanup_events --age N`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::sql_types::{Bool, Integer, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use domain::Config;
use domain::db::DbPool;
use domain::media::MediaStore;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub events: usize,
    pub files: usize,
}

#[derive(diesel::QueryableByName)]
struct Media {
    #[diesel(sql_type = Text)]
    thumbnail: String,
    #[diesel(sql_type = Text)]
    fullframe: String,
}

/// Age limits in days for matched and unmatched events.
pub fn limits(config: &Config) -> (u32, u32) {
    let matched = config.ffsecurity.events_max_age;
    let unmatched = match config.retention.unmatched_max_age {
        0 => matched,
        days => days,
    };
    (matched, unmatched)
}

pub async fn purge(pool: &DbPool, media: &dyn MediaStore, limits: (u32, u32), batch: u32) -> anyhow::Result<Purged> {
    let mut purged = Purged::default();
    for (matched, days) in [(true, limits.0), (false, limits.1)] {
        let cutoff = Utc::now() - chrono::Duration::days(i64::from(days));
        loop {
            let removed = purge_batch(pool, matched, cutoff, batch).await?;
            let count = removed.len();
            purged.events += count;
            purged.files += remove_files(media, event_files(removed)).await;
            if count < batch as usize {
                break;
            }
        }
    }
    // Pack files ("packs" layout) of hours whose every event has expired: what the deletes above
    // left in them is only images no event referred to (a face answered 503, a crash's tail).
    let oldest_kept = Utc::now() - chrono::Duration::days(i64::from(limits.0.max(limits.1)));
    purged.files += media.sweep_expired(oldest_kept.into()).await?;
    Ok(purged)
}

async fn purge_batch(pool: &DbPool, matched: bool, cutoff: DateTime<Utc>, batch: u32) -> anyhow::Result<Vec<Media>> {
    let mut conn = pool.get().await?;
    // An event's vector (event search) goes in the same statement as the event.
    let rows = diesel::sql_query(
        "WITH gone AS (DELETE FROM face_events WHERE (id, created_date) IN \
         (SELECT id, created_date FROM face_events WHERE matched = $1 AND created_date < $2 LIMIT $3) \
         RETURNING id, thumbnail, fullframe), \
         vectors AS (DELETE FROM event_vectors WHERE event_id IN (SELECT id FROM gone)) \
         SELECT thumbnail, fullframe FROM gone",
    )
    .bind::<Bool, _>(matched)
    .bind::<Timestamptz, _>(cutoff)
    .bind::<Integer, _>(i32::try_from(batch).unwrap_or(i32::MAX))
    .load::<Media>(&mut conn)
    .await?;
    Ok(rows)
}

/// Deletes the event vectors EVENT_SEARCH.VECTORS_MAX_AGE expires before their events (and any
/// left by an event deleted otherwise), in batches; returns how many.
pub async fn purge_vectors(
    pool: &DbPool,
    cutoffs: crate::event_index_feed::Cutoffs,
    batch: u32,
) -> anyhow::Result<usize> {
    let mut purged = 0;
    for (matched, cutoff) in [(true, cutoffs.matched), (false, cutoffs.unmatched)] {
        loop {
            let mut conn = pool.get().await?;
            let n = diesel::sql_query(
                "DELETE FROM event_vectors WHERE event_id IN \
                 (SELECT event_id FROM event_vectors WHERE matched = $1 AND created_date < $2 LIMIT $3)",
            )
            .bind::<Bool, _>(matched)
            .bind::<Timestamptz, _>(cutoff)
            .bind::<Integer, _>(i32::try_from(batch).unwrap_or(i32::MAX))
            .execute(&mut conn)
            .await?;
            purged += n;
            if n < batch as usize {
                break;
            }
        }
    }
    Ok(purged)
}

fn event_files(rows: Vec<Media>) -> Vec<String> {
    rows.into_iter().flat_map(|m| [m.thumbnail, m.fullframe]).collect()
}

/// Deletes expired `POST /detect/` results (their faces go with their photo); returns how many
/// photos.
pub async fn purge_detections(pool: &DbPool) -> anyhow::Result<usize> {
    let mut conn = pool.get().await?;
    Ok(diesel::sql_query("DELETE FROM detection_photos WHERE expires_at <= now()").execute(&mut conn).await?)
}

/// Removes stored images (best effort: a failure is logged and the rest go on); returns how many
/// removals succeeded. Also used for the photos of deleted dossier faces.
pub async fn remove_files(media: &dyn MediaStore, relative: Vec<String>) -> usize {
    let mut removed = 0;
    for path in relative.into_iter().filter(|p| !p.is_empty()) {
        match media.delete(path.clone()).await {
            Ok(()) => removed += 1,
            Err(e) => tracing::warn!(path = %path, error = %e, "cannot remove {path}: {e}"),
        }
    }
    removed
}

pub async fn run_periodic(
    pool: DbPool,
    media: std::sync::Arc<dyn MediaStore>,
    config: std::sync::Arc<Config>,
    cancel: CancellationToken,
) {
    let minutes = config.retention.interval_minutes;
    if minutes == 0 {
        return;
    }
    loop {
        match purge(&pool, media.as_ref(), limits(&config), config.retention.batch).await {
            Ok(p) if p.events > 0 => {
                tracing::info!(events = p.events, files = p.files, "purged {} old events", p.events)
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "event retention failed, will retry: {e}"),
        }
        match purge_vectors(&pool, crate::event_index_feed::Cutoffs::now(&config), config.retention.batch).await {
            Ok(n) if n > 0 => tracing::info!(vectors = n, "purged {n} expired event vectors"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "event vector retention failed, will retry: {e}"),
        }
        // Also here, not only on the next POST /detect/: a quiet gateway must not keep
        // uploaded photos past DETECTION_TTL for long.
        if let Err(e) = purge_detections(&pool).await {
            tracing::warn!(error = %e, "detection retention failed, will retry: {e}");
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(u64::from(minutes) * 60)) => {}
        }
    }
}
