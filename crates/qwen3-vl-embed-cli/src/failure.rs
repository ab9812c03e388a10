//! Failures and exit codes, the same for every subcommand: one code per class of error.
//!
//! | code | class |
//! |---|---|
//! | 0 | success |
//! | 1 | a model, device or file problem: a model that cannot be found or loaded, a device that cannot start, an input image that cannot be read (missing, not a regular file, over `MAX_IMAGE_FILE_BYTES`, undecodable), an embedding that is NaN, infinite or zero, stdout that cannot be written (closed pipe, full disk), a save that could not be written (the index is unchanged), any other I/O error |
//! | 2 | bad usage: what clap rejects (unknown flags or values, `--device`/`--precision` names, a count or `--dim` of 0), a `--dim` above the model's width, an input or query with neither text nor image (or `--method text` without text), `index --out` naming a non-empty directory that is not an index, `convert --out` naming a file or a non-empty directory, `remove` of an id the index does not hold, an `eval` queries file that is malformed or names unknown demos |
//! | 3 | bad demos (unreadable episode, missing or undecodable screenshot, duplicate id) or an empty library |
//! | 4 | an index directory (or packed library) that is missing, damaged or built with other settings |
//! | 5 | the index is locked: another `index` or `add` is writing it (nothing was changed; retry later) |
//!
//! A command that fails with an error leaves a saved index as it was: every check runs before
//! the save, a writer refused by the lock (5) never loads the index, and a save that fails
//! (1: a write or fsync error) removes what it wrote or undoes its commit (the save protocol
//! of `demo_retriever::store`); a kill at any point leaves the old index or the new one.

use demo_retriever::RetrieverError;
use qwen3_vl_embedder::EmbedError;

/// An error with the exit code it maps to.
#[derive(Debug)]
pub enum Failure {
    /// Starting a device, loading a model or embedding failed.
    Embed(EmbedError),
    /// Reading demos or an index, or saving one, failed.
    Retriever(RetrieverError),
    /// Writing the result to stdout failed (a closed pipe, a full disk).
    Stdout(std::io::Error),
    /// `eval`'s queries file cannot be read or is malformed (the message names file and line).
    BadQueries(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Embed(e) => e.fmt(f),
            Self::Retriever(e) => e.fmt(f),
            Self::Stdout(e) => write!(f, "cannot write the result to stdout: {e}"),
            Self::BadQueries(e) => write!(f, "bad queries file {e}"),
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
        use EmbedError as E;
        use RetrieverError as R;
        match self {
            Self::Embed(
                E::EmptyInput
                | E::BadDimension { .. }
                | E::UnknownDevice(_)
                | E::UnknownPrecision(_)
                | E::BadConvertOutput { .. },
            ) => 2,
            Self::Embed(_) | Self::Stdout(_) => 1,
            Self::BadQueries(_) => 2,
            Self::Retriever(
                R::EmptyQuery
                | R::TextQueryNeedsText
                | R::UnknownDemos(_)
                | R::BadFilter { .. }
                | R::NotAnIndexDir { .. }
                | R::DimOutOfRange { .. },
            ) => 2,
            Self::Retriever(R::BadDemos(_) | R::EmptyLibrary(_)) => 3,
            Self::Retriever(
                R::BadIndexDir { .. }
                | R::BadPack(_)
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
