//! A streaming reader for the safetensors format.
//!
//! The format is an 8-byte little-endian header length, a JSON header naming each tensor's
//! dtype, shape and byte range, then the raw data. We read it ourselves (rather than through
//! burn-store) so that:
//! - every number in the header is checked against the file before anything is allocated,
//!   so a lying header gives [`ModelError::CorruptWeights`], never a huge allocation;
//! - tensors are converted to f32 one at a time, in small chunks, so loading never holds two
//!   copies of the weights;
//! - the same code reads files natively and byte buffers in the browser.

use std::collections::HashMap;

use linear_kernels::SharedBytes;

use crate::error::{ModelError, Result};

/// Largest header we accept. Real headers are a few hundred KB; this bounds what a hostile
/// file can make us allocate before we have checked anything.
const MAX_HEADER_BYTES: u64 = 64 << 20;
/// Bytes converted per read when streaming a tensor.
const CHUNK_BYTES: usize = 4 << 20;

/// `Send + Sync` natively, where loading may cross threads; nothing on wasm32, which has one
/// thread and whose JavaScript-backed sources (`Uint8Array` views) cannot be `Send`.
#[cfg(not(target_family = "wasm"))]
pub trait SendSyncOnNative: Send + Sync {}
#[cfg(not(target_family = "wasm"))]
impl<T: Send + Sync + ?Sized> SendSyncOnNative for T {}
/// No bound on wasm32 (see the native definition above).
#[cfg(target_family = "wasm")]
pub trait SendSyncOnNative {}
#[cfg(target_family = "wasm")]
impl<T: ?Sized> SendSyncOnNative for T {}

/// Random-access bytes: a file natively; in the browser a buffer, or JavaScript memory read
/// one tensor at a time (so the weights never have to fit in wasm32's 4 GiB memory).
pub trait ByteSource: SendSyncOnNative {
    /// Total length in bytes.
    fn len(&self) -> u64;
    /// Whether the source holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Fills `buf` with the bytes starting at `offset`.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()>;
    /// The `len` bytes at `offset`, viewed in place where the source can (a mapped file),
    /// else read into memory of their own (the default).
    fn shared(&self, offset: u64, len: usize) -> std::io::Result<SharedBytes> {
        read_owned(self, offset, len)
    }
}

/// `len` bytes of `source` at `offset`, read into memory of their own: [`ByteSource::shared`]
/// where nothing can be mapped.
fn read_owned<S: ByteSource + ?Sized>(source: &S, offset: u64, len: usize) -> std::io::Result<SharedBytes> {
    let mut bytes = vec![0u8; len];
    source.read_at(offset, &mut bytes)?;
    Ok(SharedBytes::from_vec(bytes))
}

