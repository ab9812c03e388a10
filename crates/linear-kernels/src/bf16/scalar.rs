//! The portable bf16 kernel: the reference semantics of the SIMD widening kernels (exact f32
//! activations, bf16 weights widened to f32, f32 accumulation), on any target.

use std::ops::Range;

use crate::par::{NR, Tile};

/// Rows per call: four rows reuse each widened weight pair four times.
pub(super) const MR: usize = 4;

/// bf16 bits to f32: a bf16 is the top half of an f32.
fn widen(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

/// `tile[i] = x[rows.start + i] · W[:, panel]` for each row in `rows`.
pub(super) fn tile(x: &[f32], k: usize, rows: Range<usize>, panel: &[u16], tile: &mut Tile) {
    let kp = k.div_ceil(2);
    for (acc, r) in tile.iter_mut().zip(rows) {
        let xr = &x[r * k..][..k];
        *acc = [0.0; NR];
        for p in 0..kp {
            let x_lo = xr[2 * p];
            // The padding row of an odd K is zero in the weight; its activation is absent.
            let x_hi = xr.get(2 * p + 1).copied().unwrap_or(0.0);
            let w = &panel[p * 2 * NR..][..2 * NR];
            for (c, a) in acc.iter_mut().enumerate() {
                *a += x_lo * widen(w[2 * c]) + x_hi * widen(w[2 * c + 1]);
            }
        }
    }
}
