//! The in-memory gallery every ingest replica holds: cameras (with their groups) and the enrolled
//! dossier faces. Loaded at start, then kept current change by change from gateway-api's notices
//! (see `gallery_sync`), so the per-frame path never queries PostgreSQL.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use domain::event::IdName;

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
    /// One flat index per vector dimension (a gallery normally has a single one).
    indexes: HashMap<usize, FaceIndex>,
    /// Face id -> (dimension, dossier id).
    placed: HashMap<i64, (usize, i64)>,
    faces_of_dossier: HashMap<i64, HashSet<i64>>,
}

impl GalleryData {
    pub fn face_count(&self) -> usize {
        self.placed.len()
    }

    pub fn upsert_face(&mut self, face: FaceRecord) {
        let (id, dossier, dim) = (face.meta.face_id, face.meta.dossier.id, face.vector.len());
        if self.placed.get(&id).is_some_and(|&placed| placed != (dim, dossier)) {
            self.remove_face(id);
        }
        self.indexes.entry(dim).or_insert_with(|| FaceIndex::new(dim)).upsert(face.meta, &face.vector);
        self.placed.insert(id, (dim, dossier));
        self.faces_of_dossier.entry(dossier).or_default().insert(id);
    }

    pub fn remove_face(&mut self, face_id: i64) {
        let Some((dim, dossier)) = self.placed.remove(&face_id) else { return };
        if let Some(index) = self.indexes.get_mut(&dim) {
            index.remove(face_id);
            if index.is_empty() {
                self.indexes.remove(&dim);
            }
        }
        if let Some(faces) = self.faces_of_dossier.get_mut(&dossier) {
            faces.remove(&face_id);
            if faces.is_empty() {
                self.faces_of_dossier.remove(&dossier);
            }
        }
    }

    /// Replaces every face of `dossier` with `faces` (empty when the dossier is gone or unwatched).
    pub fn replace_dossier(&mut self, dossier: i64, faces: Vec<FaceRecord>) {
        for id in self.faces_of_dossier.remove(&dossier).unwrap_or_default() {
            self.remove_face(id);
        }
        for face in faces {
            self.upsert_face(face);
        }
    }

    pub fn best_match(&self, query: &[f32], fallback_threshold: f32) -> Option<Match> {
        self.indexes.get(&query.len())?.best_match(query, fallback_threshold)
    }
}

/// Shared gallery. Frames read under a read lock (a search is milliseconds); changes take the
/// write lock only to apply rows already read from PostgreSQL.
#[derive(Clone, Default)]
pub struct Gallery {
    data: Arc<RwLock<GalleryData>>,
}

impl Gallery {
    pub fn read(&self) -> RwLockReadGuard<'_, GalleryData> {
        self.data.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, GalleryData> {
        self.data.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn camera(&self, id: i64) -> Option<CameraEntry> {
        self.read().cameras.get(&id).cloned()
    }

    /// Swaps in a freshly loaded gallery in one step.
    pub fn replace(&self, next: GalleryData) {
        *self.write() = next;
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
        let mut data = GalleryData::default();
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
        assert!(data.faces_of_dossier.is_empty() && data.indexes.is_empty());
    }
}
