//! qwen_vl_utils' `smart_resize` (`qwen_vl_utils/vision_process.py`): pick the output size, a
//! multiple of `factor` on each side, closest to the input within a pixel budget. Computed in
//! f64 with Python's round-half-to-even so every size matches the reference.

use crate::error::PreprocessError;

/// The pixel budget of one image, after resizing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelBudget {
    /// Images smaller than this are scaled up (reference: 4 * 32^2 = 4096).
    pub min_pixels: u64,
    /// Images larger than this are scaled down (reference: 1800 * 32^2 = 1_843_200).
    pub max_pixels: u64,
}

impl Default for PixelBudget {
    /// The embedder's constants (`Qwen3VLEmbedder`), not the checkpoint processor's.
    fn default() -> Self {
        Self { min_pixels: 4096, max_pixels: 1_843_200 }
    }
}

/// Images more elongated than this are refused, as in qwen_vl_utils.
pub const MAX_ASPECT_RATIO: f64 = 200.0;

/// Returns `(height, width)` to resize an image to; `factor` is patch size x merge size (32).
pub fn smart_resize(height: u32, width: u32, factor: u32, budget: &PixelBudget) -> Result<(u32, u32), PreprocessError> {
    if height == 0 || width == 0 {
        return Err(PreprocessError::EmptyDimensions { width, height });
    }
    if factor == 0 || budget.min_pixels > budget.max_pixels {
        return Err(PreprocessError::InvalidBudget {
            factor,
            min_pixels: budget.min_pixels,
            max_pixels: budget.max_pixels,
        });
    }
    let ratio = f64::from(height.max(width)) / f64::from(height.min(width));
    if ratio > MAX_ASPECT_RATIO {
        return Err(PreprocessError::AspectRatio { height, width, ratio });
    }
    let (h, w, f) = (f64::from(height), f64::from(width), f64::from(factor));
    // Python: h_bar = max(factor, round(h / factor) * factor).
    let round_to = |x: f64| ((x / f).round_ties_even() * f).max(f);
    let (mut h_bar, mut w_bar) = (round_to(h), round_to(w));
    // Both sides are exact integers below 2^53, so the f64 product is the Python int product.
    let area = h * w;
    if h_bar * w_bar > budget.max_pixels as f64 {
        let beta = (area / budget.max_pixels as f64).sqrt();
        h_bar = (h / beta / f).floor() * f;
        w_bar = (w / beta / f).floor() * f;
    } else if h_bar * w_bar < budget.min_pixels as f64 {
        let beta = (budget.min_pixels as f64 / area).sqrt();
        h_bar = (h * beta / f).ceil() * f;
        w_bar = (w * beta / f).ceil() * f;
    }
    let to_u32 = |x: f64| {
        if x >= 1.0 && x <= f64::from(u32::MAX) { x as u32 } else { 0 }
    };
    let (resized_height, resized_width) = (to_u32(h_bar), to_u32(w_bar));
    if resized_height == 0 || resized_width == 0 {
        return Err(PreprocessError::ResizedToNothing { height, width, resized_height, resized_width });
    }
    Ok((resized_height, resized_width))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resize(h: u32, w: u32) -> (u32, u32) {
        smart_resize(h, w, 32, &PixelBudget::default()).unwrap()
    }

    #[test]
    fn spec_examples() {
        assert_eq!(resize(480, 640), (480, 640));
        assert_eq!(resize(1080, 1920), (992, 1792));
        assert_eq!(resize(720, 1280), (704, 1280));
        assert_eq!(resize(80, 80), (64, 64)); // 2.5 rounds to even, not up to 96
        assert_eq!(resize(16, 16), (64, 64));
        assert_eq!(resize(4000, 3000), (1536, 1152));
        assert_eq!(resize(48, 112), (64, 128));
    }

    #[test]
    fn aspect_ratio_over_200_is_refused() {
        assert!(smart_resize(10, 2000, 32, &PixelBudget::default()).is_ok());
        let err = smart_resize(10, 2001, 32, &PixelBudget::default()).unwrap_err();
        assert!(matches!(err, PreprocessError::AspectRatio { height: 10, width: 2001, .. }));
        assert!(err.to_string().contains("200"), "{err}");
    }

    #[test]
    fn degenerate_inputs_are_errors() {
        let b = PixelBudget::default();
        assert!(matches!(smart_resize(0, 5, 32, &b), Err(PreprocessError::EmptyDimensions { .. })));
        let bad = PixelBudget { min_pixels: 10, max_pixels: 5 };
        assert!(matches!(smart_resize(64, 64, 32, &bad), Err(PreprocessError::InvalidBudget { .. })));
        // A 1x200 strip under a tiny max budget floors its short side to zero.
        let tiny = PixelBudget { min_pixels: 0, max_pixels: 1024 };
        assert!(matches!(smart_resize(20, 4000, 32, &tiny), Err(PreprocessError::ResizedToNothing { .. })));
    }
}
