//! Rotary tables: inverse frequencies and per-position cos/sin, computed on the host in f32.
//!
//! The reference computes `inv_freq` with torch's f32 `pow`, which differs from the correctly
//! rounded value in several slots; for the released head sizes we use torch's exact bit
//! patterns (of the `inv_freq` of transformers' `models/qwen3_vl/modeling_qwen3_vl.py`,
//! `Qwen3VLTextRotaryEmbedding` and `Qwen3VLVisionRotaryEmbedding`, on torch 2.8 CPU),
//! otherwise the f32 formula.

/// Text inverse frequencies for head_dim 128, theta 5e6, as torch 2.8 CPU computes them.
const TEXT_128_THETA_5E6: [u32; 64] = [
    0x3f800000, 0x3f492c28, 0x3f1e165d, 0x3ef875a7, 0x3ec33f3a, 0x3e996e52, 0x3e712429, 0x3e3d7efc, 0x3e14e963,
    0x3dea09db, 0x3db7ea1a, 0x3d908687, 0x3d63251b, 0x3d327f50, 0x3d0c44bf, 0x3cdc7456, 0x3cad3d5e, 0x3c88230f,
    0x3c55f605, 0x3c282311, 0x3c042088, 0x3bcfa8a9, 0x3ba32f3e, 0x3b803c3d, 0x3b498ad3, 0x3b1e60c3, 0x3af8ea93,
    0x3ac39b1c, 0x3a99b686, 0x3a7195a5, 0x3a3dd829, 0x3a152f76, 0x39ea77ff, 0x39b840a8, 0x3990ca8b, 0x39639000,
    0x3932d34f, 0x390c86c1, 0x38dcdc14, 0x38ad8ee4, 0x38886320, 0x38565ab5, 0x38287230, 0x38045eb6, 0x37d00a62,
    0x37a37c09, 0x37807896, 0x3749e9ab, 0x371eab4b, 0x36f95fb6, 0x36c3f72a, 0x3699fedc, 0x36720755, 0x363e3180,
    0x361575ab, 0x35eae655, 0x35b8975d, 0x35910eae, 0x3563fb18, 0x35332777, 0x350cc8e3, 0x34dd4405, 0x34ade091,
    0x3488a34f,
];
/// Vision inverse frequencies, rotary dim 32 (2B), theta 1e4.
const VISION_32: [u32; 16] = [
    0x3f800000, 0x3f0ff59a, 0x3ea1e89b, 0x3e361887, 0x3dcccccd, 0x3d6655c2, 0x3d0186e3, 0x3c91ad39, 0x3c23d70a,
    0x3bb8449c, 0x3b4f3e38, 0x3ae91528, 0x3a83126f, 0x3a136a16, 0x39a5cb60, 0x393a7753,
];
/// Vision inverse frequencies, rotary dim 36 (8B), theta 1e4.
const VISION_36: [u32; 18] = [
    0x3f800000, 0x3f1977cc, 0x3eb800d6, 0x3e5c9d35, 0x3e044133, 0x3d9e91b6, 0x3d3e1e95, 0x3ce3f280, 0x3c88a69b,
    0x3c23d70a, 0x3bc47060, 0x3b6b8631, 0x3b0d3169, 0x3aa94938, 0x3a4af7f3, 0x39f35a5c, 0x3991e2e1, 0x392ee9bf,
];

/// `1 / theta^(2i/dim)` for i in 0..dim/2, in torch's f32 arithmetic.
pub fn inv_freq(theta: f64, dim: usize) -> Vec<f32> {
    let known: Option<&[u32]> = match (dim, theta) {
        (128, 5_000_000.0) => Some(&TEXT_128_THETA_5E6),
        (32, 10_000.0) => Some(&VISION_32),
        (36, 10_000.0) => Some(&VISION_36),
        _ => None,
    };
    if let Some(bits) = known {
        return bits.iter().map(|&b| f32::from_bits(b)).collect();
    }
    let theta = theta as f32;
    (0..dim / 2).map(|i| 1.0 / theta.powf((2 * i) as f32 / dim as f32)).collect()
}

/// Which position axis (0 = T, 1 = H, 2 = W) drives each of the `half` frequency slots in
/// interleaved MRoPE: H on slots 1, 4, 7, ... below `3 * section[1]`, W on 2, 5, 8, ... below
/// `3 * section[2]`, T everywhere else.
pub fn interleaved_axes(half: usize, section: [usize; 3]) -> Vec<usize> {
    (0..half)
        .map(|i| match i % 3 {
            1 if i < 3 * section[1] => 1,
            2 if i < 3 * section[2] => 2,
            _ => 0,
        })
        .collect()
}

/// cos and sin tables `[n, 2 * half]` (the half-width angles duplicated, for rotate-half),
/// from per-slot angles produced by `angle(row, slot)`.
pub fn cos_sin(n: usize, half: usize, angle: impl Fn(usize, usize) -> f32) -> (Vec<f32>, Vec<f32>) {
    let mut cos = Vec::with_capacity(n * 2 * half);
    let mut sin = Vec::with_capacity(n * 2 * half);
    for row in 0..n {
        let start = cos.len();
        for slot in 0..half {
            let a = angle(row, slot);
            cos.push(a.cos());
            sin.push(a.sin());
        }
        cos.extend_from_within(start..start + half);
        sin.extend_from_within(start..start + half);
    }
    (cos, sin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_2b_layout_is_thw_repeated_then_t() {
        let axes = interleaved_axes(64, [24, 20, 20]);
        assert_eq!(&axes[..6], &[0, 1, 2, 0, 1, 2]);
        // Slots 57, 58, 59 are the last T, H, W triple; 60..64 are all T.
        assert_eq!(&axes[57..], &[0, 1, 2, 0, 0, 0, 0]);
        assert_eq!(axes.iter().filter(|&&a| a == 0).count(), 24);
        assert_eq!(axes.iter().filter(|&&a| a == 1).count(), 20);
    }

    #[test]
    fn computed_frequencies_are_close_to_torchs_bits() {
        let exact = inv_freq(5_000_000.0, 128);
        let theta = 5_000_000f32;
        for (i, &e) in exact.iter().enumerate() {
            let computed = 1.0 / theta.powf((2 * i) as f32 / 128.0);
            assert!((computed - e).abs() <= e * 1e-6, "slot {i}: {computed} vs {e}");
        }
    }

    #[test]
    fn cos_sin_duplicate_the_half() {
        let (cos, sin) = cos_sin(2, 2, |row, slot| (row * 2 + slot) as f32);
        assert_eq!(cos.len(), 8);
        assert_eq!(cos[0], cos[2]);
        assert_eq!(sin[5], sin[7]);
        assert_eq!(sin[5], 3f32.sin());
    }
}
