//! The index: items, mutation (inserts into the live graph, tombstones, compaction), and search.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::graph::{Graph, HnswParams, MAX_EF_SEARCH};
use crate::kernel::dot_block;
use crate::matrix::{Matrix, TopK};

/// How a search is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// HNSW once the index holds `hnsw_min_items` live items, exact below that.
    #[default]
    Auto,
    /// Always scan every vector: exact results, cost linear in the item count.
    Exact,
    /// Always keep an HNSW graph (built at any size) and search through it.
    Hnsw,
}

/// Everything that shapes an index. Only `embedding_model` and `embedding_dim` are required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexConfig {
    /// Name of the model that produced the vectors, so a caller can refuse a mismatched index.
    #[serde(skip)]
    pub embedding_model: String,
    /// Length of every vector.
    #[serde(skip)]
    pub embedding_dim: usize,
    /// How searches are answered; a single search can override it.
    pub strategy: Strategy,
    /// With [`Strategy::Auto`], the live item count from which an HNSW graph is kept.
    pub hnsw_min_items: usize,
    /// HNSW build and search parameters.
    pub hnsw: HnswParams,
    /// A compaction ([`Index::rebuild`]) is due once removed rows (kept in the graph as
    /// routing nodes) exceed this fraction of all stored rows…
    pub rebuild_fraction: f64,
    /// …or this many rows, whichever is larger.
    pub rebuild_min_rows: usize,
    /// Compact, and build the first graph once the strategy wants one, inside `add`,
    /// `add_batch` and `remove` when due. Turn off to do it at a time of the caller's choosing (e.g. a
    /// browser idle callback) with [`Index::rebuild`]. Inserts into an existing graph happen
    /// either way.
    pub auto_rebuild: bool,
}

impl IndexConfig {
    /// Defaults for vectors of `embedding_dim` dimensions produced by `embedding_model`.
    pub fn new(embedding_model: impl Into<String>, embedding_dim: usize) -> Self {
        Self {
            embedding_model: embedding_model.into(),
            embedding_dim,
            strategy: Strategy::Auto,
            hnsw_min_items: 10_000,
            hnsw: HnswParams::default(),
            rebuild_fraction: 0.05,
            rebuild_min_rows: 1024,
            auto_rebuild: true,
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |why: &str| Err(Error::InvalidConfig(why.to_string()));
        if self.embedding_dim == 0 || self.embedding_dim > MAX_DIM {
            return bad(&format!("embedding_dim must be in 1..={MAX_DIM}, got {}", self.embedding_dim));
        }
        if !(self.rebuild_fraction.is_finite() && self.rebuild_fraction >= 0.0) {
            return bad("rebuild_fraction must be a finite number >= 0");
        }
        let HnswParams { ef_construction, ef_search, .. } = self.hnsw;
        if !(1..=MAX_EF_SEARCH).contains(&ef_construction) || !(1..=MAX_EF_SEARCH).contains(&ef_search) {
            return bad(&format!("hnsw ef_construction and ef_search must be in 1..={MAX_EF_SEARCH}"));
        }
        Ok(())
    }
}

/// The largest accepted `embedding_dim` (keeps hostile files from sizing huge buffers).
pub const MAX_DIM: usize = 1 << 16;

/// A filter over `(id, metadata)` for [`Index::search_with`].
pub type Predicate<'a> = dyn Fn(&str, &Value) -> bool + 'a;

/// A stored item, borrowed from the index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ItemRef<'a> {
    /// The caller's id.
    pub id: &'a str,
    /// The stored, L2-normalised vector.
    pub vector: &'a [f32],
    /// The caller's metadata (`null` when none was given).
    pub metadata: &'a Value,
}

