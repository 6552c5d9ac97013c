//! The gallery scan's inner loops: dot products of a batch of queries with a block of contiguous
//! rows, in f32 and in i8. On x86-64 with AVX2 and FMA (checked at run time, so one binary runs
//! everywhere) they use 256-bit intrinsics on tiles of four rows × a few queries: each row load
//! serves every query of the tile and each query load four rows, the tile's accumulators stay in
//! registers, and the rows stay in L1 while the whole batch passes over them, so a batch of B
//! queries reads the gallery from memory once instead of B times. Elsewhere a portable loop the
//! compiler vectorises for the baseline target. With AVX-512 F, BW and VNNI (also checked at run
//! time) the i8 scan runs the 512-bit kernel of `x512` instead: `vpdpbusd`, one accumulator per
//! row in groups of 16 rows (see there); f32 stays on the 256-bit tiles (see `scores_f32_on`).
//! Every path gives the same integers; in f32 each path is consistent with itself, and a process
//! always takes the same one. A single query is a batch of one: the same code, so a score never
//! depends on what else shared the pass. This is the workspace's only module with `unsafe`: the
//! intrinsics that read memory take raw pointers, and a `#[target_feature]` function may only be
//! called once the feature is known to be present.

/// Scores of `query` against the `out.len()` rows of `dim` values at the start of `rows`.
pub fn scores_f32(rows: &[f32], dim: usize, query: &[f32], out: &mut [f32]) {
    assert!(query.len() == dim, "scan block out of bounds");
    scores_f32_batch(rows, dim, out.len(), query, out);
}

/// Scores of every query in `queries` (`dim` values each, back to back) against the first
/// `n_rows` rows of `rows`: `out[q * n_rows + r]` is query `q` against row `r`.
pub fn scores_f32_batch(rows: &[f32], dim: usize, n_rows: usize, queries: &[f32], out: &mut [f32]) {
    check_shape(rows.len(), dim, n_rows, queries.len(), out.len());
    scores_f32_on(Path::best(), rows, dim, n_rows, queries, out);
}

/// [`scores_f32_batch`] on a given path (the tests compare them); shapes already checked. The
/// AVX-512 path runs the 256-bit f32 kernel: a 512-bit one with one accumulator per row (as
/// `x512` does for i8) was no faster for one query (the scan is memory-bound at ~20 GB/s) and
/// 15–20 % slower for batches of 32, which need a register tile sharing each row load between
/// queries, as `x86::tile_f32` does (2026-11-27, docs/benchmarks.md P4).
fn scores_f32_on(path: Path, rows: &[f32], dim: usize, n_rows: usize, queries: &[f32], out: &mut [f32]) {
    match path {
        #[cfg(target_arch = "x86_64")]
        Path::Avx512 | Path::Avx2 if avx2_fma() => {
            // SAFETY: AVX2 and FMA are present (checked just above); `check_shape` bounds every row
            // read at `rows[r * dim .. (r + 1) * dim]` for `r < n_rows`, every query read and `out`.
            unsafe { x86::scores_f32_batch(rows, dim, n_rows, queries, out) };
        }
        _ => {
            for (q, query) in queries.chunks_exact(dim).enumerate() {
                for r in 0..n_rows {
                    out[q * n_rows + r] = dot_portable(&rows[r * dim..(r + 1) * dim], query);
                }
            }
        }
    }
}

/// Integer dot products of an i8 `query` against `out.len()` rows of i8 codes. Every code must be
/// in -127..=127 (the AVX2 path multiplies |query| as u8 by sign-adjusted codes, and -128 has no
/// absolute value in i8).
pub fn scores_i8(rows: &[i8], dim: usize, query: &[i8], out: &mut [i32]) {
    assert!(query.len() == dim, "scan block out of bounds");
    scores_i8_batch(rows, dim, out.len(), query, out);
}

/// [`scores_f32_batch`] for i8 codes (each in -127..=127, see [`scores_i8`]).
pub fn scores_i8_batch(rows: &[i8], dim: usize, n_rows: usize, queries: &[i8], out: &mut [i32]) {
    check_shape(rows.len(), dim, n_rows, queries.len(), out.len());
    scores_i8_on(Path::best(), rows, dim, n_rows, queries, out);
}

/// [`scores_i8_batch`] on a given path; every path gives the same integers.
fn scores_i8_on(path: Path, rows: &[i8], dim: usize, n_rows: usize, queries: &[i8], out: &mut [i32]) {
    match path {
        #[cfg(target_arch = "x86_64")]
        Path::Avx512 if avx512() => {
            // SAFETY: AVX-512 F/BW/VNNI are present (checked just above); `check_shape` bounded
            // every read and write.
            unsafe { x512::scores_i8_batch(rows, dim, n_rows, queries, out) };
        }
        #[cfg(target_arch = "x86_64")]
        Path::Avx2 if avx2_fma() => {
            // SAFETY: AVX2 is present (checked just above); `check_shape` bounds every read and write.
            unsafe { x86::scores_i8_batch(rows, dim, n_rows, queries, out) };
        }
        _ => {
            for (q, query) in queries.chunks_exact(dim).enumerate() {
                for r in 0..n_rows {
                    out[q * n_rows + r] = dot_i8_portable(&rows[r * dim..(r + 1) * dim], query);
                }
            }
        }
    }
}

/// The largest of `scores` (NaN ignored; -inf when empty): lets the scan skip, with one
/// vectorised pass, a block in which no score can beat the running best or the threshold.
pub fn max_f32(scores: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: AVX2 is present (checked just above); the kernel reads only within `scores`.
        return unsafe { x86::max_scaled(scores.len(), |i| scores[i], |p| x86::load8(scores, p)) };
    }
    scores.iter().fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m })
}

