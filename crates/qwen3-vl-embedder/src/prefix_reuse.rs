//! The system turn computed once. Every input with the same instruction begins with the same
//! tokens (`<|im_start|>system\n{instruction}<|im_end|>\n<|im_start|>`) at the same positions,
//! and the decoder is causal, so those positions' keys and values never depend on what follows:
//! the first batch keeps them (at no extra cost), later batches run only the tokens after them.
//! Keyed by the prefix's token ids, which spell the instruction; the model and its precision
//! are the embedder's own.

use std::sync::{Arc, Mutex};

use qwen3_vl_constants::special_tokens::IM_START;
use qwen3_vl_model::{ModelInput, ModelOutput, PrefixCache, Qwen3VlModel};

use crate::error::Result;

/// Instructions whose prefixes are kept (the oldest goes first); an instruction prefix of the
/// 2B is ~15 tokens x 28 layers of keys and values, about 3 MiB.
const KEPT: usize = 8;

/// The prefixes seen so far, or none when reuse is off.
pub(crate) struct PrefixReuse {
    enabled: bool,
    cached: Mutex<Vec<Arc<PrefixCache>>>,
}

impl PrefixReuse {
    /// Reuse on (`enabled`) or off (every batch runs whole).
    pub(crate) fn new(enabled: bool) -> Self {
        Self { enabled, cached: Mutex::default() }
    }

    /// How many prefixes are held.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Runs `batch`, after a cached prefix when its rows share one, keeping a new one.
    pub(crate) fn forward(&self, model: &Qwen3VlModel, batch: ModelInput) -> Result<ModelOutput> {
        let Some(prefix) = self.enabled.then(|| shared_prefix(&batch.rows).map(<[u32]>::to_vec)).flatten() else {
            return Ok(model.forward(batch)?);
        };
        let found = self.lock().iter().find(|c| c.tokens() == prefix.as_slice()).cloned();
        if let Some(cache) = found {
            return Ok(model.forward_after_prefix(batch, &cache)?);
        }
        let (output, cache) = model.forward_keeping_prefix(batch, prefix.len())?;
        let mut cached = self.lock();
        if cached.len() == KEPT {
            cached.remove(0);
        }
        cached.push(Arc::new(cache));
        Ok(output)
    }

    /// The list; a panic elsewhere while it was held leaves it usable (it only caches).
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<PrefixCache>>> {
        self.cached.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The first row's tokens up to and including the user turn's `<|im_start|>` (the prompt's
/// second), when every row begins with them and goes on after them; `None` otherwise (rows
/// with different instructions in one batch run whole).
fn shared_prefix(rows: &[Vec<u32>]) -> Option<&[u32]> {
    let first = rows.first()?;
    let user_turn = first.iter().enumerate().filter(|&(_, &t)| t == IM_START).nth(1)?.0;
    let prefix = &first[..=user_turn];
    rows.iter().all(|r| r.len() > prefix.len() && r.starts_with(prefix)).then_some(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_ends_at_the_user_turn_and_every_row_must_share_it() {
        let row = |tail: &[u32]| [&[IM_START, 1, 2, 3, IM_START][..], tail].concat();
        let (a, b) = (row(&[7, 8]), row(&[9]));
        assert_eq!(shared_prefix(&[a.clone(), b.clone()]), Some(&a[..5]));
        // Another instruction, a row that ends with the prefix, a prompt with one turn.
        let other = [IM_START, 1, 4, 3, IM_START, 7].to_vec();
        assert_eq!(shared_prefix(&[a.clone(), other]), None);
        assert_eq!(shared_prefix(&[a.clone(), a[..5].to_vec()]), None);
        assert_eq!(shared_prefix(&[vec![IM_START, 1, 2]]), None);
        assert_eq!(shared_prefix(&[]), None);
    }
}
