//! The CPU device's linear layers with low-precision weights: the one place the model knows
//! about CPU kernels (crate `linear-kernels`). Every other device, and f32/f16 weights on the
//! CPU, keep burn's matmul (`Linear::forward`'s generic path).
//!
//! Why: burn's CPU backend widens a bf16 weight to f32 and dequantizes an int8 weight into an
//! f32 copy before every product, so a 32-token query streams ~7 GB of widened 2B weights per
//! forward pass. Here the weights are packed once, at load, into the layout the kernels read
//! (bf16 panels; int8 with one f32 scale per 32 inputs of each output; 4-bit with one f16
//! scale per 32), and every product reads
//! them as they are: AVX-512 BF16 / VNNI where the CPU has them, else AVX-512F / AVX2, SIMD128
//! on wasm32, or portable Rust, chosen at load (`QWEN3_VL_CPU_KERNELS` caps the level, so each path can be
//! tested on any CPU; see `linear_kernels::Level`).
//!
//! Accuracy: bf16 weights meet f32 activations exactly (f32 accumulation) except with the
//! AVX-512 BF16 kernel, which rounds activations to bf16 inside the product, as PyTorch's bf16
//! matmul does; int8 and q4 quantize activations per row and block of 32 on the fly. The tests
//! hold them to the project's bounds (bf16 cosine >= 0.9999, int8 >= 0.999, q4 >= 0.99 to f32).

use burn::tensor::{DType, Device, Tensor, TensorData};
use linear_kernels::{Bf16Kernel, PackedBf16, PackedQ4, PackedQ8, Q8Kernel};

use crate::error::{ModelError, Result};
use crate::load::safetensors::{StoredDType, StoredRows};

/// A weight packed for the CPU kernels, with the kernel chosen for it at load.
#[derive(Debug)]
pub enum PackedWeight {
    /// bf16 weights (`[in, out]` packed in column panels).
    Bf16(PackedBf16, Bf16Kernel),
    /// int8 weights with one f32 scale per 32 inputs of each output.
    Q8(PackedQ8, Q8Kernel),
    /// 4-bit weights with one f16 scale per 32 inputs of each output (the int8 kernel family).
    Q4(PackedQ4, Q8Kernel),
}

/// The CPU kernels' weight formats (see [`PackedWeight`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackFormat {
    /// bf16 panels.
    Bf16,
    /// int8 with one f32 scale per 32 inputs.
    Q8,
    /// 4-bit with one f16 scale per 32 inputs.
    Q4,
}

impl PackFormat {
    /// The format linear weights of `dtype` are packed in on the CPU: bf16,
    /// [`int8_weights`](crate::int8_weights) or [`q4_weights`](crate::q4_weights); `None`
    /// for the others.
    pub fn of_linear_dtype(dtype: DType) -> Option<Self> {
        match dtype {
            DType::BF16 => Some(Self::Bf16),
            DType::QFloat(_) if crate::is_q4(dtype) => Some(Self::Q4),
            DType::QFloat(_) => Some(Self::Q8),
            _ => None,
        }
    }

    /// The names of the packed arrays ([`PackedWeight::parts`]), in order.
    pub fn part_names(self) -> &'static [&'static str] {
        match self {
            Self::Bf16 => &PackedBf16::PART_NAMES,
            Self::Q8 => &PackedQ8::PART_NAMES,
            Self::Q4 => &PackedQ4::PART_NAMES,
        }
    }
}

/// Whether linear layers of `dtype` on `device` use the CPU kernels: the CPU device (flex)
/// with [`int8_weights`](crate::int8_weights) or [`q4_weights`](crate::q4_weights) everywhere
/// (wasm32 included: SIMD128 kernels), and with bf16 weights natively (wasm32 keeps burn's
/// path for bf16: our bf16 kernels have no SIMD128 version, and the portable one is slower).
pub fn applies(device: &Device, linear_dtype: DType) -> bool {
    let bf16_kernels = cfg!(not(target_family = "wasm"));
    let kernels = matches!(linear_dtype, DType::QFloat(_)) || (bf16_kernels && linear_dtype == DType::BF16);
    kernels && *device == Device::flex()
}

