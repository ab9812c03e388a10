//! The one reader of a model directory: `config.json`, `tokenizer.json` and the safetensors
//! weights, shared by [`Embedder`](crate::Embedder) and [`Reranker`](crate::Reranker).

use qwen3_vl_model::Checkpoint;

#[cfg(not(target_family = "wasm"))]
use crate::error::{EmbedError, Result};

/// A model's files, read (config, tokenizer) or opened (weights) but not yet loaded onto a
/// device. Natively they come from a directory ([`Self::read_dir`]); in the browser each file
/// arrives as a buffer and the fields are filled directly.
pub struct ModelFiles {
    /// The text of `config.json`.
    pub config_json: String,
    /// The bytes of `tokenizer.json`.
    pub tokenizer_json: Vec<u8>,
    /// The opened weights (`model.safetensors` or the shards of its index).
    pub checkpoint: Checkpoint,
}

impl ModelFiles {
    /// Reads `config.json` and `tokenizer.json` of `dir` and opens its weights.
    #[cfg(not(target_family = "wasm"))]
    pub fn read_dir(dir: &std::path::Path) -> Result<Self> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| EmbedError::Io { path: path.display().to_string(), source })
        };
        let config = read("config.json")?;
        let config_json = String::from_utf8(config).map_err(|_| {
            EmbedError::Model(qwen3_vl_model::ModelError::Config("config.json is not valid UTF-8".into()))
        })?;
        Ok(Self { config_json, tokenizer_json: read("tokenizer.json")?, checkpoint: Checkpoint::open_dir(dir)? })
    }
}
