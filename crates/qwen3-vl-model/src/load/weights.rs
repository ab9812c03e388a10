//! Builds layers from a [`Checkpoint`] under their checkpoint names.

use std::sync::Arc;

use burn::tensor::quantization::{QuantScheme, QuantStore, QuantValue};
use burn::tensor::{DType, Device, Tensor, TensorData};

use crate::cpu_linear::{PackFormat, PackedWeight};
use crate::error::{ModelError, Result};
use crate::layers::{LayerNorm, Linear, LinearWeight, RmsNorm};
use crate::load::checkpoint::Checkpoint;
use crate::load::cpu_layout;
use crate::load::device_quant::QuantizedRows;
use crate::load::packed_store::{self, StoredKind, StoredWeight};

/// Values per int8 block that share one f32 scale: 32 consecutive inputs of one output, on
/// every device. 32 keeps the rounding error at ~0.5% of a weight's spread and the scales at
/// 1/8 of the int8 bytes. Every input width of both model sizes and the fixtures is a
/// multiple; on a device other than the CPU a weight whose width is not is held as its
/// dequantized f32 values rather than fail.
pub const INT8_BLOCK: u8 = 32;

/// The dtype that selects int8 linear weights (symmetric, one f32 scale per [`INT8_BLOCK`]
/// values) under f32 compute: a quarter of the f32 bytes. Pass it as the model's `dtype`.
///
/// Quantized on the host by `linear_kernels`' rule on every device; the CPU device runs our
/// kernels on it, the others burn's quantized matmul (packed four to a `u32`, the one int8
/// storage WGSL can hold; see `load::device_quant`).
pub fn int8_weights() -> DType {
    DType::QFloat(
        QuantScheme::default()
            .with_value(QuantValue::Q8S)
            .with_store(QuantStore::PackedU32(0))
            .per_block([INT8_BLOCK], burn::tensor::quantization::ScaleDtype::F32),
    )
}

/// Values per q4 block that share one f16 scale (see `linear_kernels::PackedQ4`).
pub const Q4_BLOCK: u8 = 32;

/// The dtype that selects 4-bit linear weights (symmetric, one f16 scale per [`Q4_BLOCK`]
/// inputs of each output, llama.cpp's Q4_0 rule) under f32 compute: about a sixth of the f32
/// bytes on the host and in a converted checkpoint. The CPU device runs our kernels on it
/// (`cpu_linear.rs`); the others hold its values packed on the device and expand them at each
/// product (`device_q4.rs`: burn's 4-bit matmul is wrong for more than one row).
///
/// burn's own Q4S scheme names it; burn's 4-bit kernels are never used for it.
pub fn q4_weights() -> DType {
    DType::QFloat(
        QuantScheme::default()
            .with_value(QuantValue::Q4S)
            .with_store(QuantStore::PackedU32(0))
            .per_block([Q4_BLOCK], burn::tensor::quantization::ScaleDtype::F16),
    )
}

/// Whether `dtype` is [`q4_weights`] (any 4-bit scheme).
pub fn is_q4(dtype: DType) -> bool {
    matches!(dtype, DType::QFloat(s) if matches!(s.value, QuantValue::Q4S | QuantValue::Q4F))
}

