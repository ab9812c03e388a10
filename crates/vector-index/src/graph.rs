//! The HNSW graph: built by `instant-distance` over the rows of an immutable snapshot, searched
//! by this module.
//!
//! `instant-distance` builds the graph (in parallel natively through its own rayon dependency;
//! on wasm32 rayon runs everything on the calling thread). Its serde form is then read into flat
//! link arrays, and searches run here rather than through `Hnsw::search`, for three reasons
//! measured on the benchmark (`benches/index`): `instant-distance` keeps its result list as a
//! sorted `Vec` with an insertion per candidate and calls the distance through a point type, so
//! it cannot prefetch the next neighbour's vector the way hnswlib does; its `ef_search` is fixed
//! at build time (changing it meant re-encoding the graph); and it returns distances we would
//! recompute anyway. The walk itself is the standard one (greedy descent through the upper
//! layers from node 0, then a best-first beam of width `ef_search` on layer 0), on exactly the
//! graph `instant-distance` built.
//!
//! The walk does not score the f32 rows: it scores an int8 copy of them kept in node order
//! (`quant.rs`; about a quarter of the f32 bytes, rebuilt from the rows on build and load), and
//! re-scores its final `ef_search` candidates with exact f32 dot products. Scoring a quarter of
//! the bytes is what made the walk faster than hnswlib's (which scores f32) once the rows no
//! longer fit in cache; see `benches/index/README.md` for the measurements.
//! Serialised, the graph is `instant-distance`'s own serde form written with bincode
//! (fixed-width little-endian integers) with each point written as its row number (`u32`); see
//! [`parse`] for the layout. A stored graph is parsed without trusting it: every length and
//! every link is checked, so a hostile file produces an error, not a panic or a huge allocation.

use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex};

use instant_distance::{Builder, Heuristic, Point};
use serde::{Deserialize, Serialize, Serializer};

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
    pub seed: u64,
    /// Prune neighbour lists with the HNSW paper's heuristic (`instant-distance`'s default).
    /// It keeps clustered data connected but `instant-distance` re-runs it for every neighbour
    /// of every inserted point, which makes builds many times slower; off, neighbour lists keep
    /// the nearest points.
    #[serde(default = "yes")]
    pub heuristic: bool,
    /// With `heuristic`, refill neighbour lists with the pruned candidates up to the maximum (64
    /// links on layer 0; `instant-distance`'s default). Off, lists keep only the diverse
    /// neighbours the heuristic selects, as hnswlib does: fewer distances per hop.
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

/// A snapshot row as `instant-distance` sees it while building; serialised as its row number.
#[derive(Clone)]
struct BuildPoint<'a> {
    rows: &'a Matrix,
    row: u32,
}

impl Point for BuildPoint<'_> {
    fn distance(&self, other: &Self) -> f32 {
        1.0 - dot(self.rows.row(self.row as usize), other.rows.row(other.row as usize))
    }
}

impl Serialize for BuildPoint<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.row)
    }
}

/// An HNSW graph over every row of one snapshot.
pub(crate) struct Graph {
    params: HnswParams,
    rows: Arc<Matrix>,
    /// Snapshot row of each node (`instant-distance` numbers nodes by level, highest first).
    points: Vec<u32>,
    /// Layer 0: `2 * M` links per node; unused slots are `INVALID` and follow the used ones.
    zero: Vec<u32>,
    /// Upper layers, layer 1 first: `M` links per node. Layer `l` holds nodes `0..len`, so
    /// node 0 is on every layer and is where searches enter.
    layers: Vec<Vec<u32>>,
    /// int8 codes of the nodes' vectors, in node order (so the walk needs no `points` lookup):
    /// the walk scores with these and re-scores its final candidates in f32 (see `quant.rs`).
    /// Derived from `rows` on build and on load; never stored.
    codes: Codes,
    scorer: Scorer,
    /// Reusable search states: each holds a visited set sized to the graph.
    searches: Mutex<Vec<SearchState>>,
}