/// The largest `raw[i] as f32 * scales[i]` (an 8-bit score before the query's own scale).
pub fn max_scaled_i32(raw: &[i32], scales: &[f32]) -> f32 {
    let n = raw.len().min(scales.len());
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: AVX2 is present (checked just above); the kernel reads only below `n`.
        return unsafe { x86::max_scaled(n, |i| raw[i] as f32 * scales[i], |p| x86::load8_scaled(raw, scales, p)) };
    }
    raw[..n].iter().zip(&scales[..n]).fold(f32::NEG_INFINITY, |m, (&r, &s)| {
        let x = r as f32 * s;
        if x > m { x } else { m }
    })
}

/// `v` as codes in -127..=127 (one step = max|x| / 127, the finest that fits) written to `out`,
/// and the factor that turns a code back into f32.
pub fn quantise_into(v: &[f32], out: &mut [i8]) -> f32 {
    let max = v.iter().fold(0.0_f32, |m, x| m.max(x.abs()));
    if max <= 0.0 || !max.is_finite() {
        out.fill(0);
        return 0.0;
    }
    let scale = 127.0 / max;
    for (code, x) in out.iter_mut().zip(v) {
        *code = (x * scale).round().clamp(-127.0, 127.0) as i8;
    }
    max / 127.0
}

/// The bounds every kernel relies on; a violation is a bug in the caller, not bad input.
fn check_shape(rows: usize, dim: usize, n_rows: usize, queries: usize, out: usize) {
    let ok = dim > 0 && queries.is_multiple_of(dim) && rows >= n_rows * dim && out == queries / dim * n_rows;
    assert!(ok, "scan block out of bounds");
}

/// One f32 dot product (used to rescore a few candidates and for single comparisons).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    if n == 0 {
        return 0.0;
    }
    let mut out = [0.0];
    scores_f32(a, n, &b[..n], &mut out);
    out[0]
}

/// `src` in half precision (IEEE 754 binary16, as raw bits), rounded to nearest, ties to even,
/// into `out` (as long as `src`). The int8 and ivf gallery indexes keep each face's rescoring copy
/// so: 2 bytes a dimension instead of 4, and for a unit vector a score off by at most
/// [`F16_SCORE_ERROR`]. Subnormals are kept; beyond ±65504 a value becomes ±inf, NaN stays NaN
/// (never met: vectors are finite and normalised). Every path gives the same bits for every
/// non-NaN value.
///
/// Written here rather than taken from the `half` crate: the conversion is a few lines each way,
/// the x86 path is the same run-time-dispatched intrinsics pattern as the kernels above (F16C,
/// 8 lanes an instruction), and the workspace's one `unsafe` module stays the only place that
/// vouches for SIMD code, without a new dependency.
pub fn f16_from_f32(src: &[f32], out: &mut [u16]) {
    assert!(src.len() == out.len(), "f16 conversion out of bounds");
    #[cfg(target_arch = "x86_64")]
    if f16c() {
        // SAFETY: AVX and F16C are present (checked just above); the lengths are equal.
        unsafe { x86::f16_from_f32(src, out) };
        return;
    }
    for (h, &x) in out.iter_mut().zip(src) {
        *h = f16_bits(x);
    }
}

/// `src` (binary16 bits, see [`f16_from_f32`]) widened to f32 into `out`, exactly.
pub fn f32_from_f16(src: &[u16], out: &mut [f32]) {
    assert!(src.len() == out.len(), "f16 conversion out of bounds");
    #[cfg(target_arch = "x86_64")]
    if f16c() {
        // SAFETY: AVX and F16C are present (checked just above); the lengths are equal.
        unsafe { x86::f32_from_f16(src, out) };
        return;
    }
    for (x, &h) in out.iter_mut().zip(src) {
        *x = f32_of_f16(h);
    }
}

/// The most a dot product of two unit vectors can change when one of them is rounded to half
/// precision (any dimension up to 4096): each normal component moves by at most 2^-11 of itself,
/// so Σ|q_i·δ_i| <= 2^-11·Σ|q_i·x_i| <= 2^-11 (Cauchy-Schwarz, |q| = |x| = 1); a subnormal one
/// (|x_i| < 2^-14) by at most 2^-25, and Σ|q_i| <= sqrt(4096) adds 64·2^-25. Plus 2^-16 for the
/// f32 arithmetic of the two dot products being compared (each off by ~dim·2^-24·Σ|q_i·x_i| at
/// worst; a few 1e-6 at 128 dimensions). Typical errors are ~20× smaller (the δ_i are
/// independent, so they mostly cancel): the max over 2M rescored scores at 1M × 128 is in
/// docs/benchmarks.md (P4).
pub const F16_SCORE_ERROR: f32 = 1.0 / 2048.0 + 64.0 / 33_554_432.0 + 1.0 / 65_536.0;

/// Portable binary16 rounding of one f32 (round to nearest even, as F16C's `vcvtps2ph` with
/// imm 0): F. Giesen's `float_to_half_fast3_rtne`.
fn f16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let abs = bits & 0x7fff_ffff;
    let half = if abs >= 0x4780_0000 {
        // |x| >= 65536 (or inf / NaN): inf, NaN stays NaN (quiet).
        if abs > 0x7f80_0000 { 0x7e00 } else { 0x7c00 }
    } else if abs < 0x3880_0000 {
        // |x| < 2^-14: a subnormal half (or zero). Adding 0.5 puts the value's 2^-24 steps in the
        // low mantissa bits of the sum, rounded to nearest even by the FPU itself.
        let sum = f32::from_bits(abs) + 0.5;
        (sum.to_bits() - 0x3f00_0000) as u16
    } else {
        // Normal: rebias the exponent (127 -> 15) and round the 13 dropped bits to nearest even; a
        // carry out of the mantissa bumps the exponent (65520 and up become inf, as they should).
        let odd = (abs >> 13) & 1;
        ((abs - (112 << 23) + 0xfff + odd) >> 13) as u16
    };
    sign | half
}

