//! CPU kernels for a linear layer, `y[M, N] = x[M, K] · W[K, N]`, with f32 activations and
//! output and a weight stored in bf16 ([`PackedBf16`]), in int8 with one f32 scale per 32
//! inputs per output ([`PackedQ8`]), or in 4 bits with one f16 scale per 32 ([`PackedQ4`]).
//!
//! Weights are packed once, at load time, into the layout the kernels stream (panels of 32
//! output columns); no kernel ever makes a widened f32 or dequantized copy of a weight. A
//! packed weight's arrays (`parts()`) can be stored and viewed again in place
//! (`from_parts(.., SharedBytes)`, e.g. from a mapped file), with no packing at all.
//!
//! ```
//! use linear_kernels::{PackedBf16, matmul_bf16};
//! let (m, k, n) = (2, 3, 2);
//! let w = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // [k, n], burn's Linear layout
//! let w = PackedBf16::from_kn_f32(&w, k, n)?;
//! let x = [1.0f32, 0.0, 0.0, 0.0, 1.0, 1.0]; // [m, k]
//! let mut y = [0.0f32; 4];
//! matmul_bf16(&x, m, &w, &mut y)?;
//! assert_eq!(y, [1.0, 2.0, 8.0, 10.0]);
//! # Ok::<(), linear_kernels::Error>(())
//! ```
//!
//! # Kernels
//! Chosen at run time with `is_x86_feature_detected!`: AVX-512 BF16 / VNNI, AVX-512F, AVX2,
//! or portable Rust (the only kernels off x86-64, wasm32 included). The environment variable
//! [`ENV_VAR`] (`QWEN3_VL_CPU_KERNELS`) caps the level so every path can be tested on a
//! capable CPU; see [`Level`] and `src/select.rs` for its values.
//!
//! # Threads
//! The output is split into tiles of up to 48 rows by 32 columns over rayon's pool; small
//! products run on the calling thread. Allocation per call is bounded by the activations' size
//! (a bf16 or int8 copy of x), never by the weight.

#![warn(missing_docs)]

mod bf16;
mod buffer;
mod error;
mod par;
mod q4;
mod q8;
mod select;
mod shared;

#[cfg(test)]
mod testutil;

pub use bf16::{PackedBf16, matmul_bf16, matmul_bf16_with};
pub use error::Error;
pub use q4::{PackedQ4, matmul_q4, matmul_q4_with};
pub use q8::{PackedQ8, matmul_q8, matmul_q8_with};
pub use select::{Bf16Kernel, ENV_VAR, Level, Q8Kernel};
pub use shared::SharedBytes;
