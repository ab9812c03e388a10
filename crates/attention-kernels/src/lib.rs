//! Scaled dot-product attention on the CPU for the model's two attention layers: causal
//! grouped-query attention in the decoder and full attention within each image in the vision
//! tower. f32 in, f32 out, f32 accumulation.
//!
//! ```
//! use attention_kernels::{AttentionShape, attention};
//! // One query, two keys, one head of width 2: softmax([0, 1]) mixes the two values.
//! let shape = AttentionShape { batch: 1, seq: 2, past: 0, heads: 1, kv_heads: 1, head_dim: 2, scale: 1.0, causal: false };
//! let q = [0.0, 0.0, 0.0, 1.0]; // [seq, heads, head_dim]
//! let k = [1.0, 0.0, 0.0, 1.0];
//! let v = [1.0, 0.0, 0.0, 1.0];
//! let mut out = [0.0f32; 4];
//! attention(&q, &k, &v, &mut out, &shape)?;
//! assert_eq!(&out[..2], &[0.5, 0.5]); // the first query scores 0 against both keys
//! let e = 1f32.exp();
//! assert!((out[3] - e / (1.0 + e)).abs() < 1e-6);
//! # Ok::<(), attention_kernels::Error>(())
//! ```
//!
//! # Layouts
//! Row-major, as the model's projections produce them, so no transposed copy is made:
//! `q` and `out` are `[batch, seq, heads, head_dim]`, `k` and `v` are
//! `[batch, past + seq, kv_heads, head_dim]`; query head `h` reads kv head `h / (heads /
//! kv_heads)`. `past` keys come before the queries' own (a prefix computed once and reused).
//!
//! # Kernels
//! The two products run on the `gemm` crate (the f32 GEMM burn's CPU backend uses, with its
//! own run-time choice of AVX-512/AVX2/NEON/portable micro-kernels); the softmax is ours,
//! vectorised (`src/softmax.rs`), chosen at run time ([`VectorKernel`]) and capped by
//! `QWEN3_VL_CPU_KERNELS` like the linear kernels (`linear_kernels::ENV_VAR`), so CI tests
//! every path on one CPU.
//!
//! # Activations
//! The same vectorised `exp` serves the MLPs' activations on host buffers: [`silu_times`]
//! (SwiGLU) and [`gelu_tanh_after_bias`] (the vision tower's GELU after its bias), in place.
//!
//! # Threads and memory
//! Tasks are (batch item, head, tile of queries) on rayon's pool; each allocates one tile of
//! scores, at most 8 MiB unless a sequence has over 131,072 keys (then 16 queries' worth).

#![warn(missing_docs)]

mod activation;
mod error;
mod softmax;
mod tiles;
mod vector;

pub use activation::{gelu_tanh_after_bias, silu_times};
pub use error::Error;
pub use vector::VectorKernel;

/// What one attention call computes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttentionShape {
    /// Independent sequences.
    pub batch: usize,
    /// Query positions per sequence; keys have `past` more.
    pub seq: usize,
    /// Keys and values before the first query (a reused prefix's): query `i` sits at position
    /// `past + i`. 0 when queries and keys are the same positions.
    pub past: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads; `heads` must be a multiple of it.
    pub kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// Factor on `q · k` before the softmax (usually `1 / sqrt(head_dim)`).
    pub scale: f32,
    /// Whether query `i` sees only keys `0..=past + i` of its sequence.
    pub causal: bool,
}

impl AttentionShape {
    /// The element counts of `q`/`out` and of `k`/`v`, or why the shape is unusable.
    fn lengths(&self) -> Result<(usize, usize), Error> {
        let AttentionShape { batch, seq, past, heads, kv_heads, head_dim, .. } = *self;
        if [batch, seq, heads, kv_heads, head_dim].contains(&0) {
            return Err(Error::Shape(format!("every dimension must be at least 1, got {self:?}")));
        }
        if heads % kv_heads != 0 {
            return Err(Error::Shape(format!("heads {heads} is not a multiple of kv_heads {kv_heads}")));
        }
        let product =
            |s: Option<usize>, h: usize| [batch, s?, h, head_dim].into_iter().try_fold(1usize, usize::checked_mul);
        match (product(Some(seq), heads), product(seq.checked_add(past), kv_heads)) {
            (Some(q), Some(kv)) => Ok((q, kv)),
            _ => Err(Error::Shape(format!("{self:?} has more elements than memory can hold"))),
        }
    }
}

/// `out = softmax(scale · q kᵀ [+ causal mask]) v` with the fastest softmax this CPU has
/// (capped by `QWEN3_VL_CPU_KERNELS`). Errors: lengths that do not match `shape`, an unusable
/// shape, or a forced kernel level that is invalid or missing on this CPU.
pub fn attention(q: &[f32], k: &[f32], v: &[f32], out: &mut [f32], shape: &AttentionShape) -> Result<(), Error> {
    attention_with(VectorKernel::select().map_err(Error::Kernel)?, q, k, v, out, shape)
}

/// [`attention`] with a given softmax kernel (tests and benchmarks pick each one); a kernel
/// this CPU lacks is a typed error.
pub fn attention_with(
    kernel: VectorKernel,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &mut [f32],
    shape: &AttentionShape,
) -> Result<(), Error> {
    if !kernel.is_supported() {
        return Err(Error::Kernel(linear_kernels::Error::Unsupported { kernel: kernel.name(), needs: kernel.needs() }));
    }
    let (q_len, kv_len) = shape.lengths()?;
    for (what, expected, found) in
        [("q", q_len, q.len()), ("k", kv_len, k.len()), ("v", kv_len, v.len()), ("out", q_len, out.len())]
    {
        if expected != found {
            return Err(Error::Length { what, expected, found });
        }
    }
    tiles::run(q, k, v, out, shape, kernel);
    Ok(())
}

#[cfg(test)]
mod tests;
