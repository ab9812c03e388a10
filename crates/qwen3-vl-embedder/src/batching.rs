//! Cutting length-sorted inputs into forward passes, bounded by inputs and by padded tokens.

use std::ops::Range;

/// Cuts inputs, sorted by token count (shortest first), into consecutive batches of at most
/// `batch_size` inputs whose padded size (inputs x the longest, which is the last one) is at
/// most `max_tokens`. An input longer than `max_tokens` runs alone.
///
/// Why tokens and not only inputs: a forward pass's activations grow with its padded tokens.
/// Eight 640x400 screenshots are 2100 tokens, and their decoder activations and DeepStack
/// levels were most of the 2B's peak over its weights (`heaptrack`, benches/model/README.md,
/// 2026-12-06, third session); eight 32-token queries are 256.
pub(crate) fn cut_batches(sorted_lengths: &[usize], batch_size: usize, max_tokens: usize) -> Vec<Range<usize>> {
    debug_assert!(sorted_lengths.is_sorted(), "lengths must be sorted");
    let batch_size = batch_size.max(1);
    let mut batches = Vec::new();
    let mut start = 0;
    for (i, &len) in sorted_lengths.iter().enumerate() {
        let size = i - start;
        if size > 0 && (size == batch_size || (size + 1).saturating_mul(len) > max_tokens) {
            batches.push(start..i);
            start = i;
        }
    }
    if start < sorted_lengths.len() {
        batches.push(start..sorted_lengths.len());
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::cut_batches;

    /// The rule written the slow way: grow each batch one input at a time while both bounds hold.
    fn brute_force(lengths: &[usize], batch_size: usize, max_tokens: usize) -> Vec<std::ops::Range<usize>> {
        let mut out = Vec::new();
        let mut start = 0;
        while start < lengths.len() {
            let mut end = start + 1;
            while end < lengths.len() && end - start < batch_size && (end + 1 - start) * lengths[end] <= max_tokens {
                end += 1;
            }
            out.push(start..end);
            start = end;
        }
        out
    }

    #[test]
    fn batches_respect_both_bounds_and_cover_every_input_once() {
        let cases: [(&[usize], usize, usize); 6] = [
            (&[], 8, 1024),
            (&[32; 20], 8, 1024),                       // count-bound: 8, 8, 4
            (&[262; 16], 8, 1024),                      // token-bound: 3 per batch
            (&[20, 30, 262, 262, 1010, 4100], 8, 1024), // a long input runs alone
            (&[5, 6, 7, 8, 9, 10, 11, 12, 13], 4, 30),
            (&[1, 1, 1], 0, 1024), // batch_size 0 means 1
        ];
        for (lengths, batch_size, max_tokens) in cases {
            let got = cut_batches(lengths, batch_size, max_tokens);
            assert_eq!(got, brute_force(lengths, batch_size.max(1), max_tokens), "{lengths:?}");
            assert_eq!(got.iter().map(|r| r.len()).sum::<usize>(), lengths.len());
            for r in &got {
                assert!(!r.is_empty() && r.len() <= batch_size.max(1));
                assert!(r.len() == 1 || r.len() * lengths[r.end - 1] <= max_tokens, "{r:?} of {lengths:?}");
            }
        }
        assert_eq!(cut_batches(&[262; 16], 8, 1024).len(), 6);
        assert_eq!(cut_batches(&[32; 20], 8, 1024).len(), 3);
    }
}
