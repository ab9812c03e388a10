//! [`DemoRetriever`]: demos in, an embedding index over them, ranked demos out.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use qwen3_vl_embedder::matryoshka::embedding_problem;
use qwen3_vl_embedder::{EmbedError, EmbedInput};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use vector_index::{Index, IndexConfig, Strategy};

use crate::cache::{EmbeddingCache, cache_key};
use crate::demo::Demo;
use crate::error::{DemoError, DemoProblem, Result, RetrieverError};
use crate::filter::Filter;
use crate::score::{Bonuses, Context, Scored, app_matches, bonus, domain_matches, rank};

/// The instruction (system prompt) demos and queries are embedded with unless told otherwise.
pub const DEFAULT_INSTRUCTION: &str = "Retrieve the GUI demonstration that shows how to complete the user's task.";
/// The model the command line uses unless told otherwise.
pub const DEFAULT_MODEL: &str = "Qwen/Qwen3-VL-Embedding-2B";
/// The Matryoshka dimension used unless told otherwise (capped at the model's hidden size).
pub const DEFAULT_DIM: usize = 512;
/// The smallest dimension a library may be built with (the seed's rule: shorter Matryoshka
/// prefixes lose too much). Checked where users choose it (`index --dim`, npm's
/// `Retriever.create`) by [`check_dim`].
pub const MIN_DIM: usize = 64;

/// Checks a library's dimension against [`MIN_DIM`] and the model's width `max`.
pub fn check_dim(dim: usize, max: usize) -> Result<()> {
    if (MIN_DIM..=max).contains(&dim) {
        return Ok(());
    }
    Err(RetrieverError::DimOutOfRange { dim, min: MIN_DIM, max })
}

/// What an index was built with. Saved in the index directory's manifest; queries use it unless told
/// otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrieverSettings {
    /// The embedding model (a Hub id or an absolute model directory).
    pub model: String,
    /// Matryoshka dimension of every stored vector.
    pub dim: usize,
    /// Instruction for documents, and for queries that do not give their own.
    pub instruction: String,
    /// Context bonuses added to matching demos.
    #[serde(default)]
    pub bonuses: Bonuses,
    /// How many of the best candidates the reranker rescores when reranking is on.
    #[serde(default = "default_rerank_top_n")]
    pub rerank_top_n: usize,
    /// How the vector index answers: exact scan, HNSW graph, or `auto` (HNSW from 10,000
    /// demos). Saved with the index; absent in indexes saved before it existed (`auto`).
    #[serde(default)]
    pub strategy: Strategy,
}

/// The seed's `rerank_top_n` default.
fn default_rerank_top_n() -> usize {
    20
}

impl RetrieverSettings {
    /// Settings for `model` at dimension `dim`, with the default instruction, bonuses and
    /// rerank depth.
    pub fn new(model: impl Into<String>, dim: usize) -> Self {
        Self {
            model: model.into(),
            dim,
            instruction: DEFAULT_INSTRUCTION.into(),
            bonuses: Bonuses::default(),
            rerank_top_n: default_rerank_top_n(),
            strategy: Strategy::Auto,
        }
    }

    /// The vector index's configuration for these settings.
    pub(crate) fn index_config(&self) -> IndexConfig {
        let mut config = IndexConfig::new(self.model.clone(), self.dim);
        config.strategy = self.strategy;
        config
    }

    /// The same settings with another instruction.
    pub fn with_instruction(mut self, instruction: impl Into<String>) -> Self {
        self.instruction = instruction.into();
        self
    }
}

/// Anything that turns inputs into unit vectors of width `dim`: the real [`qwen3_vl_embedder::Embedder`],
/// or a stand-in in tests.
pub trait EmbedBatch {
    /// One unit vector of width `dim` per input, in input order.
    fn embed_inputs(&self, inputs: &[EmbedInput], dim: usize) -> Result<Vec<Vec<f32>>, EmbedError>;
}

#[cfg(not(target_family = "wasm"))]
impl EmbedBatch for qwen3_vl_embedder::Embedder {
    fn embed_inputs(&self, inputs: &[EmbedInput], dim: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.embed_batch(inputs, Some(dim))
    }
}

