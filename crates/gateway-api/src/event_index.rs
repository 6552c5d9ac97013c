//! The in-memory index behind `looks_like` on `GET /events/faces/`: every kept event vector
//! (EVENT_SEARCH.KEEP_VECTORS) as an 8-bit copy, scanned exhaustively with the gallery's SIMD
//! kernels. PostgreSQL keeps the f32 vectors (`event_vectors`); the scan only nominates
//! candidates, which the search then filters and scores exactly from there.
//!
//! Rows are appended to fixed-size segments (so growth never copies the whole index while a lock
//! is held), one list of segments per vector dimension (a probe is compared only with vectors of
//! its own model). A search locks one segment at a time, so an append or a purge waits for at most
//! one segment's scan (~1 ms), never a whole search. Per row: the codes (`dim` bytes), their
//! scale, the event id, its detection time and whether it matched, and the id in the de-duplicating
//! set: about 180 bytes for 128 dimensions, a third of the f32 vector alone.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::{DateTime, Utc};
use domain::scan_kernels::{max_scaled_i32, quantise_into, scores_i8};
use uuid::Uuid;

/// Rows per segment: 8 MiB of 128-d codes, scanned in about a millisecond.
const SEGMENT_ROWS: usize = 65_536;
/// Rows scored per kernel call; the scores of a block are checked with one vectorised max first.
const BLOCK: usize = 1024;
/// How far below the threshold an 8-bit score may be and still be a candidate: the error bound of
/// the 8-bit scores of unit vectors (as in ingest's gallery, `INT8_MARGIN`). The exact score from
/// PostgreSQL decides.
pub const MARGIN: f32 = 0.05;

/// An event the scan nominates, with its 8-bit score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub id: Uuid,
    pub approx: f32,
}

/// What a search may narrow in memory before PostgreSQL sees the candidates (PostgreSQL applies
/// the same filters again, with the rest of the event list's).
#[derive(Debug, Clone, Copy, Default)]
pub struct Narrowing {
    pub created_gte: Option<DateTime<Utc>>,
    pub created_lte: Option<DateTime<Utc>>,
    pub matched: Option<bool>,
}

#[derive(Default)]
struct Segment {
    ids: Vec<Uuid>,
    /// Detection time, microseconds since the epoch.
    times: Vec<i64>,
    matched: Vec<bool>,
    codes: Vec<i8>,
    scales: Vec<f32>,
}

impl Segment {
    fn with_capacity(dim: usize) -> Self {
        Self {
            ids: Vec::with_capacity(SEGMENT_ROWS),
            times: Vec::with_capacity(SEGMENT_ROWS),
            matched: Vec::with_capacity(SEGMENT_ROWS),
            codes: Vec::with_capacity(SEGMENT_ROWS * dim),
            scales: Vec::with_capacity(SEGMENT_ROWS),
        }
    }

    fn len(&self) -> usize {
        self.ids.len()
    }

    /// Keeps the rows `keep` accepts, in order; returns the ids of those it dropped.
    fn retain(&mut self, dim: usize, keep: impl Fn(i64, bool) -> bool) -> Vec<Uuid> {
        let mut dropped = Vec::new();
        let mut write = 0;
        for read in 0..self.len() {
            if !keep(self.times[read], self.matched[read]) {
                dropped.push(self.ids[read]);
                continue;
            }
            if write != read {
                self.ids[write] = self.ids[read];
                self.times[write] = self.times[read];
                self.matched[write] = self.matched[read];
                self.scales[write] = self.scales[read];
                self.codes.copy_within(read * dim..(read + 1) * dim, write * dim);
            }
            write += 1;
        }
        self.ids.truncate(write);
        self.times.truncate(write);
        self.matched.truncate(write);
        self.scales.truncate(write);
        self.codes.truncate(write * dim);
        dropped
    }
}

#[derive(Default)]
struct Rows {
    /// Segments per dimension, oldest first; only the last one of a dimension takes new rows.
    by_dim: HashMap<usize, Vec<Segment>>,
    /// Every id held, so that a row that comes twice (a broker redelivery, the overlap of a
    /// catch-up with the live feed) is held once.
    ids: HashSet<Uuid>,
}

