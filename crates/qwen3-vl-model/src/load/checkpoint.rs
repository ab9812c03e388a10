//! A checkpoint: one or more safetensors files seen as one name -> tensor map.
//!
//! Handles the single-file layout (`model.safetensors`) and the sharded one
//! (`model.safetensors.index.json` + shards). Tracks which tensors the model took, so that
//! after loading, leftovers are reported as [`ModelError::UnexpectedTensors`]: a checkpoint
//! that does not belong to the config fails loudly instead of half-loading.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use half::bf16;
use linear_kernels::SharedBytes;

use crate::cpu_linear::PackedWeight;
use crate::error::{ModelError, Result};
use crate::load::safetensors::{
    ByteSource, SafetensorsFile, SendSyncOnNative, StoredDType, StoredRows, StoredValues, TensorInfo,
};
use crate::load::transpose::{bf16_transposed, widen_transposed};

/// Tensors a checkpoint may carry that the embedding model never uses.
const IGNORED_TENSORS: &[&str] = &["lm_head.weight"];

/// How far a model load has come: bytes of the checkpoint's tensors read so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadProgress {
    /// Bytes of the tensors read so far.
    pub loaded_bytes: u64,
    /// Bytes of every tensor the model may take (the ignored LM head excluded).
    pub total_bytes: u64,
}

/// Called after each tensor is read; see [`Checkpoint::with_progress`].
pub trait ProgressFn: Fn(LoadProgress) + SendSyncOnNative {}
impl<F: Fn(LoadProgress) + SendSyncOnNative> ProgressFn for F {}

/// A model's safetensors files as one name -> tensor map, recording which tensors the model
/// has taken so that leftovers can be reported after loading.
pub struct Checkpoint {
    files: Vec<SafetensorsFile>,
    /// Tensor name -> index into `files`.
    location: HashMap<String, usize>,
    taken: Mutex<Taken>,
    total_bytes: u64,
    progress: Option<Box<dyn ProgressFn>>,
    /// Raw bytes of the tensor being converted, reused for the next (see `read_raw`).
    scratch: Mutex<Vec<u8>>,
    /// When recording (the converter): every linear weight the model packed, by weight name.
    recorded: Option<Mutex<Vec<Recorded>>>,
}

/// A packed linear weight under its checkpoint name (`{layer}.weight`).
pub type Recorded = (String, Arc<PackedWeight>);

/// Which tensors the model took, and their bytes.
#[derive(Default)]
struct Taken {
    names: BTreeSet<String>,
    bytes: u64,
}

impl Checkpoint {
    /// Builds a checkpoint from already-opened files (native files or browser buffers).
    /// A tensor present in two files is an error: we would not know which one is meant.
    pub fn from_files(files: Vec<SafetensorsFile>) -> Result<Self> {
        if files.is_empty() {
            return Err(ModelError::CorruptWeights { file: "checkpoint".into(), reason: "no weight files".into() });
        }
        let mut location = HashMap::new();
        for (i, file) in files.iter().enumerate() {
            for name in file.tensors().keys() {
                if let Some(prev) = location.insert(name.clone(), i) {
                    return Err(ModelError::CorruptWeights {
                        file: file.name().to_string(),
                        reason: format!("tensor {name} is also in {}", files[prev].name()),
                    });
                }
            }
        }
        let total_bytes = location
            .iter()
            .filter(|(name, _)| !IGNORED_TENSORS.contains(&name.as_str()))
            .map(|(name, &i)| files[i].tensors()[name].byte_len())
            .sum();
        Ok(Self {
            files,
            location,
            taken: Mutex::new(Taken::default()),
            total_bytes,
            progress: None,
            scratch: Mutex::new(Vec::new()),
            recorded: None,
        })
    }

    /// Reports [`LoadProgress`] to `progress` after every tensor the model reads (a model
    /// load takes each tensor once, so `loaded_bytes` reaches `total_bytes` at the end).
    pub fn with_progress(mut self, progress: impl ProgressFn + 'static) -> Self {
        self.progress = Some(Box::new(progress));
        self
    }

    /// Keeps every int8 or q4 linear weight the model packs while loading from this checkpoint,
    /// under its checkpoint name, for [`Self::take_recorded`]: the converter writes exactly
    /// what a load at that precision computes.
    pub fn recording_packed(mut self) -> Self {
        self.recorded = Some(Mutex::new(Vec::new()));
        self
    }

