//! Symmetric 4-bit quantization of one 32-block of weights (llama.cpp's Q4_0 rule, with the
//! scale rounded to f16 first so a checkpoint can store it losslessly in 2 bytes).

use half::f16;

use crate::q8::BLOCK;
use crate::q8::quant::{abs_max, round_to_i32};

/// The stored 4-bit code of a weight q in [-8, 7]: q + 8 in 0..=15, an unsigned nibble, the
/// u8 operand of `vpdpbusd` and `vpmaddubsw`. A zero weight (and padding) is code 8.
pub(crate) const ZERO_CODE: u8 = 8;

/// Quantizes `v` to codes (`q + 8`) and returns the scale d with `v ≈ d · q`.
///
/// d = f16(m / -8), m the value of largest magnitude, so m itself maps to q = -8 exactly and
/// all 16 codes are used; `q = clamp(round_half_even(v / d), -8, 7)`. Every value is within
/// |d| / 2 of `d q`, except values of m's opposite sign near |m|, clamped at 7: within |d|
/// (plus the f16 rounding of d, 2^-11 relative). A block whose d rounds to zero in f16 (|m|
/// below ~5e-7) is all zeros; a d past f16's range saturates at ±65504 (weights are far
/// smaller; the values then clamp instead of becoming infinite). Values must be finite.
pub(crate) fn quantize_block(v: &[f32; BLOCK], codes: &mut [u8; BLOCK]) -> f32 {
    // The first value of the largest magnitude (what a serial "larger than" scan keeps),
    // found after an eight-lane max that vectorizes: the serial scan is a chain of 32
    // dependent compares, most of a q4 load's quantization time.
    let amax = abs_max(v);
    let m = v.iter().copied().find(|x| x.abs() == amax).unwrap_or(0.0);
    let d = f16::from_f32((m / -8.0).clamp(-65504.0, 65504.0)).to_f32();
    if d == 0.0 {
        *codes = [ZERO_CODE; BLOCK];
        return 0.0;
    }
    let inv = 1.0 / d;
    for (c, &x) in codes.iter_mut().zip(v) {
        // |x · inv| <= 8 (1 + 2^-10): far inside the magic-number rounding's 2^22.
        let q = round_to_i32(x * inv).clamp(-8, 7);
        *c = (q + 8) as u8;
    }
    d
}
