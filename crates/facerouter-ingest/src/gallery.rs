//! The in-memory gallery every ingest replica holds: cameras (with their groups) and the enrolled
//! dossier faces. Loaded at start, then kept current change by change from gateway-api's notices
//! (see `gallery_sync`), so the per-frame path never queries PostgreSQL.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use domain::config::GalleryIndex;
use domain::event::IdName;
use tokio::sync::Semaphore;

use crate::face_index::{FaceIndex, FaceMeta, Match};

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

#[derive(Debug, Default)]
pub struct GalleryData {
    pub cameras: HashMap<i64, CameraEntry>,
    kind: GalleryIndex,
    /// One index per vector dimension (a gallery normally has a single one, so finding a face's
    /// index by asking each costs one hash lookup, and no face -> index map is kept).
    indexes: HashMap<usize, FaceIndex>,
}

impl GalleryData {
    pub fn new(kind: GalleryIndex) -> Self {
        Self { kind, ..Self::default() }
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
        let kind = self.kind;
        self.indexes.entry(dim).or_insert_with(|| FaceIndex::new(dim, kind)).upsert(face.meta, &face.vector);
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
}

/// Galleries smaller than this are searched on the calling thread.
const INLINE_SEARCH_BELOW: usize = 4_096;

/// Shared gallery. Frames read under a read lock (a search is milliseconds); changes take the
/// write lock only to apply rows already read from PostgreSQL.
#[derive(Clone)]
pub struct Gallery {
    data: Arc<RwLock<GalleryData>>,
    /// Searches run on tokio's blocking threads, at most one per core, so that a scan never holds
    /// an HTTP worker thread (other requests parse, store and publish meanwhile) and scans do not
    /// crowd each other out of the caches.
    search_slots: Arc<Semaphore>,
}

impl Default for Gallery {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Self { data: Arc::default(), search_slots: Arc::new(Semaphore::new(cores)) }
    }
}

impl Gallery {
    /// The best match of `query`, searched off the async worker threads.
    pub async fn search(&self, query: Vec<f32>, fallback_threshold: f32) -> anyhow::Result<Option<Match>> {
        {
            // A small gallery is scanned in a few microseconds: cheaper than a thread hand-off.
            let data = self.read();
            if data.face_count() < INLINE_SEARCH_BELOW {
                return Ok(data.best_match(&query, fallback_threshold));
            }
        }
        let _slot = self.search_slots.acquire().await?;
        let gallery = self.clone();
        Ok(tokio::task::spawn_blocking(move || gallery.read().best_match(&query, fallback_threshold)).await?)
    }

    pub fn read(&self) -> RwLockReadGuard<'_, GalleryData> {
        self.data.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, GalleryData> {
        self.data.write().unwrap_or_else(std::sync::PoisonError::into_inner)
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
}
