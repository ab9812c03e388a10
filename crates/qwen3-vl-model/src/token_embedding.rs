//! The token embedding table, kept on the host in the precision the checkpoint stores.
//!
//! A lookup reads one row per token, which the host does as fast as any device, and keeping
//! the table off the device matters on two counts:
//! - WebGPU caps one buffer at 1 GiB on many adapters (SwiftShader, most browsers), and the
//!   2B table is 151936 x 2048 = 1.24 GB in f32. On the host it needs no GPU buffer at all.
//! - In bf16 it takes half the memory of the f32 copy a CPU device would hold (0.62 GB
//!   instead of 1.24 GB for 2B), and widening bf16/f16 to f32 is exact, so a lookup returns
//!   exactly the values a device-side f32 table would.
//!
//! In the q4 mode the table is kept in int8 instead (one f32 scale per 32 values of a row, the
//! int8 linear weights' rule): 0.39 GB for 2B instead of 0.62, which keeps a q4 download of
//! the 2B under 1.4 GB; each looked-up row is dequantized (value · scale).
//!
//! A directory in the CPU kernels' layout (`load/cpu_layout.rs`) keeps the table in its file,
//! mapped: a lookup widens the row where the file holds it, and the load reads nothing.

use std::sync::Arc;

use linear_kernels::SharedBytes;

use crate::cpu_linear::{PackFormat, PackedWeight};
use crate::error::{ModelError, Result};
use crate::load::checkpoint::Checkpoint;
use crate::load::cpu_layout;
use crate::load::packed_store::{self, StoredKind, StoredWeight};
use crate::load::safetensors::{StoredDType, StoredValues, half_to_f32, widen_into};

/// The `[vocab_size, hidden]` token table, on the host in its stored precision, or in int8.
#[derive(Debug, Clone)]
pub struct TokenEmbedding {
    values: Table,
    vocab_size: usize,
    hidden: usize,
}

/// How the table is held.
#[derive(Debug, Clone)]
enum Table {
    /// As the checkpoint stores it.
    Stored(StoredValues),
    /// As the checkpoint stores it, viewed in its mapped file: `[vocab_size, hidden]` values of
    /// `dtype`, little-endian.
    Mapped { dtype: StoredDType, bytes: SharedBytes },
    /// int8 rows: a [`linear_kernels::PackedQ8`] whose output columns are the tokens (the layout a tied LM
    /// head would use), so the converter stores it like any int8 weight.
    Q8(Arc<PackedWeight>),
}

impl TokenEmbedding {
    /// Reads `name` (`[vocab_size, hidden]`) from the checkpoint, in its stored precision, or
    /// quantized to int8 when `int8` (the q4 mode). A converted checkpoint's int8 table
    /// (`{name}.q8`, or the CPU layout's arrays) is read back as stored, without re-quantizing.
    pub fn load(checkpoint: &Checkpoint, name: &str, vocab_size: usize, hidden: usize, int8: bool) -> Result<Self> {
        if let Some(format) = cpu_layout::stored_format(checkpoint, name) {
            // Any mode takes an int8 table as stored (as below): a wrong precision is reported
            // by the linear weights, which name the directory's.
            let packed = cpu_layout::read(checkpoint, name, format, [vocab_size, hidden], Some(PackFormat::Q8))?;
            return Ok(Self { values: Table::Q8(Arc::new(packed)), vocab_size, hidden });
        }
        let values = match packed_store::stored_kind(checkpoint, name) {
            Some(kind) => {
                let packed =
                    StoredWeight { checkpoint, name, kind, n: vocab_size, k: hidden, requested: Some(StoredKind::Q8) }
                        .read_packed()?;
                Table::Q8(Arc::new(packed))
            }
            None if int8 => {
                // Quantized from the file's bytes, a row run at a time (as linear weights are):
                // no widened copy of the 0.6 GB table.
                let packed = checkpoint
                    .take_rows(name, &[vocab_size, hidden], |rows| PackedWeight::from_stored(PackFormat::Q8, rows))?;
                let packed = Arc::new(packed);
                checkpoint.record_packed(name, &packed);
                Table::Q8(packed)
            }
            None => match checkpoint.tensor_info(name) {
                Some(info) if info.dtype.is_ok() && cpu_layout::holds_layout(checkpoint) => {
                    let (dtype, dtype_name) = (info.dtype.clone().expect("checked"), info.dtype_name().to_string());
                    Table::Mapped { dtype, bytes: checkpoint.take_shared(name, &[vocab_size, hidden], &dtype_name)? }
                }
                // Missing or not a float tensor: the ordinary read gives the typed error.
                _ => Table::Stored(checkpoint.take_stored(name, &[vocab_size, hidden])?),
            },
        };
        Ok(Self { values, vocab_size, hidden })
    }

