//! The model reranker behind [`Rerank`]: `qwen3_vl_embedder::Reranker` (Qwen3-VL-Reranker
//! prompts scored by the model's yes/no head) rescoring a query's candidates.

#![cfg(not(target_family = "wasm"))]

use qwen3_vl_embedder::{EmbedInput, Reranker};

use crate::error::Result;
use crate::retriever::Rerank;

/// Natively only: the wasm build has no blocking `score`.
impl Rerank for Reranker {
    fn rerank(&self, query: &EmbedInput, documents: &[EmbedInput]) -> Result<Vec<f32>> {
        Ok(self.score(query.instruction.as_deref(), query, documents)?)
    }
}
