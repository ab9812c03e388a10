//! The softmax of one score row, in place: one portable body, compiled per [`VectorKernel`](crate::vector::VectorKernel)
//! (`vector.rs`), with the vectorised `exp`.

use crate::vector::{exp, vectorised};

/// Lanes per step: one zmm register of f32 (two ymm, four xmm); the compiler maps the arrays.
const LANES: usize = 16;

vectorised! {
    /// Replaces `row` by `exp(row - max(row))` and returns the sum of the new values
    /// (the caller divides by it, once per output row instead of once per score).
    pub(crate) fn exp_shifted(row: &mut [f32]) -> f32 = softmax_row_body;
}

/// Two passes over `row`: the maximum, then `exp(x - max)` in place and the sum. Lane arrays
/// keep each pass free of loop-carried scalar dependencies, so it vectorises.
#[inline(always)]
fn softmax_row_body(row: &mut [f32]) -> f32 {
    let mut max = [f32::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (m, &x) in max.iter_mut().zip(chunk) {
            *m = if x > *m { x } else { *m };
        }
    }
    let max = chunks.remainder().iter().chain(&max).fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m });

    let mut sum = [0.0f32; LANES];
    let mut chunks = row.chunks_exact_mut(LANES);
    for chunk in &mut chunks {
        for (s, x) in sum.iter_mut().zip(chunk.iter_mut()) {
            *x = exp(*x - max);
            *s += *x;
        }
    }
    let mut total = 0.0f32;
    for x in chunks.into_remainder() {
        *x = exp(*x - max);
        total += *x;
    }
    total + sum.iter().sum::<f32>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::VectorKernel;

    #[test]
    fn every_kernel_matches_a_float64_softmax_on_awkward_lengths() {
        for kernel in VectorKernel::ALL.into_iter().filter(|k| k.is_supported()) {
            for len in [1usize, 3, 15, 16, 17, 33, 100, 1027] {
                let row: Vec<f32> = (0..len).map(|i| ((i * 7919 % 113) as f32 - 60.0) * 0.37).collect();
                let max = row.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
                let want: Vec<f64> = row.iter().map(|&x| (x as f64 - max).exp()).collect();
                let want_sum: f64 = want.iter().sum();
                let mut got = row.clone();
                let sum = exp_shifted(kernel, &mut got);
                assert!(((sum as f64) - want_sum).abs() <= 1e-6 * want_sum, "{} len {len}", kernel.name());
                // Each weight within 1e-6 of itself or, for weights far below the maximum (where
                // rounding the f32 input `x - max` alone moves the result by more), of the row's
                // total.
                for (g, w) in got.iter().zip(&want) {
                    let bound = 1e-6 * w.max(1e-3 * want_sum);
                    assert!((*g as f64 - w).abs() <= bound, "{} len {len}: {g} vs {w}", kernel.name());
                }
            }
        }
    }
}