/// Scores (query, document) pairs: the probability each document answers the query.
pub trait Rerank {
    /// One score in `[0, 1]` per document, in document order.
    fn rerank(&self, query: &EmbedInput, documents: &[EmbedInput]) -> Result<Vec<f32>>;
}

/// A retrieval request. `task` and `screenshot` may each be absent, not both.
#[derive(Debug, Clone)]
pub struct Query {
    /// The task text.
    pub task: Option<String>,
    /// Encoded image bytes of the current screen.
    pub screenshot: Option<Vec<u8>>,
    /// How many results to return.
    pub top_k: usize,
    /// The app the user is in; demos of that app get the app bonus.
    pub app_context: Option<String>,
    /// The site the user is on; demos of that domain get the domain bonus.
    pub domain_context: Option<String>,
    /// Overrides the index's instruction for this query's embedding.
    pub instruction: Option<String>,
    /// Rescore the best `rerank_top_n` candidates with the reranker.
    pub rerank: bool,
    /// Conditions every returned demo meets (all of them), applied inside the index's search,
    /// so `top_k` demos come back whenever that many match.
    pub filters: Vec<Filter>,
}

impl Query {
    /// A text query for the 5 best demos.
    pub fn text(task: impl Into<String>) -> Self {
        Self {
            task: Some(task.into()),
            screenshot: None,
            top_k: 5,
            app_context: None,
            domain_context: None,
            instruction: None,
            rerank: false,
            filters: Vec::new(),
        }
    }

    /// A screenshot query for the 5 best demos.
    pub fn screenshot(bytes: Vec<u8>) -> Self {
        Self { task: None, screenshot: Some(bytes), ..Self::text("") }
    }

    /// Returns the `k` best demos instead.
    pub fn top_k(mut self, k: usize) -> Self {
        self.top_k = k;
        self
    }

    /// Adds the current screen (encoded image bytes) to the query.
    pub fn with_screenshot(mut self, bytes: Vec<u8>) -> Self {
        self.screenshot = Some(bytes);
        self
    }

    /// Sets the app the user is in (see [`Query::app_context`]).
    pub fn app(mut self, app: impl Into<String>) -> Self {
        self.app_context = Some(app.into());
        self
    }

    /// Sets the site the user is on (see [`Query::domain_context`]).
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain_context = Some(domain.into());
        self
    }

    /// Embeds the query with `instruction` instead of the index's.
    pub fn instruction(mut self, instruction: impl Into<String>) -> Self {
        self.instruction = Some(instruction.into());
        self
    }

    /// Turns reranking on (see [`Query::rerank`]).
    pub fn reranked(mut self) -> Self {
        self.rerank = true;
        self
    }

    fn embed_input(&self, default_instruction: &str) -> Result<EmbedInput> {
        let input = EmbedInput {
            text: self.task.clone().filter(|t| !t.trim().is_empty()),
            images: self.screenshot.iter().cloned().collect(),
            instruction: Some(self.instruction.clone().unwrap_or_else(|| default_instruction.to_owned())),
        };
        if input.is_empty() { Err(RetrieverError::EmptyQuery) } else { Ok(input) }
    }
}

/// One retrieved demo.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrievalResult {
    /// 1-based position after sorting.
    pub rank: usize,
    /// `embedding_score` (or `rerank_score` when reranked) plus the context bonuses.
    pub score: f32,
    /// Cosine similarity of the query and demo embeddings.
    pub embedding_score: f32,
    /// The reranker's probability that the demo answers the query, when reranked.
    pub rerank_score: Option<f32>,
    /// The demo itself.
    pub demo: Demo,
}

/// Where [`DemoRetriever::build_index`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Demos embedded so far.
    pub done: usize,
    /// Demos that need embedding in this build.
    pub total: usize,
}

/// What [`DemoRetriever::build_index`] did.
#[derive(Debug, Default)]
pub struct BuildReport {
    /// Demos that went through the model.
    pub embedded: usize,
    /// Demos whose vector came from the embedding cache or was already in the index.
    pub reused: usize,
    /// Demos left out under [`OnBadDemo::Skip`], each with the file and the reason.
    pub skipped: Vec<DemoError>,
}

