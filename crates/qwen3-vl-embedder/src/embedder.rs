//! The embedding API: inputs in, unit vectors out.

use burn::tensor::{DType, Device};
use qwen3_vl_model::{Checkpoint, ModelInput, Qwen3VlConfig, Qwen3VlModel, read_f32};
use qwen3_vl_preprocess::image::{ImageOptions, ResizedImage, resize_image};
use qwen3_vl_preprocess::prompt::{normalize_instruction, render_prompt};
use qwen3_vl_preprocess::tokenize::PromptTokenizer;

use crate::batching::cut_batches;
use crate::error::{EmbedError, Result};
use crate::input::EmbedInput;
use crate::matryoshka::{embedding_problem, truncate_and_normalize};
#[cfg(not(target_family = "wasm"))]
use crate::model_files::ModelFiles;
use crate::prefix_reuse::PrefixReuse;
use crate::prepare::push_patches;

/// How many batches' worth of inputs are prepared and sorted by length together.
pub const SORT_WINDOW: usize = 4;

/// One input prepared up to its patches: its token row, and its images resized but not yet
/// cut into f32 patches (3 bytes a pixel, not 24). A window of [`SORT_WINDOW`] batches is held
/// at once; as patches, 32 screenshots of 1280x800 took 0.8 GB.
#[derive(Default)]
struct PendingInput {
    row: Vec<u32>,
    images: Vec<ResizedImage>,
}

/// Cuts `one`'s images into patches onto the end of `batch`, and adds its row.
fn append(batch: &mut ModelInput, one: PendingInput) -> Result<()> {
    for image in &one.images {
        push_patches(image, batch)?;
    }
    batch.rows.push(one.row);
    Ok(())
}

/// How inputs are prepared and batched.
#[derive(Debug, Clone)]
pub struct EmbedderOptions {
    /// Pixel budget and decode limits for images.
    pub image: ImageOptions,
    /// Longest token sequence; longer text is cut (never image tokens). Reference: 8192.
    pub max_length: usize,
    /// Most inputs per forward pass in [`Embedder::embed_batch`].
    pub batch_size: usize,
    /// Most padded tokens per forward pass (inputs x the longest row) in
    /// [`Embedder::embed_batch`]; an input longer than this runs alone. A pass's activations
    /// grow with its tokens: eight 640x400 screenshots (about 260 tokens each) run three to a
    /// pass, while eight 32-token queries still run as one. Default 1024.
    pub max_batch_tokens: usize,
    /// Precision of the model on the device: `F32` (default, every device), `F16` (weights and
    /// activations in f16: wgpu with `shader-f16`), or `BF16` (linear weights kept in bf16 and
    /// widened as they are used, f32 compute: the CPU at about half the memory, with the same
    /// results as `F32` for bf16 checkpoints), or [`int8_weights`](crate::int8_weights)
    /// (linear weights in int8, f32 compute: every device, about a quarter of the memory).
    /// See `Qwen3VlModel::load`.
    pub dtype: DType,
    /// Compute the system turn (the instruction) once: the decoder's keys and values for it
    /// are kept from the first batch that uses an instruction, and later batches with it run
    /// only their own tokens (a 32-token text query is about 15 of them shorter). Same
    /// vectors up to the order of f32 sums. Default: on.
    pub reuse_prefix: bool,
}

impl Default for EmbedderOptions {
    fn default() -> Self {
        Self {
            image: ImageOptions::default(),
            max_length: 8192,
            batch_size: 8,
            max_batch_tokens: 1024,
            dtype: DType::F32,
            reuse_prefix: true,
        }
    }
}

