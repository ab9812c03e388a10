//! Dot-product kernels: the only floating-point hot loop of the crate.
//!
//! The portable loop is written over a fixed `[f32; LANES]` accumulator so that LLVM turns it into
//! SIMD for any target (wasm32 gets SIMD128 when built with `-C target-feature=+simd128`). On
//! x86-64 an AVX2 + FMA version with intrinsics is picked at run time, so a portable binary
//! (built for the default `x86-64` target) still runs 256-bit FMAs.

/// Accumulator width: 8 f32 = one AVX2 register, two SSE / NEON / SIMD128 registers.
const LANES: usize = 8;

/// Inner product of two slices of equal length.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        return unsafe { dot_avx2(a, b) };
    }
    dot_generic(a, b)
}

/// `out[i] = dot(row i of rows, query)` for a row-major block `rows` of `out.len()` rows.
#[inline]
pub fn dot_rows(rows: &[f32], query: &[f32], out: &mut [f32]) {
    debug_assert_eq!(rows.len(), out.len() * query.len());
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        return unsafe { dot_rows_avx2(rows, query, out) };
    }
    dot_rows_generic(rows, query, out)
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn has_avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// AVX2 + FMA dot product with explicit intrinsics: LLVM's auto-vectoriser only reaches
/// 128-bit vectors on the portable code, and four independent accumulators hide FMA latency.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY: every load reads 8 floats at offsets `i..i + 8 <= n` of both slices.
    unsafe {
        while i + 32 <= n {
            for (c, acc) in acc.iter_mut().enumerate() {
                let o = i + 8 * c;
                *acc = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(o)), _mm256_loadu_ps(pb.add(o)), *acc);
            }
            i += 32;
        }
        while i + 8 <= n {
            acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc[0]);
            i += 8;
        }
    }
    let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let half = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps::<1>(sum));
    let quarter = _mm_add_ps(half, _mm_movehl_ps(half, half));
    let total = _mm_cvtss_f32(_mm_add_ss(quarter, _mm_shuffle_ps::<1>(quarter, quarter)));
    total + a[i..n].iter().zip(&b[i..n]).map(|(x, y)| x * y).sum::<f32>()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_rows_avx2(rows: &[f32], query: &[f32], out: &mut [f32]) {
    for (row, score) in rows.chunks_exact(query.len()).zip(out) {
        *score = dot_avx2(row, query);
    }
}

/// Portable version: a fixed-width accumulator the compiler vectorises for the target
/// (SSE2, NEON, or SIMD128 when wasm is built with `+simd128`).
#[inline(always)]
fn dot_generic(a: &[f32], b: &[f32]) -> f32 {
    let (a_chunks, a_tail) = a.as_chunks::<LANES>();
    let (b_chunks, b_tail) = b.as_chunks::<LANES>();
    let mut acc = [0.0f32; LANES];
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + a_tail.iter().zip(b_tail).map(|(x, y)| x * y).sum::<f32>()
}

fn dot_rows_generic(rows: &[f32], query: &[f32], out: &mut [f32]) {
    for (row, score) in rows.chunks_exact(query.len()).zip(out) {
        *score = dot_generic(row, query);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    #[test]
    fn kernels_match_naive_for_every_tail_length() {
        for dim in [1, 3, 7, 8, 9, 16, 31, 64, 100] {
            for n_rows in [0, 1, 3, 4, 5, 9] {
                let rows: Vec<f32> = (0..n_rows * dim).map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0).collect();
                let q: Vec<f32> = (0..dim).map(|i| ((i * 13 % 29) as f32 - 14.0) / 14.0).collect();
                let mut out = vec![f32::NAN; n_rows];
                dot_rows(&rows, &q, &mut out);
                for (r, s) in out.iter().enumerate() {
                    let row = &rows[r * dim..(r + 1) * dim];
                    let want = naive(row, &q);
                    assert!((*s as f64 - want).abs() < 1e-4, "dim {dim} row {r}: {s} vs {want}");
                    assert!((dot(row, &q) as f64 - want).abs() < 1e-4);
                }
            }
        }
    }
}