/// Portable widening of one binary16 value (exact).
fn f32_of_f16(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exp = u32::from(h >> 10) & 0x1f;
    let man = u32::from(h & 0x3ff);
    let bits = match exp {
        // Zero or subnormal: man · 2^-24, exact in f32.
        0 => (man as f32 / 16_777_216.0).to_bits(),
        // Inf or NaN (made quiet, as `vcvtph2ps` does).
        0x1f => 0x7f80_0000 | if man == 0 { 0 } else { 0x0040_0000 | (man << 13) },
        _ => ((exp + 112) << 23) | (man << 13),
    };
    f32::from_bits(sign | bits)
}

/// The F16C conversions (8 lanes an instruction; F16C implies AVX, both are checked).
#[cfg(target_arch = "x86_64")]
fn f16c() -> bool {
    std::arch::is_x86_feature_detected!("avx") && std::arch::is_x86_feature_detected!("f16c")
}

/// The kernels one CPU can run, best first: a process uses one path for all its scores, so an f32
/// score does not depend on which call computed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    /// 512-bit kernels with `vpdpbusd` for i8 (AVX-512 F, BW and VNNI).
    #[cfg(target_arch = "x86_64")]
    Avx512,
    /// 256-bit kernels (AVX2 and FMA).
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// Loops the compiler vectorises for the baseline target.
    Portable,
}

impl Path {
    fn best() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if avx512() {
                return Self::Avx512;
            }
            if avx2_fma() {
                return Self::Avx2;
            }
        }
        Self::Portable
    }
}

