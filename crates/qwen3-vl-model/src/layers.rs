//! The few building blocks the model needs, as plain structs of tensors.
//!
//! Inference only, so no `Module`/`Param` machinery: a layer is its weights plus a
//! `forward`. Each is built by [`WeightLoader`](crate::load::weights::WeightLoader) under its
//! checkpoint name.

use std::sync::Arc;

use burn::tensor::{DType, Tensor, activation, module};

use crate::cpu_linear::PackedWeight;
use crate::device_q4::DeviceQ4;

/// `y = x W + b`, with `W` stored `[in, out]`: transposed from the checkpoint's `[out, in]`
/// once, at load time, so every forward is a plain row-major matmul. (Multiplying by a
/// transposed view instead made short text queries 4-5x slower on the CPU backend: gemm's
/// small-row path wants the right operand row-major.)
///
/// `W` may be kept in a narrower dtype than `x` (bf16 or int8 weights under f32 compute, the
/// low-memory modes). On the CPU device those weights are packed for our own kernels
/// ([`LinearWeight::Packed`], `cpu_linear.rs`); on every other device bf16 is widened for each
/// product, exactly, and dropped after, int8 goes to burn's quantized matmul, which
/// dequantizes inside the kernel on wgpu, and q4 is expanded from its packed words
/// ([`LinearWeight::Q4`], `device_q4.rs`).
#[derive(Debug, Clone)]
pub struct Linear {
    /// `[in, out]`.
    pub weight: LinearWeight,
    /// `[out]`, when the layer has one.
    pub bias: Option<Tensor<1>>,
}

/// Where and how a linear layer's weight is held.
// A model has a few hundred linear layers: the 256-byte tensor handle inline costs nothing
// worth a box (and an extra pointer chase per forward).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum LinearWeight {
    /// A burn tensor on the device: the compute dtype, bf16, or int8 (quantized).
    Tensor(Tensor<2>),
    /// Packed on the host for the CPU kernels (the CPU device with bf16, int8 or q4 weights).
    Packed(Arc<PackedWeight>),
    /// 4-bit values packed on the device (q4 weights on every other device), expanded to the
    /// compute dtype at each product.
    Q4(DeviceQ4),
}

impl Linear {
    /// `x W + b`: the CPU kernels for a packed weight; otherwise burn's matmul, widening a
    /// bf16 weight to `x`'s dtype first.
    ///
    /// # Shapes
    /// `x: [rows, in]` -> `[rows, out]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let y = match &self.weight {
            LinearWeight::Packed(packed) => packed.forward(x),
            LinearWeight::Q4(q4) => x.matmul(q4.dequantize()),
            LinearWeight::Tensor(weight) => {
                let weight = match (weight.dtype(), x.dtype()) {
                    (DType::QFloat(_), _) => weight.clone(),
                    (stored, compute) if stored == compute => weight.clone(),
                    (_, compute) => weight.clone().cast(compute),
                };
                x.matmul(weight)
            }
        };
        match &self.bias {
            Some(b) => y + b.clone().unsqueeze::<2>(),
            None => y,
        }
    }
}

/// LayerNorm over the last dimension, biased variance, as torch computes it.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    /// Per-feature scale `[dim]`.
    pub weight: Tensor<1>,
    /// Per-feature shift `[dim]`.
    pub bias: Tensor<1>,
    /// Added to the variance before the square root.
    pub eps: f64,
}

impl LayerNorm {
    /// Normalises each row to zero mean and unit variance, then scales and shifts it.
    ///
    /// # Shapes
    /// `x: [rows, dim]` -> `[rows, dim]`
    ///
    /// burn's `layer_norm` op: one fused, multi-threaded pass on the CPU backend instead of
    /// nine elementwise and reduction passes over the activations.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        module::layer_norm(x, self.weight.clone(), Some(self.bias.clone()), self.eps)
    }
}

/// RMSNorm over the last dimension: `x / sqrt(mean(x^2) + eps) * weight`.
#[derive(Debug, Clone)]
pub struct RmsNorm {
    /// Per-feature scale `[dim]`.
    pub weight: Tensor<1>,
    /// Added to the mean square before the square root.
    pub eps: f64,
}

impl RmsNorm {
    /// Normalises the last dimension of a tensor of any rank.
    ///
    /// # Shapes
    /// `x: [.., dim]` -> `[.., dim]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let rms = (x.clone().square().mean_dim(D - 1) + self.eps).sqrt();
        (x / rms) * self.weight.clone().unsqueeze::<D>()
    }
}

/// The vision block MLP's GELU: the tanh approximation (`gelu_pytorch_tanh`). Using the
/// exact erf form here, or the `x sigmoid(1.702 x)` approximation, measurably moves the
/// embedding.
///
/// `0.5 x (1 + tanh(u))` with `u = sqrt(2/pi) (x + 0.044715 x^3)`, computed through the
/// identity `0.5 (1 + tanh(u)) = sigmoid(2u)`: the same function in two passes over the
/// activations instead of four, and one `exp` per value instead of `tanh` (which libm builds
/// on `expm1`: 5% of a 512x512 screenshot's CPU time in `perf`). The cube is `x * x^2`:
/// burn's `gelu_approximate` uses `powf`, a general power several times slower.
pub fn gelu_tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    const TWO_SQRT_2_OVER_PI: f64 = 2.0 * 0.797_884_560_802_865_4;
    let two_u = (x.clone().square() * (0.044715 * TWO_SQRT_2_OVER_PI) + TWO_SQRT_2_OVER_PI) * x.clone();
    activation::sigmoid(two_u) * x
}

/// The mergers' GELU: exact, with erf.
pub fn gelu_erf<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    activation::gelu(x)
}

/// Rotate-half rotary embedding: `x cos + rotate_half(x) sin`, where
/// `rotate_half([a | b]) = [-b | a]` splits the last dimension in two.
///
/// # Shapes
/// `x: [.., rows, heads, head_dim]`, `cos`/`sin`: broadcastable `[.., rows, 1, head_dim]`
pub fn apply_rotary<const D: usize>(x: Tensor<D>, cos: Tensor<D>, sin: Tensor<D>) -> Tensor<D> {
    let dim = x.dims()[D - 1];
    let half = dim / 2;
    let first = x.clone().narrow(D - 1, 0, half);
    let second = x.clone().narrow(D - 1, half, half);
    let rotated = Tensor::cat(vec![second.neg(), first], D - 1);
    x * cos + rotated * sin
}
