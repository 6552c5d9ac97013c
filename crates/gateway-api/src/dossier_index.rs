//! The in-memory index behind `looks_like` on `GET /dossiers/`: every dossier face's vector
//! (active or not: the search's query re-checks `active` and the list filter) as an 8-bit copy in
//! a [`ScanIndex`] keyed by face id and tagged with its dossier, kept equal to `dossier_faces`:
//! - a full paged load each time this replica's queue on the gallery exchange is bound (at start
//!   and after every reconnect: notices may have been missed while it was gone), built aside and
//!   swapped in whole; this replica's own writes made during the load are applied again after it;
//! - every FACEROUTER.GALLERY_RESYNC_SECONDS, a comparison with the table (its count and id sum)
//!   and a full load when they differ: a notice another replica could not publish is never sent;
//! - `gallery.changed` notices from every replica: a DossierFace notice re-reads that face (gone
//!   from the table: it leaves the index), a Dossier notice re-reads that dossier's faces (a
//!   deleted dossier's faces go with it, by cascade, without notices of their own);
//! - this replica's own writes, applied before [`crate::state::AppState::announce`] publishes, so
//!   the next request through this replica finds them whatever the bus does.
//!
//! Every source re-reads PostgreSQL, so a late or repeated notice cannot roll anything back. Per
//! row: the codes (`dim` bytes), their scale, the face and dossier ids, and the face id in the
//! de-duplicating set: about 170 bytes for 128 dimensions.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::bus::Bus;
use domain::db::{DbConn, DbPool};
use domain::messages::{GalleryChanged, GalleryObject};
use domain::schema::dossier_faces;
use prometheus::IntGauge;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::scan_index::ScanIndex;

/// Rows read per query of a full load.
const PAGE: i64 = 5_000;
/// Pause before a failed update is tried again.
const RETRY: Duration = Duration::from_secs(1);

/// Face id -> its dossier's id.
pub type DossierIndex = ScanIndex<i64, i64>;

/// What a notice asks to re-read. Ordered so that `Everything` sorts first and makes the rest of
/// a batch moot (the load starts after their commits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Change {
    Everything,
    Dossier(i64),
    Face(i64),
}

impl Change {
    fn of(object: GalleryObject, id: i64) -> Option<Self> {
        match object {
            GalleryObject::Dossier => Some(Self::Dossier(id)),
            GalleryObject::DossierFace => Some(Self::Face(id)),
            _ => None,
        }
    }
}

pub struct DossierSearch {
    pub index: DossierIndex,
    pool: DbPool,
    /// Faces held, once loaded (`ffsec_dossier_index_faces`).
    held: IntGauge,
    /// During a full load: this replica's own changes meanwhile, applied again once the load is
    /// swapped in (the load's pages may have been read before or after each of them, and their
    /// notices do not come back while the bus is down).
    loading: Mutex<Option<Vec<Change>>>,
}

impl DossierSearch {
    pub fn new(pool: DbPool, held: IntGauge) -> Arc<Self> {
        Arc::new(Self { index: DossierIndex::new(), pool, held, loading: Mutex::default() })
    }

    fn count(&self) {
        if self.index.is_ready() {
            self.held.set(i64::try_from(self.index.len()).unwrap_or(i64::MAX));
        }
    }

