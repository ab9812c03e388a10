//! Dot-product kernels: the only floating-point hot loop of the crate.
//!
//! The loops are written over fixed `[f32; LANES]` accumulators so that LLVM turns them into SIMD
//! without intrinsics. On x86-64 the same generic code is compiled a second time with AVX2 + FMA
//! enabled and picked at run time, so a portable binary (and the default `x86-64` target) still
//! runs the wide version. wasm32 uses the portable version (SIMD128 when the caller builds with
//! `-C target-feature=+simd128`).

/// Accumulator width: 8 f32 = one AVX2 register, two SSE / NEON / SIMD128 registers.
const LANES: usize = 8;
/// Rows scored together: each query chunk is loaded once and used `ROWS` times.
const ROWS: usize = 4;

/// Inner product of two slices of equal length.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        return unsafe { dot_avx2(a, b) };
    }
    dot_generic::<false>(a, b)
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
    dot_rows_generic::<false>(rows, query, out)
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn has_avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    dot_generic::<true>(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_rows_avx2(rows: &[f32], query: &[f32], out: &mut [f32]) {
    dot_rows_generic::<true>(rows, query, out)
}

/// `acc + a * b`, fused when the caller was compiled with FMA (an unfused `mul_add` would be a
/// slow libm call).
#[inline(always)]
fn madd<const FMA: bool>(acc: f32, a: f32, b: f32) -> f32 {
    if FMA { a.mul_add(b, acc) } else { acc + a * b }
}

#[inline(always)]
fn dot_generic<const FMA: bool>(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for l in 0..LANES {
            acc[l] = madd::<FMA>(acc[l], x[l], y[l]);
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[inline(always)]
fn dot_rows_generic<const FMA: bool>(rows: &[f32], query: &[f32], out: &mut [f32]) {
    let dim = query.len();
    if dim == 0 {
        out.fill(0.0);
        return;
    }
    let mut row_groups = rows.chunks_exact(ROWS * dim);
    let mut out_groups = out.chunks_exact_mut(ROWS);
    for (group, scores) in (&mut row_groups).zip(&mut out_groups) {
        let mut acc = [[0.0f32; LANES]; ROWS];
        let body = dim - dim % LANES;
        for j in (0..body).step_by(LANES) {
            let q = &query[j..j + LANES];
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let x = &group[r * dim + j..r * dim + j + LANES];
                for l in 0..LANES {
                    acc_r[l] = madd::<FMA>(acc_r[l], x[l], q[l]);
                }
            }
        }
        for (r, score) in scores.iter_mut().enumerate() {
            let row = &group[r * dim..(r + 1) * dim];
            let tail: f32 = row[body..].iter().zip(&query[body..]).map(|(x, y)| x * y).sum();
            *score = acc[r].iter().sum::<f32>() + tail;
        }
    }
    let rest = row_groups.remainder();
    for (row, score) in rest.chunks_exact(dim).zip(out_groups.into_remainder()) {
        *score = dot_generic::<FMA>(row, query);
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
