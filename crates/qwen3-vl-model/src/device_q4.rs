//! 4-bit linear weights on devices other than the native CPU (wgpu, WebGPU), held packed:
//! eight values per i32 word, expanded by a few burn ops at each product.
//!
//! Why: held as int8 on the device (what `load::device_quant` did for q4 before), the 2B's
//! q4 weights took 2.05 GB of GPU buffers, over the 1.6 GB a browser tab can count on; packed
//! they take half a byte per weight plus one scale per 32. Why not burn's own 4-bit matmul
//! (`Q4S`): on wgpu it fails whenever more than one row is multiplied (burn #4492, 0.22.1).
//!
//! The cost: each product materialises its weight in the compute dtype while the matmul runs
//! (the 2B's largest, 2048 x 6144, is 50 MB in f32) and drops it after, and the expansion is a
//! handful of extra elementwise kernels per linear layer. A fused 4-bit matmul kernel of our
//! own would remove both; the device's memory for weights is what this module fixes.

use burn::tensor::{DType, Device, Int, Tensor, TensorData};

use crate::load::device_quant::{BLOCK, QuantizedRows};

/// Values per i32 word.
const PER_WORD: usize = 8;

/// A `[k, n]` weight of 4-bit values (-8..=7) with one scale per 32 inputs of each output,
/// packed on the device (see the module doc).
#[derive(Debug, Clone)]
pub struct DeviceQ4 {
    /// `[k / 8, n]`: word (j, col) holds inputs 8j..8j+8 of output `col`, input 8j+i as
    /// value + 8 in bits 4i..4i+4, so expanding yields `[k, n]` rows with no transpose.
    words: Tensor<2, Int>,
    /// `[k / 32, n]`, in the compute dtype (q4's f16 scales are exact in f16 and f32).
    scales: Tensor<2>,
    /// `[1, 8, 1]`: the shifts 0, 4, ..., 28 that bring each value to the low bits.
    shifts: Tensor<3, Int>,
}

impl DeviceQ4 {
    /// Uploads q4 `rows` (values -8..=7) to `device`, scales in `dtype`; `None` when `k` is
    /// not a whole number of 32-blocks (no model weight is such; the caller keeps them in f32).
    pub(crate) fn upload(rows: &QuantizedRows, device: &Device, dtype: DType) -> Option<Self> {
        let (n, k) = (rows.n, rows.k);
        if k % BLOCK != 0 || k == 0 || n == 0 {
            return None;
        }
        let blocks = k / BLOCK;
        let row = |col: usize| &rows.values[col * blocks * BLOCK..][..k];
        let mut words = vec![0i32; k / PER_WORD * n];
        for col in 0..n {
            for (j, eight) in row(col).chunks_exact(PER_WORD).enumerate() {
                let word = eight.iter().enumerate().fold(0u32, |w, (i, &v)| w | (((v + 8) as u32 & 0xF) << (4 * i)));
                words[j * n + col] = word as i32;
            }
        }
        let mut scales = vec![0.0f32; blocks * n];
        for col in 0..n {
            for b in 0..blocks {
                scales[b * n + col] = rows.scales[col * blocks + b];
            }
        }
        let shifts: Vec<i32> = (0..PER_WORD as i32).map(|i| 4 * i).collect();
        Some(Self {
            words: Tensor::from_data(TensorData::new(words, [k / PER_WORD, n]), device),
            scales: Tensor::from_data(TensorData::new(scales, [blocks, n]), (device, dtype)),
            shifts: Tensor::from_data(TensorData::new(shifts, [1, PER_WORD, 1]), device),
        })
    }

    /// The weight expanded to the scales' dtype, for one product.
    ///
    /// # Shapes
    /// -> `[k, n]`
    pub fn dequantize(&self) -> Tensor<2> {
        let [words, n] = self.words.dims();
        let k = words * PER_WORD;
        let shape = [words, PER_WORD, n];
        // Masking after the shift makes the arithmetic shift of a negative word harmless.
        let codes = self
            .words
            .clone()
            .unsqueeze_dim::<3>(1)
            .expand(shape)
            .bitwise_right_shift(self.shifts.clone().expand(shape))
            .bitwise_and_scalar(0xF);
        let values = codes.float().cast(self.scales.dtype()).sub_scalar(8.0).reshape([k / BLOCK, BLOCK, n]);
        (values * self.scales.clone().unsqueeze_dim::<3>(1)).reshape([k, n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expanded on the device, the weight equals the host's value x scale exactly (both are one
    /// f32 product of the same two numbers), for every nibble position and sign, on the CPU
    /// device and, when an adapter exists, on wgpu.
    #[test]
    fn dequantize_equals_the_host_product() {
        let (n, k) = (5, 96);
        let values: Vec<i8> = (0..n * k).map(|i| ((i * 7 + i / 13) % 16) as i8 - 8).collect();
        let scales: Vec<f32> = (0..n * k / BLOCK).map(|i| (i as f32 - 6.5) / 37.0).collect();
        let rows = QuantizedRows { n, k, values: values.clone(), scales: scales.clone(), q4: true };
        let mut want = vec![0.0f32; k * n];
        for col in 0..n {
            for kk in 0..k {
                want[kk * n + col] = values[col * k + kk] as f32 * scales[col * (k / BLOCK) + kk / BLOCK];
            }
        }
        let mut devices = vec![("cpu", Device::flex())];
        match Device::wgpu_options().init() {
            Ok(d) => devices.push(("wgpu", d)),
            Err(e) => eprintln!("NOT CHECKED on wgpu (no adapter: {e:?}); the CPU device only"),
        }
        for (name, device) in devices {
            let q = DeviceQ4::upload(&rows, &device, DType::F32).unwrap();
            let got = q.dequantize().into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
            assert_eq!(got, want, "{name}");
        }
        let ragged = QuantizedRows { n: 1, k: 40, values: vec![0; 64], scales: vec![1.0; 2], q4: true };
        assert!(DeviceQ4::upload(&ragged, &Device::flex(), DType::F32).is_none());
    }
}