/// The 256-bit path is taken when the CPU has AVX2 and FMA (std caches the CPUID answer).
#[cfg(target_arch = "x86_64")]
fn avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// The 512-bit path: F for the f32 kernel, BW for byte masks, VNNI for `vpdpbusd`.
#[cfg(target_arch = "x86_64")]
fn avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vnni")
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

    /// Queries per f32 tile: 4 rows × 3 queries = 12 accumulators + 4 row registers fill the 16
    /// ymm registers (each query is an operand straight from L1).
    const F32_QUERIES: usize = 3;
    /// Queries per i8 tile: the i8 product needs two more registers per query (|q| and q).
    const I8_QUERIES: usize = 2;

    /// Sum of the eight lanes (the leftover rows of a block), added in the order of a tile's
    /// [`sum4_ps`], so a row's score is bit-identical wherever in a block it falls (a rescored
    /// int8 candidate reports the same confidence as the flat scan).
    #[target_feature(enable = "avx2,fma")]
    fn hsum_ps(v: __m256) -> f32 {
        sum4_ps([v, _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()])[0]
    }

    /// The lane sums of four accumulators at once (three horizontal adds instead of four hsums).
    #[target_feature(enable = "avx2,fma")]
    fn sum4_ps(a: [__m256; 4]) -> [f32; 4] {
        let h = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
        let sums = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps::<1>(h));
        let mut out = [0.0; 4];
        // SAFETY: `out` holds four f32, what an unaligned 128-bit store writes.
        unsafe { _mm_storeu_ps(out.as_mut_ptr(), sums) };
        out
    }

    #[target_feature(enable = "avx2,fma")]
    fn sum4_epi32(a: [__m256i; 4]) -> [i32; 4] {
        let h = _mm256_hadd_epi32(_mm256_hadd_epi32(a[0], a[1]), _mm256_hadd_epi32(a[2], a[3]));
        let sums = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256::<1>(h));
        let mut out = [0; 4];
        // SAFETY: `out` holds four i32, what an unaligned 128-bit store writes.
        unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), sums) };
        out
    }

    #[target_feature(enable = "avx2,fma")]
    fn hsum_epi32(v: __m256i) -> i32 {
        sum4_epi32([v, _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()])[0]
    }

    /// Asks for the next group of four rows (`bytes` long, starting at `next`): a prefetch is a
    /// hint and never faults, so the address may run past the end of the gallery.
    #[target_feature(enable = "avx2,fma")]
    fn prefetch(next: *const i8, bytes: usize) {
        let mut off = 0;
        while off < bytes {
            _mm_prefetch::<_MM_HINT_T0>(next.wrapping_add(off));
            off += 64;
        }
    }

    /// # Safety
    /// AVX2 and FMA must be present; `dim > 0`, `queries.len() % dim == 0`,
    /// `rows.len() >= n_rows * dim` and `out.len() == queries.len() / dim * n_rows`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn scores_f32_batch(rows: &[f32], dim: usize, n_rows: usize, queries: &[f32], out: &mut [f32]) {
        let n_queries = queries.len() / dim;
        let body = dim - dim % 8;
        let tail = |r: usize, q: usize| -> f32 {
            let query = &queries[q * dim + body..(q + 1) * dim];
            rows[r * dim + body..(r + 1) * dim].iter().zip(query).map(|(x, y)| x * y).sum()
        };
        let mut r = 0;
        while r + 4 <= n_rows {
            prefetch(rows.as_ptr().wrapping_add((r + 4) * dim).cast(), 16 * dim);
            let mut q = 0;
            while q < n_queries {
                let take = (n_queries - q).min(F32_QUERIES);
                // SAFETY: rows r..r+4 are below n_rows and queries q..q+take below n_queries,
                // as the tile requires; the caller's contract bounds both.
                let sums = unsafe {
                    match take {
                        3 => tile_f32::<3>(rows, dim, body, r, queries, q),
                        2 => pad(tile_f32::<2>(rows, dim, body, r, queries, q)),
                        _ => pad(tile_f32::<1>(rows, dim, body, r, queries, q)),
                    }
                };
                for (j, row_sums) in sums.iter().take(take).enumerate() {
                    for (i, sum) in row_sums.iter().enumerate() {
                        out[(q + j) * n_rows + r + i] = sum + tail(r + i, q + j);
                    }
                }
                q += take;
            }
            r += 4;
        }
        for r in r..n_rows {
            for q in 0..n_queries {
                let mut acc = _mm256_setzero_ps();
                let mut k = 0;
                while k < body {
                    // SAFETY: k + 8 <= body <= dim, within row r < n_rows and query q.
                    unsafe {
                        let row = _mm256_loadu_ps(rows.as_ptr().add(r * dim + k));
                        acc = _mm256_fmadd_ps(row, _mm256_loadu_ps(queries.as_ptr().add(q * dim + k)), acc);
                    }
                    k += 8;
                }
                out[q * n_rows + r] = hsum_ps(acc) + tail(r, q);
            }
        }
    }

    /// A tile's sums widened to the largest tile, so every tile size has one result type.
    fn pad<T: Copy + Default, const Q: usize, const N: usize>(sums: [[T; 4]; Q]) -> [[T; 4]; N] {
        let mut out = [[T::default(); 4]; N];
        out[..Q].copy_from_slice(&sums);
        out
    }

    /// Rows r..r+4 against queries q..q+Q over the first `body` (a multiple of 8) dimensions.
    ///
    /// # Safety
    /// AVX2 and FMA must be present; `(r + 4) * dim <= rows.len()`,
    /// `(q + Q) * dim <= queries.len()`, `body <= dim`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn tile_f32<const Q: usize>(
        rows: &[f32],
        dim: usize,
        body: usize,
        r: usize,
        queries: &[f32],
        q: usize,
    ) -> [[f32; 4]; Q] {
        let base = rows.as_ptr().wrapping_add(r * dim);
        let qbase = queries.as_ptr().wrapping_add(q * dim);
        let mut acc = [[_mm256_setzero_ps(); 4]; Q];
        let mut k = 0;
        while k < body {
            // SAFETY: k + 8 <= body <= dim: every read is inside rows r..r+4 and queries
            // q..q+Q, which the caller bounds.
            unsafe {
                let row = [
                    _mm256_loadu_ps(base.add(k)),
                    _mm256_loadu_ps(base.add(dim + k)),
                    _mm256_loadu_ps(base.add(2 * dim + k)),
                    _mm256_loadu_ps(base.add(3 * dim + k)),
                ];
                for (j, acc) in acc.iter_mut().enumerate() {
                    let qv = _mm256_loadu_ps(qbase.add(j * dim + k));
                    for i in 0..4 {
                        acc[i] = _mm256_fmadd_ps(row[i], qv, acc[i]);
                    }
                }
            }
            k += 8;
        }
        let mut sums = [[0.0; 4]; Q];
        for (sum, acc) in sums.iter_mut().zip(acc) {
            *sum = sum4_ps(acc);
        }
        sums
    }

    /// Eight values from `p` on (the caller keeps `p + 8 <= values.len()`).
    #[target_feature(enable = "avx2,fma")]
    pub fn load8(values: &[f32], p: usize) -> __m256 {
        let chunk = &values[p..p + 8];
        // SAFETY: `chunk` holds eight f32, what an unaligned 256-bit load reads.
        unsafe { _mm256_loadu_ps(chunk.as_ptr()) }
    }

    /// Eight `raw as f32 * scale` from `p` on.
    #[target_feature(enable = "avx2,fma")]
    pub fn load8_scaled(raw: &[i32], scales: &[f32], p: usize) -> __m256 {
        let (raw, scales) = (&raw[p..p + 8], &scales[p..p + 8]);
        // SAFETY: both chunks hold eight 4-byte values, what the unaligned 256-bit loads read.
        unsafe {
            let ints = _mm256_cvtepi32_ps(_mm256_loadu_si256(raw.as_ptr().cast()));
            _mm256_mul_ps(ints, _mm256_loadu_ps(scales.as_ptr()))
        }
    }

    /// The maximum of `n` values, eight at a time with `eight(p)`, the rest with `one(i)`.
    ///
    /// # Safety
    /// AVX2 must be present.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn max_scaled(n: usize, one: impl Fn(usize) -> f32, eight: impl Fn(usize) -> __m256) -> f32 {
        let mut acc = _mm256_set1_ps(f32::NEG_INFINITY);
        let mut p = 0;
        while p + 8 <= n {
            // max_ps returns its second operand when either is NaN: a NaN score is skipped.
            acc = _mm256_max_ps(eight(p), acc);
            p += 8;
        }
        let quad = _mm_max_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps::<1>(acc));
        let mut lanes = [0.0_f32; 4];
        // SAFETY: `lanes` holds four f32, what an unaligned 128-bit store writes.
        unsafe { _mm_storeu_ps(lanes.as_mut_ptr(), quad) };
        let mut best = lanes.iter().fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m });
        for i in p..n {
            let x = one(i);
            if x > best {
                best = x;
            }
        }
        best
    }

    /// # Safety
    /// AVX and F16C must be present; `src.len() == out.len()`.
    #[target_feature(enable = "avx,f16c")]
    pub unsafe fn f16_from_f32(src: &[f32], out: &mut [u16]) {
        let n = src.len().min(out.len());
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 <= n: eight f32 read from `src`, eight u16 written to `out`.
            unsafe {
                let halves = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(_mm256_loadu_ps(src.as_ptr().add(i)));
                _mm_storeu_si128(out.as_mut_ptr().add(i).cast(), halves);
            }
            i += 8;
        }
        for (h, &x) in out[i..n].iter_mut().zip(&src[i..n]) {
            *h = super::f16_bits(x);
        }
    }

    /// # Safety
    /// AVX and F16C must be present; `src.len() == out.len()`.
    #[target_feature(enable = "avx,f16c")]
    pub unsafe fn f32_from_f16(src: &[u16], out: &mut [f32]) {
        let n = src.len().min(out.len());
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 <= n: eight u16 read from `src`, eight f32 written to `out`.
            unsafe {
                let wide = _mm256_cvtph_ps(_mm_loadu_si128(src.as_ptr().add(i).cast()));
                _mm256_storeu_ps(out.as_mut_ptr().add(i), wide);
            }
            i += 8;
        }
        for (x, &h) in out[i..n].iter_mut().zip(&src[i..n]) {
            *x = super::f32_of_f16(h);
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
    /// As [`scores_f32_batch`], with AVX2 present.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn scores_i8_batch(rows: &[i8], dim: usize, n_rows: usize, queries: &[i8], out: &mut [i32]) {
        let n_queries = queries.len() / dim;
        let body = dim - dim % 32;
        let tail = |r: usize, q: usize| -> i32 {
            super::dot_i8_portable(&rows[r * dim + body..(r + 1) * dim], &queries[q * dim + body..(q + 1) * dim])
        };
        let mut r = 0;
        while r + 4 <= n_rows {
            prefetch(rows.as_ptr().wrapping_add((r + 4) * dim), 4 * dim);
            let mut q = 0;
            while q < n_queries {
                let take = (n_queries - q).min(I8_QUERIES);
                // SAFETY: as in `scores_f32_batch`.
                let sums = unsafe {
                    match take {
                        2 => tile_i8::<2>(rows, dim, body, r, queries, q),
                        _ => pad(tile_i8::<1>(rows, dim, body, r, queries, q)),
                    }
                };
                for (j, row_sums) in sums.iter().take(take).enumerate() {
                    for (i, sum) in row_sums.iter().enumerate() {
                        out[(q + j) * n_rows + r + i] = sum + tail(r + i, q + j);
                    }
                }
                q += take;
            }
            r += 4;
        }
        for r in r..n_rows {
            for q in 0..n_queries {
                let mut acc = _mm256_setzero_si256();
                let mut k = 0;
                while k < body {
                    // SAFETY: k + 32 <= body <= dim, within row r < n_rows and query q.
                    unsafe {
                        let qv = _mm256_loadu_si256(queries.as_ptr().add(q * dim + k).cast());
                        let row = _mm256_loadu_si256(rows.as_ptr().add(r * dim + k).cast());
                        acc = madd_i8(_mm256_sign_epi8(qv, qv), qv, row, acc);
                    }
                    k += 32;
                }
                out[q * n_rows + r] = hsum_epi32(acc) + tail(r, q);
            }
        }
    }

    /// Rows r..r+4 against queries q..q+Q over the first `body` (a multiple of 32) dimensions.
    ///
    /// # Safety
    /// As [`tile_f32`].
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn tile_i8<const Q: usize>(
        rows: &[i8],
        dim: usize,
        body: usize,
        r: usize,
        queries: &[i8],
        q: usize,
    ) -> [[i32; 4]; Q] {
        let base = rows.as_ptr().wrapping_add(r * dim);
        let qbase = queries.as_ptr().wrapping_add(q * dim);
        let mut acc = [[_mm256_setzero_si256(); 4]; Q];
        let mut k = 0;
        while k < body {
            // SAFETY: k + 32 <= body <= dim, inside rows r..r+4 and queries q..q+Q (caller).
            unsafe {
                let row = [
                    _mm256_loadu_si256(base.add(k).cast()),
                    _mm256_loadu_si256(base.add(dim + k).cast()),
                    _mm256_loadu_si256(base.add(2 * dim + k).cast()),
                    _mm256_loadu_si256(base.add(3 * dim + k).cast()),
                ];
                for (j, acc) in acc.iter_mut().enumerate() {
                    let qv = _mm256_loadu_si256(qbase.add(j * dim + k).cast());
                    let abs_q = _mm256_sign_epi8(qv, qv);
                    for i in 0..4 {
                        acc[i] = madd_i8(abs_q, qv, row[i], acc[i]);
                    }
                }
            }
            k += 32;
        }
        let mut sums = [[0; 4]; Q];
        for (sum, acc) in sums.iter_mut().zip(acc) {
            *sum = sum4_epi32(acc);
        }
        sums
    }
}

