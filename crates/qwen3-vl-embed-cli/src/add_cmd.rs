//! `qwen3-vl-embed add`: add demos to an existing index (replacing demos with the same id).

use std::path::PathBuf;

use clap::Args;
use demo_retriever::{DemoRetriever, IndexLock, is_index_dir};

use crate::demo_build::{BuildArgs, build, read_demos};
use crate::failure::CmdResult;
use crate::model_load::load_embedder;

/// The options of `add`.
#[derive(Args)]
pub struct AddArgs {
    /// The index directory written by `index`.
    index: PathBuf,
    /// A directory of episode JSON files, a JSONL file, or one episode JSON file.
    demos: PathBuf,
    #[command(flatten)]
    build: BuildArgs,
}

/// Runs `add`.
pub fn run(args: AddArgs) -> CmdResult {
    if !is_index_dir(&args.index) {
        // Says why it is not an index (exit 4) without leaving a lock file in a stray directory.
        DemoRetriever::load(&args.index)?;
    }
    let demos = read_demos(&args.demos, args.build.skip_bad)?;
    // Held from before the load until the save is done: a writer that loaded the index before
    // another's save would otherwise save over it and drop that writer's demos.
    let lock = IndexLock::try_acquire(&args.index)?;
    let mut retriever = DemoRetriever::load(&args.index)?;
    let embedder = load_embedder(&retriever.settings().model.clone(), &args.build.device, args.build.batch_size)?;
    let added = retriever.add_demos(demos)?;
    let report = build(&mut retriever, &embedder, args.build.batch_size, args.build.skip_bad)?;
    retriever.save_locked(&lock)?;
    crate::output::print_line(format_args!(
        "added {added} demos to {} (embedded {}, reused {}); it now holds {}",
        args.index.display(),
        report.embedded,
        report.reused,
        retriever.len()
    ))
}