impl ByteSource for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| std::io::ErrorKind::UnexpectedEof)?;
        let src = self.get(start..start.saturating_add(buf.len())).ok_or(std::io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// A file on disk, read with positioned reads. Only [`ByteSource::shared`] maps it (once,
/// read-only): the weights a converted directory stores in the CPU kernels' own layout
/// (`load/cpu_layout.rs`), which are then used in place. Why not map everything: a map of a
/// file that another process truncates crashes us with SIGBUS, so it is kept to the one case
/// where it saves the whole load; [`NO_MAP_ENV`] turns it off (those weights are then read).
#[cfg(not(target_family = "wasm"))]
pub struct FileSource {
    file: std::sync::Mutex<std::fs::File>,
    len: u64,
    map: std::sync::OnceLock<Option<std::sync::Arc<memmap2::Mmap>>>,
}

/// Set to `1` to read weights stored in the CPU kernels' layout instead of mapping them (see
/// [`FileSource`]).
#[cfg(not(target_family = "wasm"))]
pub const NO_MAP_ENV: &str = "QWEN3_VL_NO_MMAP";

#[cfg(not(target_family = "wasm"))]
impl FileSource {
    /// Opens `path` for reading; fails with [`ModelError::Io`] if it cannot be opened.
    pub fn open(path: &std::path::Path) -> Result<Self> {
        let io = |source| ModelError::Io { path: path.display().to_string(), source };
        let file = std::fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        Ok(Self { file: std::sync::Mutex::new(file), len, map: std::sync::OnceLock::new() })
    }

    /// The whole file mapped read-only, made on first use; `None` when [`NO_MAP_ENV`] is `1`
    /// or the map fails (then bytes are read).
    fn mapped(&self) -> Option<std::sync::Arc<memmap2::Mmap>> {
        self.map
            .get_or_init(|| {
                if std::env::var(NO_MAP_ENV).is_ok_and(|v| v == "1") {
                    return None;
                }
                let file = self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                // SAFETY: the map is read-only and private to this process; its contents change
                // only if another process rewrites the file while we hold it, which the
                // converter never does (it writes a new directory and renames it into place).
                // A truncation by someone else would be a SIGBUS, the reason maps are limited
                // to these weights and can be turned off (see the type's docs).
                unsafe { memmap2::Mmap::map(&*file) }.ok().map(std::sync::Arc::new)
            })
            .clone()
    }
}

#[cfg(not(target_family = "wasm"))]
impl ByteSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(buf)
    }
    fn shared(&self, offset: u64, len: usize) -> std::io::Result<SharedBytes> {
        let Some(map) = self.mapped() else {
            return read_owned(self, offset, len);
        };
        let start = usize::try_from(offset).map_err(|_| std::io::ErrorKind::UnexpectedEof)?;
        let owner: std::sync::Arc<dyn AsRef<[u8]> + Send + Sync> = map;
        SharedBytes::new(owner, start..start.saturating_add(len)).map_err(|_| std::io::ErrorKind::UnexpectedEof.into())
    }
}

/// Element types a weight may be stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredDType {
    /// 32-bit IEEE float.
    F32,
    /// 16-bit IEEE half float.
    F16,
    /// bfloat16: f32's exponent, 7 mantissa bits.
    BF16,
}

impl StoredDType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 | Self::BF16 => 2,
        }
    }
}

/// A `[rows, cols]` tensor as its file stores it: row-major, little-endian values of `dtype`,
/// read by element without a converted copy (linear weights are packed straight from this).
#[derive(Debug, Clone, Copy)]
pub struct StoredRows<'a> {
    /// The stored element type.
    pub dtype: StoredDType,
    /// `rows * cols * dtype.size()` bytes.
    pub bytes: &'a [u8],
    /// Outer dimension (a linear weight's outputs).
    pub rows: usize,
    /// Inner dimension (a linear weight's inputs, trailing dims flattened).
    pub cols: usize,
}

impl StoredRows<'_> {
    /// Element (`row`, `col`) as f32 (exact for every stored dtype).
    #[inline]
    pub fn f32_at(&self, row: usize, col: usize) -> f32 {
        let i = row * self.cols + col;
        match self.dtype {
            StoredDType::F32 => {
                let b = &self.bytes[4 * i..4 * i + 4];
                f32::from_le_bytes([b[0], b[1], b[2], b[3]])
            }
            StoredDType::F16 | StoredDType::BF16 => half_to_f32(self.dtype, self.bits16(i)),
        }
    }

    /// Element (`row`, `col`) as bf16: the stored bits for bf16 files, rounded to nearest-even
    /// from f32 or f16 ones.
    #[inline]
    pub fn bf16_at(&self, row: usize, col: usize) -> half::bf16 {
        match self.dtype {
            StoredDType::BF16 => half::bf16::from_bits(self.bits16(row * self.cols + col)),
            StoredDType::F32 | StoredDType::F16 => half::bf16::from_f32(self.f32_at(row, col)),
        }
    }

    /// Elements `col0..col0 + out.len()` of `row`, widened to f32 into `out` in one pass.
    pub fn widen_run(&self, row: usize, col0: usize, out: &mut [f32]) {
        let size = self.dtype.size();
        let start = (row * self.cols + col0) * size;
        widen_into(self.dtype, &self.bytes[start..start + out.len() * size], out);
    }

    #[inline]
    fn bits16(&self, i: usize) -> u16 {
        u16::from_le_bytes([self.bytes[2 * i], self.bytes[2 * i + 1]])
    }
}

/// Where one tensor lives in its file.
#[derive(Debug, Clone)]
pub struct TensorInfo {
    /// The stored dtype, or the name of an unsupported one.
    pub dtype: Result<StoredDType, String>,
    /// The tensor's shape, outermost dimension first.
    pub shape: Vec<usize>,
    /// Absolute byte range in the file.
    start: u64,
    end: u64,
}

