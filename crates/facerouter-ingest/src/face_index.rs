//! Exact 1:N search over one dimension's dossier faces, laid out flat: every vector sits in one
//! contiguous `Vec<f32>` at `slot * dim`, so a scan streams memory in order and the dot product
//! vectorises. Removal swaps the last face into the freed slot (O(dim)), so there are no holes.

use std::collections::HashMap;
use std::sync::Arc;

use domain::event::IdName;

/// A watch list a dossier is on, with its own threshold when it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct ListEntry {
    pub id: i64,
    pub name: String,
    pub threshold: Option<f32>,
}

/// What a match reports about a face (everything but its vector).
#[derive(Debug, Clone)]
pub struct FaceMeta {
    pub face_id: i64,
    pub dossier: IdName,
    /// The dossier's active lists; never empty (a dossier on no active list is not watched).
    pub lists: Arc<[ListEntry]>,
    pub photo: String,
}

/// The strictest bound a face can need: the lowest list threshold, and whether some list has none
/// (then the camera's override or the global threshold also applies).
#[derive(Debug, Clone, Copy)]
struct Bound {
    list_min: f32,
    any_unset: bool,
}

impl Bound {
    fn of(lists: &[ListEntry]) -> Self {
        let list_min = lists.iter().filter_map(|l| l.threshold).fold(f32::INFINITY, f32::min);
        Self { list_min, any_unset: lists.iter().any(|l| l.threshold.is_none()) }
    }

    /// A face matches when its similarity reaches the threshold of any of its lists, where a
    /// list without one uses `fallback` (camera override, else CONFIDENCE_THRESHOLD).
    fn threshold(self, fallback: f32) -> f32 {
        if self.any_unset { self.list_min.min(fallback) } else { self.list_min }
    }
}

#[derive(Debug, Default)]
pub struct FaceIndex {
    dim: usize,
    vectors: Vec<f32>,
    meta: Vec<FaceMeta>,
    bounds: Vec<Bound>,
    slot_of: HashMap<i64, usize>,
}

#[derive(Debug, Clone)]
pub struct Match {
    pub face: FaceMeta,
    pub confidence: f32,
    /// The lists whose threshold this similarity reached.
    pub lists: Vec<IdName>,
}

impl FaceIndex {
    pub fn new(dim: usize) -> Self {
        Self { dim, ..Self::default() }
    }

    pub fn len(&self) -> usize {
        self.meta.len()
    }

    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// Adds or replaces a face. `vector` must have this index's dimension and be L2-normalised.
    pub fn upsert(&mut self, meta: FaceMeta, vector: &[f32]) {
        debug_assert_eq!(vector.len(), self.dim);
        let bound = Bound::of(&meta.lists);
        if let Some(&slot) = self.slot_of.get(&meta.face_id) {
            self.vectors[slot * self.dim..(slot + 1) * self.dim].copy_from_slice(vector);
            self.meta[slot] = meta;
            self.bounds[slot] = bound;
            return;
        }
        self.slot_of.insert(meta.face_id, self.meta.len());
        self.vectors.extend_from_slice(vector);
        self.meta.push(meta);
        self.bounds.push(bound);
    }

    pub fn remove(&mut self, face_id: i64) -> bool {
        let Some(slot) = self.slot_of.remove(&face_id) else { return false };
        let last = self.meta.len() - 1;
        if slot != last {
            self.vectors.copy_within(last * self.dim..(last + 1) * self.dim, slot * self.dim);
            self.meta.swap(slot, last);
            self.bounds.swap(slot, last);
            self.slot_of.insert(self.meta[slot].face_id, slot);
        }
        self.vectors.truncate(last * self.dim);
        self.meta.truncate(last);
        self.bounds.truncate(last);
        true
    }

