//! Image bytes -> RGB8, the way the reference's `Image.open(...)` + `to_rgb` sees them
//! (`qwen_vl_utils/vision_process.py`, `fetch_image`). Sizes are checked from the header
//! before any pixel buffer is allocated, so a tiny file that claims to be 60000x60000 costs
//! nothing.

use std::io::Cursor;

use ::image::{DynamicImage, ImageDecoder, ImageFormat, RgbImage};

use super::{jpeg, pil};
use crate::error::PreprocessError;

/// Limits checked against the header before decoding (decompression-bomb guard).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Widest image accepted, in pixels.
    pub max_width: u32,
    /// Tallest image accepted, in pixels.
    pub max_height: u32,
    /// Most bytes the decoded pixels (decoder buffer plus RGB copy) may take.
    pub max_alloc_bytes: u64,
}

impl Default for DecodeLimits {
    /// 16384 px per side and 512 MiB: far beyond what the model's 1.8 MP budget needs, far
    /// below what takes a process down.
    fn default() -> Self {
        Self { max_width: 16_384, max_height: 16_384, max_alloc_bytes: 512 << 20 }
    }
}

/// The container formats we decode, recognised by their signatures (as Pillow does; file
/// names and MIME types are not trusted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Png,
    Jpeg,
    WebP,
    Gif,
}

impl Format {
    fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(Self::Gif)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Self::WebP)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Png => "PNG",
            Self::Jpeg => "JPEG",
            Self::WebP => "WebP",
            Self::Gif => "GIF",
        }
    }
}

/// Decodes PNG, JPEG, WebP or the first GIF frame to RGB8: RGBA composited on white, every
/// other mode converted like Pillow's `convert("RGB")` (alpha from tRNS, LA or a palette is
/// dropped, not composited). No EXIF rotation, no colour management, as in the reference.
pub fn decode_rgb(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage, PreprocessError> {
    if bytes.is_empty() {
        return Err(PreprocessError::EmptyImage);
    }
    let Some(format) = Format::sniff(bytes) else {
        let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        return Err(PreprocessError::UnsupportedFormat(head.join(" ")));
    };
    match format {
        Format::Png => decode_png(bytes, limits),
        Format::Gif => decode_gif(bytes, limits),
        Format::Jpeg => decode_jpeg(bytes, limits),
        Format::WebP => decode_with_image_crate(bytes, ImageFormat::WebP, format, limits),
    }
}

/// Refuses images over the limits, given the decoder's bytes per pixel.
pub(super) fn check_size(
    width: u32,
    height: u32,
    decoder_bytes_per_pixel: u64,
    limits: &DecodeLimits,
) -> Result<(), PreprocessError> {
    if width == 0 || height == 0 {
        return Err(PreprocessError::EmptyDimensions { width, height });
    }
    if width > limits.max_width || height > limits.max_height {
        return Err(PreprocessError::TooLarge {
            width,
            height,
            max_width: limits.max_width,
            max_height: limits.max_height,
        });
    }
    let needed = u64::from(width) * u64::from(height) * (decoder_bytes_per_pixel + 3);
    if needed > limits.max_alloc_bytes {
        return Err(PreprocessError::AllocationTooLarge { width, height, needed, limit: limits.max_alloc_bytes });
    }
    Ok(())
}

fn decode_error(format: Format, e: impl std::fmt::Display) -> PreprocessError {
    PreprocessError::Decode { format: format.name(), message: e.to_string() }
}

/// PNG through the `png` crate directly: we need the file's own colour type and bit depth to
/// tell a real alpha channel (composited) from tRNS (ignored by Pillow's RGB conversion), and
/// 16-bit grey (clipped by Pillow) from 16-bit colour (high byte).
fn decode_png(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage, PreprocessError> {
    let err = |e| decode_error(Format::Png, e);
    let png_limits = png::Limits { bytes: usize::try_from(limits.max_alloc_bytes).unwrap_or(usize::MAX) };
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), png_limits);
    decoder.set_transformations(png::Transformations::EXPAND);
    let header = decoder.read_header_info().map_err(err)?;
    let (width, height, color_type) = (header.width, header.height, header.color_type);
    // EXPAND yields at most 4 samples of at most 2 bytes each.
    check_size(width, height, 8, limits)?;
    let mut reader = decoder.read_info().map_err(err)?;
    let size = reader.output_buffer_size().ok_or_else(|| decode_error(Format::Png, "output buffer size overflows"))?;
    let mut buf = vec![0u8; size];
    let frame = reader.next_frame(&mut buf).map_err(err)?;
    buf.truncate(frame.buffer_size());
    let (out_type, depth) = reader.output_color_type();
    let samples = out_type.samples();
    let wide = depth == png::BitDepth::Sixteen;
    let pixels = pil::PixelLayout { width, height, samples, sixteen_bit: wide };
    Ok(match color_type {
        // Pillow opens 16-bit grey as I;16, whose RGB conversion saturates at 255.
        png::ColorType::Grayscale if wide => pil::grey16_to_rgb(&buf, pixels),
        png::ColorType::Rgba => pil::rgba_on_white(&buf, pixels),
        // L, LA, 1-bit, P and RGB (with or without tRNS): first sample(s), alpha dropped.
        png::ColorType::Grayscale | png::ColorType::GrayscaleAlpha => pil::grey_to_rgb(&buf, pixels),
        png::ColorType::Rgb | png::ColorType::Indexed => pil::rgb_dropping_alpha(&buf, pixels),
    })
}

