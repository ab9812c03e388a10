//! Errors of the demo retriever: one bad demo, or a problem with the whole index.

use std::path::PathBuf;

use thiserror::Error;

/// What is wrong with one demo. The library keeps loading the others; the caller decides
/// whether to stop or to skip the demo with a warning.
#[derive(Debug, Error)]
#[error("{origin}: {problem}")]
pub struct DemoError {
    /// The episode file, with `:line` for a JSONL file.
    pub origin: String,
    /// What is wrong with it.
    pub problem: DemoProblem,
}

/// The ways one demo can be unusable.
#[derive(Debug, Error)]
pub enum DemoProblem {
    /// The episode file could not be read.
    #[error("cannot read the file: {0}")]
    Io(std::io::Error),
    /// The episode is not valid JSON or lacks a required field.
    #[error("invalid episode JSON: {0}")]
    Json(serde_json::Error),
    /// The `episode_id` cannot serve as an index id and file name.
    #[error("episode_id {id:?} is not usable as a demo id: {reason}")]
    BadId {
        /// The id as read.
        id: String,
        /// Why it is not usable.
        reason: &'static str,
    },
    /// The episode has no (or a blank) `instruction`.
    #[error("the episode has no instruction (goal)")]
    NoGoal,
    /// The screenshot the episode names cannot be read.
    #[error("screenshot {} does not exist or cannot be read: {source}", path.display())]
    MissingScreenshot {
        /// The resolved screenshot path.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The screenshot cannot be embedded: unreadable, not a regular file, over the size limit
    /// (`qwen3_vl_embedder::MAX_IMAGE_FILE_BYTES`), or not a decodable image.
    #[error("screenshot {} cannot be embedded: {source}", path.display())]
    Screenshot {
        /// The resolved screenshot path.
        path: PathBuf,
        /// Why not.
        source: qwen3_vl_embedder::EmbedError,
    },
    /// The demo's input cannot be embedded (e.g. its text cannot be tokenised).
    #[error("cannot be embedded: {0}")]
    Unembeddable(qwen3_vl_embedder::EmbedError),
    /// The screenshot's resolved path is not valid UTF-8, so the index (JSON text) cannot
    /// record it.
    #[error("screenshot path {} is not valid UTF-8: the index stores paths as JSON text (rename it)", .0.display())]
    NonUtf8Path(PathBuf),
    /// Another demo of the library already has this id.
    #[error("demo id {0:?} appears more than once in the library")]
    Duplicate(String),
}

/// Errors of the retriever and its index directory.
#[derive(Debug, Error)]
pub enum RetrieverError {
    /// The library held no demos at all (or none survived skipping).
    #[error("the demo library {0} holds no episodes")]
    EmptyLibrary(String),

    /// One or more demos were bad and skipping was not asked for.
    #[error("{} bad demo(s): {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    BadDemos(Vec<DemoError>),

    /// The saved index was built with another model than the one asked for.
    #[error("the index was built with model {found:?}, but {expected:?} was asked for (re-embed to switch models)")]
    ModelMismatch {
        /// The model asked for.
        expected: String,
        /// The model the index was built with.
        found: String,
    },

