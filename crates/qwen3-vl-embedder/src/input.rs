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

    /// True when there is nothing to embed: no image and no non-whitespace text.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty() && self.text.as_deref().is_none_or(|t| t.trim().is_empty())
    }
}