impl TensorInfo {
    /// The dtype as the file names it (`F32`, `BF16`, `I8`, `U8`, ...).
    pub fn dtype_name(&self) -> &str {
        match &self.dtype {
            Ok(StoredDType::F32) => "F32",
            Ok(StoredDType::F16) => "F16",
            Ok(StoredDType::BF16) => "BF16",
            Err(name) => name,
        }
    }

    /// Bytes the tensor occupies in the file.
    pub fn byte_len(&self) -> u64 {
        self.end - self.start
    }
}

/// A tensor's values in the precision the file stores them in.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredValues {
    /// Stored as F32.
    F32(Vec<f32>),
    /// Raw 16-bit patterns: `dtype` says whether they are F16 or BF16.
    Half {
        /// [`StoredDType::F16`] or [`StoredDType::BF16`].
        dtype: StoredDType,
        /// The values as raw 16-bit patterns, in file order.
        bits: Vec<u16>,
    },
}

/// One parsed safetensors file.
pub struct SafetensorsFile {
    name: String,
    source: Box<dyn ByteSource>,
    tensors: HashMap<String, TensorInfo>,
}

impl SafetensorsFile {
    /// Parses and validates the header; reads no tensor data yet.
    pub fn parse(name: impl Into<String>, source: Box<dyn ByteSource>) -> Result<Self> {
        let name = name.into();
        let corrupt = |reason: String| ModelError::CorruptWeights { file: name.clone(), reason };
        let file_len = source.len();
        if file_len < 8 {
            return Err(corrupt(format!("file is {file_len} bytes, too short for a safetensors header")));
        }
        let mut len_bytes = [0u8; 8];
        source.read_at(0, &mut len_bytes).map_err(|e| corrupt(e.to_string()))?;
        let header_len = u64::from_le_bytes(len_bytes);
        if header_len > MAX_HEADER_BYTES || header_len > file_len - 8 {
            return Err(corrupt(format!(
                "header claims {header_len} bytes but the file has {} after the length prefix",
                file_len - 8
            )));
        }
        let mut header = vec![0u8; header_len as usize];
        source.read_at(8, &mut header).map_err(|e| corrupt(e.to_string()))?;
        let header: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&header).map_err(|e| corrupt(format!("header is not a JSON object: {e}")))?;
        let data_start = 8 + header_len;
        let data_len = file_len - data_start;
        let mut tensors = HashMap::with_capacity(header.len());
        for (tensor, entry) in header {
            if tensor == "__metadata__" {
                continue;
            }
            let info = parse_entry(&entry, data_start, data_len)
                .map_err(|reason| corrupt(format!("tensor {tensor}: {reason}")))?;
            tensors.insert(tensor, info);
        }
        Ok(Self { name, source, tensors })
    }

    /// The file name, for error messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Tensor names and where they live.
    pub fn tensors(&self) -> &HashMap<String, TensorInfo> {
        &self.tensors
    }

    /// Reads one tensor as f32, converting from its stored dtype in small chunks.
    pub fn read_f32(&self, tensor: &str) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(self.element_count(tensor));
        self.read_chunks(tensor, |dtype, bytes| convert_to_f32(dtype, bytes, &mut out))?;
        Ok(out)
    }

    /// Reads one tensor in its stored precision: half the memory of f32 for F16/BF16 files.
    pub fn read_stored(&self, tensor: &str) -> Result<StoredValues> {
        let (mut f32s, mut bits) = (Vec::new(), Vec::new());
        match self.tensors.get(tensor).map(|i| i.dtype.clone()) {
            Some(Ok(StoredDType::F32)) => f32s.reserve_exact(self.element_count(tensor)),
            Some(Ok(_)) => bits.reserve_exact(self.element_count(tensor)),
            _ => {}
        }
        let dtype = self.read_chunks(tensor, |dtype, bytes| match dtype {
            StoredDType::F32 => convert_to_f32(dtype, bytes, &mut f32s),
            StoredDType::F16 | StoredDType::BF16 => {
                bits.extend(bytes.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])))
            }
        })?;
        Ok(match dtype {
            StoredDType::F32 => StoredValues::F32(f32s),
            dtype => StoredValues::Half { dtype, bits },
        })
    }

    /// Reads a byte-sized integer tensor (`dtype` "I8" or "U8", as the header must name it):
    /// the packed weights of a converted checkpoint. Its length was checked against the shape
    /// and the file when the header was parsed.
    pub fn read_bytes(&self, tensor: &str, dtype: &str) -> Result<Vec<u8>> {
        let info = self.info(tensor)?;
        if info.dtype_name() != dtype {
            return Err(ModelError::UnsupportedDType {
                name: tensor.to_string(),
                dtype: info.dtype_name().to_string(),
            });
        }
        let mut out = vec![0u8; info.byte_len() as usize];
        self.source.read_at(info.start, &mut out).map_err(|e| self.read_error(tensor, e))?;
        Ok(out)
    }

    /// One tensor's bytes (its header must name `dtype`) viewed in place where the source can
    /// map them, else read (see [`ByteSource::shared`]): weights stored in the CPU kernels'
    /// layout. Its length was checked against the shape and the file when the header was parsed.
    pub fn shared_bytes(&self, tensor: &str, dtype: &str) -> Result<SharedBytes> {
        let info = self.info(tensor)?;
        if info.dtype_name() != dtype {
            return Err(ModelError::UnsupportedDType {
                name: tensor.to_string(),
                dtype: info.dtype_name().to_string(),
            });
        }
        self.source.shared(info.start, info.byte_len() as usize).map_err(|e| self.read_error(tensor, e))
    }

    /// Streams one tensor's stored bytes, whatever its dtype, through `visit` in chunks of at
    /// most 4 MiB (for copying a tensor unchanged into another file).
    pub fn copy_bytes(&self, tensor: &str, mut visit: impl FnMut(&[u8]) -> std::io::Result<()>) -> Result<()> {
        let info = self.info(tensor)?;
        let mut chunk = vec![0u8; CHUNK_BYTES.min(info.byte_len() as usize)];
        let mut offset = info.start;
        while offset < info.end {
            let n = ((info.end - offset) as usize).min(chunk.len());
            self.source.read_at(offset, &mut chunk[..n]).map_err(|e| self.read_error(tensor, e))?;
            visit(&chunk[..n]).map_err(|e| ModelError::Io { path: format!("copy of {tensor}"), source: e })?;
            offset += n as u64;
        }
        Ok(())
    }

    fn info(&self, tensor: &str) -> Result<&TensorInfo> {
        self.tensors
            .get(tensor)
            .ok_or_else(|| ModelError::MissingTensor { name: tensor.to_string(), expected: Vec::new() })
    }

    /// Streams a float tensor through `visit` in chunks of whole elements (see
    /// [`Self::read_f32`]); returns its stored dtype.
    pub fn stream_float(&self, tensor: &str, visit: impl FnMut(StoredDType, &[u8])) -> Result<StoredDType> {
        self.read_chunks(tensor, visit)
    }

    /// Reads one tensor's raw little-endian bytes into `scratch` (grown as needed, never
    /// shrunk: one buffer serves a whole model load, instead of a fresh allocation, and fresh
    /// zeroed pages from the kernel, per tensor); returns the dtype and the tensor's bytes.
    pub fn read_raw<'s>(&self, tensor: &str, scratch: &'s mut Vec<u8>) -> Result<(StoredDType, &'s [u8])> {
        let (info, dtype) = self.float_tensor(tensor)?;
        let n = info.byte_len() as usize;
        if scratch.len() < n {
            scratch.resize(n, 0);
        }
        let bytes = &mut scratch[..n];
        self.source.read_at(info.start, bytes).map_err(|e| self.read_error(tensor, e))?;
        Ok((dtype, bytes))
    }

    /// A tensor's location and float dtype, or the typed error for a missing or non-float one.
    fn float_tensor(&self, tensor: &str) -> Result<(&TensorInfo, StoredDType)> {
        let info = self
            .tensors
            .get(tensor)
            .ok_or_else(|| ModelError::MissingTensor { name: tensor.to_string(), expected: Vec::new() })?;
        let dtype =
            info.dtype.clone().map_err(|dtype| ModelError::UnsupportedDType { name: tensor.to_string(), dtype })?;
        Ok((info, dtype))
    }

    fn read_error(&self, tensor: &str, e: std::io::Error) -> ModelError {
        ModelError::CorruptWeights { file: self.name.clone(), reason: format!("reading tensor {tensor}: {e}") }
    }

    /// Elements of a tensor with a known dtype (0 otherwise): the header was checked against
    /// the file length, so this never exceeds what the file holds.
    fn element_count(&self, tensor: &str) -> usize {
        match self.tensors.get(tensor) {
            Some(info @ TensorInfo { dtype: Ok(d), .. }) => info.byte_len() as usize / d.size(),
            _ => 0,
        }
    }

    /// Streams one tensor's bytes through `visit` in chunks of at most [`CHUNK_BYTES`]
    /// (whole elements each); returns the stored dtype. The caller's output grows with what
    /// the header promised and the file actually holds, never ahead of it.
    fn read_chunks(&self, tensor: &str, mut visit: impl FnMut(StoredDType, &[u8])) -> Result<StoredDType> {
        let (info, dtype) = self.float_tensor(tensor)?;
        let total = info.byte_len() as usize;
        let mut chunk = vec![0u8; CHUNK_BYTES.min(total)];
        let mut offset = info.start;
        while offset < info.end {
            let n = ((info.end - offset) as usize).min(chunk.len());
            let buf = &mut chunk[..n];
            self.source.read_at(offset, buf).map_err(|e| self.read_error(tensor, e))?;
            visit(dtype, buf);
            offset += n as u64;
        }
        Ok(dtype)
    }
}

