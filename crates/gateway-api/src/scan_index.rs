//! An in-memory 8-bit copy of feature vectors, scanned exhaustively with the gallery's SIMD
//! kernels to nominate candidates; the f32 vectors stay in PostgreSQL, which scores them exactly.
//! Shared by `looks_like` over events (`event_index.rs`, keyed by event id, tagged with time and
//! match) and over dossier faces (`dossier_index.rs`, keyed by face id, tagged with its dossier).
//!
//! Rows are appended to fixed-size segments (so growth never copies the whole index while a lock
//! is held), one list of segments per vector dimension (a probe is compared only with vectors of
//! its own model). A search locks one segment at a time, so an append or a removal waits for at
//! most one segment's scan (~1 ms), never a whole search. Per row: the codes (`dim` bytes), their
//! scale, the key, the tag and the key in the de-duplicating set.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use domain::scan_kernels::{max_scaled_i32, quantise_into, scores_i8};

/// Rows per segment: 8 MiB of 128-d codes, scanned in about a millisecond.
pub(crate) const SEGMENT_ROWS: usize = 65_536;
/// Rows scored per kernel call; the scores of a block are checked with one vectorised max first.
const BLOCK: usize = 1024;
/// How far below the threshold an 8-bit score may be and still be a candidate: the error bound of
/// the 8-bit scores of unit vectors (as in ingest's gallery, `INT8_MARGIN`). The exact score from
/// PostgreSQL decides.
pub const MARGIN: f32 = 0.05;

/// A row the scan nominates, with its 8-bit score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate<K> {
    pub id: K,
    pub approx: f32,
}

struct Segment<K, T> {
    ids: Vec<K>,
    tags: Vec<T>,
    codes: Vec<i8>,
    scales: Vec<f32>,
}

impl<K: Copy, T: Copy> Segment<K, T> {
    fn with_capacity(dim: usize) -> Self {
        Self {
            ids: Vec::with_capacity(SEGMENT_ROWS),
            tags: Vec::with_capacity(SEGMENT_ROWS),
            codes: Vec::with_capacity(SEGMENT_ROWS * dim),
            scales: Vec::with_capacity(SEGMENT_ROWS),
        }
    }

    fn len(&self) -> usize {
        self.ids.len()
    }

    /// Keeps the rows `keep` accepts, in order; returns the ids of those it dropped.
    fn retain(&mut self, dim: usize, keep: impl Fn(K, T) -> bool) -> Vec<K> {
        let mut dropped = Vec::new();
        let mut write = 0;
        for read in 0..self.len() {
            if !keep(self.ids[read], self.tags[read]) {
                dropped.push(self.ids[read]);
                continue;
            }
            if write != read {
                self.ids[write] = self.ids[read];
                self.tags[write] = self.tags[read];
                self.scales[write] = self.scales[read];
                self.codes.copy_within(read * dim..(read + 1) * dim, write * dim);
            }
            write += 1;
        }
        self.ids.truncate(write);
        self.tags.truncate(write);
        self.scales.truncate(write);
        self.codes.truncate(write * dim);
        dropped
    }
}

struct Rows<K, T> {
    /// Segments per dimension, oldest first; only the last one of a dimension takes new rows.
    by_dim: HashMap<usize, Vec<Segment<K, T>>>,
    /// Every id held, so that a row that comes twice (a broker redelivery, the overlap of a
    /// catch-up with the live feed) is held once.
    ids: HashSet<K>,
}

impl<K, T> Default for Rows<K, T> {
    fn default() -> Self {
        Self { by_dim: HashMap::new(), ids: HashSet::new() }
    }
}

pub struct ScanIndex<K, T> {
    rows: RwLock<Rows<K, T>>,
    /// Set once the first full load from PostgreSQL finished; until then a search would miss
    /// stored rows.
    ready: AtomicBool,
}

impl<K, T> Default for ScanIndex<K, T> {
    fn default() -> Self {
        Self { rows: RwLock::default(), ready: AtomicBool::new(false) }
    }
}

