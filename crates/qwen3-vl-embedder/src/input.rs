//! What a user asks to embed.

/// One item to embed: text, images, or both, with an optional instruction.
///
/// Images are encoded bytes (PNG, JPEG, WebP, GIF). Several images are allowed; they are
/// placed before the text, as the reference does whatever the order given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmbedInput {
    /// The text, if any. With no images, whitespace-only text is an empty input.
    pub text: Option<String>,
    /// Encoded image files, in the order they appear in the prompt.
    pub images: Vec<Vec<u8>>,
    /// Task instruction for the system turn; `None` means "Represent the user's input."
    pub instruction: Option<String>,
}

impl EmbedInput {
    /// Text only.
    pub fn text(text: impl Into<String>) -> Self {
        Self { text: Some(text.into()), ..Self::default() }
    }

    /// One image only, as encoded bytes.
    pub fn image(bytes: Vec<u8>) -> Self {
        Self { images: vec![bytes], ..Self::default() }
    }

    /// Adds an instruction.
    pub fn with_instruction(mut self, instruction: impl Into<String>) -> Self {
        self.instruction = Some(instruction.into());
        self
    }

    /// Adds an image.
    pub fn with_image(mut self, bytes: Vec<u8>) -> Self {
        self.images.push(bytes);
        self
    }

    /// A short description for error messages: the start of the text and the image count.
    pub fn describe(&self) -> String {
        let text = self.text.as_deref().unwrap_or("").trim();
        let mut shown: String = text.chars().take(40).collect();
        if shown.len() < text.len() {
            shown.push_str("...");
        }
        match (text.is_empty(), self.images.len()) {
            (false, 0) => format!("text {shown:?}"),
            (true, n) => format!("{n} image(s)"),
            (false, n) => format!("text {shown:?} with {n} image(s)"),
        }
    }

    /// True when there is nothing to embed: no image and no non-whitespace text.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty() && self.text.as_deref().is_none_or(|t| t.trim().is_empty())
    }
}

/// Reads an image file for embedding, bounded: at most
/// [`MAX_IMAGE_FILE_BYTES`](qwen3_vl_preprocess::image::MAX_IMAGE_FILE_BYTES), regular files
/// only (see [`qwen3_vl_preprocess::image::read_image_file`]). Every image path the CLI and
/// the demo retriever take is read through it.
#[cfg(not(target_arch = "wasm32"))]
pub fn read_image(path: &std::path::Path) -> crate::Result<Vec<u8>> {
    use qwen3_vl_preprocess::image::{MAX_IMAGE_FILE_BYTES, read_image_file};
    Ok(read_image_file(path, MAX_IMAGE_FILE_BYTES)?)
}