/// Parses the tokenizer while the model loads: natively on a second thread, since a model
/// mapped from a directory in the CPU kernels' layout loads in about the time the 2B's
/// tokenizer takes to parse (~0.15 s); in wasm32 (one thread) one after the other.
fn load_both<T: Send, M>(tokenizer: impl FnOnce() -> T + Send, model: impl FnOnce() -> M) -> (T, M) {
    #[cfg(not(target_family = "wasm"))]
    {
        std::thread::scope(|scope| {
            let tokenizer = scope.spawn(tokenizer);
            let model = model();
            match tokenizer.join() {
                Ok(tokenizer) => (tokenizer, model),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }
    #[cfg(target_family = "wasm")]
    {
        (tokenizer(), model())
    }
}

/// A loaded Qwen3-VL-Embedding model with its tokenizer.
///
/// ```no_run
/// use qwen3_vl_embedder::{DeviceChoice, EmbedInput, Embedder, EmbedderOptions, start_device};
///
/// let device = start_device(DeviceChoice::Cpu)?;
/// let embedder = Embedder::from_dir("tests/fixtures/models/tiny-embedding".as_ref(), &device.device, EmbedderOptions::default())?;
/// let v = embedder.embed(&EmbedInput::text("Turn off Night Shift"), None)?;
/// assert!((v.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5);
/// # Ok::<(), qwen3_vl_embedder::EmbedError>(())
/// ```
pub struct Embedder {
    model: Qwen3VlModel,
    tokenizer: PromptTokenizer,
    options: EmbedderOptions,
    prefixes: PrefixReuse,
}

impl Embedder {
    /// Loads `config.json`, `tokenizer.json` and the safetensors weights of a model directory.
    #[cfg(not(target_family = "wasm"))]
    pub fn from_dir(dir: &std::path::Path, device: &Device, options: EmbedderOptions) -> Result<Self> {
        Self::from_dir_with_progress(dir, device, options, |_| {})
    }

    /// [`Self::from_dir`], reporting bytes of weights loaded after every tensor (for a
    /// progress bar: the 2B model is 4.3 GB).
    #[cfg(not(target_family = "wasm"))]
    pub fn from_dir_with_progress(
        dir: &std::path::Path,
        device: &Device,
        options: EmbedderOptions,
        progress: impl qwen3_vl_model::ProgressFn + 'static,
    ) -> Result<Self> {
        let files = ModelFiles::read_dir(dir)?;
        let checkpoint = files.checkpoint.with_progress(progress);
        Self::from_parts(&files.config_json, &files.tokenizer_json, &checkpoint, device, options)
    }

    /// Builds an embedder from a config's text, tokenizer bytes and opened weights (the
    /// browser path, where files arrive as buffers).
    pub fn from_parts(
        config_json: &str,
        tokenizer_json: &[u8],
        checkpoint: &Checkpoint,
        device: &Device,
        options: EmbedderOptions,
    ) -> Result<Self> {
        let config = Qwen3VlConfig::from_json_str(config_json)?;
        crate::prepare::check_patch_geometry(&config)?;
        let (tokenizer, model) = load_both(
            || PromptTokenizer::from_bytes(tokenizer_json),
            || Qwen3VlModel::load(checkpoint, config, device, options.dtype),
        );
        let (tokenizer, model) = (tokenizer?, model?);
        let prefixes = PrefixReuse::new(options.reuse_prefix);
        Ok(Self { model, tokenizer, options, prefixes })
    }

    /// The full embedding width (the decoder's hidden size).
    pub fn hidden_size(&self) -> usize {
        self.model.config().text.hidden_size
    }

    /// The loaded model, for callers that need it directly (its config, device or forward pass).
    pub fn model(&self) -> &Qwen3VlModel {
        &self.model
    }

    /// How many instruction prefixes the embedder holds ([`EmbedderOptions::reuse_prefix`]).
    pub fn cached_prefixes(&self) -> usize {
        self.prefixes.len()
    }

    /// Tokens, patches and grids for a batch, exactly as the model will see them.
    pub fn prepare(&self, inputs: &[EmbedInput]) -> Result<ModelInput> {
        let mut batch = ModelInput::default();
        for input in inputs {
            append(&mut batch, self.prepare_one(input)?)?;
        }
        Ok(batch)
    }

    /// One input's tokens and resized images.
    fn prepare_one(&self, input: &EmbedInput) -> Result<PendingInput> {
        if input.is_empty() {
            return Err(EmbedError::EmptyInput);
        }
        let instruction = normalize_instruction(input.instruction.as_deref());
        let images =
            input.images.iter().map(|bytes| resize_image(bytes, &self.options.image)).collect::<Result<Vec<_>, _>>()?;
        let counts: Vec<usize> = images.iter().map(ResizedImage::num_tokens).collect();
        let text = input.text.as_deref().filter(|t| !t.is_empty());
        let prompt = render_prompt(&instruction, input.images.len(), text);
        Ok(PendingInput { row: self.tokenizer.encode(&prompt, &counts, self.options.max_length)?, images })
    }

    /// Embeds a batch, at most `batch_size` inputs and `max_batch_tokens` padded tokens per
    /// forward pass. Each vector is truncated to `dim` (default: full width) and
    /// L2-normalised; vectors come back in input order.
    ///
    /// Rows of one forward pass are padded to the longest, so inputs are grouped by length
    /// first: a window of up to [`SORT_WINDOW`] batches is prepared, sorted by token count and
    /// cut into batches under both bounds. A short text query then never waits behind a
    /// screenshot's thousand image tokens, and the window bounds how many prepared images are
    /// held at once.
    pub async fn embed_batch_async(&self, inputs: &[EmbedInput], dim: Option<usize>) -> Result<Vec<Vec<f32>>> {
        let hidden = self.hidden_size();
        let dim = dim.unwrap_or(hidden);
        if dim == 0 || dim > hidden {
            return Err(EmbedError::BadDimension { dim, max: hidden });
        }
        let batch_size = self.options.batch_size.max(1);
        let mut out = Vec::with_capacity(inputs.len());
        for window in inputs.chunks(batch_size * SORT_WINDOW) {
            let mut prepared = window.iter().map(|input| self.prepare_one(input)).collect::<Result<Vec<_>>>()?;
            let mut order: Vec<usize> = (0..prepared.len()).collect();
            order.sort_by_key(|&i| prepared[i].row.len());
            let lengths: Vec<usize> = order.iter().map(|&i| prepared[i].row.len()).collect();
            let mut vectors = vec![Vec::new(); window.len()];
            for range in cut_batches(&lengths, batch_size, self.options.max_batch_tokens) {
                let group = &order[range];
                let mut batch = ModelInput::default();
                for &i in group {
                    append(&mut batch, std::mem::take(&mut prepared[i]))?;
                }
                let pooled = read_f32(self.prefixes.forward(&self.model, batch)?.pooled).await?;
                for (&i, row) in group.iter().zip(pooled.chunks_exact(hidden)) {
                    // The raw prefix is checked too: a NaN can hide in it while a huge norm
                    // turns the normalised vector into zeros.
                    let unit = truncate_and_normalize(row, dim);
                    if let Some(problem) = embedding_problem(&row[..dim]).or_else(|| embedding_problem(&unit)) {
                        return Err(EmbedError::BadEmbedding { input: window[i].describe(), problem: problem.into() });
                    }
                    vectors[i] = unit;
                }
            }
            out.extend(vectors);
        }
        Ok(out)
    }

    /// Embeds one input.
    pub async fn embed_async(&self, input: &EmbedInput, dim: Option<usize>) -> Result<Vec<f32>> {
        let mut v = self.embed_batch_async(std::slice::from_ref(input), dim).await?;
        Ok(v.pop().expect("one input gives one vector"))
    }

    /// Blocking [`Self::embed_batch_async`] (native only).
    #[cfg(not(target_family = "wasm"))]
    pub fn embed_batch(&self, inputs: &[EmbedInput], dim: Option<usize>) -> Result<Vec<Vec<f32>>> {
        pollster::block_on(self.embed_batch_async(inputs, dim))
    }

    /// Blocking [`Self::embed_async`] (native only).
    #[cfg(not(target_family = "wasm"))]
    pub fn embed(&self, input: &EmbedInput, dim: Option<usize>) -> Result<Vec<f32>> {
        pollster::block_on(self.embed_async(input, dim))
    }
}
