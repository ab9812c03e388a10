//! Everything between user input bytes and the model's integer/float inputs for
//! Qwen3-VL-Embedding, reproducing Hugging Face transformers + qwen_vl_utils + Pillow exactly:
//!
//! * [`prompt`]: instruction rule and chat-template string;
//! * [`tokenize`]: prompt -> ids with image placeholders expanded and `<|endoftext|>` appended;
//! * [`image`]: bytes -> RGB -> `smart_resize` -> Pillow bicubic -> `pixel_values` rows.
//!
//! No tensor library here: outputs are plain `Vec`s, so this crate builds for wasm32 and its
//! tests run without a model.

#![warn(missing_docs)]

pub mod error;
pub mod image;
pub mod prompt;
pub mod special_tokens;
pub mod tokenize;

pub use error::PreprocessError;