#[derive(Default)]
pub struct EventIndex {
    rows: RwLock<Rows>,
    /// Set once the first full load from PostgreSQL finished; until then a search would miss
    /// stored events, so it is refused.
    ready: AtomicBool,
}

impl EventIndex {
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, Rows> {
        // A panic while holding the lock leaves at worst a half-appended row, which the length
        // checks below never read past.
        self.rows.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Rows> {
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

    /// Adds an event's vector; a known id, an empty or non-finite vector is ignored. Returns
    /// whether the row was added.
    pub fn insert(&self, id: Uuid, created: DateTime<Utc>, matched: bool, vector: &[f32]) -> bool {
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
            segment.times.push(created.timestamp_micros());
            segment.matched.push(matched);
        }
        true
    }

    /// Drops the rows `keep(detection time, matched)` refuses, one segment at a time (searches
    /// and appends go on in between); returns how many.
    pub fn purge(&self, keep: impl Fn(DateTime<Utc>, bool) -> bool) -> usize {
        let keep =
            |micros: i64, matched: bool| DateTime::from_timestamp_micros(micros).is_none_or(|t| keep(t, matched));
        let dims: Vec<usize> = self.read().by_dim.keys().copied().collect();
        let mut purged = 0;
        for dim in dims {
            let mut at = 0;
            loop {
                let mut rows = self.write();
                let Some(segment) = rows.by_dim.get_mut(&dim).and_then(|s| s.get_mut(at)) else { break };
                let dropped = segment.retain(dim, keep);
                let emptied = segment.len() == 0;
                purged += dropped.len();
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
        purged
    }

    /// The events whose 8-bit score against `probe` reaches `floor`, best first, at most `max`;
    /// the flag says whether more reached it. `probe` must be unit length.
    pub fn search(&self, probe: &[f32], floor: f32, narrowing: Narrowing, max: usize) -> (Vec<Candidate>, bool) {
        let dim = probe.len();
        let mut query = vec![0_i8; dim];
        let query_scale = quantise_into(probe, &mut query);
        let gte = narrowing.created_gte.map(|t| t.timestamp_micros());
        let lte = narrowing.created_lte.map(|t| t.timestamp_micros());
        let mut found: Vec<Candidate> = Vec::new();
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
                    if approx < floor
                        || gte.is_some_and(|g| segment.times[row] < g)
                        || lte.is_some_and(|l| segment.times[row] > l)
                        || narrowing.matched.is_some_and(|m| segment.matched[row] != m)
                    {
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

/// Sorts best first (ties by id, newest first) and keeps `max`.
fn keep_best(found: &mut Vec<Candidate>, max: usize) {
    let order = |a: &Candidate, b: &Candidate| b.approx.total_cmp(&a.approx).then(b.id.cmp(&a.id));
    if found.len() > max {
        found.select_nth_unstable_by(max - 1, order);
        found.truncate(max);
    }
    found.sort_unstable_by(order);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: u64, dim: usize) -> Vec<f32> {
        // A small xorshift, so the test needs no random crate and is the same every run.
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let v: Vec<f32> = (0..dim)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 2001) as f32 / 1000.0 - 1.0
            })
            .collect();
        let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
        v.iter().map(|a| a / n).collect()
    }

    fn blend(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
        let v: Vec<f32> = a.iter().zip(b).map(|(x, y)| x * (1.0 - t) + y * t).collect();
        let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
        v.iter().map(|a| a / n).collect()
    }

    fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + minutes * 60, 0).unwrap_or_default()
    }

