//! Building and querying with an embedder that cannot block (wasm, where the model's readback
//! is a `Promise`): the caller embeds what the retriever lists, then the retriever goes on
//! exactly as [`DemoRetriever::build_index`] and [`DemoRetriever::retrieve`] do, so the
//! scores, bonuses and tie-breaks are the same code everywhere.

use qwen3_vl_embedder::{EmbedError, EmbedInput};

use crate::error::{Result, RetrieverError};
use crate::retriever::{BuildReport, DemoRetriever, EmbedBatch, Query, RetrievalResult};

/// One demo input the caller must embed before [`DemoRetriever::build_from_cache`].
#[derive(Debug, Clone)]
pub struct ToEmbed {
    /// The demo.
    pub demo_id: String,
    /// The embedding cache key of `input` (hand it back to [`DemoRetriever::add_embedding`]).
    pub key: String,
    /// The model input: goal, screenshot, the index's instruction.
    pub input: EmbedInput,
}

/// An embedder that answers with vectors computed beforehand, in input order.
struct Precomputed(Vec<Vec<f32>>);

impl EmbedBatch for Precomputed {
    fn embed_inputs(&self, inputs: &[EmbedInput], _dim: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
        if inputs.len() != self.0.len() {
            return Err(EmbedError::BadEmbedding {
                input: format!("{} input(s)", inputs.len()),
                problem: format!("missing: {} vector(s) were computed beforehand", self.0.len()),
            });
        }
        Ok(self.0.clone())
    }
}

impl DemoRetriever {
    /// The pending demos' inputs whose vectors are neither in the embedding cache nor in the
    /// index, in id order. A demo whose input cannot be made (an unreadable screenshot)
    /// fails with [`RetrieverError::BadDemos`].
    pub fn inputs_to_embed(&mut self) -> Result<Vec<ToEmbed>> {
        let mut out = Vec::new();
        let mut bad = Vec::new();
        for id in &self.pending {
            let input = match self.document_input(&self.demos[id]) {
                Ok(input) => input,
                Err(e) => {
                    bad.push(e);
                    continue;
                }
            };
            let key = self.key_of(&input);
            let known =
                self.cache.lookup_dim(&key, self.settings.dim).is_some() || self.indexed_vector(id, &key).is_some();
            if !known {
                out.push(ToEmbed { demo_id: id.clone(), key, input });
            }
        }
        if !bad.is_empty() {
            return Err(RetrieverError::BadDemos(bad));
        }
        Ok(out)
    }

    /// Stores the vector the caller computed for a [`ToEmbed`] (its `key`) in the embedding
    /// cache, after the checks a build makes on the embedder's vectors.
    pub fn add_embedding(&mut self, item: &ToEmbed, vector: Vec<f32>) -> Result<()> {
        crate::retriever::check_vector(&item.demo_id, &vector, self.settings.dim)?;
        self.cache.insert(item.key.clone(), vector);
        Ok(())
    }

    /// [`DemoRetriever::build_index`] once every vector [`Self::inputs_to_embed`] listed is in
    /// the cache: the model is never called (a vector still missing is an error).
    pub fn build_from_cache(&mut self) -> Result<BuildReport> {
        self.build_index(&Precomputed(Vec::new()), usize::MAX, &mut |_| {})
    }

    /// [`DemoRetriever::retrieve`] (without reranking) for a query the caller embedded:
    /// `vector` is the embedding of [`Self::query_input`] at the index's dimension (another
    /// length is refused by the index search).
    pub fn retrieve_by_vector(&self, vector: Vec<f32>, query: &Query) -> Result<Vec<RetrievalResult>> {
        self.retrieve(&Precomputed(vec![vector]), query, None)
    }
}
