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
    prepare_rgb(&decode_rgb(bytes, &opts.limits)?, opts)
}

/// Resizes and patchifies an already-decoded RGB image (the reference's PIL-image input).
pub fn prepare_rgb(img: &RgbImage, opts: &ImageOptions) -> Result<PreparedImage, PreprocessError> {
    let (width, height) = img.dimensions();
    let (new_h, new_w) = smart_resize(height, width, FACTOR, &opts.budget)?;
    patchify(&resize_bicubic(img, new_w, new_h), opts.normalization)
}
