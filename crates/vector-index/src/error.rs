//! Typed errors. Messages say what was expected and what was found.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::npy::NpyError;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A vector's length differs from the index's `embedding_dim`.
    #[error("vector has {found} dimensions, the index expects {expected}")]
    DimensionMismatch { expected: usize, found: usize },
    /// A vector contains NaN or an infinity.
    #[error("vector component {position} is {value}; every component must be finite")]
    NonFinite { position: usize, value: f32 },
    /// A vector has zero norm, so it has no direction and cannot be normalised.
    #[error("vector has zero norm; it cannot be normalised")]
    ZeroVector,
    /// `get` or `remove` named an id the index does not hold.
    #[error("no item with id {0:?}")]
    UnknownId(String),
    /// An id that cannot be stored (the `ids` file holds one id per line).
    #[error("invalid id {id:?}: {reason}")]
    InvalidId { id: String, reason: &'static str },
    /// A configuration value that cannot work, e.g. `embedding_dim == 0`.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A stored index (directory or buffer) is missing, unreadable or inconsistent.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Writing an index to disk failed; the previous index on disk is still intact.
    #[error("cannot save index: {path}: {source}")]
    Save { path: PathBuf, source: io::Error },
}

/// A load failed; `file` names the part of the stored index that is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct LoadError {
    /// Which file (or buffer section) is at fault.
    pub file: DataFile,
    /// What is wrong with it.
    pub problem: Problem,
}

impl LoadError {
    pub(crate) fn new(file: DataFile, problem: Problem) -> Self {
        Self { file, problem }
    }
}

/// The files of a stored index (and the single-buffer form, which holds the same parts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFile {
    /// `index.json`: schema version, model, dimension, count, metadata, checksums.
    IndexJson,
    /// `embeddings.npy`: the `[count, dim]` float32 matrix.
    Embeddings,
    /// `ids`: one id per line, in the same order as the matrix rows.
    Ids,
    /// `hnsw.bin`: the HNSW graph, so loading does not rebuild it.
    Graph,
    /// The framing of a `to_bytes` buffer.
    Buffer,
}

impl DataFile {
    /// The file name inside an index directory.
    pub fn name(self) -> &'static str {
        match self {
            DataFile::IndexJson => "index.json",
            DataFile::Embeddings => "embeddings.npy",
            DataFile::Ids => "ids",
            DataFile::Graph => "hnsw.bin",
            DataFile::Buffer => "<buffer>",
        }
    }
}

impl fmt::Display for DataFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What is wrong with one file of a stored index.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error("file is missing")]
    Missing,
    #[error("cannot read: {0}")]
    Io(io::Error),
    #[error("file is {found} bytes, more than the limit of {limit}")]
    TooLarge { limit: u64, found: u64 },
    #[error("sha256 is {found}, index.json expects {expected}")]
    ChecksumMismatch { expected: String, found: String },
    #[error("schema_version {found} is not supported (this build reads 1 to {supported})")]
    UnsupportedSchema { found: u64, supported: u32 },
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error(transparent)]
    Npy(#[from] NpyError),
    #[error("holds {found} items, index.json says {expected}")]
    CountMismatch { expected: usize, found: usize },
    #[error("holds vectors of dimension {found}, index.json says {expected}")]
    DimensionMismatch { expected: usize, found: usize },
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