/// Reads named tensors from a checkpoint onto a device, in the model's float dtype.
pub struct WeightLoader<'a> {
    /// The checkpoint tensors are taken from.
    pub checkpoint: &'a Checkpoint,
    /// The device every tensor is uploaded to.
    pub device: &'a Device,
    /// The dtype the model computes in: every tensor but the linear weights.
    pub dtype: DType,
    /// The dtype linear weights are kept in: `dtype`, or bf16 or int8 ([`int8_weights`]) under
    /// f32 compute (see [`Linear`]).
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
    /// `[in, out]` (see [`crate::load::transpose`] for why).
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
        let cpu = crate::cpu_linear::applies(self.device, self.linear_dtype);
        let format = PackFormat::of_linear_dtype(self.linear_dtype);
        let quantized = match format {
            Some(PackFormat::Q4) => Some(StoredKind::Q4),
            Some(PackFormat::Q8) => Some(StoredKind::Q8),
            Some(PackFormat::Bf16) | None => None,
        };
        // A converted checkpoint in the CPU kernels' layout: used in place (mapped).
        if let Some(stored) = cpu_layout::stored_format(self.checkpoint, &weight_name) {
            if !cpu && format == Some(stored) {
                return Err(ModelError::CpuLayoutDevice { stored: cpu_layout::precision(stored).into() });
            }
            let packed = cpu_layout::read(self.checkpoint, &weight_name, stored, [d_out, d_in], format)?;
            return self.packed(name, packed, d_out, bias);
        }
        // A converted checkpoint: the weight is stored packed, and read back without
        // re-quantizing (only in its own precision).
        if let Some(kind) = packed_store::stored_kind(self.checkpoint, &weight_name) {
            let stored = StoredWeight {
                checkpoint: self.checkpoint,
                name: &weight_name,
                kind,
                n: d_out,
                k: d_in,
                requested: quantized,
            };
            if cpu {
                return self.packed(name, stored.read_packed()?, d_out, bias);
            }
            return self.with_bias(name, stored.read_rows()?.to_device(self.device, self.dtype), d_out, bias);
        }
        let weight = match self.linear_dtype {
            // The CPU device: packed once for our kernels; the stored copy is dropped here.
            // Packed from the file's bytes: no widened or transposed copy in between.
            DType::BF16 | DType::QFloat(_) if cpu => {
                let format = format.expect("bf16, int8 and q4 each have a format");
                let packed =
                    self.checkpoint.take_rows(&weight_name, shape, |w| PackedWeight::from_stored(format, w))?;
                return self.packed(name, packed, d_out, bias);
            }
            DType::BF16 => {
                let values = self.checkpoint.take_bf16_transposed(&weight_name, shape)?;
                LinearWeight::Tensor(Tensor::from_data(
                    TensorData::new(values, [d_in, d_out]),
                    (self.device, DType::BF16),
                ))
            }
            // Quantized on the host by the CPU kernels' rule from this one tensor's f32 copy,
            // which is then dropped (see `device_quant`).
            DType::QFloat(_) => {
                let values = self.checkpoint.take_f32(&weight_name, shape)?;
                QuantizedRows::quantize(&values, d_out, d_in, is_q4(self.linear_dtype))?
                    .to_device(self.device, self.dtype)
            }
            _ => LinearWeight::Tensor(
                self.upload(self.checkpoint.take_f32_transposed(&weight_name, shape)?, [d_in, d_out]),
            ),
        };
        self.with_bias(name, weight, d_out, bias)
    }

    /// A linear layer of a device `weight` (`[in, out]`) and `{name}.bias` when `bias`.
    fn with_bias(&self, name: &str, weight: LinearWeight, d_out: usize, bias: bool) -> Result<Linear> {
        let bias = if bias { Some(self.tensor(&format!("{name}.bias"), [d_out])?) } else { None };
        Ok(Linear { weight, bias })
    }

    fn packed(&self, name: &str, weight: PackedWeight, d_out: usize, bias: bool) -> Result<Linear> {
        let weight = Arc::new(weight);
        self.checkpoint.record_packed(&format!("{name}.weight"), &weight);
        let bias = if bias { Some(self.tensor(&format!("{name}.bias"), [d_out])?) } else { None };
        Ok(Linear { weight: LinearWeight::Packed(weight), bias })
    }

    /// A LayerNorm stored as `{name}.weight [dim]` and `{name}.bias [dim]`.
    pub fn layer_norm(&self, name: &str, dim: usize, eps: f64) -> Result<LayerNorm> {
        Ok(LayerNorm {
            weight: self.tensor(&format!("{name}.weight"), [dim])?,
            bias: self.tensor(&format!("{name}.bias"), [dim])?,
            eps,
        })
    }

    /// An RMSNorm stored as `{name}.weight [dim]`.
    pub fn rms_norm(&self, name: &str, dim: usize, eps: f64) -> Result<RmsNorm> {
        Ok(RmsNorm { weight: self.tensor(&format!("{name}.weight"), [dim])?, eps })
    }
}
