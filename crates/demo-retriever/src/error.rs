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
    pub problem: DemoProblem,
}

#[derive(Debug, Error)]
pub enum DemoProblem {
    #[error("cannot read the file: {0}")]
    Io(std::io::Error),
    #[error("invalid episode JSON: {0}")]
    Json(serde_json::Error),
    #[error("episode_id {id:?} is not usable as a demo id: {reason}")]
    BadId { id: String, reason: &'static str },
    #[error("the episode has no instruction (goal)")]
    NoGoal,
    #[error("screenshot {} does not exist or cannot be read: {source}", path.display())]
    MissingScreenshot { path: PathBuf, source: std::io::Error },
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
    ModelMismatch { expected: String, found: String },

    /// The saved index was built with another Matryoshka dimension than the one asked for.
    #[error("the index holds {found}-dimensional embeddings, but dimension {expected} was asked for (re-embed to switch)")]
    DimMismatch { expected: usize, found: usize },

    /// The saved index was embedded with another instruction than the one asked for.
    #[error("the index was embedded with instruction {found:?}, but {expected:?} was asked for (re-embed to switch)")]
    InstructionMismatch { expected: String, found: String },

    /// A query or retrieval needs demos that were added but not yet embedded.
    #[error("{0} demo(s) are not embedded yet: call build_index first")]
    NotBuilt(usize),

    /// A query with neither text nor screenshot.
    #[error("empty query: give a task text, a screenshot, or both")]
    EmptyQuery,

    /// Reranking was asked for but no reranker was given.
    #[error("reranking was asked for but no reranker is loaded")]
    NoReranker,

    /// A directory that is not a demo index, or one whose files disagree.
    #[error("{}: {reason}", path.display())]
    BadIndexDir { path: PathBuf, reason: String },

    /// Reading or writing a file of the index directory failed.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },

    #[error(transparent)]
    Index(#[from] vector_index::Error),

    #[error(transparent)]
    Embed(#[from] qwen3_vl_embedder::EmbedError),

    #[error(transparent)]
    Model(#[from] qwen3_vl_model::ModelError),
}

impl RetrieverError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}

pub type Result<T, E = RetrieverError> = std::result::Result<T, E>;
