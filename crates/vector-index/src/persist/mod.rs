//! Encoding an index into its stored parts and back, shared by the directory form
//! ([`dir`]) and the single-buffer form ([`buffer`]).
//!
//! Parts: `index.json` (the [`Manifest`]), `embeddings.npy` (live rows, storage order), `ids`
//! (one id per line, same order) and, when there is a graph, `hnsw.bin`:
//!
//! ```text
//! b"QVIXHNSW" | u32 version (2) | u32 dim | u64 rows | u64 dead_rows
//! | dead_rows x u64 row positions (ascending) | dead_rows x dim f32 (their vectors)
//! | graph (see `graph/codec.rs`)
//! ```
//!
//! Graph node `i` is row `i` of the index. Removed rows are not in `embeddings.npy` (NumPy
//! readers see live items only) but the graph still routes through them, so their vectors
//! travel in `hnsw.bin` and a load restores the exact row layout.
//!
//! Schema 1 (written before the graph was ours: an `instant-distance` graph over a snapshot,
//! plus an unindexed delta) still loads: its live rows, ids and metadata are read as usual, its
//! `hnsw.bin` is ignored (not even read), and the graph is built afresh from the stored vectors
//! if the strategy wants one. Saving such an index writes schema 2.

pub(crate) mod buffer;
pub(crate) mod dir;
mod verify;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::Index;
use crate::error::{DataFile, Error, LoadError, Problem, Result};
use crate::fs::{Mapping, Unverified};
use crate::graph::Graph;
use crate::index::{IndexConfig, MAX_DIM, check_id};
use crate::matrix::Matrix;
use crate::npy;
use crate::quant::Codes;
use crate::store::Store;

/// The `index.json` schema this build writes. It also reads every earlier one (only 1 so far).
pub const SCHEMA_VERSION: u32 = 2;
/// `index.json` larger than this is refused before it is read (metadata is free-form JSON).
pub const MAX_MANIFEST_BYTES: u64 = 256 << 20;
const GRAPH_MAGIC: &[u8; 8] = b"QVIXHNSW";
const GRAPH_VERSION: u32 = 2;

