//! The in-memory gallery every ingest replica holds: cameras (with their groups) and the enrolled
//! dossier faces. Loaded at start, then kept current change by change from gateway-api's notices
//! (see `gallery_sync`), so the per-frame path never queries PostgreSQL.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use domain::config::GalleryIndex;
use domain::event::IdName;
use prometheus::Histogram;

use crate::face_index::{FaceIndex, FaceMeta, IvfPlan, IvfSettings, Match, Query};
use crate::search_batcher::{SearchBatcher, SearchError, SearchSettings};

#[derive(Debug, Clone)]
pub struct CameraEntry {
    pub id: i64,
    pub name: String,
    pub active: bool,
    pub group: IdName,
    pub confidence_threshold: Option<f32>,
    pub url: String,
    pub roi: String,
    /// The camera's own token for external detectors (compared in constant time).
    pub external_detector_token: String,
}

/// One dossier face as read from PostgreSQL.
#[derive(Debug, Clone)]
pub struct FaceRecord {
    pub meta: FaceMeta,
    pub vector: Vec<f32>,
}

/// How the gallery's faces are searched: GALLERY_INDEX and, for "ivf", its knobs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexSettings {
    pub kind: GalleryIndex,
    pub ivf: IvfSettings,
}

impl IndexSettings {
    pub fn of(config: &domain::config::Facerouter) -> Self {
        Self { kind: config.gallery_index, ivf: IvfSettings { lists: config.ivf_lists, probes: config.ivf_probes } }
    }
}

/// A kind with the default knobs.
impl From<GalleryIndex> for IndexSettings {
    fn from(kind: GalleryIndex) -> Self {
        Self { kind, ivf: IvfSettings::default() }
    }
}

#[derive(Debug, Default)]
pub struct GalleryData {
    pub cameras: HashMap<i64, CameraEntry>,
    settings: IndexSettings,
    /// One index per vector dimension (a gallery normally has a single one, so finding a face's
    /// index by asking each costs one hash lookup, and no face -> index map is kept).
    indexes: HashMap<usize, FaceIndex>,
}

impl GalleryData {
    pub fn new(settings: impl Into<IndexSettings>) -> Self {
        Self { settings: settings.into(), ..Self::default() }
    }

    /// IVF indexes due for (re-)training, trained; reads only, so it can run under the read lock
    /// while searches go on (seconds at 1M faces).
    pub fn plan_training(&self) -> Vec<(usize, IvfPlan)> {
        self.indexes.iter().filter_map(|(dim, index)| index.ivf_plan().map(|plan| (*dim, plan))).collect()
    }

    /// Installs what [`Self::plan_training`] made, for each index that has not changed since;
    /// returns how many were installed.
    pub fn install_training(&mut self, plans: Vec<(usize, IvfPlan)>) -> usize {
        let mut installed = 0;
        for (dim, plan) in plans {
            if let Some(index) = self.indexes.get_mut(&dim) {
                installed += usize::from(index.ivf_install(plan));
            }
        }
        installed
    }

    /// Plans and installs in one go (a gallery nobody searches yet, e.g. just loaded).
    pub fn train_if_due(&mut self) -> usize {
        let plans = self.plan_training();
        self.install_training(plans)
    }

    /// Whether an IVF index is configured (training then has to be driven, see [`Gallery::train_if_due`]).
    pub fn uses_ivf(&self) -> bool {
        self.settings.kind == GalleryIndex::Ivf
    }

    /// The trained IVF index of dimension `dim`: (lists, faces trained on).
    pub fn ivf_trained(&self, dim: usize) -> Option<(usize, usize)> {
        self.indexes.get(&dim)?.ivf_trained()
    }

