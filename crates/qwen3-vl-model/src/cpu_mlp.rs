//! The CPU device's MLP blocks when their weights are packed for the CPU kernels (bf16, int8,
//! q4): both products and the activation between them on host buffers, the activation in one
//! vectorised pass (`attention_kernels::silu_times`, `gelu_tanh_after_bias`). Every other
//! case (f32 weights, other devices) keeps the generic path of burn tensor ops, which the wgpu
//! and WebGPU tests run.
//!
//! Why: with the products on our kernels, what sat between them was four to six burn
//! elementwise passes (the bias, the GELU's polynomial, the sigmoid with a scalar libm `exp`,
//! the gating product), each with a fresh output tensor, and a host copy into and out of each
//! product. `perf` on 2B screenshot embeddings in bf16 put libm's `expf` and burn's unary op
//! at 7.8% of the samples and `memmove` + `memset` at 3.1%; with this, img512 ran 16-20% faster
//! (benches/model/README.md, 2026-12-05 evening).
//!
//! Rows go through in passes of at most [`ROWS_PER_PASS`]: the intermediate activations
//! (4096 or 6144 wide, 4-6x the input) then exist for one pass only. A batch of eight 640x400
//! demos ran 3840 patches per vision pass, whose 63 MB `fc1` output was the largest transient
//! of the whole call (`heaptrack`, benches/model/README.md, 2026-12-06). Every row's result is
//! the same in any pass (the kernels never mix rows), and 512 rows still reuse each weight
//! panel ~500 times, so the products stay compute-bound. The input is taken by value: its
//! values move to the host instead of being copied beside the tensor.

use attention_kernels::VectorKernel;
use burn::tensor::Tensor;

use crate::cpu_linear::{PackedWeight, from_host, host_f32};
use crate::layers::{Linear, LinearWeight};

/// The layer's weight, if it is packed for the CPU kernels.
fn packed(layer: &Linear) -> Option<&PackedWeight> {
    match &layer.weight {
        LinearWeight::Packed(w) => Some(w),
        LinearWeight::Tensor(_) | LinearWeight::Q4(_) => None,
    }
}

/// The vector kernel; `Qwen3VlModel::load` checked the level on the CPU device, where packed
/// weights exist.
fn kernel() -> VectorKernel {
    VectorKernel::select().expect("the CPU kernel level was checked at load (`cpu_attention_kernel`)")
}

/// An MLP block's output, or its input handed back where the host path does not apply (the
/// input is taken by value so that the host path can move its values instead of copying them).
pub(crate) enum HostMlp {
    /// The block's output.
    Done(Tensor<2>),
    /// The input, untouched: the weights are not all packed (or the biases do not fit).
    NotPacked(Tensor<2>),
}

/// The most rows one pass of an MLP block computes at once (see the module doc): the decoder's
/// gate and up outputs for 512 rows are 12.6 MB each.
const ROWS_PER_PASS: usize = 512;

/// `block` applied to `x` (rows of `width` values) at most `rows_per_pass` rows at a time,
/// the outputs joined in row order; `block(rows_of_x, row_count)` returns its rows' outputs.
fn in_passes(x: &[f32], width: usize, rows_per_pass: usize, block: impl Fn(&[f32], usize) -> Vec<f32>) -> Vec<f32> {
    let m = x.len() / width;
    if m <= rows_per_pass {
        return block(x, m);
    }
    let mut y = Vec::new();
    for part in x.chunks(rows_per_pass * width) {
        let rows = part.len() / width;
        let out = block(part, rows);
        if y.is_empty() {
            // Sized from the first pass's output width: no regrowth, no copy of `y`.
            y.reserve_exact(out.len() / rows * m);
        }
        y.extend_from_slice(&out);
    }
    y
}

/// `down(silu(gate(x)) · up(x))` (the decoder's SwiGLU MLP) on the host, or `x` back (the
/// caller takes the generic path) unless all three weights are packed and none has a bias.
///
/// # Shapes
/// `x: [rows, hidden]` -> `[rows, hidden]`
pub(crate) fn swiglu(gate: &Linear, up: &Linear, down: &Linear, x: Tensor<2>) -> HostMlp {
    swiglu_in_passes(gate, up, down, x, ROWS_PER_PASS)
}

/// [`swiglu`], `rows_per_pass` rows at a time.
fn swiglu_in_passes(gate: &Linear, up: &Linear, down: &Linear, x: Tensor<2>, rows_per_pass: usize) -> HostMlp {
    if [gate, up, down].iter().any(|l| l.bias.is_some()) {
        return HostMlp::NotPacked(x);
    }
    let (Some(gate), Some(up), Some(down)) = (packed(gate), packed(up), packed(down)) else {
        return HostMlp::NotPacked(x);
    };
    let ([m, k], device) = (x.dims(), x.device());
    let y = in_passes(&host_f32(x), k, rows_per_pass, |x, rows| {
        let mut hidden = gate.forward_host(x, rows);
        let up = up.forward_host(x, rows);
        attention_kernels::silu_times(kernel(), &mut hidden, &up).expect("gate and up have the same shape");
        down.forward_host(&hidden, rows)
    });
    HostMlp::Done(from_host(y, [m, down.shape()[1]], &device))
}

