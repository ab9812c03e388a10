//! Builds layers from a [`Checkpoint`] under their checkpoint names.

use burn::tensor::{DType, Device, Tensor, TensorData};

use crate::checkpoint::Checkpoint;
use crate::error::Result;
use crate::layers::{LayerNorm, Linear, RmsNorm};

/// Reads named tensors from a checkpoint onto a device, in the model's float dtype.
pub struct WeightLoader<'a> {
    pub checkpoint: &'a Checkpoint,
    pub device: &'a Device,
    /// The dtype the model computes in: every tensor but the linear weights.
    pub dtype: DType,
    /// The dtype linear weights are kept in: `dtype`, or bf16 under f32 compute (see
    /// [`Linear`]).
    pub linear_dtype: DType,
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

    /// A linear layer stored as `{name}.weight [out, in]` (+ `{name}.bias [out]`), held as
    /// `[in, out]` (see [`crate::transpose`] for why).
    pub fn linear(&self, name: &str, d_in: usize, d_out: usize, bias: bool) -> Result<Linear> {
        self.linear_shaped(name, &[d_out, d_in], bias)
    }

    /// A linear layer whose checkpoint weight has extra trailing dims that flatten to `d_in`
    /// (the Conv3d patch embedding `[out, C, T, kh, kw]`).
    pub fn linear_from_conv(&self, name: &str, conv_shape: [usize; 5]) -> Result<Linear> {
        self.linear_shaped(name, &conv_shape, true)
    }

    fn linear_shaped(&self, name: &str, shape: &[usize], bias: bool) -> Result<Linear> {
        let (d_out, d_in) = (shape[0], shape[1..].iter().product());
        let weight_name = format!("{name}.weight");
        let weight = if self.linear_dtype == DType::BF16 {
            let values = self.checkpoint.take_bf16_transposed(&weight_name, shape)?;
            Tensor::from_data(TensorData::new(values, [d_in, d_out]), (self.device, DType::BF16))
        } else {
            self.upload(self.checkpoint.take_f32_transposed(&weight_name, shape)?, [d_in, d_out])
        };
        let bias = if bias { Some(self.tensor(&format!("{name}.bias"), [d_out])?) } else { None };
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
