//! The portable q4 kernel: i32 dot products of the signed codes (q = code - 8) with the int8
//! activations per block, then one f32 multiply-add per block with the product of the two
//! scales. The reference semantics of the SIMD kernels (and the wasm32 path).

use std::ops::Range;

use super::pack::PanelQ4;
use crate::par::{NR, Tile};
use crate::q8::BLOCK;
use crate::q8::quant::QuantX;

/// Rows per call.
pub(super) const MR: usize = 4;

/// `tile[i] = x[rows.start + i] · W[:, panel]`.
pub(super) fn tile(xq: &QuantX, rows: Range<usize>, panel: PanelQ4<'_>, tile: &mut Tile) {
    let blocks = xq.blocks;
    for (acc, r) in tile.iter_mut().zip(rows) {
        *acc = [0.0; NR];
        for b in 0..blocks {
            let xs = &xq.bytes[(r * blocks + b) * BLOCK..][..BLOCK];
            let sx = xq.scales[r * blocks + b];
            let codes = &panel.codes[b * BLOCK * NR / 2..][..BLOCK * NR / 2];
            // Columns innermost over the packed layout, so the compiler vectorizes across
            // columns (wasm32 SIMD128 and SSE2 alike).
            let mut dot = [0i32; NR];
            for (g, bytes) in codes.chunks_exact(64).enumerate() {
                let x4: [i32; 4] = std::array::from_fn(|j| i32::from(xs[4 * g + j] as i8));
                for c in 0..NR / 2 {
                    let four = &bytes[4 * c..4 * c + 4];
                    for (j, &byte) in four.iter().enumerate() {
                        dot[c] += x4[j] * (i32::from(byte & 0x0F) - 8);
                        dot[c + 16] += x4[j] * (i32::from(byte >> 4) - 8);
                    }
                }
            }
            let sw = &panel.scales[b * NR..][..NR];
            for ((a, &d), &s) in acc.iter_mut().zip(&dot).zip(sw) {
                // |d| <= 32 · 8 · 127 < 2^24, so the conversion to f32 is exact.
                *a += d as f32 * (s * sx);
            }
        }
    }
}
