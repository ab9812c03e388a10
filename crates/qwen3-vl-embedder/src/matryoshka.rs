//! Matryoshka widths: keep a prefix of the pooled hidden state, then L2-normalise it. (The
//! last-token pooling itself is in the model, `Qwen3VlModel::forward`.)

/// Keeps the first `dim` components and L2-normalises them (`x / max(|x|, 1e-12)`, as
/// `torch.nn.functional.normalize`). Normalising after truncating is what makes a Matryoshka
/// prefix a unit vector; truncating an already-normalised vector and re-normalising gives
/// the same result.
pub fn truncate_and_normalize(pooled: &[f32], dim: usize) -> Vec<f32> {
    let v = &pooled[..dim.min(pooled.len())];
    let norm = v.iter().map(|&x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter().map(|&x| x / norm).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_then_normalises() {
        assert_eq!(truncate_and_normalize(&[3.0, 4.0, 100.0], 2), [0.6, 0.8]);
        assert_eq!(truncate_and_normalize(&[0.0, 0.0], 2), [0.0, 0.0]);
    }
}