    /// The face with the highest similarity among those reaching their own threshold.
    pub fn best_match(&self, query: &[f32], fallback: f32) -> Option<Match> {
        if query.len() != self.dim || self.dim == 0 {
            return None;
        }
        let mut best: Option<(usize, f32)> = None;
        for (slot, row) in self.vectors.chunks_exact(self.dim).enumerate() {
            let score = dot(row, query);
            if best.is_none_or(|(_, b)| score > b) && score >= self.bounds[slot].threshold(fallback) {
                best = Some((slot, score));
            }
        }
        let (slot, confidence) = best?;
        let face = self.meta[slot].clone();
        let lists = face
            .lists
            .iter()
            .filter(|l| confidence >= l.threshold.unwrap_or(fallback))
            .map(|l| IdName { id: l.id, name: l.name.clone() })
            .collect();
        Some(Match { face, confidence, lists })
    }
}

/// Eight independent accumulators: no loop-carried dependency, so the compiler emits SIMD.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0_f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8.remainder().iter().zip(b8.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a8.zip(b8) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: i64, thresholds: &[Option<f32>]) -> FaceMeta {
        let lists = thresholds
            .iter()
            .enumerate()
            .map(|(n, t)| ListEntry { id: n as i64 + 1, name: format!("l{n}"), threshold: *t })
            .collect::<Vec<_>>();
        FaceMeta {
            face_id: id,
            dossier: IdName { id, name: format!("d{id}") },
            lists: lists.into(),
            photo: String::new(),
        }
    }

    #[test]
    fn best_match_respects_threshold_and_dimension() {
        let mut index = FaceIndex::new(2);
        index.upsert(meta(1, &[None]), &[1.0, 0.0]);
        index.upsert(meta(2, &[None]), &[0.6, 0.8]);
        let hit = index.best_match(&[0.8, 0.6], 0.5).unwrap();
        assert_eq!(hit.face.face_id, 2);
        assert!((hit.confidence - 0.96).abs() < 1e-6);
        assert!(index.best_match(&[0.8, 0.6], 0.97).is_none());
        assert!(index.best_match(&[0.0, 0.0, 1.0], 0.1).is_none());
    }

    #[test]
    fn list_thresholds_override_the_fallback() {
        let mut index = FaceIndex::new(2);
        // Strict list only: 0.96 is below 0.99, although above the fallback.
        index.upsert(meta(1, &[Some(0.99)]), &[0.6, 0.8]);
        assert!(index.best_match(&[0.8, 0.6], 0.5).is_none());
        // Lenient list: matches below the fallback, and only that list is reported.
        index.upsert(meta(1, &[Some(0.99), Some(0.9)]), &[0.6, 0.8]);
        let hit = index.best_match(&[0.8, 0.6], 0.97).unwrap();
        assert_eq!(hit.lists.iter().map(|l| l.id).collect::<Vec<_>>(), vec![2]);
        // A list without a threshold falls back.
        index.upsert(meta(1, &[Some(0.99), None]), &[0.6, 0.8]);
        assert!(index.best_match(&[0.8, 0.6], 0.97).is_none());
        assert_eq!(index.best_match(&[0.8, 0.6], 0.95).unwrap().lists.len(), 1);
    }

    #[test]
    fn removal_keeps_the_layout_dense() {
        let mut index = FaceIndex::new(3);
        for id in 0..5 {
            let mut v = [0.0; 3];
            v[(id % 3) as usize] = 1.0;
            index.upsert(meta(id, &[None]), &v);
        }
        assert!(index.remove(0));
        assert!(!index.remove(0));
        assert_eq!(index.len(), 4);
        assert_eq!(index.vectors.len(), 12);
        // Face 3 (axis 0) moved into slot 0 and is still found.
        assert_eq!(index.best_match(&[1.0, 0.0, 0.0], 0.5).unwrap().face.face_id, 3);
        assert_eq!(index.best_match(&[0.0, 1.0, 0.0], 0.5).unwrap().face.face_id, 4);
    }

    #[test]
    fn dot_matches_the_naive_sum() {
        let a: Vec<f32> = (0..131).map(|i| i as f32 * 0.01).collect();
        let b: Vec<f32> = (0..131).map(|i| 1.0 - i as f32 * 0.005).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-3);
    }
}
