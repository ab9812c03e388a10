//! The model's two MLP activations on host buffers, in place, with the vectorised `exp`:
//! SwiGLU's `silu(gate) · up` (the decoder) and the tanh-form GELU after a bias (the vision
//! tower). On the CPU device they replace four to six elementwise passes of burn's, each with
//! a scalar libm `exp` or a fresh output tensor, by one pass over the linear layer's output.
//!
//! Large buffers are split over rayon's threads in runs of whole rows.

use rayon::prelude::*;

use crate::Error;
use crate::vector::{VectorKernel, exp, vectorised};

/// Elements per parallel task: enough to amortise a task (~10 us of work), small enough that
/// a 1,024 x 4,096 activation gives each of a few threads many tasks.
const TASK_ELEMENTS: usize = 1 << 14;

/// `2 sqrt(2 / pi)`: the tanh GELU's `tanh(u)` is `2 sigmoid(2u) - 1`.
const TWO_SQRT_2_OVER_PI: f32 = 2.0 * 0.797_884_6;

/// `gate[i] = silu(gate[i]) · up[i]` with `silu(x) = x / (1 + e^-x)` (SwiGLU, as the decoder's
/// MLP computes it between its gate/up and down projections). A typed error when the lengths
/// differ.
pub fn silu_times(kernel: VectorKernel, gate: &mut [f32], up: &[f32]) -> Result<(), Error> {
    if gate.len() != up.len() {
        return Err(Error::Length { what: "up", expected: gate.len(), found: up.len() });
    }
    gate.par_chunks_mut(TASK_ELEMENTS)
        .zip(up.par_chunks(TASK_ELEMENTS))
        .for_each(|(g, u)| silu_times_run(kernel, g, u));
    Ok(())
}

/// `x = gelu_tanh(x + bias)` row by row (`x`: `[rows, bias.len()]`), with
/// `gelu_tanh(t) = t · sigmoid(2u)`, `u = sqrt(2/pi) (t + 0.044715 t^3)`: torch's
/// `gelu(approximate="tanh")`, since `0.5 (1 + tanh(u)) = sigmoid(2u)`. A typed error when
/// `x` is not whole rows of `bias`.
pub fn gelu_tanh_after_bias(kernel: VectorKernel, x: &mut [f32], bias: &[f32]) -> Result<(), Error> {
    let width = bias.len();
    if width == 0 || !x.len().is_multiple_of(width) {
        return Err(Error::Shape(format!(
            "GELU input of {} values is not whole rows of the {width}-wide bias",
            x.len()
        )));
    }
    let rows_per_task = (TASK_ELEMENTS / width).max(1);
    x.par_chunks_mut(rows_per_task * width).for_each(|rows| gelu_tanh_run(kernel, rows, bias));
    Ok(())
}

vectorised! {
    /// One task of [`silu_times`].
    fn silu_times_run(gate: &mut [f32], up: &[f32]) -> () = silu_times_body;
}

vectorised! {
    /// One task of [`gelu_tanh_after_bias`]: whole rows.
    fn gelu_tanh_run(x: &mut [f32], bias: &[f32]) -> () = gelu_tanh_body;
}

/// Lanes per step, as in the softmax: fixed-length inner loops are what the compiler turns
/// into vector code (a plain loop over the slices stayed scalar: `vmulss`, checked in the
/// assembly).
const LANES: usize = 16;

#[inline(always)]
fn silu_times_body(gate: &mut [f32], up: &[f32]) {
    zip_in_place(gate, up, |g, u| g / (1.0 + exp(-g)) * u);
}

#[inline(always)]
fn gelu_tanh_body(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        zip_in_place(row, bias, |v, b| {
            let t = v + b;
            // The same operation order as the generic path (`layers.rs::gelu_tanh`).
            let two_u = (t * t * (0.044715 * TWO_SQRT_2_OVER_PI) + TWO_SQRT_2_OVER_PI) * t;
            t / (1.0 + exp(-two_u))
        });
    }
}

