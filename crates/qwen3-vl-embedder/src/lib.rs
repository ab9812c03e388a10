//! Qwen3-VL-Embedding vectors for text, screenshots and both, and Qwen3-VL-Reranker scores.
//!
//! [`Embedder`] joins the preprocessor (prompt, tokenizer, Pillow-exact PNG images) and the
//! burn model, batches inputs, pools the last token, and returns L2-normalised vectors of any
//! Matryoshka width. [`Reranker`] scores (query, document) pairs with the same preparation.
//! [`start_device`] is the only place that names concrete devices; [`Precision`] the one
//! list of precision names; [`resolve_model_dir`] finds a model on disk or on the Hugging
//! Face Hub; [`convert::convert_dir`] writes a model directory in another precision (int8 and
//! q4 weights packed once, loaded without re-quantizing).

#![warn(missing_docs)]

mod batching;
#[cfg(not(target_family = "wasm"))]
pub mod convert;
pub mod device;
pub mod embedder;
pub mod error;
pub mod input;
pub mod matryoshka;
pub mod model_files;
pub mod precision;
mod prefix_reuse;
mod prepare;
pub mod reranker;
pub mod source;

/// The float type of [`EmbedderOptions::dtype`] and the device type, re-exported so callers
/// need not depend on burn.
pub use burn::tensor::{DType, Device};
#[cfg(not(target_family = "wasm"))]
pub use device::start_device;
pub use device::{DeviceChoice, StartedDevice, start_device_async};
pub use embedder::{Embedder, EmbedderOptions};
pub use error::{EmbedError, Result};
pub use input::EmbedInput;
#[cfg(not(target_arch = "wasm32"))]
pub use input::read_image;
pub use model_files::ModelFiles;
pub use precision::Precision;
pub use qwen3_vl_model::{
    Checkpoint, CpuKernels, LoadProgress, ModelInput, ProgressFn, cpu_kernels, int8_weights, q4_weights,
};
pub use qwen3_vl_preprocess::image::MAX_IMAGE_FILE_BYTES;
pub use reranker::Reranker;
pub use source::resolve_model_dir;
