//! Spherical k-means for the IVF gallery index's coarse centroids: unit vectors compared by dot
//! product (the gallery's similarity), each centroid the normalised mean of the vectors nearest
//! it. Trained on a deterministic sample with a bounded number of iterations, so its cost is
//! bounded (`sample × k × dim × iterations`) and the same gallery always gets the same centroids.
//! All distance work goes through the gallery's batched f32 kernel.

use crate::scan_kernels::scores_f32_batch;

/// Vectors scored per kernel call (the kernel's "queries"): each block of centroids is reused for
/// all of them while it is in L1, as the gallery's batched scan does.
const VECTORS_PER_CALL: usize = 32;
/// Centroids per kernel call: 32 × 128 scores stay in L1 for the arg-max loop that follows.
const CENTROIDS_PER_CALL: usize = 128;

/// A small deterministic generator (xorshift64*), so training needs no RNG crate and is
/// reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-enough in `0..n` (n > 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// The nearest centroid (highest dot product) of every `dim`-long row of `vectors`, with its score.
pub fn assign(vectors: &[f32], dim: usize, centroids: &[f32]) -> Vec<(u32, f32)> {
    let k = centroids.len() / dim;
    let mut nearest = Vec::with_capacity(vectors.len() / dim);
    if k == 0 {
        return nearest;
    }
    let mut scores = vec![0.0_f32; VECTORS_PER_CALL * CENTROIDS_PER_CALL];
    for chunk in vectors.chunks(VECTORS_PER_CALL * dim) {
        let n = chunk.len() / dim;
        let mut best = [(0_u32, f32::NEG_INFINITY); VECTORS_PER_CALL];
        for (block, rows) in centroids.chunks(CENTROIDS_PER_CALL * dim).enumerate() {
            let rows_n = rows.len() / dim;
            let out = &mut scores[..n * rows_n];
            scores_f32_batch(rows, dim, rows_n, &chunk[..n * dim], out);
            for (q, out) in out.chunks_exact(rows_n).enumerate() {
                for (r, &score) in out.iter().enumerate() {
                    if score > best[q].1 {
                        best[q] = ((block * CENTROIDS_PER_CALL + r) as u32, score);
                    }
                }
            }
        }
        nearest.extend_from_slice(&best[..n]);
    }
    nearest
}

/// `k` unit centroids for the `dim`-long unit rows of `sample` (at least `k` rows), after at most
/// `iterations` rounds of assignment and update; stops early once no row changes centroid.
pub fn train(sample: &[f32], dim: usize, k: usize, iterations: usize, seed: u64) -> Vec<f32> {
    let n = sample.len() / dim;
    let k = k.min(n);
    let mut rng = Rng::new(seed);
    let mut centroids = seed_plus_plus(sample, dim, k, &mut rng);
    let mut previous: Vec<u32> = Vec::new();
    for _ in 0..iterations {
        let nearest = assign(sample, dim, &centroids);
        let labels: Vec<u32> = nearest.iter().map(|&(c, _)| c).collect();
        if labels == previous {
            break;
        }
        let mut sums = vec![0.0_f32; k * dim];
        let mut counts = vec![0_usize; k];
        for (row, &c) in labels.iter().enumerate() {
            let c = c as usize;
            counts[c] += 1;
            for (s, x) in sums[c * dim..(c + 1) * dim].iter_mut().zip(&sample[row * dim..(row + 1) * dim]) {
                *s += x;
            }
        }
        for c in 0..k {
            let target = &mut centroids[c * dim..(c + 1) * dim];
            if counts[c] == 0 {
                // An empty centroid restarts on a random row, so no list stays empty for good.
                let r = rng.below(n);
                target.copy_from_slice(&sample[r * dim..(r + 1) * dim]);
                continue;
            }
            let sum = &sums[c * dim..(c + 1) * dim];
            let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt();
            // A zero mean (opposite vectors cancelling) keeps the previous centroid.
            if norm > 0.0 && norm.is_finite() {
                for (t, s) in target.iter_mut().zip(sum) {
                    *t = s / norm;
                }
            }
        }
        previous = labels;
    }
    centroids
}

/// k-means++ seeding: each next centroid is a sample row drawn with probability proportional to
/// its distance (1 - best similarity) to the centroids so far, so the start spreads over the data
/// instead of piling several centroids into one dense region. One pass over the sample per
/// centroid, the cost of one assignment round.
fn seed_plus_plus(sample: &[f32], dim: usize, k: usize, rng: &mut Rng) -> Vec<f32> {
    let n = sample.len() / dim;
    let mut centroids = Vec::with_capacity(k * dim);
    if k == 0 || n == 0 {
        return centroids;
    }
    let first = rng.below(n);
    centroids.extend_from_slice(&sample[first * dim..(first + 1) * dim]);
    let mut best = vec![f32::NEG_INFINITY; n];
    let mut scores = vec![0.0_f32; n];
    for _ in 1..k {
        let last = &centroids[centroids.len() - dim..];
        scores_f32_batch(sample, dim, n, last, &mut scores);
        let mut total = 0.0_f64;
        for (b, &s) in best.iter_mut().zip(&scores) {
            *b = b.max(s);
            total += f64::from((1.0 - *b).max(0.0));
        }
        // All rows already coincide with a centroid: any row will do.
        let mut pick = rng.below(n);
        if total > 0.0 {
            let mut target = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
            for (row, &b) in best.iter().enumerate() {
                target -= f64::from((1.0 - b).max(0.0));
                if target <= 0.0 {
                    pick = row;
                    break;
                }
            }
        }
        centroids.extend_from_slice(&sample[pick * dim..(pick + 1) * dim]);
    }
    centroids
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unit vectors scattered tightly around `centres` axis-aligned directions.
    fn clustered(centres: usize, per: usize, dim: usize, rng: &mut Rng) -> Vec<f32> {
        let mut out = Vec::new();
        for c in 0..centres {
            for _ in 0..per {
                let mut v: Vec<f32> = (0..dim).map(|_| (rng.below(1000) as f32 / 1000.0 - 0.5) * 0.1).collect();
                v[c] += 1.0;
                out.extend(domain::vector::normalise(v).unwrap_or_default());
            }
        }
        out
    }

    #[test]
    fn assign_picks_the_highest_dot_product() {
        let centroids = [1.0, 0.0, 0.0, 1.0, -1.0, 0.0];
        let vectors = [0.1, 0.9, -0.8, 0.2, 0.9, 0.1];
        let labels: Vec<u32> = assign(&vectors, 2, &centroids).iter().map(|a| a.0).collect();
        assert_eq!(labels, vec![1, 2, 0]);
    }

    #[test]
    fn training_finds_separated_clusters_and_is_deterministic() {
        let (dim, centres) = (16, 6);
        let sample = clustered(centres, 50, dim, &mut Rng::new(3));
        let centroids = train(&sample, dim, centres, 20, 7);
        assert_eq!(centroids, train(&sample, dim, centres, 20, 7));
        // Every true centre has a centroid within a small angle of it.
        for c in 0..centres {
            let best = (0..centres).map(|k| centroids[k * dim + c]).fold(f32::MIN, f32::max);
            assert!(best > 0.95, "centre {c}: best centroid component {best}");
        }
        // And each centroid is a unit vector.
        for k in centroids.chunks_exact(dim) {
            assert!((k.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-4);
        }
    }
}
