//! Stored `[rows, cols]` weights -> f32 `[cols, rows]`, widened and transposed in one pass.
//!
//! Checkpoints store a linear weight as `[out, in]`; our `Linear` multiplies by `[in, out]`
//! (a transposed view would be free at load but makes gemm's small-row kernels 4-5x slower
//! on short text queries, benches/model/README.md). Doing the widening and the transpose in
//! one cache-blocked pass over the raw bytes, on every core natively, replaces three passes
//! (widen, upload, device-side transpose copy) with one.

use crate::safetensors::{StoredDType, widen_into};

/// Side of the square tiles: 64 x 64 f32 values is 16 KiB, well inside L1 + L2.
const TILE: usize = 64;

/// `bytes` holds `rows * cols` values of `dtype`, row-major (little-endian, as safetensors
/// stores them); returns their transpose as f32, row-major `[cols, rows]`.
///
/// One band of `TILE` output rows per task. Each tile is widened from contiguous input row
/// pieces into a small buffer, then written out as contiguous output row pieces, so neither
/// side of the copy strides through memory.
pub fn widen_transposed(dtype: StoredDType, bytes: &[u8], rows: usize, cols: usize) -> Vec<f32> {
    let size = dtype.size();
    assert_eq!(bytes.len(), rows * cols * size, "widen_transposed: byte count");
    let mut out = vec![0f32; rows * cols];
    if out.is_empty() {
        return out;
    }
    let band = |(b, dst): (usize, &mut [f32])| {
        let c0 = b * TILE;
        let width = dst.len() / rows;
        let mut tile = [[0f32; TILE]; TILE];
        for r0 in (0..rows).step_by(TILE) {
            let height = TILE.min(rows - r0);
            for (i, tile_row) in tile.iter_mut().take(height).enumerate() {
                let start = ((r0 + i) * cols + c0) * size;
                widen_into(dtype, &bytes[start..start + width * size], &mut tile_row[..width]);
            }
            for dc in 0..width {
                let out_row = &mut dst[dc * rows + r0..dc * rows + r0 + height];
                for (i, slot) in out_row.iter_mut().enumerate() {
                    *slot = tile[i][dc];
                }
            }
        }
    };
    #[cfg(not(target_family = "wasm"))]
    {
        use rayon::prelude::*;
        out.par_chunks_mut(TILE * rows).enumerate().for_each(band);
    }
    #[cfg(target_family = "wasm")]
    out.chunks_mut(TILE * rows).enumerate().for_each(band);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the plain definition of a transpose, on shapes that are not tile multiples.
    #[test]
    fn equals_a_naive_transpose_for_every_dtype() {
        for (rows, cols) in [(1, 1), (3, 130), (129, 65), (64, 64), (200, 7)] {
            let values: Vec<f32> = (0..rows * cols).map(|i| (i as f32 * 0.37).sin() * 8.0).collect();
            let bf16: Vec<f32> = values.iter().map(|v| f32::from_bits(v.to_bits() & 0xffff_0000)).collect();
            let f16: Vec<f32> = values.iter().map(|v| half::f16::from_f32(*v).to_f32()).collect();
            let cases: [(StoredDType, Vec<u8>, &Vec<f32>); 3] = [
                (StoredDType::F32, values.iter().flat_map(|v| v.to_le_bytes()).collect(), &values),
                (StoredDType::BF16, bf16.iter().flat_map(|v| ((v.to_bits() >> 16) as u16).to_le_bytes()).collect(), &bf16),
                (StoredDType::F16, f16.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect(), &f16),
            ];
            for (dtype, bytes, exact) in cases {
                let got = widen_transposed(dtype, &bytes, rows, cols);
                let want: Vec<f32> = (0..rows * cols).map(|i| exact[(i % rows) * cols + i / rows]).collect();
                assert_eq!(got, want, "{dtype:?} {rows}x{cols}");
            }
        }
    }
}
