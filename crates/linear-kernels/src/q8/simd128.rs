//! wasm32 SIMD128 int8 kernel (the wasm CPU path in browsers and Node). SIMD128 has no byte
//! dot product, so each 16-byte load (4 columns x 4 inputs) is widened to two i16x8 vectors
//! and `i32x4.dot_i16x8_s` multiplies them by the row's 4 activations (widened the same way,
//! repeated twice), giving two i32 pair sums per column. Products are at most 127² and a block
//! sums 32 of them, so every i32 sum is exact; the pair sums are added once per block.

use std::arch::wasm32::*;
use std::ops::Range;

use super::BLOCK;
use super::pack::PanelQ8;
use super::quant::QuantX;
use crate::par::{NR, Tile};

/// Rows per call: each widened weight vector serves four rows.
pub(super) const MR: usize = 4;

/// `tile[i] = x[rows.start + i] · W[:, panel]`, `xq` made without the VNNI offset.
pub(super) fn tile(xq: &QuantX, rows: Range<usize>, panel: PanelQ8<'_>, tile: &mut Tile) {
    let blocks = xq.blocks;
    assert!(panel.values.len() == blocks * BLOCK * NR && panel.scales.len() == blocks * NR);
    let bytes = &xq.bytes[rows.start * blocks * BLOCK..rows.end * blocks * BLOCK];
    let scales = &xq.scales[rows.start * blocks..rows.end * blocks];
    match rows.len() {
        1 => kernel::<1>(bytes, scales, blocks, panel, tile),
        2 => kernel::<2>(bytes, scales, blocks, panel, tile),
        3 => kernel::<3>(bytes, scales, blocks, panel, tile),
        4 => kernel::<4>(bytes, scales, blocks, panel, tile),
        n => unreachable!("{n} rows; the driver passes at most {MR}"),
    }
}

/// `R` rows of `blocks` blocks each in `bytes` (`[R, blocks * 32]`) and `scales` (`[R, blocks]`).
#[target_feature(enable = "simd128")]
fn kernel<const R: usize>(bytes: &[u8], scales: &[f32], blocks: usize, panel: PanelQ8<'_>, tile: &mut Tile) {
    for row in tile.iter_mut().take(R) {
        *row = [0.0; NR];
    }
    for b in 0..blocks {
        let xw = widened_activations::<R>(bytes, blocks, b);
        let values = &panel.values[b * BLOCK * NR..][..BLOCK * NR];
        for quad in 0..NR / 4 {
            // Columns 4·quad .. 4·quad + 4: (low, high) i32x4 pair sums per row.
            let mut dot = [[i32x4_splat(0); 2]; R];
            for g in 0..BLOCK / 4 {
                let w16 = &values[(g * NR + quad * 4) * 4..][..16];
                // SAFETY: `w16` is 16 readable bytes; v128_load needs no alignment.
                let w = unsafe { v128_load(w16.as_ptr().cast()) };
                let (lo, hi) = (i16x8_extend_low_i8x16(w), i16x8_extend_high_i8x16(w));
                for r in 0..R {
                    dot[r][0] = i32x4_add(dot[r][0], i32x4_dot_i16x8(lo, xw[r][g]));
                    dot[r][1] = i32x4_add(dot[r][1], i32x4_dot_i16x8(hi, xw[r][g]));
                }
            }
            let sw = &panel.scales[b * NR + quad * 4..][..4];
            // SAFETY: 4 readable f32.
            let sw = unsafe { v128_load(sw.as_ptr().cast()) };
            for r in 0..R {
                let sums = pair_sums(dot[r][0], dot[r][1]);
                let s = f32x4_mul(sw, f32x4_splat(scales[r * blocks + b]));
                let out = &mut tile[r][quad * 4..quad * 4 + 4];
                // SAFETY: `out` is 4 writable f32; load and store need no alignment.
                unsafe {
                    let acc = v128_load(out.as_ptr().cast());
                    v128_store(out.as_mut_ptr().cast(), f32x4_add(acc, f32x4_mul(f32x4_convert_i32x4(sums), s)));
                }
            }
        }
    }
}

/// Block `b` of each of `R` rows (`bytes`: `[R, blocks * 32]`), as 8 vectors per row: group g's
/// 4 activations widened to i16 and repeated, `[x0 x1 x2 x3 x0 x1 x2 x3]`, the second operand of
/// `i32x4.dot_i16x8_s` against 2 columns' 4 widened weights (shared by the int8 and q4 kernels).
#[target_feature(enable = "simd128")]
pub(crate) fn widened_activations<const R: usize>(bytes: &[u8], blocks: usize, b: usize) -> [[v128; BLOCK / 4]; R] {
    std::array::from_fn(|r| {
        let block = &bytes[(r * blocks + b) * BLOCK..][..BLOCK];
        std::array::from_fn(|g| {
            let four = i32::from_le_bytes([block[4 * g], block[4 * g + 1], block[4 * g + 2], block[4 * g + 3]]);
            i16x8_extend_low_i8x16(i32x4_splat(four))
        })
    })
}

/// `[c0a c0b c1a c1b]`, `[c2a c2b c3a c3b]` -> `[c0 c1 c2 c3]`: each column's two pair sums.
#[target_feature(enable = "simd128")]
pub(crate) fn pair_sums(lo: v128, hi: v128) -> v128 {
    i32x4_add(i32x4_shuffle::<0, 2, 4, 6>(lo, hi), i32x4_shuffle::<1, 3, 5, 7>(lo, hi))
}
