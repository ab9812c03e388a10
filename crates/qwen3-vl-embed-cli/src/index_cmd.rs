//! `qwen3-vl-embed index`: build (or bring up to date) a demo index from a library.

use std::path::PathBuf;

use clap::Args;
use demo_retriever::{
    Bonuses, DEFAULT_DIM, DEFAULT_INSTRUCTION, DEFAULT_MODEL, DemoRetriever, IndexLock, RetrieverError,
    RetrieverSettings, check_out_dir, is_index_dir,
};

use crate::demo_build::{BuildArgs, build, model_id, read_demos};
use crate::failure::CmdResult;
use crate::model_load::load_embedder;

/// The options of `index`.
#[derive(Args)]
pub struct IndexArgs {
    /// A directory of episode JSON files, or a JSONL file with one episode per line.
    demos: PathBuf,
    /// The index directory to write. If it already holds an index, that index is brought in
    /// line with the library (removed demos dropped), re-embedding only what changed.
    #[arg(long)]
    out: PathBuf,
    /// Model directory or Hugging Face Hub id [default: the existing index's, else Qwen/Qwen3-VL-Embedding-2B].
    #[arg(long)]
    model: Option<String>,
    /// Matryoshka dimension, 64 up to the model's width [default: the existing index's, else
    /// 512 capped at the model's width].
    #[arg(long, value_parser = crate::flags::library_dim)]
    dim: Option<usize>,
    /// Instruction demos and queries are embedded with [default: the existing index's, else
    /// "Retrieve the GUI demonstration that shows how to complete the user's task."].
    #[arg(long)]
    instruction: Option<String>,
    /// Bonus added to a demo's score when the query's --app is contained in its app name,
    /// saved in the index [default: the existing index's, else 0.1].
    #[arg(long, value_parser = crate::flags::bonus)]
    app_bonus: Option<f32>,
    /// Bonus added when the query's --domain is a run of whole labels of the demo's domain,
    /// saved in the index [default: the existing index's, else 0.1].
    #[arg(long, value_parser = crate::flags::bonus)]
    domain_bonus: Option<f32>,
    /// How many of the best candidates `query --rerank` rescores, saved in the index
    /// [default: the existing index's, else 20].
    #[arg(long, value_parser = crate::flags::positive)]
    rerank_top_n: Option<usize>,
    /// How queries search: `exact` (scan every demo), `hnsw` (a graph, at any size) or `auto`
    /// (hnsw from 10,000 demos); saved in the index [default: the existing index's, else auto].
    /// Changing it rebuilds the vector index from the cached vectors (nothing is re-embedded).
    #[arg(long, value_parser = crate::flags::strategy)]
    strategy: Option<demo_retriever::Strategy>,
    #[command(flatten)]
    build: BuildArgs,
    /// Re-embed an existing index whose model, dim or instruction differ from the ones given.
    #[arg(long)]
    reembed: bool,
}

/// Runs `index`.
pub fn run(args: IndexArgs) -> CmdResult {
    check_out_dir(&args.out)?;
    let demos = read_demos(&args.demos, args.build.skip_bad)?;
    let model = args.model.as_deref().map(model_id);
    std::fs::create_dir_all(&args.out).map_err(|source| RetrieverError::Io { path: args.out.clone(), source })?;
    // Held from before the load until the save is done (see `demo_retriever::lock`); checked
    // again under the lock, in case another writer filled the directory meanwhile.
    let lock = IndexLock::try_acquire(&args.out)?;
    check_out_dir(&args.out)?;
    let existing = if is_index_dir(&args.out) { Some(DemoRetriever::load(&args.out)?) } else { None };
    if let (Some(r), false) = (&existing, args.reembed) {
        r.ensure_compatible(model.as_deref(), args.dim, args.instruction.as_deref())?;
    }
    let old = existing.as_ref().map(|r| r.settings().clone());
    let model = model.or_else(|| old.as_ref().map(|s| s.model.clone())).unwrap_or_else(|| DEFAULT_MODEL.into());
    let embedder = load_embedder(&model, &args.build.device, args.build.batch_size)?;
    let dim = args.dim.or(old.as_ref().map(|s| s.dim)).unwrap_or_else(|| DEFAULT_DIM.min(embedder.hidden_size()));
    if args.dim.is_some() {
        demo_retriever::check_dim(dim, embedder.hidden_size())?;
    }
    let instruction =
        args.instruction.or(old.as_ref().map(|s| s.instruction.clone())).unwrap_or_else(|| DEFAULT_INSTRUCTION.into());
    let mut settings = RetrieverSettings::new(model, dim).with_instruction(instruction);
    // Query-time settings: given ones replace the index's, the rest are kept.
    let kept = old.as_ref().map_or(Bonuses::default(), |s| s.bonuses);
    settings.bonuses =
        Bonuses { app: args.app_bonus.unwrap_or(kept.app), domain: args.domain_bonus.unwrap_or(kept.domain) };
    settings.rerank_top_n = args.rerank_top_n.or(old.as_ref().map(|s| s.rerank_top_n)).unwrap_or(settings.rerank_top_n);
    settings.strategy = args.strategy.or(old.map(|s| s.strategy)).unwrap_or_default();
    let mut retriever = match existing {
        Some(mut r) => {
            let s = r.settings();
            let vectors = (&s.model, s.dim, &s.instruction, s.strategy);
            if vectors != (&settings.model, settings.dim, &settings.instruction, settings.strategy) {
                // A new vector index; the embedding cache gives back every vector it already has.
                r.reembed(settings)?;
            } else {
                // Bonuses and the rerank depth apply at query time: nothing is re-embedded.
                r.set_bonuses(settings.bonuses);
                r.set_rerank_top_n(settings.rerank_top_n);
            }
            r.clear()?;
            r
        }
        None => DemoRetriever::new(settings)?,
    };
    retriever.add_demos(demos)?;
    let report = build(&mut retriever, &embedder, args.build.batch_size, args.build.skip_bad)?;
    if retriever.is_empty() {
        // Every demo was skipped: an empty index is never what was asked for.
        return Err(RetrieverError::EmptyLibrary(args.demos.display().to_string()).into());
    }
    retriever.save_locked(&lock)?;
    let s = retriever.settings();
    crate::output::print_line(format_args!(
        "indexed {} demos into {} (embedded {}, reused {}); model {}, dim {}",
        retriever.len(),
        args.out.display(),
        report.embedded,
        report.reused,
        s.model,
        s.dim
    ))
}
