//! `qwen3-vl-embed embed`.

use std::path::PathBuf;

use clap::Args;
use qwen3_vl_embedder::{EmbedError, EmbedInput};

use crate::device_args::DeviceArgs;
use crate::failure::CmdResult;
use crate::model_load::load_embedder;

/// The options of `embed`.
#[derive(Args)]
pub struct EmbedArgs {
    /// Model directory, or a Hugging Face Hub id (downloaded into the HF cache).
    #[arg(long, default_value = "Qwen/Qwen3-VL-Embedding-2B")]
    model: String,
    /// Text to embed.
    #[arg(long)]
    text: Option<String>,
    /// Image file to embed (PNG, JPEG, WebP, GIF).
    #[arg(long)]
    image: Option<PathBuf>,
    /// Task instruction (default: "Represent the user's input.").
    #[arg(long)]
    instruction: Option<String>,
    /// Matryoshka dimension: keep the first N components (default: full width).
    #[arg(long, value_parser = crate::flags::positive)]
    dim: Option<usize>,
    #[command(flatten)]
    device: DeviceArgs,
    /// Print one JSON object {"embedding": [...], "dim": N, "model": "..."}.
    #[arg(long)]
    json: bool,
}

/// Runs `embed`.
pub fn run(args: EmbedArgs) -> CmdResult {
    let mut input = EmbedInput { text: args.text, instruction: args.instruction, ..Default::default() };
    if let Some(path) = &args.image {
        let bytes = qwen3_vl_embedder::read_image(path)?;
        input.images.push(bytes);
    }
    if input.is_empty() {
        return Err(EmbedError::EmptyInput.into());
    }
    let embedder = load_embedder(&args.model, &args.device, 1)?;
    let embedding = embedder.embed(&input, args.dim)?;
    if args.json {
        let out = serde_json::json!({ "embedding": embedding, "dim": embedding.len(), "model": args.model });
        crate::output::print_line(out)
    } else {
        let shown: Vec<String> = embedding.iter().take(8).map(|x| format!("{x:.6}")).collect();
        let more = if embedding.len() > 8 { ", ..." } else { "" };
        crate::output::print_line(format_args!("dim {} [{}{more}]", embedding.len(), shown.join(", ")))
    }
}
