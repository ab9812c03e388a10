//! JS input objects -> [`EmbedInput`].
//!
//! An input is `{ text?, image?, images?, instruction? }`. An image is either encoded bytes
//! (`Uint8Array` / `ArrayBuffer` of PNG, JPEG, WebP or GIF) or raw pixels shaped like
//! `ImageData` (`{ data: Uint8ClampedArray | Uint8Array, width, height }`, RGBA, not
//! premultiplied). Raw pixels are stored as a PNG so they take the exact decode path that
//! encoded images take (alpha dropped as Pillow's `convert("RGB")` does).

use js_sys::{Array, ArrayBuffer, Object, Reflect, Uint8Array, Uint8ClampedArray};
use qwen3_vl_embedder::EmbedInput;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::bad_argument;

/// Reads one `{ text, image, images, instruction }` object.
pub fn parse_input(value: &JsValue) -> Result<EmbedInput, JsValue> {
    if let Some(text) = value.as_string() {
        return Ok(EmbedInput::text(text));
    }
    if !value.is_object() {
        return Err(bad_argument("an input must be a string or an object { text, image, images, instruction }"));
    }
    let text = optional_string(value, "text")?;
    let instruction = optional_string(value, "instruction")?;
    let mut images = Vec::new();
    let image = get(value, "image")?;
    if !image.is_undefined() && !image.is_null() {
        images.push(image_bytes(&image, "image")?);
    }
    let list = get(value, "images")?;
    if !list.is_undefined() && !list.is_null() {
        let list: Array = list.dyn_into().map_err(|_| bad_argument("`images` must be an array of images"))?;
        for (i, image) in list.iter().enumerate() {
            images.push(image_bytes(&image, &format!("images[{i}]"))?);
        }
    }
    Ok(EmbedInput { text, images, instruction })
}

fn get(object: &JsValue, key: &str) -> Result<JsValue, JsValue> {
    Reflect::get(object, &key.into()).map_err(|_| bad_argument(format!("cannot read `{key}`")))
}

fn optional_string(object: &JsValue, key: &str) -> Result<Option<String>, JsValue> {
    let value = get(object, key)?;
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value.as_string().map(Some).ok_or_else(|| bad_argument(format!("`{key}` must be a string")))
}

/// Encoded bytes as they are, or RGBA pixels encoded as PNG.
pub(crate) fn image_bytes(value: &JsValue, what: &str) -> Result<Vec<u8>, JsValue> {
    if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        return Ok(bytes.to_vec());
    }
    if let Some(buffer) = value.dyn_ref::<ArrayBuffer>() {
        return Ok(Uint8Array::new(buffer).to_vec());
    }
    if value.is_instance_of::<Object>() {
        let data = get(value, "data")?;
        let (width, height) = (get(value, "width")?.as_f64(), get(value, "height")?.as_f64());
        let rgba = if let Some(d) = data.dyn_ref::<Uint8ClampedArray>() {
            Some(d.to_vec())
        } else {
            data.dyn_ref::<Uint8Array>().map(Uint8Array::to_vec)
        };
        if let (Some(rgba), Some(width), Some(height)) = (rgba, width, height) {
            return rgba_to_png(&rgba, width as u32, height as u32, what);
        }
    }
    Err(bad_argument(format!(
        "{what}: expected encoded image bytes (Uint8Array or ArrayBuffer of PNG/JPEG/WebP/GIF) \
         or pixels like ImageData ({{ data, width, height }})"
    )))
}

fn rgba_to_png(rgba: &[u8], width: u32, height: u32, what: &str) -> Result<Vec<u8>, JsValue> {
    let expected = width as usize * height as usize * 4;
    if width == 0 || height == 0 || rgba.len() != expected {
        return Err(js_error_size(what, width, height, rgba.len(), expected));
    }
    let mut png = Vec::with_capacity(expected / 2 + 1024);
    let mut encoder = png::Encoder::new(&mut png, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fastest);
    let mut writer = encoder.write_header().map_err(|e| bad_argument(format!("{what}: {e}")))?;
    writer.write_image_data(rgba).map_err(|e| bad_argument(format!("{what}: {e}")))?;
    writer.finish().map_err(|e| bad_argument(format!("{what}: {e}")))?;
    Ok(png)
}

fn js_error_size(what: &str, width: u32, height: u32, found: usize, expected: usize) -> JsValue {
    crate::error::js_error(
        "BAD_IMAGE_SIZE",
        format!("{what}: a {width}x{height} RGBA image needs {expected} bytes of data, found {found}"),
    )
}
