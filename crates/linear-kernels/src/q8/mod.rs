//! `y = x·W` with int8 weights (one f32 scale per 32 inputs per output column) and f32
//! activations, which are quantized per row per 32-block on the fly. Each block's dot product
//! is exact in i32; the f32 scales are applied once per block.

mod pack;
pub(crate) mod quant;
mod scalar;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) mod simd128;
#[cfg(target_arch = "x86_64")]
mod vnni;

#[cfg(test)]
mod tests;

pub use pack::PackedQ8;

use crate::error::check_matmul;
use crate::par::for_each_tile;
use crate::{Error, Q8Kernel};

/// Inputs per quantization block (one scale per block per output column, and per row of x).
pub(crate) const BLOCK: usize = 32;

/// `y[m, n] = x[m, k] · W[k, n]` with the kernel chosen by [`Q8Kernel::select`].
///
/// # Shapes
/// `x`: `[m, k]` row-major, `y`: `[m, n]` row-major (overwritten), `w`: packed `[k, n]`.
///
/// `x` must be finite: it is quantized per row per 32-block with scale max|x| / 127, and a
/// NaN would be lost there.
pub fn matmul_q8(x: &[f32], m: usize, w: &PackedQ8, y: &mut [f32]) -> Result<(), Error> {
    matmul_q8_with(Q8Kernel::select()?, x, m, w, y)
}

/// [`matmul_q8`] with a given kernel; an [`Error::Unsupported`] if the CPU lacks it.
pub fn matmul_q8_with(kernel: Q8Kernel, x: &[f32], m: usize, w: &PackedQ8, y: &mut [f32]) -> Result<(), Error> {
    kernel.check()?;
    let (k, n) = (w.k(), w.n());
    check_matmul(x, y, m, k, n)?;
    let work = m * n * k;
    // VNNI multiplies unsigned by signed bytes: it takes the activations offset by +128.
    let xq = quant::QuantX::new(x, m, k, kernel == Q8Kernel::Avx512Vnni);
    match kernel {
        Q8Kernel::Scalar => {
            for_each_tile(m, n, work, scalar::MR, y, |rows, p, tile| scalar::tile(&xq, rows, w.panel(p), tile))
        }
        // SAFETY (both arms): `kernel.check()` above detected the kernel's CPU features.
        #[cfg(target_arch = "x86_64")]
        Q8Kernel::Avx2 => {
            for_each_tile(m, n, work, avx2::MR, y, |rows, p, tile| unsafe { avx2::tile(&xq, rows, w.panel(p), tile) })
        }
        #[cfg(target_arch = "x86_64")]
        Q8Kernel::Avx512Vnni => {
            for_each_tile(m, n, work, vnni::MR, y, |rows, p, tile| unsafe { vnni::tile(&xq, rows, w.panel(p), tile) })
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Q8Kernel::Simd128 => {
            for_each_tile(m, n, work, simd128::MR, y, |rows, p, tile| simd128::tile(&xq, rows, w.panel(p), tile))
        }
        #[allow(unreachable_patterns)]
        _ => unreachable!("check() refuses every kernel this build lacks"),
    }
    Ok(())
}