/// A nearest-neighbour index over L2-normalised f32 vectors of one fixed dimension.
///
/// Rows are appended to one row-major block; when there is a graph every row is a node of it
/// (node `i` is row `i`) and is linked in as it is added. A removal only marks its row dead (a
/// tombstone that still routes graph walks); a replacement is a removal plus an append.
/// [`Index::rebuild`] compacts the dead rows away. See the crate docs for the full argument.
pub struct Index {
    pub(crate) config: IndexConfig,
    pub(crate) created_at: String,
    /// Every stored row, dead ones included until the next compaction.
    pub(crate) rows: Matrix,
    /// Per row: id, metadata, liveness.
    pub(crate) ids: Vec<String>,
    pub(crate) metadata: Vec<Value>,
    pub(crate) live: Vec<bool>,
    pub(crate) dead: usize,
    pub(crate) by_id: HashMap<String, u32>,
    /// HNSW over every row (dead ones included, as routing nodes).
    pub(crate) graph: Option<Graph>,
    /// Files [`Index::open`] mapped without hashing them, for [`Index::verify`].
    pub(crate) unverified: Vec<crate::fs::Unverified>,
}

impl Index {
    /// An empty index.
    pub fn new(config: IndexConfig) -> Result<Self> {
        config.validate()?;
        let dim = config.embedding_dim;
        Ok(Self {
            config,
            created_at: crate::now_rfc3339(),
            rows: Matrix::new(dim),
            ids: Vec::new(),
            metadata: Vec::new(),
            live: Vec::new(),
            dead: 0,
            by_id: HashMap::new(),
            graph: None,
            unverified: Vec::new(),
        })
    }

    /// The configuration (model, dimension, strategy, HNSW and compaction settings).
    pub fn config(&self) -> &IndexConfig {
        &self.config
    }

    /// The model that produced the vectors.
    pub fn embedding_model(&self) -> &str {
        &self.config.embedding_model
    }

    /// The length of every vector.
    pub fn embedding_dim(&self) -> usize {
        self.config.embedding_dim
    }

    /// When the index was first created (RFC 3339, UTC); kept across saves.
    pub fn created_at(&self) -> &str {
        &self.created_at
    }

    /// Sets the creation time; wasm32 has no clock, so browser callers pass `Date().toISOString()`.
    pub fn set_created_at(&mut self, created_at: impl Into<String>) {
        self.created_at = created_at.into();
    }

    /// Number of live items.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether the index holds no live item.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Whether a live item has this id.
    pub fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// Whether the vectors are viewed in a memory-mapped file ([`Index::open`]) rather than
    /// held in memory; the first `add` copies them in.
    pub fn is_mapped(&self) -> bool {
        self.rows.is_mapped()
    }

    /// Whether searches currently go through an HNSW graph.
    pub fn has_graph(&self) -> bool {
        self.graph.is_some()
    }

    /// Adds an item, or replaces the item with the same id. The vector is L2-normalised. With a
    /// graph, the item is inserted into it (one HNSW insertion: `ef_construction` beam,
    /// neighbour selection, links both ways).
    pub fn add(&mut self, id: impl Into<String>, vector: &[f32], metadata: Value) -> Result<()> {
        let id = id.into();
        check_id(&id)?;
        let vector = self.normalised(vector)?;
        self.append(id, &vector, metadata);
        self.link_new_rows();
        self.maybe_rebuild();
        Ok(())
    }

    /// Adds many items; all are checked first, so on error nothing is added. A later item with
    /// the same id as an earlier one replaces it. With a graph, the items are inserted in
    /// parallel natively (serially on wasm32).
    pub fn add_batch<I, S, V>(&mut self, items: I) -> Result<()>
    where
        I: IntoIterator<Item = (S, V, Value)>,
        S: Into<String>,
        V: AsRef<[f32]>,
    {
        let mut staged = Vec::new();
        let mut vectors = Matrix::new(self.embedding_dim());
        for (id, vector, metadata) in items {
            let id = id.into();
            check_id(&id)?;
            vectors.push(&self.normalised(vector.as_ref())?);
            staged.push((id, metadata));
        }
        for (i, (id, metadata)) in staged.into_iter().enumerate() {
            self.append(id, vectors.row(i), metadata);
        }
        self.link_new_rows();
        self.maybe_rebuild();
        Ok(())
    }

