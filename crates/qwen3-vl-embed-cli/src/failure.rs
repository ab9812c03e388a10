//! What the demo-retriever subcommands (`index`, `add`, `info`, `query`) share: exit codes,
//! model and device start-up, the progress bar, library reading.
//!
//! Exit codes: 0 success; 1 a model, device or file problem; 2 bad command-line usage
//! (clap, or a query with neither text nor image); 3 bad demos or an empty library; 4 an index directory that is missing, corrupt
//! or built with other settings. A failing command never changes a saved index.

use std::path::Path;

use demo_retriever::{Demo, DemoRetriever, ModelReranker, RetrieverError, read_library};
use indicatif::{ProgressBar, ProgressStyle};
use qwen3_vl_embedder::{DeviceChoice, EmbedError, Embedder, EmbedderOptions, resolve_model_dir, start_device};

use crate::precision::Precision;

/// The options of the commands that embed demos (`index`, `add`).
#[derive(clap::Args)]
pub struct BuildArgs {
    /// cpu, wgpu or auto (wgpu when an adapter exists, else cpu).
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// How the weights are held: f32, f16 (wgpu with shader-f16), bf16 (CPU, half the memory) or
    /// int8 (a quarter of the memory).
    #[arg(long, value_enum, default_value_t)]
    pub precision: Precision,
    /// Demos per forward pass.
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// Skip demos that cannot be read (with a warning) instead of failing.
    #[arg(long)]
    pub skip_bad: bool,
}

/// An error with the exit code it maps to.
#[derive(Debug)]
pub enum Failure {
    Embed(EmbedError),
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
    pub fn exit_code(&self) -> u8 {
        use RetrieverError as R;
        match self {
            Self::Embed(_) => 1,
            Self::Retriever(R::EmptyQuery) => 2,
            Self::Retriever(R::BadDemos(_) | R::EmptyLibrary(_)) => 3,
            Self::Retriever(
                R::BadIndexDir { .. }
                | R::Index(_)
                | R::ModelMismatch { .. }
                | R::DimMismatch { .. }
                | R::InstructionMismatch { .. },
            ) => 4,
            Self::Retriever(_) => 1,
        }
    }
}

pub type CmdResult<T = ()> = Result<T, Failure>;

/// How a model is named in an index: a local directory by its absolute path (so later
/// commands find it from any working directory), a Hub id as given.
pub fn model_id(model: &str) -> String {
    let path = Path::new(model);
    if path.is_dir() {
        return std::path::absolute(path).map_or_else(|_| model.to_owned(), |p| p.display().to_string());
    }
    model.to_owned()
}

/// Starts the device (printing the choice on stderr) and loads the embedding model.
pub fn load_embedder(model: &str, device: &str, batch_size: usize, precision: Precision) -> CmdResult<Embedder> {
    let choice: DeviceChoice = device.parse()?;
    let dir = resolve_model_dir(model)?;
    let device = start_device(choice)?;
    eprintln!("device: {}", device.name);
    let options =
        EmbedderOptions { batch_size: batch_size.max(1), dtype: precision.dtype(), ..EmbedderOptions::default() };
    Ok(crate::load_bar::load_embedder_with_bar(&dir, &device.device, options)?)
}

/// Starts the device and loads a Qwen3-VL-Reranker (a local directory or a Hub id).
pub fn load_reranker(model: &str, device: &str) -> CmdResult<ModelReranker> {
    let choice: DeviceChoice = device.parse()?;
    let dir = resolve_model_dir(model)?;
    let device = start_device(choice)?;
    Ok(ModelReranker::from_dir(&dir, &device.device)?)
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

/// Embeds the retriever's pending demos with a progress bar on stderr.
pub fn build(
    retriever: &mut DemoRetriever,
    embedder: &Embedder,
    batch_size: usize,
) -> CmdResult<demo_retriever::BuildReport> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("embedding {bar:30} {pos}/{len} demos {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = retriever.build_index(embedder, batch_size, &mut |p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
    });
    bar.finish_and_clear();
    Ok(report?)
}