    /// The rows of `ids`, concatenated, as f32 (`ids.len() * hidden` values).
    pub fn gather(&self, ids: &[u32]) -> Result<Vec<f32>> {
        let h = self.hidden;
        let mut out = Vec::with_capacity(ids.len() * h);
        for &id in ids {
            let id = id as usize;
            if id >= self.vocab_size {
                return Err(ModelError::Input(format!(
                    "token id {id} is outside the vocabulary of {}",
                    self.vocab_size
                )));
            }
            let rows = id * h..(id + 1) * h;
            match &self.values {
                Table::Stored(StoredValues::F32(v)) => out.extend_from_slice(&v[rows]),
                Table::Stored(StoredValues::Half { dtype, bits }) => {
                    out.extend(bits[rows].iter().map(|&b| half_to_f32(*dtype, b)))
                }
                Table::Mapped { dtype, bytes } => {
                    let size = dtype.size();
                    let start = out.len();
                    out.resize(start + h, 0.0);
                    widen_into(*dtype, &bytes.as_bytes()[rows.start * size..rows.end * size], &mut out[start..]);
                }
                Table::Q8(packed) => {
                    let PackedWeight::Q8(table, _) = &**packed else { unreachable!("the table is only ever int8") };
                    let start = out.len();
                    out.resize(start + h, 0.0);
                    table.dequantize_column(id, &mut out[start..]).expect("id and width checked");
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::safetensors::tests::build;

    fn table(dtype: &str, bytes: Vec<u8>) -> TokenEmbedding {
        let file = build(&[("emb", dtype, vec![3, 2], bytes)]);
        let ckpt = Checkpoint::from_buffers(vec![("t.safetensors".into(), file)]).unwrap();
        TokenEmbedding::load(&ckpt, "emb", 3, 2, false).unwrap()
    }

    const VALUES: [f32; 6] = [0.5, -1.0, 2.0, 0.25, -3.5, 8.0];

    #[test]
    fn gathers_rows_exactly_from_every_stored_dtype() {
        let f32s = VALUES.iter().flat_map(|x| x.to_le_bytes()).collect();
        let bf16 = VALUES.iter().flat_map(|x| ((x.to_bits() >> 16) as u16).to_le_bytes()).collect();
        let f16 = VALUES.iter().flat_map(|x| half::f16::from_f32(*x).to_le_bytes()).collect();
        for (dtype, bytes) in [("F32", f32s), ("BF16", bf16), ("F16", f16)] {
            let t = table(dtype, bytes);
            assert_eq!(t.gather(&[2, 0, 2]).unwrap(), [-3.5, 8.0, 0.5, -1.0, -3.5, 8.0], "{dtype}");
        }
    }

    #[test]
    fn an_int8_table_gathers_rows_within_half_a_step() {
        let file = build(&[("emb", "F32", vec![3, 2], VALUES.iter().flat_map(|x| x.to_le_bytes()).collect())]);
        let ckpt = Checkpoint::from_buffers(vec![("t.safetensors".into(), file)]).unwrap();
        let t = TokenEmbedding::load(&ckpt, "emb", 3, 2, true).unwrap();
        let got = t.gather(&[2, 0]).unwrap();
        for (g, want) in got.iter().zip([-3.5f32, 8.0, 0.5, -1.0]) {
            // Row scale max|row| / 127: 8/127 for row 2, 1/127 for row 0.
            assert!((g - want).abs() <= 0.5 * want.abs().max(8.0) / 127.0 + 1e-6, "{g} vs {want}");
        }
        assert!(matches!(t.gather(&[3]), Err(ModelError::Input(_))));
    }

    #[test]
    fn an_id_past_the_vocabulary_is_an_input_error() {
        let t = table("F32", VALUES.iter().flat_map(|x| x.to_le_bytes()).collect());
        assert!(matches!(t.gather(&[3]), Err(ModelError::Input(_))));
    }
}
