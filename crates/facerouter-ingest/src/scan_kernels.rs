//! The gallery scan's inner loops: dot products of one query with a block of contiguous rows,
//! in f32 and in i8. On x86-64 with AVX2 and FMA (checked at run time, so one binary runs
//! everywhere) they use 256-bit intrinsics, four rows at a time so that each query load serves four
//! rows and four accumulator chains run in parallel; elsewhere a portable loop the compiler
//! vectorises for the baseline target. This is the workspace's only module with `unsafe`: the
//! intrinsics that read memory take raw pointers, and a `#[target_feature]` function may only be
//! called once the feature is known to be present.

/// Scores of `query` against the `out.len()` rows of `dim` values at the start of `rows`.
pub fn scores_f32(rows: &[f32], dim: usize, query: &[f32], out: &mut [f32]) {
    assert!(query.len() == dim && rows.len() >= out.len() * dim, "scan block out of bounds");
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: AVX2 and FMA are present (checked just above); the assert above bounds every
        // row read at `rows[r * dim .. (r + 1) * dim]` for `r < out.len()`.
        unsafe { x86::scores_f32(rows, dim, query, out) };
        return;
    }
    for (r, score) in out.iter_mut().enumerate() {
        *score = dot_portable(&rows[r * dim..(r + 1) * dim], query);
    }
}

/// Integer dot products of an i8 `query` against `out.len()` rows of i8 codes. Every code must be
/// in -127..=127 (the AVX2 path multiplies |query| as u8 by sign-adjusted codes, and -128 has no
/// absolute value in i8).
pub fn scores_i8(rows: &[i8], dim: usize, query: &[i8], out: &mut [i32]) {
    assert!(query.len() == dim && rows.len() >= out.len() * dim, "scan block out of bounds");
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: AVX2 is present (checked just above); the assert above bounds every row read.
        unsafe { x86::scores_i8(rows, dim, query, out) };
        return;
    }
    for (r, score) in out.iter_mut().enumerate() {
        *score = dot_i8_portable(&rows[r * dim..(r + 1) * dim], query);
    }
}

/// One f32 dot product (used to rescore a few candidates and for single comparisons).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut out = [0.0];
    scores_f32(a, a.len().min(b.len()), &b[..a.len().min(b.len())], &mut out);
    out[0]
}

/// The SIMD path is taken when the CPU has AVX2 and FMA (std caches the CPUID answer).
#[cfg(target_arch = "x86_64")]
fn avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// Eight independent accumulators: no loop-carried dependency, so the compiler emits SIMD.
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
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