/// What a build does with a demo that cannot be embedded because of its own input: a
/// screenshot that cannot be read or decoded, text that cannot be tokenised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnBadDemo {
    /// Fail the build with [`RetrieverError::BadDemos`], naming each demo and file; nothing
    /// changes but the cache.
    #[default]
    Fail,
    /// Leave such demos out and list them in [`BuildReport::skipped`]; a demo that replaced
    /// an indexed one gives way to that previous version again.
    Skip,
}

/// Demos, the index over their embeddings, and the embedding cache.
///
/// ```no_run
/// use demo_retriever::{DemoRetriever, Query, RetrieverSettings, read_library};
/// use qwen3_vl_embedder::{DeviceChoice, Embedder, EmbedderOptions, start_device};
///
/// let device = start_device(DeviceChoice::Auto)?;
/// let dir = qwen3_vl_embedder::resolve_model_dir("Qwen/Qwen3-VL-Embedding-2B")?;
/// let embedder = Embedder::from_dir(&dir, &device.device, EmbedderOptions::default())?;
/// let mut retriever = DemoRetriever::new(RetrieverSettings::new("Qwen/Qwen3-VL-Embedding-2B", 512))?;
/// retriever.add_demos(read_library("demos/".as_ref())?.demos)?;
/// retriever.build_index(&embedder, 8, &mut |_| {})?;
/// retriever.save("demo-index".as_ref())?;
/// for hit in retriever.retrieve(&embedder, &Query::text("Turn off Night Shift").top_k(3), None)? {
///     println!("{} {:.3} {}", hit.rank, hit.score, hit.demo.goal);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct DemoRetriever {
    pub(crate) settings: RetrieverSettings,
    pub(crate) demos: BTreeMap<String, Demo>,
    /// Demos added (or replaced) since the last build.
    pub(crate) pending: BTreeSet<String>,
    /// The indexed versions of pending demos that replaced them, restored if the new version
    /// is skipped as bad (their vectors are still in the index).
    pub(crate) replaced: BTreeMap<String, Demo>,
    pub(crate) index: Index,
    pub(crate) cache: EmbeddingCache,
    /// Screenshots given as bytes with pending demos (where there is no file system to read
    /// `screenshot_path` from: wasm), dropped once the demo is embedded.
    pub(crate) screenshots: BTreeMap<String, Vec<u8>>,
}

impl DemoRetriever {
    /// An empty retriever.
    pub fn new(settings: RetrieverSettings) -> Result<Self> {
        let index = Index::new(settings.index_config())?;
        let (demos, pending, replaced, cache, screenshots) = Default::default();
        Ok(Self { settings, demos, pending, replaced, index, cache, screenshots })
    }

    /// A retriever over loaded parts, every demo built (what a load returns).
    pub(crate) fn assemble(
        settings: RetrieverSettings,
        demos: BTreeMap<String, Demo>,
        index: Index,
        cache: EmbeddingCache,
    ) -> Self {
        let (pending, replaced, screenshots) = Default::default();
        Self { settings, demos, pending, replaced, index, cache, screenshots }
    }

    /// What the index is built with.
    pub fn settings(&self) -> &RetrieverSettings {
        &self.settings
    }

    /// Changes the context bonuses (they apply at query time; nothing is re-embedded).
    pub fn set_bonuses(&mut self, bonuses: Bonuses) {
        self.settings.bonuses = bonuses;
    }

    /// Changes how many of the best candidates the reranker rescores.
    pub fn set_rerank_top_n(&mut self, n: usize) {
        self.settings.rerank_top_n = n;
    }

    /// Number of demos (embedded or not yet).
    pub fn len(&self) -> usize {
        self.demos.len()
    }

    /// Whether the retriever holds no demo.
    pub fn is_empty(&self) -> bool {
        self.demos.is_empty()
    }

    /// Demos added since the last [`Self::build_index`].
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The demo with this id, if any.
    pub fn demo(&self, demo_id: &str) -> Option<&Demo> {
        self.demos.get(demo_id)
    }

