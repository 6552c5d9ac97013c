//! Exhaustive 1:N search over one dimension's dossier faces. Columns, one entry per slot: every
//! vector sits in one contiguous `Vec<f32>` at `slot * dim` (so a scan streams memory in order),
//! beside it only the face id, a small dossier handle and the photo path. What all faces of a
//! dossier share (name, lists, threshold bound) lives once per dossier and is read only for a face
//! that beats the running best. Removal swaps the last face into the freed slot, so there are no
//! holes.
//!
//! With [`GalleryIndex::Int8`] an 8-bit copy of every vector (one scale per row) is scanned
//! instead, a quarter of the memory traffic; the best [`INT8_CANDIDATES`] are then rescored in f32
//! from a half-precision copy (the vectors are kept only as f16, 2 bytes a dimension: the
//! `halves` column), so the reported confidence is within [`F16_SCORE_ERROR`] (~5e-4, typically ~2e-5)
//! of the exact f32 one and the winner is the exact one unless more than that many faces score
//! within the quantisation error of it (or two within the f16 error of each other).
//!
//! With [`GalleryIndex::Ivf`] an inverted file (`ivf_index`) follows the faces and answers queries
//! by scanning only a few lists, once trained; until then (and for small galleries) a scan of
//! every face's f16 copy, widened to f32 block by block.

use std::sync::Arc;

use domain::config::GalleryIndex;
use domain::event::IdName;

mod ivf_index;

pub use ivf_index::{IvfPlan, IvfSettings, MIN_TRAIN_FACES, RETRAIN_FACTOR, lists_for};