impl Graph {
    /// Builds the graph over all rows of `rows` (in parallel natively, serially on wasm).
    pub(crate) fn build(rows: &Arc<Matrix>, params: HnswParams) -> Self {
        let points = (0..rows.rows() as u32).map(|row| BuildPoint { rows, row }).collect();
        let (hnsw, _) = Builder::default()
            .ef_construction(params.ef_construction)
            .ef_search(params.ef_search)
            .seed(params.seed)
            .select_heuristic(params.heuristic.then_some(Heuristic { extend_candidates: false, keep_pruned: params.keep_pruned }))
            .build_hnsw(points);
        let bytes = bincode::serialize(&hnsw).expect("graph points are row numbers, which always serialise");
        Self::decode(&bytes, rows, params).expect("instant-distance builds a graph of the documented layout")
    }

    /// Snapshot rows nearest to `query` with their scores (inner products), best first; at most
    /// `ef_search` of them.
    pub(crate) fn search(&self, query: &[f32]) -> Vec<(u32, f32)> {
        let mut state = self.searches.lock().ok().and_then(|mut pool| pool.pop()).unwrap_or_default();
        let found = state.run(self, query, self.params.ef_search);
        if let Ok(mut pool) = self.searches.lock() {
            pool.push(state);
        }
        found
    }

    /// Changes the beam width of later searches (the graph does not depend on it).
    pub(crate) fn set_ef_search(&mut self, ef_search: usize) {
        self.params.ef_search = ef_search;
    }

    /// The vector of node `node`.
    #[inline]
    fn vector(&self, node: u32) -> &[f32] {
        self.rows.row(self.points[node as usize] as usize)
    }

    /// The graph in `instant-distance`'s bincode form (see [`parse`]).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let links: usize = self.zero.len() + self.layers.iter().map(Vec::len).sum::<usize>();
        let mut out = Vec::with_capacity(8 * (4 + self.layers.len()) + 4 * (self.points.len() + links));
        let put_u32s = |out: &mut Vec<u8>, values: &[u32]| values.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        out.extend_from_slice(&(self.params.ef_search as u64).to_le_bytes());
        out.extend_from_slice(&(self.points.len() as u64).to_le_bytes());
        put_u32s(&mut out, &self.points);
        out.extend_from_slice(&(self.points.len() as u64).to_le_bytes());
        put_u32s(&mut out, &self.zero);
        out.extend_from_slice(&(self.layers.len() as u64).to_le_bytes());
        for layer in &self.layers {
            out.extend_from_slice(&((layer.len() / M) as u64).to_le_bytes());
            put_u32s(&mut out, layer);
        }
        out
    }

    /// Decodes a graph over `rows`, checking its structure; `Err` says what is wrong.
    pub(crate) fn decode(bytes: &[u8], rows: &Arc<Matrix>, params: HnswParams) -> Result<Self, String> {
        let Parsed { ef_search, points, zero, layers } = parse(bytes, rows.rows())?;
        if ef_search != params.ef_search as u64 {
            return Err(format!("graph has ef_search {ef_search}, the configuration says {}", params.ef_search));
        }
        let codes = Codes::new(rows.dim(), points.iter().map(|&row| rows.row(row as usize)));
        Ok(Self { params, rows: rows.clone(), points, zero, layers, codes, scorer: Scorer::detect(), searches: Mutex::new(Vec::new()) })
    }
}

/// Scratch space of one search, kept between searches so nothing is allocated per query.
#[derive(Default)]
struct SearchState {
    /// `visited[node] == epoch` marks a node seen by the current search; bumping `epoch`
    /// clears the set in O(1).
    visited: Vec<u32>,
    epoch: u32,
    /// Nodes still to expand (`row` is a node here), best score on top.
    frontier: BinaryHeap<Scored>,
    /// The unvisited neighbours of the node being expanded.
    fresh: Vec<u32>,
}