impl<K: Copy + Eq + Hash + Ord, T: Copy> ScanIndex<K, T> {
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, Rows<K, T>> {
        // A panic while holding the lock leaves at worst a half-appended row, which the length
        // checks below never read past.
        self.rows.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Rows<K, T>> {
        self.rows.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    pub fn len(&self) -> usize {
        self.read().ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, id: K) -> bool {
        self.read().ids.contains(&id)
    }

    /// Folds every id held (in no particular order), under one read lock.
    pub fn fold_ids<A>(&self, init: A, f: impl FnMut(A, &K) -> A) -> A {
        self.read().ids.iter().fold(init, f)
    }

    /// Adds a row; a known id, an empty or non-finite vector is ignored. Returns whether the row
    /// was added.
    pub fn insert(&self, id: K, tag: T, vector: &[f32]) -> bool {
        let dim = vector.len();
        if dim == 0 || !vector.iter().all(|v| v.is_finite()) {
            return false;
        }
        // Unit length, so that the score is the cosine whatever the sender normalised.
        let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm <= f32::EPSILON {
            return false;
        }
        let unit: Vec<f32> = vector.iter().map(|v| v / norm).collect();
        let mut rows = self.write();
        if !rows.ids.insert(id) {
            return false;
        }
        let segments = rows.by_dim.entry(dim).or_default();
        if segments.last().is_none_or(|s| s.len() >= SEGMENT_ROWS) {
            segments.push(Segment::with_capacity(dim));
        }
        if let Some(segment) = segments.last_mut() {
            let start = segment.codes.len();
            segment.codes.resize(start + dim, 0);
            let scale = quantise_into(&unit, &mut segment.codes[start..]);
            segment.scales.push(scale);
            segment.ids.push(id);
            segment.tags.push(tag);
        }
        true
    }

    /// Drops the rows `keep(id, tag)` refuses, one segment at a time (searches and appends go on
    /// in between); returns how many.
    pub fn retain(&self, keep: impl Fn(K, T) -> bool) -> usize {
        let dims: Vec<usize> = self.read().by_dim.keys().copied().collect();
        let mut dropped_rows = 0;
        for dim in dims {
            let mut at = 0;
            loop {
                let mut rows = self.write();
                let Some(segment) = rows.by_dim.get_mut(&dim).and_then(|s| s.get_mut(at)) else { break };
                let dropped = segment.retain(dim, &keep);
                let emptied = segment.len() == 0;
                dropped_rows += dropped.len();
                for id in &dropped {
                    rows.ids.remove(id);
                }
                let segments = rows.by_dim.entry(dim).or_default();
                // An emptied segment goes, unless it is the one taking new rows.
                if emptied && at + 1 < segments.len() {
                    segments.remove(at);
                } else {
                    at += 1;
                }
            }
        }
        dropped_rows
    }

    /// Takes every row of `fresh` in place of this index's own, at once (a full reload built
    /// aside, so that searches meanwhile see the old rows rather than a half-loaded index).
    pub fn replace_rows(&self, fresh: Self) {
        let fresh = fresh.rows.into_inner().unwrap_or_else(PoisonError::into_inner);
        *self.write() = fresh;
    }

    /// The rows whose 8-bit score against `probe` reaches `floor` and whose tag `accept`s, best
    /// first, at most `max`; the flag says whether more reached it. `probe` must be unit length.
    pub fn search(
        &self,
        probe: &[f32],
        floor: f32,
        accept: impl Fn(T) -> bool,
        max: usize,
    ) -> (Vec<Candidate<K>>, bool) {
        let dim = probe.len();
        let mut query = vec![0_i8; dim];
        let query_scale = quantise_into(probe, &mut query);
        let mut found: Vec<Candidate<K>> = Vec::new();
        let mut floor = floor;
        let mut truncated = false;
        let mut raw = vec![0_i32; BLOCK];
        let mut at = 0;
        if dim == 0 || max == 0 {
            return (found, false);
        }
        loop {
            let rows = self.read();
            let Some(segment) = rows.by_dim.get(&dim).and_then(|s| s.get(at)) else { break };
            at += 1;
            for start in (0..segment.len()).step_by(BLOCK) {
                let n = BLOCK.min(segment.len() - start);
                let out = &mut raw[..n];
                scores_i8(&segment.codes[start * dim..(start + n) * dim], dim, &query, out);
                let scales = &segment.scales[start..start + n];
                if max_scaled_i32(out, scales) * query_scale < floor {
                    continue;
                }
                for (i, (&r, &s)) in out.iter().zip(scales).enumerate() {
                    let approx = r as f32 * s * query_scale;
                    let row = start + i;
                    if approx < floor || !accept(segment.tags[row]) {
                        continue;
                    }
                    found.push(Candidate { id: segment.ids[row], approx });
                }
                // Keep the best `max`; what falls out raises the floor, so fewer rows qualify.
                if found.len() >= max.saturating_mul(2) {
                    keep_best(&mut found, max);
                    truncated = true;
                    floor = floor.max(found.last().map_or(floor, |c| c.approx));
                }
            }
        }
        if found.len() > max {
            truncated = true;
        }
        keep_best(&mut found, max);
        (found, truncated)
    }
}

/// Sorts best first (ties by id, highest first: the newest for time-ordered ids) and keeps `max`.
fn keep_best<K: Ord + Copy>(found: &mut Vec<Candidate<K>>, max: usize) {
    let order = |a: &Candidate<K>, b: &Candidate<K>| b.approx.total_cmp(&a.approx).then(b.id.cmp(&a.id));
    if found.len() > max {
        found.select_nth_unstable_by(max - 1, order);
        found.truncate(max);
    }
    found.sort_unstable_by(order);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(i: usize, dim: usize) -> Vec<f32> {
        (0..dim).map(|d| if d == i { 1.0 } else { 0.0 }).collect()
    }

    #[test]
    fn removes_by_key_and_tag_and_takes_a_reload_whole() {
        // Faces keyed by id, tagged with their dossier, as `dossier_index.rs` holds them.
        let index: ScanIndex<i64, i64> = ScanIndex::new();
        for face in 0..10 {
            index.insert(face, face / 5, &axis(face as usize % 4, 4));
        }
        let ids = |found: Vec<Candidate<i64>>| -> Vec<i64> { found.iter().map(|c| c.id).collect() };
        assert_eq!(ids(index.search(&axis(0, 4), 0.9, |_| true, 100).0), [8, 4, 0]);
        assert_eq!(index.retain(|face, _| face != 4), 1);
        assert_eq!(index.retain(|_, dossier| dossier != 1), 5);
        assert_eq!(ids(index.search(&axis(0, 4), 0.9, |_| true, 100).0), [0]);
        assert!(!index.contains(8) && index.len() == 4);

        let fresh = ScanIndex::new();
        fresh.insert(42, 7, &axis(0, 4));
        index.replace_rows(fresh);
        assert_eq!(ids(index.search(&axis(0, 4), 0.9, |_| true, 100).0), [42]);
        assert!(!index.contains(0) && index.len() == 1);
        assert!(index.insert(0, 0, &axis(0, 4)), "a key the reload dropped may come back");
    }
}
