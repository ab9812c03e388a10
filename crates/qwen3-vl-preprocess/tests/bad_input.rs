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

/// A minimal baseline JPEG: `width`x`height`, one grey component, a 1-symbol DC table and a
/// 1-symbol AC table (both code "0"), then `scan` as entropy-coded data.
fn jpeg(width: u16, height: u16, scan: &[u8]) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    out.extend([0xFF, 0xDB, 0x00, 0x43, 0x00]);
    out.extend([1u8; 64]);
    out.extend([0xFF, 0xC0, 0x00, 0x0B, 8]);
    out.extend(height.to_be_bytes());
    out.extend(width.to_be_bytes());
    out.extend([1, 1, 0x11, 0]);
    for class in [0x00, 0x10] {
        out.extend([0xFF, 0xC4, 0x00, 0x14, class, 1]);
        out.extend([0u8; 15]);
        out.push(0); // symbol 0: DC difference 0 / AC end of block
    }
    out.extend([0xFF, 0xDA, 0x00, 0x08, 1, 1, 0x00, 0, 63, 0]);
    out.extend_from_slice(scan);
    out.extend([0xFF, 0xD9]);
    out
}

/// Deterministic xorshift bytes for mutation loops.
fn noise(seed: u32) -> impl FnMut() -> u32 {
    let mut x = seed.max(1);
    move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    }
}

#[test]
fn minimal_jpeg_decodes_to_mid_grey() {
    // Every block: DC code "0" (difference 0), AC code "0" (end of block) -> all zero -> 128.
    let rgb = decode_rgb(&jpeg(16, 8, &[0x00, 0x00]), &DecodeLimits::default()).unwrap();
    assert_eq!(rgb.dimensions(), (16, 8));
    assert!(rgb.as_raw().iter().all(|&v| v == 128));
}

#[test]
fn jpeg_bombs_are_refused_from_the_header() {
    let err = decode_rgb(&jpeg(60_000, 60_000, &[0]), &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, PreprocessError::TooLarge { width: 60_000, height: 60_000, .. }), "{err}");
    let err = decode_rgb(&jpeg(16_000, 16_000, &[0]), &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, PreprocessError::AllocationTooLarge { .. }), "{err}");
    let err = decode_rgb(&jpeg(0, 10, &[0]), &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, PreprocessError::EmptyDimensions { .. } | PreprocessError::Decode { .. }), "{err}");
}

#[test]
fn broken_jpeg_tables_and_headers_are_decode_errors() {
    let good = jpeg(8, 8, &[0]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("Huffman counts beyond the segment", {
            let mut b = good.clone();
            let dht = b.windows(2).position(|w| w == [0xFF, 0xC4]).unwrap();
            b[dht + 5] = 3; // three 1-bit codes, one symbol byte
            b
        }),
        ("sampling factor 0", {
            let mut b = good.clone();
            let sof = b.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
            b[sof + 11] = 0x01;
            b
        }),
        ("SOS naming a missing component", {
            let mut b = good.clone();
            let sos = b.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
            b[sos + 5] = 9;
            b
        }),
        ("no quantisation table", {
            let dqt = good.windows(2).position(|w| w == [0xFF, 0xDB]).unwrap();
            [&good[..dqt], &good[dqt + 69..]].concat()
        }),
        ("SOS before SOF", {
            let sof = good.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
            [&good[..sof], &good[sof + 13..]].concat()
        }),
    ];
    for (what, bytes) in cases {
        let err = decode_rgb(&bytes, &DecodeLimits::default()).unwrap_err();
        assert!(matches!(err, PreprocessError::Decode { format: "JPEG", .. }), "{what}: {err}");
    }
}

#[test]
fn a_flood_of_progressive_scans_is_refused() {
    // 8x8 grey progressive: a DC first scan, then 1000 DC refinement scans of one byte each.
    let mut b = jpeg(8, 8, &[0]);
    b.truncate(b.len() - 2);
    let sof = b.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    b[sof + 1] = 0xC2;
    let sos = b.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    b[sos + 8] = 0; // Se = 0: a DC scan
    for _ in 0..1000 {
        b.extend([0xFF, 0xDA, 0x00, 0x08, 1, 1, 0x00, 0, 0, 0x10, 0x00]);
    }
    b.extend([0xFF, 0xD9]);
    let err = decode_rgb(&b, &DecodeLimits::default()).unwrap_err();
    assert!(err.to_string().contains("scans"), "{err}");
}

#[test]
fn every_prefix_of_a_valid_jpeg_is_handled() {
    for name in ["images/photo_120x90.jpg", "images/jpeg/progressive_restart_420_q75_40x33.jpg"] {
        let bytes = read(name);
        assert!(decode_rgb(&bytes, &DecodeLimits::default()).is_ok());
        for len in (1..bytes.len()).step_by(23) {
            // A prefix that still holds every scan decodes (EOI is optional, as for libjpeg);
            // anything shorter is a typed error. Neither panics.
            match decode_rgb(&bytes[..len], &DecodeLimits::default()) {
                Ok(rgb) => assert!(rgb.width() > 0, "{name} prefix {len}"),
                Err(e) => assert!(
                    matches!(e, PreprocessError::Decode { .. } | PreprocessError::UnsupportedFormat(_)),
                    "{name} prefix {len}: {e}"
                ),
            }
        }
    }
}

#[test]
fn mutated_jpegs_never_panic() {
    // Deterministic stand-in for the fuzz target: flip, overwrite and splice bytes of every
    // fixture JPEG. Each result is an image of the header's size or a typed error.
    let dir = common::fixtures().join("images/jpeg");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut rng = noise(0x5EED);
    let limits = DecodeLimits { max_width: 4096, max_height: 4096, max_alloc_bytes: 64 << 20 };
    for path in files {
        let original = std::fs::read(&path).unwrap();
        for round in 0..60 {
            let mut b = original.clone();
            for _ in 0..1 + round % 4 {
                let at = rng() as usize % b.len();
                match rng() % 3 {
                    0 => b[at] ^= 1 << (rng() % 8),
                    1 => b[at] = rng() as u8,
                    _ => b.insert(at, 0xFF),
                }
            }
            if let Err(e) = decode_rgb(&b, &limits) {
                assert!(!e.to_string().is_empty(), "{}: round {round}", path.display());
            }
        }
    }
}