/// The content of `index.json`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub schema_version: u32,
    pub created_at: String,
    pub embedding_model: String,
    pub embedding_dim: usize,
    pub count: usize,
    /// Search settings (strategy, HNSW parameters, rebuild thresholds).
    pub config: IndexConfig,
    /// Every data file: its size and sha256 (lowercase hex).
    pub files: BTreeMap<String, FileEntry>,
    /// Present when `hnsw.bin` holds a graph.
    #[serde(default)]
    pub graph: Option<GraphEntry>,
    /// Per item, in row order: the id and the caller's metadata.
    pub items: Vec<ItemEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct FileEntry {
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct GraphEntry {
    /// Rows the graph covers: every stored row, removed ones included (schema 1: the rows of
    /// the snapshot the graph was built over; the name is kept from then).
    pub snapshot_rows: usize,
    /// Removed rows whose vectors `hnsw.bin` carries for routing.
    pub dead_rows: usize,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ItemEntry {
    pub id: String,
    pub metadata: Value,
}

/// A data file's bytes as fetched: read into memory, or mapped (by [`Index::open`]).
pub(crate) enum Bytes {
    Read(Vec<u8>),
    Mapped(Arc<Mapping>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Read(v) => v,
            Bytes::Mapped(m) => m,
        }
    }
}

impl Bytes {
    fn map(&self) -> Option<Arc<Mapping>> {
        match self {
            Bytes::Read(_) => None,
            Bytes::Mapped(m) => Some(m.clone()),
        }
    }
}

/// An index in stored form: `index.json` bytes plus the data files it describes.
pub(crate) struct Encoded {
    pub manifest: Vec<u8>,
    pub files: Vec<(DataFile, Vec<u8>)>,
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Serialises `index` into its stored parts; `with_codes` adds `codes.bin` when there is a
/// graph (directories carry it so [`Index::open`] can map it; buffers derive it on load).
pub(crate) fn encode(index: &Index, with_codes: bool) -> Encoded {
    let dim = index.embedding_dim();
    let live_rows: Vec<usize> = (0..index.live.len()).filter(|r| index.live[*r]).collect();
    let mut matrix = Vec::with_capacity(live_rows.len() * dim);
    let mut ids = String::new();
    let mut items = Vec::with_capacity(live_rows.len());
    for &r in &live_rows {
        matrix.extend_from_slice(index.row(r));
        ids.push_str(&index.ids[r]);
        ids.push('\n');
        items.push(ItemEntry { id: index.ids[r].clone(), metadata: index.metadata[r].clone() });
    }
    let mut files = vec![
        (DataFile::Embeddings, npy::write_f32_matrix(live_rows.len(), dim, &matrix)),
        (DataFile::Ids, ids.into_bytes()),
    ];
    drop(matrix);
    let graph = index.graph.as_ref().map(|graph| {
        let entry = GraphEntry { snapshot_rows: index.rows.rows(), dead_rows: index.dead };
        files.push((DataFile::Graph, encode_graph(index, graph)));
        if with_codes {
            files.push((DataFile::Codes, graph.codes().encode(dim)));
        }
        entry
    });
    let manifest = Manifest {
        schema_version: SCHEMA_VERSION,
        created_at: index.created_at.clone(),
        embedding_model: index.config.embedding_model.clone(),
        embedding_dim: dim,
        count: live_rows.len(),
        config: index.config.clone(),
        files: files
            .iter()
            .map(|(f, b)| (f.name().to_string(), FileEntry { bytes: b.len() as u64, sha256: sha256_hex(b) }))
            .collect(),
        graph,
        items,
    };
    let manifest = serde_json::to_vec_pretty(&manifest).expect("a manifest always serialises");
    Encoded { manifest, files }
}

fn encode_graph(index: &Index, graph: &Graph) -> Vec<u8> {
    let rows = &index.rows;
    let dead: Vec<usize> = (0..rows.rows()).filter(|r| !index.live[*r]).collect();
    let mut out = Vec::new();
    out.extend_from_slice(GRAPH_MAGIC);
    out.extend_from_slice(&GRAPH_VERSION.to_le_bytes());
    out.extend_from_slice(&(index.embedding_dim() as u32).to_le_bytes());
    out.extend_from_slice(&(rows.rows() as u64).to_le_bytes());
    out.extend_from_slice(&(dead.len() as u64).to_le_bytes());
    for &r in &dead {
        out.extend_from_slice(&(r as u64).to_le_bytes());
    }
    for &r in &dead {
        rows.row(r).iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
    }
    out.extend_from_slice(&graph.encode());
    out
}

fn invalid(file: DataFile, why: impl Into<String>) -> Error {
    LoadError::new(file, Problem::Invalid(why.into())).into()
}

/// Parses and checks `index.json`: size, schema version, then structure and counts.
pub(crate) fn parse_manifest(bytes: &[u8]) -> Result<Manifest> {
    let json = |e: serde_json::Error| Error::from(LoadError::new(DataFile::IndexJson, Problem::Json(e.to_string())));
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        let problem = Problem::TooLarge { limit: MAX_MANIFEST_BYTES, found: bytes.len() as u64 };
        return Err(LoadError::new(DataFile::IndexJson, problem).into());
    }
    #[derive(Deserialize)]
    struct Version {
        schema_version: u64,
    }
    // One parse when the manifest is well-formed; the version alone is parsed only to tell an
    // unsupported schema (whose fields may differ) from a broken file.
    let parsed: std::result::Result<Manifest, _> = serde_json::from_slice(bytes);
    let version = match &parsed {
        Ok(manifest) => u64::from(manifest.schema_version),
        Err(_) => serde_json::from_slice::<Version>(bytes).map_err(json)?.schema_version,
    };
    if !(1..=SCHEMA_VERSION as u64).contains(&version) {
        let problem = Problem::UnsupportedSchema { found: version, supported: SCHEMA_VERSION };
        return Err(LoadError::new(DataFile::IndexJson, problem).into());
    }
    let mut manifest = parsed.map_err(json)?;
    if manifest.count != manifest.items.len() {
        let problem = Problem::CountMismatch { expected: manifest.count, found: manifest.items.len() };
        return Err(LoadError::new(DataFile::IndexJson, problem).into());
    }
    if manifest.embedding_dim == 0 || manifest.embedding_dim > MAX_DIM {
        return Err(invalid(DataFile::IndexJson, format!("embedding_dim {} is out of range", manifest.embedding_dim)));
    }
    manifest.config.embedding_model = manifest.embedding_model.clone();
    manifest.config.embedding_dim = manifest.embedding_dim;
    Ok(manifest)
}

/// Rebuilds an index from `index.json` bytes, fetching each data file through `fetch`
/// (which returns its bytes after checking the size `index.json` records). A file fetched
/// mapped is checked for structure but neither hashed nor scanned for non-finite values here:
/// that would read it all; [`Index::verify`] does it later.
pub(crate) fn decode(
    manifest: &[u8],
    mut fetch: impl FnMut(DataFile, &FileEntry) -> Result<Bytes, LoadError>,
) -> Result<Index> {
    let manifest = parse_manifest(manifest)?;
    let mut unverified = Vec::new();
    let mut load = |file: DataFile| -> Result<Bytes> {
        let entry = manifest
            .files
            .get(file.name())
            .ok_or(LoadError::new(DataFile::IndexJson, Problem::Invalid(format!("no entry for {file}"))))?;
        let bytes = fetch(file, entry)?;
        if let Some(map) = bytes.map() {
            unverified.push(Unverified { file, sha256: entry.sha256.clone(), map });
            return Ok(bytes);
        }
        check_sha256(file, &bytes, &entry.sha256)?;
        Ok(bytes)
    };
    let (dim, count) = (manifest.embedding_dim, manifest.count);
    let embeddings = load(DataFile::Embeddings)?;
    let npy_error = |e: npy::NpyError| LoadError::new(DataFile::Embeddings, e.into());
    let (rows, cols, offset) = npy::f32_matrix_layout(&embeddings).map_err(npy_error)?;
    if cols != dim {
        let problem = Problem::DimensionMismatch { expected: dim, found: cols };
        return Err(LoadError::new(DataFile::Embeddings, problem).into());
    }
    if rows != count {
        return Err(
            LoadError::new(DataFile::Embeddings, Problem::CountMismatch { expected: count, found: rows }).into()
        );
    }
    let mapped = embeddings.map().and_then(|map| Store::mapped(map, offset, rows * cols));
    let data = match mapped {
        Some(store) => store,
        None => {
            let data: Vec<f32> = embeddings[offset..]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect();
            check_rows(&data, dim, DataFile::Embeddings)?;
            Store::Owned(data)
        }
    };
    drop(embeddings);
    check_ids(&load(DataFile::Ids)?, &manifest.items)?;
    // A schema-1 graph is not ours to read; it is rebuilt below from the stored vectors.
    let graph_bytes = match manifest.graph {
        Some(entry) if manifest.schema_version >= 2 => Some((entry, load(DataFile::Graph)?)),
        _ => None,
    };
    let codes = match &graph_bytes {
        Some((entry, _)) if manifest.files.contains_key(DataFile::Codes.name()) => {
            let bytes = load(DataFile::Codes)?;
            let codes = Codes::decode(&bytes, bytes.map(), dim, entry.snapshot_rows);
            Some(codes.map_err(|why| invalid(DataFile::Codes, why))?)
        }
        _ => None,
    };
    let migrate = manifest.schema_version < 2;
    // The ids file matched index.json line by line: keep index.json's strings.
    let (ids, metadata): (Vec<String>, Vec<Value>) = manifest.items.into_iter().map(|i| (i.id, i.metadata)).unzip();
    let mut index = Index::new(manifest.config).map_err(|e| invalid(DataFile::IndexJson, e.to_string()))?;
    index.created_at = manifest.created_at;
    match graph_bytes {
        None => place_without_graph(&mut index, data, ids, metadata)?,
        Some((entry, bytes)) => place_with_graph(&mut index, data, ids, metadata, entry, &bytes, codes)?,
    }
    index.unverified = unverified;
    if migrate {
        index.rebuild(); // builds the graph the strategy wants (a no-op without one)
    }
    Ok(index)
}

pub(super) fn check_sha256(file: DataFile, bytes: &[u8], expected: &str) -> Result<(), LoadError> {
    let found = sha256_hex(bytes);
    if !found.eq_ignore_ascii_case(expected) {
        return Err(LoadError::new(file, Problem::ChecksumMismatch { expected: expected.to_owned(), found }));
    }
    Ok(())
}

/// Every stored vector must be finite and non-zero (the rest of the crate relies on it).
pub(super) fn check_rows(data: &[f32], dim: usize, file: DataFile) -> Result<()> {
    for (r, row) in data.chunks_exact(dim).enumerate() {
        if row.iter().any(|x| !x.is_finite()) || row.iter().all(|x| *x == 0.0) {
            return Err(invalid(file, format!("row {r} is not a finite non-zero vector")));
        }
    }
    Ok(())
}

/// `ids` must be UTF-8, one valid id per `\n`-terminated line, equal to index.json's (their
/// uniqueness is checked as the id map is built: [`id_map`]).
fn check_ids(bytes: &[u8], items: &[ItemEntry]) -> Result<()> {
    let text = std::str::from_utf8(bytes).map_err(|_| invalid(DataFile::Ids, "not UTF-8"))?;
    let body = match text.strip_suffix('\n') {
        Some(body) => body,
        None if text.is_empty() => "",
        None => return Err(invalid(DataFile::Ids, "last line is not terminated")),
    };
    let lines = if text.is_empty() { 0 } else { body.split('\n').count() };
    if lines != items.len() {
        return Err(
            LoadError::new(DataFile::Ids, Problem::CountMismatch { expected: items.len(), found: lines }).into()
        );
    }
    for (i, (id, item)) in body.split('\n').zip(items).enumerate() {
        check_id(id).map_err(|e| invalid(DataFile::Ids, format!("line {}: {e}", i + 1)))?;
        if id != item.id {
            return Err(invalid(DataFile::Ids, format!("line {} is {id:?}, index.json says {:?}", i + 1, item.id)));
        }
    }
    Ok(())
}

/// The id -> row map of the live rows, refusing an id that appears twice.
fn id_map<'a>(live: impl Iterator<Item = (usize, &'a String)>, count: usize) -> Result<HashMap<String, u32>> {
    let mut by_id = HashMap::with_capacity(count);
    for (row, id) in live {
        if by_id.insert(id.clone(), row as u32).is_some() {
            return Err(invalid(DataFile::Ids, format!("id {id:?} appears twice")));
        }
    }
    Ok(by_id)
}

