//! The in-memory index behind `looks_like` on `GET /events/faces/`: every kept event vector
//! (EVENT_SEARCH.KEEP_VECTORS) as an 8-bit copy in a [`ScanIndex`] keyed by event id. PostgreSQL
//! keeps the f32 vectors (`event_vectors`); the scan only nominates candidates, which the search
//! then filters and scores exactly from there. The scan narrows by detection time and match on the
//! way, both packed in one tag per row.
//!
//! Per row: the codes (`dim` bytes), their scale, the event id, the tag and the id in the
//! de-duplicating set: about 180 bytes for 128 dimensions, a third of the f32 vector alone.

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use crate::scan_index::MARGIN;
#[cfg(test)]
use crate::scan_index::SEGMENT_ROWS;
use crate::scan_index::ScanIndex;

/// An event the scan nominates, with its 8-bit score.
pub type Candidate = crate::scan_index::Candidate<Uuid>;

/// What a search may narrow in memory before PostgreSQL sees the candidates (PostgreSQL applies
/// the same filters again, with the rest of the event list's).
#[derive(Debug, Clone, Copy, Default)]
pub struct Narrowing {
    pub created_gte: Option<DateTime<Utc>>,
    pub created_lte: Option<DateTime<Utc>>,
    pub matched: Option<bool>,
}

/// An event's detection time (microseconds since the epoch) shifted left by one, and whether it
/// matched in the freed bit: 8 bytes a row rather than 16 for the pair. Times beyond ±73 000
/// years are clamped, which no camera produces.
#[derive(Debug, Clone, Copy)]
struct Tag(i64);

impl Tag {
    fn new(created: DateTime<Utc>, matched: bool) -> Self {
        let micros = created.timestamp_micros().clamp(i64::MIN >> 1, i64::MAX >> 1);
        Self((micros << 1) | i64::from(matched))
    }

    fn micros(self) -> i64 {
        self.0 >> 1
    }

    fn matched(self) -> bool {
        self.0 & 1 == 1
    }
}

#[derive(Default)]
pub struct EventIndex(ScanIndex<Uuid, Tag>);

impl EventIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Until the first full load from PostgreSQL finished a search would miss stored events, so
    /// it is refused.
    pub fn is_ready(&self) -> bool {
        self.0.is_ready()
    }

    pub fn set_ready(&self) {
        self.0.set_ready();
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds an event's vector; a known id, an empty or non-finite vector is ignored. Returns
    /// whether the row was added.
    pub fn insert(&self, id: Uuid, created: DateTime<Utc>, matched: bool, vector: &[f32]) -> bool {
        self.0.insert(id, Tag::new(created, matched), vector)
    }

    /// Drops the rows `keep(detection time, matched)` refuses, one segment at a time (searches
    /// and appends go on in between); returns how many.
    pub fn purge(&self, keep: impl Fn(DateTime<Utc>, bool) -> bool) -> usize {
        self.0.retain(|_, tag| DateTime::from_timestamp_micros(tag.micros()).is_none_or(|t| keep(t, tag.matched())))
    }

    /// The events whose 8-bit score against `probe` reaches `floor`, best first, at most `max`;
    /// the flag says whether more reached it. `probe` must be unit length.
    pub fn search(&self, probe: &[f32], floor: f32, narrowing: Narrowing, max: usize) -> (Vec<Candidate>, bool) {
        let gte = narrowing.created_gte.map(|t| t.timestamp_micros());
        let lte = narrowing.created_lte.map(|t| t.timestamp_micros());
        let accept = |tag: Tag| {
            !(gte.is_some_and(|g| tag.micros() < g)
                || lte.is_some_and(|l| tag.micros() > l)
                || narrowing.matched.is_some_and(|m| tag.matched() != m))
        };
        self.0.search(probe, floor, accept, max)
    }
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
