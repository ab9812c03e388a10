//! `qwen3-vl-embed query`: the demos of an index that best match a task and/or a screenshot.

use std::path::{Path, PathBuf};

use clap::Args;
use clap::ValueEnum;
use demo_retriever::{Bonuses, DemoRetriever, Query, RetrievalResult, RetrieverError};
use qwen3_vl_embedder::EmbedError;
use serde_json::json;

use crate::device_args::DeviceArgs;
use crate::failure::CmdResult;
use crate::model_load::{load_embedder, load_reranker};

/// The options of `query`.
#[derive(Args)]
pub struct QueryArgs {
    /// The index directory written by `index`.
    index: PathBuf,
    /// The task, in words.
    #[arg(long)]
    text: Option<String>,
    /// A screenshot of the current screen (PNG, JPEG, WebP, GIF).
    #[arg(long)]
    image: Option<PathBuf>,
    /// How many demos to return.
    #[arg(long, default_value_t = 5, value_parser = crate::flags::positive)]
    top_k: usize,
    /// The app the user is in: its demos get the app bonus.
    #[arg(long)]
    app: Option<String>,
    /// The site the user is on: its demos get the domain bonus.
    #[arg(long)]
    domain: Option<String>,
    /// Only demos that meet this condition, `field=value` with field app, domain, platform, tag
    /// or id (ASCII case ignored; repeat for several, all must hold). Applied inside the index
    /// search, so --top-k demos come back whenever that many match.
    #[arg(long = "filter", value_name = "FIELD=VALUE")]
    filters: Vec<demo_retriever::Filter>,
    /// Instruction for the query embedding [default: the index's].
    #[arg(long)]
    instruction: Option<String>,
    /// Rescore the best candidates with a Qwen3-VL-Reranker.
    #[arg(long)]
    rerank: bool,
    /// How many of the best candidates --rerank rescores [default: the index's, 20 unless set].
    #[arg(long, value_parser = crate::flags::positive)]
    rerank_top_n: Option<usize>,
    /// Bonus for demos of the --app context [default: the index's, 0.1 unless set].
    #[arg(long, value_parser = crate::flags::bonus)]
    app_bonus: Option<f32>,
    /// Bonus for demos of the --domain context [default: the index's, 0.1 unless set].
    #[arg(long, value_parser = crate::flags::bonus)]
    domain_bonus: Option<f32>,
    /// Reranker model directory or Hub id (with --rerank).
    #[arg(long, default_value = "Qwen/Qwen3-VL-Reranker-2B")]
    reranker: String,
    /// How to match: `multimodal` (the embedding model), `text` (TF-IDF over each demo's goal,
    /// app and domain; no model), or `auto`: multimodal, falling back to text with a warning
    /// when the model cannot be found, loaded or started (a query with --text only).
    #[arg(long, value_enum, default_value_t = Method::Auto)]
    method: Method,
    /// Device and precision of the embedding model (the reranker runs in f32 on the same device).
    #[command(flatten)]
    device: DeviceArgs,
    /// Print one JSON object {"results": [...]}, best first.
    #[arg(long)]
    json: bool,
}

/// How `query` matches demos to the query.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// Multimodal, or text where the model cannot be used.
    Auto,
    /// The embedding model (and the reranker with --rerank); a model failure is an error.
    Multimodal,
    /// TF-IDF over each demo's goal, app and domain: no model.
    Text,
}

