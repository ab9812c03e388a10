//! `convert`: writes a model directory in another precision (int8, q4, f16, bf16), with the
//! format recorded in the directory; `embed`, `index`, `query` and the Rust crates load it
//! directly (`qwen3_vl_embedder::convert`).

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use qwen3_vl_embedder::convert::{WeightLayout, convert_dir};
use qwen3_vl_embedder::{Precision, resolve_model_dir};

use crate::failure::CmdResult;

/// Arguments of `convert`.
#[derive(clap::Args, Debug)]
pub struct ConvertArgs {
    /// The model to convert: a local directory or a Hugging Face Hub id.
    pub model: String,
    /// The precision to write: int8, q4, f16 or bf16.
    #[arg(long, value_parser = convertible)]
    pub precision: Precision,
    /// The directory to create (it must not exist, or be empty).
    #[arg(long)]
    pub out: PathBuf,
    /// How packed weights are stored: `portable` (every device reads it) or `cpu` (the CPU
    /// kernels' own layout, bf16/int8/q4 only: the CPU device maps it and loads in a fraction
    /// of the time, other devices cannot read it).
    #[arg(long, default_value = "portable", value_parser = layout)]
    pub layout: WeightLayout,
}

/// `--layout` of `convert`.
fn layout(value: &str) -> Result<WeightLayout, String> {
    match value {
        "portable" => Ok(WeightLayout::Portable),
        "cpu" => Ok(WeightLayout::CpuKernels),
        other => Err(format!("unknown layout {other:?}: choose portable or cpu")),
    }
}

/// `--precision` of `convert`: any precision but f32, refused as a usage error up front.
fn convertible(value: &str) -> Result<Precision, String> {
    match value.parse::<Precision>() {
        Ok(Precision::F32) => Err("f32 is not a conversion: choose int8, q4, f16 or bf16".into()),
        Ok(p) => Ok(p),
        Err(e) => Err(e.to_string()),
    }
}

/// Runs `convert`: a byte-count bar per stage on stderr (hidden when stderr is not a
/// terminal), a one-line summary on stderr at the end.
pub fn run(args: ConvertArgs) -> CmdResult {
    let src = resolve_model_dir(&args.model)?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:10} {bar:30} {bytes}/{total_bytes} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let shown = bar.clone();
    let stats = convert_dir(&src, &args.out, args.precision, args.layout, move |p| {
        shown.set_message(p.stage);
        shown.set_length(p.total);
        shown.set_position(p.done);
    });
    bar.finish_and_clear();
    let stats = stats?;
    eprintln!(
        "wrote {} ({}{}: {} tensors, {} of them packed weights, {} bytes of weights)",
        args.out.display(),
        args.precision,
        if args.layout == WeightLayout::CpuKernels { ", CPU layout" } else { "" },
        stats.tensors,
        stats.packed_weights,
        stats.file_bytes
    );
    Ok(())
}
