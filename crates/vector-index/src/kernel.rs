//! Dot-product kernels: the only floating-point hot loops of the crate.
//!
//! Batched search is one register-tiled kernel: a *tile* scores `R` stored rows against `Q`
//! queries at once, keeping `R * Q` vector accumulators in registers and walking the shared
//! dimension in steps of 8 floats. Each row load then feeds `Q` FMAs and each query load `R`
//! FMAs, so the loop is bound by arithmetic rather than by loads, and with at least 8
//! independent accumulators the FMA latency is hidden. [`dot_block`] (many queries × many rows)
//! uses 4 × 3 tiles. On the benchmark machine (10k × 512, 256 queries) it ran within ~10% of
//! `matrixmultiply`'s sgemm, too little to take a dependency for. One query ([`dot_rows`], and
//! the HNSW distance [`dot`]) goes one row at a time with 4 accumulators: it is bound by memory
//! bandwidth, and multi-row tiles measured slower once the rows no longer fit in cache.
//!
//! Two implementations of the tile exist. On x86-64 an AVX2 + FMA version with intrinsics is
//! picked at run time, so a portable binary (built for the default `x86-64` target, SSE2 only)
//! still runs 256-bit FMAs: LLVM's auto-vectoriser only reaches 128-bit vectors there. The
//! portable version is written over fixed `[f32; 8]` lane arrays that the compiler vectorises for
//! any target (SSE2, NEON, or wasm SIMD128 when built with `-C target-feature=+simd128`); it uses
//! smaller tiles because those targets have 128-bit registers and fewer of them.

/// Floats per vector step: one AVX2 register, two SSE / NEON / SIMD128 registers.
const LANES: usize = 8;

/// Inner product of two slices of equal length (the HNSW distance). One pair of vectors gives no
/// reuse to tile for, so this splits the sum over 4 independent accumulators instead, to hide
/// the FMA latency.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if Avx2::detect().is_some() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        return unsafe { dot_avx2(a, b) };
    }
    dot_portable(a, b)
}

/// Portable [`dot`]: two `[f32; LANES]` accumulators (four SSE / NEON / SIMD128 registers).
#[inline(always)]
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a_chunks, _) = a[..n].as_chunks::<{ 2 * LANES }>();
    let (b_chunks, _) = b[..n].as_chunks::<{ 2 * LANES }>();
    let mut acc = [[0.0f32; LANES]; 2];
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for (h, acc) in acc.iter_mut().enumerate() {
            for l in 0..LANES {
                acc[l] += x[h * LANES + l] * y[h * LANES + l];
            }
        }
    }
    let done = a_chunks.len() * 2 * LANES;
    acc.iter().flatten().sum::<f32>() + a[done..n].iter().zip(&b[done..n]).map(|(x, y)| x * y).sum::<f32>()
}

/// AVX2 + FMA [`dot`]: four 8-lane accumulators. Safety: the CPU has AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY: every load reads 8 floats at offsets `i..i + 8 <= n` of both slices.
    unsafe {
        while i + 4 * LANES <= n {
            for (c, acc) in acc.iter_mut().enumerate() {
                let o = i + LANES * c;
                *acc = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(o)), _mm256_loadu_ps(pb.add(o)), *acc);
            }
            i += 4 * LANES;
        }
        while i + LANES <= n {
            acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc[0]);
            i += LANES;
        }
    }
    let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    hsum(sum) + a[i..n].iter().zip(&b[i..n]).map(|(x, y)| x * y).sum::<f32>()
}

/// `out[i] = dot(row i of rows, query)` for a row-major block `rows` of `out.len()` rows.
pub fn dot_rows(rows: &[f32], query: &[f32], out: &mut [f32]) {
    dot_block(query, rows, query.len(), out);
}

/// `scores[q * n + r] = dot(query q, row r)` for the row-major `queries` (`m` rows) and `rows`
/// (`n` rows), both of `dim` columns: the product `queries × rowsᵀ`.
///
/// Callers keep `rows` small enough to stay in cache while all queries are scored against it
/// (see `scan_batch` in `index.rs`); this function only tiles for registers.
///
/// # Panics
/// If `dim` is zero, a slice is not a whole number of rows, or `scores.len() != m * n`: these
/// are internal invariants, never user input.
pub fn dot_block(queries: &[f32], rows: &[f32], dim: usize, scores: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(avx) = Avx2::detect() {
        return drive::<_, 4, 3>(&avx, queries, rows, dim, scores);
    }
    drive::<_, 2, 2>(&Portable, queries, rows, dim, scores)
}