    /// Applies a change this replica committed, before it is announced. A failure is only logged:
    /// the notice coming back from the bus re-reads it.
    pub async fn on_own_change(&self, object: GalleryObject, id: i64) {
        let Some(change) = Change::of(object, id) else { return };
        if let Some(during_load) = self.loading.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
            during_load.push(change);
        }
        let applied = async {
            let mut conn = self.pool.get().await?;
            self.apply_one(&mut conn, change).await
        };
        if let Err(e) = applied.await {
            tracing::warn!(error = %e, "dossier search index: cannot apply {change:?} now, the notice will: {e}");
        }
        self.count();
    }

    /// Follows the gallery exchange until cancelled: reloads everything each time the queue is
    /// bound and every `resync` (FACEROUTER.GALLERY_RESYNC_SECONDS, as ingest's gallery: a notice
    /// another replica could not publish, its bus link down after its commit, is never re-sent),
    /// applies each notice.
    pub async fn run(self: Arc<Self>, bus: Bus, replica: String, resync: Duration, cancel: CancellationToken) {
        let reload = Arc::new(Notify::new());
        let (changes, mut incoming) = mpsc::unbounded_channel();
        let watcher = tokio::spawn({
            let (reload, cancel) = (reload.clone(), cancel.clone());
            async move {
                // `watch_gallery` wakes `reload` on every (re)connect and for the notices this
                // filter accepts; the notices are passed on here instead, each to be re-read alone.
                let pass_on = move |c: &GalleryChanged| {
                    if let Some(change) = Change::of(c.object, c.id) {
                        let _ = changes.send(change);
                    }
                    false
                };
                domain::bus::watch_gallery(bus, "gateway", &replica, reload, cancel, pass_on).await;
            }
        });
        let mut pending = BTreeSet::new();
        let mut resyncs = tokio::time::interval_at(tokio::time::Instant::now() + resync, resync);
        resyncs.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                () = reload.notified() => { pending.insert(Change::Everything); }
                _ = resyncs.tick() => match self.differs_from_table().await {
                    Ok(false) => continue,
                    Ok(true) => { pending.insert(Change::Everything); }
                    Err(e) => {
                        tracing::warn!(error = %e, "dossier search index: cannot compare with the table now: {e}");
                        continue;
                    }
                },
                change = incoming.recv() => match change {
                    Some(change) => { pending.insert(change); }
                    None => break,
                },
            }
            while let Ok(change) = incoming.try_recv() {
                pending.insert(change);
            }
            while let Err(e) = self.apply(&pending).await {
                tracing::warn!(error = %e, "cannot update the dossier search index, retrying: {e}");
                tokio::select! {
                    () = cancel.cancelled() => break,
                    () = tokio::time::sleep(RETRY) => {}
                }
            }
            pending.clear();
        }
        let _ = watcher.await;
    }

    async fn apply(&self, pending: &BTreeSet<Change>) -> anyhow::Result<()> {
        if pending.contains(&Change::Everything) {
            let started = Instant::now();
            *self.loading.lock().unwrap_or_else(PoisonError::into_inner) = Some(Vec::new());
            let fresh = self.load().await;
            let own = self.loading.lock().unwrap_or_else(PoisonError::into_inner).take().unwrap_or_default();
            self.index.replace_rows(fresh?);
            if !own.is_empty() {
                let mut conn = self.pool.get().await?;
                for change in own {
                    self.apply_one(&mut conn, change).await?;
                }
            }
            self.index.set_ready();
            self.count();
            let held = self.index.len();
            let seconds = started.elapsed().as_secs_f64();
            tracing::info!(rows = held, seconds, "dossier search index loaded: {held} faces");
            return Ok(());
        }
        let mut conn = self.pool.get().await?;
        for change in pending {
            self.apply_one(&mut conn, *change).await?;
        }
        self.count();
        Ok(())
    }

    async fn apply_one(&self, conn: &mut DbConn, change: Change) -> anyhow::Result<()> {
        match change {
            Change::Everything => {}
            Change::Face(id) => {
                let face: Option<(i64, Vec<f32>)> = dossier_faces::table
                    .find(id)
                    .select((dossier_faces::dossier_id, dossier_faces::embedding))
                    .first(conn)
                    .await
                    .optional()?;
                match face {
                    // A face's vector never changes (a new photo is a new face): a known one stays.
                    Some((dossier, vector)) => {
                        self.index.insert(id, dossier, &vector);
                    }
                    None => {
                        self.index.retain(|face, _| face != id);
                    }
                }
            }
            Change::Dossier(dossier) => {
                let faces: Vec<(i64, Vec<f32>)> = dossier_faces::table
                    .filter(dossier_faces::dossier_id.eq(dossier))
                    .select((dossier_faces::id, dossier_faces::embedding))
                    .load(conn)
                    .await?;
                let present: HashSet<i64> = faces.iter().map(|f| f.0).collect();
                self.index.retain(|face, d| d != dossier || present.contains(&face));
                for (id, vector) in faces {
                    self.index.insert(id, dossier, &vector);
                }
            }
        }
        tracing::debug!(change = ?change, "dossier search index: applied {change:?}");
        Ok(())
    }

    /// Whether the table holds other faces than the index (only their set can differ: a face's
    /// vector and dossier never change). Its count and the sum of its ids say so exactly: new
    /// faces have ids above every face before them, so no mix of adds and deletes keeps both
    /// the same. Faces the index skips (no vector) are left out of both. This keeps the periodic
    /// resync to one aggregate query while nothing was missed, instead of re-reading every vector.
    async fn differs_from_table(&self) -> anyhow::Result<bool> {
        #[derive(QueryableByName)]
        struct Fingerprint {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            faces: i64,
            #[diesel(sql_type = diesel::sql_types::Text)]
            id_sum: String,
        }
        let mut conn = self.pool.get().await?;
        let table: Fingerprint = diesel::sql_query(
            "SELECT count(*) AS faces, coalesce(sum(id), 0)::text AS id_sum FROM dossier_faces \
             WHERE cardinality(embedding) > 0",
        )
        .get_result(&mut conn)
        .await?;
        let held = (self.index.len(), self.index.fold_ids(0_i128, |sum, id| sum + i128::from(*id)));
        Ok(!self.index.is_ready()
            || (usize::try_from(table.faces).ok(), table.id_sum.parse::<i128>().ok()) != (Some(held.0), Some(held.1)))
    }

    /// Every dossier face, read in pages by id into a new index.
    async fn load(&self) -> anyhow::Result<DossierIndex> {
        let fresh = DossierIndex::new();
        let mut after = i64::MIN;
        loop {
            let mut conn = self.pool.get().await?;
            let rows: Vec<(i64, i64, Vec<f32>)> = dossier_faces::table
                .filter(dossier_faces::id.gt(after))
                .order(dossier_faces::id)
                .limit(PAGE)
                .select((dossier_faces::id, dossier_faces::dossier_id, dossier_faces::embedding))
                .load(&mut conn)
                .await?;
            drop(conn);
            let n = rows.len();
            for (id, dossier, vector) in rows {
                after = id;
                fresh.insert(id, dossier, &vector);
            }
            if n < PAGE as usize {
                return Ok(fresh);
            }
        }
    }
}
