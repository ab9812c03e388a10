//! Hostile and broken inputs: every one must come back as a typed error, quickly, without a
//! large allocation and without a panic.

mod common;

use common::{TOKENIZERS, read};
use qwen3_vl_preprocess::PreprocessError;
use qwen3_vl_preprocess::image::{DecodeLimits, ImageOptions, decode_rgb, prepare_image};
use qwen3_vl_preprocess::prompt::render_prompt;
use qwen3_vl_preprocess::tokenize::PromptTokenizer;

/// A minimal valid PNG: `width`x`height` 8-bit RGB, with `idat` as its (zlib) IDAT payload.
fn png(width: u32, height: u32, idat: &[u8]) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// Bitwise CRC-32 (PNG's), enough for test files.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// An empty stored zlib stream: valid header, nothing decoded.
const TINY_IDAT: &[u8] = &[0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01];

#[test]
fn empty_bytes() {
    let err = decode_rgb(&[], &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, PreprocessError::EmptyImage), "{err}");
}

#[test]
fn garbage_bytes() {
    for bytes in [&b"hello world, not an image"[..], &[0u8; 64], &[0xFF; 3], b"BM\x00\x00"] {
        let err = decode_rgb(bytes, &DecodeLimits::default()).unwrap_err();
        assert!(matches!(err, PreprocessError::UnsupportedFormat(_)), "{err}");
    }
}

#[test]
fn garbage_behind_valid_signatures() {
    let mut noise = 0x2545_F491_u32;
    let tail: Vec<u8> = (0..300)
        .map(|_| {
            noise ^= noise << 13;
            noise ^= noise >> 17;
            noise ^= noise << 5;
            noise as u8
        })
        .collect();
    for magic in [&b"\x89PNG\r\n\x1a\n"[..], &[0xFF, 0xD8, 0xFF], b"GIF89a", b"RIFF\x10\x00\x00\x00WEBPVP8 "] {
        let bytes = [magic, &tail].concat();
        for len in [magic.len(), magic.len() + 7, bytes.len()] {
            let err = decode_rgb(&bytes[..len], &DecodeLimits::default()).unwrap_err();
            assert!(
                matches!(
                    err,
                    PreprocessError::Decode { .. }
                        | PreprocessError::TooLarge { .. }
                        | PreprocessError::AllocationTooLarge { .. }
                        | PreprocessError::EmptyDimensions { .. }
                ),
                "{err}"
            );
        }
    }
}

#[test]
fn truncated_png_from_fixtures() {
    let err = decode_rgb(&read("images/corrupt_truncated.png"), &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, PreprocessError::Decode { format: "PNG", .. }), "{err}");
}

#[test]
fn every_prefix_of_a_valid_png_fails_cleanly() {
    let bytes = read("images/rgba_90x70.png");
    assert!(decode_rgb(&bytes, &DecodeLimits::default()).is_ok());
    for len in (1..bytes.len()).step_by(37) {
        assert!(decode_rgb(&bytes[..len], &DecodeLimits::default()).is_err(), "prefix {len}");
    }
}

#[test]
fn bomb_from_fixtures_is_refused_from_its_header() {
    let err = prepare_image(&read("images/bomb_60000x60000.png"), &ImageOptions::default()).unwrap_err();
    assert_eq!(err.to_string(), "image is 60000x60000, larger than the 16384x16384 limit");
}

#[test]
fn built_bomb_is_refused_before_allocating() {
    let bomb = png(60_000, 60_000, TINY_IDAT);
    assert!(bomb.len() < 100);
    let err = decode_rgb(&bomb, &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, PreprocessError::TooLarge { width: 60_000, height: 60_000, .. }), "{err}");
    // Within the side limits but over the memory budget: refused too, not allocated.
    let wide = png(16_000, 16_000, TINY_IDAT);
    let err = decode_rgb(&wide, &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, PreprocessError::AllocationTooLarge { .. }), "{err}");
    let strict = DecodeLimits { max_width: 100, max_height: 100, max_alloc_bytes: 1 << 20 };
    let err = decode_rgb(&png(101, 5, TINY_IDAT), &strict).unwrap_err();
    assert!(matches!(err, PreprocessError::TooLarge { .. }), "{err}");
}

#[test]
fn zero_sized_png_is_refused() {
    let err = decode_rgb(&png(0, 10, TINY_IDAT), &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, PreprocessError::EmptyDimensions { .. } | PreprocessError::Decode { .. }), "{err}");
}

#[test]
fn png_with_missing_pixel_data_is_an_error() {
    let err = decode_rgb(&png(4, 4, TINY_IDAT), &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, PreprocessError::Decode { .. }), "{err}");
}

#[test]
fn extreme_aspect_ratio_is_refused() {
    let img = image::RgbImage::new(402, 2);
    let err = qwen3_vl_preprocess::image::prepare_rgb(&img, &ImageOptions::default()).unwrap_err();
    assert!(matches!(err, PreprocessError::AspectRatio { .. }), "{err}");
}

fn tokenizer() -> PromptTokenizer {
    PromptTokenizer::from_bytes(&read(TOKENIZERS[0])).unwrap()
}

#[test]
fn tokenizer_rejects_garbage_json() {
    let err = PromptTokenizer::from_bytes(b"{not json").unwrap_err();
    assert!(matches!(err, PreprocessError::Tokenizer(_)), "{err}");
}

#[test]
fn too_many_or_too_few_image_pads() {
    let tok = tokenizer();
    let prompt = render_prompt("I.", 2, Some("x"));
    let err = tok.encode(&prompt, &[4], 8192).unwrap_err();
    assert!(matches!(err, PreprocessError::ImagePadCountMismatch { expected: 1, found: 2 }), "{err}");
    // A user text that smuggles in a pad token counts as one more pad.
    let prompt = render_prompt("I.", 1, Some("<|image_pad|>"));
    let err = tok.encode(&prompt, &[4], 8192).unwrap_err();
    assert!(matches!(err, PreprocessError::ImagePadCountMismatch { expected: 1, found: 2 }), "{err}");
}

#[test]
fn truncation_keeps_eos_and_refuses_to_cut_images() {
    let tok = tokenizer();
    let text_prompt = render_prompt("I.", 0, Some("one two three four five six seven"));
    let full = tok.encode(&text_prompt, &[], 8192).unwrap();
    let cut = tok.encode(&text_prompt, &[], 10).unwrap();
    assert_eq!(cut.len(), 10);
    assert_eq!(&cut[..9], &full[..9]);
    assert_eq!(cut[9], 151643);
    let image_prompt = render_prompt("I.", 1, Some("a caption"));
    let ok = tok.encode(&image_prompt, &[64], 8192).unwrap();
    let err = tok.encode(&image_prompt, &[64], ok.len() - 20).unwrap_err();
    assert!(matches!(err, PreprocessError::TruncatesImageTokens { .. }), "{err}");
    // Cutting only text after the image is fine.
    let last_pad = ok.iter().rposition(|&id| id == 151655).unwrap();
    assert!(tok.encode(&image_prompt, &[64], last_pad + 2).is_ok());
    let err = tok.encode(&image_prompt, &[64], 0).unwrap_err();
    assert!(matches!(err, PreprocessError::InvalidMaxLength(0)), "{err}");
}
