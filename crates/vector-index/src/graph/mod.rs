//! The HNSW graph: built, extended and searched by this module (`insert.rs` adds nodes,
//! `repair.rs` re-links nodes a parallel insert left unreachable, `codec.rs` stores the
//! graph), over the index's rows: node `i` is row `i`.
//!
//! The graph grows one node at a time, as in the HNSW paper and hnswlib: a node draws a random
//! level (`floor(-ln(u) / ln(M))`), descends greedily from the entry point to that level, and on
//! each layer from there down to 0 runs a beam of width `ef_construction`, picks its neighbours
//! with hnswlib's heuristic (`getNeighborsByHeuristic2`) and links both ways, pruning a
//! neighbour's list with the same heuristic when it overflows. A bulk insert (`add_batch`, a
//! rebuild) inserts its nodes in parallel natively (rayon; every node's link lists behind its
//! own lock, as hnswlib and usearch do), serially on wasm32, and ends with a repair pass that
//! makes every node reachable from the entry point on layer 0 again.
//!
//! Removed rows are *not* taken out of the graph: like hnswlib's `markDelete` they stay as
//! routing nodes and the walk simply never returns them (the index's `live` flags). Repairing
//! the neighbours' links on every delete would cost an `ef_construction` search per affected
//! neighbour, and a routing node keeps the graph as connected as it was. The index compacts
//! (drops the removed rows and re-builds the graph in bulk) once they pass a fraction of the
//! rows, so they never dominate a walk (see `Index::rebuild`).
//!
//! The walk does not score the f32 rows: it scores an int8 copy of them kept in node order
//! (`quant.rs`; about a quarter of the f32 bytes, extended on insert, saved as `codes.bin`), and
//! re-scores its final candidates with exact f32 dot products. Scoring a quarter of the bytes is
//! what made the walk faster than hnswlib's (which scores f32) once the rows no longer fit in
//! cache; see `benches/index/README.md`. Construction walks the same int8 codes, then picks
//! neighbours by exact f32 scores.
//!
//! Links are `AtomicU32`s so that parallel inserts may read a list while another thread
//! rewrites it (a reader sees old or new entries, each a valid node, never a torn value; the
//! lock only serialises writers). On x86-64 a relaxed atomic load is a plain load, so searches
//! pay nothing for it. A list is its slots up to the first `INVALID`.

mod codec;
mod insert;
mod repair;

use std::collections::BinaryHeap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

use crate::kernel::dot;
use crate::matrix::{Matrix, Scored, TopK};
use crate::quant::{Codes, LINE, Query, Scorer};

/// HNSW construction and search parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HnswParams {
    /// Candidate list size while building; larger builds slower and gives a better graph.
    pub ef_construction: usize,
    /// Candidate list size while searching; bounds how many results one graph search returns.
    pub ef_search: usize,
    /// Seed of the level assignment, so builds are reproducible (and wasm needs no entropy).
    /// A node's level depends only on the seed and its row number.
    pub seed: u64,
    /// Pick neighbours with the HNSW paper's heuristic (hnswlib's `getNeighborsByHeuristic2`):
    /// a candidate is skipped when it is closer to an already picked neighbour than to the new
    /// node. It keeps clustered data connected; off, neighbour lists keep the nearest points.
    #[serde(default = "yes")]
    pub heuristic: bool,
    /// With `heuristic`, refill neighbour lists with the skipped candidates up to the maximum
    /// (`M` links; `2 * M` on layer 0 after pruning). Off, lists keep only the diverse
    /// neighbours the heuristic selects, as hnswlib does: fewer distances per hop.
    ///
    /// Measured in `benches/index` (2 cores): off builds 2-5x faster and inserts 4-4.7x faster
    /// (faster than hnswlib at every size there), but recall@10 0.98 needs `ef_search` 64
    /// instead of 48. Turn it off for large or often-updated indexes.
    #[serde(default = "yes")]
    pub keep_pruned: bool,
}

fn yes() -> bool {
    true
}

impl Default for HnswParams {
    fn default() -> Self {
        Self { ef_construction: 100, ef_search: 64, seed: 0x5157_454e_3356_4c45, heuristic: true, keep_pruned: true }
    }
}

/// An HNSW graph whose node `i` is row `i` of the index's rows (removed rows included).
pub(crate) struct Graph {
    params: HnswParams,
    /// Level of each node: it is on layers `0..=level`.
    levels: Vec<u8>,
    /// Layer 0: `2 * M` link slots per node.
    zero: Vec<AtomicU32>,
    /// Upper layers: `level * M` slots per node, layer 1 first. Empty (no allocation) for the
    /// ~97% of nodes on layer 0 only.
    upper: Vec<Box<[AtomicU32]>>,
    /// Where every walk starts: a node of the highest level (`INVALID` while empty).
    entry: u32,
    /// Serialise writers of a node's link lists (all its layers) during parallel inserts.
    locks: Vec<Mutex<()>>,
    /// int8 codes of the rows, in node order: the walk scores with these and re-scores its
    /// final candidates in f32 (see `quant.rs`). Derived from the rows; saved as `codes.bin`.
    codes: Codes,
    scorer: Scorer,
    /// Reusable search states: each holds a visited set sized to the graph.
    searches: Mutex<Vec<SearchState>>,
}

