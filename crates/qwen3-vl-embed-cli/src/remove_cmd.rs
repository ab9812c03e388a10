//! `qwen3-vl-embed remove`: take demos out of an index by id. No model is loaded: the other
//! demos' vectors stay as they are.

use std::path::PathBuf;

use clap::Args;
use demo_retriever::{DemoRetriever, IndexLock, RetrieverError, is_index_dir};

use crate::failure::CmdResult;

/// The options of `remove`.
#[derive(Args)]
pub struct RemoveArgs {
    /// The index directory written by `index`.
    index: PathBuf,
    /// The ids of the demos to remove (every one must be in the index, or nothing changes).
    #[arg(required = true, value_name = "DEMO_ID")]
    demo_ids: Vec<String>,
}

/// Runs `remove`.
pub fn run(args: RemoveArgs) -> CmdResult {
    if !is_index_dir(&args.index) {
        // Says why it is not an index (exit 4) without leaving a lock file in a stray directory.
        DemoRetriever::load(&args.index)?;
    }
    let lock = IndexLock::try_acquire(&args.index)?;
    let mut retriever = DemoRetriever::load(&args.index)?;
    let mut unknown: Vec<String> = args.demo_ids.iter().filter(|id| retriever.demo(id).is_none()).cloned().collect();
    if !unknown.is_empty() {
        unknown.dedup();
        return Err(RetrieverError::UnknownDemos(unknown).into());
    }
    let mut removed = 0;
    for id in &args.demo_ids {
        removed += usize::from(retriever.remove_demo(id)?);
    }
    retriever.save_locked(&lock)?;
    crate::output::print_line(format_args!(
        "removed {removed} demos from {}; it now holds {}",
        args.index.display(),
        retriever.len()
    ))
}
