//! `qwen3-vl-embed info`: what an index holds and how it was built (no model needed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use demo_retriever::DemoRetriever;

use crate::failure::CmdResult;

/// The options of `info`.
#[derive(Args)]
pub struct InfoArgs {
    /// The index directory written by `index`.
    index: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `info`.
pub fn run(args: InfoArgs) -> CmdResult {
    let r = DemoRetriever::load(&args.index)?;
    let s = r.settings();
    let mut platforms: BTreeMap<&str, usize> = BTreeMap::new();
    for d in r.demos() {
        *platforms.entry(d.platform.as_str()).or_default() += 1;
    }
    let ids: Vec<&str> = r.demos().map(|d| d.demo_id.as_str()).collect();
    let disk_bytes = disk_bytes(&args.index);
    let search = if r.index().has_graph() { "hnsw" } else { "exact" };
    // The path as text, lossily: `json!` would panic on a path that is not UTF-8.
    let shown = args.index.display().to_string();
    if args.json {
        let out = serde_json::json!({
            "index": shown, "model": s.model, "dim": s.dim, "instruction": s.instruction,
            "demos": r.len(), "platforms": platforms, "cached_embeddings": r.cache().len(),
            "bonuses": {"app": s.bonuses.app, "domain": s.bonuses.domain}, "rerank_top_n": s.rerank_top_n,
            "search": search, "strategy": s.strategy, "disk_bytes": disk_bytes, "demo_ids": ids,
        });
        return crate::output::print_line(out);
    }
    let p: Vec<String> = platforms.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let mut text = format!(
        "index:       {shown}\nmodel:       {}\ndim:         {}\ninstruction: {}\ndemos:       {}\n\
         platforms:   {}\nbonuses:     app {}, domain {}\nrerank:      top {}\nsearch:      {search}\n\
         cache:       {} embeddings\non disk:     {}\n",
        s.model,
        s.dim,
        s.instruction,
        r.len(),
        p.join(", "),
        s.bonuses.app,
        s.bonuses.domain,
        s.rerank_top_n,
        r.cache().len(),
        human_bytes(disk_bytes)
    );
    for d in r.demos() {
        text.push_str(&format!("  {}  {}\n", d.demo_id, d.goal));
    }
    crate::output::print(&text)
}

/// Bytes of every regular file under `dir` (subdirectories included; links not followed).
fn disk_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(entry.path()),
                Ok(m) if m.is_file() => total += m.len(),
                _ => {}
            }
        }
    }
    total
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.2} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} bytes"),
    }
}
