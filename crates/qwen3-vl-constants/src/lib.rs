//! The numbers the preprocessor (`qwen3-vl-preprocess`) and the model (`qwen3-vl-model`) must
//! agree on, defined once: the Qwen2/Qwen3 special token ids and the image patch geometry.
//! Neither crate depends on the other; both depend on this one (no dependencies of its own).

#![warn(missing_docs)]

/// Ids of the Qwen2/Qwen3 special tokens: the `added_tokens` of the checkpoints'
/// `tokenizer.json`; the vision ids are also the defaults of `Qwen3VLConfig` in transformers
/// (`models/qwen3_vl/configuration_qwen3_vl.py`). They are fixed across every Qwen3-VL
/// checkpoint; the preprocessor checks them against the loaded `tokenizer.json`, so a wrong
/// file fails at load time, not as wrong embeddings.
pub mod special_tokens {
    /// `<|endoftext|>`: appended to every prompt; its hidden state is the embedding. Also the
    /// id batches are right-padded with.
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
}

/// How an image is cut into patches (`Qwen2VLImageProcessorFast` in transformers,
/// `models/qwen2_vl/image_processing_qwen2_vl_fast.py`, with Qwen3-VL's preprocessor config;
/// `vision_config` in `config.json` says the same to the model).
pub mod patch_geometry {
    /// Side of a square patch, in pixels.
    pub const PATCH_SIZE: usize = 16;
    /// Patches merged per side into one LLM token.
    pub const MERGE_SIZE: usize = 2;
    /// Frames per temporal patch; a still image is repeated to fill them.
    pub const TEMPORAL_PATCH_SIZE: usize = 2;
    /// Colour channels.
    pub const CHANNELS: usize = 3;
    /// Image sides are resized to multiples of this: one merged token's side in pixels.
    pub const FACTOR: u32 = (PATCH_SIZE * MERGE_SIZE) as u32;
    /// Values in one row of `pixel_values`: 3 channels x 2 frames x 16 x 16.
    pub const PATCH_DIM: usize = CHANNELS * TEMPORAL_PATCH_SIZE * PATCH_SIZE * PATCH_SIZE;
}
