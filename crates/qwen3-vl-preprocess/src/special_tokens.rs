//! Ids of the Qwen2/Qwen3 special tokens this crate relies on: the `added_tokens` of the
//! checkpoints' `tokenizer.json`; the vision ids are also the defaults of `Qwen3VLConfig` in
//! transformers (`models/qwen3_vl/configuration_qwen3_vl.py`). They are fixed across
//! every Qwen3-VL checkpoint; [`crate::tokenize::PromptTokenizer`] checks them against the
//! loaded `tokenizer.json` so a wrong file fails at load time, not as wrong embeddings.

/// `<|endoftext|>`: appended to every prompt; its hidden state is the embedding. Also the pad id.
pub const ENDOFTEXT: u32 = 151643;
/// `<|im_start|>`
pub const IM_START: u32 = 151644;
/// `<|im_end|>`
pub const IM_END: u32 = 151645;
/// `<|vision_start|>`
pub const VISION_START: u32 = 151652;
/// `<|vision_end|>`
pub const VISION_END: u32 = 151653;
/// `<|image_pad|>`: one per merged vision token after expansion.
pub const IMAGE_PAD: u32 = 151655;
/// `<|video_pad|>`
pub const VIDEO_PAD: u32 = 151656;

/// The tokens checked at load time, with their text form.
pub(crate) const REQUIRED: [(&str, u32); 6] = [
    ("<|endoftext|>", ENDOFTEXT),
    ("<|im_start|>", IM_START),
    ("<|im_end|>", IM_END),
    ("<|vision_start|>", VISION_START),
    ("<|vision_end|>", VISION_END),
    ("<|image_pad|>", IMAGE_PAD),
];