/// First GIF frame as palette indices, converted like Pillow: frame 0 is drawn on a canvas
/// filled with the transparent index (or 0), then looked up in the palette, alpha ignored.
fn decode_gif(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage, PreprocessError> {
    let err = |e| decode_error(Format::Gif, e);
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::Indexed);
    if let Some(bytes) = std::num::NonZeroU64::new(limits.max_alloc_bytes) {
        options.set_memory_limit(gif::MemoryLimit::Bytes(bytes));
    }
    let mut decoder = options.read_info(Cursor::new(bytes)).map_err(err)?;
    let (width, height) = (u32::from(decoder.width()), u32::from(decoder.height()));
    check_size(width, height, 1, limits)?;
    let global = decoder.global_palette().map(<[u8]>::to_vec);
    let frame = decoder
        .read_next_frame()
        .map_err(err)?
        .ok_or_else(|| decode_error(Format::Gif, "the file has no image frame"))?;
    let palette = frame.palette.clone().or(global);
    // Pillow grows the image when the first frame reaches past the logical screen.
    let (left, top) = (usize::from(frame.left), usize::from(frame.top));
    let (frame_w, frame_h) = (usize::from(frame.width), usize::from(frame.height));
    let width = width.max((left + frame_w) as u32);
    let height = height.max((top + frame_h) as u32);
    check_size(width, height, 1, limits)?;
    let mut canvas = vec![frame.transparent.unwrap_or(0); width as usize * height as usize];
    for (y, row) in frame.buffer.chunks_exact(frame_w.max(1)).take(frame_h).enumerate() {
        let start = (top + y) * width as usize + left;
        canvas[start..start + frame_w].copy_from_slice(row);
    }
    Ok(pil::palette_to_rgb(&canvas, palette.as_deref(), width, height))
}

/// JPEG through our libjpeg-turbo-exact decoder; the kinds it does not cover (arithmetic
/// coding, 12-bit, lossless, CMYK, ...; see the `jpeg` module) go through `image`'s
/// zune-jpeg, which is close to Pillow but not bit-exact.
fn decode_jpeg(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage, PreprocessError> {
    match jpeg::decode(bytes, limits) {
        Ok(rgb) => Ok(rgb),
        Err(jpeg::JpegError::Failed(e)) => Err(e),
        Err(jpeg::JpegError::NotExact(kind)) => decode_with_image_crate(bytes, ImageFormat::Jpeg, Format::Jpeg, limits)
            .map_err(|e| match e {
                PreprocessError::Decode { format, message } => PreprocessError::Decode {
                    format,
                    message: format!("{message} (fallback decoder; not decoded exactly: {kind})"),
                },
                other => other,
            }),
    }
}

/// JPEG (fallback) and WebP through `image`, which reports the header size before allocating.
fn decode_with_image_crate(
    bytes: &[u8],
    image_format: ImageFormat,
    format: Format,
    limits: &DecodeLimits,
) -> Result<RgbImage, PreprocessError> {
    let err = |e| decode_error(format, e);
    let mut reader = ::image::ImageReader::with_format(Cursor::new(bytes), image_format);
    let mut image_limits = ::image::Limits::default();
    image_limits.max_image_width = Some(limits.max_width);
    image_limits.max_image_height = Some(limits.max_height);
    image_limits.max_alloc = Some(limits.max_alloc_bytes);
    reader.no_limits();
    let decoder = reader.into_decoder().map_err(err)?;
    let (width, height) = decoder.dimensions();
    check_size(width, height, decoder.color_type().bytes_per_pixel().into(), limits)?;
    let mut decoder = decoder;
    decoder.set_limits(image_limits).map_err(err)?;
    let image = DynamicImage::from_decoder(decoder).map_err(err)?;
    Ok(match image {
        DynamicImage::ImageRgba8(rgba) => {
            let (w, h) = rgba.dimensions();
            let layout = pil::PixelLayout { width: w, height: h, samples: 4, sixteen_bit: false };
            pil::rgba_on_white(rgba.as_raw(), layout)
        }
        other => other.to_rgb8(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_sniffed_from_signatures() {
        assert_eq!(Format::sniff(b"\x89PNG\r\n\x1a\nxxxx"), Some(Format::Png));
        assert_eq!(Format::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(Format::Jpeg));
        assert_eq!(Format::sniff(b"GIF89a...."), Some(Format::Gif));
        assert_eq!(Format::sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(Format::WebP));
        assert_eq!(Format::sniff(b"BM\0\0"), None);
    }

    #[test]
    fn size_checks_say_what_was_found() {
        let limits = DecodeLimits::default();
        let err = check_size(60_000, 60_000, 4, &limits).unwrap_err();
        assert_eq!(err.to_string(), "image is 60000x60000, larger than the 16384x16384 limit");
        let err = check_size(16_000, 16_000, 8, &limits).unwrap_err();
        assert!(matches!(err, PreprocessError::AllocationTooLarge { .. }), "{err}");
        assert!(check_size(4000, 3000, 8, &limits).is_ok());
    }
}
