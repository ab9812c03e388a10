//! Weight files that stay in JavaScript memory and are read one tensor at a time.
//!
//! wasm32 memory ends at 4 GiB, and the 2B checkpoint alone is 4.25 GB. So the files stay
//! where `fetch` or the Cache API put them (JS `ArrayBuffer`s, outside wasm memory), as a list
//! of chunks exactly as a response stream delivered them (no concatenated second copy), and
//! the loader copies each tensor's bytes into wasm memory only while it converts and uploads
//! that tensor. Peak wasm memory is the host-side token table plus the largest other tensor.
//! Node passes a synchronous reader of a file on disk instead (`{ size, read }`), so there
//! the file is not held in JS memory at all: one tensor at a time passes through.

use js_sys::{Array, Function, Reflect, Uint8Array};
use qwen3_vl_model::ByteSource;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::bad_argument;

/// One file: consecutive `Uint8Array` chunks, or a synchronous reader (Node reads a cached
/// file with `fs.readSync`, so the file never sits whole in JS memory either).
pub enum JsBytes {
    /// The file's chunks, in order.
    Chunks {
        /// The chunks.
        chunks: Vec<Uint8Array>,
        /// Byte offset of each chunk in the file.
        starts: Vec<u64>,
        /// The file's length.
        len: u64,
    },
    /// `read(offset, length)` returns a `Uint8Array` of exactly `length` bytes.
    Reader {
        /// The JS function.
        read: Function,
        /// The file's length.
        len: u64,
    },
}

impl JsBytes {
    /// `bytes`: a `Uint8Array`, an array of them (the file's chunks, in order), or
    /// `{ size, read(offset, length) }` (a synchronous reader).
    pub fn from_js(bytes: &JsValue, what: &str) -> Result<Self, JsValue> {
        if let Some(read) = reader(bytes) {
            let size = Reflect::get(bytes, &"size".into())?.as_f64().filter(|s| *s >= 0.0 && s.fract() == 0.0);
            let len = size.ok_or_else(|| bad_argument(format!("{what}: a reader needs a whole-number size")))?;
            return Ok(JsBytes::Reader { read, len: len as u64 });
        }
        let chunks: Vec<JsValue> =
            if Array::is_array(bytes) { Array::from(bytes).iter().collect() } else { vec![bytes.clone()] };
        let (mut list, mut starts, mut len) = (Vec::with_capacity(chunks.len()), Vec::with_capacity(chunks.len()), 0);
        for (i, chunk) in chunks.into_iter().enumerate() {
            let chunk = chunk.dyn_into::<Uint8Array>().map_err(|_| {
                bad_argument(format!(
                    "{what}: expected a Uint8Array, an array of them or {{ size, read }} (item {i} is none of these)"
                ))
            })?;
            starts.push(len);
            len += u64::from(chunk.length());
            list.push(chunk);
        }
        Ok(JsBytes::Chunks { chunks: list, starts, len })
    }
}

/// The `read` function of a `{ size, read }` object, if `bytes` is one.
fn reader(bytes: &JsValue) -> Option<Function> {
    if !bytes.is_object() || Array::is_array(bytes) || bytes.is_instance_of::<Uint8Array>() {
        return None;
    }
    Reflect::get(bytes, &"read".into()).ok()?.dyn_into::<Function>().ok()
}

impl ByteSource for JsBytes {
    fn len(&self) -> u64 {
        match self {
            JsBytes::Chunks { len, .. } | JsBytes::Reader { len, .. } => *len,
        }
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let end = offset.checked_add(buf.len() as u64).filter(|&e| e <= self.len());
        if end.is_none() {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        match self {
            JsBytes::Chunks { chunks, starts, .. } => {
                // The chunk holding `offset`: the last one starting at or before it.
                let mut i = starts.partition_point(|&s| s <= offset).saturating_sub(1);
                let mut done = 0usize;
                while done < buf.len() {
                    let chunk = &chunks[i];
                    let within = (offset + done as u64 - starts[i]) as u32;
                    let n = ((chunk.length() - within) as usize).min(buf.len() - done);
                    chunk.subarray(within, within + n as u32).copy_to(&mut buf[done..done + n]);
                    done += n;
                    i += 1;
                }
                Ok(())
            }
            JsBytes::Reader { read, .. } => {
                let got = read
                    .call2(&JsValue::NULL, &(offset as f64).into(), &(buf.len() as f64).into())
                    .map_err(|e| std::io::Error::other(format!("read({offset}, {}) threw: {e:?}", buf.len())))?;
                let got = got
                    .dyn_into::<Uint8Array>()
                    .map_err(|_| std::io::Error::other("read(offset, length) must return a Uint8Array"))?;
                if got.length() as usize != buf.len() {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("read({offset}, {}) returned {} bytes", buf.len(), got.length()),
                    ));
                }
                got.copy_to(buf);
                Ok(())
            }
        }
    }
}
