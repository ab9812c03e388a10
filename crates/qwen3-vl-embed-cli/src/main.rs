//! `qwen3-vl-embed`: Qwen3-VL-Embedding vectors from the command line.
//!
//! Results go to stdout (one JSON object with `--json`); everything else (device choice,
//! download progress, errors) goes to stderr, so scripts can pipe stdout safely.

mod embed_cmd;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Embed(args) => embed_cmd::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
