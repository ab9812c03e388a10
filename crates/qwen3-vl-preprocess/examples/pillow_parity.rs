//! Development oracle driver for `tools/pillow_parity.py`: runs our resize and decode on inputs
//! the script generated with Pillow, so the script can compare byte for byte.
//!
//! `pillow_parity resize CASES OUT`: CASES holds records `[w, h, out_w, out_h]` (u32 LE) + RGB
//! bytes; OUT receives each resized image's RGB bytes, concatenated.
//! `pillow_parity decode FILE...`: writes `FILE.rgb` (u32 LE width, height, then RGB bytes), or
//! `FILE.err` with the error message.

use std::fs;

use qwen3_vl_preprocess::image::{DecodeLimits, decode_rgb, resize_bicubic};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("resize") => resize(&args[1], &args[2]),
        Some("decode") => args[1..].iter().for_each(|f| decode(f)),
        _ => eprintln!("usage: pillow_parity resize CASES OUT | decode FILE..."),
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn resize(cases: &str, out: &str) {
    let data = fs::read(cases).unwrap();
    let mut result = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let [w, h, ow, oh] = [0, 1, 2, 3].map(|i| u32_at(&data, at + 4 * i));
        at += 16;
        let n = (w * h * 3) as usize;
        let img = image::RgbImage::from_raw(w, h, data[at..at + n].to_vec()).unwrap();
        at += n;
        result.extend_from_slice(resize_bicubic(&img, ow, oh).as_raw());
    }
    fs::write(out, result).unwrap();
}

fn decode(file: &str) {
    let bytes = fs::read(file).unwrap();
    match decode_rgb(&bytes, &DecodeLimits::default()) {
        Ok(img) => {
            let mut out = Vec::new();
            out.extend_from_slice(&img.width().to_le_bytes());
            out.extend_from_slice(&img.height().to_le_bytes());
            out.extend_from_slice(img.as_raw());
            fs::write(format!("{file}.rgb"), out).unwrap();
        }
        Err(e) => fs::write(format!("{file}.err"), e.to_string()).unwrap(),
    }
}
