//! Errors of the embedding API: input, preprocessing, model and device.

use thiserror::Error;

/// Everything that can go wrong between an [`EmbedInput`](crate::EmbedInput) and a vector.
#[derive(Debug, Error)]
pub enum EmbedError {
    /// An input with no image and no (or only whitespace) text: there is nothing to embed.
    #[error("empty input: give text, an image, or both")]
    EmptyInput,

    /// A Matryoshka dimension outside `1..=hidden`.
    #[error("dimension {dim} is out of range: choose 1..={max}")]
    BadDimension {
        /// The dimension asked for.
        dim: usize,
        /// The model's hidden size, the largest allowed.
        max: usize,
    },

    /// `--device` (or the API's device choice) names no device we know.
    #[error("unknown device {0:?}: expected cpu, wgpu (or webgpu, gpu) or auto")]
    UnknownDevice(String),

    /// A precision name (`--precision`, the JS `dtype`) we do not know.
    #[error("unknown precision {0:?}: expected f32, f16, bf16, int8 or q4")]
    UnknownPrecision(String),

    /// The device could not be started.
    #[error("cannot start the {device} device: {reason}")]
    DeviceInit {
        /// The device asked for.
        device: String,
        /// Why it could not start.
        reason: String,
    },

    /// The model could not be found locally or downloaded.
    #[error("cannot get model {model}: {reason}")]
    ModelSource {
        /// The model path or Hub id asked for.
        model: String,
        /// Why it could not be found or fetched.
        reason: String,
    },

    /// Reading an input or model file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file that could not be read.
        path: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The model produced an embedding that is not a usable unit vector (NaN, infinite or all
    /// zeros): refused rather than printed or stored.
    #[error("the embedding of {input} is {problem}: the model's weights or config.json are broken")]
    BadEmbedding {
        /// The input, described briefly (its text's start and its number of images).
        input: String,
        /// What is wrong with the vector.
        problem: String,
    },

    /// `convert --out` names a place the conversion cannot write to (a file, a non-empty
    /// directory), or the conversion asked for is not one (f32).
    #[error("cannot convert into {path}: {reason}")]
    BadConvertOutput {
        /// The output directory asked for.
        path: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A converted directory's format file is unreadable, or names a format, version or
    /// precision this code does not know.
    #[error("bad converted model directory (qwen3-vl-embed-format.json): {0}")]
    BadConvertedFormat(String),

    /// Prompt, tokenizer or image preprocessing failed.
    #[error(transparent)]
    Preprocess(#[from] qwen3_vl_preprocess::PreprocessError),

    /// Loading the model or running it failed.
    #[error(transparent)]
    Model(#[from] qwen3_vl_model::ModelError),
}

/// `Result` with [`EmbedError`] as the default error.
pub type Result<T, E = EmbedError> = std::result::Result<T, E>;