    /// Removes an item; it never appears in a search again. Its row stays in the graph as a
    /// routing node until the next compaction (see [`Index::rebuild`]).
    pub fn remove(&mut self, id: &str) -> Result<()> {
        let row = self.by_id.remove(id).ok_or_else(|| Error::UnknownId(id.to_string()))?;
        self.kill(row);
        self.maybe_rebuild();
        Ok(())
    }

    /// The stored item with this id.
    pub fn get(&self, id: &str) -> Result<ItemRef<'_>> {
        let row = *self.by_id.get(id).ok_or_else(|| Error::UnknownId(id.to_string()))?;
        Ok(self.item(row))
    }

    /// Live items in storage order.
    pub fn iter(&self) -> impl Iterator<Item = ItemRef<'_>> {
        (0..self.live.len() as u32).filter(|r| self.live[*r as usize]).map(|r| self.item(r))
    }

    /// The `k` items most similar to `query` (cosine similarity), best first.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<(String, f32)>> {
        self.search_with(query, k, self.config.strategy, None)
    }

    /// Like [`Index::search`], among the items for which `predicate(id, metadata)` holds.
    pub fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        predicate: impl Fn(&str, &Value) -> bool,
    ) -> Result<Vec<(String, f32)>> {
        self.search_with(query, k, self.config.strategy, Some(&predicate))
    }

    /// The general search: `strategy` overrides the configured one for this call.
    ///
    /// With a graph, the predicate (and the tombstones) are applied *during* the walk: rejected
    /// nodes still route, and the beam keeps going until it holds `ef_search` accepted items.
    /// A predicate that matches too few of 256 sampled rows for that to pay, a walk that would
    /// visit more than an eighth of the rows, and a walk that finds fewer than `k` acceptable
    /// items all lead to an exact scan instead, so a search never returns fewer items than
    /// match.
    pub fn search_with(
        &self,
        query: &[f32],
        k: usize,
        strategy: Strategy,
        predicate: Option<&Predicate<'_>>,
    ) -> Result<Vec<(String, f32)>> {
        let mut hits = self.search_batch_with([query], k, strategy, predicate)?;
        Ok(hits.pop().unwrap_or_default())
    }

    /// [`Index::search`] for many queries at once: one result list per query, in order.
    ///
    /// Exact search scores a block of queries against each cached block of stored rows (a
    /// matrix-matrix product), which is several times faster per query than one query at a
    /// time. HNSW search answers each query on its own. With the `parallel` feature (native
    /// only) queries are split over rayon's threads.
    pub fn search_batch<V: AsRef<[f32]>>(
        &self,
        queries: impl IntoIterator<Item = V>,
        k: usize,
    ) -> Result<Vec<Vec<(String, f32)>>> {
        self.search_batch_with(queries, k, self.config.strategy, None)
    }

    /// [`Index::search_batch`] among the items for which `predicate(id, metadata)` holds.
    pub fn search_batch_filtered<V: AsRef<[f32]>>(
        &self,
        queries: impl IntoIterator<Item = V>,
        k: usize,
        predicate: impl Fn(&str, &Value) -> bool,
    ) -> Result<Vec<Vec<(String, f32)>>> {
        self.search_batch_with(queries, k, self.config.strategy, Some(&predicate))
    }

    /// The general batched search; every query is checked (dimension, finite, non-zero) before
    /// any is answered. Results equal [`Index::search_with`] per query, up to float rounding of
    /// the scores (the batched kernel sums in a different order).
    pub fn search_batch_with<V: AsRef<[f32]>>(
        &self,
        queries: impl IntoIterator<Item = V>,
        k: usize,
        strategy: Strategy,
        predicate: Option<&Predicate<'_>>,
    ) -> Result<Vec<Vec<(String, f32)>>> {
        let mut normalised = Matrix::new(self.embedding_dim());
        for query in queries {
            normalised.push(&self.normalised(query.as_ref())?);
        }
        let queries = normalised.block();
        let use_graph = k > 0 && self.graph.is_some() && matches!(strategy, Strategy::Auto | Strategy::Hnsw);
        let tops = match predicate {
            Some(predicate) => {
                let accept = |row: u32| {
                    let r = row as usize;
                    self.live[r] && predicate(&self.ids[r], &self.metadata[r])
                };
                self.top_k(queries, k, use_graph, &accept, true)
            }
            None => self.top_k_unfiltered(queries, k, use_graph),
        };
        let hits = |top: TopK| {
            top.into_sorted().into_iter().map(|(row, score)| (self.ids[row as usize].clone(), score)).collect()
        };
        Ok(tops.into_iter().map(hits).collect())
    }

    /// [`Index::top_k`] over live rows, split over threads with the `parallel` feature.
    fn top_k_unfiltered(&self, queries: &[f32], k: usize, use_graph: bool) -> Vec<TopK> {
        let live = |row: u32| self.live[row as usize];
        #[cfg(all(feature = "parallel", not(target_family = "wasm")))]
        {
            use rayon::prelude::*;
            let dim = self.embedding_dim();
            let per_task = if use_graph { 1 } else { query_block(dim) };
            queries
                .par_chunks(per_task * dim)
                .flat_map_iter(|block| self.top_k(block, k, use_graph, &live, false))
                .collect()
        }
        #[cfg(not(all(feature = "parallel", not(target_family = "wasm"))))]
        self.top_k(queries, k, use_graph, &live, false)
    }

    /// The best `k` accepted rows for each of the normalised `queries` (row-major).
    /// `filtered`: `accept` holds a caller's predicate (not only the tombstones).
    fn top_k(
        &self,
        queries: &[f32],
        k: usize,
        use_graph: bool,
        accept: &dyn Fn(u32) -> bool,
        filtered: bool,
    ) -> Vec<TopK> {
        let dim = self.embedding_dim();
        let new_top = || TopK::new(k.min(self.len()));
        let mut tops: Vec<TopK> = queries.chunks_exact(dim).map(|_| new_top()).collect();
        // A filtered walk that would score more than `budget` nodes is abandoned for an exact
        // scan: the scan costs one predicate call per row plus a dot product per match, while
        // a walk through mostly rejected nodes pays random memory access per node.
        let budget = if filtered {
            (self.rows.rows() / FILTER_WALK_FRACTION).max(8 * self.config.hnsw.ef_search)
        } else {
            usize::MAX
        };
        let graph = self.graph.as_ref().filter(|_| use_graph && (!filtered || self.walk_may_fill(accept, budget)));
        let Some(graph) = graph else {
            scan(&self.rows, queries, &mut tops, accept);
            return tops;
        };
        for (query, top) in queries.chunks_exact(dim).zip(&mut tops) {
            let found = match (filtered, self.dead) {
                (false, 0) => graph.search(&self.rows, query, |_| true, budget),
                _ => graph.search(&self.rows, query, accept, budget),
            };
            match found {
                // Every candidate is accepted already; fewer than `k` of them while more may
                // match means the walk could not reach them: scan instead.
                Some(found) if found.len() >= k || (!filtered && found.len() >= self.len()) => {
                    for (row, score) in found {
                        if top.admits(score, row) {
                            top.push(score, row);
                        }
                    }
                }
                _ => scan(&self.rows, query, std::slice::from_mut(top), accept),
            }
        }
        tops
    }

    /// Whether a filtered walk scoring `budget` nodes can expect to meet `2 * ef_search`
    /// accepted ones, judged from `accept` on [`SELECTIVITY_SAMPLE`] rows drawn at random
    /// (fixed seed). A very selective predicate goes straight to the exact scan instead of
    /// paying for a walk that would give up (measured at 20k x 512, 1 id in 100: walk then
    /// scan 155 QPS, scan alone 250).
    fn walk_may_fill(&self, accept: &dyn Fn(u32) -> bool, budget: usize) -> bool {
        let rows = self.rows.rows();
        let mut rng = crate::synthetic::Rng::new(rows as u64);
        let sample = SELECTIVITY_SAMPLE.min(rows);
        let hits = (0..sample).filter(|_| accept(rng.below(rows) as u32)).count();
        hits * budget >= 2 * self.config.hnsw.ef_search * sample
    }

    /// Whether removed rows have grown past the compaction threshold, or the graph the strategy
    /// asks for is missing.
    pub fn needs_rebuild(&self) -> bool {
        let budget =
            ((self.rows.rows() as f64 * self.config.rebuild_fraction) as usize).max(self.config.rebuild_min_rows);
        match &self.graph {
            None if self.wants_graph() => true,
            _ => self.dead > budget,
        }
    }

    /// Compaction: drops removed rows and, if there were any (or the strategy now wants a graph
    /// and there is none, or no longer wants one), re-builds the graph over the live rows with
    /// the bulk insert (parallel natively, serial on wasm). A no-op when there is nothing to
    /// drop and the graph is as the strategy wants: inserts keep the graph current, so unlike
    /// the schema-1 design there is no delta to fold in.
    pub fn rebuild(&mut self) {
        if self.dead == 0 && self.graph.is_some() == self.wants_graph() {
            return;
        }
        let dim = self.embedding_dim();
        let mut data = Vec::with_capacity(self.len() * dim);
        let (mut ids, mut metadata) = (Vec::with_capacity(self.len()), Vec::with_capacity(self.len()));
        for row in 0..self.live.len() {
            if self.live[row] {
                data.extend_from_slice(self.row(row));
                ids.push(std::mem::take(&mut self.ids[row]));
                metadata.push(std::mem::take(&mut self.metadata[row]));
            }
        }
        self.by_id = ids.iter().enumerate().map(|(i, id)| (id.clone(), i as u32)).collect();
        self.live = vec![true; ids.len()];
        (self.ids, self.metadata, self.dead) = (ids, metadata, 0);
        self.graph = None; // free the old graph before the new one is built
        self.rows = Matrix::from_vec(dim, data);
        if self.wants_graph() {
            self.graph = Some(Graph::build(&self.rows, self.config.hnsw));
        }
    }

    /// Changes the HNSW `ef_search` (recall/speed trade-off) without rebuilding the graph.
    pub fn set_ef_search(&mut self, ef_search: usize) -> Result<()> {
        let mut config = self.config.clone();
        config.hnsw.ef_search = ef_search;
        config.validate()?;
        self.config = config;
        if let Some(graph) = &mut self.graph {
            graph.set_ef_search(ef_search);
        }
        Ok(())
    }

    fn wants_graph(&self) -> bool {
        match self.config.strategy {
            Strategy::Exact => false,
            Strategy::Hnsw => !self.is_empty(),
            Strategy::Auto => self.len() >= self.config.hnsw_min_items.max(1),
        }
    }

    fn maybe_rebuild(&mut self) {
        if self.config.auto_rebuild && self.needs_rebuild() {
            self.rebuild();
        }
    }

    /// Stores a row (not yet linked into the graph; see [`Index::link_new_rows`]).
    fn append(&mut self, id: String, vector: &[f32], metadata: Value) {
        let row = self.live.len() as u32;
        if let Some(old) = self.by_id.insert(id.clone(), row) {
            self.kill(old);
        }
        self.rows.push(vector);
        self.ids.push(id);
        self.metadata.push(metadata);
        self.live.push(true);
    }

    /// Inserts the rows appended since the graph last grew (in bulk when there are several).
    fn link_new_rows(&mut self) {
        if let Some(graph) = &mut self.graph {
            graph.extend(&self.rows);
        }
    }

    fn kill(&mut self, row: u32) {
        let r = row as usize;
        self.live[r] = false;
        self.dead += 1;
        self.ids[r] = String::new();
        self.metadata[r] = Value::Null;
    }

    pub(crate) fn row(&self, row: usize) -> &[f32] {
        self.rows.row(row)
    }

    fn item(&self, row: u32) -> ItemRef<'_> {
        let r = row as usize;
        ItemRef { id: &self.ids[r], vector: self.row(r), metadata: &self.metadata[r] }
    }

    /// Checks dimension and finiteness and returns `v / |v|`.
    fn normalised(&self, v: &[f32]) -> Result<Vec<f32>> {
        if v.len() != self.embedding_dim() {
            return Err(Error::DimensionMismatch { expected: self.embedding_dim(), found: v.len() });
        }
        if let Some((position, value)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            return Err(Error::NonFinite { position, value: *value });
        }
        let norm = v.iter().map(|x| *x as f64 * *x as f64).sum::<f64>().sqrt();
        if norm == 0.0 {
            return Err(Error::ZeroVector);
        }
        Ok(v.iter().map(|x| (*x as f64 / norm) as f32).collect())
    }
}

