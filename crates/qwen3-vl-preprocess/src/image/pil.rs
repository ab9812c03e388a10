//! Pillow's conversions to RGB, reproduced in integer math so every byte matches
//! (`qwen_vl_utils/vision_process.py`, `to_rgb`). Verified against Pillow 13 exhaustively for the
//! alpha blend and on crafted PNGs for the grey/16-bit/palette rules.

use ::image::RgbImage;

/// Shape of a decoded, expanded buffer: `samples` per pixel, each one or two (big-endian) bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PixelLayout {
    pub width: u32,
    pub height: u32,
    pub samples: usize,
    pub sixteen_bit: bool,
}

impl PixelLayout {
    fn pixel_bytes(&self) -> usize {
        self.samples * if self.sixteen_bit { 2 } else { 1 }
    }
}

/// Builds an RGB image from each pixel's bytes (one pixel = `layout.pixel_bytes()` bytes).
fn map_pixels(buf: &[u8], layout: PixelLayout, f: impl Fn(&[u8]) -> [u8; 3]) -> RgbImage {
    let n = layout.width as usize * layout.height as usize;
    let mut out = Vec::with_capacity(n * 3);
    for px in buf.chunks_exact(layout.pixel_bytes()).take(n) {
        out.extend_from_slice(&f(px));
    }
    // A short buffer (cannot happen for a successful decode) is padded rather than panicking.
    out.resize(n * 3, 0);
    RgbImage::from_raw(layout.width, layout.height, out).expect("buffer sized to the image")
}

/// Pillow's `DIV255`: rounds x / 255 to nearest for x in 0..=255*255 without a division.
fn div255(x: u32) -> u8 {
    let t = x + 128;
    (((t >> 8) + t) >> 8) as u8
}

/// `Image.new("RGB", size, white).paste(rgba, mask=alpha)`: Pillow's `paste_mask_L` blend,
/// `DIV255(background * (255 - a) + colour * a)` per channel.
pub(crate) fn blend_on_white(colour: u8, alpha: u8) -> u8 {
    let a = u32::from(alpha);
    div255(255 * (255 - a) + u32::from(colour) * a)
}

/// RGBA (8 or 16-bit; Pillow keeps the high byte of 16-bit samples) composited on white.
pub(crate) fn rgba_on_white(buf: &[u8], layout: PixelLayout) -> RgbImage {
    let step = if layout.sixteen_bit { 2 } else { 1 };
    map_pixels(buf, layout, |p| {
        let a = p[3 * step];
        [0, 1, 2].map(|c| blend_on_white(p[c * step], a))
    })
}

/// RGB or RGBA whose alpha Pillow's `convert("RGB")` drops (tRNS, expanded palettes).
pub(crate) fn rgb_dropping_alpha(buf: &[u8], layout: PixelLayout) -> RgbImage {
    let step = if layout.sixteen_bit { 2 } else { 1 };
    map_pixels(buf, layout, |p| [p[0], p[step], p[2 * step]])
}

/// 8-bit grey (with or without alpha, which is dropped), or 16-bit LA (high byte), replicated.
pub(crate) fn grey_to_rgb(buf: &[u8], layout: PixelLayout) -> RgbImage {
    map_pixels(buf, layout, |p| [p[0]; 3])
}

/// Pillow opens 16-bit grey PNGs as `I;16`, and its RGB conversion saturates: min(v, 255).
pub(crate) fn grey16_to_rgb(buf: &[u8], layout: PixelLayout) -> RgbImage {
    map_pixels(buf, layout, |p| {
        let v = u16::from_be_bytes([p[0], p[1]]);
        [u8::try_from(v).unwrap_or(u8::MAX); 3]
    })
}

/// Palette lookup as Pillow's P -> RGB: entries past the palette's end are black; with no
/// palette at all Pillow opens the image as L, so the index is the grey level.
pub(crate) fn palette_to_rgb(indices: &[u8], palette: Option<&[u8]>, width: u32, height: u32) -> RgbImage {
    let layout = PixelLayout { width, height, samples: 1, sixteen_bit: false };
    map_pixels(indices, layout, |p| {
        let i = usize::from(p[0]);
        match palette {
            None => [p[0]; 3],
            Some(pal) => match pal.get(3 * i..3 * i + 3) {
                Some(rgb) => [rgb[0], rgb[1], rgb[2]],
                None => [0, 0, 0],
            },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn div255_rounds_to_nearest() {
        for x in 0..=255u32 * 255 {
            let exact = (f64::from(x) / 255.0).round() as u8;
            assert_eq!(div255(x), exact, "{x}");
        }
    }

    #[test]
    fn blend_extremes() {
        assert_eq!(blend_on_white(0, 0), 255);
        assert_eq!(blend_on_white(17, 255), 17);
        assert_eq!(blend_on_white(0, 128), 127);
    }

    #[test]
    fn sixteen_bit_grey_saturates() {
        let buf = [0x00, 0x05, 0x00, 0xFF, 0x01, 0x00, 0xFF, 0xFF];
        let layout = PixelLayout { width: 4, height: 1, samples: 1, sixteen_bit: true };
        let img = grey16_to_rgb(&buf, layout);
        let reds: Vec<u8> = img.pixels().map(|p| p.0[0]).collect();
        assert_eq!(reds, [5, 255, 255, 255]);
    }
}
