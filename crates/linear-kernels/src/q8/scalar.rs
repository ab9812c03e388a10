//! The portable int8 kernel: i32 dot products per block, then one f32 multiply-add per block
//! with the product of the two scales. The reference semantics of the SIMD kernels.

use std::ops::Range;

use super::BLOCK;
use super::pack::PanelQ8;
use super::quant::QuantX;
use crate::par::{NR, Tile};

/// Rows per call.
pub(super) const MR: usize = 4;

/// `tile[i] = x[rows.start + i] · W[:, panel]`, `xq` made without the VNNI offset.
pub(super) fn tile(xq: &QuantX, rows: Range<usize>, panel: PanelQ8<'_>, tile: &mut Tile) {
    let blocks = xq.blocks;
    for (acc, r) in tile.iter_mut().zip(rows) {
        *acc = [0.0; NR];
        for b in 0..blocks {
            let xs = &xq.bytes[(r * blocks + b) * BLOCK..][..BLOCK];
            let sx = xq.scales[r * blocks + b];
            let wq = &panel.values[b * BLOCK * NR..][..BLOCK * NR];
            // Columns innermost, over the packed [g][c][4] layout: the compiler vectorizes
            // across columns (wasm32 SIMD128 and SSE2 alike).
            let mut dot = [0i32; NR];
            for (g, wg) in wq.chunks_exact(4 * NR).enumerate() {
                let x4: [i32; 4] = std::array::from_fn(|j| i32::from(xs[4 * g + j] as i8));
                for (d, w4) in dot.iter_mut().zip(wg.chunks_exact(4)) {
                    *d += x4[0] * i32::from(w4[0])
                        + x4[1] * i32::from(w4[1])
                        + x4[2] * i32::from(w4[2])
                        + x4[3] * i32::from(w4[3]);
                }
            }
            let sw = &panel.scales[b * NR..][..NR];
            for ((a, &d), &s) in acc.iter_mut().zip(&dot).zip(sw) {
                // |d| <= 32 · 127² < 2^24, so the conversion to f32 is exact.
                *a += d as f32 * (s * sx);
            }
        }
    }
}
