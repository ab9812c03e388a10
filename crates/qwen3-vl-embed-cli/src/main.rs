//! `qwen3-vl-embed`: Qwen3-VL-Embedding vectors from the command line.
//!
//! Results go to stdout (one JSON object with `--json`); everything else (device choice,
//! download progress, errors) goes to stderr, so scripts can pipe stdout safely.

mod add_cmd;
mod convert_cmd;
mod demo_build;
mod device_args;
mod embed_cmd;
mod eval_cmd;
mod export_cmd;
mod failure;
mod flags;
mod index_cmd;
mod info_cmd;
mod migrate_cmd;
mod model_load;
mod output;
mod pack_cmd;
mod query_cmd;
mod remove_cmd;
mod unpack_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "qwen3-vl-embed", version, about = "Qwen3-VL-Embedding vectors for text, screenshots and both")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Embed text, an image, or both, and print the vector.
    Embed(embed_cmd::EmbedArgs),
    /// Build a demo index from a directory of episode JSON files or a JSONL file.
    Index(index_cmd::IndexArgs),
    /// Add demos to an existing demo index.
    Add(add_cmd::AddArgs),
    /// Show what a demo index holds and how it was built.
    Info(info_cmd::InfoArgs),
    /// Find the demos that best match a task and/or a screenshot.
    Query(query_cmd::QueryArgs),
    /// Remove demos from a demo index by id (no model needed).
    Remove(remove_cmd::RemoveArgs),
    /// Precision@k, recall@k and MRR of each retrieval method on queries with known answers.
    Eval(eval_cmd::EvalArgs),
    /// Write a model directory in another precision (int8, q4, f16, bf16), loadable directly.
    Convert(convert_cmd::ConvertArgs),
    /// Export an index's vectors and metadata to a vector database's import format (Qdrant).
    Export(export_cmd::ExportArgs),
    /// Upgrade a text-only index to a multimodal one, screenshots from a folder or a JSON map.
    Migrate(migrate_cmd::MigrateArgs),
    /// Write an index directory as one packed file (for the npm package: Node, browsers).
    Pack(pack_cmd::PackArgs),
    /// Turn a packed library (from `pack` or the npm package) back into an index directory.
    Unpack(unpack_cmd::UnpackArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Embed(args) => embed_cmd::run(args),
        Command::Index(args) => index_cmd::run(args),
        Command::Add(args) => add_cmd::run(args),
        Command::Info(args) => info_cmd::run(args),
        Command::Query(args) => query_cmd::run(args),
        Command::Remove(args) => remove_cmd::run(args),
        Command::Eval(args) => eval_cmd::run(args),
        Command::Export(args) => export_cmd::run(args),
        Command::Convert(args) => convert_cmd::run(args),
        Command::Migrate(args) => migrate_cmd::run(args),
        Command::Pack(args) => pack_cmd::run(args),
        Command::Unpack(args) => unpack_cmd::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
