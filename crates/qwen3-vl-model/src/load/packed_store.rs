//! How a converted checkpoint stores int8 and q4 linear weights, and reading them back.
//!
//! A linear weight `{layer}.weight` (`[out, in...]` in the source) becomes two tensors in the
//! portable row-major form of `linear_kernels` (one row per output, blocks of 32 inputs,
//! zero-padded past `in`), so other devices can read them too:
//!
//! | precision | `{layer}.weight.<suffix>` | dtype | shape |
//! |---|---|---|---|
//! | int8 | `q8` | I8 | `[out, blocks * 32]`, values in -127..=127 |
//! | int8 | `q8_scales` | F32 | `[out, blocks]` |
//! | q4 | `q4` | U8 | `[out, blocks * 16]`, codes q + 8, even input in the low nibble |
//! | q4 | `q4_scales` | F16 | `[out, blocks]` |
//!
//! with `blocks = ceil(in / 32)`. Reading them back is a permutation into the kernels' panel
//! layout: nothing is re-quantized, so the vectors equal those of quantizing at load.

use half::f16;
use linear_kernels::{PackedQ4, PackedQ8, Q8Kernel};

use crate::cpu_linear::PackedWeight;
use crate::error::{ModelError, Result};
use crate::load::checkpoint::Checkpoint;
use crate::load::device_quant::{BLOCK, QuantizedRows, unpack_q4_codes};
use crate::load::safetensors_write::TensorPlan;

/// The two stored forms of a packed linear weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredKind {
    /// int8 values and f32 scales.
    Q8,
    /// 4-bit codes and f16 scales.
    Q4,
}

impl StoredKind {
    /// The precision's name, as `--precision` spells it.
    pub fn precision(self) -> &'static str {
        match self {
            Self::Q8 => "int8",
            Self::Q4 => "q4",
        }
    }

    /// Suffixes of the (values, scales) tensors.
    fn suffixes(self) -> (&'static str, &'static str) {
        match self {
            Self::Q8 => ("q8", "q8_scales"),
            Self::Q4 => ("q4", "q4_scales"),
        }
    }
}

/// The names of the two stored tensors of `weight_name` in `kind`.
pub fn stored_names(weight_name: &str, kind: StoredKind) -> [String; 2] {
    let (values, scales) = kind.suffixes();
    [format!("{weight_name}.{values}"), format!("{weight_name}.{scales}")]
}

/// Which stored form `checkpoint` holds `weight_name` in, if any.
pub fn stored_kind(checkpoint: &Checkpoint, weight_name: &str) -> Option<StoredKind> {
    [StoredKind::Q8, StoredKind::Q4].into_iter().find(|&kind| checkpoint.contains(&stored_names(weight_name, kind)[0]))
}

/// The plan of the two stored tensors of a packed weight (see the module docs).
pub fn stored_plan(weight_name: &str, packed: &PackedWeight) -> Option<[TensorPlan; 2]> {
    let (kind, k, n) = match packed {
        PackedWeight::Q8(w, _) => (StoredKind::Q8, w.k(), w.n()),
        PackedWeight::Q4(w, _) => (StoredKind::Q4, w.k(), w.n()),
        PackedWeight::Bf16(..) => return None,
    };
    let blocks = k.div_ceil(BLOCK);
    let [values, scales] = stored_names(weight_name, kind);
    let (vdtype, vcols, sdtype, ssize) = match kind {
        StoredKind::Q8 => ("I8", blocks * BLOCK, "F32", 4),
        StoredKind::Q4 => ("U8", blocks * BLOCK / 2, "F16", 2),
    };
    Some([
        TensorPlan { name: values, dtype: vdtype, shape: vec![n, vcols], byte_len: (n * vcols) as u64 },
        TensorPlan { name: scales, dtype: sdtype, shape: vec![n, blocks], byte_len: (n * blocks * ssize) as u64 },
    ])
}