fn kernel_error(e: linear_kernels::Error) -> ModelError {
    ModelError::Config(format!("CPU kernels: {e}"))
}

impl PackedWeight {
    /// Packs a bf16 weight stored `[k, n]` (inputs x outputs, row-major).
    pub fn bf16(values: &[half::bf16], k: usize, n: usize) -> Result<Self> {
        let kernel = Bf16Kernel::select().map_err(kernel_error)?;
        Ok(Self::Bf16(PackedBf16::from_kn(values, k, n).map_err(kernel_error)?, kernel))
    }

    /// Quantizes and packs an f32 weight in the checkpoint's layout, `[n, k]` (outputs x
    /// inputs, row-major), into int8 blocks: one pass, no transposed copy.
    pub fn q8(values: &[f32], n: usize, k: usize) -> Result<Self> {
        let kernel = Q8Kernel::select().map_err(kernel_error)?;
        Ok(Self::Q8(PackedQ8::from_nk(values, n, k).map_err(kernel_error)?, kernel))
    }

    /// Quantizes and packs an f32 weight `[n, k]` (checkpoint layout) into 4-bit blocks.
    pub fn q4(values: &[f32], n: usize, k: usize) -> Result<Self> {
        let kernel = Q8Kernel::select().map_err(kernel_error)?;
        Ok(Self::Q4(PackedQ4::from_nk(values, n, k).map_err(kernel_error)?, kernel))
    }

    /// Packs a weight straight from its checkpoint bytes (`[out, in]`, see
    /// [`Checkpoint::take_rows`](crate::load::checkpoint::Checkpoint::take_rows)) into
    /// `format`: the values are read where the file put them, so the load makes no widened
    /// or transposed copy of the weight (the same values as [`Self::bf16`] of the transpose
    /// and [`Self::q8`] / [`Self::q4`] of the f32 widening). Panels are packed on every core.
    pub fn from_stored(format: PackFormat, w: StoredRows) -> Result<Self> {
        let (n, k) = (w.rows, w.cols);
        if w.bytes.len() != n * k * w.dtype.size() {
            return Err(ModelError::Config(format!(
                "packing a {n}x{k} weight from {} bytes of {:?}",
                w.bytes.len(),
                w.dtype
            )));
        }
        Ok(match format {
            PackFormat::Bf16 => {
                let packed = match w.dtype {
                    StoredDType::BF16 => PackedBf16::from_nk_le_bytes(w.bytes, n, k).map_err(kernel_error)?,
                    StoredDType::F16 | StoredDType::F32 => PackedBf16::from_fn(k, n, |kk, col| w.bf16_at(col, kk)),
                };
                Self::Bf16(packed, Bf16Kernel::select().map_err(kernel_error)?)
            }
            PackFormat::Q8 => Self::Q8(
                PackedQ8::from_runs(k, n, |col, k0, run| w.widen_run(col, k0, run)),
                Q8Kernel::select().map_err(kernel_error)?,
            ),
            PackFormat::Q4 => Self::Q4(
                PackedQ4::from_runs(k, n, |col, k0, run| w.widen_run(col, k0, run)),
                Q8Kernel::select().map_err(kernel_error)?,
            ),
        })
    }

    /// The format the weight is packed in.
    pub fn format(&self) -> PackFormat {
        match self {
            Self::Bf16(..) => PackFormat::Bf16,
            Self::Q8(..) => PackFormat::Q8,
            Self::Q4(..) => PackFormat::Q4,
        }
    }

    /// The packed arrays' little-endian bytes, in the order of [`PackFormat::part_names`]:
    /// stored as they are, [`Self::from_parts`] uses them again with no packing.
    pub fn parts(&self) -> Vec<&[u8]> {
        match self {
            Self::Bf16(w, _) => w.parts(),
            Self::Q8(w, _) => w.parts(),
            Self::Q4(w, _) => w.parts(),
        }
    }

