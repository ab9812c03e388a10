//! `qwen3-vl-embed eval`: retrieval quality on a set of queries with known answers, the seed's
//! success criterion made measurable. For each method (multimodal, text-only, multimodal +
//! rerank) it prints precision@k, recall@k and MRR side by side.
//!
//! Definitions (per query, then averaged over the queries): with `hits` the expected demos
//! among the top `k` returned, precision@k = hits / k, recall@k = hits / |expected|, and the
//! reciprocal rank is 1 / (rank of the first expected demo) when it is within the top `k`,
//! else 0 (MRR@k).

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use demo_retriever::{DemoRetriever, Query, RetrievalResult};
use serde::Deserialize;
use serde_json::json;

use crate::device_args::DeviceArgs;
use crate::failure::{CmdResult, Failure};
use crate::model_load::{load_embedder, load_reranker};
use crate::query_cmd::task_and_screenshot;

/// The largest queries file read (a JSONL of tasks and ids; far below this in practice).
const MAX_QUERIES_FILE_BYTES: u64 = 64 << 20;

/// The options of `eval`.
#[derive(Args)]
pub struct EvalArgs {
    /// The index directory written by `index`.
    index: PathBuf,
    /// One query per line: {"task", "screenshot" (a path, relative to this file), "app",
    /// "domain", "expected": [demo ids]}; each query needs a task, a screenshot or both.
    queries: PathBuf,
    /// The cut-off k of precision@k, recall@k and MRR@k.
    #[arg(long, default_value_t = 5, value_parser = crate::flags::positive)]
    top_k: usize,
    /// The methods to compare, in this order.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "multimodal,text")]
    methods: Vec<EvalMethod>,
    /// Reranker model directory or Hub id (for the rerank method).
    #[arg(long, default_value = "Qwen/Qwen3-VL-Reranker-2B")]
    reranker: String,
    /// Device and precision of the embedding model.
    #[command(flatten)]
    device: DeviceArgs,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// A retrieval method `eval` can score.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EvalMethod {
    /// The embedding model: cosine + bonuses.
    Multimodal,
    /// TF-IDF over goal, app and domain (no model); queries without text score 0.
    Text,
    /// The embedding model, then the reranker on the best candidates.
    Rerank,
}

impl EvalMethod {
    fn name(self) -> &'static str {
        match self {
            Self::Multimodal => "multimodal",
            Self::Text => "text",
            Self::Rerank => "multimodal+rerank",
        }
    }
}

/// One line of the queries file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvalQuery {
    #[serde(default)]
    task: Option<String>,
    #[serde(default)]
    screenshot: Option<PathBuf>,
    #[serde(default)]
    app: Option<String>,
    #[serde(default)]
    domain: Option<String>,
    expected: Vec<String>,
}

/// Precision@k, recall@k and reciprocal rank of one ranking against the expected ids.
pub fn scores(ranked: &[String], expected: &[String], k: usize) -> (f64, f64, f64) {
    let top = &ranked[..ranked.len().min(k)];
    let hits = top.iter().filter(|id| expected.contains(id)).count() as f64;
    let first = top.iter().position(|id| expected.contains(id));
    let recall = if expected.is_empty() { 0.0 } else { hits / expected.len() as f64 };
    (hits / k as f64, recall, first.map_or(0.0, |i| 1.0 / (i + 1) as f64))
}

fn bad_queries(path: &Path, problem: impl std::fmt::Display) -> Failure {
    Failure::BadQueries(format!("{}: {problem}", path.display()))
}

/// Reads and checks the queries file, the screenshots read (bounded) as they come.
fn read_queries(path: &Path, retriever: &DemoRetriever, k: usize) -> CmdResult<Vec<(Query, Vec<String>)>> {
    let file = std::fs::File::open(path).map_err(|e| bad_queries(path, e))?;
    let mut text = String::new();
    file.take(MAX_QUERIES_FILE_BYTES + 1).read_to_string(&mut text).map_err(|e| bad_queries(path, e))?;
    if text.len() as u64 > MAX_QUERIES_FILE_BYTES {
        return Err(bad_queries(path, format!("larger than {MAX_QUERIES_FILE_BYTES} bytes")));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let at = |problem: String| bad_queries(path, format!("line {}: {problem}", n + 1));
        let q: EvalQuery = serde_json::from_str(line).map_err(|e| at(e.to_string()))?;
        if let Some(id) = q.expected.iter().find(|id| retriever.demo(id).is_none()) {
            return Err(at(format!("expected demo {id:?} is not in the index")));
        }
        if q.expected.is_empty() {
            return Err(at("\"expected\" lists no demo".into()));
        }
        let shot = q.screenshot.as_ref().map(|p| base.join(p));
        let mut query = task_and_screenshot(q.task, shot.as_deref(), k)?
            .ok_or_else(|| at("a query needs a task, a screenshot or both".into()))?;
        (query.app_context, query.domain_context) = (q.app, q.domain);
        out.push((query, q.expected));
    }
    if out.is_empty() {
        return Err(bad_queries(path, "no queries"));
    }
    Ok(out)
}