/// `fc2(gelu_tanh(fc1(x) + b1)) + b2` (the vision blocks' MLP) on the host, or `x` back (the
/// caller takes the generic path) unless both weights are packed and both layers have a bias.
///
/// # Shapes
/// `x: [rows, hidden]` -> `[rows, hidden]`
pub(crate) fn gelu_tanh(fc1: &Linear, fc2: &Linear, x: Tensor<2>) -> HostMlp {
    gelu_tanh_in_passes(fc1, fc2, x, ROWS_PER_PASS)
}

/// [`gelu_tanh`], `rows_per_pass` rows at a time.
fn gelu_tanh_in_passes(fc1: &Linear, fc2: &Linear, x: Tensor<2>, rows_per_pass: usize) -> HostMlp {
    let (Some(w1), Some(w2), Some(b1), Some(b2)) = (packed(fc1), packed(fc2), &fc1.bias, &fc2.bias) else {
        return HostMlp::NotPacked(x);
    };
    let (b1, b2) = (host_f32(b1.clone()), host_f32(b2.clone()));
    let ([m, k], device) = (x.dims(), x.device());
    let mut y = in_passes(&host_f32(x), k, rows_per_pass, |x, rows| {
        let mut hidden = w1.forward_host(x, rows);
        attention_kernels::gelu_tanh_after_bias(kernel(), &mut hidden, &b1).expect("fc1's output is rows of its bias");
        w2.forward_host(&hidden, rows)
    });
    for row in y.chunks_exact_mut(b2.len()) {
        row.iter_mut().zip(&b2).for_each(|(v, b)| *v += b);
    }
    HostMlp::Done(from_host(y, [m, b2.len()], &device))
}

#[cfg(test)]
mod tests {
    use burn::tensor::{DType, Device, Tensor, TensorData};

    use super::*;
    use crate::cpu_linear::PackedWeight;

    fn linear(n: usize, k: usize, seed: usize, bias: bool) -> Linear {
        // Deterministic values in about [-0.5, 0.5): a multiplicative hash of the index.
        let values: Vec<f32> = (0..n * k)
            .map(|i| (((i + seed) as u32).wrapping_mul(2_654_435_761) >> 8) as f32 / (1 << 24) as f32 - 0.5)
            .collect();
        let bias = bias.then(|| {
            let b: Vec<f32> = (0..n).map(|i| (i as f32 - 3.0) / 17.0).collect();
            Tensor::<1>::from_data(TensorData::new(b, [n]), (&Device::flex(), DType::F32))
        });
        let weight = PackedWeight::q8(&values, n, k).expect("int8 packing has a portable fallback");
        Linear { weight: LinearWeight::Packed(std::sync::Arc::new(weight)), bias }
    }

    /// Row passes change nothing: the kernels never mix rows, so both MLPs run 2 or 3 rows at
    /// a time (a short last pass included) give the one-pass result bit for bit.
    #[test]
    fn an_mlp_in_row_passes_equals_one_pass() {
        crate::cpu_attention::cpu_attention_kernel().unwrap();
        let (m, hidden, wide) = (7, 40, 72);
        let x: Vec<f32> = (0..m * hidden).map(|i| ((i * 37 % 101) as f32 - 50.0) / 40.0).collect();
        let x = Tensor::<2>::from_data(TensorData::new(x, [m, hidden]), (&Device::flex(), DType::F32));
        let read = |t: HostMlp| match t {
            HostMlp::Done(t) => t.into_data().try_into_vec::<f32>().unwrap(),
            HostMlp::NotPacked(_) => panic!("packed weights take the host path"),
        };
        let (gate, up, down) =
            (linear(wide, hidden, 1, false), linear(wide, hidden, 2, false), linear(hidden, wide, 3, false));
        let whole = read(swiglu(&gate, &up, &down, x.clone()));
        assert_eq!(whole.len(), m * hidden);
        for rows in [2, 3] {
            assert_eq!(read(swiglu_in_passes(&gate, &up, &down, x.clone(), rows)), whole, "swiglu, {rows} rows a pass");
        }
        let (fc1, fc2) = (linear(wide, hidden, 4, true), linear(hidden, wide, 5, true));
        let whole = read(gelu_tanh(&fc1, &fc2, x.clone()));
        for rows in [2, 3] {
            assert_eq!(read(gelu_tanh_in_passes(&fc1, &fc2, x.clone(), rows)), whole, "gelu_tanh, {rows} rows a pass");
        }
    }
}
