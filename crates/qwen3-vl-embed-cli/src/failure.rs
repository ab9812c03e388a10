//! Failures and exit codes, the same for every subcommand.
//!
//! Exit codes: 0 success; 1 a model, device or file problem; 2 bad command-line usage
//! (clap, including an unknown `--device` or `--precision`, or a query with neither text nor
//! image); 3 bad demos or an empty library; 4 an index directory that is missing, corrupt or
//! built with other settings. A failing command never changes a saved index.

use demo_retriever::RetrieverError;
use qwen3_vl_embedder::EmbedError;

/// An error with the exit code it maps to.
#[derive(Debug)]
pub enum Failure {
    /// Starting a device, loading a model or embedding failed.
    Embed(EmbedError),
    /// Reading demos or an index, or saving one, failed.
    Retriever(RetrieverError),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Embed(e) => e.fmt(f),
            Self::Retriever(e) => e.fmt(f),
        }
    }
}

impl From<EmbedError> for Failure {
    fn from(e: EmbedError) -> Self {
        Self::Embed(e)
    }
}

impl From<RetrieverError> for Failure {
    fn from(e: RetrieverError) -> Self {
        match e {
            RetrieverError::Embed(e) => Self::Embed(e),
            e => Self::Retriever(e),
        }
    }
}

impl Failure {
    /// The process exit code for this failure (see the module docs).
    pub fn exit_code(&self) -> u8 {
        use RetrieverError as R;
        match self {
            Self::Embed(_) => 1,
            Self::Retriever(R::EmptyQuery | R::NotAnIndexDir { .. }) => 2,
            Self::Retriever(R::BadDemos(_) | R::EmptyLibrary(_)) => 3,
            Self::Retriever(
                R::BadIndexDir { .. }
                | R::Index(_)
                | R::ModelMismatch { .. }
                | R::DimMismatch { .. }
                | R::InstructionMismatch { .. },
            ) => 4,
            Self::Retriever(R::Locked { .. }) => 5,
            Self::Retriever(_) => 1,
        }
    }
}

/// A subcommand's result.
pub type CmdResult<T = ()> = Result<T, Failure>;
