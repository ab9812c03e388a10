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

/// `down(silu(gate(x)) · up(x))` (the decoder's SwiGLU MLP) on the host, or `None` (the
/// caller takes the generic path) unless all three weights are packed and none has a bias.
///
/// # Shapes
/// `x: [rows, hidden]` -> `[rows, hidden]`
pub(crate) fn swiglu(gate: &Linear, up: &Linear, down: &Linear, x: &Tensor<2>) -> Option<Tensor<2>> {
    if [gate, up, down].iter().any(|l| l.bias.is_some()) {
        return None;
    }
    let (gate, up, down) = (packed(gate)?, packed(up)?, packed(down)?);
    let [m, _] = x.dims();
    let x_host = host_f32(x.clone());
    let mut hidden = gate.forward_host(&x_host, m);
    let up = up.forward_host(&x_host, m);
    attention_kernels::silu_times(kernel(), &mut hidden, &up).expect("gate and up have the same shape");
    Some(from_host(down.forward_host(&hidden, m), [m, down.shape()[1]], &x.device()))
}

/// `fc2(gelu_tanh(fc1(x) + b1)) + b2` (the vision blocks' MLP) on the host, or `None` (the
/// caller takes the generic path) unless both weights are packed and both layers have a bias.
///
/// # Shapes
/// `x: [rows, hidden]` -> `[rows, hidden]`
pub(crate) fn gelu_tanh(fc1: &Linear, fc2: &Linear, x: &Tensor<2>) -> Option<Tensor<2>> {
    let (w1, w2) = (packed(fc1)?, packed(fc2)?);
    let (b1, b2) = (host_f32(fc1.bias.clone()?), host_f32(fc2.bias.clone()?));
    let [m, _] = x.dims();
    let mut hidden = w1.forward_host(&host_f32(x.clone()), m);
    attention_kernels::gelu_tanh_after_bias(kernel(), &mut hidden, &b1).expect("fc1's output is rows of its bias");
    let mut y = w2.forward_host(&hidden, m);
    for row in y.chunks_exact_mut(b2.len()) {
        row.iter_mut().zip(&b2).for_each(|(v, b)| *v += b);
    }
    Some(from_host(y, [m, b2.len()], &x.device()))
}
