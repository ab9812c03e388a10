//! Prompt string -> token ids, exactly as the reference processor produces them: encode with
//! special tokens, expand each `<|image_pad|>` to its image's token count, make sure the prompt
//! ends in `<|endoftext|>`, and truncate the way `tokenizers` does with `truncation=True`.

use tokenizers::Tokenizer;

use crate::error::PreprocessError;
use crate::special_tokens::{ENDOFTEXT, IMAGE_PAD, REQUIRED};

/// A loaded `tokenizer.json` plus what we learnt about its post-processor.
pub struct PromptTokenizer {
    inner: Tokenizer,
    appends_eos: bool,
}

impl std::fmt::Debug for PromptTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptTokenizer").field("appends_eos", &self.appends_eos).finish()
    }
}

impl PromptTokenizer {
    /// Reads `tokenizer.json` from disk.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self, PreprocessError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|e| PreprocessError::Io { path: path.display().to_string(), message: e.to_string() })?;
        Self::from_bytes(&bytes)
    }

    /// Parses `tokenizer.json` bytes (the only constructor on wasm32).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PreprocessError> {
        let mut inner = Tokenizer::from_bytes(bytes).map_err(|e| PreprocessError::Tokenizer(e.to_string()))?;
        // The reference passes its own truncation/padding per call, overriding the file's;
        // we truncate ourselves and the embedder pads.
        inner.with_padding(None);
        inner.with_truncation(None).map_err(|e| PreprocessError::Tokenizer(e.to_string()))?;
        for (token, expected_id) in REQUIRED {
            let found = inner.token_to_id(token);
            if found != Some(expected_id) {
                return Err(PreprocessError::MissingSpecialToken { token, expected_id, found });
            }
        }
        let appends_eos = detect_eos_append(&inner)?;
        Ok(Self { inner, appends_eos })
    }

    /// Whether the file's post-processor appends `<|endoftext|>` itself (the embedding
    /// checkpoint's does; a plain Qwen3-VL-Instruct tokenizer does not).
    pub fn appends_eos(&self) -> bool {
        self.appends_eos
    }

    /// The underlying `tokenizers` object, for callers that need more than prompts.
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }

    /// Encodes a rendered prompt into final model input ids.
    ///
    /// The k-th `<|image_pad|>` becomes `image_token_counts[k]` copies. The result always ends
    /// in `<|endoftext|>`. Over `max_length`, the first `max_length - 1` tokens plus the EOS
    /// are kept, as `tokenizers` does when the post-processor reserves room for the EOS; a cut
    /// that would drop image tokens is an error instead (the reference fails there too).
    pub fn encode(
        &self,
        prompt: &str,
        image_token_counts: &[usize],
        max_length: usize,
    ) -> Result<Vec<u32>, PreprocessError> {
        if max_length == 0 {
            return Err(PreprocessError::InvalidMaxLength(max_length));
        }
        let encoding = self.inner.encode(prompt, true).map_err(|e| PreprocessError::Tokenizer(e.to_string()))?;
        let mut ids = encoding.get_ids().to_vec();
        if self.appends_eos {
            // Set aside the post-processor's EOS so truncation can put it back at the end.
            ids.pop();
        }
        let mut ids = expand_image_pads(&ids, image_token_counts)?;
        truncate_keeping_images(&mut ids, max_length - 1)?;
        ids.push(ENDOFTEXT);
        Ok(ids)
    }
}

/// Encodes a probe with and without special tokens: the post-processor appends the EOS iff
/// the first ends in it and is exactly one token longer.
fn detect_eos_append(tokenizer: &Tokenizer) -> Result<bool, PreprocessError> {
    let probe = "a";
    let encode = |special| {
        tokenizer
            .encode(probe, special)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| PreprocessError::Tokenizer(e.to_string()))
    };
    let with = encode(true)?;
    let without = encode(false)?;
    Ok(with.len() == without.len() + 1 && with.last() == Some(&ENDOFTEXT) && with[..without.len()] == without[..])
}

/// Replaces the k-th `<|image_pad|>` with `counts[k]` copies of itself.
pub fn expand_image_pads(ids: &[u32], counts: &[usize]) -> Result<Vec<u32>, PreprocessError> {
    let found = ids.iter().filter(|&&id| id == IMAGE_PAD).count();
    if found != counts.len() {
        return Err(PreprocessError::ImagePadCountMismatch { expected: counts.len(), found });
    }
    let mut out = Vec::with_capacity(ids.len() - found + counts.iter().sum::<usize>());
    let mut counts = counts.iter();
    for &id in ids {
        if id == IMAGE_PAD {
            let n = counts.next().copied().unwrap_or(0);
            out.extend(std::iter::repeat_n(IMAGE_PAD, n));
        } else {
            out.push(id);
        }
    }
    Ok(out)
}

/// Keeps the first `keep` ids; errors rather than dropping any image token. The reported
/// length and limit count the EOS that the caller appends afterwards.
fn truncate_keeping_images(ids: &mut Vec<u32>, keep: usize) -> Result<(), PreprocessError> {
    if ids.len() <= keep {
        return Ok(());
    }
    if let Some(last_image_token) = ids.iter().rposition(|&id| id == IMAGE_PAD)
        && last_image_token >= keep
    {
        return Err(PreprocessError::TruncatesImageTokens {
            length: ids.len() + 1,
            max_length: keep + 1,
            last_image_token,
        });
    }
    ids.truncate(keep);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_expand_in_order() {
        let ids = [1, IMAGE_PAD, 2, IMAGE_PAD, 3];
        let out = expand_image_pads(&ids, &[2, 3]).unwrap();
        assert_eq!(out, [1, IMAGE_PAD, IMAGE_PAD, 2, IMAGE_PAD, IMAGE_PAD, IMAGE_PAD, 3]);
    }

    #[test]
    fn pad_count_must_match() {
        let err = expand_image_pads(&[IMAGE_PAD, IMAGE_PAD], &[4]).unwrap_err();
        assert!(matches!(err, PreprocessError::ImagePadCountMismatch { expected: 1, found: 2 }));
        let err = expand_image_pads(&[1, 2], &[4]).unwrap_err();
        assert!(matches!(err, PreprocessError::ImagePadCountMismatch { expected: 1, found: 0 }));
    }

    #[test]
    fn truncation_keeps_prefix() {
        let mut ids = vec![1, 2, 3, 4, 5];
        truncate_keeping_images(&mut ids, 3).unwrap();
        assert_eq!(ids, [1, 2, 3]);
        let mut ids = vec![1, IMAGE_PAD, 3, 4, 5];
        truncate_keeping_images(&mut ids, 2).unwrap();
        assert_eq!(ids, [1, IMAGE_PAD]);
    }

    #[test]
    fn truncation_refuses_to_cut_images() {
        let mut ids = vec![1, IMAGE_PAD, IMAGE_PAD, 4];
        let err = truncate_keeping_images(&mut ids, 2).unwrap_err();
        assert!(matches!(err, PreprocessError::TruncatesImageTokens { length: 5, max_length: 3, last_image_token: 2 }));
    }
}