    #[test]
    fn finds_what_resembles_the_probe_best_first_and_within_the_error_bound() {
        let index = EventIndex::new();
        let probe = unit(1, 128);
        let mut ids = Vec::new();
        // Three looks of the probe's face among 3 000 strangers spread over several segments' worth of blocks.
        for (i, t) in [0.1_f32, 0.3, 0.5].iter().enumerate() {
            let id = Uuid::now_v7();
            index.insert(id, at(i as i64), false, &blend(&probe, &unit(100 + i as u64, 128), *t));
            ids.push(id);
        }
        for s in 0..3000 {
            index.insert(Uuid::now_v7(), at(5), false, &unit(1000 + s, 128));
        }
        let (found, truncated) = index.search(&probe, 0.6 - MARGIN, Narrowing::default(), 10);
        assert!(!truncated);
        let found_ids: Vec<Uuid> = found.iter().map(|c| c.id).collect();
        assert_eq!(&found_ids[..2], &ids[..2], "the closest looks, closest first: {found:?}");
        for c in &found {
            let exact = if c.id == ids[0] {
                dot(&probe, &blend(&probe, &unit(100, 128), 0.1))
            } else if c.id == ids[1] {
                dot(&probe, &blend(&probe, &unit(101, 128), 0.3))
            } else {
                continue;
            };
            assert!((c.approx - exact).abs() < MARGIN, "8-bit {} against exact {exact}", c.approx);
        }
        // Strangers score near zero at 128 dimensions: none is a candidate.
        assert!(found.iter().all(|c| ids.contains(&c.id)), "{found:?}");
    }

    #[test]
    fn keeps_the_best_max_and_says_more_qualified() {
        let index = EventIndex::new();
        let probe = unit(7, 64);
        for i in 0..50 {
            index.insert(Uuid::now_v7(), at(i), false, &blend(&probe, &unit(200 + i as u64, 64), i as f32 / 100.0));
        }
        let (all, truncated) = index.search(&probe, 0.0, Narrowing::default(), 100);
        assert_eq!((all.len(), truncated), (50, false));
        let (best, truncated) = index.search(&probe, 0.0, Narrowing::default(), 5);
        assert!(truncated);
        assert_eq!(best, all[..5].to_vec());
        assert!(best.windows(2).all(|w| w[0].approx >= w[1].approx));
    }

    #[test]
    fn narrows_by_time_and_match_and_compares_only_one_dimension() {
        let index = EventIndex::new();
        let probe = unit(3, 32);
        let (old, new, matched) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        index.insert(old, at(0), false, &probe);
        index.insert(new, at(10), false, &probe);
        index.insert(matched, at(10), true, &probe);
        index.insert(Uuid::now_v7(), at(10), false, &unit(3, 64));
        let narrowing = Narrowing { created_gte: Some(at(5)), created_lte: None, matched: Some(false) };
        let (found, _) = index.search(&probe, 0.5, narrowing, 10);
        assert_eq!(found.iter().map(|c| c.id).collect::<Vec<_>>(), vec![new]);
        assert_eq!(index.search(&probe, 0.5, Narrowing::default(), 10).0.len(), 3);
    }

    #[test]
    fn holds_an_id_once_and_purges_by_age_across_segments() {
        let index = EventIndex::new();
        let probe = unit(9, 8);
        let first = Uuid::now_v7();
        assert!(index.insert(first, at(0), false, &probe));
        assert!(!index.insert(first, at(0), false, &probe), "a redelivered event is held once");
        assert!(!index.insert(Uuid::now_v7(), at(0), false, &[0.0; 8]), "a zero vector has no direction");
        for i in 0..(SEGMENT_ROWS + 10) {
            index.insert(Uuid::now_v7(), at(if i % 2 == 0 { 1 } else { 100 }), i % 3 == 0, &probe);
        }
        let before = index.len();
        let purged = index.purge(|t, matched| t >= at(50) || matched);
        let after = index.len();
        assert_eq!(before - purged, after);
        let (found, _) = index.search(&probe, 0.9, Narrowing::default(), usize::MAX / 2);
        assert_eq!(found.len(), after);
        assert!(!found.iter().any(|c| c.id == first));
        // The purged ids are free again (a later catch-up may bring one back).
        assert!(index.insert(first, at(60), false, &probe));
    }
}
