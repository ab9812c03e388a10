//! AVX2+FMA bf16 kernel for CPUs without AVX-512 (Zen 3): each 32-bit lane of the packed weight
//! holds one column's k pair, widened to two f32 vectors with a shift (low half) and a mask
//! (high half), then two FMAs with the exact f32 activations. No f32 copy of W exists.

// Index loops over the small register arrays read like the math and unroll fully.
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;
use std::ops::Range;

use crate::par::{NR, Tile};

/// Rows per call: 2 rows x 4 ymm accumulators + 4 broadcasts + 3 weight registers fit in 16.
pub(super) const MR: usize = 2;

/// `tile[i] = x[rows.start + i] · W[:, panel]`.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn tile(x: &[f32], k: usize, rows: Range<usize>, panel: &[u16], tile: &mut Tile) {
    assert!(rows.end * k <= x.len() && panel.len() == k.div_ceil(2) * 2 * NR);
    let x = x[rows.start * k..].as_ptr();
    // SAFETY: the assert bounds every read of x (rows x k) and of the panel.
    unsafe {
        match rows.len() {
            1 => kernel::<1>(x, k, panel.as_ptr(), tile),
            2 => kernel::<2>(x, k, panel.as_ptr(), tile),
            n => unreachable!("{n} rows; the driver passes at most {MR}"),
        }
    }
}

/// # Safety
/// AVX2+FMA; `x` points at `R` rows of `k` f32, `panel` at `ceil(k/2) * 64` bf16.
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel<const R: usize>(x: *const f32, k: usize, panel: *const u16, tile: &mut Tile) {
    let mut acc = [[_mm256_setzero_ps(); 4]; R];
    let hi_mask = _mm256_set1_epi32(0xFFFF_0000_u32 as i32);
    for p in 0..k.div_ceil(2) {
        let mut x_lo = [_mm256_setzero_ps(); R];
        let mut x_hi = [_mm256_setzero_ps(); R];
        for r in 0..R {
            // SAFETY: 2p < k; 2p + 1 is read only when it is < k (odd K pads with zero).
            unsafe {
                x_lo[r] = _mm256_set1_ps(*x.add(r * k + 2 * p));
                if 2 * p + 1 < k {
                    x_hi[r] = _mm256_set1_ps(*x.add(r * k + 2 * p + 1));
                }
            }
        }
        for q in 0..4 {
            // SAFETY: pair row p of the panel holds 64 bf16; q * 16 + 16 <= 64.
            let w = unsafe { _mm256_loadu_si256(panel.add(p * 2 * NR + q * 16).cast()) };
            let lo = _mm256_castsi256_ps(_mm256_slli_epi32::<16>(w));
            let hi = _mm256_castsi256_ps(_mm256_and_si256(w, hi_mask));
            for r in 0..R {
                acc[r][q] = _mm256_fmadd_ps(x_lo[r], lo, acc[r][q]);
                acc[r][q] = _mm256_fmadd_ps(x_hi[r], hi, acc[r][q]);
            }
        }
    }
    for r in 0..R {
        for q in 0..4 {
            // SAFETY: tile rows hold NR = 32 f32.
            unsafe { _mm256_storeu_ps(tile[r].as_mut_ptr().add(q * 8), acc[r][q]) };
        }
    }
}
