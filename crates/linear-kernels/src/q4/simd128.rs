//! wasm32 SIMD128 q4 kernel (the wasm CPU path in browsers and Node). Each 16-byte load holds
//! 4 inputs of 8 columns: the low nibbles are columns 4j..4j+4, the high nibbles columns
//! 16+4j..16+4j+4 (j = the load's index in its 64-byte group). The unsigned codes (q + 8,
//! 0..15) are widened to i16 and multiplied by the row's int8 activations with
//! `i32x4.dot_i16x8_s`, exactly like the int8 kernel; each block's `-8 · Σ x_q` is added once
//! to cancel the +8. All sums are exact in i32.

use std::arch::wasm32::*;
use std::ops::Range;

use super::pack::PanelQ4;
use crate::par::{NR, Tile};
use crate::q8::BLOCK;
use crate::q8::quant::QuantX;
use crate::q8::simd128::{pair_sums, widened_activations};

/// Rows per call: each widened code vector serves two rows.
pub(super) const MR: usize = 2;

/// Code bytes per block per panel.
const BLOCK_BYTES: usize = BLOCK * NR / 2;

/// `tile[i] = x[rows.start + i] · W[:, panel]`; `sums` is `[m, blocks]` of Σ x_q.
pub(super) fn tile(xq: &QuantX, sums: &[i32], rows: Range<usize>, panel: PanelQ4<'_>, tile: &mut Tile) {
    let blocks = xq.blocks;
    assert!(panel.codes.len() == blocks * BLOCK_BYTES && panel.scales.len() == blocks * NR);
    let bytes = &xq.bytes[rows.start * blocks * BLOCK..rows.end * blocks * BLOCK];
    let scales = &xq.scales[rows.start * blocks..rows.end * blocks];
    let sums = &sums[rows.start * blocks..rows.end * blocks];
    match rows.len() {
        1 => kernel::<1>(bytes, scales, sums, blocks, panel, tile),
        2 => kernel::<2>(bytes, scales, sums, blocks, panel, tile),
        n => unreachable!("{n} rows; the driver passes at most {MR}"),
    }
}

/// `R` rows of `blocks` blocks each in `bytes`, `scales` and `sums`.
#[target_feature(enable = "simd128")]
fn kernel<const R: usize>(
    bytes: &[u8],
    scales: &[f32],
    sums: &[i32],
    blocks: usize,
    panel: PanelQ4<'_>,
    tile: &mut Tile,
) {
    let low_nibbles = u8x16_splat(0x0F);
    for row in tile.iter_mut().take(R) {
        *row = [0.0; NR];
    }
    for b in 0..blocks {
        let xw = widened_activations::<R>(bytes, blocks, b);
        let codes = &panel.codes[b * BLOCK_BYTES..][..BLOCK_BYTES];
        for j in 0..4 {
            // dot[r][0..2]: columns 4j..4j+4 (low, high pair sums); dot[r][2..4]: 16+4j..16+4j+4.
            let mut dot = [[i32x4_splat(0); 4]; R];
            for g in 0..BLOCK / 4 {
                let c16 = &codes[g * 64 + j * 16..][..16];
                // SAFETY: `c16` is 16 readable bytes; v128_load needs no alignment.
                let v = unsafe { v128_load(c16.as_ptr().cast()) };
                let (low, high) = (v128_and(v, low_nibbles), u8x16_shr(v, 4));
                let widened = [
                    u16x8_extend_low_u8x16(low),
                    u16x8_extend_high_u8x16(low),
                    u16x8_extend_low_u8x16(high),
                    u16x8_extend_high_u8x16(high),
                ];
                for r in 0..R {
                    for (d, &w) in dot[r].iter_mut().zip(&widened) {
                        *d = i32x4_add(*d, i32x4_dot_i16x8(w, xw[r][g]));
                    }
                }
            }
            for (half, first_column) in [(0, 4 * j), (1, 16 + 4 * j)] {
                let sw = &panel.scales[b * NR + first_column..][..4];
                // SAFETY: 4 readable f32.
                let sw = unsafe { v128_load(sw.as_ptr().cast()) };
                for r in 0..R {
                    let sums = i32x4_add(
                        pair_sums(dot[r][2 * half], dot[r][2 * half + 1]),
                        i32x4_splat(-8 * sums[r * blocks + b]),
                    );
                    let s = f32x4_mul(sw, f32x4_splat(scales[r * blocks + b]));
                    let out = &mut tile[r][first_column..first_column + 4];
                    // SAFETY: `out` is 4 writable f32; load and store need no alignment.
                    unsafe {
                        let acc = v128_load(out.as_ptr().cast());
                        v128_store(out.as_mut_ptr().cast(), f32x4_add(acc, f32x4_mul(f32x4_convert_i32x4(sums), s)));
                    }
                }
            }
        }
    }
}
