//! Qwen3-VL-Reranker scoring (Qwen3-VL-Embedding's `src/models/qwen3_vl_reranker.py`:
//! `Qwen3VLReranker.get_binary_linear` and `compute_scores`): the embedding backbone plus a
//! yes/no head.
//!
//! The reranker is the same `Qwen3VLForConditionalGeneration` as the embedding model. Its
//! score for a (query, document) prompt is `sigmoid(logit_yes - logit_no)` at the last
//! position, i.e. `sigmoid(h · (W[yes] - W[no]))` with `h` the final-norm hidden state of the
//! last token and `W` the LM head (the tied token embedding in the 2B, `lm_head.weight` in
//! the 8B). Only that one difference row is kept, in f32, and the dot product runs on the
//! host in f32 (more accurate than the reference's head, which `Qwen3VLReranker.__init__`
//! casts to the model dtype).

use burn::tensor::{DType, Device};

use crate::config::Qwen3VlConfig;
use crate::error::{ModelError, Result};
use crate::load::checkpoint::Checkpoint;
use crate::model::{ModelInput, Qwen3VlModel, read_f32};

/// Token id of "yes" in the Qwen3 vocabulary.
pub const YES_TOKEN_ID: usize = 9693;
/// Token id of "no" in the Qwen3 vocabulary.
pub const NO_TOKEN_ID: usize = 2152;

/// A loaded reranker: the backbone and the `W[yes] - W[no]` direction.
#[derive(Debug, Clone)]
pub struct Qwen3VlReranker {
    model: Qwen3VlModel,
    /// `W[yes] - W[no]`, `[hidden]`, f32.
    direction: Vec<f32>,
}

impl Qwen3VlReranker {
    /// Loads the backbone from `checkpoint` and the yes/no rows of its LM head:
    /// `lm_head.weight` when the checkpoint has one, else the token embedding when the config
    /// says the embeddings are tied. An untied config without `lm_head.weight` is
    /// [`ModelError::MissingTensor`].
    pub fn load(checkpoint: &Checkpoint, config: Qwen3VlConfig, device: &Device, dtype: DType) -> Result<Self> {
        let tied = config.tie_word_embeddings;
        let (vocab, hidden) = (config.text.vocab_size, config.text.hidden_size);
        if vocab <= YES_TOKEN_ID.max(NO_TOKEN_ID) {
            return Err(ModelError::Config(format!("vocab_size {vocab} has no rows for the yes/no tokens")));
        }
        let model = Qwen3VlModel::load(checkpoint, config, device, dtype)?;
        let head = head_tensor_name(checkpoint, tied)?;
        let weights = checkpoint.take_f32(&head, &[vocab, hidden])?;
        let row = |t: usize| &weights[t * hidden..(t + 1) * hidden];
        let direction = row(YES_TOKEN_ID).iter().zip(row(NO_TOKEN_ID)).map(|(y, n)| y - n).collect();
        Ok(Self { model, direction })
    }

    /// The embedding backbone the scores are computed on.
    pub fn model(&self) -> &Qwen3VlModel {
        &self.model
    }

    /// Scores every row of a batch (each row one full reranker prompt, no EOS): the
    /// probability that the answer is "yes". Takes the batch by value, as
    /// [`Qwen3VlModel::forward`] does, to free its pixels after the vision tower.
    pub async fn score_async(&self, input: ModelInput) -> Result<Vec<f32>> {
        let pooled = read_f32(self.model.forward(input)?.pooled).await?;
        Ok(pooled.chunks_exact(self.direction.len()).map(|h| sigmoid(dot(h, &self.direction))).collect())
    }
}

/// Which tensor holds the LM head: `lm_head.weight` if present, else the tied embedding.
fn head_tensor_name(checkpoint: &Checkpoint, tied: bool) -> Result<String> {
    if checkpoint.contains("lm_head.weight") {
        return Ok("lm_head.weight".into());
    }
    if !tied {
        return Err(ModelError::MissingTensor { name: "lm_head.weight".into(), expected: Vec::new() });
    }
    let name = ["model.language_model.embed_tokens.weight", "language_model.embed_tokens.weight"]
        .into_iter()
        .find(|n| checkpoint.contains(n))
        .ok_or_else(|| ModelError::MissingTensor {
            name: "model.language_model.embed_tokens.weight".into(),
            expected: Vec::new(),
        })?;
    Ok(name.into())
}

/// f32 dot product accumulated in f64 (the head is one long reduction).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum::<f64>() as f32
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}