/// Runs `eval`.
pub fn run(args: EvalArgs) -> CmdResult {
    let retriever = DemoRetriever::load(&args.index)?;
    let queries = read_queries(&args.queries, &retriever, args.top_k)?;
    let needs_model = args.methods.iter().any(|m| *m != EvalMethod::Text);
    let embedder =
        if needs_model { Some(load_embedder(&retriever.settings().model.clone(), &args.device, 8)?) } else { None };
    let reranker = if args.methods.contains(&EvalMethod::Rerank) {
        Some(load_reranker(&args.reranker, &args.device)?)
    } else {
        None
    };
    let mut rows = Vec::new();
    for &method in &args.methods {
        let (mut p, mut r, mut rr, mut unanswered) = (0.0, 0.0, 0.0, 0);
        for (query, expected) in &queries {
            let results: Vec<RetrievalResult> = match method {
                EvalMethod::Text if query.task.is_none() => {
                    unanswered += 1;
                    Vec::new()
                }
                EvalMethod::Text => retriever.retrieve_text(query)?,
                EvalMethod::Multimodal => retriever.retrieve(embedder.as_ref().expect("loaded"), query, None)?,
                EvalMethod::Rerank => {
                    let reranker = reranker.as_ref().map(|r| r as &dyn demo_retriever::Rerank);
                    let query = Query { rerank: true, ..query.clone() };
                    retriever.retrieve(embedder.as_ref().expect("loaded"), &query, reranker)?
                }
            };
            let ranked: Vec<String> = results.into_iter().map(|r| r.demo.demo_id).collect();
            let (qp, qr, qrr) = scores(&ranked, expected, args.top_k);
            (p, r, rr) = (p + qp, r + qr, rr + qrr);
        }
        let n = queries.len() as f64;
        rows.push((method.name(), p / n, r / n, rr / n, unanswered));
    }
    if args.json {
        let methods: serde_json::Map<String, serde_json::Value> = rows
            .iter()
            .map(|(name, p, r, rr, skipped)| {
                let v = json!({"precision_at_k": p, "recall_at_k": r, "mrr": rr, "unanswered": skipped});
                ((*name).to_owned(), v)
            })
            .collect();
        return crate::output::print_line(json!({"queries": queries.len(), "k": args.top_k, "methods": methods}));
    }
    let k = args.top_k;
    let mut text = format!(
        "{} queries, k = {k}\n{:<18} {:>12} {:>9} {:>7}\n",
        queries.len(),
        "method",
        format!("precision@{k}"),
        format!("recall@{k}"),
        "MRR"
    );
    for (name, p, r, rr, unanswered) in &rows {
        text.push_str(&format!("{name:<18} {p:>12.4} {r:>9.4} {rr:>7.4}"));
        if *unanswered > 0 {
            text.push_str(&format!("  ({unanswered} queries without text score 0)"));
        }
        text.push('\n');
    }
    crate::output::print(&text)
}

#[cfg(test)]
mod tests {
    use super::scores;

    #[test]
    fn metrics_by_hand() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // Expected b and d; ranking a b c d: one hit in the top 2 at rank 2.
        assert_eq!(scores(&ids(&["a", "b", "c", "d"]), &ids(&["b", "d"]), 2), (0.5, 0.5, 0.5));
        assert_eq!(scores(&ids(&["a", "b", "c", "d"]), &ids(&["b", "d"]), 4), (0.5, 1.0, 0.5));
        assert_eq!(scores(&ids(&["a"]), &ids(&["z"]), 3), (0.0, 0.0, 0.0));
        assert_eq!(scores(&[], &ids(&["z"]), 3), (0.0, 0.0, 0.0));
    }
}