    /// Notes a packed linear weight when recording.
    pub(crate) fn record_packed(&self, weight_name: &str, packed: &Arc<PackedWeight>) {
        if let Some(recorded) = &self.recorded {
            recorded.lock().unwrap_or_else(|p| p.into_inner()).push((weight_name.to_string(), packed.clone()));
        }
    }

    /// The packed weights recorded so far (see [`Self::recording_packed`]), emptied.
    pub fn take_recorded(&self) -> Vec<Recorded> {
        self.recorded
            .as_ref()
            .map(|r| std::mem::take(&mut *r.lock().unwrap_or_else(|p| p.into_inner())))
            .unwrap_or_default()
    }

    /// Every tensor name, sorted.
    pub fn tensor_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.location.keys().cloned().collect();
        names.sort();
        names
    }

    /// Where a tensor lives: its stored dtype and shape.
    pub fn tensor_info(&self, name: &str) -> Option<&TensorInfo> {
        self.location.get(name).map(|&i| &self.files[i].tensors()[name])
    }

    /// Whether the model never uses this tensor (the LM head): a converter drops it.
    pub fn is_ignored(name: &str) -> bool {
        IGNORED_TENSORS.contains(&name)
    }

    /// The file holding `name`, or the missing-tensor error.
    fn file_of(&self, name: &str) -> Result<&SafetensorsFile> {
        self.location
            .get(name)
            .map(|&i| &self.files[i])
            .ok_or_else(|| ModelError::MissingTensor { name: name.to_string(), expected: Vec::new() })
    }

    /// Streams a tensor's stored bytes unchanged (see [`SafetensorsFile::copy_bytes`]).
    pub fn copy_bytes(&self, name: &str, visit: impl FnMut(&[u8]) -> std::io::Result<()>) -> Result<()> {
        self.file_of(name)?.copy_bytes(name, visit)
    }

    /// Streams a float tensor in chunks (see [`SafetensorsFile::stream_float`]).
    pub fn stream_float(&self, name: &str, visit: impl FnMut(StoredDType, &[u8])) -> Result<StoredDType> {
        self.file_of(name)?.stream_float(name, visit)
    }

    /// Reads a byte-sized integer tensor of `dtype` ("I8" or "U8") after checking its shape,
    /// and marks it as used (a converted checkpoint's packed weights).
    pub fn take_bytes(&self, name: &str, expected: &[usize], dtype: &str) -> Result<Vec<u8>> {
        self.take(name, expected, |file| file.read_bytes(name, dtype))
    }

    /// A tensor's bytes (of `dtype`, shape checked, marked as used) viewed in place where the
    /// file can be mapped, else read: the weights a directory stores in the CPU kernels'
    /// layout (`load/cpu_layout.rs`).
    pub fn take_shared(&self, name: &str, expected: &[usize], dtype: &str) -> Result<SharedBytes> {
        self.take(name, expected, |file| file.shared_bytes(name, dtype))
    }

    /// Builds a checkpoint from in-memory files: `(file name, bytes)` pairs.
    pub fn from_buffers(buffers: Vec<(String, Vec<u8>)>) -> Result<Self> {
        let files = buffers
            .into_iter()
            .map(|(name, bytes)| SafetensorsFile::parse(name, Box::new(bytes) as Box<dyn ByteSource>))
            .collect::<Result<Vec<_>>>()?;
        Self::from_files(files)
    }

    /// Opens the weights of a model directory: the shard index when present, else
    /// `model.safetensors`.
    #[cfg(not(target_family = "wasm"))]
    pub fn open_dir(dir: &std::path::Path) -> Result<Self> {
        use crate::load::safetensors::FileSource;
        let index_path = dir.join("model.safetensors.index.json");
        let names = if index_path.exists() {
            let text = std::fs::read_to_string(&index_path)
                .map_err(|source| ModelError::Io { path: index_path.display().to_string(), source })?;
            shard_names(&text)
                .map_err(|reason| ModelError::CorruptWeights { file: index_path.display().to_string(), reason })?
        } else {
            vec!["model.safetensors".to_string()]
        };
        let files = names
            .iter()
            .map(|name| {
                let path = dir.join(name);
                SafetensorsFile::parse(path.display().to_string(), Box::new(FileSource::open(&path)?))
            })
            .collect::<Result<Vec<_>>>()?;
        Self::from_files(files)
    }

    /// True when the checkpoint has a tensor of this name.
    pub fn contains(&self, name: &str) -> bool {
        self.location.contains_key(name)
    }

    /// Reads a tensor as f32 after checking its shape, and marks it as used.
    pub fn take_f32(&self, name: &str, expected: &[usize]) -> Result<Vec<f32>> {
        self.take(name, expected, |file| file.read_f32(name))
    }

    /// Like [`Self::take_f32`], in the precision the file stores (for tables kept on the host).
    pub fn take_stored(&self, name: &str, expected: &[usize]) -> Result<StoredValues> {
        self.take(name, expected, |file| file.read_stored(name))
    }

    /// Reads a weight of shape `expected` (`[rows, ...]`, trailing dims flattening to
    /// `cols`) as f32 `[cols, rows]`: widened and transposed in one pass on the host.
    pub fn take_f32_transposed(&self, name: &str, expected: &[usize]) -> Result<Vec<f32>> {
        self.take_transposed(name, expected, widen_transposed)
    }

    /// Like [`Self::take_f32_transposed`], as bf16 (exact for bf16 checkpoints): for weights
    /// kept in bf16 and widened where they are used.
    pub fn take_bf16_transposed(&self, name: &str, expected: &[usize]) -> Result<Vec<bf16>> {
        self.take_transposed(name, expected, bf16_transposed)
    }

    fn take_transposed<T>(
        &self,
        name: &str,
        expected: &[usize],
        convert: fn(StoredDType, &[u8], usize, usize) -> Vec<T>,
    ) -> Result<Vec<T>> {
        self.take_rows(name, expected, |w| Ok(convert(w.dtype, w.bytes, w.rows, w.cols)))
    }

    /// Reads a float tensor of shape `expected` (`[rows, ...]`, trailing dims flattening to
    /// `cols`) into one buffer reused across the whole load, and hands its stored bytes to
    /// `convert`: a weight packed from these has no widened or transposed copy in between,
    /// and no fresh pages per tensor.
    pub fn take_rows<T>(
        &self,
        name: &str,
        expected: &[usize],
        convert: impl FnOnce(StoredRows) -> Result<T>,
    ) -> Result<T> {
        let rows = expected.first().copied().unwrap_or(1);
        let cols = expected.iter().skip(1).product();
        self.take(name, expected, |file| {
            // A tensor larger than any linear weight (the token table) gets a buffer of its
            // own, freed right after: the shared one would keep its size for the whole load.
            if file.tensors().get(name).is_some_and(|info| info.byte_len() > SCRATCH_MAX_BYTES) {
                let mut own = Vec::new();
                let (dtype, bytes) = file.read_raw(name, &mut own)?;
                return convert(StoredRows { dtype, bytes, rows, cols });
            }
            let mut scratch = self.scratch.lock().unwrap_or_else(|p| p.into_inner());
            let (dtype, bytes) = file.read_raw(name, &mut scratch)?;
            convert(StoredRows { dtype, bytes, rows, cols })
        })
    }

    fn take<T>(&self, name: &str, expected: &[usize], read: impl FnOnce(&SafetensorsFile) -> Result<T>) -> Result<T> {
        let file = &self.files[*self
            .location
            .get(name)
            .ok_or_else(|| ModelError::MissingTensor { name: name.to_string(), expected: expected.to_vec() })?];
        let info = &file.tensors()[name];
        if info.shape != expected {
            return Err(ModelError::ShapeMismatch {
                name: name.to_string(),
                expected: expected.to_vec(),
                found: info.shape.clone(),
            });
        }
        let values = read(file)?;
        let loaded_bytes = {
            let mut taken = self.taken.lock().unwrap_or_else(|p| p.into_inner());
            if taken.names.insert(name.to_string()) {
                taken.bytes += info.byte_len();
            }
            taken.bytes
        };
        if let Some(progress) = &self.progress {
            progress(LoadProgress { loaded_bytes, total_bytes: self.total_bytes });
        }
        Ok(values)
    }

    /// Fails when the checkpoint holds tensors the model did not take.
    pub fn ensure_all_used(&self) -> Result<()> {
        let taken = self.taken.lock().unwrap_or_else(|p| p.into_inner());
        let mut names: Vec<String> = self
            .location
            .keys()
            .filter(|n| !taken.names.contains(*n) && !IGNORED_TENSORS.contains(&n.as_str()))
            .cloned()
            .collect();
        if names.is_empty() {
            return Ok(());
        }
        names.sort();
        names.truncate(20);
        Err(ModelError::UnexpectedTensors { names })
    }
}