/// A register tile: `out[r][q] = dot(rows[r], queries[q])` for `R` rows and `Q` queries stored
/// contiguously (`rows.len() == R * dim`, `queries.len() == Q * dim`).
trait Tile {
    fn tile<const R: usize, const Q: usize>(&self, rows: &[f32], queries: &[f32], dim: usize) -> [[f32; Q]; R];
}

/// Walks `rows × queries` in `R × Q` tiles, falling back to single-row and single-query tiles
/// at the edges; a single query goes through [`dot`] row by row.
fn drive<T: Tile, const R: usize, const Q: usize>(
    t: &T,
    queries: &[f32],
    rows: &[f32],
    dim: usize,
    scores: &mut [f32],
) {
    assert!(dim > 0 && queries.len().is_multiple_of(dim) && rows.len().is_multiple_of(dim), "ragged dot_block input");
    let (m, n) = (queries.len() / dim, rows.len() / dim);
    assert_eq!(scores.len(), m * n, "dot_block output has the wrong size");
    if m == 1 {
        // One query has no reuse to tile for, and a single sequential stream over `rows` keeps
        // the hardware prefetcher trained: R-row tiles measured up to 2x slower once `rows` no
        // longer fits in cache (it helps only while it does).
        for (row, score) in rows.chunks_exact(dim).zip(scores) {
            *score = dot(row, queries);
        }
        return;
    }
    let mut r0 = 0;
    while r0 < n {
        let rr = if r0 + R <= n { R } else { 1 };
        let group = &rows[r0 * dim..(r0 + rr) * dim];
        let mut q0 = 0;
        while q0 < m {
            let qq = if q0 + Q <= m { Q } else { 1 };
            let qs = &queries[q0 * dim..(q0 + qq) * dim];
            let mut put = |r: usize, q: usize, s: f32| scores[(q0 + q) * n + r0 + r] = s;
            match (rr == R, qq == Q) {
                (true, true) => t
                    .tile::<R, Q>(group, qs, dim)
                    .iter()
                    .enumerate()
                    .for_each(|(r, s)| s.iter().enumerate().for_each(|(q, s)| put(r, q, *s))),
                (true, false) => t.tile::<R, 1>(group, qs, dim).iter().enumerate().for_each(|(r, s)| put(r, 0, s[0])),
                (false, true) => t.tile::<1, Q>(group, qs, dim)[0].iter().enumerate().for_each(|(q, s)| put(0, q, *s)),
                (false, false) => put(0, 0, t.tile::<1, 1>(group, qs, dim)[0][0]),
            }
            q0 += qq;
        }
        r0 += rr;
    }
}

/// The portable tile over `[f32; LANES]` lane arrays.
struct Portable;

impl Tile for Portable {
    #[inline(always)]
    fn tile<const R: usize, const Q: usize>(&self, rows: &[f32], queries: &[f32], dim: usize) -> [[f32; Q]; R] {
        let mut acc = [[[0.0f32; LANES]; Q]; R];
        let steps = dim / LANES;
        for s in 0..steps {
            let at = |m: &[f32], i: usize| -> [f32; LANES] {
                m[i * dim + s * LANES..i * dim + (s + 1) * LANES].try_into().expect("LANES floats")
            };
            let qv: [[f32; LANES]; Q] = std::array::from_fn(|q| at(queries, q));
            for (r, acc) in acc.iter_mut().enumerate() {
                let rv = at(rows, r);
                for (acc, qv) in acc.iter_mut().zip(&qv) {
                    for l in 0..LANES {
                        acc[l] += rv[l] * qv[l];
                    }
                }
            }
        }
        std::array::from_fn(|r| {
            std::array::from_fn(|q| acc[r][q].iter().sum::<f32>() + tail_dot(rows, queries, dim, r, q, steps * LANES))
        })
    }
}