    /// The saved index was built with another Matryoshka dimension than the one asked for.
    #[error(
        "the index holds {found}-dimensional embeddings, but dimension {expected} was asked for (re-embed to switch)"
    )]
    DimMismatch {
        /// The dimension asked for.
        expected: usize,
        /// The dimension of the stored embeddings.
        found: usize,
    },

    /// A library dimension outside `min..=max` (the seed's minimum, the model's width).
    #[error("embedding dimension {dim}: a library needs {min}..={max} (at least {min}, at most the model's width)")]
    DimOutOfRange {
        /// The dimension asked for.
        dim: usize,
        /// The smallest allowed ([`crate::retriever::MIN_DIM`]).
        min: usize,
        /// The model's width.
        max: usize,
    },

    /// The saved index was embedded with another instruction than the one asked for.
    #[error("the index was embedded with instruction {found:?}, but {expected:?} was asked for (re-embed to switch)")]
    InstructionMismatch {
        /// The instruction asked for.
        expected: String,
        /// The instruction the index was embedded with.
        found: String,
    },

    /// A query or retrieval needs demos that were added but not yet embedded.
    #[error("{0} demo(s) are not embedded yet: call build_index first")]
    NotBuilt(usize),

    /// A `--filter` (or API filter) that is not `field=value` with a known field.
    #[error("bad filter {filter:?}: {reason}")]
    BadFilter {
        /// The filter as given.
        filter: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A query with neither text nor screenshot.
    #[error("empty query: give a task text, a screenshot, or both")]
    EmptyQuery,

    /// A text-only query (TF-IDF, no model) without task text: a screenshot alone cannot be
    /// matched by words.
    #[error("text-only retrieval needs the task in words (--text); a screenshot alone needs the multimodal model")]
    TextQueryNeedsText,

    /// Demo ids that the index does not hold (nothing was changed).
    #[error("the index holds no demo with the id(s) {}", .0.join(", "))]
    UnknownDemos(Vec<String>),

    /// Reranking was asked for but no reranker was given.
    #[error("reranking was asked for but no reranker is loaded")]
    NoReranker,

    /// A reranker answered with another number of scores than there were candidates.
    #[error("the reranker returned {got} score(s) for {expected} candidate(s)")]
    RerankScores {
        /// Candidates sent to the reranker.
        expected: usize,
        /// Scores that came back.
        got: usize,
    },

    /// A directory that is not a demo index, or one whose files disagree.
    #[error("{}: {reason}", path.display())]
    BadIndexDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A packed library file ([`crate::pack`]) that cannot be read.
    #[error("not a usable packed library: {0}")]
    BadPack(String),

    /// Another command holds the index directory's writer lock (see [`crate::lock`]).
    #[error(
        "another command is writing this index (it holds {}); nothing was changed: try again when it has finished",
        path.display()
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
    },

    /// `index --out` names a directory that holds other files and no index: writing there
    /// would mix an index into (or, on a later save, delete from) the user's own files.
    #[error(
        "refusing to write an index into {}: it {reason}; choose a new or empty directory, or an existing index",
        path.display()
    )]
    NotAnIndexDir {
        /// The directory asked for.
        path: PathBuf,
        /// What is there instead (e.g. "is not empty and holds no index (found \"a.json\")").
        reason: String,
    },

    /// Reading or writing a file of the index directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file that could not be read or written.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },

    /// A save failed before its commit, or its commit was undone: the directory holds the
    /// index it held before (see [`crate::store`]).
    #[error("could not save the index in {}, which is unchanged: {source}", dir.display())]
    SaveFailed {
        /// The index directory.
        dir: PathBuf,
        /// What failed.
        source: Box<RetrieverError>,
    },

    /// A save committed, but the directory could not be fsynced to make that durable, and
    /// undoing the commit failed too: the new index is in place, but a power cut may still
    /// bring back the previous one (either loads; never a mix).
    #[error(
        "saved the index in {}, but could not make it durable ({source}) nor undo it ({undo}): \
         after a power cut the directory may hold the previous index",
        dir.display()
    )]
    SaveUncertain {
        /// The index directory.
        dir: PathBuf,
        /// The failed fsync.
        source: std::io::Error,
        /// Why undoing the commit failed.
        undo: std::io::Error,
    },

    /// The vector index failed.
    #[error(transparent)]
    Index(#[from] vector_index::Error),

    /// Embedding a demo or a query failed.
    #[error(transparent)]
    Embed(#[from] qwen3_vl_embedder::EmbedError),
}

impl RetrieverError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}

/// `Result` with [`RetrieverError`] as the default error.
pub type Result<T, E = RetrieverError> = std::result::Result<T, E>;
