//! Loading models with a progress bar on stderr: the 2B weights are 4.3 GB, and a silent pause
//! of several seconds (longer from a cold disk) reads as a hang.

use indicatif::{ProgressBar, ProgressStyle};
use qwen3_vl_embedder::{Embedder, EmbedderOptions, Reranker, Result, resolve_model_dir};

use crate::device_args::DeviceArgs;

/// Resolves `model` (a directory or a Hub id), starts the device and loads the embedding model
/// with a byte-count bar (hidden when stderr is not a terminal).
pub fn load_embedder(model: &str, device: &DeviceArgs, batch_size: usize) -> Result<Embedder> {
    let dir = resolve_model_dir(model)?;
    let started = device.start()?;
    let options = EmbedderOptions {
        batch_size: batch_size.max(1),
        dtype: device.precision_for(&dir)?.dtype(),
        ..EmbedderOptions::default()
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("loading weights {bar:30} {bytes}/{total_bytes} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let shown = bar.clone();
    let embedder = Embedder::from_dir_with_progress(&dir, &started.device, options, move |p| {
        shown.set_length(p.total_bytes);
        shown.set_position(p.loaded_bytes);
    });
    bar.finish_and_clear();
    embedder
}

/// Resolves and loads a Qwen3-VL-Reranker (f32) on the device of `device`.
pub fn load_reranker(model: &str, device: &DeviceArgs) -> Result<Reranker> {
    let dir = resolve_model_dir(model)?;
    let started = qwen3_vl_embedder::start_device(device.device)?;
    Reranker::from_dir(&dir, &started.device)
}