fn parse_entry(entry: &serde_json::Value, data_start: u64, data_len: u64) -> Result<TensorInfo, String> {
    let dtype_name = entry.get("dtype").and_then(|d| d.as_str()).ok_or("no dtype")?;
    let dtype = match dtype_name {
        "F32" => Ok(StoredDType::F32),
        "F16" => Ok(StoredDType::F16),
        "BF16" => Ok(StoredDType::BF16),
        other => Err(other.to_string()),
    };
    let shape = entry
        .get("shape")
        .and_then(|s| s.as_array())
        .ok_or("no shape")?
        .iter()
        .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
        .collect::<Option<Vec<usize>>>()
        .ok_or("shape is not a list of sizes")?;
    let offsets = entry
        .get("data_offsets")
        .and_then(|o| o.as_array())
        .filter(|o| o.len() == 2)
        .ok_or("data_offsets is not a pair")?;
    let (begin, end) = match (offsets[0].as_u64(), offsets[1].as_u64()) {
        (Some(b), Some(e)) if b <= e => (b, e),
        _ => return Err(format!("data_offsets {offsets:?} are not an ordered pair of integers")),
    };
    if end > data_len {
        return Err(format!("data_offsets end {end} is past the {data_len} data bytes in the file"));
    }
    let elem_size = match &dtype {
        Ok(d) => d.size() as u64,
        // Integer tensors are checked too: a converted checkpoint's packed weights are I8/U8.
        Err(name) => match name.as_str() {
            "I8" | "U8" | "BOOL" | "F8_E4M3" | "F8_E5M2" => 1,
            "I16" | "U16" => 2,
            "I32" | "U32" => 4,
            "I64" | "U64" | "F64" => 8,
            _ => return Ok(TensorInfo { dtype, shape, start: data_start + begin, end: data_start + end }),
        },
    };
    let numel = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64)).ok_or("shape overflows")?;
    let expected = numel.checked_mul(elem_size).ok_or("shape overflows")?;
    if expected != end - begin {
        return Err(format!("shape {shape:?} needs {expected} bytes but data_offsets span {}", end - begin));
    }
    Ok(TensorInfo { dtype, shape, start: data_start + begin, end: data_start + end })
}