/// The AVX-512 i8 kernel (F, BW and VNNI, checked at run time): a group of 16 rows is scored against
/// one query at a time with 16 accumulators, one per row, then the 16 accumulators are reduced
/// together by a transposing tree (about 3 instructions per row instead of ~8 for a per-row
/// horizontal sum) into one vector of 16 scores, stored at once. A query's pass over the group
/// reads it from L1 after the first, so a batch still reads the gallery from memory once. No
/// software prefetch: with 64-byte loads the hardware prefetchers keep a single-query scan at the
/// speed of a plain read of the same bytes, and prefetching 1–16 KiB ahead made the 1M × 128 i8
/// scan 15–100 % slower (2026-11-27, docs/benchmarks.md P4).
///
/// i8: `vpdpbusd` multiplies u8 by i8 and adds groups of four products into i32 lanes, exactly
/// (no i16 step, no saturation). The row is the u8 operand after `x ^ 0x80` (= x + 128), the
/// query the i8 one, so a lane gathers Σ (x + 128)·q, and 128·Σq (one constant per query) is
/// subtracted at the end: integer arithmetic throughout, so the result equals the portable and
/// AVX2 ones bit for bit (and it would be exact for -128 too).
#[cfg(target_arch = "x86_64")]
mod x512 {
    use std::arch::x86_64::*;