/// Runs `query`.
pub fn run(args: QueryArgs) -> CmdResult {
    let mut retriever = DemoRetriever::load(&args.index)?;
    // This query's overrides of the index's settings (not saved).
    let saved = retriever.settings().bonuses;
    let bonuses =
        Bonuses { app: args.app_bonus.unwrap_or(saved.app), domain: args.domain_bonus.unwrap_or(saved.domain) };
    retriever.set_bonuses(bonuses);
    if let Some(n) = args.rerank_top_n {
        retriever.set_rerank_top_n(n);
    }
    let mut query =
        task_and_screenshot(args.text.clone(), args.image.as_deref(), args.top_k)?.ok_or(RetrieverError::EmptyQuery)?;
    query.app_context = args.app.clone();
    query.domain_context = args.domain.clone();
    query.instruction = args.instruction.clone();
    query.rerank = args.rerank;
    query.filters = args.filters.clone();
    let (results, method) = match answer(&retriever, &query, &args)? {
        Some(results) => (results, "multimodal"),
        None => {
            if args.rerank {
                eprintln!("warning: --rerank is ignored by text-only retrieval");
            }
            (retriever.retrieve_text(&query)?, "text")
        }
    };
    if args.json {
        let results: Vec<_> = results.iter().map(result_json).collect();
        return crate::output::print_line(json!({ "method": method, "results": results }));
    }
    let text = if results.is_empty() { "no demos\n".to_owned() } else { results.iter().map(format_result).collect() };
    crate::output::print(&text)
}

/// A query for the `top_k` best demos from a task (blank counts as none) and a screenshot file
/// (read with the usual size bound); `None` when it has neither. `query` and `eval` build
/// their queries here.
pub fn task_and_screenshot(task: Option<String>, image: Option<&Path>, top_k: usize) -> CmdResult<Option<Query>> {
    let mut query = Query::text(String::new()).top_k(top_k);
    query.task = task.filter(|t| !t.trim().is_empty());
    if let Some(path) = image {
        query.screenshot = Some(qwen3_vl_embedder::read_image(path)?);
    }
    Ok((query.task.is_some() || query.screenshot.is_some()).then_some(query))
}

/// The multimodal answer, or `None` when the query is to be answered by text: asked for, or
/// (`auto`) the model could not be found, loaded or started and the query has text.
fn answer(retriever: &DemoRetriever, query: &Query, args: &QueryArgs) -> CmdResult<Option<Vec<RetrievalResult>>> {
    if args.method == Method::Text {
        return Ok(None);
    }
    let embedder = match load_embedder(&retriever.settings().model.clone(), &args.device, 8) {
        Ok(embedder) => embedder,
        Err(e) if args.method == Method::Auto && query.task.is_some() && cannot_load(&e) => {
            eprintln!(
                "warning: the embedding model could not be used ({e}); answering by text only (TF-IDF over \
                 each demo's goal, app and domain). --method multimodal makes this an error."
            );
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let reranker = if args.rerank { Some(load_reranker(&args.reranker, &args.device)?) } else { None };
    Ok(Some(retriever.retrieve(&embedder, query, reranker.as_ref().map(|r| r as &dyn demo_retriever::Rerank))?))
}

/// Failures of the model or the machine, where text retrieval is the seed's fallback; usage
/// errors (an unknown device name, a bad dimension) stay errors.
fn cannot_load(e: &EmbedError) -> bool {
    matches!(
        e,
        EmbedError::DeviceInit { .. } | EmbedError::ModelSource { .. } | EmbedError::Io { .. } | EmbedError::Model(_)
    )
}

fn result_json(r: &RetrievalResult) -> serde_json::Value {
    let d = &r.demo;
    json!({
        "rank": r.rank, "demo_id": d.demo_id, "score": r.score, "embedding_score": r.embedding_score,
        "rerank_score": r.rerank_score, "goal": d.goal, "app_name": d.app_name, "domain": d.domain,
        "screenshot_path": d.screenshot_path,
    })
}

fn format_result(r: &RetrievalResult) -> String {
    let d = &r.demo;
    let rerank = r.rerank_score.map_or(String::new(), |s| format!(", rerank {s:.4}"));
    let head =
        format!("{:>2}. {}  score {:.4} (embedding {:.4}{rerank})", r.rank, d.demo_id, r.score, r.embedding_score);
    let place: Vec<&str> =
        [d.app_name.as_deref(), d.domain.as_deref(), Some(d.platform.as_str())].into_iter().flatten().collect();
    format!("{head}\n    {}  [{}]\n", d.goal, place.join(" · "))
}