/// The bytes of the two stored tensors of [`stored_plan`], little-endian.
pub fn stored_bytes(packed: &PackedWeight) -> Option<[Vec<u8>; 2]> {
    match packed {
        PackedWeight::Q8(w, _) => {
            let (values, scales) = w.to_quantized();
            Some([values.iter().map(|&v| v as u8).collect(), scales.iter().flat_map(|s| s.to_le_bytes()).collect()])
        }
        PackedWeight::Q4(w, _) => {
            let (codes, scales) = w.to_codes();
            Some([codes, scales.iter().flat_map(|s| s.to_le_bytes()).collect()])
        }
        PackedWeight::Bf16(..) => None,
    }
}

/// One stored packed weight to read back: `{name}` (`[n (out), k (in)]`) in `checkpoint`, held
/// as `kind`. `requested` is the precision the model is loaded in (`None`: anything other than
/// int8 or q4); a mismatch is [`ModelError::ConvertedPrecision`].
pub(crate) struct StoredWeight<'a> {
    /// The checkpoint holding it.
    pub checkpoint: &'a Checkpoint,
    /// The weight's name in the source layout (`{layer}.weight`).
    pub name: &'a str,
    /// How it is stored.
    pub kind: StoredKind,
    /// Outputs.
    pub n: usize,
    /// Inputs.
    pub k: usize,
    /// The precision the model is loaded in.
    pub requested: Option<StoredKind>,
}

impl StoredWeight<'_> {
    /// The weight in the CPU kernels' layout.
    pub(crate) fn read_packed(&self) -> Result<PackedWeight> {
        let (values, scales) = self.take()?;
        let (k, n) = (self.k, self.n);
        let kernel = Q8Kernel::select().map_err(kernel_error)?;
        let bad = |e: linear_kernels::Error| self.corrupt(e.to_string());
        Ok(match self.kind {
            StoredKind::Q8 => {
                let v: Vec<i8> = values.into_iter().map(|b| b as i8).collect();
                PackedWeight::Q8(PackedQ8::from_quantized(k, n, &v, &scales).map_err(bad)?, kernel)
            }
            StoredKind::Q4 => {
                // F16 scales widened to f32 and back are exact; any stored dtype is accepted.
                let s: Vec<u16> = scales.iter().map(|&v| f16::from_f32(v).to_bits()).collect();
                PackedWeight::Q4(PackedQ4::from_codes(k, n, &values, &s).map_err(bad)?, kernel)
            }
        })
    }

    /// The weight as plain rows for the other devices (see [`crate::load::device_quant`]),
    /// with the same checks as [`Self::read_packed`].
    pub(crate) fn read_rows(&self) -> Result<QuantizedRows> {
        let (values, scales) = self.take()?;
        let values: Vec<i8> = match self.kind {
            StoredKind::Q8 if values.contains(&0x80) => {
                return Err(self.corrupt("int8 weight values must lie in -127..=127, found -128".into()));
            }
            StoredKind::Q8 => values.into_iter().map(|b| b as i8).collect(),
            StoredKind::Q4 => unpack_q4_codes(&values),
        };
        let (n, k) = (self.n, self.k);
        let blocks = k.div_ceil(BLOCK);
        // Padding past k is zero whatever the file says (as the kernels' packing does).
        let mut rows = QuantizedRows { n, k, values, scales, q4: self.kind == StoredKind::Q4 };
        for row in rows.values.chunks_mut(blocks * BLOCK) {
            row[k..].fill(0);
        }
        Ok(rows)
    }

    /// The stored (values or codes bytes, scales as f32), precision and shapes checked.
    fn take(&self) -> Result<(Vec<u8>, Vec<f32>)> {
        if self.requested != Some(self.kind) {
            return Err(ModelError::ConvertedPrecision { stored: self.kind.precision().into() });
        }
        let (n, blocks) = (self.n, self.k.div_ceil(BLOCK));
        let [values, scales] = stored_names(self.name, self.kind);
        let (dtype, columns) = match self.kind {
            StoredKind::Q8 => ("I8", blocks * BLOCK),
            StoredKind::Q4 => ("U8", blocks * BLOCK / 2),
        };
        let v = self.checkpoint.take_bytes(&values, &[n, columns], dtype)?;
        let s = self.checkpoint.take_f32(&scales, &[n, blocks])?;
        Ok((v, s))
    }

    /// A [`ModelError::CorruptWeights`] naming the values tensor.
    fn corrupt(&self, reason: String) -> ModelError {
        ModelError::CorruptWeights { file: stored_names(self.name, self.kind)[0].clone(), reason }
    }
}

