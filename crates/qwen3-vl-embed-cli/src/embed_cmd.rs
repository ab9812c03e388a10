//! `qwen3-vl-embed embed`.

use std::path::PathBuf;

use clap::Args;
use qwen3_vl_embedder::{DeviceChoice, EmbedError, EmbedInput, EmbedderOptions, resolve_model_dir, start_device};

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
    #[arg(long)]
    dim: Option<usize>,
    /// cpu, wgpu or auto (wgpu when an adapter exists, else cpu).
    #[arg(long, default_value = "auto")]
    device: String,
    /// How the weights are held: f32, f16 (wgpu with shader-f16), bf16 (CPU, half the memory) or
    /// int8 (a quarter of the memory).
    #[arg(long, value_enum, default_value_t)]
    precision: crate::precision::Precision,
    /// Print one JSON object {"embedding": [...], "dim": N, "model": "..."}.
    #[arg(long)]
    json: bool,
}

pub fn run(args: EmbedArgs) -> Result<(), EmbedError> {
    let choice: DeviceChoice = args.device.parse()?;
    let mut input = EmbedInput { text: args.text, instruction: args.instruction, ..Default::default() };
    if let Some(path) = &args.image {
        let bytes =
            std::fs::read(path).map_err(|source| EmbedError::Io { path: path.display().to_string(), source })?;
        input.images.push(bytes);
    }
    if input.is_empty() {
        return Err(EmbedError::EmptyInput);
    }
    let dir = resolve_model_dir(&args.model)?;
    let device = start_device(choice)?;
    eprintln!("device: {}", device.name);
    let options = EmbedderOptions { dtype: args.precision.dtype(), ..EmbedderOptions::default() };
    let embedder = crate::load_bar::load_embedder_with_bar(&dir, &device.device, options)?;
    let embedding = embedder.embed(&input, args.dim)?;
    if args.json {
        let out = serde_json::json!({ "embedding": embedding, "dim": embedding.len(), "model": args.model });
        println!("{out}");
    } else {
        let shown: Vec<String> = embedding.iter().take(8).map(|x| format!("{x:.6}")).collect();
        println!("dim {} [{}{}]", embedding.len(), shown.join(", "), if embedding.len() > 8 { ", ..." } else { "" });
    }
    Ok(())
}