/// The largest tensor read through the load's shared buffer ([`Checkpoint::take_rows`]): above
/// the 8B model's largest linear weight in bf16 (4096 x 12288, 96 MiB), below its token table.
const SCRATCH_MAX_BYTES: u64 = 128 << 20;

/// The distinct shard file names of a `model.safetensors.index.json`, in first-seen order.
/// Names must be plain file names: an index pointing outside the model directory is corrupt.
pub fn shard_names(index_json: &str) -> Result<Vec<String>, String> {
    let index: serde_json::Value = serde_json::from_str(index_json).map_err(|e| format!("not valid JSON: {e}"))?;
    let map = index.get("weight_map").and_then(|m| m.as_object()).ok_or("no weight_map object")?;
    let mut names: Vec<String> = Vec::new();
    for (tensor, file) in map {
        let file = file.as_str().ok_or_else(|| format!("weight_map[{tensor}] is not a file name"))?;
        if file.is_empty() || file.contains('/') || file.contains('\\') || file == ".." {
            return Err(format!("weight_map[{tensor}] = {file:?} is not a plain file name"));
        }
        if !names.iter().any(|n| n == file) {
            names.push(file.to_string());
        }
    }
    if names.is_empty() {
        return Err("weight_map is empty".into());
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::safetensors::tests::build;

    fn checkpoint(tensors: &[(&str, Vec<usize>)]) -> Checkpoint {
        let entries: Vec<_> =
            tensors.iter().map(|(n, s)| (*n, "F32", s.clone(), vec![0u8; 4 * s.iter().product::<usize>()])).collect();
        Checkpoint::from_buffers(vec![("one.safetensors".into(), build(&entries))]).unwrap()
    }

    #[test]
    fn shape_mismatch_names_tensor_and_both_shapes() {
        let ckpt = checkpoint(&[("w", vec![2, 3])]);
        let err = ckpt.take_f32("w", &[3, 2]).unwrap_err();
        assert_eq!(err.to_string(), "tensor w has shape [2, 3], expected [3, 2]");
        let err = ckpt.take_f32("v", &[1]).unwrap_err();
        assert_eq!(err.to_string(), "missing tensor v (expected shape [1])");
    }

    #[test]
    fn leftovers_are_reported_but_lm_head_is_ignored() {
        let ckpt = checkpoint(&[("w", vec![1]), ("extra", vec![1]), ("lm_head.weight", vec![1])]);
        ckpt.take_f32("w", &[1]).unwrap();
        let err = ckpt.ensure_all_used().unwrap_err();
        assert!(matches!(&err, ModelError::UnexpectedTensors { names } if names == &["extra".to_string()]), "{err}");
    }

    #[test]
    fn shard_index_must_name_plain_files() {
        assert_eq!(
            shard_names(r#"{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors","c":"s1.safetensors"}}"#).unwrap(),
            ["s1.safetensors", "s2.safetensors"]
        );
        assert!(shard_names(r#"{"weight_map":{"a":"../etc/passwd"}}"#).unwrap_err().contains("plain file name"));
        assert!(shard_names("{}").unwrap_err().contains("weight_map"));
    }

    #[test]
    fn progress_counts_each_tensor_once_and_ends_at_the_total() {
        use std::sync::{Arc, Mutex};
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let ckpt = checkpoint(&[("a", vec![2, 3]), ("b", vec![4]), ("lm_head.weight", vec![8])])
            .with_progress(move |p| log.lock().unwrap().push((p.loaded_bytes, p.total_bytes)));
        ckpt.take_f32("a", &[2, 3]).unwrap();
        ckpt.take_f32("a", &[2, 3]).unwrap();
        ckpt.take_f32("b", &[4]).unwrap();
        assert_eq!(*seen.lock().unwrap(), [(24, 40), (24, 40), (40, 40)]);
    }

    #[test]
    fn a_tensor_in_two_shards_is_corrupt() {
        let a = build(&[("w", "F32", vec![1], vec![0; 4])]);
        let err = Checkpoint::from_buffers(vec![("s1".into(), a.clone()), ("s2".into(), a)]).err().unwrap();
        assert!(err.to_string().contains("also in s1"), "{err}");
    }
}
