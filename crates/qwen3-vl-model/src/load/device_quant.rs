//! int8 and q4 linear weights on devices other than the native CPU (wgpu, WebGPU): burn
//! quantized tensors that its matmul dequantizes inside the kernel.
//!
//! Both precisions are quantized on the host by `linear_kernels`' rules (one scale per 32
//! inputs of an output: int8 `max / 127`, q4 llama.cpp's Q4_0), so every device holds the same
//! values, a converted checkpoint loads without re-quantizing, and no f32 copy of a weight
//! ever reaches the device. The device gets them as burn's `Q8S` with one f32 scale per
//! block, `[out, in]` blocked along `in`, viewed transposed as the `[in, out]` weight.
//!
//! q4 stays 4-bit on the device, packed eight values to a word and expanded at each product
//! (`crate::device_q4`): burn's own 4-bit matmul on wgpu (`Q4S`, 0.22.1) returns wrong rows
//! whenever more than one row is multiplied (burn #4492; on lavapipe a 5 x 128 x 64 product was
//! off by 100%).

use burn::tensor::quantization::{QuantScheme, QuantStore, QuantValue, ScaleDtype};
use burn::tensor::{DType, Device, Tensor, TensorData};
use linear_kernels::{PackedQ4, PackedQ8};

use crate::device_q4::DeviceQ4;
use crate::error::{ModelError, Result};
use crate::layers::LinearWeight;

/// Inputs per block (both precisions), in these rows and in a converted checkpoint's
/// stored tensors (`packed_store`).
pub(crate) const BLOCK: usize = 32;

/// A weight quantized per output row: `values` `[n, blocks * 32]` (zero past `k`), `scales`
/// `[n, blocks]`, `blocks = ceil(k / 32)`; the portable form `packed_store` reads and writes.
pub(crate) struct QuantizedRows {
    /// Outputs.
    pub n: usize,
    /// Inputs.
    pub k: usize,
    /// The integer values: -127..=127 (int8) or -8..=7 (q4).
    pub values: Vec<i8>,
    /// One scale per block of 32 inputs of each output.
    pub scales: Vec<f32>,
    /// Whether the values are 4-bit (-8..=7).
    pub q4: bool,
}

impl QuantizedRows {
    /// Quantizes `w` (`[n, k]`, PyTorch's `[out, in]`) in 4 bits (`q4`) or 8.
    pub(crate) fn quantize(w: &[f32], n: usize, k: usize, q4: bool) -> Result<Self> {
        let bad = |e: linear_kernels::Error| ModelError::Config(format!("quantizing a weight: {e}"));
        let (values, scales) = if q4 {
            let (codes, scales) = PackedQ4::from_nk(w, n, k).map_err(bad)?.to_codes();
            (unpack_q4_codes(&codes), scales.iter().map(|&s| half::f16::from_bits(s).to_f32()).collect())
        } else {
            PackedQ8::from_nk(w, n, k).map_err(bad)?.to_quantized()
        };
        Ok(Self { n, k, values, scales, q4 })
    }

    /// The `[k, n]` weight on `device`: q4 packed ([`DeviceQ4`], scales in `dtype`, the
    /// compute dtype), int8 as burn's `Q8S`, or f32 values when `k` is not a whole number of
    /// blocks (burn's blocks must tile the tensor; no model weight is such).
    pub(crate) fn to_device(&self, device: &Device, dtype: DType) -> LinearWeight {
        if self.q4
            && let Some(q4) = DeviceQ4::upload(self, device, dtype)
        {
            return LinearWeight::Q4(q4);
        }
        LinearWeight::Tensor(self.to_device_tensor(device))
    }

    /// [`Self::to_device`] as one burn tensor: `Q8S`, or f32 for a ragged `k`.
    fn to_device_tensor(&self, device: &Device) -> Tensor<2> {
        let (n, k) = (self.n, self.k);
        if k % BLOCK != 0 {
            let blocks = k.div_ceil(BLOCK);
            let mut f = vec![0.0f32; k * n];
            for col in 0..n {
                for kk in 0..k {
                    let at = col * blocks * BLOCK + kk;
                    f[kk * n + col] = self.values[at] as f32 * self.scales[col * blocks + kk / BLOCK];
                }
            }
            return Tensor::from_data(TensorData::new(f, [k, n]), (device, burn::tensor::DType::F32));
        }
        let scheme = QuantScheme::default()
            .with_value(QuantValue::Q8S)
            .with_store(QuantStore::PackedU32(0))
            .per_block([BLOCK as u8], ScaleDtype::F32);
        let data = TensorData::quantized(self.values.clone(), [n, k], scheme, &self.scales, None);
        Tensor::<2>::from_data(data, device).transpose()
    }
}

/// q4 codes (`[n, blocks * 16]` bytes, code = q + 8, even input in the low nibble) as values.
pub(crate) fn unpack_q4_codes(codes: &[u8]) -> Vec<i8> {
    codes.iter().flat_map(|&b| [(b & 0x0F) as i8 - 8, (b >> 4) as i8 - 8]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host side, against plain arithmetic: q4 codes unpack low nibble first, and the
    /// values times the scales stay within half a step of the weights (int8), or one step (q4:
    /// Q4_0's scale maps the block's largest value to -8, so one of the other sign can clamp
    /// at 7); the device side is covered by the wgpu parity tests.
    #[test]
    fn rows_quantize_within_half_a_step() {
        assert_eq!(unpack_q4_codes(&[0x0F, 0x80]), vec![7, -8, -8, 0]);
        let (n, k) = (3, 40);
        let w: Vec<f32> = (0..n * k).map(|i| ((i * 37 % 101) as f32 - 50.0) / 70.0).collect();
        for (q4, max, steps) in [(false, 127, 0.5), (true, 8, 1.0)] {
            let rows = QuantizedRows::quantize(&w, n, k, q4).unwrap();
            assert_eq!((rows.values.len(), rows.scales.len()), (n * 64, n * 2));
            for col in 0..n {
                for kk in 0..k {
                    let (v, s) = (rows.values[col * 64 + kk], rows.scales[col * 2 + kk / 32]);
                    assert!((v as i32).abs() <= max, "{v}");
                    let err = (v as f32 * s - w[col * k + kk]).abs();
                    assert!(err <= s.abs() * steps * 1.01, "q4 {q4}, output {col}, input {kk}: error {err}, scale {s}");
                }
                assert!(rows.values[col * 64 + k..col * 64 + 64].iter().all(|&v| v == 0), "padding");
            }
        }
    }
}
