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
        /// The token text.
        token: &'static str,
        /// The id this crate expects it to have.
        expected_id: u32,
        /// The id the tokenizer gives it, if it knows the token at all.
        found: Option<u32>,
    },

    /// The prompt holds a different number of `<|image_pad|>` tokens than images were given.
    #[error("prompt holds {found} <|image_pad|> tokens but {expected} image token counts were given")]
    ImagePadCountMismatch {
        /// Images (token counts) given.
        expected: usize,
        /// `<|image_pad|>` tokens in the prompt.
        found: usize,
    },

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
        /// Prompt length in tokens, `<|endoftext|>` included.
        length: usize,
        /// The limit, `<|endoftext|>` included.
        max_length: usize,
        /// Index of the last image token in the prompt.
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
        /// The format the signature named.
        format: &'static str,
        /// The decoder's own message.
        message: String,
    },

    /// The header announces a size beyond the configured limits (decompression-bomb guard).
    #[error("image is {width}x{height}, larger than the {max_width}x{max_height} limit")]
    TooLarge {
        /// Width the header announces, in pixels.
        width: u32,
        /// Height the header announces, in pixels.
        height: u32,
        /// The width limit.
        max_width: u32,
        /// The height limit.
        max_height: u32,
    },

    /// Decoding would need more memory than allowed.
    #[error("decoding a {width}x{height} image needs {needed} bytes, more than the {limit}-byte limit")]
    AllocationTooLarge {
        /// Image width in pixels.
        width: u32,
        /// Image height in pixels.
        height: u32,
        /// Bytes decoding would allocate.
        needed: u64,
        /// The allocation limit in bytes.
        limit: u64,
    },

    /// An image with a zero side cannot be resized or patchified.
    #[error("image is {width}x{height}; both sides must be at least 1 pixel")]
    EmptyDimensions {
        /// Image width in pixels.
        width: u32,
        /// Image height in pixels.
        height: u32,
    },

    /// `smart_resize` refuses aspect ratios above 200, like qwen_vl_utils.
    #[error("absolute aspect ratio must be at most 200, got {ratio} for a {height}x{width} (HxW) image")]
    AspectRatio {
        /// Image height in pixels.
        height: u32,
        /// Image width in pixels.
        width: u32,
        /// The longer side over the shorter.
        ratio: f64,
    },

    /// `min_pixels > max_pixels`, or a factor of 0.
    #[error(
        "invalid pixel budget: expected factor >= 1 and min_pixels <= max_pixels, got factor {factor}, min_pixels {min_pixels}, max_pixels {max_pixels}"
    )]
    InvalidBudget {
        /// The size both sides must be a multiple of.
        factor: u32,
        /// The lower pixel budget.
        min_pixels: u64,
        /// The upper pixel budget.
        max_pixels: u64,
    },

    /// The budget shrank one side to zero (extreme aspect ratio with a small `max_pixels`).
    #[error(
        "smart_resize of a {height}x{width} (HxW) image gives {resized_height}x{resized_width}; both sides must be at least one patch"
    )]
    ResizedToNothing {
        /// Input height in pixels.
        height: u32,
        /// Input width in pixels.
        width: u32,
        /// The height `smart_resize` computed.
        resized_height: u32,
        /// The width `smart_resize` computed.
        resized_width: u32,
    },

    /// A prepared image must be a whole number of 32-pixel merge windows.
    #[error("image is {width}x{height}; patchify expects both sides to be positive multiples of {factor}")]
    NotPatchAligned {
        /// Image width in pixels.
        width: u32,
        /// Image height in pixels.
        height: u32,
        /// The multiple both sides must be.
        factor: u32,
    },

    /// An image path names a directory, FIFO, socket or device: refused before it is opened.
    #[error("cannot read {path} as an image: it is {kind}, not a regular file")]
    NotARegularFile {
        /// The path given.
        path: String,
        /// What it is instead.
        kind: &'static str,
    },

    /// An image file larger than the limit (`image::MAX_IMAGE_FILE_BYTES`): refused unread.
    #[error("cannot read {path} as an image: it is {size} bytes, more than the {limit}-byte limit for an image file")]
    ImageFileTooLarge {
        /// The path given.
        path: String,
        /// Its size in bytes (at least `limit + 1` when it grew while being read).
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },

    /// Reading a file from disk failed (native only).
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file that could not be read.
        path: String,
        /// The I/O error's message.
        message: String,
    },
}
