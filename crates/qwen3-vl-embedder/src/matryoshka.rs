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

/// What is wrong with an embedding that must not be printed or stored, if anything: a NaN or
/// infinite component (NaN/Inf weights, a broken config), or an all-zero vector (zeroed norm
/// weights), which `truncate_and_normalize` would pass on as if it were a unit vector.
pub fn embedding_problem(v: &[f32]) -> Option<&'static str> {
    if v.is_empty() {
        Some("empty")
    } else if !v.iter().all(|x| x.is_finite()) {
        Some("not finite (NaN or infinite components)")
    } else if v.iter().all(|&x| x == 0.0) {
        Some("all zeros")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_then_normalises() {
        assert_eq!(truncate_and_normalize(&[3.0, 4.0, 100.0], 2), [0.6, 0.8]);
        assert_eq!(truncate_and_normalize(&[0.0, 0.0], 2), [0.0, 0.0]);
    }

    #[test]
    fn nan_infinite_zero_and_empty_vectors_are_named() {
        assert_eq!(embedding_problem(&[0.6, 0.8]), None);
        assert_eq!(embedding_problem(&[0.0, 1.0]), None);
        assert!(embedding_problem(&[f32::NAN, 1.0]).unwrap().contains("not finite"));
        assert!(embedding_problem(&[f32::INFINITY, 1.0]).unwrap().contains("not finite"));
        assert_eq!(embedding_problem(&[0.0, -0.0]), Some("all zeros"));
        assert_eq!(embedding_problem(&[]), Some("empty"));
    }
}
