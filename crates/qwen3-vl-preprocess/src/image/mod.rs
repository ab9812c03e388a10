//! Image bytes -> `pixel_values` + `image_grid_thw`, matching qwen_vl_utils + Pillow +
//! the transformers fast image processor byte for byte (`qwen_vl_utils/vision_process.py`,
//! `fetch_image`; transformers `models/qwen2_vl/image_processing_qwen2_vl_fast.py`,
//! `Qwen2VLImageProcessorFast._preprocess`).
//!
//! decode ([`decode_rgb`]) -> choose size ([`smart_resize`]) -> resample ([`resize_bicubic`])
//! -> normalise and cut patches ([`patchify`]).

mod decode;
mod file;
mod jpeg;
mod patchify;
mod pil;
mod resize;
mod smart_resize;

pub use decode::{DecodeLimits, decode_rgb};
pub use file::MAX_IMAGE_FILE_BYTES;
#[cfg(not(target_arch = "wasm32"))]
pub use file::read_image_file;
pub use patchify::{FACTOR, Normalization, PATCH_DIM, PreparedImage, patchify};
pub use resize::resize_bicubic;
pub use smart_resize::{MAX_ASPECT_RATIO, PixelBudget, smart_resize};

use ::image::RgbImage;

use crate::error::PreprocessError;

/// Everything that decides how an image is prepared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImageOptions {
    /// Pixel budget for `smart_resize`.
    pub budget: PixelBudget,
    /// Header limits applied before decoding.
    pub limits: DecodeLimits,
    /// Which transformers backend's byte -> float rounding to reproduce.
    pub normalization: Normalization,
}

/// Decodes, resizes and patchifies one encoded image (PNG, JPEG, WebP, GIF).
pub fn prepare_image(bytes: &[u8], opts: &ImageOptions) -> Result<PreparedImage, PreprocessError> {
    resize_image(bytes, opts)?.patchify()
}

/// An image decoded and resized to its patch grid, not yet cut into patches: 3 bytes a
/// pixel, where its `pixel_values` take 24 (f32, every patch twice along time). A caller that
/// holds many images while it groups them into batches keeps them in this form.
#[derive(Debug, Clone)]
pub struct ResizedImage {
    image: RgbImage,
    normalization: Normalization,
}

impl ResizedImage {
    /// `<|image_pad|>` tokens the image takes in the prompt: one per 2x2 merge window of
    /// 16x16 patches.
    pub fn num_tokens(&self) -> usize {
        let (width, height) = self.image.dimensions();
        (width as usize / FACTOR as usize) * (height as usize / FACTOR as usize)
    }

    /// Normalises and cuts the image: what [`prepare_image`] returns for the same bytes.
    pub fn patchify(&self) -> Result<PreparedImage, PreprocessError> {
        patchify(&self.image, self.normalization)
    }
}

/// Decodes and resizes one encoded image: [`prepare_image`] up to its patches.
pub fn resize_image(bytes: &[u8], opts: &ImageOptions) -> Result<ResizedImage, PreprocessError> {
    resize_rgb(&decode_rgb(bytes, &opts.limits)?, opts)
}

/// Resizes and patchifies an already-decoded RGB image (the reference's PIL-image input).
pub fn prepare_rgb(img: &RgbImage, opts: &ImageOptions) -> Result<PreparedImage, PreprocessError> {
    resize_rgb(img, opts)?.patchify()
}

/// Resizes a decoded image to the size `smart_resize` picks for it.
fn resize_rgb(img: &RgbImage, opts: &ImageOptions) -> Result<ResizedImage, PreprocessError> {
    let (width, height) = img.dimensions();
    let (new_h, new_w) = smart_resize(height, width, FACTOR, &opts.budget)?;
    Ok(ResizedImage { image: resize_bicubic(img, new_w, new_h), normalization: opts.normalization })
}
