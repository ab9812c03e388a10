//! Resized RGB8 -> `pixel_values` rows: normalise each byte to [-1, 1], cut 16x16 patches in
//! 2x2 merge-window order, and store each patch twice along time (transformers
//! `models/qwen2_vl/image_processing_qwen2_vl_fast.py`, `Qwen2VLImageProcessorFast._preprocess`).

use ::image::RgbImage;

use crate::error::PreprocessError;

pub use qwen3_vl_constants::patch_geometry::{FACTOR, MERGE_SIZE, PATCH_DIM, PATCH_SIZE};

/// One image ready for the vision tower.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedImage {
    /// Row-major `[num_patches, 1536]`.
    pub pixel_values: Vec<f32>,
    /// `[t, h, w]` in patches: `[1, height / 16, width / 16]`.
    pub grid_thw: [u32; 3],
}

impl PreparedImage {
    /// Rows of `pixel_values`.
    pub fn num_patches(&self) -> usize {
        self.grid_thw.iter().map(|&d| d as usize).product()
    }

    /// `<|image_pad|>` tokens this image takes in the prompt (one per 2x2 merge window).
    pub fn num_tokens(&self) -> usize {
        self.num_patches() / (MERGE_SIZE * MERGE_SIZE)
    }
}

/// How bytes become floats. The two transformers image-processor backends differ by one f32
/// ulp (<= 6e-8) on 128 of the 256 byte values and agree exactly after rounding to bf16.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Normalization {
    /// `Qwen2VLImageProcessor` (torchvision, the class released checkpoints name): rescale and
    /// normalise fused into `(x - 127.5) / 127.5` in f32, a subtract then a divide.
    #[default]
    Torchvision,
    /// `Qwen2VLImageProcessorPil` (what `tests/fixtures/reference` was made with):
    /// `(f32(x * (1/255) in f64) - 0.5) / 0.5` in f32.
    Pil,
}

impl Normalization {
    /// The float for one byte.
    pub fn apply(self, byte: u8) -> f32 {
        match self {
            Self::Torchvision => (f32::from(byte) - 127.5) / 127.5,
            Self::Pil => ((f64::from(byte) * (1.0 / 255.0)) as f32 - 0.5) / 0.5,
        }
    }
}

#[cfg(test)]
fn normalise(byte: u8) -> f32 {
    Normalization::Torchvision.apply(byte)
}

/// Cuts an already-resized image (sides multiples of 32) into `pixel_values` rows.
pub fn patchify(img: &RgbImage, norm: Normalization) -> Result<PreparedImage, PreprocessError> {
    let (width, height) = img.dimensions();
    if width == 0 || height == 0 || width % FACTOR != 0 || height % FACTOR != 0 {
        return Err(PreprocessError::NotPatchAligned { width, height, factor: FACTOR });
    }
    let lut: [f32; 256] = std::array::from_fn(|b| norm.apply(b as u8));
    let (grid_h, grid_w) = (height as usize / PATCH_SIZE, width as usize / PATCH_SIZE);
    let mut pixel_values = Vec::with_capacity(grid_h * grid_w * PATCH_DIM);
    let raw = img.as_raw();
    let row_bytes = width as usize * 3;
    for block_row in 0..grid_h / MERGE_SIZE {
        for block_col in 0..grid_w / MERGE_SIZE {
            for r in 0..MERGE_SIZE {
                for c in 0..MERGE_SIZE {
                    let y0 = (block_row * MERGE_SIZE + r) * PATCH_SIZE;
                    let x0 = (block_col * MERGE_SIZE + c) * PATCH_SIZE;
                    push_patch(&mut pixel_values, raw, row_bytes, x0, y0, &lut);
                }
            }
        }
    }
    Ok(PreparedImage { pixel_values, grid_thw: [1, grid_h as u32, grid_w as u32] })
}

/// Appends one 1536-value row, laid out `[channel][time][y][x]` like the Conv3d weight.
fn push_patch(out: &mut Vec<f32>, raw: &[u8], row_bytes: usize, x0: usize, y0: usize, lut: &[f32; 256]) {
    for channel in 0..3 {
        let start = out.len();
        for py in 0..PATCH_SIZE {
            let row = &raw[(y0 + py) * row_bytes + x0 * 3..][..PATCH_SIZE * 3];
            out.extend(row.chunks_exact(3).map(|px| lut[usize::from(px[channel])]));
        }
        // The second frame is the first one repeated (a still image has T = 1).
        out.extend_from_within(start..);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_endpoints() {
        assert_eq!(normalise(0), -1.0);
        assert_eq!(normalise(255), 1.0);
        assert_eq!(normalise(128), 0.5 / 127.5);
        for b in [0, 255] {
            assert_eq!(Normalization::Pil.apply(b), normalise(b));
        }
        let ulps = (0..=255u8).filter(|&b| Normalization::Pil.apply(b) != normalise(b)).count();
        assert_eq!(ulps, 128, "the backends differ on half of the bytes");
        for b in 0..=255u8 {
            assert!((Normalization::Pil.apply(b) - normalise(b)).abs() <= 6e-8);
        }
    }

    #[test]
    fn layout_matches_hand_built_indexing() {
        // 64x32: grid 2x4, two merge windows side by side.
        let img = RgbImage::from_fn(64, 32, |x, y| ::image::Rgb([x as u8, y as u8, (x + y) as u8 * 2]));
        let p = patchify(&img, Normalization::Torchvision).unwrap();
        assert_eq!(p.grid_thw, [1, 2, 4]);
        assert_eq!(p.num_patches(), 8);
        assert_eq!(p.num_tokens(), 2);
        assert_eq!(p.pixel_values.len(), 8 * PATCH_DIM);
        let mut row = 0;
        for (br, bc) in [(0, 0), (0, 1)] {
            for (r, c) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let (gy, gx) = (br * 2 + r, bc * 2 + c);
                for ch in 0..3 {
                    for t in 0..2 {
                        for py in 0..16 {
                            for px in 0..16 {
                                let (x, y) = ((gx * 16 + px) as u32, (gy * 16 + py) as u32);
                                let want = normalise(img.get_pixel(x, y).0[ch]);
                                let idx = ((ch * 2 + t) * 16 + py) * 16 + px;
                                assert_eq!(p.pixel_values[row * PATCH_DIM + idx], want);
                            }
                        }
                    }
                }
                row += 1;
            }
        }
    }

    #[test]
    fn unaligned_sizes_are_refused() {
        let img = RgbImage::new(48, 32);
        assert!(matches!(patchify(&img, Normalization::Pil), Err(PreprocessError::NotPatchAligned { .. })));
    }
}
