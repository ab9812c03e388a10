//! AVX2 int8 kernel for CPUs without VNNI (Zen 3). `vpmaddubsw` multiplies unsigned by signed
//! bytes into saturating i16 pair sums, so the activation's sign moves onto the weight
//! (`vpsignb`, as llama.cpp does): |x| · sign(x) w. With |x|, |w| <= 127 a pair sum is at most
//! 2 · 127² = 32258 < 2^15, no saturation; `vpmaddwd` by 1 then sums pairs into i32 lanes,
//! one lane per column, 4 inputs each. The block's i32 sums are exact.

// Index loops over the small register arrays read like the math and unroll fully.
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;
use std::ops::Range;

use super::BLOCK;
use super::pack::PanelQ8;
use super::quant::{QuantX, RowPtrs};
use crate::par::{NR, Tile};

/// Rows per call: each weight load serves two rows.
pub(super) const MR: usize = 2;

/// `tile[i] = x[rows.start + i] · W[:, panel]`, `xq` made without the VNNI offset.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn tile(xq: &QuantX, rows: Range<usize>, panel: PanelQ8<'_>, tile: &mut Tile) {
    let blocks = xq.blocks;
    panel.assert_blocks(blocks);
    let x = xq.rows(rows.clone());
    // SAFETY: `xq.rows` and `assert_blocks` bound every read of x and of the panel.
    unsafe {
        match rows.len() {
            1 => kernel::<1>(&x, panel, tile),
            2 => kernel::<2>(&x, panel, tile),
            n => unreachable!("{n} rows; the driver passes at most {MR}"),
        }
    }
}

/// # Safety
/// AVX2+FMA; `x` holds `R` rows of `blocks` blocks, the panel `blocks` blocks.
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel<const R: usize>(x: &RowPtrs, panel: PanelQ8<'_>, tile: &mut Tile) {
    let ones = _mm256_set1_epi16(1);
    let mut acc = [[_mm256_setzero_ps(); 4]; R];
    let w = panel.values.as_ptr();
    for b in 0..x.blocks {
        let mut dot = [[_mm256_setzero_si256(); 4]; R];
        for g in 0..BLOCK / 4 {
            let mut xs = [_mm256_setzero_si256(); R];
            let mut xa = [_mm256_setzero_si256(); R];
            for r in 0..R {
                // SAFETY: 4 bytes inside row r's block b.
                let four = unsafe { x.bytes.add((r * x.blocks + b) * BLOCK + 4 * g).cast::<i32>().read_unaligned() };
                xs[r] = _mm256_set1_epi32(four);
                xa[r] = _mm256_abs_epi8(xs[r]);
            }
            for q in 0..4 {
                // SAFETY: 8 columns x 4 bytes inside block b's group g.
                let wv = unsafe { _mm256_loadu_si256(w.add(((b * 8 + g) * NR + q * 8) * 4).cast()) };
                for r in 0..R {
                    let signed = _mm256_sign_epi8(wv, xs[r]);
                    let pairs = _mm256_maddubs_epi16(xa[r], signed);
                    dot[r][q] = _mm256_add_epi32(dot[r][q], _mm256_madd_epi16(pairs, ones));
                }
            }
        }
        for q in 0..4 {
            // SAFETY: block b's 32 scales, 8 per q.
            let sw = unsafe { _mm256_loadu_ps(panel.scales.as_ptr().add(b * NR + q * 8)) };
            for r in 0..R {
                // SAFETY: row r's scale of block b.
                let sx = unsafe { _mm256_set1_ps(*x.scales.add(r * x.blocks + b)) };
                let s = _mm256_mul_ps(sw, sx);
                acc[r][q] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[r][q]), s, acc[r][q]);
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
