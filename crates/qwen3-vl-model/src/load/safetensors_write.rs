//! A streaming safetensors writer: the header is written from a plan of every tensor's dtype,
//! shape and byte length, then each tensor's bytes are streamed in plan order, so a file of
//! any size is written without holding more than one tensor (the caller's) in memory.

use std::io::Write;

use crate::error::{ModelError, Result};

/// One tensor of a file to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorPlan {
    /// The tensor's name.
    pub name: String,
    /// The dtype as safetensors names it (`F32`, `F16`, `BF16`, `I8`, `U8`).
    pub dtype: &'static str,
    /// The shape, outermost dimension first.
    pub shape: Vec<usize>,
    /// Its bytes: the shape's element count times the dtype's size.
    pub byte_len: u64,
}

/// Writes `plan` as a safetensors file to `out`: the header (with `metadata` as its
/// `__metadata__` strings), then every tensor's bytes as `fill(index, out)` writes them.
/// `fill` must write exactly the planned byte length; more or fewer is an error, so a wrong
/// plan can never produce a file whose header lies.
pub fn write_safetensors<W: Write>(
    out: &mut W,
    path: &str,
    plan: &[TensorPlan],
    metadata: &[(&str, String)],
    mut fill: impl FnMut(usize, &mut dyn Write) -> Result<()>,
) -> Result<()> {
    let io = |source| ModelError::Io { path: path.to_string(), source };
    let mut header = serde_json::Map::new();
    let meta: serde_json::Map<String, serde_json::Value> =
        metadata.iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone()))).collect();
    header.insert("__metadata__".into(), serde_json::Value::Object(meta));
    let mut offset = 0u64;
    for t in plan {
        header.insert(
            t.name.clone(),
            serde_json::json!({"dtype": t.dtype, "shape": t.shape, "data_offsets": [offset, offset + t.byte_len]}),
        );
        offset += t.byte_len;
    }
    let mut header = serde_json::to_vec(&header).expect("a JSON map always serializes");
    // The format pads the header with spaces so the data starts 8-byte aligned.
    header.resize(header.len().div_ceil(8) * 8, b' ');
    out.write_all(&(header.len() as u64).to_le_bytes()).map_err(io)?;
    out.write_all(&header).map_err(io)?;
    for (i, t) in plan.iter().enumerate() {
        let mut counted = Counted { inner: &mut *out, written: 0 };
        fill(i, &mut counted)?;
        if counted.written != t.byte_len {
            return Err(ModelError::CorruptWeights {
                file: path.to_string(),
                reason: format!(
                    "tensor {} was planned as {} bytes but {} were written",
                    t.name, t.byte_len, counted.written
                ),
            });
        }
    }
    out.flush().map_err(io)
}

/// Counts the bytes written through it.
struct Counted<'a, W: Write> {
    inner: &'a mut W,
    written: u64,
}

impl<W: Write> Write for Counted<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::safetensors::SafetensorsFile;

    #[test]
    fn written_files_read_back_and_wrong_lengths_are_refused() {
        let plan = vec![
            TensorPlan { name: "a".into(), dtype: "F32", shape: vec![2], byte_len: 8 },
            TensorPlan { name: "b".into(), dtype: "U8", shape: vec![3, 1], byte_len: 3 },
        ];
        let mut file = Vec::new();
        write_safetensors(&mut file, "t", &plan, &[("format", "pt".into())], |i, out| {
            let bytes: Vec<u8> =
                if i == 0 { [1.5f32, -2.0].iter().flat_map(|v| v.to_le_bytes()).collect() } else { vec![7, 8, 9] };
            out.write_all(&bytes).map_err(|source| ModelError::Io { path: "t".into(), source })
        })
        .unwrap();
        let st = SafetensorsFile::parse("t", Box::new(file)).unwrap();
        assert_eq!(st.read_f32("a").unwrap(), [1.5, -2.0]);
        assert_eq!(st.read_bytes("b", "U8").unwrap(), [7, 8, 9]);
        assert!(matches!(st.read_bytes("b", "I8"), Err(ModelError::UnsupportedDType { .. })));

        let err = write_safetensors(&mut Vec::new(), "t", &plan, &[], |_, out| {
            out.write_all(&[0]).map_err(|source| ModelError::Io { path: "t".into(), source })
        })
        .unwrap_err();
        assert!(err.to_string().contains("planned as 8 bytes but 1"), "{err}");
    }
}
