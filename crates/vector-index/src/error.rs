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
    DimensionMismatch {
        /// The index's `embedding_dim`.
        expected: usize,
        /// The vector's length.
        found: usize,
    },
    /// A vector contains NaN or an infinity.
    #[error("vector component {position} is {value}; every component must be finite")]
    NonFinite {
        /// Index of the first non-finite component.
        position: usize,
        /// Its value.
        value: f32,
    },
    /// A vector has zero norm, so it has no direction and cannot be normalised.
    #[error("vector has zero norm; it cannot be normalised")]
    ZeroVector,
    /// `get` or `remove` named an id the index does not hold.
    #[error("no item with id {0:?}")]
    UnknownId(String),
    /// An id that cannot be stored (the `ids` file holds one id per line).
    #[error("invalid id {id:?}: {reason}")]
    InvalidId {
        /// The id as given.
        id: String,
        /// Why it cannot be stored.
        reason: &'static str,
    },
    /// A configuration value that cannot work, e.g. `embedding_dim == 0`.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A stored index (directory or buffer) is missing, unreadable or inconsistent.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Writing an index to disk failed; the previous index on disk is still intact.
    #[error("cannot save index: {path}: {source}")]
    Save {
        /// The file that could not be written.
        path: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },
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
    /// `codes.bin`: the int8 copy of the rows the graph walk scores, so opening does not
    /// derive it (directories only; absent from older directories, which derive it).
    Codes,
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
            DataFile::Codes => "codes.bin",
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
    /// The file does not exist.
    #[error("file is missing")]
    Missing,
    /// The file exists but could not be read.
    #[error("cannot read: {0}")]
    Io(io::Error),
    /// The file is larger than the size limit this crate reads.
    #[error("file is {found} bytes, more than the limit of {limit}")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
        /// The file size, in bytes.
        found: u64,
    },
    /// The file's sha256 differs from the one `index.json` records.
    #[error("sha256 is {found}, index.json expects {expected}")]
    ChecksumMismatch {
        /// The sha256 `index.json` records (hex).
        expected: String,
        /// The sha256 of the file (hex).
        found: String,
    },
    /// `index.json` has a schema version this build cannot read.
    #[error("schema_version {found} is not supported (this build reads 1 to {supported})")]
    UnsupportedSchema {
        /// The schema version of the stored index.
        found: u64,
        /// The newest version this build reads.
        supported: u32,
    },
    /// `index.json` does not parse, or lacks a field.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// `embeddings.npy` is not a matrix this crate reads.
    #[error(transparent)]
    Npy(#[from] NpyError),
    /// The file holds a different number of items than `index.json` says.
    #[error("holds {found} items, index.json says {expected}")]
    CountMismatch {
        /// The count `index.json` records.
        expected: usize,
        /// The count the file holds.
        found: usize,
    },
    /// The matrix has a different width than `index.json` says.
    #[error("holds vectors of dimension {found}, index.json says {expected}")]
    DimensionMismatch {
        /// The dimension `index.json` records.
        expected: usize,
        /// The dimension the file holds.
        found: usize,
    },
    /// The contents contradict themselves or `index.json` in another way, said in the message.
    #[error("{0}")]
    Invalid(String),
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