    /// A `[k (in), n (out)]` weight of `format` from the bytes of [`Self::parts`], used in
    /// place where they are aligned (a mapped file): no packing, no copy. Byte counts that do
    /// not fit `k` and `n` are [`ModelError::CorruptWeights`] (its `file` left for the caller
    /// to name).
    pub fn from_parts(format: PackFormat, k: usize, n: usize, parts: Vec<linear_kernels::SharedBytes>) -> Result<Self> {
        let corrupt =
            |e: linear_kernels::Error| ModelError::CorruptWeights { file: String::new(), reason: e.to_string() };
        Ok(match format {
            PackFormat::Bf16 => Self::Bf16(
                PackedBf16::from_parts(k, n, parts).map_err(corrupt)?,
                Bf16Kernel::select().map_err(kernel_error)?,
            ),
            PackFormat::Q8 => {
                Self::Q8(PackedQ8::from_parts(k, n, parts).map_err(corrupt)?, Q8Kernel::select().map_err(kernel_error)?)
            }
            PackFormat::Q4 => {
                Self::Q4(PackedQ4::from_parts(k, n, parts).map_err(corrupt)?, Q8Kernel::select().map_err(kernel_error)?)
            }
        })
    }

    /// `[in, out]`.
    pub fn shape(&self) -> [usize; 2] {
        match self {
            Self::Bf16(w, _) => [w.k(), w.n()],
            Self::Q8(w, _) => [w.k(), w.n()],
            Self::Q4(w, _) => [w.k(), w.n()],
        }
    }

    /// `x W` on the host, back on `x`'s device.
    ///
    /// # Shapes
    /// `x: [rows, in]` (f32) -> `[rows, out]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let device = x.device();
        let [m, _] = x.dims();
        let y = self.forward_host(&host_f32(x), m);
        from_host(y, [m, self.shape()[1]], &device)
    }

    /// `x W` on host buffers: `x` is `[m, in]` row-major, the result `[m, out]`. Panics when
    /// `x` is not `m` rows of the weight's input width (a bug in the caller, not bad input).
    pub fn forward_host(&self, x: &[f32], m: usize) -> Vec<f32> {
        let [k, n] = self.shape();
        assert_eq!(x.len(), m * k, "linear input of {} values is not {m} rows of the packed weight's {k}", x.len());
        let mut y = vec![0f32; m * n];
        // Lengths are right by construction (checked above), and the kernel was checked
        // against the CPU at load, so neither call can fail.
        match self {
            Self::Bf16(w, kernel) => linear_kernels::matmul_bf16_with(*kernel, x, m, w, &mut y),
            Self::Q8(w, kernel) => linear_kernels::matmul_q8_with(*kernel, x, m, w, &mut y),
            Self::Q4(w, kernel) => linear_kernels::matmul_q4_with(*kernel, x, m, w, &mut y),
        }
        .expect("shapes and kernel checked");
        y
    }
}

/// A tensor's values in a host buffer, as f32. The model computes in f32 whenever weights are
/// packed (`Qwen3VlModel::load`), so the conversion is a plain copy.
pub(crate) fn host_f32<const D: usize>(x: Tensor<D>) -> Vec<f32> {
    x.into_data().convert::<f32>().try_into_vec::<f32>().expect("converted to f32")
}

/// A host buffer back as an f32 tensor on `device`.
pub(crate) fn from_host<const D: usize>(values: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), (device, DType::F32))
}

/// Which CPU kernels bf16 and int8 linear layers run with on this machine, after
/// `QWEN3_VL_CPU_KERNELS` (for logs, benchmarks, and tests that pick their bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuKernels {
    /// The bf16 kernel: `scalar`, `avx2`, `avx512` or `avx512bf16`.
    pub bf16: &'static str,
    /// The int8 and q4 kernel (one family): `scalar`, `simd128` (wasm32), `avx2` or `vnni`.
    pub int8: &'static str,
    /// Whether the bf16 kernel rounds activations to bf16 (`avx512bf16`); the others multiply
    /// exact f32 activations, so bf16 checkpoints give f32's results.
    pub bf16_rounds_activations: bool,
}