    /// Rows per group: one zmm of 16 i32 scores.
    const GROUP: usize = 16;
    /// Queries scored per pass over the rows by the i8 kernel (their bias terms sit on the stack).
    const QUERY_CHUNK: usize = 32;

    /// Mask of the first `n` (< 64) byte lanes.
    fn tail_mask8(n: usize) -> u64 {
        (1_u64 << n) - 1
    }

    /// 16 accumulators of 16 i32 lanes to one vector of their 16 sums (lane r = Σ acc[r]).
    #[target_feature(enable = "avx512f")]
    fn reduce16_epi32(acc: [__m512i; 16]) -> __m512i {
        // Adjacent pairs: within each 128-bit lane, [a0+a2, b0+b2, a1+a3, b1+b3].
        let mut half = [_mm512_setzero_si512(); 8];
        for (i, h) in half.iter_mut().enumerate() {
            let (a, b) = (acc[2 * i], acc[2 * i + 1]);
            *h = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
        }
        // Then each 128-bit lane holds the partial sums of four rows.
        let mut quarter = [_mm512_setzero_si512(); 4];
        for (i, q) in quarter.iter_mut().enumerate() {
            let (a, b) = (half[2 * i], half[2 * i + 1]);
            *q = _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));
        }
        // Fold the four 128-bit lanes: 0x88 takes lanes (0, 2) of each operand, 0xDD (1, 3).
        let fold = |a: __m512i, b: __m512i| {
            _mm512_add_epi32(_mm512_shuffle_i32x4::<0x88>(a, b), _mm512_shuffle_i32x4::<0xDD>(a, b))
        };
        fold(fold(quarter[0], quarter[1]), fold(quarter[2], quarter[3]))
    }

    /// Σ (row + 128)·query over `dim` bytes from `row` on: the accumulator of one row (its lanes
    /// still to be added).
    ///
    /// # Safety
    /// AVX-512 F/BW/VNNI present; `dim` bytes readable from `row` and from `query`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    unsafe fn row_i8(row: *const i8, query: *const i8, dim: usize) -> __m512i {
        let bias = _mm512_set1_epi8(-128);
        let mut acc = _mm512_setzero_si512();
        let mut k = 0;
        // SAFETY (whole body): k + 64 <= dim for the full chunks; the last chunk's masked loads
        // read only the lanes below `dim - k` (masked-off lanes are not accessed, never fault).
        while k + 64 <= dim {
            unsafe {
                let x = _mm512_xor_si512(_mm512_loadu_si512(row.add(k).cast()), bias);
                acc = _mm512_dpbusd_epi32(acc, x, _mm512_loadu_si512(query.add(k).cast()));
            }
            k += 64;
        }
        if k < dim {
            let m = tail_mask8(dim - k);
            unsafe {
                // The query's masked-off lanes are 0, so the row's padding adds nothing.
                let x = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, row.add(k)), bias);
                acc = _mm512_dpbusd_epi32(acc, x, _mm512_maskz_loadu_epi8(m, query.add(k)));
            }
        }
        acc
    }

    /// # Safety
    /// AVX-512 F/BW/VNNI present; `dim > 0`, `queries.len() % dim == 0`,
    /// `rows.len() >= n_rows * dim`, `out.len() == queries.len() / dim * n_rows`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn scores_i8_batch(rows: &[i8], dim: usize, n_rows: usize, queries: &[i8], out: &mut [i32]) {
        let n_queries = queries.len() / dim;
        let base = rows.as_ptr();
        // Up to QUERY_CHUNK queries per pass over the rows, so their bias terms live on the stack.
        for first in (0..n_queries).step_by(QUERY_CHUNK) {
            let take = (n_queries - first).min(QUERY_CHUNK);
            // 128·Σq per query: what the +128 bias of the rows added.
            let mut bias = [0_i32; QUERY_CHUNK];
            for (j, bias) in bias.iter_mut().enumerate().take(take) {
                let query = &queries[(first + j) * dim..(first + j + 1) * dim];
                *bias = 128 * query.iter().map(|&v| i32::from(v)).sum::<i32>();
            }
            let mut r = 0;
            while r < n_rows {
                let m = (n_rows - r).min(GROUP);
                // The next group's rows on their way while this one is scored.
                let ahead = (n_rows - r - m).min(GROUP) * dim;
                let mut off = 0;
                while off < ahead {
                    _mm_prefetch::<_MM_HINT_T0>(base.wrapping_add((r + m) * dim + off));
                    off += 64;
                }
                for (j, &bias) in bias.iter().enumerate().take(take) {
                    let q = first + j;
                    let query = queries[q * dim..].as_ptr();
                    let mut acc = [_mm512_setzero_si512(); GROUP];
                    if m == GROUP {
                        for (i, acc) in acc.iter_mut().enumerate() {
                            // SAFETY: row r + i < n_rows and query q < n_queries (caller's contract).
                            *acc = unsafe { row_i8(base.add((r + i) * dim), query, dim) };
                        }
                    } else {
                        for (i, acc) in acc.iter_mut().enumerate().take(m) {
                            // SAFETY: as above, i < m keeps r + i < n_rows.
                            *acc = unsafe { row_i8(base.add((r + i) * dim), query, dim) };
                        }
                    }
                    let sums = _mm512_sub_epi32(reduce16_epi32(acc), _mm512_set1_epi32(bias));
                    let at = &mut out[q * n_rows + r..q * n_rows + r + m];
                    // SAFETY: `at` holds m <= 16 i32 and the mask writes only the first m lanes.
                    unsafe { _mm512_mask_storeu_epi32(at.as_mut_ptr(), mask16(m), sums) };
                }
                r += m;
            }
        }
    }

    /// Mask of the first `m` (<= 16) 32-bit lanes.
    fn mask16(m: usize) -> u16 {
        ((1_u32 << m) - 1) as u16
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
    fn batches_score_each_query_as_alone() {
        for dim in DIMS {
            for rows in [1, 4, 7, 9] {
                for n_queries in 1..=7 {
                    let data = wave(rows * dim, 0.3);
                    let queries = wave(n_queries * dim, 2.1);
                    let mut out = vec![0.0; rows * n_queries];
                    scores_f32_batch(&data, dim, rows, &queries, &mut out);
                    let codes: Vec<i8> = data.iter().map(|x| (x * 127.0) as i8).collect();
                    let query_codes: Vec<i8> = queries.iter().map(|x| (x * 127.0) as i8).collect();
                    let mut out_i8 = vec![0; rows * n_queries];
                    scores_i8_batch(&codes, dim, rows, &query_codes, &mut out_i8);
                    for (q, query) in queries.chunks_exact(dim).enumerate() {
                        // Bit-identical: a query's score does not depend on its batch.
                        let mut alone = vec![0.0; rows];
                        scores_f32(&data, dim, query, &mut alone);
                        assert_eq!(&out[q * rows..(q + 1) * rows], &alone[..], "dim {dim} rows {rows} q {q}");
                        let mut alone_i8 = vec![0; rows];
                        scores_i8(&codes, dim, &query_codes[q * dim..(q + 1) * dim], &mut alone_i8);
                        assert_eq!(&out_i8[q * rows..(q + 1) * rows], &alone_i8[..]);
                        for r in 0..rows {
                            let row = &codes[r * dim..(r + 1) * dim];
                            assert_eq!(alone_i8[r], dot_i8_portable(row, &query_codes[q * dim..(q + 1) * dim]));
                            let want = dot_portable(&data[r * dim..(r + 1) * dim], query);
                            assert!((alone[r] - want).abs() < 1e-4 * dim as f32, "dim {dim} row {r}");
                        }
                    }
                }
            }
        }
    }

    /// Every path this CPU can run, the portable one last.
    fn paths() -> Vec<Path> {
        let mut paths = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if avx512() {
                paths.push(Path::Avx512);
            }
            if avx2_fma() {
                paths.push(Path::Avx2);
            }
        }
        paths.push(Path::Portable);
        paths
    }

    /// Reproducible pseudo-random codes without a RNG crate: a quarter at ±127, the rest spread
    /// over -127..=127.
    fn codes(n: usize, seed: u64) -> Vec<i8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                match x % 8 {
                    0 => 127,
                    1 => -127,
                    _ => ((x >> 8) % 255) as i16 as i8,
                }
            })
            .map(|c| if c == i8::MIN { -127 } else { c })
            .collect()
    }

    #[test]
    fn every_path_gives_the_same_integers() {
        let available = paths();
        eprintln!("paths on this CPU: {available:?}");
        for dim in DIMS.iter().copied().chain([63, 65, 192, 255, 256, 257, 512]) {
            for rows in [1, 2, 15, 16, 17, 31, 33, 47] {
                for n_queries in [1, 2, 3, 5] {
                    let data = codes(rows * dim, (dim * 1000 + rows) as u64);
                    let queries = codes(n_queries * dim, (dim * 7 + n_queries) as u64);
                    let want: Vec<i32> = queries
                        .chunks_exact(dim)
                        .flat_map(|q| data.chunks_exact(dim).map(|r| dot_i8_portable(r, q)).collect::<Vec<_>>())
                        .collect();
                    for &path in &available {
                        let mut got = vec![0; rows * n_queries];
                        scores_i8_on(path, &data, dim, rows, &queries, &mut got);
                        assert_eq!(got, want, "{path:?} dim {dim} rows {rows} queries {n_queries}");
                    }
                }
            }
        }
        // The extremes everywhere: the largest sums any lane, pair or chunk can hold.
        for dim in [64, 128, 131, 512] {
            for (row, query) in [(127, 127), (127, -127), (-127, -127), (-127, 127)] {
                let data = vec![row; 5 * dim];
                let want = (i32::from(row) * i32::from(query)) * dim as i32;
                for &path in &available {
                    let mut got = vec![0; 5];
                    scores_i8_on(path, &data, dim, 5, &vec![query; dim], &mut got);
                    assert_eq!(got, vec![want; 5], "{path:?} dim {dim} {row}·{query}");
                }
            }
        }
    }

    #[test]
    fn every_f32_path_agrees_and_is_position_independent() {
        for dim in DIMS.iter().copied().chain([255, 256, 257, 512]) {
            for rows in [1, 15, 16, 17, 33] {
                let data = wave(rows * dim, 0.7);
                let queries = wave(3 * dim, 4.2);
                let mut reference = vec![0.0; 3 * rows];
                scores_f32_on(Path::Portable, &data, dim, rows, &queries, &mut reference);
                for path in paths() {
                    let mut got = vec![0.0; 3 * rows];
                    scores_f32_on(path, &data, dim, rows, &queries, &mut got);
                    for (g, w) in got.iter().zip(&reference) {
                        assert!((g - w).abs() < 1e-4 * dim as f32, "{path:?} dim {dim}: {g} vs {w}");
                    }
                    // Each row alone (the rescoring of an int8 candidate) gives the same bits as
                    // the row inside a group of 16 or a leftover group.
                    for r in 0..rows {
                        let mut alone = [0.0];
                        scores_f32_on(path, &data[r * dim..(r + 1) * dim], dim, 1, &queries[..dim], &mut alone);
                        assert_eq!(alone[0].to_bits(), got[r].to_bits(), "{path:?} dim {dim} row {r}");
                    }
                }
            }
        }
    }

    #[test]
    fn block_maxima_match_a_fold() {
        for n in [0, 1, 7, 8, 9, 31, 128] {
            let scores = wave(n, 0.4);
            assert_eq!(max_f32(&scores), scores.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x)), "n {n}");
            let raw: Vec<i32> = (0..n as i32).map(|i| (i * 7919) % 2001 - 1000).collect();
            let scales = wave(n, 1.3);
            let want = raw.iter().zip(&scales).fold(f32::NEG_INFINITY, |m, (&r, &s)| m.max(r as f32 * s));
            assert_eq!(max_scaled_i32(&raw, &scales), want, "n {n}");
        }
        assert_eq!(max_f32(&[f32::NAN, 1.0, f32::NAN, -2.0, 0.5, 0.1, 0.2, 0.3, f32::NAN]), 1.0);
    }

    /// Every binary16 value widens the same way on every path, and rounds back to itself.
    #[test]
    fn every_half_widens_exactly_and_round_trips() {
        let all: Vec<u16> = (0..=u16::MAX).collect();
        let mut wide = vec![0.0_f32; all.len()];
        f32_from_f16(&all, &mut wide);
        let mut back = vec![0_u16; all.len()];
        f16_from_f32(&wide, &mut back);
        for ((&h, &x), &b) in all.iter().zip(&wide).zip(&back) {
            let portable = f32_of_f16(h);
            if portable.is_nan() {
                assert!(x.is_nan() && f16_bits(x) & 0x7c00 == 0x7c00 && b & 0x3ff != 0, "{h:#06x}");
                continue;
            }
            assert_eq!(x.to_bits(), portable.to_bits(), "{h:#06x}");
            assert_eq!(b, h, "{h:#06x} -> {x} -> {b:#06x}");
            assert_eq!(f16_bits(x), h, "{h:#06x}");
        }
        // Spot values: 1, the largest half, the smallest normal and subnormal, -0.
        assert_eq!(f32_of_f16(0x3c00), 1.0);
        assert_eq!(f32_of_f16(0x7bff), 65504.0);
        assert_eq!(f32_of_f16(0x0400), 2.0_f32.powi(-14));
        assert_eq!(f32_of_f16(0x0001), 2.0_f32.powi(-24));
        assert_eq!(f32_of_f16(0x8000).to_bits(), (-0.0_f32).to_bits());
    }

    /// Rounding f32 to half: the same bits on every path, to nearest with ties to even, checked
    /// against an f64 reference over the whole range (normals, subnormals, overflow, ties).
    #[test]
    fn halves_round_to_nearest_even_on_every_path() {
        let mut x = 0x2545_F491_4F6C_DD1D_u64;
        let mut values: Vec<f32> = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Exponents from 2^-30 to 2^17, both signs, random mantissas.
                let bits = (x as u32 & 0x807f_ffff) | (((x >> 32) as u32 % 48 + 97) << 23);
                f32::from_bits(bits)
            })
            .collect();
        // Exact ties (half-way between two halves) and the overflow edge.
        for h in [0x0000_u16, 0x0001, 0x0002, 0x03ff, 0x0400, 0x3555, 0x3c00, 0x3c01, 0x7bfe] {
            let lo = f64::from(f32_of_f16(h));
            let hi = f64::from(f32_of_f16(h + 1));
            values.extend([((lo + hi) / 2.0) as f32, -((lo + hi) / 2.0) as f32]);
        }
        values.extend([65504.0, 65519.99, 65520.0, 1e9, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0]);
        let mut got = vec![0_u16; values.len()];
        f16_from_f32(&values, &mut got);
        // Every finite positive half, ascending.
        let table: Vec<f64> = (0..0x7c00_u16).map(|c| f64::from(f32_of_f16(c))).collect();
        for (&v, &h) in values.iter().zip(&got) {
            assert_eq!(h, f16_bits(v), "{v:e}: path and portable differ");
            // The reference: the nearest of the two halves around v, the even one on a tie.
            let v64 = f64::from(v.abs());
            let want = if v64 >= 65520.0 {
                0x7c00
            } else {
                // 65504 <= v < 65520 rounds down to the largest half; the next step up would be 65536.
                let below = table.partition_point(|&c| c <= v64).saturating_sub(1);
                let (lo, hi) = (table[below], table.get(below + 1).copied().unwrap_or(65536.0));
                let below = below as u16;
                if v64 - lo < hi - v64 || (v64 - lo == hi - v64 && below.is_multiple_of(2)) { below } else { below + 1 }
            };
            assert_eq!(h & 0x7fff, want, "{v:e}");
            assert_eq!(h & 0x8000 != 0, v.is_sign_negative(), "{v:e}");
        }
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn a_batch_with_a_short_output_is_refused() {
        scores_f32_batch(&[1.0; 8], 4, 2, &[1.0; 8], &mut [0.0; 3]);
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn a_short_block_is_refused() {
        scores_f32(&[1.0; 7], 4, &[1.0; 4], &mut [0.0; 2]);
    }
}
