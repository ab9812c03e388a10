//! The HNSW graph, built with `instant-distance` over the rows of an immutable snapshot.
//!
//! Graph points do not copy vectors: each point is a row number plus a shared handle to the
//! snapshot matrix, so the vectors live once in memory. Serialised, a point is just its row
//! number (`u32`); the snapshot is supplied again when the graph is decoded.
//!
//! The encoded graph is `instant-distance`'s own serde form written with bincode (fixed-width
//! little-endian integers). Before handing a stored graph to bincode, [`validate`] walks the
//! bytes and checks every length and every link, because `instant-distance` indexes with them
//! unchecked: a hostile file must produce an error, not a panic or a huge allocation.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use instant_distance::{Builder, Heuristic, Hnsw, Point, Search};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::kernel::dot;
use crate::matrix::Matrix;

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
    #[serde(default = "default_heuristic")]
    pub heuristic: bool,
}

fn default_heuristic() -> bool {
    true
}

impl Default for HnswParams {
    fn default() -> Self {
        Self { ef_construction: 100, ef_search: 64, seed: 0x5157_454e_3356_4c45, heuristic: true }
    }
}

/// A graph node (a snapshot row) or a query.
#[derive(Clone)]
pub(crate) enum GraphPoint {
    Row { rows: Arc<Matrix>, row: u32 },
    Query(Arc<[f32]>),
}

impl GraphPoint {
    fn vector(&self) -> &[f32] {
        match self {
            GraphPoint::Row { rows, row } => rows.row(*row as usize),
            GraphPoint::Query(v) => v,
        }
    }
}

impl Point for GraphPoint {
    fn distance(&self, other: &Self) -> f32 {
        1.0 - dot(self.vector(), other.vector())
    }
}

thread_local! {
    /// The snapshot that points being deserialised refer to (serde gives `Deserialize` no context).
    static DECODING: RefCell<Option<Arc<Matrix>>> = const { RefCell::new(None) };
}

impl Serialize for GraphPoint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            GraphPoint::Row { row, .. } => s.serialize_u32(*row),
            GraphPoint::Query(_) => Err(serde::ser::Error::custom("a query is not a graph point")),
        }
    }
}

impl<'de> Deserialize<'de> for GraphPoint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let row = u32::deserialize(d)?;
        let rows = DECODING.with(|c| c.borrow().clone()).ok_or_else(|| serde::de::Error::custom("no snapshot"))?;
        if row as usize >= rows.rows() {
            return Err(serde::de::Error::custom(format!("point row {row} is out of range")));
        }
        Ok(GraphPoint::Row { rows, row })
    }
}

/// An HNSW graph over every row of one snapshot.
pub(crate) struct Graph {
    hnsw: Hnsw<GraphPoint>,
    params: HnswParams,
    /// Reusable search states: each holds a visited set sized to the graph.
    searches: Mutex<Vec<Search>>,
}

impl Graph {
    /// Builds the graph over all rows of `rows` (in parallel natively, serially on wasm).
    pub(crate) fn build(rows: &Arc<Matrix>, params: HnswParams) -> Self {
        let points = (0..rows.rows() as u32).map(|row| GraphPoint::Row { rows: rows.clone(), row }).collect();
        let (hnsw, _) = Builder::default()
            .ef_construction(params.ef_construction)
            .ef_search(params.ef_search)
            .seed(params.seed)
            .select_heuristic(if params.heuristic { Some(Heuristic::default()) } else { None })
            .build_hnsw(points);
        Self { hnsw, params, searches: Mutex::new(Vec::new()) }
    }

    /// Snapshot rows nearest to `query`, nearest first; at most `ef_search` of them.
    pub(crate) fn search(&self, query: &[f32]) -> Vec<u32> {
        let mut search = self.searches.lock().ok().and_then(|mut pool| pool.pop()).unwrap_or_default();
        let query = GraphPoint::Query(Arc::from(query));
        let rows = self
            .hnsw
            .search(&query, &mut search)
            .map(|item| match item.point {
                GraphPoint::Row { row, .. } => *row,
                GraphPoint::Query(_) => unreachable!("the graph holds rows only"),
            })
            .collect();
        if let Ok(mut pool) = self.searches.lock() {
            pool.push(search);
        }
        rows
    }

    /// The graph in bincode form (see the module docs).
    pub(crate) fn encode(&self) -> Vec<u8> {
        bincode::serialize(&self.hnsw).expect("graph points are rows, which always serialise")
    }

