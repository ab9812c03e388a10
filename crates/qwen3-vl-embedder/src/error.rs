//! Errors of the embedding API: input, preprocessing, model and device.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum EmbedError {
    /// An input with no image and no (or only whitespace) text: there is nothing to embed.
    #[error("empty input: give text, an image, or both")]
    EmptyInput,

    /// A Matryoshka dimension outside `1..=hidden`.
    #[error("dimension {dim} is out of range: choose 1..={max}")]
    BadDimension { dim: usize, max: usize },

    /// `--device` (or the API's device choice) names no device we know.
    #[error("unknown device {0:?}: expected cpu, wgpu or auto")]
    UnknownDevice(String),

    /// The device could not be started.
    #[error("cannot start the {device} device: {reason}")]
    DeviceInit { device: String, reason: String },

    /// The model could not be found locally or downloaded.
    #[error("cannot get model {model}: {reason}")]
    ModelSource { model: String, reason: String },

    /// Reading an input or model file failed.
    #[error("cannot read {path}: {source}")]
    Io { path: String, #[source] source: std::io::Error },

    #[error(transparent)]
    Preprocess(#[from] qwen3_vl_preprocess::PreprocessError),

    #[error(transparent)]
    Model(#[from] qwen3_vl_model::ModelError),
}

pub type Result<T, E = EmbedError> = std::result::Result<T, E>;
