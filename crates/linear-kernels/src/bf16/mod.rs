//! `y = x·W` with bf16 weights and f32 activations, accumulated in f32.

mod pack;
mod scalar;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
mod avx512bf16;

#[cfg(test)]
mod tests;

pub use pack::PackedBf16;

use crate::error::check_matmul;
use crate::par::for_each_tile;
use crate::{Bf16Kernel, Error};

/// `y[m, n] = x[m, k] · W[k, n]` with the kernel chosen by [`Bf16Kernel::select`].
///
/// # Shapes
/// `x`: `[m, k]` row-major, `y`: `[m, n]` row-major (overwritten), `w`: packed `[k, n]`.
pub fn matmul_bf16(x: &[f32], m: usize, w: &PackedBf16, y: &mut [f32]) -> Result<(), Error> {
    matmul_bf16_with(Bf16Kernel::select()?, x, m, w, y)
}

/// [`matmul_bf16`] with a given kernel; an [`Error::Unsupported`] if the CPU lacks it.
pub fn matmul_bf16_with(kernel: Bf16Kernel, x: &[f32], m: usize, w: &PackedBf16, y: &mut [f32]) -> Result<(), Error> {
    kernel.check()?;
    let (k, n) = (w.k(), w.n());
    check_matmul(x, y, m, k, n)?;
    let work = m * n * k;
    match kernel {
        Bf16Kernel::Scalar => {
            for_each_tile(m, n, work, scalar::MR, y, |rows, p, tile| scalar::tile(x, k, rows, w.panel(p), tile))
        }
        // SAFETY (all three arms): `kernel.check()` above detected the kernel's CPU features.
        #[cfg(target_arch = "x86_64")]
        Bf16Kernel::Avx2 => {
            for_each_tile(m, n, work, avx2::MR, y, |rows, p, tile| unsafe { avx2::tile(x, k, rows, w.panel(p), tile) })
        }
        #[cfg(target_arch = "x86_64")]
        Bf16Kernel::Avx512 => for_each_tile(m, n, work, avx512::MR, y, |rows, p, tile| unsafe {
            avx512::tile(x, k, rows, w.panel(p), tile)
        }),
        #[cfg(target_arch = "x86_64")]
        Bf16Kernel::Avx512Bf16 => {
            let pairs = unsafe { avx512bf16::to_bf16_pairs(x, m, k) };
            let kp = k.div_ceil(2);
            for_each_tile(m, n, work, avx512bf16::MR, y, |rows, p, tile| unsafe {
                avx512bf16::tile(&pairs, kp, rows, w.panel(p), tile)
            })
        }
        #[cfg(not(target_arch = "x86_64"))]
        _ => unreachable!("check() refuses every SIMD kernel off x86-64"),
    }
    Ok(())
}
