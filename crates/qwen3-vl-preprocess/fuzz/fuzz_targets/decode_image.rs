//! `decode_rgb` on arbitrary bytes (PNG, JPEG through our own decoder, WebP, GIF), with small
//! limits so that allocations stay bounded: any input must give an image or a typed error.
#![no_main]

use qwen3_vl_preprocess::image::{DecodeLimits, decode_rgb};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits { max_width: 2048, max_height: 2048, max_alloc_bytes: 64 << 20 };
    let _ = decode_rgb(data, &limits);
});
