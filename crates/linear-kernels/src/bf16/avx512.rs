//! AVX-512F bf16 kernel without `vdpbf16ps` (Skylake-X, Ice Lake, or a forced fallback): the
//! packed k pairs are widened to f32 in registers (shift / mask) and multiplied with the exact
//! f32 activations, so no activation rounding. No f32 copy of W exists.

// Index loops over the small register arrays read like the math and unroll fully.
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;
use std::ops::Range;

use crate::par::{NR, Tile};

/// Rows per call: 8 rows x 2 zmm accumulators + 4 widened weights fit in 32 registers, and the
/// activations are broadcast straight from memory.
pub(super) const MR: usize = 8;

/// `tile[i] = x[rows.start + i] · W[:, panel]`.
///
/// # Safety
/// The CPU must have AVX-512F and AVX-512BW.
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn tile(x: &[f32], k: usize, rows: Range<usize>, panel: &[u16], tile: &mut Tile) {
    assert!(rows.end * k <= x.len() && panel.len() == k.div_ceil(2) * 2 * NR);
    let x = x[rows.start * k..].as_ptr();
    let w = panel.as_ptr();
    // SAFETY: the assert bounds every read of x (rows x k) and of the panel.
    unsafe {
        match rows.len() {
            1 => kernel::<1>(x, k, w, tile),
            2 => kernel::<2>(x, k, w, tile),
            3 => kernel::<3>(x, k, w, tile),
            4 => kernel::<4>(x, k, w, tile),
            5 => kernel::<5>(x, k, w, tile),
            6 => kernel::<6>(x, k, w, tile),
            7 => kernel::<7>(x, k, w, tile),
            8 => kernel::<8>(x, k, w, tile),
            n => unreachable!("{n} rows; the driver passes at most {MR}"),
        }
    }
}

/// # Safety
/// AVX-512F/BW; `x` points at `R` rows of `k` f32, `panel` at `ceil(k/2) * 64` bf16.
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn kernel<const R: usize>(x: *const f32, k: usize, panel: *const u16, tile: &mut Tile) {
    let mut acc = [[_mm512_setzero_ps(); 2]; R];
    let hi_mask = _mm512_set1_epi32(0xFFFF_0000_u32 as i32);
    let full_pairs = k / 2;
    for p in 0..full_pairs {
        // SAFETY: pair row p of the panel is 64 bf16 = two zmm.
        let (w0, w1) = unsafe {
            (_mm512_loadu_si512(panel.add(p * 2 * NR).cast()), _mm512_loadu_si512(panel.add(p * 2 * NR + NR).cast()))
        };
        let lo0 = _mm512_castsi512_ps(_mm512_slli_epi32::<16>(w0));
        let hi0 = _mm512_castsi512_ps(_mm512_and_si512(w0, hi_mask));
        let lo1 = _mm512_castsi512_ps(_mm512_slli_epi32::<16>(w1));
        let hi1 = _mm512_castsi512_ps(_mm512_and_si512(w1, hi_mask));
        for r in 0..R {
            // SAFETY: 2p + 1 < k.
            let (a, b) = unsafe { (_mm512_set1_ps(*x.add(r * k + 2 * p)), _mm512_set1_ps(*x.add(r * k + 2 * p + 1))) };
            acc[r][0] = _mm512_fmadd_ps(a, lo0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, lo1, acc[r][1]);
            acc[r][0] = _mm512_fmadd_ps(b, hi0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(b, hi1, acc[r][1]);
        }
    }
    if k % 2 == 1 {
        // The last pair of an odd K: its high half is padding, and x has no element there.
        let p = full_pairs;
        // SAFETY: as above; only the low half is read.
        let (w0, w1) = unsafe {
            (_mm512_loadu_si512(panel.add(p * 2 * NR).cast()), _mm512_loadu_si512(panel.add(p * 2 * NR + NR).cast()))
        };
        let lo0 = _mm512_castsi512_ps(_mm512_slli_epi32::<16>(w0));
        let lo1 = _mm512_castsi512_ps(_mm512_slli_epi32::<16>(w1));
        for r in 0..R {
            // SAFETY: 2p = k - 1.
            let a = unsafe { _mm512_set1_ps(*x.add(r * k + 2 * p)) };
            acc[r][0] = _mm512_fmadd_ps(a, lo0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, lo1, acc[r][1]);
        }
    }
    for r in 0..R {
        // SAFETY: tile rows hold NR = 32 f32.
        unsafe {
            _mm512_storeu_ps(tile[r].as_mut_ptr(), acc[r][0]);
            _mm512_storeu_ps(tile[r].as_mut_ptr().add(16), acc[r][1]);
        }
    }
}
