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
        let weight = transposed(self.tensor(&format!("{name}.weight"), [d_out, d_in])?);
        let bias = if bias { Some(self.tensor(&format!("{name}.bias"), [d_out])?) } else { None };
        Ok(Linear { weight, bias })
    }

    /// A linear layer whose checkpoint weight has extra trailing dims that flatten to `d_in`
    /// (the Conv3d patch embedding `[out, C, T, kh, kw]`).
    pub fn linear_from_conv(&self, name: &str, conv_shape: [usize; 5]) -> Result<Linear> {
        let d_out = conv_shape[0];
        let d_in: usize = conv_shape[1..].iter().product();
        let weight = transposed(self.upload(self.checkpoint.take_f32(&format!("{name}.weight"), &conv_shape)?, [d_out, d_in]));
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

/// `[rows, cols]` -> `[cols, rows]`, materialised on the device.
///
/// The transpose itself is a strided view; flattening it forces the backend's own copy into
/// row-major order (a tiled copy on the CPU backend, a kernel on wgpu), so the host never
/// holds a second, transposed buffer and only one weight exists twice at a time. On the 2B
/// model it loads about as fast as the host loop it replaced (19.9 s against 21.7 s on a busy
/// machine); the copy is still most of the load time (benches/model/README.md).
fn transposed(w: Tensor<2>) -> Tensor<2> {
    let [rows, cols] = w.dims();
    w.transpose().reshape([rows * cols]).reshape([cols, rows])
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Tensor, TensorData};

    #[test]
    fn transposed_swaps_rows_and_columns() {
        let device = Device::flex();
        let m = Tensor::<2>::from_data(TensorData::new((0..6).map(|x| x as f32).collect::<Vec<_>>(), [2, 3]), &device);
        let t = super::transposed(m);
        assert_eq!(t.dims(), [3, 2]);
        assert_eq!(t.into_data().try_to_vec::<f32>().unwrap(), [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    }
}