fn convert_to_f32(dtype: StoredDType, bytes: &[u8], out: &mut Vec<f32>) {
    let start = out.len();
    out.resize(start + bytes.len() / dtype.size(), 0.0);
    widen_into(dtype, bytes, &mut out[start..]);
}

/// Little-endian stored values -> f32, one per `dst` slot (`bytes` holds `dst.len()` values).
/// Exact for every dtype: each f16 and bf16 value is an f32.
pub(crate) fn widen_into(dtype: StoredDType, bytes: &[u8], dst: &mut [f32]) {
    match dtype {
        StoredDType::F32 => {
            for (d, b) in dst.iter_mut().zip(bytes.chunks_exact(4)) {
                *d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        StoredDType::F16 | StoredDType::BF16 => {
            for (d, b) in dst.iter_mut().zip(bytes.chunks_exact(2)) {
                *d = half_to_f32(dtype, u16::from_le_bytes([b[0], b[1]]));
            }
        }
    }
}

/// One stored 16-bit value (`dtype` F16 or BF16) as f32.
#[inline]
pub(crate) fn half_to_f32(dtype: StoredDType, bits: u16) -> f32 {
    match dtype {
        StoredDType::F16 => half::f16::from_bits(bits).to_f32(),
        // bf16 is the top half of an f32.
        StoredDType::BF16 | StoredDType::F32 => f32::from_bits((bits as u32) << 16),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a safetensors file from (name, dtype, shape, raw bytes).
    pub(crate) fn build(tensors: &[(&str, &str, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
        let mut header = serde_json::Map::new();
        let mut data = Vec::new();
        for (name, dtype, shape, bytes) in tensors {
            let begin = data.len();
            data.extend_from_slice(bytes);
            header.insert(
                name.to_string(),
                serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [begin, data.len()]}),
            );
        }
        let header = serde_json::to_vec(&header).unwrap();
        let mut file = (header.len() as u64).to_le_bytes().to_vec();
        file.extend(header);
        file.extend(data);
        file
    }

    fn f32_bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn reads_f32_f16_and_bf16_exactly() {
        let values = [1.5f32, -2.0, 0.0, 3.25];
        let bf16: Vec<u8> = values.iter().flat_map(|x| ((x.to_bits() >> 16) as u16).to_le_bytes()).collect();
        let f16: Vec<u8> = values.iter().flat_map(|x| half::f16::from_f32(*x).to_le_bytes()).collect();
        let file = build(&[
            ("a", "F32", vec![2, 2], f32_bytes(&values)),
            ("b", "BF16", vec![4], bf16),
            ("c", "F16", vec![4, 1], f16),
        ]);
        let st = SafetensorsFile::parse("t", Box::new(file)).unwrap();
        for name in ["a", "b", "c"] {
            assert_eq!(st.read_f32(name).unwrap(), values, "{name}");
        }
    }

    #[test]
    fn lying_headers_are_rejected_before_allocating() {
        let good = build(&[("a", "F32", vec![2], f32_bytes(&[1.0, 2.0]))]);
        // Header length far beyond the file.
        let mut huge = good.clone();
        huge[..8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
        // Shape that claims more bytes than the offsets span.
        let lying_shape = build(&[("a", "F32", vec![1 << 20, 1 << 20], f32_bytes(&[1.0, 2.0]))]);
        // Shape whose byte count does not fit in 64 bits.
        let overflowing = build(&[("a", "F32", vec![1 << 40, 1 << 30], f32_bytes(&[1.0, 2.0]))]);
        // Offsets past the end of the file.
        let mut past_end = good.clone();
        past_end.truncate(good.len() - 4);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (huge, "header claims"),
            (lying_shape, "needs"),
            (overflowing, "overflows"),
            (past_end, "past the"),
            (vec![1, 2, 3], "too short"),
            (b"\x05\0\0\0\0\0\0\0[1,2]".to_vec(), "not a JSON object"),
        ];
        for (bytes, needle) in cases {
            let err = SafetensorsFile::parse("bad.safetensors", Box::new(bytes)).err().expect(needle).to_string();
            assert!(err.contains(needle) && err.contains("bad.safetensors"), "{err}");
        }
    }

    #[test]
    fn integer_tensors_are_a_typed_error_on_read() {
        let file = build(&[("ids", "I64", vec![1], 7i64.to_le_bytes().to_vec())]);
        let st = SafetensorsFile::parse("t", Box::new(file)).unwrap();
        assert!(matches!(st.read_f32("ids"), Err(ModelError::UnsupportedDType { .. })));
    }
}