    /// Decodes a graph over `rows` after checking its structure; `Err` says what is wrong.
    pub(crate) fn decode(bytes: &[u8], rows: &Arc<Matrix>, params: HnswParams) -> Result<Self, String> {
        validate(bytes, rows.rows())?;
        let ef_search = u64::from_le_bytes(bytes[..8].try_into().expect("validated"));
        if ef_search != params.ef_search as u64 {
            return Err(format!("graph has ef_search {ef_search}, the configuration says {}", params.ef_search));
        }
        DECODING.with(|c| *c.borrow_mut() = Some(rows.clone()));
        let hnsw = bincode::deserialize::<Hnsw<GraphPoint>>(bytes);
        DECODING.with(|c| *c.borrow_mut() = None);
        let hnsw = hnsw.map_err(|e| format!("cannot decode graph: {e}"))?;
        Ok(Self { hnsw, params, searches: Mutex::new(Vec::new()) })
    }

    /// The same graph answering with a different `ef_search`. `instant-distance` fixes
    /// `ef_search` at build time, so this re-encodes the graph (linear in its size, no rebuild).
    pub(crate) fn with_ef_search(&self, ef_search: usize) -> Self {
        let mut bytes = self.encode();
        bytes[..8].copy_from_slice(&(ef_search as u64).to_le_bytes());
        let rows = match self.hnsw.iter().next() {
            Some((_, GraphPoint::Row { rows, .. })) => rows.clone(),
            _ => Arc::new(Matrix::new(1)),
        };
        let params = HnswParams { ef_search, ..self.params };
        Self::decode(&bytes, &rows, params).expect("re-encoding a valid graph yields a valid graph")
    }
}

/// `M` of `instant-distance`: links per node on upper layers; layer zero has `2 * M`.
const M: usize = 32;
const INVALID: u32 = u32::MAX;
/// More layers than this cannot come from a real build (`ml = 1 / ln(M)` gives ~6 for 10^9 points).
const MAX_LAYERS: u64 = 64;
/// Larger `ef_search` values are refused: each search keeps that many candidates.
pub(crate) const MAX_EF_SEARCH: usize = 1 << 16;

/// Checks a bincode-encoded `Hnsw<GraphPoint>` over `n` snapshot rows without trusting it:
/// `ef_search: u64`, `points: u64 len + u32 rows` (a permutation of `0..n`), `zero: u64 len +
/// len * 2M u32 links`, `layers: u64 count + per layer (u64 len + len * M u32 links)`. Upper
/// layers shrink going up and are never empty; every link names a node of its own layer.
fn validate(bytes: &[u8], n: usize) -> Result<(), String> {
    let mut r = Reader { bytes, pos: 0 };
    let ef = r.u64()?;
    if ef == 0 || ef > MAX_EF_SEARCH as u64 {
        return Err(format!("ef_search {ef} is out of range"));
    }
    if r.u64()? != n as u64 {
        return Err(format!("graph has a different point count than the {n} snapshot rows"));
    }
    let mut seen = vec![false; n];
    for _ in 0..n {
        let row = r.u32()? as usize;
        if row >= n || std::mem::replace(&mut seen[row], true) {
            return Err(format!("graph point row {row} is out of range or repeated"));
        }
    }
    if r.u64()? != n as u64 {
        return Err("layer zero does not have one node per point".into());
    }
    r.links(n, 2 * M, n)?;
    let layers = r.u64()?;
    if layers > MAX_LAYERS || (n == 0 && layers > 0) {
        return Err(format!("graph has {layers} layers"));
    }
    let mut below = n as u64;
    for _ in 0..layers {
        let len = r.u64()?;
        if len == 0 || len > below {
            return Err(format!("upper layer of {len} nodes under a layer of {below}"));
        }
        r.links(len as usize, M, len as usize)?;
        below = len;
    }
    if r.pos != bytes.len() {
        return Err("trailing bytes after the graph".into());
    }
    Ok(())
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

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    /// `nodes` nodes of `width` links each; every link is `INVALID` or below `bound`.
    fn links(&mut self, nodes: usize, width: usize, bound: usize) -> Result<(), String> {
        let len = nodes.checked_mul(width * 4).ok_or("graph is truncated")?;
        let links = self.take(len)?;
        for link in links.chunks_exact(4) {
            let link = u32::from_le_bytes(link.try_into().expect("4 bytes"));
            if link != INVALID && link as usize >= bound {
                return Err(format!("link to node {link} outside a layer of {bound}"));
            }
        }
        Ok(())
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
        for i in [0, 7, 299] {
            assert_eq!(graph.search(rows.row(i)), back.search(rows.row(i)));
            assert_eq!(graph.search(rows.row(i))[0] as usize, i);
        }
        let wider = graph.with_ef_search(200);
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
