//! AVX2+FMA bf16 kernel for CPUs without AVX-512 (Zen 3): each 32-bit lane of the packed weight
//! holds one column's k pair, widened to two f32 vectors with a shift (low half) and a mask
//! (high half), then two FMAs with the exact f32 activations. No f32 copy of W exists.

// Index loops over the small register arrays read like the math and unroll fully.
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;
use std::ops::Range;

use crate::par::{NR, Tile};

/// Rows per call. The kernel covers half a panel (16 columns, 2 ymm) at a time: 4 rows x 2
/// accumulators + 4 widened weights + 2 broadcasts fit in 16 ymm, and each widening (a shift
/// and a mask) serves 4 rows instead of 2 with the full 32 columns.
pub(super) const MR: usize = 4;

/// bf16 per half panel and k pair: 16 columns x 2.
const HALF: usize = NR;

/// `tile[i] = x[rows.start + i] · W[:, panel]`.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn tile(x: &[f32], k: usize, rows: Range<usize>, panel: &[u16], tile: &mut Tile) {
    assert!(rows.end * k <= x.len() && panel.len() == k.div_ceil(2) * 2 * NR);
    let x = x[rows.start * k..].as_ptr();
    for half in 0..2 {
        let w = panel[half * HALF..].as_ptr();
        // SAFETY: the assert bounds every read of x (rows x k) and of the panel.
        unsafe {
            match rows.len() {
                1 => kernel::<1>(x, k, w, tile, half * 16),
                2 => kernel::<2>(x, k, w, tile, half * 16),
                3 => kernel::<3>(x, k, w, tile, half * 16),
                4 => kernel::<4>(x, k, w, tile, half * 16),
                n => unreachable!("{n} rows; the driver passes at most {MR}"),
            }
        }
    }
}

/// Columns `col0..col0 + 16` of the tile.
///
/// # Safety
/// AVX2+FMA; `x` points at `R` rows of `k` f32, `panel` at the half panel's first bf16 of a
/// panel of `ceil(k/2) * 64` bf16.
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel<const R: usize>(x: *const f32, k: usize, panel: *const u16, tile: &mut Tile, col0: usize) {
    let mut acc = [[_mm256_setzero_ps(); 2]; R];
    let hi_mask = _mm256_set1_epi32(0xFFFF_0000_u32 as i32);
    let full_pairs = k / 2;
    for p in 0..full_pairs {
        // SAFETY: half of pair row p of the panel: 32 bf16 = two ymm.
        let (w0, w1) = unsafe {
            let w = panel.add(p * 2 * NR);
            (_mm256_loadu_si256(w.cast()), _mm256_loadu_si256(w.add(16).cast()))
        };
        let lo0 = _mm256_castsi256_ps(_mm256_slli_epi32::<16>(w0));
        let hi0 = _mm256_castsi256_ps(_mm256_and_si256(w0, hi_mask));
        let lo1 = _mm256_castsi256_ps(_mm256_slli_epi32::<16>(w1));
        let hi1 = _mm256_castsi256_ps(_mm256_and_si256(w1, hi_mask));
        for r in 0..R {
            // SAFETY: 2p + 1 < k.
            let (a, b) = unsafe { (_mm256_set1_ps(*x.add(r * k + 2 * p)), _mm256_set1_ps(*x.add(r * k + 2 * p + 1))) };
            acc[r][0] = _mm256_fmadd_ps(a, lo0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(a, lo1, acc[r][1]);
            acc[r][0] = _mm256_fmadd_ps(b, hi0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(b, hi1, acc[r][1]);
        }
    }
    if k % 2 == 1 {
        // The last pair of an odd K: its high half is padding, and x has no element there.
        let p = full_pairs;
        // SAFETY: as above; only the low halves are used.
        let (w0, w1) = unsafe {
            let w = panel.add(p * 2 * NR);
            (_mm256_loadu_si256(w.cast()), _mm256_loadu_si256(w.add(16).cast()))
        };
        let lo0 = _mm256_castsi256_ps(_mm256_slli_epi32::<16>(w0));
        let lo1 = _mm256_castsi256_ps(_mm256_slli_epi32::<16>(w1));
        for r in 0..R {
            // SAFETY: 2p = k - 1.
            let a = unsafe { _mm256_set1_ps(*x.add(r * k + 2 * p)) };
            acc[r][0] = _mm256_fmadd_ps(a, lo0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(a, lo1, acc[r][1]);
        }
    }
    for r in 0..R {
        // SAFETY: col0 + 16 <= NR = 32, the tile row's length.
        unsafe {
            _mm256_storeu_ps(tile[r].as_mut_ptr().add(col0), acc[r][0]);
            _mm256_storeu_ps(tile[r].as_mut_ptr().add(col0 + 8), acc[r][1]);
        }
    }
}