fn dot_i8_portable(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).map(|(&x, &y)| i32::from(x) * i32::from(y)).sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// Sum of the eight lanes.
    #[target_feature(enable = "avx2,fma")]
    fn hsum_ps(v: __m256) -> f32 {
        let quad = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
        _mm_cvtss_f32(_mm_add_ss(pair, _mm_shuffle_ps::<0b01>(pair, pair)))
    }

    #[target_feature(enable = "avx2,fma")]
    fn hsum_epi32(v: __m256i) -> i32 {
        let quad = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
        let pair = _mm_add_epi32(quad, _mm_unpackhi_epi64(quad, quad));
        _mm_cvtsi128_si32(_mm_add_epi32(pair, _mm_shuffle_epi32::<0b01>(pair)))
    }

    /// # Safety
    /// AVX2 and FMA must be present; `query.len() == dim` and `rows.len() >= out.len() * dim`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn scores_f32(rows: &[f32], dim: usize, query: &[f32], out: &mut [f32]) {
        let body = dim - dim % 8;
        let (q, base) = (query.as_ptr(), rows.as_ptr());
        let tail = |r: usize| -> f32 {
            rows[r * dim + body..(r + 1) * dim].iter().zip(&query[body..]).map(|(x, y)| x * y).sum()
        };
        let n = out.len();
        let mut r = 0;
        while r + 4 <= n {
            let (mut a0, mut a1, mut a2, mut a3) =
                (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps());
            let mut k = 0;
            while k < body {
                // SAFETY: k + 8 <= body <= dim, so the query read is in bounds; rows r..r+4 are
                // below out.len(), so `(r + 3) * dim + k + 8 <= (r + 4) * dim <= rows.len()`.
                unsafe {
                    let qv = _mm256_loadu_ps(q.add(k));
                    let row = base.add(r * dim + k);
                    // The next group of four rows: a prefetch is a hint and never faults, so the
                    // address may run past the end.
                    let ahead = row.wrapping_add(4 * dim).cast::<i8>();
                    _mm_prefetch::<_MM_HINT_T0>(ahead);
                    _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(dim * 4));
                    _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(dim * 8));
                    _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(dim * 12));
                    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(row), qv, a0);
                    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(row.add(dim)), qv, a1);
                    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(row.add(2 * dim)), qv, a2);
                    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(row.add(3 * dim)), qv, a3);
                }
                k += 8;
            }
            out[r] = hsum_ps(a0) + tail(r);
            out[r + 1] = hsum_ps(a1) + tail(r + 1);
            out[r + 2] = hsum_ps(a2) + tail(r + 2);
            out[r + 3] = hsum_ps(a3) + tail(r + 3);
            r += 4;
        }
        while r < n {
            let mut acc = _mm256_setzero_ps();
            let mut k = 0;
            while k < body {
                // SAFETY: as above, for the single row r < out.len().
                unsafe {
                    acc = _mm256_fmadd_ps(_mm256_loadu_ps(base.add(r * dim + k)), _mm256_loadu_ps(q.add(k)), acc)
                };
                k += 8;
            }
            out[r] = hsum_ps(acc) + tail(r);
            r += 1;
        }
    }

    /// x · y for 32 i8 lanes, accumulated into eight i32 lanes: |x| (as u8) times y with x's sign,
    /// pairwise into i16 (at most 2 × 127 × 127, no saturation), then into i32.
    #[target_feature(enable = "avx2,fma")]
    fn madd_i8(abs_x: __m256i, x: __m256i, y: __m256i, acc: __m256i) -> __m256i {
        let pairs = _mm256_maddubs_epi16(abs_x, _mm256_sign_epi8(y, x));
        _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
    }

    /// # Safety
    /// AVX2 must be present; `query.len() == dim` and `rows.len() >= out.len() * dim`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn scores_i8(rows: &[i8], dim: usize, query: &[i8], out: &mut [i32]) {
        let body = dim - dim % 32;
        let (q, base) = (query.as_ptr(), rows.as_ptr());
        let tail = |r: usize| -> i32 { super::dot_i8_portable(&rows[r * dim + body..(r + 1) * dim], &query[body..]) };
        let n = out.len();
        let mut r = 0;
        while r + 4 <= n {
            let (mut a0, mut a1, mut a2, mut a3) =
                (_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256());
            let mut k = 0;
            while k < body {
                // SAFETY: k + 32 <= body <= dim and rows r..r+4 are below out.len(), as in
                // `scores_f32`; unaligned loads have no alignment requirement.
                unsafe {
                    let qv = _mm256_loadu_si256(q.add(k).cast());
                    let abs_q = _mm256_sign_epi8(qv, qv);
                    let row = base.add(r * dim + k);
                    // Prefetch the next group of rows, as in `scores_f32`.
                    let ahead = row.wrapping_add(4 * dim);
                    _mm_prefetch::<_MM_HINT_T0>(ahead);
                    _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(dim));
                    _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(2 * dim));
                    _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(3 * dim));
                    a0 = madd_i8(abs_q, qv, _mm256_loadu_si256(row.cast()), a0);
                    a1 = madd_i8(abs_q, qv, _mm256_loadu_si256(row.add(dim).cast()), a1);
                    a2 = madd_i8(abs_q, qv, _mm256_loadu_si256(row.add(2 * dim).cast()), a2);
                    a3 = madd_i8(abs_q, qv, _mm256_loadu_si256(row.add(3 * dim).cast()), a3);
                }
                k += 32;
            }
            out[r] = hsum_epi32(a0) + tail(r);
            out[r + 1] = hsum_epi32(a1) + tail(r + 1);
            out[r + 2] = hsum_epi32(a2) + tail(r + 2);
            out[r + 3] = hsum_epi32(a3) + tail(r + 3);
            r += 4;
        }
        while r < n {
            let mut acc = _mm256_setzero_si256();
            let mut k = 0;
            while k < body {
                // SAFETY: as above, for the single row r < out.len().
                unsafe {
                    let qv = _mm256_loadu_si256(q.add(k).cast());
                    let row = _mm256_loadu_si256(base.add(r * dim + k).cast());
                    acc = madd_i8(_mm256_sign_epi8(qv, qv), qv, row, acc);
                }
                k += 32;
            }
            out[r] = hsum_epi32(acc) + tail(r);
            r += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIMS: [usize; 14] = [1, 3, 7, 8, 9, 15, 16, 31, 32, 33, 64, 127, 128, 131];

    fn wave(n: usize, seed: f32) -> Vec<f32> {
        (0..n).map(|i| ((i as f32 + seed) * 0.7).sin()).collect()
    }

    #[test]
    fn f32_scores_match_a_scalar_reference() {
        for dim in DIMS {
            for rows in [1, 3, 4, 5, 9] {
                let data = wave(rows * dim, 0.3);
                let query = wave(dim, 1.9);
                let mut out = vec![0.0; rows];
                scores_f32(&data, dim, &query, &mut out);
                for (r, got) in out.iter().enumerate() {
                    let want: f64 =
                        data[r * dim..(r + 1) * dim].iter().zip(&query).map(|(a, b)| f64::from(a * b)).sum();
                    assert!((f64::from(*got) - want).abs() < 1e-4 * dim as f64, "dim {dim} row {r}: {got} vs {want}");
                }
                assert!((dot(&data[..dim], &query) - out[0]).abs() < 1e-5);
                // The fallback path, whichever path this CPU takes above.
                assert!((dot_portable(&data[..dim], &query) - out[0]).abs() < 1e-4 * dim as f32);
            }
        }
    }

    #[test]
    fn i8_scores_match_a_scalar_reference_at_the_extremes() {
        for dim in DIMS {
            for rows in [1, 4, 6] {
                // ±127 everywhere stresses the i16 pair sums; the wave covers mixed signs and zeros.
                let data: Vec<i8> = (0..rows * dim)
                    .map(|i| if i % 5 == 0 { 127 } else { (wave(1, i as f32)[0] * 127.0) as i8 })
                    .collect();
                let query: Vec<i8> = (0..dim).map(|i| if i % 3 == 0 { -127 } else { (i % 7) as i8 - 3 }).collect();
                let mut out = vec![0; rows];
                scores_i8(&data, dim, &query, &mut out);
                for (r, got) in out.iter().enumerate() {
                    let want: i32 = data[r * dim..(r + 1) * dim]
                        .iter()
                        .zip(&query)
                        .map(|(&a, &b)| i32::from(a) * i32::from(b))
                        .sum();
                    assert_eq!(*got, want, "dim {dim} row {r}");
                    assert_eq!(dot_i8_portable(&data[r * dim..(r + 1) * dim], &query), want);
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn a_short_block_is_refused() {
        scores_f32(&[1.0; 7], 4, &[1.0; 4], &mut [0.0; 2]);
    }
}