    /// Every demo, in id order.
    pub fn demos(&self) -> impl Iterator<Item = &Demo> {
        self.demos.values()
    }

    /// The stored (unit) embedding of a demo, once built.
    pub fn embedding(&self, demo_id: &str) -> Option<&[f32]> {
        self.index.get(demo_id).ok().map(|item| item.vector)
    }

    /// The vector index over the demos' embeddings (ids are demo ids; metadata is each demo's
    /// summary), e.g. to export it with `vector_index::Index::export_qdrant`.
    pub fn index(&self) -> &vector_index::Index {
        &self.index
    }

    /// The embedding cache.
    pub fn cache(&self) -> &EmbeddingCache {
        &self.cache
    }

    /// The embedding cache, to reset its counters or fill it.
    pub fn cache_mut(&mut self) -> &mut EmbeddingCache {
        &mut self.cache
    }

    /// Adds a demo, or replaces the one with the same id; it is embedded by the next build.
    pub fn add_demo(&mut self, demo: Demo) {
        let id = demo.demo_id.clone();
        if let Some(old) = self.demos.insert(id.clone(), demo)
            && self.index.contains(&id)
        {
            self.replaced.entry(id.clone()).or_insert(old);
        }
        self.pending.insert(id);
    }

    /// Adds a demo whose screenshot is given as encoded image bytes rather than read from its
    /// `screenshot_path` (where there is no file system: wasm). The bytes are embedded with the
    /// goal by the next build, then dropped.
    pub fn add_demo_with_screenshot(&mut self, demo: Demo, screenshot: Option<Vec<u8>>) {
        let id = demo.demo_id.clone();
        self.add_demo(demo);
        match screenshot {
            Some(bytes) => self.screenshots.insert(id, bytes),
            None => self.screenshots.remove(&id),
        };
    }

    /// Adds demos (see [`Self::add_demo`]). Returns how many.
    pub fn add_demos(&mut self, demos: impl IntoIterator<Item = Demo>) -> Result<usize> {
        let mut n = 0;
        for demo in demos {
            self.add_demo(demo);
            n += 1;
        }
        Ok(n)
    }

    /// Removes a demo; returns whether it was there.
    pub fn remove_demo(&mut self, demo_id: &str) -> Result<bool> {
        self.pending.remove(demo_id);
        self.replaced.remove(demo_id);
        self.screenshots.remove(demo_id);
        if self.demos.remove(demo_id).is_none() {
            return Ok(false);
        }
        if self.index.contains(demo_id) {
            self.index.remove(demo_id)?;
        }
        Ok(true)
    }

    /// Removes every demo (the embedding cache stays).
    pub fn clear(&mut self) -> Result<()> {
        self.demos.clear();
        self.pending.clear();
        self.replaced.clear();
        self.screenshots.clear();
        self.index = Index::new(self.settings.index_config())?;
        Ok(())
    }

    /// Switches model, dimension or instruction: every demo is embedded again by the next
    /// build (vectors already in the cache for the new settings are reused).
    pub fn reembed(&mut self, settings: RetrieverSettings) -> Result<()> {
        let index = Index::new(settings.index_config())?;
        (self.settings, self.index) = (settings, index);
        self.pending = self.demos.keys().cloned().collect();
        // The previous versions' vectors went with the old index: nothing to restore.
        self.replaced.clear();
        Ok(())
    }

    /// Checks that the index was built with each setting that is given.
    pub fn ensure_compatible(&self, model: Option<&str>, dim: Option<usize>, instruction: Option<&str>) -> Result<()> {
        let s = &self.settings;
        if let Some(m) = model.filter(|m| *m != s.model) {
            return Err(RetrieverError::ModelMismatch { expected: m.into(), found: s.model.clone() });
        }
        if let Some(d) = dim.filter(|d| *d != s.dim) {
            return Err(RetrieverError::DimMismatch { expected: d, found: s.dim });
        }
        if let Some(i) = instruction.filter(|i| *i != s.instruction) {
            return Err(RetrieverError::InstructionMismatch { expected: i.into(), found: s.instruction.clone() });
        }
        Ok(())
    }

