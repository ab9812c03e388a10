//! Qwen3-VL-Embedding in burn.
//!
//! A backend-agnostic port of Hugging Face's `Qwen3VLModel` as the embedding checkpoints use
//! it: the vision tower with DeepStack, the Qwen3 decoder with interleaved MRoPE, and
//! last-token pooling. One code path serves every burn device (CPU, wgpu: Vulkan, Metal,
//! DX12, WebGPU); the device is chosen at run time by the caller.
//!
//! Data flows one way: [`Checkpoint`] (safetensors) + [`Qwen3VlConfig`] -> [`Qwen3VlModel`];
//! [`ModelInput`] (token ids, patches, grids from the preprocessor) -> [`ModelOutput`].
//!
//! ```no_run
//! use qwen3_vl_model::{Checkpoint, ModelInput, Qwen3VlConfig, Qwen3VlModel, read_f32};
//! use burn::tensor::{DType, Device};
//!
//! let dir = std::path::Path::new("tests/fixtures/models/tiny-embedding");
//! let config = Qwen3VlConfig::from_json_str(&std::fs::read_to_string(dir.join("config.json"))?)?;
//! let checkpoint = Checkpoint::open_dir(dir)?;
//! let model = Qwen3VlModel::load(&checkpoint, config, &Device::flex(), DType::F32)?;
//! let out = model.forward(ModelInput { rows: vec![vec![151644, 872, 198, 151643]], ..Default::default() })?;
//! let pooled = pollster::block_on(read_f32(out.pooled))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod config;
#[cfg(not(target_family = "wasm"))]
mod convert;
mod cpu_attention;
mod cpu_linear;
mod cpu_mlp;
mod device_q4;
mod error;
mod layers;
mod load;
mod model;
mod positions;
mod reranker;
mod rope;
mod text;
mod token_embedding;
mod vision;
mod vision_layout;

pub use config::{Qwen3VlConfig, TextConfig, VisionConfig};
#[cfg(not(target_family = "wasm"))]
pub use convert::{ConvertProgress, ConvertStats, WeightLayout, write_converted};
pub use cpu_attention::cpu_attention_kernel;
pub use cpu_linear::{CpuKernels, PackFormat, PackedWeight, cpu_kernels};
pub use error::{ModelError, Result};
pub use load::checkpoint::{Checkpoint, LoadProgress, ProgressFn, shard_names};
pub use load::packed_store::{StoredKind, stored_bytes, stored_kind, stored_names, stored_plan};
pub use load::safetensors::{ByteSource, SafetensorsFile, SendSyncOnNative, StoredDType, StoredRows, TensorInfo};
#[cfg(not(target_family = "wasm"))]
pub use load::safetensors::{FileSource, NO_MAP_ENV};
pub use load::safetensors_write::{TensorPlan, write_safetensors};
pub use load::weights::{INT8_BLOCK, Q4_BLOCK, int8_weights, is_q4, q4_weights};
pub use model::{ModelInput, ModelOutput, PAD_TOKEN_ID, PrefixCache, Qwen3VlModel, read_f32};
pub use reranker::{NO_TOKEN_ID, Qwen3VlReranker, YES_TOKEN_ID};
pub use vision::VisionOutput;
