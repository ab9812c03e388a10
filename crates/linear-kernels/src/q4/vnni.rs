//! AVX-512 VNNI q4 kernel (Zen 4, Ice Lake and later): each 64-byte load of codes is split into
//! its low nibbles (columns 0-15) and high nibbles (columns 16-31), and `vpdpbusd` adds 4
//! products of an unsigned code (q + 8, 0..15) and a signed int8 activation per i32 lane. Each
//! accumulator starts at the row-block's `-8 · Σ x_q`, which cancels the +8 exactly; the
//! largest sum, 32 · 15 · 127, is far inside i32.

// Index loops over the small register arrays read like the math and unroll fully.
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;
use std::ops::Range;

use super::pack::PanelQ4;
use crate::par::{NR, Tile};
use crate::q8::BLOCK;
use crate::q8::quant::{QuantX, RowPtrs};

/// Rows per call: 6 rows x (2 i32 + 2 f32 accumulators) + 2 code halves + 2 scales fit in 32 zmm.
pub(super) const MR: usize = 6;

/// `tile[i] = x[rows.start + i] · W[:, panel]`; `sums` is `[m, blocks]` of Σ x_q.
///
/// # Safety
/// The CPU must have AVX-512 VNNI, F and BW.
#[target_feature(enable = "avx512vnni,avx512f,avx512bw")]
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
            3 => kernel::<3>(&x, sums, panel, tile),
            4 => kernel::<4>(&x, sums, panel, tile),
            5 => kernel::<5>(&x, sums, panel, tile),
            6 => kernel::<6>(&x, sums, panel, tile),
            n => unreachable!("{n} rows; the driver passes at most {MR}"),
        }
    }
}

/// # Safety
/// AVX-512 VNNI; `x` and `sums` hold `R` rows of `blocks` blocks, the panel `blocks` blocks.
#[target_feature(enable = "avx512vnni,avx512f,avx512bw")]
unsafe fn kernel<const R: usize>(x: &RowPtrs, sums: &[i32], panel: PanelQ4<'_>, tile: &mut Tile) {
    let mut acc = [[_mm512_setzero_ps(); 2]; R];
    let low = _mm512_set1_epi8(0x0F);
    let w = panel.codes.as_ptr();
    for b in 0..x.blocks {
        let mut dot = [[_mm512_setzero_si512(); 2]; R];
        for r in 0..R {
            let start = _mm512_set1_epi32(-8 * sums[r * x.blocks + b]);
            dot[r] = [start, start];
        }
        for g in 0..BLOCK / 4 {
            // SAFETY: block b's group g: 64 bytes, columns 0-15 low, 16-31 high.
            let v = unsafe { _mm512_loadu_si512(w.add((b * 8 + g) * 64).cast()) };
            let lo = _mm512_and_si512(v, low);
            let hi = _mm512_and_si512(_mm512_srli_epi16::<4>(v), low);
            for r in 0..R {
                // SAFETY: 4 bytes inside row r's block b.
                let four = unsafe { x.bytes.add((r * x.blocks + b) * BLOCK + 4 * g).cast::<i32>().read_unaligned() };
                let xs = _mm512_set1_epi32(four);
                dot[r][0] = _mm512_dpbusd_epi32(dot[r][0], lo, xs);
                dot[r][1] = _mm512_dpbusd_epi32(dot[r][1], hi, xs);
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
