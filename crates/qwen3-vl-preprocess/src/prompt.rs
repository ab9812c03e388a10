//! Instruction normalisation and the chat-template string the reference feeds its tokenizer
//! (Qwen3-VL-Embedding's `src/models/qwen3_vl_embedding.py`:
//! `Qwen3VLEmbedder.format_model_input`, rendered by `processor.apply_chat_template` in
//! `_preprocess_inputs`). Pure string work: the tokenizer only ever sees what this returns.

use unicode_general_category::{GeneralCategory, get_general_category};

/// The instruction `Qwen3VLEmbedder` uses when none is given.
pub const DEFAULT_INSTRUCTION: &str = "Represent the user's input.";

/// The text placed in the user turn when the input has neither text nor images.
pub const EMPTY_INPUT_TEXT: &str = "NULL";

/// The placeholder for one image in the user turn; the tokenizer step expands the pad.
pub const IMAGE_PLACEHOLDER: &str = "<|vision_start|><|image_pad|><|vision_end|>";

/// Applies the reference's instruction rule: no instruction (or only whitespace) means
/// [`DEFAULT_INSTRUCTION`]; otherwise strip surrounding whitespace and end it with `.` unless
/// its last character is punctuation (any `P*` general category, so `?`, `!`, `)`, `。` stay).
pub fn normalize_instruction(instruction: Option<&str>) -> String {
    let trimmed = instruction.map(|s| s.trim_matches(is_python_space)).unwrap_or("");
    let Some(last) = trimmed.chars().next_back() else {
        return DEFAULT_INSTRUCTION.to_owned();
    };
    if is_punctuation(last) { trimmed.to_owned() } else { format!("{trimmed}.") }
}

/// Python's `str.isspace()`: Unicode White_Space plus the four ASCII separators U+001C..U+001F,
/// which `str.strip()` also removes and Rust's `trim()` would keep.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// True for the seven `P*` categories, Python's `unicodedata.category(c).startswith("P")`.
fn is_punctuation(c: char) -> bool {
    matches!(
        get_general_category(c),
        GeneralCategory::ConnectorPunctuation
            | GeneralCategory::DashPunctuation
            | GeneralCategory::OpenPunctuation
            | GeneralCategory::ClosePunctuation
            | GeneralCategory::InitialPunctuation
            | GeneralCategory::FinalPunctuation
            | GeneralCategory::OtherPunctuation
    )
}

/// Renders the Qwen3-VL chat template for one embedding input: a system turn holding the
/// (already normalised) instruction, a user turn holding all images then the text, and the
/// generation prompt. With neither text nor image the user turn is `NULL`, like the reference.
/// An empty text counts as no text, as the reference's truthiness test (`if text:`) does.
pub fn render_prompt(instruction: &str, num_images: usize, text: Option<&str>) -> String {
    let user_text = match text.filter(|t| !t.is_empty()) {
        None if num_images == 0 => EMPTY_INPUT_TEXT,
        None => "",
        Some(t) => t,
    };
    let mut out =
        String::with_capacity(instruction.len() + user_text.len() + num_images * IMAGE_PLACEHOLDER.len() + 96);
    out.push_str("<|im_start|>system\n");
    out.push_str(instruction);
    out.push_str("<|im_end|>\n<|im_start|>user\n");
    for _ in 0..num_images {
        out.push_str(IMAGE_PLACEHOLDER);
    }
    out.push_str(user_text);
    out.push_str("<|im_end|>\n<|im_start|>assistant\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_blank_instruction_is_the_default() {
        assert_eq!(normalize_instruction(None), DEFAULT_INSTRUCTION);
        assert_eq!(normalize_instruction(Some("")), DEFAULT_INSTRUCTION);
        assert_eq!(normalize_instruction(Some(" \t\n\u{3000}")), DEFAULT_INSTRUCTION);
    }

    #[test]
    fn punctuation_ends_are_kept() {
        for s in ["Why?", "Stop!", "(see above)", "検索してください。", "a-", "«quote»", "x_"] {
            assert_eq!(normalize_instruction(Some(s)), s, "{s}");
        }
    }

    #[test]
    fn other_ends_get_a_period() {
        assert_eq!(normalize_instruction(Some("Pay in $")), "Pay in $.");
        assert_eq!(normalize_instruction(Some("Find cats 🐱")), "Find cats 🐱.");
        assert_eq!(normalize_instruction(Some("Find cats")), "Find cats.");
        assert_eq!(normalize_instruction(Some("x + 1 = 2")), "x + 1 = 2.");
    }

    #[test]
    fn surrounding_unicode_whitespace_is_stripped() {
        assert_eq!(normalize_instruction(Some("\u{3000} Find cats \u{a0}\n")), "Find cats.");
        assert_eq!(normalize_instruction(Some("\u{1f}Find cats\u{1c}")), "Find cats.");
    }

    #[test]
    fn text_only_prompt() {
        assert_eq!(
            render_prompt("Represent the user's input.", 0, Some("Turn off Night Shift")),
            "<|im_start|>system\nRepresent the user's input.<|im_end|>\n<|im_start|>user\n\
             Turn off Night Shift<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn images_come_before_text() {
        assert_eq!(
            render_prompt("I.", 2, Some("A dog.")),
            "<|im_start|>system\nI.<|im_end|>\n<|im_start|>user\n\
             <|vision_start|><|image_pad|><|vision_end|><|vision_start|><|image_pad|><|vision_end|>\
             A dog.<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn image_only_and_empty_inputs() {
        assert_eq!(
            render_prompt("I.", 1, None),
            "<|im_start|>system\nI.<|im_end|>\n<|im_start|>user\n\
             <|vision_start|><|image_pad|><|vision_end|><|im_end|>\n<|im_start|>assistant\n"
        );
        let null = "<|im_start|>system\nI.<|im_end|>\n<|im_start|>user\nNULL<|im_end|>\n<|im_start|>assistant\n";
        assert_eq!(render_prompt("I.", 0, None), null);
        assert_eq!(render_prompt("I.", 0, Some("")), null);
    }
}
