//! Stored `[rows, cols]` weights -> `[cols, rows]` in the precision the model keeps them in
//! (f32, or bf16 for [`DType::BF16`](burn::tensor::DType) weights), converted and transposed
//! in one pass.
//!
//! Checkpoints store a linear weight as `[out, in]`; our `Linear` multiplies by `[in, out]`
//! (a transposed view would be free at load but makes gemm's small-row kernels 4-5x slower
//! on short text queries, benches/model/README.md). Doing the conversion and the transpose in
//! one cache-blocked pass over the raw bytes, on every core natively, replaces three passes
//! (widen, upload, device-side transpose copy) with one.

use half::bf16;

use crate::load::safetensors::{StoredDType, half_to_f32, widen_into};

/// Side of the square tiles: 64 x 64 f32 values is 16 KiB, well inside L1 + L2.
const TILE: usize = 64;

/// `bytes` holds `rows * cols` values of `dtype`, row-major (little-endian, as safetensors
/// stores them); returns their transpose as f32, row-major `[cols, rows]`. Exact.
pub fn widen_transposed(dtype: StoredDType, bytes: &[u8], rows: usize, cols: usize) -> Vec<f32> {
    transposed(dtype.size(), bytes, rows, cols, |src, dst| widen_into(dtype, src, dst))
}

/// Like [`widen_transposed`], as bf16: exact for bf16 checkpoints (the released ones), and
/// rounded to nearest-even from f32 or f16 ones.
pub fn bf16_transposed(dtype: StoredDType, bytes: &[u8], rows: usize, cols: usize) -> Vec<bf16> {
    transposed(dtype.size(), bytes, rows, cols, |src, dst| match dtype {
        StoredDType::BF16 => {
            for (d, b) in dst.iter_mut().zip(src.chunks_exact(2)) {
                *d = bf16::from_bits(u16::from_le_bytes([b[0], b[1]]));
            }
        }
        StoredDType::F16 => {
            for (d, b) in dst.iter_mut().zip(src.chunks_exact(2)) {
                *d = bf16::from_f32(half_to_f32(dtype, u16::from_le_bytes([b[0], b[1]])));
            }
        }
        StoredDType::F32 => {
            for (d, b) in dst.iter_mut().zip(src.chunks_exact(4)) {
                *d = bf16::from_f32(f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            }
        }
    })
}

/// The shared tiled transpose: `convert` turns a contiguous piece of one stored row
/// (`size` bytes per value) into values of `T`.
///
/// One band of `TILE` output rows per task. Each tile is converted from contiguous input row
/// pieces into a small buffer, then written out as contiguous output row pieces, so neither
/// side of the copy strides through memory.
fn transposed<T, F>(size: usize, bytes: &[u8], rows: usize, cols: usize, convert: F) -> Vec<T>
where
    T: Copy + Default + Send,
    F: Fn(&[u8], &mut [T]) + Sync,
{
    assert_eq!(bytes.len(), rows * cols * size, "transposed: byte count");
    let mut out = vec![T::default(); rows * cols];
    if out.is_empty() {
        return out;
    }
    let band = |(b, dst): (usize, &mut [T])| {
        let c0 = b * TILE;
        let width = dst.len() / rows;
        let mut tile = [[T::default(); TILE]; TILE];
        for r0 in (0..rows).step_by(TILE) {
            let height = TILE.min(rows - r0);
            for (i, tile_row) in tile.iter_mut().take(height).enumerate() {
                let start = ((r0 + i) * cols + c0) * size;
                convert(&bytes[start..start + width * size], &mut tile_row[..width]);
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
                (
                    StoredDType::BF16,
                    bf16.iter().flat_map(|v| ((v.to_bits() >> 16) as u16).to_le_bytes()).collect(),
                    &bf16,
                ),
                (StoredDType::F16, f16.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect(), &f16),
            ];
            for (dtype, bytes, exact) in cases {
                let got = widen_transposed(dtype, &bytes, rows, cols);
                let want: Vec<f32> = (0..rows * cols).map(|i| exact[(i % rows) * cols + i / rows]).collect();
                assert_eq!(got, want, "{dtype:?} {rows}x{cols}");
                let got = bf16_transposed(dtype, &bytes, rows, cols);
                let want: Vec<bf16> = want.iter().map(|&v| bf16::from_f32(v)).collect();
                assert_eq!(got, want, "bf16 from {dtype:?} {rows}x{cols}");
            }
        }
    }
}