pub use crate::scan_kernels::F16_SCORE_ERROR;
use crate::scan_kernels::{
    f16_from_f32, f32_from_f16, max_f32, max_scaled_i32, quantise_into, scores_f32_batch, scores_i8_batch,
};
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
///
/// The codes are quantised from the kept f16 copy, and the candidates' scores (the threshold
/// decision and the reported confidence) are computed from that same copy, so the margin only
/// has to cover the 8-bit error against the f16 score: a face whose f16 score reaches its
/// threshold always has an 8-bit score over threshold - 0.025 and is a candidate. What f16
/// changes is the decision itself, against exact f32: the f16 score is within
/// [`F16_SCORE_ERROR`] (4.9e-4 + 1.5e-5 of f32 arithmetic) of the exact one, so a face whose exact
/// f32 score is more than that above (below) its threshold matches (does not) exactly as with
/// `Flat`; one closer than that may be decided either way. Typical errors are ~2e-5 (the
/// rounding errors of the components mostly cancel); measured maxima in docs/benchmarks.md (P4).
/// Nothing is shifted to favour either side: a match by f16 is not a match by f32 only when the
/// exact score is under the threshold by less than the error, and the reverse.
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
    /// Flat only: `dim` f32 per slot, the vectors as given (exact scores).
    vectors: Vec<f32>,
    /// Int8 and Ivf only: `dim` half-precision values (binary16 bits) per slot, the vectors as
    /// kept: rescoring, the ivf's exact scan before training, its training and re-training read
    /// them (widened to f32). Half the memory of `vectors` for a score within
    /// [`F16_SCORE_ERROR`] of the exact one; the 8-bit codes and the ivf lists are derived from
    /// them too, so every part of the index agrees on what a face's vector is.
    halves: Vec<u16>,
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

    /// Whether the vectors are kept in half precision (`halves`) rather than f32 (`vectors`).
    fn keeps_halves(&self) -> bool {
        self.kind != GalleryIndex::Flat
    }

    /// Adds or replaces a face. `vector` must have this index's dimension and be L2-normalised.
    pub fn upsert(&mut self, meta: FaceMeta, vector: &[f32]) {
        debug_assert_eq!(vector.len(), self.dim);
        // Int8 and ivf keep the vector's f16 rounding; the codes and the ivf's list are derived
        // from that (widened back to f32), as re-training derives them, so they never disagree.
        let (half, held) = if self.keeps_halves() {
            let mut half = vec![0_u16; self.dim];
            f16_from_f32(vector, &mut half);
            let mut held = vec![0.0_f32; self.dim];
            f32_from_f16(&half, &mut held);
            (half, held)
        } else {
            (Vec::new(), Vec::new())
        };
        let vector = if self.keeps_halves() { &held[..] } else { vector };
        // Take the new dossier first, so a face staying in its dossier never frees the record.
        let owner = self.acquire(&meta);
        let photo = self.photo_paths.push(&meta.photo);
        self.changes += 1;
        let Some(slot) = self.slot_of.get(meta.face_id, |s| self.face_ids[s as usize]) else {
            self.face_ids.push(meta.face_id);
            self.slot_of.insert(meta.face_id, (self.face_ids.len() - 1) as u32, |s| self.face_ids[s as usize]);
            if self.keeps_halves() {
                self.halves.extend_from_slice(&half);
            } else {
                self.vectors.extend_from_slice(vector);
            }
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
        if self.keeps_halves() {
            self.halves[range.clone()].copy_from_slice(&half);
        } else {
            self.vectors[range.clone()].copy_from_slice(vector);
        }
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
            if self.keeps_halves() {
                self.halves.copy_within(last * dim..(last + 1) * dim, slot * dim);
            } else {
                self.vectors.copy_within(last * dim..(last + 1) * dim, slot * dim);
            }
            if self.kind == GalleryIndex::Int8 {
                self.codes.copy_within(last * dim..(last + 1) * dim, slot * dim);
            }
            self.slot_of.set(self.face_ids[last], slot as u32, |s| self.face_ids[s as usize]);
        }
        self.vectors.truncate(last * dim);
        self.halves.truncate(last * dim);
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
        self.halves.shrink_to_fit();
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

    /// Heap bytes by what they hold, counted by capacity (spare room included; a list set shared
    /// by several dossiers once): every per-face column, the maps, the dossier records and, for
    /// ivf, the lists. What `ffsec-loadgen search` reports per face beside the resident growth.
    pub fn heap_bytes(&self) -> Vec<(&'static str, usize)> {
        use std::mem::size_of;
        let mut seen = std::collections::HashSet::new();
        let lists: usize = self
            .dossiers
            .iter()
            .flatten()
            .filter(|d| seen.insert(Arc::as_ptr(&d.lists).cast::<ListEntry>().addr()))
            .map(|d| {
                2 * size_of::<usize>()
                    + d.lists.iter().map(|l| size_of::<ListEntry>() + l.name.capacity()).sum::<usize>()
            })
            .sum();
        let mut out = vec![
            ("vectors (f32)", self.vectors.capacity() * size_of::<f32>()),
            ("vectors (f16)", self.halves.capacity() * size_of::<u16>()),
            ("8-bit codes and scales", self.codes.capacity() + self.code_scales.capacity() * size_of::<f32>()),
            (
                "face ids, dossier handles, photo spans",
                self.face_ids.capacity() * size_of::<i64>()
                    + self.owners.capacity() * size_of::<u32>()
                    + self.photos.capacity() * size_of::<Span>(),
            ),
            ("face id -> slot map", self.slot_of.heap_bytes()),
            ("photo paths", self.photo_paths.heap_bytes()),
            (
                "dossiers: records, id map, names, lists",
                self.dossiers.capacity() * size_of::<Option<Dossier>>()
                    + self.free.capacity() * size_of::<u32>()
                    + self.dossier_slot.heap_bytes()
                    + self.names.heap_bytes()
                    + lists,
            ),
        ];
        if let Some(ivf) = &self.ivf {
            out.extend(ivf.heap_bytes());
        }
        out
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

    /// Rows `first..first + n` as f32: a slice of `vectors` (flat), or their f16 copies widened
    /// into `scratch` (int8, ivf). Either way a row's score from the f32 kernel does not depend on
    /// where it sits in a call, so rescoring a candidate gives the bits a scan of it gives.
    fn rows_f32<'a>(&'a self, first: usize, n: usize, scratch: &'a mut Vec<f32>) -> &'a [f32] {
        let range = first * self.dim..(first + n) * self.dim;
        if !self.keeps_halves() {
            return &self.vectors[range];
        }
        scratch.resize(range.len(), 0.0);
        f32_from_f16(&self.halves[range], scratch);
        scratch
    }

    /// The best (slot, score) per query (`dim` values each in `queries`) reaching its threshold.
    fn scan_f32(&self, queries: &[f32], fallbacks: &[f32]) -> Vec<Option<(usize, f32)>> {
        let n_queries = fallbacks.len();
        let gates: Vec<f32> = fallbacks.iter().map(|&f| self.floor.threshold(f)).collect();
        let mut best: Vec<Option<(usize, f32)>> = vec![None; n_queries];
        let mut best_score = vec![f32::NEG_INFINITY; n_queries];
        let block_rows = block_rows(n_queries);
        let mut scores = vec![0.0_f32; block_rows * n_queries];
        let mut widened = Vec::new();
        for block in 0..self.len().div_ceil(block_rows) {
            let n = block_rows.min(self.len() - block * block_rows);
            let rows = self.rows_f32(block * block_rows, n, &mut widened);
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

    /// The best of `top`'s candidates by f32 score of their kept vectors (the f16 copies, within
    /// [`F16_SCORE_ERROR`] of the exact score; see [`INT8_MARGIN`]), over its threshold.
    fn rescore(&self, query: &[f32], fallback: f32, top: &TopK) -> Option<(usize, f32)> {
        let candidates = &top.items[..top.len];
        if candidates.is_empty() {
            return None;
        }
        let mut rows = vec![0.0_f32; candidates.len() * self.dim];
        let mut one = Vec::new();
        for (row, &(_, slot)) in rows.chunks_exact_mut(self.dim).zip(candidates) {
            row.copy_from_slice(self.rows_f32(slot, 1, &mut one));
        }
        let mut scores = [0.0_f32; INT8_CANDIDATES];
        let scores = &mut scores[..candidates.len()];
        scores_f32_batch(&rows, self.dim, candidates.len(), query, scores);
        let mut best: Option<(usize, f32)> = None;
        for (&(_, slot), &score) in candidates.iter().zip(scores.iter()) {
            if best.is_none_or(|(_, b)| score > b) && score >= self.threshold_of(slot, fallback) {
                best = Some((slot, score));
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
            // The confidence is the exact f32 one for flat, within the f16 bound for int8.
            let tolerance = if kind == GalleryIndex::Flat { 1e-6 } else { F16_SCORE_ERROR };
            assert!((hit.confidence - 0.96).abs() < tolerance, "{kind:?}: {}", hit.confidence);
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
            // One column holds the vectors: f32 for flat, f16 for int8.
            assert_eq!(index.vectors.len() + index.halves.len(), 12);
            assert!(index.vectors.is_empty() || index.halves.is_empty());
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
                assert!((got.confidence - want.confidence).abs() <= F16_SCORE_ERROR, "dim {dim} query {q}");
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

    /// The most the f16 copy of `x` can move its score with `q` (see [`F16_SCORE_ERROR`]):
    /// 2^-11 Σ|q_i x_i| for the normal components, 2^-25 Σ|q_i| for subnormal ones, plus the f32
    /// arithmetic of the two dot products.
    fn f16_bound(q: &[f32], x: &[f32]) -> f32 {
        let relative: f32 = q.iter().zip(x).map(|(a, b)| (a * b).abs()).sum();
        let absolute: f32 = q.iter().map(|a| a.abs()).sum();
        relative / 2048.0 + absolute / 33_554_432.0 + 1.0 / 65_536.0
    }

    /// A unit vector at cosine `cosine` from unit `v` (`seed` picks the direction).
    fn near(v: &[f32], cosine: f32, seed: u64) -> Vec<f32> {
        let r = unit(seed, v.len());
        let along: f32 = r.iter().zip(v).map(|(a, b)| a * b).sum();
        let ortho =
            domain::vector::normalise(r.iter().zip(v).map(|(a, b)| a - along * b).collect()).unwrap_or_default();
        let sine = (1.0 - cosine * cosine).sqrt();
        v.iter().zip(&ortho).map(|(a, o)| cosine * a + sine * o).collect()
    }

    /// Random galleries and probes (near faces and strangers), every dimension the service
    /// meets: int8 and the untrained ivf (its scan of the widened f16 copies) report the face flat
    /// reports, with a confidence within the per-face f16 bound of flat's exact one, and far
    /// within it on average.
    #[test]
    fn f16_confidence_stays_within_its_bound_of_flat() {
        for dim in [32, 100, 128, 512] {
            let mut flat = FaceIndex::new(dim, GalleryIndex::Flat);
            let mut int8 = FaceIndex::new(dim, GalleryIndex::Int8);
            let mut ivf = FaceIndex::new(dim, GalleryIndex::Ivf);
            let faces = 2_000;
            for id in 0..faces {
                let v = unit(id as u64 * 31 + dim as u64, dim);
                for index in [&mut flat, &mut int8, &mut ivf] {
                    index.upsert(meta(id, &[None]), &v);
                }
            }
            let (mut max, mut sum, mut n, mut ties) = (0.0_f32, 0.0_f32, 0, 0);
            for q in 0..200_u64 {
                let probe = if q % 2 == 0 {
                    near(&unit((q % faces as u64) * 31 + dim as u64, dim), 0.8, 9_000 + q)
                } else {
                    unit(7_000_000 + q, dim)
                };
                let want = flat.best_match(&probe, -1.0).unwrap();
                for index in [&int8, &ivf] {
                    let got = index.best_match(&probe, -1.0).unwrap();
                    // Another face only in a near-tie: its exact score within the f16 errors of both.
                    let x = unit(got.face.face_id as u64 * 31 + dim as u64, dim);
                    let exact: f32 = x.iter().zip(&probe).map(|(a, b)| a * b).sum();
                    if got.face.face_id != want.face.face_id {
                        ties += 1;
                        assert!(
                            want.confidence - exact <= 2.0 * F16_SCORE_ERROR,
                            "{:?} dim {dim} query {q}",
                            index.kind
                        );
                    }
                    let error = (got.confidence - exact).abs();
                    assert!(error <= f16_bound(&probe, &x), "{:?} dim {dim} query {q}: {error:e}", index.kind);
                    assert!(error <= F16_SCORE_ERROR);
                    (max, sum, n) = (max.max(error), sum + error, n + 1);
                }
            }
            let mean = sum / n as f32;
            eprintln!(
                "dim {dim}: f16 confidence error max {max:.2e}, mean {mean:.2e} over {n} answers; {ties} near-ties"
            );
            assert!(ties <= 2, "dim {dim}: {ties} answers name another face than flat");
            assert!(mean < 1e-4, "dim {dim}: mean error {mean:e}");
        }
    }

    /// A face 1e-4 (and 1e-5) above or below its threshold — a list's own, or the camera's
    /// fallback — is decided as flat decides it whenever the f16 error of that face's score is
    /// smaller than its distance to the threshold (the only guarantee there is; see INT8_MARGIN),
    /// which at 1e-4 is every face here (the errors are ~2e-5 at 128 dimensions). A face whose
    /// vector is exact in f16 scores the same bits as flat, so one exactly at its threshold
    /// matches, as with flat.
    #[test]
    fn a_face_at_or_near_its_threshold_is_decided_as_flat_decides() {
        let dim = 128;
        for kind in [GalleryIndex::Int8, GalleryIndex::Ivf] {
            let (mut agreed_at_1e4, mut cases_at_1e4) = (0, 0);
            for target in 0..40_i64 {
                let (mut flat, mut index) = (FaceIndex::new(dim, GalleryIndex::Flat), FaceIndex::new(dim, kind));
                let mut face = unit(target as u64 + 50_000, dim);
                if target % 4 == 0 {
                    // Exactly representable in f16: both indexes hold the very same vector.
                    let mut half = vec![0_u16; dim];
                    f16_from_f32(&face, &mut half);
                    f32_from_f16(&half, &mut face);
                }
                for id in 0..300 {
                    let v = unit(id as u64 + 60_000, dim);
                    flat.upsert(meta(id, &[Some(0.5)]), &v);
                    index.upsert(meta(id, &[Some(0.5)]), &v);
                }
                let probe = near(&face, 0.8, target as u64 + 70_000);
                let exact: f32 = {
                    flat.upsert(meta(1_000, &[None]), &face);
                    flat.best_match(&probe, -1.0).map(|m| m.confidence).unwrap()
                };
                let held = {
                    index.upsert(meta(1_000, &[None]), &face);
                    index.best_match(&probe, -1.0).map(|m| m.confidence).unwrap()
                };
                let error = (held - exact).abs();
                if target % 4 == 0 {
                    assert_eq!(held.to_bits(), exact.to_bits(), "{kind:?}: an f16-exact vector scores as flat");
                }
                for offset in [0.0, 1e-5, -1e-5, 1e-4, -1e-4] {
                    let threshold = exact + offset;
                    // The list's own threshold (a dossier replacement: same vector, new lists)…
                    flat.upsert(meta(1_000, &[Some(threshold)]), &face);
                    index.upsert(meta(1_000, &[Some(threshold)]), &face);
                    let by_list = (flat.best_match(&probe, 0.99), index.best_match(&probe, 0.99));
                    // …and the camera's fallback for a list without one.
                    flat.upsert(meta(1_000, &[None, Some(0.99)]), &face);
                    index.upsert(meta(1_000, &[None, Some(0.99)]), &face);
                    let by_fallback = (flat.best_match(&probe, threshold), index.best_match(&probe, threshold));
                    for (want, got) in [by_list, by_fallback] {
                        let want = want.map(|m| (m.face.face_id, m.lists.len()));
                        let got = got.map(|m| (m.face.face_id, m.lists.len()));
                        assert_eq!(want.is_some(), offset <= 0.0, "flat decides by the exact score");
                        if error < offset.abs() || (offset == 0.0 && target % 4 == 0) {
                            assert_eq!(got, want, "{kind:?} target {target} offset {offset:e} error {error:e}");
                        }
                        if offset.abs() == 1e-4 {
                            cases_at_1e4 += 1;
                            agreed_at_1e4 += usize::from(got == want);
                        }
                    }
                }
            }
            assert_eq!(agreed_at_1e4, cases_at_1e4, "{kind:?}: every face 1e-4 from its threshold decided as flat");
        }
    }

    #[test]
    fn memory_is_counted_by_capacity_in_the_column_kept() {
        let dim = 128;
        for kind in [GalleryIndex::Flat, GalleryIndex::Int8, GalleryIndex::Ivf] {
            let mut index = FaceIndex::new(dim, kind);
            for id in 0..1_000 {
                index.upsert(meta(id, &[None]), &unit(id as u64, dim));
            }
            let column = |index: &FaceIndex, what: &str| {
                index.heap_bytes().iter().find(|(w, _)| *w == what).map_or(0, |(_, b)| *b)
            };
            // Before shrinking, spare capacity counts.
            let grown = column(&index, "vectors (f32)") + column(&index, "vectors (f16)");
            index.shrink_to_fit();
            let (f32s, f16s) = (column(&index, "vectors (f32)"), column(&index, "vectors (f16)"));
            assert!(grown >= f32s + f16s);
            if kind == GalleryIndex::Flat {
                assert_eq!((f32s, f16s), (1_000 * dim * 4, 0));
            } else {
                assert_eq!((f32s, f16s), (0, 1_000 * dim * 2), "{kind:?}");
            }
            let total: usize = index.heap_bytes().iter().map(|(_, b)| b).sum();
            let codes = if kind == GalleryIndex::Int8 { dim + 4 } else { 0 };
            assert!(total >= 1_000 * (f32s / 1_000 + f16s / 1_000 + codes + 8 + 4 + 8), "{kind:?}: {total}");
        }
    }
}
