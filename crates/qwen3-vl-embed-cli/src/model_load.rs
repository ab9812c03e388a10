//! Loading the embedding model with a progress bar on stderr: the 2B weights are 4.3 GB, and
//! a silent pause of several seconds (longer from a cold disk) reads as a hang.

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use qwen3_vl_embedder::{Device, Embedder, EmbedderOptions, Result};

/// [`Embedder::from_dir`] with a byte-count bar (hidden when stderr is not a terminal).
pub fn load_embedder_with_bar(dir: &Path, device: &Device, options: EmbedderOptions) -> Result<Embedder> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("loading weights {bar:30} {bytes}/{total_bytes} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let shown = bar.clone();
    let embedder = Embedder::from_dir_with_progress(dir, device, options, move |p| {
        shown.set_length(p.total_bytes);
        shown.set_position(p.loaded_bytes);
    });
    bar.finish_and_clear();
    embedder
}
