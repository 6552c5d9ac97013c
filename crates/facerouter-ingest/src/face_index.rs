//! Exhaustive 1:N search over one dimension's dossier faces. Columns, one entry per slot: every
//! vector sits in one contiguous `Vec<f32>` at `slot * dim` (so a scan streams memory in order),
//! beside it only the face id, a small dossier handle and the photo path. What all faces of a
//! dossier share (name, lists, threshold bound) lives once per dossier and is read only for a face
//! that beats the running best. Removal swaps the last face into the freed slot, so there are no
//! holes.
//!
//! With [`GalleryIndex::Int8`] an 8-bit copy of every vector (one scale per row) is scanned
//! instead, a quarter of the memory traffic; the best [`INT8_CANDIDATES`] are then rescored in f32,
//! so the reported confidence is exact and the winner is the exact one unless more than that many
//! faces score within the quantisation error of it.
//!
//! With [`GalleryIndex::Ivf`] an inverted file (`ivf_index`) follows the faces and answers queries
//! by scanning only a few lists, once trained; until then (and for small galleries) the f32 scan.

use std::sync::Arc;

use domain::config::GalleryIndex;
use domain::event::IdName;

mod ivf_index;

pub use ivf_index::{IvfPlan, IvfSettings, MIN_TRAIN_FACES, RETRAIN_FACTOR, lists_for};

use crate::scan_kernels::{dot, max_f32, max_scaled_i32, quantise_into, scores_f32_batch, scores_i8_batch};
use crate::slot_table::SlotTable;
use crate::str_arena::{Span, StrArena};

/// Scores (rows × queries) per kernel call: 16 KiB, so a block's scores stay in L1 for the
/// vectorised maximum and the selection loop that follow. The kernels reuse each group of rows for
/// every query while it is in L1 themselves, so the block only sizes this buffer.
const BLOCK_SCORES: usize = 4096;
/// Rows per kernel call at most: a single query scans 1024 rows a call, so the per-call work
/// (checks, slicing, the maximum's set-up) is spread over 128 KiB of 8-bit codes instead of 16.
const BLOCK_MAX: usize = 1024;
/// Rows per kernel call at least (a batch of 32 queries: 128 rows).
const BLOCK_MIN: usize = 128;

/// Rows per kernel call for a batch of `n_queries`.
fn block_rows(n_queries: usize) -> usize {
    (BLOCK_SCORES / n_queries.max(1)).clamp(BLOCK_MIN, BLOCK_MAX)
}
/// Candidates of the 8-bit scan rescored in f32.
pub const INT8_CANDIDATES: usize = 16;
/// Bound on the error of an 8-bit score for unit vectors of up to 4096 dimensions (each code is
/// off by at most half a step of max|x| / 127; the worst case at 128–512 dimensions is ~0.025):
/// a face is kept as a candidate when its 8-bit score is within this of its threshold.
const INT8_MARGIN: f32 = 0.05;

/// A watch list a dossier is on, with its own threshold when it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct ListEntry {
    pub id: i64,
    pub name: String,
    pub threshold: Option<f32>,
}

/// What a match reports about a face (everything but its vector); also what a face is added with.
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

/// The bound of no list at all: nothing matches.
impl Default for Bound {
    fn default() -> Self {
        Self { list_min: f32::INFINITY, any_unset: false }
    }
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

/// What every face of one dossier shares, held once.
#[derive(Debug)]
struct Dossier {
    id: i64,
    /// In `names`.
    name: Span,
    lists: Arc<[ListEntry]>,
    bound: Bound,
    /// Faces pointing here; the record is freed at zero.
    faces: u32,
}

#[derive(Debug, Default)]
pub struct FaceIndex {
    dim: usize,
    kind: GalleryIndex,
    vectors: Vec<f32>,
    /// Int8 only: `dim` codes per slot in -127..=127, and the factor turning a code back into f32.
    codes: Vec<i8>,
    code_scales: Vec<f32>,
    face_ids: Vec<i64>,
    /// Index into `dossiers` per slot.
    owners: Vec<u32>,
    /// In `photo_paths`, per slot.
    photos: Vec<Span>,
    photo_paths: StrArena,
    /// Face id -> slot, keyed through `face_ids`.
    slot_of: SlotTable,
    /// Dossier records, reused through `free`.
    dossiers: Vec<Option<Dossier>>,
    free: Vec<u32>,
    /// Dossier id -> index into `dossiers`, keyed through the records.
    dossier_slot: SlotTable,
    names: StrArena,
    /// No face needs less than this (given the fallback when `any_unset`); never raised on
    /// removal, so it stays a safe lower bound and most rows are rejected by one comparison.
    floor: Bound,
    /// Ivf only: the inverted file once trained (`None`: exact f32 scans), and its knobs.
    ivf: Option<ivf_index::IvfIndex>,
    ivf_settings: IvfSettings,
    /// Upserts and removals so far: a training planned off the write lock is installed only if
    /// this has not moved meanwhile.
    changes: u64,
}

/// One query of a batch: its vector and the threshold of lists without one (camera override,
/// else CONFIDENCE_THRESHOLD).
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub vector: &'a [f32],
    pub fallback: f32,
}