    /// Heap bytes of the faces' indexes by what they hold (see [`FaceIndex::heap_bytes`]), summed
    /// over the dimensions, in a fixed order.
    pub fn heap_bytes(&self) -> Vec<(&'static str, usize)> {
        let mut total: Vec<(&'static str, usize)> = Vec::new();
        for index in self.indexes.values() {
            for (what, bytes) in index.heap_bytes() {
                match total.iter_mut().find(|(w, _)| *w == what) {
                    Some((_, sum)) => *sum += bytes,
                    None => total.push((what, bytes)),
                }
            }
        }
        total
    }

    pub fn face_count(&self) -> usize {
        self.indexes.values().map(FaceIndex::len).sum()
    }

    pub fn upsert_face(&mut self, face: FaceRecord) {
        let (id, dim) = (face.meta.face_id, face.vector.len());
        // The same face changing dimension moves between indexes.
        for (_, index) in self.indexes.iter_mut().filter(|(d, _)| **d != dim) {
            index.remove(id);
        }
        self.indexes.retain(|_, index| !index.is_empty());
        let settings = self.settings;
        self.indexes
            .entry(dim)
            .or_insert_with(|| FaceIndex::new(dim, settings.kind).with_ivf(settings.ivf))
            .upsert(face.meta, &face.vector);
    }

    pub fn remove_face(&mut self, face_id: i64) {
        for index in self.indexes.values_mut() {
            index.remove(face_id);
        }
        self.indexes.retain(|_, index| !index.is_empty());
    }

    /// Replaces every face of `dossier` with `faces` (empty when the dossier is gone or unwatched).
    pub fn replace_dossier(&mut self, dossier: i64, faces: Vec<FaceRecord>) {
        for index in self.indexes.values_mut() {
            for id in index.faces_of(dossier) {
                index.remove(id);
            }
        }
        self.indexes.retain(|_, index| !index.is_empty());
        for face in faces {
            self.upsert_face(face);
        }
    }

    /// Returns spare capacity after a bulk load.
    pub fn shrink_to_fit(&mut self) {
        self.indexes.values_mut().for_each(FaceIndex::shrink_to_fit);
    }

    pub fn best_match(&self, query: &[f32], fallback_threshold: f32) -> Option<Match> {
        self.indexes.get(&query.len())?.best_match(query, fallback_threshold)
    }

    /// The best match of every query, each dimension's queries in one pass over its index.
    pub fn best_matches(&self, queries: &[Query<'_>]) -> Vec<Option<Match>> {
        let mut answers = vec![None; queries.len()];
        let mut dims: Vec<usize> = queries.iter().map(|q| q.vector.len()).collect();
        dims.sort_unstable();
        dims.dedup();
        for dim in dims {
            let Some(index) = self.indexes.get(&dim) else { continue };
            let picked: Vec<usize> = (0..queries.len()).filter(|&i| queries[i].vector.len() == dim).collect();
            let subset: Vec<Query<'_>> = picked.iter().map(|&i| queries[i]).collect();
            for (i, answer) in picked.into_iter().zip(index.best_matches(&subset)) {
                answers[i] = answer;
            }
        }
        answers
    }
}

/// Galleries smaller than this are searched on the calling thread.
const INLINE_SEARCH_BELOW: usize = 4_096;

/// Shared gallery. Frames read under a read lock (a search is milliseconds); changes take the
/// write lock only to apply rows already read from PostgreSQL.
#[derive(Clone)]
pub struct Gallery {
    data: Arc<RwLock<GalleryData>>,
    /// Searches run on a few threads of their own, never on an HTTP worker thread (other requests
    /// parse, store and publish meanwhile), each answering a batch of waiting faces per pass.
    searcher: Arc<SearchBatcher>,
}

impl Gallery {
    /// `batch_sizes` observes how many faces each search pass answered.
    pub fn new(settings: SearchSettings, batch_sizes: Histogram) -> Self {
        let data: Arc<RwLock<GalleryData>> = Arc::default();
        Self { searcher: Arc::new(SearchBatcher::new(data.clone(), settings, batch_sizes)), data }
    }

    /// The best match of `query`, searched off the async worker threads.
    pub async fn search(&self, query: Vec<f32>, fallback_threshold: f32) -> Result<Option<Match>, SearchError> {
        {
            // A small gallery is scanned in a few microseconds: cheaper than a thread hand-off.
            let data = self.read();
            if data.face_count() < INLINE_SEARCH_BELOW {
                return Ok(data.best_match(&query, fallback_threshold));
            }
        }
        let answer = self.searcher.submit(query, fallback_threshold)?;
        answer.await.map_err(|_| SearchError::Stopped)
    }

    pub fn read(&self) -> RwLockReadGuard<'_, GalleryData> {
        self.data.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, GalleryData> {
        self.data.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Trains IVF indexes that are due without blocking searches for long: k-means and the
    /// assignment of every face (seconds at 1M) run under the read lock, so searches go on and
    /// only the gallery's writer (the updater, which calls this and so is not writing) would
    /// wait; installing is a swap under the write lock, skipped when a face changed meanwhile.
    /// Blocking: call it from a blocking thread. Returns how many indexes were installed.
    pub fn train_if_due(&self) -> usize {
        let plans = self.read().plan_training();
        if plans.is_empty() {
            return 0;
        }
        self.write().install_training(plans)
    }

    pub fn camera(&self, id: i64) -> Option<CameraEntry> {
        self.read().cameras.get(&id).cloned()
    }

    /// Swaps in a freshly loaded gallery in one step (the old one is freed after the lock).
    pub fn replace(&self, next: GalleryData) {
        let old = std::mem::replace(&mut *self.write(), next);
        drop(old);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face_index::ListEntry;

    fn face(id: i64, dossier: i64, vector: Vec<f32>) -> FaceRecord {
        let lists = vec![ListEntry { id: 1, name: "l".into(), threshold: None }];
        let meta = FaceMeta {
            face_id: id,
            dossier: IdName { id: dossier, name: String::new() },
            lists: lists.into(),
            photo: String::new(),
        };
        FaceRecord { meta, vector }
    }

    #[test]
    fn dossier_replacement_and_mixed_dimensions() {
        let mut data = GalleryData::new(GalleryIndex::Int8);
        data.upsert_face(face(1, 10, vec![1.0, 0.0]));
        data.upsert_face(face(2, 10, vec![0.0, 1.0, 0.0]));
        data.upsert_face(face(3, 11, vec![0.0, 1.0]));
        assert_eq!(data.face_count(), 3);
        assert_eq!(data.best_match(&[0.0, 1.0, 0.0], 0.5).unwrap().face.face_id, 2);
        data.replace_dossier(10, vec![face(4, 10, vec![0.0, 1.0])]);
        assert_eq!(data.face_count(), 2);
        assert!(data.best_match(&[1.0, 0.0], 0.5).is_none());
        assert!(data.best_match(&[0.0, 1.0, 0.0], 0.5).is_none());
        // The same face changing dimension moves between indexes.
        data.upsert_face(face(3, 11, vec![1.0, 0.0, 0.0]));
        assert_eq!(data.best_match(&[1.0, 0.0, 0.0], 0.5).unwrap().face.face_id, 3);
        data.remove_face(3);
        data.remove_face(4);
        assert_eq!(data.face_count(), 0);
        assert!(data.indexes.is_empty());
    }

    #[test]
    fn ivf_galleries_train_when_due_and_answer_batches() {
        use crate::face_index::{IvfSettings, MIN_TRAIN_FACES};
        let settings = IndexSettings { kind: GalleryIndex::Ivf, ivf: IvfSettings { lists: 16, probes: 4 } };
        let mut data = GalleryData::new(settings);
        // Random unit vectors in 32 dimensions: no two faces are near each other.
        let vector = |id: usize| {
            let mut rng = crate::kmeans::Rng::new(id as u64);
            let v = (0..32).map(|_| (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 - 0.5).collect();
            domain::vector::normalise(v).unwrap()
        };
        for id in 0..MIN_TRAIN_FACES - 1 {
            data.upsert_face(face(id as i64, id as i64, vector(id)));
        }
        assert_eq!(data.train_if_due(), 0, "too small");
        assert!(data.ivf_trained(32).is_none());
        data.upsert_face(face(-1, -1, vector(3)));
        assert_eq!(data.train_if_due(), 1);
        assert_eq!(data.ivf_trained(32), Some((16, MIN_TRAIN_FACES)));
        assert_eq!(data.train_if_due(), 0, "nothing due after training");
        let (a, b) = (vector(5), vector(MIN_TRAIN_FACES - 2));
        let queries = [Query { vector: &a, fallback: 0.99 }, Query { vector: &b, fallback: 0.99 }];
        let ids: Vec<_> = data.best_matches(&queries).iter().map(|m| m.as_ref().map(|m| m.face.face_id)).collect();
        let alone: Vec<_> = [&a, &b].iter().map(|q| data.best_match(q, 0.99).map(|m| m.face.face_id)).collect();
        assert_eq!(ids, alone);
        assert_eq!(ids, vec![Some(5), Some(MIN_TRAIN_FACES as i64 - 2)]);
    }

    #[test]
    fn a_batch_over_mixed_dimensions_and_an_empty_gallery() {
        let mut data = GalleryData::new(GalleryIndex::Flat);
        let (two, three, four) = ([0.0, 1.0], [0.0, 1.0, 0.0], [1.0; 4]);
        let queries = [&two[..], &three[..], &four[..]].map(|vector| Query { vector, fallback: 0.5 });
        assert!(data.best_matches(&queries).iter().all(Option::is_none));
        data.upsert_face(face(1, 10, vec![0.0, 1.0]));
        data.upsert_face(face(2, 11, vec![0.0, 1.0, 0.0]));
        let ids: Vec<_> = data.best_matches(&queries).iter().map(|m| m.as_ref().map(|m| m.face.face_id)).collect();
        assert_eq!(ids, vec![Some(1), Some(2), None]);
    }
}
