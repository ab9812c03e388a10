//! [`Reranker`]: Qwen3-VL-Reranker prompts (Qwen3-VL-Embedding's
//! `src/models/qwen3_vl_reranker.py`, `Qwen3VLReranker.format_mm_instruction`) scored by the
//! model's yes/no head (`qwen3_vl_model::reranker`).

use burn::tensor::{DType, Device};
use qwen3_vl_model::{Checkpoint, ModelInput, Qwen3VlConfig, Qwen3VlReranker};
use qwen3_vl_preprocess::PreprocessError;
use qwen3_vl_preprocess::image::ImageOptions;
use qwen3_vl_preprocess::prompt::IMAGE_PLACEHOLDER;
use qwen3_vl_preprocess::special_tokens::ENDOFTEXT;
use qwen3_vl_preprocess::tokenize::{PromptTokenizer, expand_image_pads};

use crate::error::Result;
use crate::input::EmbedInput;
#[cfg(not(target_family = "wasm"))]
use crate::model_files::ModelFiles;
use crate::prepare::push_images;

/// The reranker's fixed system text.
pub const RERANK_SYSTEM: &str = "Judge whether the Document meets the requirements based on the Query and the Instruct provided. Note that the answer can only be \"yes\" or \"no\".";
/// The instruction used when a query gives none. It gets no punctuation normalisation.
pub const RERANK_DEFAULT_INSTRUCTION: &str =
    "Given a search query, retrieve relevant candidates that answer the query.";
/// The reference's token budget for everything before the final 5 tokens.
pub const RERANK_MAX_LENGTH: usize = 10240;
/// `<|im_end|> \n <|im_start|> assistant \n`: the tail every prompt ends with, never cut.
const TAIL_TOKENS: usize = 5;
/// Qwen's added (special) tokens all have ids from `<|endoftext|>` up.
const FIRST_SPECIAL_ID: u32 = ENDOFTEXT;
/// (query, document) pairs per forward pass.
pub const PAIRS_PER_BATCH: usize = 4;

/// The user-turn items of one side: its images, then its text, or `NULL` when it has neither.
fn items(input: &EmbedInput) -> String {
    let mut out = IMAGE_PLACEHOLDER.repeat(input.images.len());
    match input.text.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => out.push_str(t),
        None if input.images.is_empty() => out.push_str("NULL"),
        None => {}
    }
    out
}

/// The chat-template rendering of one (query, document) pair, generation prompt included.
pub fn render_rerank_prompt(instruction: &str, query: &EmbedInput, document: &EmbedInput) -> String {
    format!(
        "<|im_start|>system\n{RERANK_SYSTEM}<|im_end|>\n<|im_start|>user\n<Instruct>: {instruction}<Query>:{}\n<Document>:{}<|im_end|>\n<|im_start|>assistant\n",
        items(query),
        items(document)
    )
}

/// The reference's truncation: the last 5 tokens stay; before them every special token
/// stays and ordinary tokens are kept, in order, until `max_length` tokens are reached.
pub fn truncate_rerank_ids(ids: &mut Vec<u32>, max_length: usize) {
    if ids.len() <= max_length + TAIL_TOKENS {
        return;
    }
    let tail = ids.split_off(ids.len() - TAIL_TOKENS);
    let specials = ids.iter().filter(|&&t| t >= FIRST_SPECIAL_ID).count();
    let mut ordinary_left = max_length.saturating_sub(specials);
    ids.retain(|&t| {
        if t >= FIRST_SPECIAL_ID {
            return true;
        }
        let keep = ordinary_left > 0;
        ordinary_left = ordinary_left.saturating_sub(1);
        keep
    });
    ids.extend(tail);
}

/// A loaded Qwen3-VL-Reranker with its tokenizer: scores (query, document) pairs in `[0, 1]`.
///
/// ```no_run
/// use qwen3_vl_embedder::{DeviceChoice, EmbedInput, Reranker, start_device};
///
/// let device = start_device(DeviceChoice::Cpu)?;
/// let reranker = Reranker::from_dir("tests/fixtures/reranker/tiny-reranker".as_ref(), &device.device)?;
/// let scores = reranker.score(None, &EmbedInput::text("Turn off Night Shift"), &[EmbedInput::text("Display settings")])?;
/// assert!((0.0..=1.0).contains(&scores[0]));
/// # Ok::<(), qwen3_vl_embedder::EmbedError>(())
/// ```
pub struct Reranker {
    reranker: Qwen3VlReranker,
    tokenizer: PromptTokenizer,
    image: ImageOptions,
}