/// Scalar remainder `sum_{i >= from} rows[r][i] * queries[q][i]` of a tile.
#[inline(always)]
fn tail_dot(rows: &[f32], queries: &[f32], dim: usize, r: usize, q: usize, from: usize) -> f32 {
    let (a, b) = (&rows[r * dim + from..(r + 1) * dim], &queries[q * dim + from..(q + 1) * dim]);
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Proof that the CPU has AVX2 and FMA: only [`Avx2::detect`] makes one.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Avx2(());

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    #[inline]
    fn detect() -> Option<Self> {
        (std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")).then_some(Avx2(()))
    }
}

#[cfg(target_arch = "x86_64")]
impl Tile for Avx2 {
    #[inline(always)]
    fn tile<const R: usize, const Q: usize>(&self, rows: &[f32], queries: &[f32], dim: usize) -> [[f32; Q]; R] {
        assert!(rows.len() >= R * dim && queries.len() >= Q * dim, "tile input too short");
        // SAFETY: `self` exists only when the CPU has AVX2 and FMA; lengths are checked above.
        unsafe { tile_avx2::<R, Q>(rows, queries, dim) }
    }
}

/// AVX2 + FMA tile. Safety: the CPU has AVX2 and FMA, `rows` holds `R * dim` floats and
/// `queries` `Q * dim`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_avx2<const R: usize, const Q: usize>(rows: &[f32], queries: &[f32], dim: usize) -> [[f32; Q]; R] {
    use std::arch::x86_64::*;
    let (pr, pq) = (rows.as_ptr(), queries.as_ptr());
    let mut acc = [[_mm256_setzero_ps(); Q]; R];
    let steps = dim / LANES;
    for s in 0..steps {
        let o = s * LANES;
        // SAFETY: `o + LANES <= dim`, so every load stays inside row `r < R` / query `q < Q`.
        let qv: [__m256; Q] = std::array::from_fn(|q| unsafe { _mm256_loadu_ps(pq.add(q * dim + o)) });
        for (r, acc) in acc.iter_mut().enumerate() {
            let rv = unsafe { _mm256_loadu_ps(pr.add(r * dim + o)) };
            for (acc, qv) in acc.iter_mut().zip(&qv) {
                *acc = _mm256_fmadd_ps(rv, *qv, *acc);
            }
        }
    }
    std::array::from_fn(|r| {
        std::array::from_fn(|q| hsum(acc[r][q]) + tail_dot(rows, queries, dim, r, q, steps * LANES))
    })
}

/// Sum of the 8 lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn hsum(v: std::arch::x86_64::__m256) -> f32 {
    use std::arch::x86_64::*;
    let half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let quarter = _mm_add_ps(half, _mm_movehl_ps(half, half));
    _mm_cvtss_f32(_mm_add_ss(quarter, _mm_shuffle_ps::<1>(quarter, quarter)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    fn data(len: usize, salt: usize) -> Vec<f32> {
        (0..len).map(|i| (((i + salt) * 37 % 101) as f32 - 50.0) / 50.0).collect()
    }

    /// Every tile shape and edge case of both implementations against an f64 reference.
    #[test]
    fn kernels_match_naive_for_every_tail_length() {
        for dim in [1, 3, 7, 8, 9, 16, 31, 64, 100] {
            for n_rows in [0, 1, 3, 4, 5, 9, 17] {
                for n_queries in [1, 2, 3, 4, 7] {
                    let rows = data(n_rows * dim, 0);
                    let queries = data(n_queries * dim, 5);
                    let mut got = vec![f32::NAN; n_rows * n_queries];
                    let mut portable = got.clone();
                    dot_block(&queries, &rows, dim, &mut got);
                    drive::<_, 2, 2>(&Portable, &queries, &rows, dim, &mut portable);
                    for q in 0..n_queries {
                        let query = &queries[q * dim..(q + 1) * dim];
                        for r in 0..n_rows {
                            let row = &rows[r * dim..(r + 1) * dim];
                            let want = naive(row, query);
                            for (what, s) in [
                                ("dot_block", got[q * n_rows + r]),
                                ("portable", portable[q * n_rows + r]),
                                ("dot", dot(row, query)),
                                ("dot_portable", dot_portable(row, query)),
                            ] {
                                assert!(
                                    (s as f64 - want).abs() < 1e-4,
                                    "{what} dim {dim} row {r} query {q}: {s} vs {want}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn dot_rows_is_dot_block_with_one_query() {
        let (dim, n) = (24, 13);
        let (rows, query) = (data(n * dim, 1), data(dim, 2));
        let mut out = vec![0.0; n];
        dot_rows(&rows, &query, &mut out);
        for (r, s) in out.iter().enumerate() {
            assert!((*s - dot(&rows[r * dim..(r + 1) * dim], &query)).abs() < 1e-4);
        }
    }
}