#[derive(Debug, Clone)]
pub struct Match {
    pub face: FaceMeta,
    pub confidence: f32,
    /// The lists whose threshold this similarity reached.
    pub lists: Vec<IdName>,
}

/// The best few (approximate score, slot) pairs seen, unordered; `floor` is the smallest kept
/// once full, so most rows are rejected by one comparison.
struct TopK {
    items: [(f32, usize); INT8_CANDIDATES],
    len: usize,
    floor: f32,
}

impl TopK {
    fn new() -> Self {
        Self { items: [(f32::NEG_INFINITY, 0); INT8_CANDIDATES], len: 0, floor: f32::NEG_INFINITY }
    }

    fn push(&mut self, score: f32, slot: usize) {
        if self.len < INT8_CANDIDATES {
            self.items[self.len] = (score, slot);
            self.len += 1;
        } else if let Some(weakest) = self.items.iter_mut().min_by(|a, b| a.0.total_cmp(&b.0)) {
            *weakest = (score, slot);
        }
        if self.len == INT8_CANDIDATES {
            self.floor = self.items.iter().map(|i| i.0).fold(f32::INFINITY, f32::min);
        }
    }
}

/// What the 8-bit candidate selection needs of one query: its quantisation scale, the lowest
/// score any face could need (less the margin), and the threshold of lists without one.
#[derive(Debug, Clone, Copy)]
struct I8Probe {
    scale: f32,
    gate: f32,
    fallback: f32,
}

impl FaceIndex {
    pub fn new(dim: usize, kind: GalleryIndex) -> Self {
        Self { dim, kind, ..Self::default() }
    }

    /// The same with the IVF knobs (used when `kind` is [`GalleryIndex::Ivf`]).
    pub fn with_ivf(self, ivf_settings: IvfSettings) -> Self {
        Self { ivf_settings, ..self }
    }

    /// Ivf only: a newly trained inverted file when one is due (first training, or the gallery
    /// grew or shrank [`RETRAIN_FACTOR`]× since); seconds at 1M faces, so it only reads.
    pub fn ivf_plan(&self) -> Option<IvfPlan> {
        if self.kind != GalleryIndex::Ivf {
            return None;
        }
        ivf_index::plan(self, self.ivf_settings)
    }

    /// Installs `plan` unless a face changed since it was made (then it is dropped, and the next
    /// [`Self::ivf_plan`] starts over). Returns whether it was installed.
    pub fn ivf_install(&mut self, plan: IvfPlan) -> bool {
        if plan.changes != self.changes {
            return false;
        }
        self.ivf = plan.index;
        true
    }

    /// The trained inverted file's list count and the faces it was trained on, if any.
    pub fn ivf_trained(&self) -> Option<(usize, usize)> {
        self.ivf.as_ref().map(|ivf| (ivf.lists(), ivf.trained_on()))
    }

    pub fn len(&self) -> usize {
        self.face_ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.face_ids.is_empty()
    }

    pub fn contains(&self, face_id: i64) -> bool {
        self.slot_of.get(face_id, |s| self.face_ids[s as usize]).is_some()
    }

    /// The dossier id of record `slot` (every record the map points at is live).
    fn dossier_id(dossiers: &[Option<Dossier>], slot: u32) -> i64 {
        dossiers.get(slot as usize).and_then(Option::as_ref).map_or(i64::MIN, |d| d.id)
    }

