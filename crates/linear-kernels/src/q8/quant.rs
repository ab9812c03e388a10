//! Symmetric int8 quantization of one 32-block, shared by the weights (at pack time) and the
//! activations (per call), so both sides round the same way.

#[cfg(target_arch = "x86_64")]
use std::ops::Range;

use rayon::prelude::*;

use super::BLOCK;

/// Quantizes `v` to `q` in [-127, 127] and returns the scale s with `v ≈ s · q`, s = max|v| /
/// 127, so `|v - s q| <= s / 2` (up to f32 rounding). An all-zero (or subnormal) block gets
/// s = 0 and q = 0. Values must be finite.
///
/// -128 is never produced: the AVX2 kernel's sign trick negates weights, and |q| <= 127 keeps
/// its i16 pair sums (2 · 127 · 127) below saturation.
pub(crate) fn quantize_block(v: &[f32; BLOCK], q: &mut [i8; BLOCK]) -> f32 {
    let amax = abs_max(v);
    if amax < f32::MIN_POSITIVE {
        *q = [0; BLOCK];
        return 0.0;
    }
    let inv = 127.0 / amax;
    for (qi, &x) in q.iter_mut().zip(v) {
        // |x · inv| <= 127 (1 + 2^-23): inside `round_to_i32`'s range.
        *qi = round_to_i32(x * inv) as i8;
    }
    amax / 127.0
}

/// max |v|: eight independent running maxima, so the compiler keeps them in one vector
/// register. One running maximum is a chain of 32 dependent `maxss` that cannot vectorize
/// (f32 max is not reassociated); `perf` put that chain at 20% of an int8 model load.
pub(crate) fn abs_max(v: &[f32; BLOCK]) -> f32 {
    let mut lanes = [0.0f32; 8];
    for chunk in v.chunks_exact(8) {
        for (m, &x) in lanes.iter_mut().zip(chunk) {
            *m = m.max(x.abs());
        }
    }
    lanes.iter().fold(0.0f32, |a, &m| a.max(m))
}

/// `v` rounded to the nearest integer (ties to even), for |v| <= 2^22: adding 1.5 · 2^23
/// pushes the fraction out of the mantissa, whose low bits then hold the integer. Unlike
/// `f32::round` and a saturating `as` conversion, it vectorizes on baseline x86-64 (no
/// SSE4.1 `roundps`; `perf` showed one `cvttss2si` per value, a third of the quantization).
pub(crate) fn round_to_i32(v: f32) -> i32 {
    const MAGIC: f32 = 12_582_912.0;
    (v + MAGIC).to_bits() as i32 - MAGIC.to_bits() as i32
}

/// Activations `[m, k]` quantized per row per block: row r's block b is `bytes[r][32b..32b+32]`
/// with scale `scales[r][b]`; the last block is zero-padded.
pub(crate) struct QuantX {
    /// Blocks per row, `ceil(k / 32)`.
    pub(crate) blocks: usize,
    /// `[m, blocks * 32]` quantized values: i8 bits, or i8 + 128 when made for VNNI.
    pub(crate) bytes: Vec<u8>,
    /// `[m, blocks]` scales.
    pub(crate) scales: Vec<f32>,
}

impl QuantX {
    /// Quantizes `x` (`[m, k]`); `offset` adds 128 to every value (u8 for `vpdpbusd`).
    pub(crate) fn new(x: &[f32], m: usize, k: usize, offset: bool) -> Self {
        let blocks = k.div_ceil(BLOCK);
        let mut bytes = vec![0u8; m * blocks * BLOCK];
        let mut scales = vec![0.0f32; m * blocks];
        if blocks > 0 {
            bytes
                .par_chunks_mut(blocks * BLOCK)
                .zip(scales.par_chunks_mut(blocks))
                .zip(x.par_chunks(k))
                .for_each(|((bytes, scales), row)| quantize_row(row, offset, bytes, scales));
        }
        QuantX { blocks, bytes, scales }
    }
}

// The SIMD kernels, the only users, exist only on x86-64.
#[cfg(target_arch = "x86_64")]
impl QuantX {
    /// Raw pointers to rows `rows`, for the SIMD kernels; panics if they are out of range, so
    /// a kernel reading `rows.len()` rows of `blocks` blocks stays inside the buffers.
    pub(crate) fn rows(&self, rows: Range<usize>) -> RowPtrs {
        let blocks = self.blocks;
        assert!(rows.end * blocks * BLOCK <= self.bytes.len());
        assert!(rows.end * blocks <= self.scales.len());
        RowPtrs {
            bytes: self.bytes[rows.start * blocks * BLOCK..].as_ptr(),
            scales: self.scales[rows.start * blocks..].as_ptr(),
            blocks,
        }
    }
}

/// Where a tile's quantized activation rows start (see [`QuantX::rows`]).
#[cfg(target_arch = "x86_64")]
pub(crate) struct RowPtrs {
    /// Row-major `[rows, blocks * 32]` bytes.
    pub(crate) bytes: *const u8,
    /// Row-major `[rows, blocks]` scales.
    pub(crate) scales: *const f32,
    /// Blocks per row.
    pub(crate) blocks: usize,
}

/// One row of [`QuantX::new`].
fn quantize_row(row: &[f32], offset: bool, bytes: &mut [u8], scales: &mut [f32]) {
    let flip = if offset { 0x80 } else { 0 };
    for (b, (out, scale)) in bytes.chunks_exact_mut(BLOCK).zip(scales).enumerate() {
        let mut v = [0.0f32; BLOCK];
        let src = &row[b * BLOCK..row.len().min((b + 1) * BLOCK)];
        v[..src.len()].copy_from_slice(src);
        let mut q = [0i8; BLOCK];
        *scale = quantize_block(&v, &mut q);
        for (o, &qi) in out.iter_mut().zip(&q) {
            // q + 128 in u8 is q's bits with the top bit flipped.
            *o = (qi as u8) ^ flip;
        }
    }
}