impl Reranker {
    /// Loads `config.json`, `tokenizer.json` and the weights of a reranker directory (f32).
    #[cfg(not(target_family = "wasm"))]
    pub fn from_dir(dir: &std::path::Path, device: &Device) -> Result<Self> {
        let files = ModelFiles::read_dir(dir)?;
        Self::from_parts(&files.config_json, &files.tokenizer_json, &files.checkpoint, device)
    }

    /// Builds a reranker from a config's text, tokenizer bytes and opened weights.
    pub fn from_parts(
        config_json: &str,
        tokenizer_json: &[u8],
        checkpoint: &Checkpoint,
        device: &Device,
    ) -> Result<Self> {
        let tokenizer = PromptTokenizer::from_bytes(tokenizer_json)?;
        let config = Qwen3VlConfig::from_json_str(config_json)?;
        crate::prepare::check_patch_geometry(&config)?;
        let reranker = Qwen3VlReranker::load(checkpoint, config, device, DType::F32)?;
        Ok(Self { reranker, tokenizer, image: ImageOptions::default() })
    }

    /// Token ids, patches and grids of one pair, as the model sees them (no EOS), appended to
    /// `batch`.
    pub fn prepare(
        &self,
        instruction: &str,
        query: &EmbedInput,
        document: &EmbedInput,
        batch: &mut ModelInput,
    ) -> Result<()> {
        let prompt = render_rerank_prompt(instruction, query, document);
        let counts = push_images(query.images.iter().chain(&document.images), &self.image, batch)?;
        let encoding =
            self.tokenizer.inner().encode(prompt, true).map_err(|e| PreprocessError::Tokenizer(e.to_string()))?;
        let mut ids = encoding.get_ids().to_vec();
        if self.tokenizer.appends_eos() {
            ids.pop();
        }
        let mut ids = expand_image_pads(&ids, &counts)?;
        truncate_rerank_ids(&mut ids, RERANK_MAX_LENGTH);
        batch.rows.push(ids);
        Ok(())
    }

    /// Scores each document against the query, [`PAIRS_PER_BATCH`] pairs per forward pass.
    /// An empty or missing instruction uses [`RERANK_DEFAULT_INSTRUCTION`].
    pub async fn score_async(
        &self,
        instruction: Option<&str>,
        query: &EmbedInput,
        documents: &[EmbedInput],
    ) -> Result<Vec<f32>> {
        let instruction = instruction.filter(|i| !i.trim().is_empty()).unwrap_or(RERANK_DEFAULT_INSTRUCTION);
        let mut scores = Vec::with_capacity(documents.len());
        for chunk in documents.chunks(PAIRS_PER_BATCH) {
            let mut batch = ModelInput::default();
            for doc in chunk {
                self.prepare(instruction, query, doc, &mut batch)?;
            }
            scores.extend(self.reranker.score_async(batch).await?);
        }
        Ok(scores)
    }

    /// Blocking [`Self::score_async`] (native only).
    #[cfg(not(target_family = "wasm"))]
    pub fn score(&self, instruction: Option<&str>, query: &EmbedInput, documents: &[EmbedInput]) -> Result<Vec<f32>> {
        pollster::block_on(self.score_async(instruction, query, documents))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_follow_the_reference_template() {
        let q = EmbedInput::text("Turn off Night Shift");
        let d = EmbedInput::image(vec![1]).with_instruction("ignored");
        let p = render_rerank_prompt("Find it", &q, &d);
        assert!(p.ends_with("<|im_start|>user\n<Instruct>: Find it<Query>:Turn off Night Shift\n<Document>:<|vision_start|><|image_pad|><|vision_end|><|im_end|>\n<|im_start|>assistant\n"), "{p}");
        assert!(render_rerank_prompt("x", &EmbedInput::default(), &q).contains("<Query>:NULL\n<Document>:Turn"));
    }

    #[test]
    fn truncation_keeps_specials_and_the_tail() {
        let mut ids: Vec<u32> = vec![151644, 1, 2, 151655, 3, 4, 151645, 198, 151644, 77091, 198];
        truncate_rerank_ids(&mut ids, 4);
        assert_eq!(ids, [151644, 1, 2, 151655, 151645, 198, 151644, 77091, 198]);
        let mut short = vec![1, 2, 3];
        truncate_rerank_ids(&mut short, 4);
        assert_eq!(short, [1, 2, 3]);
    }
}