/// What a walk found: its accepted candidates (approximate scores), and whether it finished
/// rather than running out of its visit budget.
pub(crate) struct Walk {
    best: TopK,
    complete: bool,
}

impl Graph {
    /// An empty graph for rows of `dim` floats.
    pub(crate) fn new(dim: usize, params: HnswParams) -> Self {
        Self {
            params,
            levels: Vec::new(),
            zero: Vec::new(),
            upper: Vec::new(),
            entry: INVALID,
            locks: Vec::new(),
            codes: Codes::new(dim, std::iter::empty()),
            scorer: Scorer::detect(),
            searches: Mutex::new(Vec::new()),
        }
    }

    /// A graph over every row of `rows` (a bulk insert: parallel natively, serial on wasm).
    pub(crate) fn build(rows: &Matrix, params: HnswParams) -> Self {
        let mut graph = Self::new(rows.dim(), params);
        graph.extend(rows);
        graph
    }

    /// The int8 codes of the rows, in node order (saved as `codes.bin`).
    pub(crate) fn codes(&self) -> &Codes {
        &self.codes
    }

    /// Number of nodes.
    pub(crate) fn len(&self) -> usize {
        self.levels.len()
    }

    /// The highest level in the graph (that of the entry point).
    fn top(&self) -> usize {
        self.levels.get(self.entry as usize).map_or(0, |l| *l as usize)
    }

    /// The `ef_search` best rows for `query` among those `accept` admits, with exact scores
    /// (inner products), best first. `None` when the walk scored more than `budget` nodes
    /// without filling its beam (a selective `accept`): the caller then scans exactly.
    ///
    /// Rejected nodes still route: the beam keeps `ef_search` *accepted* nodes and goes on
    /// expanding through rejected ones until it has them (hnswlib's filtered walk), so a
    /// predicate or tombstones do not make results short, only the walk longer.
    pub(crate) fn search(
        &self,
        rows: &Matrix,
        query: &[f32],
        accept: impl Fn(u32) -> bool,
        budget: usize,
    ) -> Option<Vec<(u32, f32)>> {
        let mut state = self.searches.lock().ok().and_then(|mut pool| pool.pop()).unwrap_or_default();
        let q = Query::new(query, self.codes.lines());
        let walk = state.search(self, &q, self.params.ef_search, accept, budget);
        if let Ok(mut pool) = self.searches.lock() {
            pool.push(state);
        }
        walk.complete.then(|| rerank(rows, query, walk.best))
    }

    /// Changes the beam width of later searches (the graph does not depend on it).
    pub(crate) fn set_ef_search(&mut self, ef_search: usize) {
        self.params.ef_search = ef_search;
    }

    /// The approximate score of `node` for `q` (the int8 dot times the node's scale; the query's
    /// scale is common to every node, so it is left out: only the order matters in a walk).
    #[inline]
    fn score(&self, q: &Query, node: u32) -> Scored {
        Scored {
            score: self.scorer.dot(self.codes.code(node as usize), q) as f32 * self.codes.scale(node as usize),
            row: node,
        }
    }

    /// The link slots of `node` on `layer` (read up to the first `INVALID`).
    #[inline]
    fn slots(&self, node: u32, layer: usize) -> &[AtomicU32] {
        let n = node as usize;
        match layer {
            0 => &self.zero[n * 2 * M..(n + 1) * 2 * M],
            _ => &self.upper[n][(layer - 1) * M..layer * M],
        }
    }

    /// Greedy descent on `layer`: move to the best neighbour until none is better.
    fn greedy(&self, q: &Query, mut cur: Scored, layer: usize) -> Scored {
        loop {
            let before = cur.row;
            for next in used(self.slots(cur.row, layer)) {
                cur = cur.max(self.score(q, next));
            }
            if cur.row == before {
                return cur;
            }
        }
    }
}

/// The used links of a list of slots (up to the first `INVALID`).
#[inline]
fn used(slots: &[AtomicU32]) -> impl Iterator<Item = u32> + '_ {
    slots.iter().map(|s| s.load(Relaxed)).take_while(|l| *l != INVALID)
}

/// Re-scores the walk's candidates with exact f32 dot products, best first, so returned scores
/// are exact and the order is the true one among the candidates.
fn rerank(rows: &Matrix, query: &[f32], best: TopK) -> Vec<(u32, f32)> {
    let nodes = best.into_sorted();
    let mut found: Vec<(u32, f32)> = Vec::with_capacity(nodes.len());
    for (j, &(node, _)) in nodes.iter().enumerate() {
        if let Some(&(after, _)) = nodes.get(j + 1) {
            prefetch(rows.row(after as usize));
        }
        found.push((node, dot(query, rows.row(node as usize))));
    }
    found.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    found
}

/// Scratch space of one walk, kept between walks so nothing is allocated per query.
#[derive(Default)]
pub(crate) struct SearchState {
    /// `visited[node] == epoch` marks a node seen by the current walk; bumping `epoch` clears
    /// the set in O(1).
    visited: Vec<u32>,
    epoch: u32,
    /// Nodes still to expand, best score on top.
    frontier: BinaryHeap<Scored>,
    /// The unvisited neighbours of the node being expanded.
    fresh: Vec<u32>,
}