    /// The model input for a demo: its goal and, when it has one, its screenshot.
    pub(crate) fn document_input(&self, demo: &Demo) -> Result<EmbedInput, DemoError> {
        let (mut input, unread) = self.document_without_files(demo);
        if let Some(path) = unread {
            let bytes = read_screenshot(path).map_err(|source| screenshot_error(&demo.demo_id, path, source))?;
            input.images.push(bytes);
        }
        Ok(input)
    }

    /// [`Self::document_input`] without reading a file: the screenshot is in the input when it
    /// is held in memory, else its path is returned, still to be read.
    pub(crate) fn document_without_files<'a>(&self, demo: &'a Demo) -> (EmbedInput, Option<&'a std::path::PathBuf>) {
        let mut input = EmbedInput::text(demo.goal.clone()).with_instruction(self.settings.instruction.clone());
        match (self.screenshots.get(&demo.demo_id), &demo.screenshot_path) {
            (Some(bytes), _) => input.images.push(bytes.clone()),
            (None, Some(path)) => return (input, Some(path)),
            (None, None) => {}
        }
        (input, None)
    }

    pub(crate) fn key_of(&self, input: &EmbedInput) -> String {
        let s = &self.settings;
        cache_key(&s.model, s.dim, &s.instruction, input.text.as_deref(), &input.images)
    }

    /// Embeds the demos added since the last build, `batch_size` per model call, and puts
    /// them in the index. Vectors in the embedding cache (or already in the index for the
    /// same inputs) are reused, not recomputed. `progress` is called after every batch.
    ///
    /// On error nothing changes but the cache (which only ever gains correct vectors). A demo
    /// whose own input cannot be embedded fails the build ([`OnBadDemo::Fail`]); see
    /// [`Self::build_index_with`] to skip such demos instead.
    pub fn build_index(
        &mut self,
        embedder: &dyn EmbedBatch,
        batch_size: usize,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<BuildReport> {
        self.build_index_with(embedder, batch_size, OnBadDemo::Fail, progress)
    }

    /// [`Self::build_index`], with a choice of what to do with demos whose own input (an
    /// unreadable or undecodable screenshot) cannot be embedded. When a batch fails on such
    /// an input, its inputs are embedded one by one to tell which demo is at fault.
    pub fn build_index_with(
        &mut self,
        embedder: &dyn EmbedBatch,
        batch_size: usize,
        on_bad: OnBadDemo,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<BuildReport> {
        let mut ready: Vec<(String, Vec<f32>, Value)> = Vec::new();
        let mut todo: Vec<(String, String, EmbedInput)> = Vec::new();
        let mut bad = Vec::new();
        for id in &self.pending {
            let demo = &self.demos[id];
            let input = match self.document_input(demo) {
                Ok(input) => input,
                Err(e) => {
                    bad.push((id.clone(), e));
                    continue;
                }
            };
            let key = self.key_of(&input);
            let meta = item_metadata(demo, &key);
            let known = self
                .cache
                .lookup_dim(&key, self.settings.dim)
                .map(<[f32]>::to_vec)
                .or_else(|| self.indexed_vector(id, &key));
            match known {
                Some(v) => ready.push((id.clone(), v, meta)),
                None => todo.push((id.clone(), key, input)),
            }
        }
        if !bad.is_empty() && on_bad == OnBadDemo::Fail {
            return Err(RetrieverError::BadDemos(bad.into_iter().map(|(_, e)| e).collect()));
        }
        let reused = ready.len();
        let total = todo.len();
        progress(Progress { done: 0, total });
        let mut done = 0;
        for chunk in todo.chunks(batch_size.max(1)) {
            let vectors = self.embed_chunk(embedder, chunk, &mut bad)?;
            for ((id, _, _), v) in chunk.iter().zip(&vectors) {
                if let Some(v) = v {
                    check_vector(id, v, self.settings.dim)?;
                }
            }
            for ((id, key, _), v) in chunk.iter().zip(vectors) {
                let Some(v) = v else { continue };
                self.cache.insert(key.clone(), v.clone());
                ready.push((id.clone(), v, item_metadata(&self.demos[id], key)));
            }
            done += chunk.len();
            progress(Progress { done, total });
        }
        if !bad.is_empty() && on_bad == OnBadDemo::Fail {
            return Err(RetrieverError::BadDemos(bad.into_iter().map(|(_, e)| e).collect()));
        }
        let report = BuildReport { embedded: ready.len() - reused, reused, skipped: Vec::new() };
        self.index.add_batch(ready)?;
        let skipped = bad.into_iter().map(|(id, e)| self.leave_out(&id, e)).collect();
        self.pending.clear();
        self.replaced.clear();
        self.screenshots.clear();
        Ok(BuildReport { skipped, ..report })
    }

    /// Embeds one batch. When it fails on an input of its own (see [`is_input_error`]), each
    /// input is embedded alone: the bad ones are added to `bad` and come back as `None`.
    fn embed_chunk(
        &self,
        embedder: &dyn EmbedBatch,
        chunk: &[(String, String, EmbedInput)],
        bad: &mut Vec<(String, DemoError)>,
    ) -> Result<Vec<Option<Vec<f32>>>> {
        let dim = self.settings.dim;
        let inputs: Vec<EmbedInput> = chunk.iter().map(|(_, _, input)| input.clone()).collect();
        let vectors = match embedder.embed_inputs(&inputs, dim) {
            Ok(vectors) => vectors,
            Err(e) if !is_input_error(&e) => return Err(e.into()),
            Err(_) => {
                let mut out = Vec::with_capacity(chunk.len());
                for (id, _, input) in chunk {
                    match embedder.embed_inputs(std::slice::from_ref(input), dim) {
                        Ok(mut v) if v.len() == 1 => out.push(v.pop()),
                        Ok(_) => return Err(bad_embedding(&format!("demo {id}"), "missing".into()).into()),
                        Err(e) if is_input_error(&e) => {
                            bad.push((id.clone(), self.demo_error(id, e)));
                            out.push(None);
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                return Ok(out);
            }
        };
        if vectors.len() != chunk.len() {
            return Err(bad_embedding("a batch", "missing: fewer vectors than inputs came back".into()).into());
        }
        Ok(vectors.into_iter().map(Some).collect())
    }

    /// A demo whose input could not be embedded, naming its screenshot when it has one.
    fn demo_error(&self, id: &str, e: EmbedError) -> DemoError {
        let problem = match &self.demos[id].screenshot_path {
            Some(path) => DemoProblem::Screenshot { path: path.clone(), source: e },
            None => DemoProblem::Unembeddable(e),
        };
        DemoError { origin: format!("demo {id}"), problem }
    }

    /// Takes a skipped demo out again, restoring the indexed version it replaced, if any.
    fn leave_out(&mut self, id: &str, e: DemoError) -> DemoError {
        match self.replaced.remove(id) {
            Some(old) => self.demos.insert(id.to_owned(), old),
            None => self.demos.remove(id),
        };
        e
    }

    /// The index's vector for `id` if it was computed from the inputs `key` names.
    pub(crate) fn indexed_vector(&self, id: &str, key: &str) -> Option<Vec<f32>> {
        let item = self.index.get(id).ok()?;
        (item.metadata.get("embed_key").and_then(Value::as_str) == Some(key)).then(|| item.vector.to_vec())
    }

    /// The `top_k` demos best matching the query, best first, with their scores.
    ///
    /// Candidates are the best `n = max(top_k, rerank_top_n)` demos by cosine overall, among
    /// demos of the query's app and among demos of its domain: every demo that can reach the
    /// top `n` after bonuses is among them. With `query.rerank`, the best `rerank_top_n` by
    /// cosine + bonus are rescored by `reranker`.
    pub fn retrieve(
        &self,
        embedder: &dyn EmbedBatch,
        query: &Query,
        reranker: Option<&dyn Rerank>,
    ) -> Result<Vec<RetrievalResult>> {
        let input = self.query_input(query)?;
        if query.rerank && reranker.is_none() {
            return Err(RetrieverError::NoReranker);
        }
        if query.top_k == 0 || self.index.is_empty() {
            return Ok(Vec::new());
        }
        let vector = embedder.embed_inputs(std::slice::from_ref(&input), self.settings.dim)?.remove(0);
        let candidates = self.candidates(&vector, query)?;
        let rerank_scores = match reranker.filter(|_| query.rerank) {
            Some(r) => {
                let (rerank_query, documents) = self.rerank_inputs(query, &candidates)?;
                Some(r.rerank(&rerank_query, &documents)?)
            }
            None => None,
        };
        self.ranked_results(candidates, rerank_scores.as_deref(), query.top_k)
    }

    /// Ranks `candidates` (with the reranker's scores for the first ones by embedding score +
    /// bonus, when reranked) and keeps the first `top_k` as results.
    pub(crate) fn ranked_results(
        &self,
        candidates: Vec<Scored>,
        rerank_scores: Option<&[f32]>,
        top_k: usize,
    ) -> Result<Vec<RetrievalResult>> {
        if let Some(scores) = rerank_scores {
            let expected = candidates.len().min(self.settings.rerank_top_n);
            if scores.len() != expected {
                return Err(RetrieverError::RerankScores { expected, got: scores.len() });
            }
        }
        Ok(self.results(rank(candidates, rerank_scores), top_k))
    }

    /// The model input a query is embedded as (the query's instruction, else the index's):
    /// what [`Self::retrieve`] embeds, for callers that embed it themselves
    /// ([`Self::retrieve_by_vector`]). Fails when demos are not built or the query is empty.
    pub fn query_input(&self, query: &Query) -> Result<EmbedInput> {
        if !self.pending.is_empty() {
            return Err(RetrieverError::NotBuilt(self.pending.len()));
        }
        query.embed_input(&self.settings.instruction)
    }

    /// The first `top_k` of `ranked` (best first) as results, with 1-based ranks.
    pub(crate) fn results(&self, ranked: Vec<Scored>, top_k: usize) -> Vec<RetrievalResult> {
        ranked
            .into_iter()
            .take(top_k)
            .enumerate()
            .map(|(i, s)| RetrievalResult {
                rank: i + 1,
                score: s.score(),
                embedding_score: s.embedding_score,
                rerank_score: s.rerank_score,
                demo: self.demos[&s.demo_id].clone(),
            })
            .collect()
    }

    /// Like [`Self::retrieve`], returning the episodes themselves.
    pub fn retrieve_episodes(
        &self,
        embedder: &dyn EmbedBatch,
        query: &Query,
        reranker: Option<&dyn Rerank>,
    ) -> Result<Vec<Value>> {
        Ok(self.retrieve(embedder, query, reranker)?.into_iter().map(|r| r.demo.episode).collect())
    }

    pub(crate) fn candidates(&self, vector: &[f32], query: &Query) -> Result<Vec<Scored>> {
        let n = if query.rerank { query.top_k.max(self.settings.rerank_top_n) } else { query.top_k };
        let ctx = Context { app: query.app_context.as_deref(), domain: query.domain_context.as_deref() };
        let meta_str = |m: &Value, k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
        let filters = &query.filters;
        let mut found: HashMap<String, f32> = if filters.is_empty() {
            self.index.search(vector, n)?.into_iter().collect()
        } else {
            self.index.search_filtered(vector, n, |_, m| Filter::all_match(filters, m))?.into_iter().collect()
        };
        // The bonus candidates: the nearest demos of the query's app and of its domain, so a
        // bonus can lift a demo that the plain top-n missed.
        if ctx.app.is_some() {
            let hits = self.index.search_filtered(vector, n, |_, m| {
                app_matches(ctx.app, meta_str(m, "app_name").as_deref()) && Filter::all_match(filters, m)
            })?;
            found.extend(hits);
        }
        if ctx.domain.is_some() {
            let hits = self.index.search_filtered(vector, n, |_, m| {
                domain_matches(ctx.domain, meta_str(m, "domain").as_deref()) && Filter::all_match(filters, m)
            })?;
            found.extend(hits);
        }
        Ok(found
            .into_iter()
            .map(|(demo_id, embedding_score)| {
                let d = &self.demos[&demo_id];
                let bonus = bonus(ctx, d.app_name.as_deref(), d.domain.as_deref(), self.settings.bonuses);
                Scored { demo_id, embedding_score, bonus, rerank_score: None }
            })
            .collect())
    }

    /// What the reranker rescores for `query`: the query as the reranker sees it and the best
    /// `rerank_top_n` candidates by embedding score + bonus as documents, in that order.
    pub(crate) fn rerank_inputs(&self, query: &Query, candidates: &[Scored]) -> Result<(EmbedInput, Vec<EmbedInput>)> {
        let docs = self
            .rerank_top(candidates)
            .map(|demo| {
                let mut doc = self.document_input(demo).map_err(|e| RetrieverError::BadDemos(vec![e]))?;
                doc.instruction = None;
                Ok(doc)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((self.rerank_query(query), docs))
    }

    /// The demos the reranker rescores: the best `rerank_top_n` candidates by embedding score
    /// + bonus, best first.
    pub(crate) fn rerank_top<'a>(&'a self, candidates: &[Scored]) -> impl Iterator<Item = &'a Demo> {
        let top = rank(candidates.to_vec(), None);
        top.into_iter().take(self.settings.rerank_top_n).map(move |s| &self.demos[&s.demo_id])
    }

    /// The query as the reranker sees it: task, screenshot and the query's own instruction.
    pub(crate) fn rerank_query(&self, query: &Query) -> EmbedInput {
        EmbedInput {
            text: query.task.clone().filter(|t| !t.trim().is_empty()),
            images: query.screenshot.iter().cloned().collect(),
            instruction: query.instruction.clone(),
        }
    }
}

/// Demo `demo_id`'s screenshot at `path` could not be read (or was not supplied).
pub(crate) fn screenshot_error(demo_id: &str, path: &std::path::Path, source: EmbedError) -> DemoError {
    DemoError {
        origin: format!("demo {demo_id}"),
        problem: DemoProblem::Screenshot { path: path.to_path_buf(), source },
    }
}

/// A demo's screenshot file, read with the embedder's limits.
#[cfg(not(target_arch = "wasm32"))]
fn read_screenshot(path: &std::path::Path) -> Result<Vec<u8>, EmbedError> {
    qwen3_vl_embedder::read_image(path)
}

/// wasm32 has no file system: a demo's screenshot must come as bytes
/// ([`DemoRetriever::add_demo_with_screenshot`]).
#[cfg(target_arch = "wasm32")]
fn read_screenshot(path: &std::path::Path) -> Result<Vec<u8>, EmbedError> {
    let source =
        std::io::Error::new(std::io::ErrorKind::Unsupported, "no file system here: pass the screenshot's bytes");
    Err(EmbedError::Io { path: path.display().to_string(), source })
}

/// Errors caused by one input itself (its image file or its content), not by the model or
/// the device: the ones a build can pin on a demo and skip.
fn is_input_error(e: &EmbedError) -> bool {
    matches!(e, EmbedError::Preprocess(_) | EmbedError::Io { .. } | EmbedError::EmptyInput)
}

fn bad_embedding(input: &str, problem: String) -> EmbedError {
    EmbedError::BadEmbedding { input: input.to_owned(), problem }
}

/// Refuses a vector that must not be stored, whatever [`EmbedBatch`] produced it.
pub(crate) fn check_vector(id: &str, v: &[f32], dim: usize) -> Result<()> {
    let input = format!("demo {id}");
    if v.len() != dim {
        return Err(bad_embedding(&input, format!("{} components long, expected {dim}", v.len())).into());
    }
    match embedding_problem(v) {
        Some(problem) => Err(bad_embedding(&input, problem.into()).into()),
        None => Ok(()),
    }
}

/// What the index stores per demo: the summary plus the key of the inputs its vector was
/// computed from, and the sha256 of its episode file.
fn item_metadata(demo: &Demo, key: &str) -> Value {
    let mut meta = demo.summary();
    meta["embed_key"] = Value::String(key.to_owned());
    meta["episode_sha256"] = Value::String(crate::cache::hex(&Sha256::digest(demo.episode_bytes())));
    meta
}