impl SearchState {
    fn run(&mut self, graph: &Graph, query: &[f32], ef: usize) -> Vec<(u32, f32)> {
        let n = graph.points.len();
        if n == 0 {
            return Vec::new();
        }
        self.start(n);
        let (codes, scorer) = (&graph.codes, graph.scorer);
        let q = Query::new(query, codes.lines());
        // Approximate score (the int8 dot times the node's scale; the query's scale is the same
        // for every node, so it is left out: only the order matters during the walk).
        let score = |node: u32| Scored { score: scorer.dot(codes.code(node as usize), &q) as f32 * codes.scale(node as usize), row: node };
        // Greedy descent: on each upper layer move to the best neighbour until none is better.
        let mut cur = score(0);
        for layer in graph.layers.iter().rev() {
            loop {
                let before = cur.row;
                for &next in links(layer, cur.row, M) {
                    cur = cur.max(score(next));
                }
                if cur.row == before {
                    break;
                }
            }
        }
        // Layer 0: best-first beam search of width `ef` from the node the descent ended at.
        // `best` keeps the `ef` best nodes so far; a node it would not admit cannot lead on.
        let mut best = TopK::new(ef);
        self.visited[cur.row as usize] = self.epoch;
        self.frontier.push(cur);
        best.push(cur.score, cur.row);
        while let Some(near) = self.frontier.pop() {
            // Stop once the beam is full (nothing more is admitted) and even the best node left
            // to expand scores below the worst node kept.
            if !best.admits(near.score, near.row) && best.worst().is_some_and(|w| w.score > near.score) {
                break;
            }
            // Unvisited neighbours first, then score them while prefetching the next one's
            // codes (hnswlib's trick), so no prefetch is spent on a node already seen.
            self.fresh.clear();
            for &next in links(&graph.zero, near.row, 2 * M) {
                let seen = &mut self.visited[next as usize];
                if *seen != self.epoch {
                    *seen = self.epoch;
                    self.fresh.push(next);
                }
            }
            if let Some(&first) = self.fresh.first() {
                prefetch_lines(codes.code(first as usize));
            }
            for (j, &next) in self.fresh.iter().enumerate() {
                if let Some(&after) = self.fresh.get(j + 1) {
                    prefetch_lines(codes.code(after as usize));
                }
                let s = score(next);
                if best.admits(s.score, s.row) {
                    self.frontier.push(s);
                    best.push(s.score, s.row);
                }
            }
        }
        // Re-rank the beam with exact f32 dot products, so returned scores are exact and the
        // order is the true one among the candidates.
        let nodes = best.into_sorted();
        let mut found: Vec<(u32, f32)> = Vec::with_capacity(nodes.len());
        for (j, &(node, _)) in nodes.iter().enumerate() {
            if let Some(&(after, _)) = nodes.get(j + 1) {
                prefetch(graph.vector(after));
            }
            found.push((graph.points[node as usize], dot(query, graph.vector(node))));
        }
        found.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        found
    }

