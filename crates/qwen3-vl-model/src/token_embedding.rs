//! The token embedding table, kept on the host in the precision the checkpoint stores.
//!
//! A lookup reads one row per token, which the host does as fast as any device, and keeping
//! the table off the device matters on two counts:
//! - WebGPU caps one buffer at 1 GiB on many adapters (SwiftShader, most browsers), and the
//!   2B table is 151936 x 2048 = 1.24 GB in f32. On the host it needs no GPU buffer at all.
//! - In bf16 it takes half the memory of the f32 copy a CPU device would hold (0.62 GB
//!   instead of 1.24 GB for 2B), and widening bf16/f16 to f32 is exact, so a lookup returns
//!   exactly the values a device-side f32 table would.

use crate::error::{ModelError, Result};
use crate::load::checkpoint::Checkpoint;
use crate::load::safetensors::{StoredValues, half_to_f32};

/// The `[vocab_size, hidden]` token table, on the host in its stored precision.
#[derive(Debug, Clone)]
pub struct TokenEmbedding {
    values: StoredValues,
    vocab_size: usize,
    hidden: usize,
}

impl TokenEmbedding {
    /// Reads `name` (`[vocab_size, hidden]`) from the checkpoint, in its stored precision.
    pub fn load(checkpoint: &Checkpoint, name: &str, vocab_size: usize, hidden: usize) -> Result<Self> {
        let values = checkpoint.take_stored(name, &[vocab_size, hidden])?;
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
                StoredValues::F32(v) => out.extend_from_slice(&v[rows]),
                StoredValues::Half { dtype, bits } => out.extend(bits[rows].iter().map(|&b| half_to_f32(*dtype, b))),
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
        TokenEmbedding::load(&ckpt, "emb", 3, 2).unwrap()
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
    fn an_id_past_the_vocabulary_is_an_input_error() {
        let t = table("F32", VALUES.iter().flat_map(|x| x.to_le_bytes()).collect());
        assert!(matches!(t.gather(&[3]), Err(ModelError::Input(_))));
    }
}