impl SearchState {
    /// A whole search: greedy descent through the upper layers, then the beam on layer 0.
    fn search(&mut self, graph: &Graph, q: &Query, ef: usize, accept: impl Fn(u32) -> bool, budget: usize) -> Walk {
        if graph.entry == INVALID {
            return Walk { best: TopK::new(0), complete: true };
        }
        let mut cur = graph.score(q, graph.entry);
        for layer in (1..=graph.top()).rev() {
            cur = graph.greedy(q, cur, layer);
        }
        self.beam(graph, q, cur, 0, ef, accept, budget)
    }

    /// Best-first beam of width `ef` on `layer` from `start`. `best` keeps the `ef` best
    /// *accepted* nodes so far; any node that would enter it (accepted or not) is expanded.
    #[allow(clippy::too_many_arguments)]
    fn beam(
        &mut self,
        graph: &Graph,
        q: &Query,
        start: Scored,
        layer: usize,
        ef: usize,
        accept: impl Fn(u32) -> bool,
        budget: usize,
    ) -> Walk {
        self.begin(graph.len());
        let mut best = TopK::new(ef);
        let mut scored = 1;
        self.visited[start.row as usize] = self.epoch;
        self.frontier.push(start);
        if accept(start.row) {
            best.push(start.score, start.row);
        }
        while let Some(near) = self.frontier.pop() {
            // Stop once the beam is full and even the best node left to expand scores below
            // the worst node kept.
            if !best.admits(near.score, near.row) && best.worst().is_some_and(|w| w.score > near.score) {
                break;
            }
            if scored > budget {
                return Walk { best, complete: false };
            }
            // Unvisited neighbours first, then score them while prefetching the next one's
            // codes (hnswlib's trick), so no prefetch is spent on a node already seen.
            self.fresh.clear();
            for next in used(graph.slots(near.row, layer)) {
                let seen = &mut self.visited[next as usize];
                if *seen != self.epoch {
                    *seen = self.epoch;
                    self.fresh.push(next);
                }
            }
            if let Some(&first) = self.fresh.first() {
                prefetch_lines(graph.codes.code(first as usize));
            }
            scored += self.fresh.len();
            for (j, &next) in self.fresh.iter().enumerate() {
                if let Some(&after) = self.fresh.get(j + 1) {
                    prefetch_lines(graph.codes.code(after as usize));
                }
                let s = graph.score(q, next);
                // The cheap test first: the predicate runs only for nodes good enough to keep.
                if best.admits(s.score, s.row) {
                    self.frontier.push(s);
                    if accept(next) {
                        best.push(s.score, s.row);
                    }
                }
            }
        }
        Walk { best, complete: true }
    }

    /// Resets the state for a graph of `n` nodes.
    fn begin(&mut self, n: usize) {
        self.frontier.clear();
        if self.visited.len() != n {
            self.visited = vec![0; n];
            self.epoch = 0;
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.visited.fill(0);
            self.epoch = 1;
        }
    }
}

/// Hints the CPU to start loading the first cache lines of `v` (the hardware prefetcher follows
/// on from there). A no-op off x86-64.
#[inline(always)]
fn prefetch(v: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    for line in v.chunks(16).take(PREFETCH_LINES) {
        // SAFETY: a prefetch is only a hint; it never faults, whatever the address.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line.as_ptr().cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}

/// Cache lines prefetched per f32 vector.
#[cfg(target_arch = "x86_64")]
const PREFETCH_LINES: usize = 4;

/// Hints the CPU to load the first [`CODE_PREFETCH_LINES`] lines of a node's codes.
#[inline(always)]
fn prefetch_lines(code: &[crate::quant::Line]) {
    #[cfg(target_arch = "x86_64")]
    for line in code.iter().take(CODE_PREFETCH_LINES) {
        // SAFETY: a prefetch is only a hint; it never faults, whatever the address.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line.0.as_ptr()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = code;
}

/// Code lines prefetched per neighbour: a whole row up to 2048 dimensions (a 512-d row is 8
/// lines, a 2048-d row 32). At 10k x 2048, 32 lines measured ~10% faster than 8, relying on
/// the hardware prefetcher for the rest of the row.
#[cfg(target_arch = "x86_64")]
const CODE_PREFETCH_LINES: usize = 32;
const _: () = assert!(LINE == 64);

/// Links per node on upper layers; layer zero has `2 * M` (hnswlib's `M = 32`, the value the
/// schema-1 graphs from `instant-distance` had, so the benchmarks compare like with like).
const M: usize = 32;
const INVALID: u32 = u32::MAX;
/// Levels above this are clamped (`1 / ln(M)` makes level 16 a one in 32^16 event).
const MAX_LEVEL: usize = 16;
/// Larger `ef_search` values are refused: each search keeps that many candidates.
pub(crate) const MAX_EF_SEARCH: usize = 1 << 16;

#[cfg(test)]
mod tests;