/// Ids are stored one per line in the `ids` file, so they are non-empty and have no line breaks.
pub(crate) fn check_id(id: &str) -> Result<()> {
    let reason = if id.is_empty() {
        "ids must not be empty"
    } else if id.contains(['\n', '\r']) {
        "ids must not contain line breaks"
    } else {
        return Ok(());
    };
    Err(Error::InvalidId { id: id.to_string(), reason })
}

/// Bytes of queries scored together: they stay in the L2 cache (typically 1-2 MiB per core)
/// while every block of stored rows is scored against them, so each stored row is read from
/// memory once per query block rather than once per query.
const QUERY_BLOCK_BYTES: usize = 1 << 19;
/// Bytes of scores computed per kernel call before they are fed to the top-k lists.
const SCORE_BLOCK_BYTES: usize = 1 << 16;

/// Queries per block for vectors of `dim` floats.
fn query_block(dim: usize) -> usize {
    (QUERY_BLOCK_BYTES / (4 * dim)).clamp(1, 256)
}

/// The fraction (1 / this) of the rows a filtered graph walk may score before it gives up
/// for an exact scan.
const FILTER_WALK_FRACTION: usize = 8;
/// Rows on which a predicate is tried to estimate its selectivity (see `walk_may_fill`).
const SELECTIVITY_SAMPLE: usize = 256;