/// The kernels packed weights are created with: the fastest the CPU has, capped by
/// `QWEN3_VL_CPU_KERNELS`; a typed error for a forced level the CPU lacks or a bad value.
pub fn cpu_kernels() -> Result<CpuKernels> {
    let bf16 = Bf16Kernel::select().map_err(kernel_error)?;
    let int8 = Q8Kernel::select().map_err(kernel_error)?;
    Ok(CpuKernels { bf16: bf16.name(), int8: int8.name(), bf16_rounds_activations: bf16 == Bf16Kernel::Avx512Bf16 })
}

#[cfg(test)]
mod tests {
    use burn::tensor::{DType, Device, Tensor, TensorData};
    use half::{bf16, f16};

    use super::{PackFormat, PackedWeight};
    use crate::load::safetensors::{StoredDType, StoredRows};

    fn run(w: &PackedWeight, x: &[f32], m: usize) -> Vec<f32> {
        let k = w.shape()[0];
        let x = Tensor::<2>::from_data(TensorData::new(x.to_vec(), [m, k]), (&Device::flex(), DType::F32));
        w.forward(x).into_data().try_into_vec::<f32>().unwrap()
    }

    /// Packing from a file's bytes gives the weights of the older route (widen or transpose
    /// into a copy, then pack): the same products, bit for bit, for every stored dtype and
    /// format, on shapes that are not multiples of the panel (32) or the block (32).
    #[test]
    fn packing_from_stored_bytes_equals_packing_a_converted_copy() {
        for (n, k) in [(1, 1), (33, 70), (64, 32), (5, 97)] {
            let w: Vec<f32> = (0..n * k).map(|i| ((i * 7919 % 613) as f32 / 613.0 - 0.5) * 0.3).collect();
            let m = 3;
            let x: Vec<f32> = (0..m * k).map(|i| ((i * 104_729 % 389) as f32 / 389.0 - 0.5) * 2.0).collect();
            // (dtype, the file's bytes, the values they hold, by the `half` crate's conversions)
            let stored: [(StoredDType, Vec<u8>, Vec<f32>); 3] = [
                (StoredDType::F32, w.iter().flat_map(|v| v.to_le_bytes()).collect(), w.clone()),
                (
                    StoredDType::BF16,
                    w.iter().flat_map(|v| bf16::from_f32(*v).to_le_bytes()).collect(),
                    w.iter().map(|v| bf16::from_f32(*v).to_f32()).collect(),
                ),
                (
                    StoredDType::F16,
                    w.iter().flat_map(|v| f16::from_f32(*v).to_le_bytes()).collect(),
                    w.iter().map(|v| f16::from_f32(*v).to_f32()).collect(),
                ),
            ];
            for (dtype, bytes, widened) in &stored {
                let rows = StoredRows { dtype: *dtype, bytes, rows: n, cols: k };
                // The older route's copies: f32 `[n, k]`, and bf16 transposed to `[k, n]`.
                let bf16_kn: Vec<bf16> = (0..k * n).map(|i| bf16::from_f32(widened[(i % n) * k + i / n])).collect();
                let cases = [
                    (PackFormat::Bf16, PackedWeight::bf16(&bf16_kn, k, n).unwrap()),
                    (PackFormat::Q8, PackedWeight::q8(widened, n, k).unwrap()),
                    (PackFormat::Q4, PackedWeight::q4(widened, n, k).unwrap()),
                ];
                for (format, reference) in cases {
                    let packed = PackedWeight::from_stored(format, rows).unwrap();
                    assert_eq!(packed.shape(), [k, n]);
                    let (got, want) = (run(&packed, &x, m), run(&reference, &x, m));
                    let same = got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
                    assert!(same, "{format:?} from {dtype:?}, {n}x{k}: {got:?} vs {want:?}");
                }
            }
        }
    }

    #[test]
    fn a_byte_count_that_does_not_match_the_shape_is_an_error() {
        let bytes = [0u8; 10];
        let rows = StoredRows { dtype: StoredDType::BF16, bytes: &bytes, rows: 2, cols: 3 };
        let err = PackedWeight::from_stored(PackFormat::Q8, rows).unwrap_err();
        assert!(err.to_string().contains("2x3 weight from 10 bytes"), "{err}");
    }
}

