//! `y = x·W` with 4-bit weights (one f16-valued scale per 32 inputs per output column) and f32
//! activations, which are quantized to int8 per row per 32-block on the fly, exactly as the
//! int8 kernels do (`q8::quant`). Each block's dot product is exact in i32; the two scales are
//! applied once per block.
//!
//! # Choices (measured 2026-12-03 on Gaussian and Student-t(3) weights, 4096x2048, blocks of 32)
//! - **Symmetric**, llama.cpp's Q4_0 rule (d = m / -8, codes -8..7; `quant.rs`). Relative RMS
//!   weight error: Gaussian 0.086 (zero points: 0.081; symmetric -7..7: 0.097), Student-t(3)
//!   0.126 (zero points: 0.101). Zero points would cost a second f16 per group (+0.5 bit per
//!   weight, ~+100 MB for the 2B, against a 1.4 GB download target) and a second correction
//!   term per block in every kernel; the bound (cosine >= 0.99 to f32) is met without
//!   them on the fixtures (worst 0.996, `q4_weights_stay_close_on_cpu` in the embedder's
//!   parity tests).
//! - **Scales rounded to f16** before quantizing, so a converted checkpoint stores them in 2
//!   bytes and loads to exactly the packing made at load time.
//! - **Integer products, activations quantized to int8** (per row per 32-block, scale
//!   max|x|/127): VNNI's `vpdpbusd` takes the 4-bit codes (q + 8, unsigned) against the signed
//!   activations, and each row-block's `-8 · Σ x_q` (computed once per call) cancels the +8.
//!   The int8 measurements (README) show the VNNI path at about twice the f32-FMA kernels, and
//!   the same arithmetic serves AVX2 (`vpmaddubsw`: 2 · 15 · 127 cannot saturate i16) and the
//!   portable kernel. Activation quantization adds int8's error (cosine >= 0.999 there).

mod pack;
mod quant;
mod scalar;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128;
#[cfg(target_arch = "x86_64")]
mod vnni;

#[cfg(test)]
mod tests;

pub use pack::PackedQ4;

use crate::error::check_matmul;
use crate::par::for_each_tile;
use crate::q8::quant::QuantX;
use crate::{Error, Q8Kernel};

/// `y[m, n] = x[m, k] · W[k, n]` with the integer kernel chosen by [`Q8Kernel::select`] (the
/// 4-bit and 8-bit weights share one kernel family and one `QWEN3_VL_CPU_KERNELS` level).
///
/// # Shapes
/// `x`: `[m, k]` row-major, `y`: `[m, n]` row-major (overwritten), `w`: packed `[k, n]`.
///
/// `x` must be finite: it is quantized per row per 32-block with scale max|x| / 127, and a
/// NaN would be lost there.
pub fn matmul_q4(x: &[f32], m: usize, w: &PackedQ4, y: &mut [f32]) -> Result<(), Error> {
    matmul_q4_with(Q8Kernel::select()?, x, m, w, y)
}

/// [`matmul_q4`] with a given kernel; an [`Error::Unsupported`] if the CPU lacks it.
pub fn matmul_q4_with(kernel: Q8Kernel, x: &[f32], m: usize, w: &PackedQ4, y: &mut [f32]) -> Result<(), Error> {
    kernel.check()?;
    let (k, n) = (w.k(), w.n());
    check_matmul(x, y, m, k, n)?;
    let work = m * n * k;
    let xq = QuantX::new(x, m, k, false);
    // Σ x_q per row per block: the SIMD kernels multiply the unsigned codes q + 8, and
    // subtracting 8 · Σ x_q per block takes the +8 back out exactly.
    let sums: Vec<i32> =
        xq.bytes.chunks_exact(crate::q8::BLOCK).map(|b| b.iter().map(|&v| i32::from(v as i8)).sum()).collect();
    match kernel {
        Q8Kernel::Scalar => {
            for_each_tile(m, n, work, scalar::MR, y, |rows, p, tile| scalar::tile(&xq, rows, w.panel(p), tile))
        }
        // SAFETY (both arms): `kernel.check()` above detected the kernel's CPU features.
        #[cfg(target_arch = "x86_64")]
        Q8Kernel::Avx2 => for_each_tile(m, n, work, avx2::MR, y, |rows, p, tile| unsafe {
            avx2::tile(&xq, &sums, rows, w.panel(p), tile)
        }),
        #[cfg(target_arch = "x86_64")]
        Q8Kernel::Avx512Vnni => for_each_tile(m, n, work, vnni::MR, y, |rows, p, tile| unsafe {
            vnni::tile(&xq, &sums, rows, w.panel(p), tile)
        }),
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Q8Kernel::Simd128 => {
            for_each_tile(m, n, work, simd128::MR, y, |rows, p, tile| simd128::tile(&xq, &sums, rows, w.panel(p), tile))
        }
        #[allow(unreachable_patterns)]
        _ => unreachable!("check() refuses every kernel this build lacks"),
    }
    #[cfg(not(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128"))))]
    let _ = sums;
    Ok(())
}
