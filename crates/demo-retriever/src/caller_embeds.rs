//! Building and querying with an embedder that cannot block (wasm, where the model's readback
//! is a `Promise`): the caller embeds what the retriever lists, then the retriever goes on
//! exactly as [`DemoRetriever::build_index`] and [`DemoRetriever::retrieve`] do, so the
//! scores, bonuses and tie-breaks are the same code everywhere.

use std::path::{Path, PathBuf};

use qwen3_vl_embedder::{EmbedError, EmbedInput};

use crate::error::{Result, RetrieverError};
use crate::retriever::{BuildReport, DemoRetriever, EmbedBatch, Query, RetrievalResult, screenshot_error};
use crate::score::Scored;

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

/// A reranked query half done, for a caller whose reranker cannot block: supply the
/// screenshots listed in `missing_screenshots`, score `query` against each of `documents`
/// (the best candidates, in order), then hand the scores to [`DemoRetriever::finish_rerank`].
#[derive(Debug, Clone)]
pub struct RerankRequest {
    /// The query as the reranker sees it (task, screenshot, the query's own instruction).
    pub query: EmbedInput,
    /// The candidates to rescore (goal and screenshot), best first by embedding score + bonus.
    pub documents: Vec<EmbedInput>,
    /// `(demo id, screenshot_path)` of each document whose screenshot the retriever does not
    /// hold in memory (a library's screenshots stay where its episodes name them, and no file
    /// is read here): give each with [`Self::supply_screenshot`], or natively
    /// [`Self::read_missing_screenshots`].
    pub missing_screenshots: Vec<(String, PathBuf)>,
    /// The demo of each document.
    document_ids: Vec<String>,
    candidates: Vec<Scored>,
    top_k: usize,
}

impl RerankRequest {
    /// Gives the screenshot (encoded image bytes) of a demo listed in `missing_screenshots`;
    /// returns whether it was listed (bytes for any other demo are ignored).
    pub fn supply_screenshot(&mut self, demo_id: &str, bytes: Vec<u8>) -> bool {
        let Some(at) = self.missing_screenshots.iter().position(|(id, _)| id == demo_id) else {
            return false;
        };
        self.missing_screenshots.remove(at);
        if let Some(doc) = self.document_ids.iter().position(|id| id == demo_id) {
            self.documents[doc].images.push(bytes);
        }
        true
    }

    /// Reads every missing screenshot from its path, with the embedder's limits on image files.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn read_missing_screenshots(&mut self) -> Result<()> {
        while let Some((id, path)) = self.missing_screenshots.first().cloned() {
            let bytes =
                qwen3_vl_embedder::read_image(&path).map_err(|source| screenshot_problem(&id, &path, source))?;
            self.supply_screenshot(&id, bytes);
        }
        Ok(())
    }
}

/// Demo `id`'s screenshot at `path` could not be had.
fn screenshot_problem(id: &str, path: &Path, source: EmbedError) -> RetrieverError {
    RetrieverError::BadDemos(vec![screenshot_error(id, path, source)])
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

    /// The first half of a reranked [`DemoRetriever::retrieve`] for a query the caller
    /// embedded (`vector`, as in [`Self::retrieve_by_vector`]): the candidates, and what the
    /// reranker must score. `query.rerank` need not be set: this always reranks. Reads no
    /// file: screenshots not held in memory are listed in `missing_screenshots`.
    pub fn rerank_request(&self, vector: &[f32], query: &Query) -> Result<RerankRequest> {
        self.query_input(query)?;
        let query = Query { rerank: true, ..query.clone() };
        let candidates = if query.top_k == 0 { Vec::new() } else { self.candidates(vector, &query)? };
        let (mut documents, mut document_ids, mut missing_screenshots) = (Vec::new(), Vec::new(), Vec::new());
        for demo in self.rerank_top(&candidates) {
            // As `rerank_inputs` makes them (no instruction), but without reading a file.
            let (mut doc, unread) = self.document_without_files(demo);
            doc.instruction = None;
            if let Some(path) = unread {
                missing_screenshots.push((demo.demo_id.clone(), path.clone()));
            }
            documents.push(doc);
            document_ids.push(demo.demo_id.clone());
        }
        Ok(RerankRequest {
            query: self.rerank_query(&query),
            documents,
            missing_screenshots,
            document_ids,
            candidates,
            top_k: query.top_k,
        })
    }

    /// The second half: ranks the candidates with the reranker's `scores` (one per document,
    /// in order; another count is [`RetrieverError::RerankScores`]) exactly as
    /// [`DemoRetriever::retrieve`] does with a blocking reranker.
    pub fn finish_rerank(&self, request: RerankRequest, scores: &[f32]) -> Result<Vec<RetrievalResult>> {
        if let Some((id, path)) = request.missing_screenshots.first() {
            let source = std::io::Error::new(std::io::ErrorKind::NotFound, "not supplied to the rerank request");
            return Err(screenshot_problem(id, path, EmbedError::Io { path: path.display().to_string(), source }));
        }
        if scores.len() != request.documents.len() {
            return Err(RetrieverError::RerankScores { expected: request.documents.len(), got: scores.len() });
        }
        // The caller may have awaited its reranker while the library changed under it.
        let gone: Vec<String> =
            request.candidates.iter().filter(|c| self.demo(&c.demo_id).is_none()).map(|c| c.demo_id.clone()).collect();
        if !gone.is_empty() {
            return Err(RetrieverError::UnknownDemos(gone));
        }
        self.ranked_results(request.candidates, Some(scores), request.top_k)
    }
}