/// `a[i] = f(a[i], b[i])` over the shorter length, in runs of [`LANES`].
#[inline(always)]
fn zip_in_place(a: &mut [f32], b: &[f32], f: impl Fn(f32, f32) -> f32) {
    let mut runs_a = a.chunks_exact_mut(LANES);
    let mut runs_b = b.chunks_exact(LANES);
    for (ra, rb) in (&mut runs_a).zip(&mut runs_b) {
        let (ra, rb): (&mut [f32; LANES], &[f32; LANES]) = (ra.try_into().unwrap(), rb.try_into().unwrap());
        for i in 0..LANES {
            ra[i] = f(ra[i], rb[i]);
        }
    }
    for (x, &y) in runs_a.into_remainder().iter_mut().zip(runs_b.remainder()) {
        *x = f(*x, y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Awkward lengths and values from -40 to 40 (both tails of the sigmoid), deterministic.
    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n).map(|i| ((i * 7919 + seed * 104_729) % 8001) as f32 / 100.0 - 40.0).collect()
    }

    fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    /// Within `rel` of the f64 value, or within `abs` where the value is near zero.
    fn close(got: f32, want: f64, rel: f64, abs: f64) -> bool {
        (got as f64 - want).abs() <= rel * want.abs() + abs
    }

    #[test]
    fn silu_times_matches_float64_on_every_kernel() {
        for kernel in VectorKernel::ALL.into_iter().filter(|k| k.is_supported()) {
            for len in [0usize, 1, 15, 16, 17, 100, TASK_ELEMENTS + 33] {
                let (gate, up) = (values(len, 1), values(len, 2));
                let mut got = gate.clone();
                silu_times(kernel, &mut got, &up).unwrap();
                for ((g, x), u) in got.iter().zip(&gate).zip(&up) {
                    let want = *x as f64 * sigmoid(*x as f64) * *u as f64;
                    assert!(
                        close(*g, want, 1e-6, 1e-30),
                        "{} len {len}: silu({x}) * {u} = {g}, want {want}",
                        kernel.name()
                    );
                }
            }
        }
    }

    #[test]
    fn gelu_tanh_after_bias_matches_float64_tanh_gelu_on_every_kernel() {
        for kernel in VectorKernel::ALL.into_iter().filter(|k| k.is_supported()) {
            for (rows, width) in [(1usize, 1usize), (3, 17), (5, 4096), (1, 33)] {
                let (x, bias) = (values(rows * width, 3), values(width, 4));
                let mut got = x.clone();
                gelu_tanh_after_bias(kernel, &mut got, &bias).unwrap();
                for (i, (g, v)) in got.iter().zip(&x).enumerate() {
                    let t = *v as f64 + bias[i % width] as f64;
                    let u = (2.0 / std::f64::consts::PI).sqrt() * (t + 0.044715 * t * t * t);
                    let want = 0.5 * t * (1.0 + u.tanh());
                    // f32's rounding of 2u is amplified where the sigmoid's tail is steep, so
                    // the bound there is absolute, on the input's scale.
                    assert!(
                        close(*g, want, 2e-6, 1e-6 * (1.0 + t.abs())),
                        "{} {rows}x{width}: gelu({t}) = {g}, want {want}",
                        kernel.name()
                    );
                }
            }
        }
    }

    #[test]
    fn mismatched_lengths_are_typed_errors() {
        let kernel = VectorKernel::Scalar;
        assert_eq!(
            silu_times(kernel, &mut [1.0; 3], &[1.0; 2]),
            Err(Error::Length { what: "up", expected: 3, found: 2 })
        );
        assert!(matches!(gelu_tanh_after_bias(kernel, &mut [1.0; 5], &[0.0; 2]), Err(Error::Shape(_))));
        assert!(matches!(gelu_tanh_after_bias(kernel, &mut [], &[]), Err(Error::Shape(_))));
    }
}