    /// Adds or replaces a face. `vector` must have this index's dimension and be L2-normalised.
    pub fn upsert(&mut self, meta: FaceMeta, vector: &[f32]) {
        debug_assert_eq!(vector.len(), self.dim);
        // Take the new dossier first, so a face staying in its dossier never frees the record.
        let owner = self.acquire(&meta);
        let photo = self.photo_paths.push(&meta.photo);
        self.changes += 1;
        let Some(slot) = self.slot_of.get(meta.face_id, |s| self.face_ids[s as usize]) else {
            self.face_ids.push(meta.face_id);
            self.slot_of.insert(meta.face_id, (self.face_ids.len() - 1) as u32, |s| self.face_ids[s as usize]);
            self.vectors.extend_from_slice(vector);
            if self.kind == GalleryIndex::Int8 {
                let start = self.codes.len();
                self.codes.resize(start + self.dim, 0);
                let scale = quantise_into(vector, &mut self.codes[start..]);
                self.code_scales.push(scale);
            }
            self.owners.push(owner);
            self.photos.push(photo);
            if let Some(ivf) = &mut self.ivf {
                ivf.push(self.face_ids.len() - 1, vector);
            }
            return;
        };
        let slot = slot as usize;
        self.release(self.owners[slot]);
        self.owners[slot] = owner;
        let old = std::mem::replace(&mut self.photos[slot], photo);
        self.free_photo(old);
        let range = slot * self.dim..(slot + 1) * self.dim;
        self.vectors[range.clone()].copy_from_slice(vector);
        if self.kind == GalleryIndex::Int8 {
            self.code_scales[slot] = quantise_into(vector, &mut self.codes[range]);
        }
        if let Some(ivf) = &mut self.ivf {
            ivf.replace(slot, vector);
        }
    }

    pub fn remove(&mut self, face_id: i64) -> bool {
        let Some(slot) = self.slot_of.remove(face_id, |s| self.face_ids[s as usize]) else { return false };
        let slot = slot as usize;
        self.changes += 1;
        self.release(self.owners[slot]);
        let last = self.len() - 1;
        if let Some(ivf) = &mut self.ivf {
            ivf.remove(slot, last);
        }
        let dim = self.dim;
        if slot != last {
            self.vectors.copy_within(last * dim..(last + 1) * dim, slot * dim);
            if self.kind == GalleryIndex::Int8 {
                self.codes.copy_within(last * dim..(last + 1) * dim, slot * dim);
            }
            self.slot_of.set(self.face_ids[last], slot as u32, |s| self.face_ids[s as usize]);
        }
        self.vectors.truncate(last * dim);
        if self.kind == GalleryIndex::Int8 {
            self.codes.truncate(last * dim);
            self.code_scales.swap_remove(slot);
        }
        self.face_ids.swap_remove(slot);
        self.owners.swap_remove(slot);
        let photo = self.photos.swap_remove(slot);
        self.free_photo(photo);
        true
    }

    /// The faces of one dossier (a pass over the 4-byte owner column: dossier changes are rare,
    /// and a per-dossier face set would cost more memory than the vectors' overhead budget).
    pub fn faces_of(&self, dossier: i64) -> Vec<i64> {
        let Some(owner) = self.dossier_slot.get(dossier, |s| Self::dossier_id(&self.dossiers, s)) else {
            return Vec::new();
        };
        self.owners.iter().zip(&self.face_ids).filter(|(o, _)| **o == owner).map(|(_, id)| *id).collect()
    }

    /// Returns the spare capacity of the columns (after a bulk load).
    pub fn shrink_to_fit(&mut self) {
        self.vectors.shrink_to_fit();
        self.codes.shrink_to_fit();
        self.code_scales.shrink_to_fit();
        self.face_ids.shrink_to_fit();
        self.owners.shrink_to_fit();
        self.photos.shrink_to_fit();
        self.photo_paths.shrink_to_fit();
        self.slot_of.shrink_to_fit(|s| self.face_ids[s as usize]);
        self.dossiers.shrink_to_fit();
        self.dossier_slot.shrink_to_fit(|s| Self::dossier_id(&self.dossiers, s));
        self.names.shrink_to_fit();
        if let Some(ivf) = &mut self.ivf {
            ivf.shrink_to_fit();
        }
    }

    fn free_photo(&mut self, photo: Span) {
        if self.photo_paths.free(photo) {
            self.photo_paths.compact(self.photos.iter_mut());
        }
    }

