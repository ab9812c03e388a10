//! AVX-512 VNNI int8 kernel (Zen 4, Ice Lake and later): `vpdpbusd` adds 4 u8 x i8 products
//! per i32 lane, one lane per column. The activations come offset by +128 (u8); each column's
//! accumulator starts at `-128 · Σ w` over the block (stored with the packed weight), which
//! cancels the offset exactly, so the block's i32 sum equals Σ x w. The largest sum,
//! 32 · 255 · 127, is far inside i32.

// Index loops over the small register arrays read like the math and unroll fully.
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;
use std::ops::Range;

use super::BLOCK;
use super::pack::PanelQ8;
use super::quant::{QuantX, RowPtrs};
use crate::par::{NR, Tile};

/// Rows per call: 6 rows x (2 i32 + 2 f32 accumulators) + 2 weights + 2 scales fit in 32 zmm.
pub(super) const MR: usize = 6;

/// `tile[i] = x[rows.start + i] · W[:, panel]`, `xq` made with the +128 offset.
///
/// # Safety
/// The CPU must have AVX-512 VNNI, F and BW.
#[target_feature(enable = "avx512vnni,avx512f,avx512bw")]
pub(super) unsafe fn tile(xq: &QuantX, rows: Range<usize>, panel: PanelQ8<'_>, tile: &mut Tile) {
    let blocks = xq.blocks;
    panel.assert_blocks(blocks);
    let x = xq.rows(rows.clone());
    // SAFETY: `xq.rows` and `assert_blocks` bound every read of x and of the panel.
    unsafe {
        match rows.len() {
            1 => kernel::<1>(&x, panel, tile),
            2 => kernel::<2>(&x, panel, tile),
            3 => kernel::<3>(&x, panel, tile),
            4 => kernel::<4>(&x, panel, tile),
            5 => kernel::<5>(&x, panel, tile),
            6 => kernel::<6>(&x, panel, tile),
            n => unreachable!("{n} rows; the driver passes at most {MR}"),
        }
    }
}

/// # Safety
/// AVX-512 VNNI; `x` holds `R` rows of `blocks` blocks, the panel `blocks` blocks.
#[target_feature(enable = "avx512vnni,avx512f,avx512bw")]
unsafe fn kernel<const R: usize>(x: &RowPtrs, panel: PanelQ8<'_>, tile: &mut Tile) {
    let mut acc = [[_mm512_setzero_ps(); 2]; R];
    let w = panel.values.as_ptr();
    for b in 0..x.blocks {
        // SAFETY: block b's 32 corrections.
        let (c0, c1) = unsafe {
            let c = panel.neg_corrections.as_ptr().add(b * NR);
            (_mm512_loadu_si512(c.cast()), _mm512_loadu_si512(c.add(16).cast()))
        };
        let mut dot = [[c0, c1]; R];
        for g in 0..BLOCK / 4 {
            // SAFETY: 32 columns x 4 bytes of block b's group g, as two zmm.
            let (w0, w1) = unsafe {
                let p = w.add((b * 8 + g) * NR * 4);
                (_mm512_loadu_si512(p.cast()), _mm512_loadu_si512(p.add(64).cast()))
            };
            for r in 0..R {
                // SAFETY: 4 bytes inside row r's block b.
                let four = unsafe { x.bytes.add((r * x.blocks + b) * BLOCK + 4 * g).cast::<i32>().read_unaligned() };
                let xs = _mm512_set1_epi32(four);
                dot[r][0] = _mm512_dpbusd_epi32(dot[r][0], xs, w0);
                dot[r][1] = _mm512_dpbusd_epi32(dot[r][1], xs, w1);
            }
        }
        // SAFETY: block b's 32 scales.
        let (s0, s1) = unsafe {
            let s = panel.scales.as_ptr().add(b * NR);
            (_mm512_loadu_ps(s), _mm512_loadu_ps(s.add(16)))
        };
        for r in 0..R {
            // SAFETY: row r's scale of block b.
            let sx = unsafe { _mm512_set1_ps(*x.scales.add(r * x.blocks + b)) };
            acc[r][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[r][0]), _mm512_mul_ps(s0, sx), acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[r][1]), _mm512_mul_ps(s1, sx), acc[r][1]);
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