#[cfg(test)]
mod speed {
    use std::time::Instant;

    use burn::tensor::{DType, Device, Tensor, TensorData};
    use half::bf16;

    use super::PackedWeight;

    /// Best of `reps` wall-clock milliseconds of `f` (after one warm-up run).
    fn best_ms(reps: usize, mut f: impl FnMut()) -> f64 {
        f();
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e3
            })
            .fold(f64::INFINITY, f64::min)
    }

    /// One 2B-sized linear layer (the MLP's 2048 -> 6144) on the CPU device, burn's path as
    /// `Linear` used it before these kernels (bf16 widened to f32 per product; int8 through
    /// burn's quantized matmul) against the packed weights, with f32 for scale. A measurement,
    /// not a check; numbers are recorded in `benches/model/README.md`. Run it with
    /// `cargo test --workspace --lib cpu_linear_speed -- --ignored --nocapture` (dev profile:
    /// burn-flex, gemm and linear-kernels are built at opt-level 2 there).
    #[test]
    #[ignore = "a measurement: run by hand"]
    fn cpu_linear_speed() {
        let device = Device::flex();
        let (k, n): (usize, usize) = (2048, 6144);
        // Deterministic weights of transformers' init scale (N(0, 0.02)-like spread).
        let w_kn: Vec<f32> =
            (0..k * n).map(|i| ((i.wrapping_mul(2_654_435_761) % 1000) as f32 / 1000.0 - 0.5) * 0.07).collect();
        let w_nk: Vec<f32> = (0..n * k).map(|i| w_kn[(i % k) * n + i / k]).collect();
        let w_bf16: Vec<bf16> = w_kn.iter().map(|&v| bf16::from_f32(v)).collect();
        let f32_weight = Tensor::<2>::from_data(TensorData::new(w_kn.clone(), [k, n]), (&device, DType::F32));
        let bf16_weight = Tensor::<2>::from_data(TensorData::new(w_bf16.clone(), [k, n]), (&device, DType::BF16));
        let DType::QFloat(scheme) = crate::int8_weights() else { unreachable!() };
        let q8_weight = f32_weight.clone().quantize_dynamic(&scheme);
        let packed_bf16 = PackedWeight::bf16(&w_bf16, k, n).unwrap();
        let packed_q8 = PackedWeight::q8(&w_nk, n, k).unwrap();
        let kernels = super::cpu_kernels().unwrap();
        println!("kernels: bf16 {}, int8 {}; threads: rayon default", kernels.bf16, kernels.int8);
        println!("| M | f32 burn | bf16 burn (widen + f32) | bf16 packed | int8 burn | int8 packed |");
        println!("|---|---|---|---|---|---|");
        for m in [1usize, 32, 280] {
            let xs: Vec<f32> = (0..m * k).map(|i| ((i * 7919 % 997) as f32 / 997.0 - 0.5) * 2.0).collect();
            let x = || Tensor::<2>::from_data(TensorData::new(xs.clone(), [m, k]), (&device, DType::F32));
            let sync = |y: Tensor<2>| drop(y.into_data());
            let reps = if m == 280 { 3 } else { 10 };
            let f32_ms = best_ms(reps, || sync(x().matmul(f32_weight.clone())));
            let bf16_burn = best_ms(reps, || sync(x().matmul(bf16_weight.clone().cast(DType::F32))));
            let bf16_packed = best_ms(reps, || sync(packed_bf16.forward(x())));
            let q8_burn = best_ms(reps, || sync(x().matmul(q8_weight.clone())));
            let q8_packed = best_ms(reps, || sync(packed_q8.forward(x())));
            println!(
                "| {m} | {f32_ms:.1} ms | {bf16_burn:.1} ms | {bf16_packed:.1} ms | {q8_burn:.1} ms | {q8_packed:.1} ms |"
            );
        }
    }
}