    fn acquire(&mut self, meta: &FaceMeta) -> u32 {
        let bound = Bound::of(&meta.lists);
        self.floor.list_min = self.floor.list_min.min(bound.list_min);
        self.floor.any_unset |= bound.any_unset;
        let found = self.dossier_slot.get(meta.dossier.id, |s| Self::dossier_id(&self.dossiers, s));
        if let Some(slot) = found {
            // The newest read wins for the dossier's shared fields.
            self.rename(slot, &meta.dossier.name);
            if let Some(Some(dossier)) = self.dossiers.get_mut(slot as usize) {
                if !Arc::ptr_eq(&dossier.lists, &meta.lists) {
                    dossier.lists = meta.lists.clone();
                }
                dossier.bound = bound;
                dossier.faces += 1;
                return slot;
            }
        }
        let record = Dossier {
            id: meta.dossier.id,
            name: self.names.push(&meta.dossier.name),
            lists: meta.lists.clone(),
            bound,
            faces: 1,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.dossiers[slot as usize] = Some(record);
                slot
            }
            None => {
                self.dossiers.push(Some(record));
                (self.dossiers.len() - 1) as u32
            }
        };
        self.dossier_slot.insert(meta.dossier.id, slot, |s| Self::dossier_id(&self.dossiers, s));
        slot
    }

    fn rename(&mut self, slot: u32, name: &str) {
        let Some(Some(dossier)) = self.dossiers.get_mut(slot as usize) else { return };
        if self.names.get(dossier.name) != name {
            let old = std::mem::replace(&mut dossier.name, self.names.push(name));
            self.free_name(old);
        }
    }

    fn free_name(&mut self, name: Span) {
        if self.names.free(name) {
            self.names.compact(self.dossiers.iter_mut().flatten().map(|d| &mut d.name));
        }
    }

    fn release(&mut self, slot: u32) {
        let Some(entry) = self.dossiers.get_mut(slot as usize) else { return };
        let Some(dossier) = entry else { return };
        dossier.faces -= 1;
        if dossier.faces == 0 {
            let (id, name) = (dossier.id, dossier.name);
            self.dossier_slot.remove(id, |s| Self::dossier_id(&self.dossiers, s));
            self.dossiers[slot as usize] = None;
            self.free.push(slot);
            self.free_name(name);
        }
    }

    fn dossier_of(&self, slot: usize) -> Option<&Dossier> {
        self.dossiers.get(self.owners[slot] as usize)?.as_ref()
    }

    /// The threshold face `slot` must reach.
    fn threshold_of(&self, slot: usize, fallback: f32) -> f32 {
        self.dossier_of(slot).map_or(f32::INFINITY, |d| d.bound.threshold(fallback))
    }

    /// The face with the highest similarity among those reaching their own threshold.
    pub fn best_match(&self, query: &[f32], fallback: f32) -> Option<Match> {
        self.best_matches(&[Query { vector: query, fallback }]).pop().flatten()
    }

    /// [`Self::best_match`] of every query, in one pass over the gallery's memory: each block of
    /// rows is scored against the whole batch while it is in cache. A query of another
    /// dimension gets `None`. Each answer is the one the query would get alone (same kernel).
    pub fn best_matches(&self, queries: &[Query<'_>]) -> Vec<Option<Match>> {
        let mut answers = vec![None; queries.len()];
        if self.dim == 0 || self.is_empty() {
            return answers;
        }
        let picked: Vec<usize> = (0..queries.len()).filter(|&i| queries[i].vector.len() == self.dim).collect();
        if picked.is_empty() {
            return answers;
        }
        let vectors: Vec<f32> = picked.iter().flat_map(|&i| queries[i].vector.iter().copied()).collect();
        let fallbacks: Vec<f32> = picked.iter().map(|&i| queries[i].fallback).collect();
        let winners = match self.kind {
            GalleryIndex::Flat => self.scan_f32(&vectors, &fallbacks),
            GalleryIndex::Int8 => self.scan_i8(&vectors, &fallbacks),
            // Each query probes its own lists: no shared pass, so one query at a time.
            GalleryIndex::Ivf => match &self.ivf {
                Some(ivf) => vectors
                    .chunks_exact(self.dim)
                    .zip(&fallbacks)
                    .map(|(query, &fallback)| ivf.search(self, query, fallback, self.ivf_settings.probes))
                    .collect(),
                None => self.scan_f32(&vectors, &fallbacks),
            },
        };
        for ((i, fallback), winner) in picked.into_iter().zip(fallbacks).zip(winners) {
            answers[i] = winner.and_then(|(slot, confidence)| self.match_of(slot, confidence, fallback));
        }
        answers
    }

    fn match_of(&self, slot: usize, confidence: f32, fallback: f32) -> Option<Match> {
        let dossier = self.dossier_of(slot)?;
        let lists = dossier
            .lists
            .iter()
            .filter(|l| confidence >= l.threshold.unwrap_or(fallback))
            .map(|l| IdName { id: l.id, name: l.name.clone() })
            .collect();
        let face = FaceMeta {
            face_id: self.face_ids[slot],
            dossier: IdName { id: dossier.id, name: self.names.get(dossier.name).to_string() },
            lists: dossier.lists.clone(),
            photo: self.photo_paths.get(self.photos[slot]).to_string(),
        };
        Some(Match { face, confidence, lists })
    }

    /// The best (slot, score) per query (`dim` values each in `queries`) reaching its threshold.
    fn scan_f32(&self, queries: &[f32], fallbacks: &[f32]) -> Vec<Option<(usize, f32)>> {
        let n_queries = fallbacks.len();
        let gates: Vec<f32> = fallbacks.iter().map(|&f| self.floor.threshold(f)).collect();
        let mut best: Vec<Option<(usize, f32)>> = vec![None; n_queries];
        let mut best_score = vec![f32::NEG_INFINITY; n_queries];
        let block_rows = block_rows(n_queries);
        let mut scores = vec![0.0_f32; block_rows * n_queries];
        for (block, rows) in self.vectors.chunks(block_rows * self.dim).enumerate() {
            let n = rows.len() / self.dim;
            let out = &mut scores[..n * n_queries];
            scores_f32_batch(rows, self.dim, n, queries, out);
            for (q, out) in out.chunks_exact(n).enumerate() {
                // Most blocks hold no candidate: one vectorised maximum skips them.
                let max = max_f32(out);
                if !(max > best_score[q] && max >= gates[q]) {
                    continue;
                }
                for (i, &score) in out.iter().enumerate() {
                    if score > best_score[q] && score >= gates[q] {
                        let slot = block * block_rows + i;
                        if score >= self.threshold_of(slot, fallbacks[q]) {
                            (best[q], best_score[q]) = (Some((slot, score)), score);
                        }
                    }
                }
            }
        }
        best
    }

    /// As [`Self::scan_f32`], scanning the 8-bit codes and rescoring each query's best
    /// [`INT8_CANDIDATES`] in f32.
    fn scan_i8(&self, queries: &[f32], fallbacks: &[f32]) -> Vec<Option<(usize, f32)>> {
        let n_queries = fallbacks.len();
        let mut codes = vec![0_i8; queries.len()];
        let query_scales: Vec<f32> = queries
            .chunks_exact(self.dim)
            .zip(codes.chunks_exact_mut(self.dim))
            .map(|(query, codes)| quantise_into(query, codes))
            .collect();
        let gates: Vec<f32> = fallbacks.iter().map(|&f| self.floor.threshold(f) - INT8_MARGIN).collect();
        let block_rows = block_rows(n_queries);
        let mut scores = vec![0_i32; block_rows * n_queries];
        let mut tops: Vec<TopK> = (0..n_queries).map(|_| TopK::new()).collect();
        for (block, rows) in self.codes.chunks(block_rows * self.dim).enumerate() {
            let n = rows.len() / self.dim;
            let out = &mut scores[..n * n_queries];
            scores_i8_batch(rows, self.dim, n, &codes, out);
            let scales = &self.code_scales[block * block_rows..block * block_rows + n];
            for (q, out) in out.chunks_exact(n).enumerate() {
                let probe = I8Probe { scale: query_scales[q], gate: gates[q], fallback: fallbacks[q] };
                self.offer_i8(&mut tops[q], out, scales, probe, |i| block * block_rows + i);
            }
        }
        let rescore =
            |(q, top): (usize, TopK)| self.rescore(&queries[q * self.dim..(q + 1) * self.dim], fallbacks[q], &top);
        tops.into_iter().enumerate().map(rescore).collect()
    }

    /// Offers one kernel call's 8-bit scores of a query (`raw`, for rows with `scales`; row `i` is
    /// slot `slot_of(i)`) to `top`: a row within INT8_MARGIN of its threshold is a candidate. As in
    /// `scan_f32`, one vectorised maximum first skips a block without any (the query's scale is
    /// >= 0, so it preserves the maximum, with the same rounding).
    fn offer_i8(&self, top: &mut TopK, raw: &[i32], scales: &[f32], probe: I8Probe, slot_of: impl Fn(usize) -> usize) {
        let max = max_scaled_i32(raw, scales) * probe.scale;
        if !(max > top.floor && max >= probe.gate) {
            return;
        }
        for (i, (&r, &scale)) in raw.iter().zip(scales).enumerate() {
            let approx = r as f32 * scale * probe.scale;
            if approx > top.floor && approx >= probe.gate {
                let slot = slot_of(i);
                if approx >= self.threshold_of(slot, probe.fallback) - INT8_MARGIN {
                    top.push(approx, slot);
                }
            }
        }
    }

    /// The best of `top`'s candidates by exact f32 score, over its threshold.
    fn rescore(&self, query: &[f32], fallback: f32, top: &TopK) -> Option<(usize, f32)> {
        let mut best: Option<(usize, f32)> = None;
        for &(_, slot) in &top.items[..top.len] {
            let exact = dot(&self.vectors[slot * self.dim..(slot + 1) * self.dim], query);
            if best.is_none_or(|(_, b)| exact > b) && exact >= self.threshold_of(slot, fallback) {
                best = Some((slot, exact));
            }
        }
        best
    }
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
            photo: format!("p{id}"),
        }
    }

    const KINDS: [GalleryIndex; 2] = [GalleryIndex::Flat, GalleryIndex::Int8];

    #[test]
    fn best_match_respects_threshold_and_dimension() {
        for kind in KINDS {
            let mut index = FaceIndex::new(2, kind);
            index.upsert(meta(1, &[None]), &[1.0, 0.0]);
            index.upsert(meta(2, &[None]), &[0.6, 0.8]);
            let hit = index.best_match(&[0.8, 0.6], 0.5).unwrap();
            assert_eq!((hit.face.face_id, hit.face.dossier.name.as_str(), hit.face.photo.as_str()), (2, "d2", "p2"));
            // The confidence is the exact f32 one, whichever index found the face.
            assert!((hit.confidence - 0.96).abs() < 1e-6, "{kind:?}");
            assert!(index.best_match(&[0.8, 0.6], 0.97).is_none());
            assert!(index.best_match(&[0.0, 0.0, 1.0], 0.1).is_none());
        }
    }

    #[test]
    fn list_thresholds_override_the_fallback() {
        for kind in KINDS {
            let mut index = FaceIndex::new(2, kind);
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
    }

    #[test]
    fn removal_keeps_the_layout_dense() {
        for kind in KINDS {
            let mut index = FaceIndex::new(3, kind);
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
            assert_eq!(index.dossiers.iter().flatten().count(), 4);
        }
    }

    #[test]
    fn faces_of_a_dossier_share_one_record() {
        let mut index = FaceIndex::new(2, GalleryIndex::Flat);
        let face = |index: &mut FaceIndex, id: i64, dossier: i64, name: &str, v: [f32; 2]| {
            let mut m = meta(id, &[None]);
            m.dossier = IdName { id: dossier, name: name.into() };
            index.upsert(m, &v);
        };
        face(&mut index, 1, 10, "old", [1.0, 0.0]);
        face(&mut index, 2, 10, "new", [0.0, 1.0]);
        face(&mut index, 3, 11, "other", [0.6, 0.8]);
        assert_eq!(index.dossiers.iter().flatten().count(), 2);
        // The newest name read serves every face of the dossier.
        assert_eq!(index.best_match(&[1.0, 0.0], 0.9).unwrap().face.dossier.name, "new");
        let mut ids = index.faces_of(10);
        ids.sort();
        assert_eq!(ids, vec![1, 2]);
        // Moving face 2 away keeps the dossier; removing face 1 then frees its record.
        face(&mut index, 2, 11, "other", [0.0, 1.0]);
        assert_eq!(index.faces_of(10), vec![1]);
        assert!(index.remove(1));
        assert!(index.faces_of(10).is_empty());
        assert_eq!(index.dossiers.iter().flatten().count(), 1);
        assert_eq!(index.free, vec![0]);
    }

    /// Random unit vectors, reproducible without a RNG crate.
    fn unit(seed: u64, dim: usize) -> Vec<f32> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let v: Vec<f32> = (0..dim)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect();
        domain::vector::normalise(v).unwrap()
    }

    #[test]
    fn int8_finds_the_exact_winner() {
        for dim in [100, 128] {
            let (mut flat, mut int8) =
                (FaceIndex::new(dim, GalleryIndex::Flat), FaceIndex::new(dim, GalleryIndex::Int8));
            for id in 0..3000 {
                flat.upsert(meta(id, &[None]), &unit(id as u64, dim));
                int8.upsert(meta(id, &[None]), &unit(id as u64, dim));
            }
            for q in 0..60_u64 {
                // Strangers, ranked without a threshold: the hardest case (near-ties).
                let probe = unit(1_000_000 + q, dim);
                let want = flat.best_match(&probe, -1.0).unwrap();
                let got = int8.best_match(&probe, -1.0).unwrap();
                assert_eq!(got.face.face_id, want.face.face_id, "dim {dim} query {q}");
                assert_eq!(got.confidence, want.confidence);
            }
        }
    }

    #[test]
    fn a_batch_answers_each_query_as_alone() {
        for kind in KINDS {
            let dim = 40;
            let mut index = FaceIndex::new(dim, kind);
            assert!(index.best_matches(&[Query { vector: &unit(1, dim), fallback: -1.0 }])[0].is_none());
            for id in 0..700 {
                // Lists with their own thresholds, some without (they use the query's fallback).
                let thresholds: &[Option<f32>] = match id % 4 {
                    0 => &[None],
                    1 => &[Some(0.3)],
                    2 => &[Some(0.9), None],
                    _ => &[Some(0.2), Some(0.5)],
                };
                index.upsert(meta(id, thresholds), &unit(id as u64, dim));
            }
            let probes: Vec<Vec<f32>> = (0..37_u64)
                .map(|q| match q % 3 {
                    0 => unit(q * 7, dim),
                    1 => unit(5_000 + q, dim),
                    // Wrong dimension: no answer, and no effect on the others.
                    _ => unit(q, dim + 1),
                })
                .collect();
            let fallback = |q: usize| [0.1, 0.4, 0.95, -1.0][q % 4];
            let queries: Vec<Query<'_>> =
                probes.iter().enumerate().map(|(q, p)| Query { vector: p, fallback: fallback(q) }).collect();
            let batched = index.best_matches(&queries);
            let mut matched = 0;
            for (q, got) in batched.iter().enumerate() {
                let alone = index.best_match(&probes[q], fallback(q));
                let key = |m: &Option<Match>| {
                    m.as_ref().map(|m| (m.face.face_id, m.confidence, m.lists.iter().map(|l| l.id).collect::<Vec<_>>()))
                };
                assert_eq!(key(got), key(&alone), "{kind:?} query {q}");
                matched += usize::from(got.is_some());
                if q % 3 == 2 {
                    assert!(got.is_none());
                }
            }
            assert!(matched > 5, "{kind:?}: only {matched} matches, the test compares too little");
        }
    }

    #[test]
    fn photos_and_names_survive_churn() {
        let dim = 16;
        let mut index = FaceIndex::new(dim, GalleryIndex::Flat);
        let face = |id: i64, generation: u32| {
            let mut m = meta(id, &[None]);
            m.dossier = IdName { id: id % 500, name: format!("dossier {} v{generation}", id % 500) };
            m.photo = format!("dossier_faces/{id}/photo-{generation}.jpg");
            m
        };
        for id in 0..3_000 {
            index.upsert(face(id, 0), &unit(id as u64, dim));
        }
        // Enough removals and renames to compact both arenas more than once.
        for id in (0..3_000).filter(|id| id % 3 != 0) {
            assert!(index.remove(id));
        }
        for id in (0..3_000).step_by(6) {
            index.upsert(face(id, 1), &unit(id as u64, dim));
        }
        index.shrink_to_fit();
        assert_eq!(index.len(), 1_000);
        for id in (0..3_000).step_by(3) {
            assert!(index.contains(id));
            let hit = index.best_match(&unit(id as u64, dim), 0.99).unwrap();
            // A dossier's name is the newest read of any of its faces.
            let generation = u32::from(id % 6 == 0);
            assert_eq!(hit.face.face_id, id);
            assert_eq!(hit.face.photo, format!("dossier_faces/{id}/photo-{generation}.jpg"));
            assert!(hit.face.dossier.name.starts_with(&format!("dossier {} v", id % 500)));
        }
        assert!(!index.contains(1));
        assert!(index.photo_paths.get(Span::default()).is_empty());
    }
}
