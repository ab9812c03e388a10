//! Images to model input, the step the embedder and the reranker share: each image is
//! decoded, resized and cut into patches, its grid and pixels appended to a batch, and its
//! token count returned for the tokenizer's `<|image_pad|>` expansion.

use qwen3_vl_model::{ModelError, ModelInput, Qwen3VlConfig};
use qwen3_vl_preprocess::image::{ImageOptions, ResizedImage, resize_image};

use crate::error::Result;

/// Prepares `images` in order, appending each grid and its patches to `batch`; returns each
/// image's number of LLM tokens (merged patches).
pub fn push_images<'a>(
    images: impl IntoIterator<Item = &'a Vec<u8>>,
    options: &ImageOptions,
    batch: &mut ModelInput,
) -> Result<Vec<usize>> {
    let mut counts = Vec::new();
    for bytes in images {
        let image = resize_image(bytes, options)?;
        counts.push(image.num_tokens());
        push_patches(&image, batch)?;
    }
    Ok(counts)
}

/// Cuts a resized image into patches onto the end of `batch`, with its grid.
pub fn push_patches(image: &ResizedImage, batch: &mut ModelInput) -> Result<()> {
    let image = image.patchify()?;
    let [t, h, w] = image.grid_thw;
    batch.grids.push([t as usize, h as usize, w as usize]);
    batch.pixel_values.extend_from_slice(&image.pixel_values);
    Ok(())
}

/// Checks that the model's `vision_config` cuts images the way the preprocessor does (its
/// geometry is `qwen3_vl_constants::patch_geometry`): a checkpoint with another patch size
/// fails at load with a clear message instead of embedding misread pixels.
pub(crate) fn check_patch_geometry(config: &Qwen3VlConfig) -> Result<()> {
    use qwen3_vl_constants::patch_geometry::{CHANNELS, MERGE_SIZE, PATCH_SIZE, TEMPORAL_PATCH_SIZE};
    let v = &config.vision;
    let model = [v.patch_size, v.spatial_merge_size, v.temporal_patch_size, v.in_channels];
    let ours = [PATCH_SIZE, MERGE_SIZE, TEMPORAL_PATCH_SIZE, CHANNELS];
    if model == ours {
        return Ok(());
    }
    Err(ModelError::Config(format!(
        "vision_config has patch_size, spatial_merge_size, temporal_patch_size, in_channels = {model:?}; \
         the image preprocessor produces {ours:?}"
    ))
    .into())
}
