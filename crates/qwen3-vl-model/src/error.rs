//! Typed errors for configuration, weight files and model inputs.
//!
//! Messages say what was expected and what was found, and name the tensor or file, so a
//! user with a broken download can tell which file to fetch again.

use thiserror::Error;

/// Everything that can go wrong between a model directory and a forward pass.
#[derive(Debug, Error)]
pub enum ModelError {
    /// `config.json` is not valid JSON, lacks a field, or describes a model we cannot run.
    #[error("bad model config: {0}")]
    Config(String),

    /// A safetensors file (or the shard index) is malformed: its header lies about sizes,
    /// offsets run past the end of the file, or the JSON does not parse.
    #[error("corrupt weight file {file}: {reason}")]
    CorruptWeights {
        /// The file (or shard index) at fault.
        file: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A tensor the model needs is in none of the weight files.
    #[error("missing tensor {name} (expected shape {expected:?})")]
    MissingTensor {
        /// The checkpoint name of the tensor.
        name: String,
        /// The shape the config implies.
        expected: Vec<usize>,
    },

    /// A tensor exists but its shape does not match the config.
    #[error("tensor {name} has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        /// The checkpoint name of the tensor.
        name: String,
        /// The shape the config implies.
        expected: Vec<usize>,
        /// The shape the file stores.
        found: Vec<usize>,
    },

    /// The checkpoint holds tensors this architecture does not have: usually a different
    /// model, or a config that does not belong to these weights.
    #[error("unexpected tensors in checkpoint (not part of this model): {names:?}")]
    UnexpectedTensors {
        /// The names no part of the model took.
        names: Vec<String>,
    },

    /// A tensor is stored in a dtype we cannot convert to float (e.g. an integer tensor
    /// where a weight belongs).
    #[error("tensor {name} is stored as {dtype}, expected F32, F16 or BF16")]
    UnsupportedDType {
        /// The checkpoint name of the tensor.
        name: String,
        /// The stored dtype, as safetensors names it.
        dtype: String,
    },

    /// The device cannot compute in the requested precision (a WebGPU adapter without
    /// `shader-f16`, say): its kernels would not compile or would return garbage.
    #[error(
        "this device cannot hold or compute in {dtype}: load the model in f32 (f16 needs a wgpu device with the shader-f16 feature; bf16 weights need the CPU device)"
    )]
    UnsupportedPrecision {
        /// The requested dtype, as burn prints it.
        dtype: String,
    },

    /// A converted checkpoint's linear weights are stored packed in one precision (int8 or
    /// q4), and the model was asked to load in another.
    #[error(
        "the weights are stored as {stored} (a converted model directory): load them with precision {stored}, or convert the original checkpoint again"
    )]
    ConvertedPrecision {
        /// The stored precision: `int8` or `q4`.
        stored: String,
    },

    /// A converted checkpoint stores its weights in the CPU kernels' own layout
    /// (`convert --layout cpu`), and the model was asked to load on another device.
    #[error(
        "the weights are stored in the CPU kernels' layout ({stored}): load them on the CPU device, or convert the original checkpoint with --layout portable for other devices"
    )]
    CpuLayoutDevice {
        /// The stored precision: `bf16`, `int8` or `q4`.
        stored: String,
    },

    /// The inputs handed to the forward pass are inconsistent (wrong number of image
    /// tokens for the grids, empty batch, ...).
    #[error("invalid model input: {0}")]
    Input(String),

    /// Reading a file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file that could not be read.
        path: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The device failed while running or reading back a tensor.
    #[error("device error: {0}")]
    Device(String),
}

/// `Result` with [`ModelError`] as the default error.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