    /// Resets the state for a graph of `n` nodes.
    fn start(&mut self, n: usize) {
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

/// The used links of `node` in a layer of `width` links per node.
#[inline]
fn links(layer: &[u32], node: u32, width: usize) -> &[u32] {
    let all = &layer[node as usize * width..(node as usize + 1) * width];
    let used = all.iter().position(|l| *l == INVALID).unwrap_or(width);
    &all[..used]
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

/// `M` of `instant-distance`: links per node on upper layers; layer zero has `2 * M`.
const M: usize = 32;
const INVALID: u32 = u32::MAX;
/// More layers than this cannot come from a real build (`ml = 1 / ln(M)` gives ~6 for 10^9 points).
const MAX_LAYERS: u64 = 64;
/// Larger `ef_search` values are refused: each search keeps that many candidates.
pub(crate) const MAX_EF_SEARCH: usize = 1 << 16;

/// A graph read from its stored form.
struct Parsed {
    ef_search: u64,
    points: Vec<u32>,
    zero: Vec<u32>,
    layers: Vec<Vec<u32>>,
}

/// Reads a bincode-encoded `instant_distance::Hnsw` over `n` snapshot rows without trusting it:
/// `ef_search: u64`, `points: u64 len + u32 rows` (a permutation of `0..n`), `zero: u64 len +
/// len * 2M u32 links`, `layers: u64 count + per layer (u64 len + len * M u32 links)`, layer 1
/// first. Upper layers shrink going up and are never empty; every link names a node of its own
/// layer. Lengths are checked against the bytes left before anything is allocated.
fn parse(bytes: &[u8], n: usize) -> Result<Parsed, String> {
    let mut r = Reader { bytes, pos: 0 };
    let ef_search = r.u64()?;
    if ef_search == 0 || ef_search > MAX_EF_SEARCH as u64 {
        return Err(format!("ef_search {ef_search} is out of range"));
    }
    if r.u64()? != n as u64 {
        return Err(format!("graph has a different point count than the {n} snapshot rows"));
    }
    let points = r.links(n, 1, n)?;
    let mut seen = vec![false; n];
    for &row in &points {
        if std::mem::replace(&mut seen[row as usize], true) {
            return Err(format!("graph point row {row} is repeated"));
        }
    }
    if r.u64()? != n as u64 {
        return Err("layer zero does not have one node per point".into());
    }
    let zero = r.links(n, 2 * M, n)?;
    let count = r.u64()?;
    if count > MAX_LAYERS || (n == 0 && count > 0) {
        return Err(format!("graph has {count} layers"));
    }
    let (mut layers, mut below) = (Vec::new(), n as u64);
    for _ in 0..count {
        let len = r.u64()?;
        if len == 0 || len > below {
            return Err(format!("upper layer of {len} nodes under a layer of {below}"));
        }
        layers.push(r.links(len as usize, M, len as usize)?);
        below = len;
    }
    if r.pos != bytes.len() {
        return Err("trailing bytes after the graph".into());
    }
    Ok(Parsed { ef_search, points, zero, layers })
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, len: usize) -> Result<&[u8], String> {
        let end = self.pos.checked_add(len).filter(|e| *e <= self.bytes.len()).ok_or("graph is truncated")?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    /// `nodes * width` links; each is `INVALID` (an unused slot; like `instant-distance`,
    /// searches read a node's links up to the first one) or below `bound`. Points (`width == 1`)
    /// are all below `bound`, since `INVALID` never is.
    fn links(&mut self, nodes: usize, width: usize, bound: usize) -> Result<Vec<u32>, String> {
        let len = nodes.checked_mul(width * 4).ok_or("graph is truncated")?;
        let links: Vec<u32> = self.take(len)?.chunks_exact(4).map(|l| u32::from_le_bytes(l.try_into().expect("4 bytes"))).collect();
        let unused_ok = width > 1;
        if let Some(link) = links.iter().find(|l| (**l != INVALID || !unused_ok) && **l as usize >= bound) {
            return Err(format!("link to node {link} outside a layer of {bound}"));
        }
        Ok(links)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit_rows(n: usize, dim: usize) -> Arc<Matrix> {
        let mut m = Matrix::new(dim);
        for i in 0..n {
            let mut state = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let v: Vec<f32> = (0..dim)
                .map(|_| {
                    state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
                })
                .collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            m.push(&v.iter().map(|x| x / norm).collect::<Vec<_>>());
        }
        Arc::new(m)
    }

    #[test]
    fn encode_decode_keeps_search_results_and_layout_is_as_documented() {
        let rows = unit_rows(300, 16);
        let graph = Graph::build(&rows, HnswParams::default());
        let bytes = graph.encode();
        let back = Graph::decode(&bytes, &rows, HnswParams::default()).unwrap();
        assert_eq!(back.encode(), bytes);
        for i in [0, 7, 299] {
            let found = graph.search(rows.row(i));
            assert_eq!(found, back.search(rows.row(i)));
            assert_eq!(found[0].0 as usize, i);
            assert_eq!(found[0].1, dot(rows.row(i), rows.row(i)));
            assert!(found.windows(2).all(|w| w[0].1 >= w[1].1), "best first");
        }
        let mut wider = back;
        wider.set_ef_search(200);
        assert!(wider.search(rows.row(0)).len() > graph.search(rows.row(0)).len());
    }

    #[test]
    fn hostile_graphs_are_refused() {
        let rows = unit_rows(100, 8);
        let bytes = Graph::build(&rows, HnswParams::default()).encode();
        assert!(Graph::decode(&bytes[..bytes.len() - 1], &rows, HnswParams::default()).is_err());
        assert!(Graph::decode(&bytes, &unit_rows(99, 8), HnswParams::default()).is_err());
        let mut bad_link = bytes.clone();
        let zero_start = 8 + 8 + 4 * 100 + 8;
        bad_link[zero_start..zero_start + 4].copy_from_slice(&1000u32.to_le_bytes());
        let err = Graph::decode(&bad_link, &rows, HnswParams::default()).err().unwrap();
        assert!(err.contains("outside"), "{err}");
        let mut dup_point = bytes.clone();
        dup_point.copy_within(20..24, 16);
        assert!(Graph::decode(&dup_point, &rows, HnswParams::default()).is_err());
    }
}
