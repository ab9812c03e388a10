//! What the commands that embed demos (`index`, `add`) share: their options, reading a
//! library, naming a model, and the embedding progress bar.

use std::path::Path;

use demo_retriever::{Demo, DemoRetriever, OnBadDemo, RetrieverError, read_library};
use indicatif::{ProgressBar, ProgressStyle};
use qwen3_vl_embedder::Embedder;

use crate::device_args::DeviceArgs;
use crate::failure::CmdResult;

/// The options of the commands that embed demos (`index`, `add`).
#[derive(clap::Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Demos per forward pass.
    #[arg(long, default_value_t = 8, value_parser = crate::flags::positive)]
    pub batch_size: usize,
    /// Skip demos that cannot be read or embedded (a missing, unreadable or undecodable
    /// screenshot), each with a warning naming the demo and the file, instead of failing.
    #[arg(long)]
    pub skip_bad: bool,
}

/// How a model is named in an index: a local directory by its absolute path (so later
/// commands find it from any working directory), a Hub id as given.
pub fn model_id(model: &str) -> String {
    let path = Path::new(model);
    if path.is_dir() {
        return std::path::absolute(path).map_or_else(|_| model.to_owned(), |p| p.display().to_string());
    }
    model.to_owned()
}

/// Reads a demo library. Bad demos fail the command unless `skip_bad`, in which case each
/// is reported on stderr and left out. An empty result is an error either way.
pub fn read_demos(path: &Path, skip_bad: bool) -> CmdResult<Vec<Demo>> {
    let library = read_library(path).map_err(|e| RetrieverError::BadDemos(vec![e]))?;
    if !library.errors.is_empty() {
        if !skip_bad {
            return Err(RetrieverError::BadDemos(library.errors).into());
        }
        for e in &library.errors {
            eprintln!("warning: skipping {e}");
        }
    }
    if library.demos.is_empty() {
        return Err(RetrieverError::EmptyLibrary(path.display().to_string()).into());
    }
    Ok(library.demos)
}

/// Embeds the retriever's pending demos with a progress bar on stderr. With `skip_bad`, demos
/// whose screenshot cannot be read or decoded are left out, each with a warning.
pub fn build(
    retriever: &mut DemoRetriever,
    embedder: &Embedder,
    batch_size: usize,
    skip_bad: bool,
) -> CmdResult<demo_retriever::BuildReport> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("embedding {bar:30} {pos}/{len} demos {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let on_bad = if skip_bad { OnBadDemo::Skip } else { OnBadDemo::Fail };
    let report = retriever.build_index_with(embedder, batch_size, on_bad, &mut |p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
    });
    bar.finish_and_clear();
    // Reported whether or not the build succeeded: a bad cache entry never blocks a command.
    for dropped in retriever.cache_mut().take_dropped() {
        eprintln!("warning: {dropped}");
    }
    let report = report?;
    for e in &report.skipped {
        eprintln!("warning: skipping {e}");
    }
    Ok(report)
}