/// Exact top-k, for each of the row-major `queries` (one `TopK` each), over every row of
/// `block` that `accept` admits. Queries go in blocks of
/// [`query_block`]; each is scored against runs of rows sized so their scores fill
/// [`SCORE_BLOCK_BYTES`] (a single query gets runs of up to 4096 rows).
fn scan(block: &Matrix, queries: &[f32], tops: &mut [TopK], accept: &dyn Fn(u32) -> bool) {
    let dim = block.dim();
    let per_query_block = query_block(dim);
    let mut scores = Vec::new();
    for (query_block, tops) in queries.chunks(per_query_block * dim).zip(tops.chunks_mut(per_query_block)) {
        let m = tops.len();
        let rows_per_run = (SCORE_BLOCK_BYTES / (4 * m)).clamp(4, 4096);
        scores.resize(m * rows_per_run, 0.0);
        let runs = block.runs();
        let chunks = runs.iter().flat_map(|&(start, rows)| {
            rows.chunks(rows_per_run * dim).enumerate().map(move |(c, run)| (start + c * rows_per_run, run))
        });
        for (first, run) in chunks {
            let n = run.len() / dim;
            dot_block(query_block, run, dim, &mut scores[..m * n]);
            let first = first as u32;
            for (top, scores) in tops.iter_mut().zip(scores.chunks_exact(n)) {
                for (i, score) in scores.iter().enumerate() {
                    let row = first + i as u32;
                    if top.admits(*score, row) && accept(row) {
                        top.push(*score, row);
                    }
                }
            }
        }
    }
}
