//! The one error type of this crate. Every message says what was expected and what was found,
//! because these errors end up in front of users who only see the text.

/// Everything that can go wrong between user input bytes and model inputs.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    /// `tokenizer.json` could not be read or parsed, or encoding failed inside `tokenizers`.
    #[error("tokenizer error: {0}")]
    Tokenizer(String),

    /// The tokenizer does not know a token this crate relies on (wrong `tokenizer.json`).
    #[error("tokenizer has no token {token:?} with id {expected_id}; found {found:?}")]
    MissingSpecialToken {
        token: &'static str,
        expected_id: u32,
        found: Option<u32>,
    },

    /// The prompt holds a different number of `<|image_pad|>` tokens than images were given.
    #[error(
        "prompt holds {found} <|image_pad|> tokens but {expected} image token counts were given"
    )]
    ImagePadCountMismatch { expected: usize, found: usize },

    /// `max_length` cannot hold even the appended `<|endoftext|>`.
    #[error("max_length must be at least 1 (room for <|endoftext|>), got {0}")]
    InvalidMaxLength(usize),

    /// Truncating to `max_length` would cut image placeholder tokens, which the reference
    /// rejects with a token-count mismatch; we say so up front instead.
    #[error(
        "prompt is {length} tokens (with <|endoftext|>), longer than max_length {max_length}, \
         and truncation would cut image tokens (the last one is at index {last_image_token})"
    )]
    TruncatesImageTokens {
        length: usize,
        max_length: usize,
        last_image_token: usize,
    },

    /// Zero input bytes.
    #[error("image data is empty (0 bytes)")]
    EmptyImage,

    /// The bytes start with no signature we decode.
    #[error("unsupported image format: expected PNG, JPEG, WebP or GIF, found leading bytes {0}")]
    UnsupportedFormat(String),

    /// The decoder rejected the data (truncated, corrupt, unsupported variant).
    #[error("could not decode {format} image: {message}")]
    Decode {
        format: &'static str,
        message: String,
    },

    /// The header announces a size beyond the configured limits (decompression-bomb guard).
    #[error("image is {width}x{height}, larger than the {max_width}x{max_height} limit")]
    TooLarge {
        width: u32,
        height: u32,
        max_width: u32,
        max_height: u32,
    },

    /// Decoding would need more memory than allowed.
    #[error(
        "decoding a {width}x{height} image needs {needed} bytes, more than the {limit}-byte limit"
    )]
    AllocationTooLarge {
        width: u32,
        height: u32,
        needed: u64,
        limit: u64,
    },

    /// An image with a zero side cannot be resized or patchified.
    #[error("image is {width}x{height}; both sides must be at least 1 pixel")]
    EmptyDimensions { width: u32, height: u32 },

    /// `smart_resize` refuses aspect ratios above 200, like qwen_vl_utils.
    #[error(
        "absolute aspect ratio must be at most 200, got {ratio} for a {height}x{width} (HxW) image"
    )]
    AspectRatio { height: u32, width: u32, ratio: f64 },

    /// `min_pixels > max_pixels`, or a factor of 0.
    #[error(
        "invalid pixel budget: expected factor >= 1 and min_pixels <= max_pixels, got factor {factor}, min_pixels {min_pixels}, max_pixels {max_pixels}"
    )]
    InvalidBudget {
        factor: u32,
        min_pixels: u64,
        max_pixels: u64,
    },

    /// The budget shrank one side to zero (extreme aspect ratio with a small `max_pixels`).
    #[error(
        "smart_resize of a {height}x{width} (HxW) image gives {resized_height}x{resized_width}; both sides must be at least one patch"
    )]
    ResizedToNothing {
        height: u32,
        width: u32,
        resized_height: u32,
        resized_width: u32,
    },

    /// A prepared image must be a whole number of 32-pixel merge windows.
    #[error(
        "image is {width}x{height}; patchify expects both sides to be positive multiples of {factor}"
    )]
    NotPatchAligned {
        width: u32,
        height: u32,
        factor: u32,
    },

    /// Reading a file from disk failed (native only).
    #[error("cannot read {path}: {message}")]
    Io { path: String, message: String },
}
