//! Decode time of our Pillow-exact JPEG decoder against zune-jpeg (the `image` crate's, which
//! this crate used before): `cargo run --release -p qwen3-vl-preprocess --example jpeg_speed
//! [FILE.jpg ...]`. Without files it encodes a synthetic 1280x800 screenshot (flat panels,
//! text-like strokes, a gradient picture) with `image`'s encoder at quality 85. Prints the
//! median of 15 decodes for each decoder.

use std::hint::black_box;
use std::time::Instant;

use image::{ImageFormat, RgbImage};
use qwen3_vl_preprocess::image::{DecodeLimits, decode_rgb};

fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    let inputs: Vec<(String, Vec<u8>)> = if files.is_empty() {
        vec![("synthetic 1280x800 (image encoder, q85)".into(), synthetic_screenshot())]
    } else {
        files.iter().map(|f| (f.clone(), std::fs::read(f).unwrap_or_else(|e| panic!("{f}: {e}")))).collect()
    };
    for (name, bytes) in inputs {
        let ours = median_ms(|| {
            black_box(decode_rgb(&bytes, &DecodeLimits::default()).expect("our decoder"));
        });
        let zune = median_ms(|| {
            black_box(image::load_from_memory_with_format(&bytes, ImageFormat::Jpeg).expect("zune-jpeg").to_rgb8());
        });
        let (w, h) = decode_rgb(&bytes, &DecodeLimits::default()).expect("our decoder").dimensions();
        println!("{name}: {w}x{h}, {} bytes: ours {ours:.2} ms, zune-jpeg {zune:.2} ms", bytes.len());
    }
}

/// Median wall time of 15 runs (after one warm-up), in milliseconds.
fn median_ms(mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..15)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// A screenshot-like picture, JPEG-encoded.
fn synthetic_screenshot() -> Vec<u8> {
    let (w, h) = (1280u32, 800u32);
    let img = RgbImage::from_fn(w, h, |x, y| {
        let text_row = y % 18 < 10 && (x / 7 + y / 18) % 5 != 0 && x % 7 < 5;
        if y < 40 {
            image::Rgb([40, 44, 52]) // title bar
        } else if x < 220 {
            if text_row && x > 16 { image::Rgb([200, 200, 210]) } else { image::Rgb([30, 33, 40]) }
        } else if (300..700).contains(&x) && (300..600).contains(&y) {
            image::Rgb([(x / 3) as u8, (y / 3) as u8, ((x + y) / 5) as u8]) // a picture
        } else if text_row && x > 240 && x < 1240 {
            image::Rgb([20, 20, 20])
        } else {
            image::Rgb([250, 250, 250])
        }
    });
    let mut out = Vec::new();
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
    enc.encode_image(&img).expect("encode");
    out
}
