//! Ids of the Qwen2/Qwen3 special tokens this crate relies on (defined once, in
//! `qwen3-vl-constants`); [`crate::tokenize::PromptTokenizer`] checks them against the loaded
//! `tokenizer.json` so a wrong file fails at load time, not as wrong embeddings.

pub use qwen3_vl_constants::special_tokens::*;

/// The tokens checked at load time, with their text form.
pub(crate) const REQUIRED: [(&str, u32); 6] = [
    ("<|endoftext|>", ENDOFTEXT),
    ("<|im_start|>", IM_START),
    ("<|im_end|>", IM_END),
    ("<|vision_start|>", VISION_START),
    ("<|vision_end|>", VISION_END),
    ("<|image_pad|>", IMAGE_PAD),
];
