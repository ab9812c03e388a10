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
            for (c, a) in acc.iter_mut().enumerate() {
                let mut dot = 0i32;
                for (kk, &xk) in xs.iter().enumerate() {
                    dot += i32::from(xk as i8) * i32::from(wq[((kk / 4) * NR + c) * 4 + kk % 4]);
                }
                // |dot| <= 32 · 127² < 2^24, so the conversion to f32 is exact.
                *a += dot as f32 * (panel.scales[b * NR + c] * sx);
            }
        }
    }
}
