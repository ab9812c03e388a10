//! AVX2 q4 kernel for CPUs without VNNI (Zen 3). `vpmaddubsw` multiplies the unsigned codes
//! (q + 8, 0..15) by the signed int8 activations into i16 pair sums of at most
//! 2 · 15 · 127 = 3810 (no saturation, no sign trick needed), `vpmaddwd` by 1 sums pairs into
//! i32 lanes, one lane per column, 4 inputs each. Each accumulator starts at the row-block's
//! `-8 · Σ x_q`, which cancels the +8 exactly.

// Index loops over the small register arrays read like the math and unroll fully.
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;
use std::ops::Range;

use super::pack::PanelQ4;
use crate::par::{NR, Tile};
use crate::q8::BLOCK;
use crate::q8::quant::{QuantX, RowPtrs};

/// Rows per call: each code load serves two rows.
pub(super) const MR: usize = 2;

/// `tile[i] = x[rows.start + i] · W[:, panel]`; `sums` is `[m, blocks]` of Σ x_q.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn tile(xq: &QuantX, sums: &[i32], rows: Range<usize>, panel: PanelQ4<'_>, tile: &mut Tile) {
    let blocks = xq.blocks;
    panel.assert_blocks(blocks);
    let sums = &sums[rows.start * blocks..rows.end * blocks];
    let x = xq.rows(rows.clone());
    // SAFETY: `xq.rows`, the slice of `sums` and `assert_blocks` bound every read.
    unsafe {
        match rows.len() {
            1 => kernel::<1>(&x, sums, panel, tile),
            2 => kernel::<2>(&x, sums, panel, tile),
            n => unreachable!("{n} rows; the driver passes at most {MR}"),
        }
    }
}

/// # Safety
/// AVX2+FMA; `x` and `sums` hold `R` rows of `blocks` blocks, the panel `blocks` blocks.
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel<const R: usize>(x: &RowPtrs, sums: &[i32], panel: PanelQ4<'_>, tile: &mut Tile) {
    let ones = _mm256_set1_epi16(1);
    let low = _mm256_set1_epi8(0x0F);
    let mut acc = [[_mm256_setzero_ps(); 4]; R];
    let w = panel.codes.as_ptr();
    for b in 0..x.blocks {
        let mut dot = [[_mm256_setzero_si256(); 4]; R];
        for r in 0..R {
            dot[r] = [_mm256_set1_epi32(-8 * sums[r * x.blocks + b]); 4];
        }
        for g in 0..BLOCK / 4 {
            // SAFETY: block b's group g: 64 bytes, two ymm.
            let (v0, v1) = unsafe {
                let p = w.add((b * 8 + g) * 64);
                (_mm256_loadu_si256(p.cast()), _mm256_loadu_si256(p.add(32).cast()))
            };
            // Columns 0-7, 8-15 (low nibbles), 16-23, 24-31 (high nibbles).
            let quarters = [
                _mm256_and_si256(v0, low),
                _mm256_and_si256(v1, low),
                _mm256_and_si256(_mm256_srli_epi16::<4>(v0), low),
                _mm256_and_si256(_mm256_srli_epi16::<4>(v1), low),
            ];
            for r in 0..R {
                // SAFETY: 4 bytes inside row r's block b.
                let four = unsafe { x.bytes.add((r * x.blocks + b) * BLOCK + 4 * g).cast::<i32>().read_unaligned() };
                let xs = _mm256_set1_epi32(four);
                for q in 0..4 {
                    let pairs = _mm256_maddubs_epi16(quarters[q], xs);
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
                acc[r][q] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[r][q]), _mm256_mul_ps(sw, sx), acc[r][q]);
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