fn place_without_graph(index: &mut Index, data: Store<f32>, ids: Vec<String>, metadata: Vec<Value>) -> Result<()> {
    let dim = index.embedding_dim();
    index.by_id = id_map(ids.iter().enumerate(), ids.len())?;
    index.live = vec![true; ids.len()];
    (index.ids, index.metadata) = (ids, metadata);
    index.rows = Matrix::from_store(dim, data);
    Ok(())
}

/// Restores the row layout the graph was built over: live rows from `embeddings.npy`
/// interleaved with the removed rows `hnsw.bin` carries (with none, the rows are
/// `embeddings.npy`'s as they are, mapped if they were).
fn place_with_graph(
    index: &mut Index,
    data: Store<f32>,
    ids: Vec<String>,
    metadata: Vec<Value>,
    entry: GraphEntry,
    bytes: &[u8],
    codes: Option<Codes>,
) -> Result<()> {
    let dim = index.embedding_dim();
    let bad = |why: String| invalid(DataFile::Graph, why);
    let mut r = GraphReader { bytes, pos: 0 };
    if r.take(8).ok() != Some(&GRAPH_MAGIC[..]) {
        return Err(bad("not a graph file (bad magic bytes)".into()));
    }
    let (version, file_dim) = (r.u32()?, r.u32()? as usize);
    if version != GRAPH_VERSION || file_dim != dim {
        return Err(bad(format!("version {version} / dimension {file_dim}, expected {GRAPH_VERSION} / {dim}")));
    }
    let (snapshot_rows, dead_rows) = (r.u64()? as usize, r.u64()? as usize);
    let live_in_snapshot = snapshot_rows.checked_sub(dead_rows).filter(|l| *l == ids.len());
    if snapshot_rows != entry.snapshot_rows || dead_rows != entry.dead_rows || live_in_snapshot.is_none() {
        return Err(bad(format!("{snapshot_rows} snapshot rows with {dead_rows} removed do not match index.json")));
    }
    let per_dead_row = 8 + dim * 4;
    if dead_rows.checked_mul(per_dead_row).is_none_or(|n| n > bytes.len() - r.pos) {
        return Err(bad("file is truncated".into()));
    }
    let positions = (0..dead_rows).map(|_| r.u64()).collect::<Result<Vec<_>>>()?;
    if positions.windows(2).any(|w| w[0] >= w[1]) || positions.last().is_some_and(|p| *p as usize >= snapshot_rows) {
        return Err(bad("removed-row positions are not ascending within the rows".into()));
    }
    let dead_data: Vec<f32> = r
        .take(dead_rows * dim * 4)?
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    check_rows(&dead_data, dim, DataFile::Graph)?;

    // The live rows stay where they are (mapped when they were): the removed rows go beside
    // them, at their positions (see `Matrix::with_holes`), instead of one copied block.
    let (mut dead, mut live) = (0, Vec::with_capacity(ids.len() + dead_rows));
    let mut slot_ids = Vec::with_capacity(ids.len() + dead_rows);
    let mut slot_meta = Vec::with_capacity(ids.len() + dead_rows);
    let (mut ids, mut metadata) = (ids.into_iter(), metadata.into_iter());
    for pos in 0..snapshot_rows {
        let removed = positions.get(dead).is_some_and(|p| *p as usize == pos);
        live.push(!removed);
        if removed {
            dead += 1;
            slot_ids.push(String::new());
            slot_meta.push(Value::Null);
        } else {
            slot_ids.push(ids.next().expect("checked: live rows == ids"));
            slot_meta.push(metadata.next().expect("one metadata entry per id"));
        }
    }
    let positions = positions.into_iter().map(|p| p as usize).collect();
    let rows = Matrix::with_holes(dim, data, positions, dead_data);
    let graph = Graph::decode(&bytes[r.pos..], &rows, index.config.hnsw, codes).map_err(bad)?;
    index.by_id = id_map(slot_ids.iter().enumerate().filter(|(i, _)| live[*i]), snapshot_rows - dead_rows)?;
    (index.ids, index.metadata, index.live) = (slot_ids, slot_meta, live);
    index.dead = dead_rows;
    index.rows = rows;
    index.graph = Some(graph);
    Ok(())
}

struct GraphReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl GraphReader<'_> {
    fn take(&mut self, len: usize) -> Result<&[u8]> {
        let end = self.pos.checked_add(len).filter(|e| *e <= self.bytes.len());
        let end = end.ok_or_else(|| invalid(DataFile::Graph, "file is truncated"))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
}
