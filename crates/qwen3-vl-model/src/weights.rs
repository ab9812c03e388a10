//! Builds layers from a [`Checkpoint`] under their checkpoint names.

use burn::tensor::{DType, Device, Tensor, TensorData};

use crate::checkpoint::Checkpoint;
use crate::error::Result;
use crate::layers::{LayerNorm, Linear, RmsNorm};

/// Reads named tensors from a checkpoint onto a device, in the model's float dtype.
pub struct WeightLoader<'a> {
    pub checkpoint: &'a Checkpoint,
    pub device: &'a Device,
    pub dtype: DType,
}

impl WeightLoader<'_> {
    /// A tensor of exactly `shape`, converted to the model dtype.
    pub fn tensor<const D: usize>(&self, name: &str, shape: [usize; D]) -> Result<Tensor<D>> {
        let values = self.checkpoint.take_f32(name, &shape)?;
        Ok(self.upload(values, shape))
    }

    /// Host values onto the device in the model dtype.
    pub fn upload<const D: usize>(&self, values: Vec<f32>, shape: [usize; D]) -> Tensor<D> {
        Tensor::from_data(TensorData::new(values, shape), (self.device, self.dtype))
    }

    /// A linear layer stored as `{name}.weight [out, in]` (+ `{name}.bias [out]`).
    pub fn linear(&self, name: &str, d_in: usize, d_out: usize, bias: bool) -> Result<Linear> {
        let w = self.checkpoint.take_f32(&format!("{name}.weight"), &[d_out, d_in])?;
        let weight = self.upload(transpose(&w, d_out, d_in), [d_in, d_out]);
        drop(w);
        let bias = if bias { Some(self.tensor(&format!("{name}.bias"), [d_out])?) } else { None };
        Ok(Linear { weight, bias })
    }

    /// A linear layer whose checkpoint weight has extra trailing dims that flatten to `d_in`
    /// (the Conv3d patch embedding `[out, C, T, kh, kw]`).
    pub fn linear_from_conv(&self, name: &str, conv_shape: [usize; 5]) -> Result<Linear> {
        let d_out = conv_shape[0];
        let d_in: usize = conv_shape[1..].iter().product();
        let w = self.checkpoint.take_f32(&format!("{name}.weight"), &conv_shape)?;
        let weight = self.upload(transpose(&w, d_out, d_in), [d_in, d_out]);
        let bias = Some(self.tensor(&format!("{name}.bias"), [d_out])?);
        Ok(Linear { weight, bias })
    }

    pub fn layer_norm(&self, name: &str, dim: usize, eps: f64) -> Result<LayerNorm> {
        Ok(LayerNorm {
            weight: self.tensor(&format!("{name}.weight"), [dim])?,
            bias: self.tensor(&format!("{name}.bias"), [dim])?,
            eps,
        })
    }

    pub fn rms_norm(&self, name: &str, dim: usize, eps: f64) -> Result<RmsNorm> {
        Ok(RmsNorm { weight: self.tensor(&format!("{name}.weight"), [dim])?, eps })
    }
}

/// Row-major `[rows, cols]` -> `[cols, rows]`, in cache-sized tiles.
fn transpose(src: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const TILE: usize = 32;
    let mut dst = vec![0.0f32; src.len()];
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    dst[c * rows + r] = src[r * cols + c];
                }
            }
        }
    }
    dst
}

#[cfg(test)]
mod tests {
    #[test]
    fn transpose_swaps_rows_and_columns() {
        let m: Vec<f32> = (0..6).map(|x| x as f32).collect();
        assert_eq!(super::transpose(&m, 2, 3), [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    }
}