fn kernel_error(e: linear_kernels::Error) -> ModelError {
    ModelError::Config(format!("CPU kernels: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::safetensors::tests::build;

    /// A checkpoint holding one stored int8 weight `w.weight` ([2, 32]) with these parts.
    fn checkpoint(values_dtype: &str, values_shape: Vec<usize>, values: Vec<u8>) -> Checkpoint {
        let scales = [1.0f32, 2.0].iter().flat_map(|s| s.to_le_bytes()).collect();
        let file = build(&[
            ("w.weight.q8", values_dtype, values_shape, values),
            ("w.weight.q8_scales", "F32", vec![2, 1], scales),
        ]);
        Checkpoint::from_buffers(vec![("c.safetensors".into(), file)]).unwrap()
    }

    /// `w.weight` of `checkpoint` as a stored int8 weight with `k` inputs, loaded as `requested`.
    fn int8_weight(checkpoint: &Checkpoint, k: usize, requested: StoredKind) -> StoredWeight<'_> {
        StoredWeight { checkpoint, name: "w.weight", kind: StoredKind::Q8, n: 2, k, requested: Some(requested) }
    }

    #[test]
    fn stored_weights_read_back_and_hostile_ones_are_typed_errors() {
        let good = checkpoint("I8", vec![2, 32], (0..64).map(|i| (i as i8 - 32) as u8).collect());
        assert_eq!(stored_kind(&good, "w.weight"), Some(StoredKind::Q8));
        let packed = int8_weight(&good, 32, StoredKind::Q8).read_packed().unwrap();
        let PackedWeight::Q8(w, _) = &packed else { panic!("int8") };
        let (values, scales) = w.to_quantized();
        assert_eq!((values[0], values[63], scales), (-32, 31, vec![1.0, 2.0]));
        let rows = int8_weight(&good, 32, StoredKind::Q8).read_rows().unwrap();
        assert_eq!((rows.values[0], rows.values[63], rows.scales), (-32, 31, vec![1.0, 2.0]));

        let wrong_precision = int8_weight(&good, 32, StoredKind::Q4).read_packed();
        assert!(matches!(wrong_precision, Err(ModelError::ConvertedPrecision { .. })));
        let wrong_shape = int8_weight(&good, 64, StoredKind::Q8).read_packed();
        assert!(matches!(wrong_shape, Err(ModelError::ShapeMismatch { .. })), "{wrong_shape:?}");
        let unsigned = checkpoint("U8", vec![2, 32], vec![0; 64]);
        let err = int8_weight(&unsigned, 32, StoredKind::Q8).read_packed().err().unwrap();
        assert!(matches!(err, ModelError::UnsupportedDType { .. }), "{err}");
        let min = checkpoint("I8", vec![2, 32], vec![0x80; 64]);
        for err in [
            int8_weight(&min, 32, StoredKind::Q8).read_packed().err(),
            int8_weight(&min, 32, StoredKind::Q8).read_rows().err(),
        ] {
            let err = err.unwrap();
            assert!(
                matches!(err, ModelError::CorruptWeights { .. }) && err.to_string().contains("-127..=127"),
                "{err}"
            );
        }
    }
}
