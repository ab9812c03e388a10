//! Weight files that stay in JavaScript memory and are read one tensor at a time.
//!
//! wasm32 memory ends at 4 GiB, and the 2B checkpoint alone is 4.25 GB. So the files stay
//! where `fetch` or the Cache API put them (JS `ArrayBuffer`s, outside wasm memory), as a list
//! of chunks exactly as a response stream delivered them (no concatenated second copy), and
//! the loader copies each tensor's bytes into wasm memory only while it converts and uploads
//! that tensor. Peak wasm memory is the host-side token table plus the largest other tensor.

use js_sys::{Array, Uint8Array};
use qwen3_vl_model::ByteSource;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::bad_argument;

/// One file as consecutive `Uint8Array` chunks.
pub struct JsBytes {
    chunks: Vec<Uint8Array>,
    /// Byte offset of each chunk in the file.
    starts: Vec<u64>,
    len: u64,
}

impl JsBytes {
    /// `bytes`: a `Uint8Array`, or an array of them (the file's chunks, in order).
    pub fn from_js(bytes: &JsValue, what: &str) -> Result<Self, JsValue> {
        let chunks: Vec<JsValue> =
            if Array::is_array(bytes) { Array::from(bytes).iter().collect() } else { vec![bytes.clone()] };
        let mut out =
            Self { chunks: Vec::with_capacity(chunks.len()), starts: Vec::with_capacity(chunks.len()), len: 0 };
        for (i, chunk) in chunks.into_iter().enumerate() {
            let chunk = chunk.dyn_into::<Uint8Array>().map_err(|_| {
                bad_argument(format!("{what}: expected a Uint8Array or an array of them (item {i} is not)"))
            })?;
            out.starts.push(out.len);
            out.len += u64::from(chunk.length());
            out.chunks.push(chunk);
        }
        Ok(out)
    }
}

impl ByteSource for JsBytes {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let end = offset.checked_add(buf.len() as u64).filter(|&e| e <= self.len);
        if end.is_none() {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        // The chunk holding `offset`: the last one starting at or before it.
        let mut i = self.starts.partition_point(|&s| s <= offset).saturating_sub(1);
        let mut done = 0usize;
        while done < buf.len() {
            let chunk = &self.chunks[i];
            let within = (offset + done as u64 - self.starts[i]) as u32;
            let n = ((chunk.length() - within) as usize).min(buf.len() - done);
            chunk.subarray(within, within + n as u32).copy_to(&mut buf[done..done + n]);
            done += n;
            i += 1;
        }
        Ok(())
    }
}
