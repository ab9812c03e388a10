//! Every softmax kernel against a plain float64 attention, on shapes that exercise tiles,
//! grouped heads, causal masks and batches.

use crate::{AttentionShape, Error, VectorKernel, attention, attention_with};

/// Deterministic values in [-amp, amp).
fn values(n: usize, seed: usize, amp: f32) -> Vec<f32> {
    (0..n)
        .map(|i| ((i.wrapping_mul(2_654_435_761).wrapping_add(seed * 97) % 2001) as f32 / 1000.0 - 1.0) * amp)
        .collect()
}

/// The definition, in f64, one query at a time.
fn reference(q: &[f32], k: &[f32], v: &[f32], s: &AttentionShape) -> Vec<f64> {
    let AttentionShape { batch, seq, past, heads, kv_heads, head_dim: hd, scale, causal } = *s;
    let kv_seq = past + seq;
    let mut out = vec![0.0f64; batch * seq * heads * hd];
    for b in 0..batch {
        for h in 0..heads {
            let kv = h / (heads / kv_heads);
            for i in 0..seq {
                let qi = &q[((b * seq + i) * heads + h) * hd..][..hd];
                let keys = if causal { past + i + 1 } else { kv_seq };
                let scores: Vec<f64> = (0..keys)
                    .map(|j| {
                        let kj = &k[((b * kv_seq + j) * kv_heads + kv) * hd..][..hd];
                        qi.iter().zip(kj).map(|(a, b)| *a as f64 * *b as f64).sum::<f64>() * scale as f64
                    })
                    .collect();
                let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let weights: Vec<f64> = scores.iter().map(|x| (x - max).exp()).collect();
                let total: f64 = weights.iter().sum();
                let o = &mut out[((b * seq + i) * heads + h) * hd..][..hd];
                for (j, w) in weights.iter().enumerate() {
                    let vj = &v[((b * kv_seq + j) * kv_heads + kv) * hd..][..hd];
                    for (o, x) in o.iter_mut().zip(vj) {
                        *o += w / total * *x as f64;
                    }
                }
            }
        }
    }
    out
}

fn check(shape: AttentionShape) {
    let q_len = shape.batch * shape.seq * shape.heads * shape.head_dim;
    let kv_len = shape.batch * (shape.past + shape.seq) * shape.kv_heads * shape.head_dim;
    // Scores up to ~±20: a peaked softmax, where a sloppy exp or max would show.
    let (q, k, v) = (values(q_len, 1, 1.5), values(kv_len, 2, 1.5), values(kv_len, 3, 1.0));
    let want = reference(&q, &k, &v, &shape);
    for kernel in VectorKernel::ALL.into_iter().filter(|k| k.is_supported()) {
        let mut out = vec![f32::NAN; q_len];
        attention_with(kernel, &q, &k, &v, &mut out, &shape).unwrap();
        let worst = out.iter().zip(&want).map(|(a, b)| (*a as f64 - b).abs()).fold(0.0, f64::max);
        assert!(worst <= 2e-6, "{} {shape:?}: worst difference {worst:e}", kernel.name());
    }
}

fn shape(batch: usize, seq: usize, heads: usize, kv_heads: usize, head_dim: usize, causal: bool) -> AttentionShape {
    AttentionShape { batch, seq, past: 0, heads, kv_heads, head_dim, scale: 1.0 / (head_dim as f32).sqrt(), causal }
}

#[test]
fn queries_after_a_reused_prefix_match_float64() {
    // Keys of `past` earlier positions come first; causal queries see all of them.
    for (past, seq) in [(1, 1), (12, 20), (5, 1), (30, 600)] {
        check(AttentionShape { past, ..shape(2, seq, 4, 2, 16, true) });
    }
    check(AttentionShape { past: 7, ..shape(1, 9, 3, 1, 8, false) });
}

#[test]
fn causal_grouped_query_attention_matches_float64() {
    for seq in [1, 2, 17, 130, 300] {
        check(shape(1, seq, 4, 2, 16, true));
    }
    check(shape(3, 45, 2, 1, 8, true));
    check(shape(2, 33, 3, 3, 7, true));
}

#[test]
fn full_attention_matches_float64_across_tiles() {
    // 1,100 queries: tiles of 512, the last one short.
    check(shape(1, 1100, 2, 2, 24, false));
    check(shape(1, 5, 1, 1, 3, false));
    check(shape(2, 64, 4, 1, 32, false));
}

#[test]
fn bad_input_is_a_typed_error() {
    let s = shape(1, 4, 2, 1, 8, true);
    let (q, kv, mut out) = (vec![0.0; 64], vec![0.0; 32], vec![0.0; 64]);
    assert!(attention(&q, &kv, &kv, &mut out, &s).is_ok());
    assert_eq!(attention(&q[..63], &kv, &kv, &mut out, &s), Err(Error::Length { what: "q", expected: 64, found: 63 }));
    assert_eq!(attention(&q, &kv, &q, &mut out, &s), Err(Error::Length { what: "v", expected: 32, found: 64 }));
    assert!(matches!(attention(&q, &kv, &kv, &mut out, &shape(1, 4, 3, 2, 8, true)), Err(Error::Shape(_))));
    assert!(matches!(attention(&q, &kv, &kv, &mut out, &shape(1, 0, 2, 1, 8, true)), Err(Error::Shape(_))));
    let huge = shape(usize::MAX / 2, 4, 2, 1, 8, false);
    assert!(matches!(attention(&q, &kv, &kv, &mut out, &huge), Err(Error::Shape(_))));
    let with_past = AttentionShape { past: 2, ..s };
    assert_eq!(
        attention(&q, &kv, &kv, &mut out, &with_past),
        Err(Error::Length { what: "k", expected: 48, found: 32 })
    );
    let overflow = AttentionShape { past: usize::MAX, ..s };
    assert!(matches!(attention(&q, &kv, &kv, &mut out, &overflow), Err(Error::Shape(_))));
}
