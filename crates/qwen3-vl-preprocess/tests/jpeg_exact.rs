//! Our JPEG decoder against Pillow 13 (its bundled libjpeg-turbo) on every file that
//! `tools/reference/make_jpeg_fixtures.py` wrote: the decoded RGB must be equal byte for byte.
//! The reference tensors were computed by Pillow, never by this crate.

mod common;

use common::{Tensors, read};
use qwen3_vl_preprocess::image::{DecodeLimits, decode_rgb};

const REFERENCE: &str = "reference/jpeg_decode.safetensors";

#[test]
fn every_jpeg_fixture_decodes_exactly_as_pillow() {
    let t = Tensors::open(REFERENCE);
    let names = t.names();
    assert!(names.len() >= 20, "only {} JPEG fixtures", names.len());
    let mut failures = Vec::new();
    for name in &names {
        let want = t.rgb(name);
        let got = decode_rgb(&read(name), &DecodeLimits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.dimensions(), want.dimensions(), "{name}");
        let diffs: Vec<u8> = got.as_raw().iter().zip(want.as_raw()).map(|(a, b)| a.abs_diff(*b)).collect();
        let worst = diffs.iter().copied().max().unwrap_or(0);
        if worst > 0 {
            let off = diffs.iter().filter(|&&d| d > 0).count();
            failures.push(format!("{name}: {off} of {} samples differ, by up to {worst}", diffs.len()));
        }
    }
    assert!(failures.is_empty(), "decodes differing from Pillow:\n{}", failures.join("\n"));
}

#[test]
fn the_embedding_fixture_jpeg_has_the_same_reference_in_both_files() {
    // jpeg.safetensors (from make_fixtures.py, with the embedding) and jpeg_decode.safetensors
    // (from make_jpeg_fixtures.py) were written by separate runs of Pillow: they must agree.
    let a = Tensors::open("reference/jpeg.safetensors").rgb("decoded_rgb_0");
    let b = Tensors::open(REFERENCE).rgb("images/photo_120x90.jpg");
    assert_eq!(a, b);
}

#[test]
fn kinds_left_to_the_fallback_decoder_still_decode() {
    // CMYK is not reproduced exactly (see the jpeg module docs); it must still give an image.
    let rgb = decode_rgb(&read("images/jpeg/fallback_cmyk_q85_16x12.jpg"), &DecodeLimits::default()).unwrap();
    assert_eq!(rgb.dimensions(), (16, 12));
}

/// A JPEG's SOF marker, its components' sampling factors, and whether a DRI precedes the
/// first scan.
type Kind = (u8, Vec<(u8, u8)>, bool);

/// The [`Kind`] of a JPEG file, from its marker segments up to the first SOS.
fn describe(bytes: &[u8]) -> Kind {
    let (mut pos, mut dri, mut sof) = (2, false, None);
    loop {
        assert_eq!(bytes[pos], 0xFF, "marker expected at {pos}");
        let marker = bytes[pos + 1];
        let len = usize::from(u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]));
        let body = &bytes[pos + 4..pos + 2 + len];
        dri |= marker == 0xDD;
        if matches!(marker, 0xC0..=0xC2) {
            sof = Some((marker, body[6..].chunks_exact(3).map(|c| (c[1] >> 4, c[1] & 15)).collect()));
        }
        if marker == 0xDA {
            let (marker, sampling) = sof.expect("SOF before SOS");
            return (marker, sampling, dri);
        }
        pos += 2 + len;
    }
}

#[test]
fn the_fixtures_cover_what_the_decoder_claims() {
    let names = Tensors::open(REFERENCE).names();
    let kinds: Vec<Kind> = names.iter().map(|n| describe(&read(n))).collect();
    let has = |sof: u8, sampling: &[(u8, u8)]| kinds.iter().any(|(m, s, _)| *m == sof && s == sampling);
    assert!(has(0xC0, &[(2, 2), (1, 1), (1, 1)]), "baseline 4:2:0");
    assert!(has(0xC0, &[(2, 1), (1, 1), (1, 1)]), "baseline 4:2:2");
    assert!(has(0xC0, &[(1, 1), (1, 1), (1, 1)]), "baseline 4:4:4");
    assert!(has(0xC0, &[(4, 1), (1, 1), (1, 1)]), "baseline 4:1:1 (cjpeg)");
    assert!(has(0xC0, &[(1, 2), (1, 1), (1, 1)]), "baseline 4:4:0 (cjpeg)");
    assert!(has(0xC0, &[(1, 1)]), "baseline grey");
    assert!(has(0xC2, &[(2, 2), (1, 1), (1, 1)]), "progressive 4:2:0");
    assert!(has(0xC2, &[(1, 1), (1, 1), (1, 1)]), "progressive 4:4:4");
    assert!(has(0xC2, &[(1, 1)]), "progressive grey");
    assert!(kinds.iter().any(|(m, _, dri)| *m == 0xC0 && *dri), "baseline with restart markers");
    assert!(kinds.iter().any(|(m, _, dri)| *m == 0xC2 && *dri), "progressive with restart markers");
    let rgb = read("images/jpeg/cjpeg_rgb_q90_30x20.jpg");
    assert!(rgb.windows(5).any(|w| w == b"Adobe"), "RGB (Adobe transform 0) case");
    let exif = read("images/jpeg/exif_rotated_420_q85_24x16.jpg");
    assert!(exif.windows(6).any(|w| w == b"Exif\0\0"), "EXIF orientation case");
}
