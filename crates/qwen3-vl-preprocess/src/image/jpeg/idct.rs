//! libjpeg's accurate integer inverse DCT (`jpeg_idct_islow`, the default `JDCT_ISLOW`):
//! 13-bit fixed-point constants, 2 extra bits between the column and row passes, results
//! rounded and clamped to 0..=255. The integer steps are exact, so every SIMD flavour of
//! libjpeg-turbo gives the same bytes; we follow the C code's order of operations. Only
//! coefficients far outside what an 8-bit encoder can produce (overflowing 16 bits after
//! dequantisation) could come out differently: the SIMD code saturates where C wraps.

const CONST_BITS: u32 = 13;
const PASS1_BITS: u32 = 2;

const FIX_0_298631336: i32 = 2446;
const FIX_0_390180644: i32 = 3196;
const FIX_0_541196100: i32 = 4433;
const FIX_0_765366865: i32 = 6270;
const FIX_0_899976223: i32 = 7373;
const FIX_1_175875602: i32 = 9633;
const FIX_1_501321110: i32 = 12299;
const FIX_1_847759065: i32 = 15137;
const FIX_1_961570560: i32 = 16069;
const FIX_2_053119869: i32 = 16819;
const FIX_2_562915447: i32 = 20995;
const FIX_3_072711026: i32 = 25172;

/// Rounding right shift (libjpeg's `DESCALE`).
#[inline(always)]
fn descale(x: i32, n: u32) -> i32 {
    x.wrapping_add(1 << (n - 1)) >> n
}

/// One 8-point 1-D IDCT on `s[0..8]` (already dequantised or from the column pass), returning
/// the eight outputs before descaling. The even/odd split and constants are libjpeg's.
#[inline(always)]
fn idct_1d(s: [i32; 8], shift_in: u32) -> [i32; 8] {
    // Even part.
    let (z2, z3) = (s[2], s[6]);
    let z1 = z2.wrapping_add(z3).wrapping_mul(FIX_0_541196100);
    let tmp2 = z1.wrapping_add(z3.wrapping_mul(-FIX_1_847759065));
    let tmp3 = z1.wrapping_add(z2.wrapping_mul(FIX_0_765366865));
    let tmp0 = (s[0].wrapping_add(s[4])).wrapping_shl(shift_in);
    let tmp1 = (s[0].wrapping_sub(s[4])).wrapping_shl(shift_in);
    let tmp10 = tmp0.wrapping_add(tmp3);
    let tmp13 = tmp0.wrapping_sub(tmp3);
    let tmp11 = tmp1.wrapping_add(tmp2);
    let tmp12 = tmp1.wrapping_sub(tmp2);

    // Odd part.
    let (t0, t1, t2, t3) = (s[7], s[5], s[3], s[1]);
    let z1 = t0.wrapping_add(t3);
    let z2 = t1.wrapping_add(t2);
    let z3 = t0.wrapping_add(t2);
    let z4 = t1.wrapping_add(t3);
    let z5 = z3.wrapping_add(z4).wrapping_mul(FIX_1_175875602);
    let t0 = t0.wrapping_mul(FIX_0_298631336);
    let t1 = t1.wrapping_mul(FIX_2_053119869);
    let t2 = t2.wrapping_mul(FIX_3_072711026);
    let t3 = t3.wrapping_mul(FIX_1_501321110);
    let z1 = z1.wrapping_mul(-FIX_0_899976223);
    let z2 = z2.wrapping_mul(-FIX_2_562915447);
    let z3 = z3.wrapping_mul(-FIX_1_961570560).wrapping_add(z5);
    let z4 = z4.wrapping_mul(-FIX_0_390180644).wrapping_add(z5);
    let t0 = t0.wrapping_add(z1).wrapping_add(z3);
    let t1 = t1.wrapping_add(z2).wrapping_add(z4);
    let t2 = t2.wrapping_add(z2).wrapping_add(z3);
    let t3 = t3.wrapping_add(z1).wrapping_add(z4);

    [
        tmp10.wrapping_add(t3),
        tmp11.wrapping_add(t2),
        tmp12.wrapping_add(t1),
        tmp13.wrapping_add(t0),
        tmp13.wrapping_sub(t0),
        tmp12.wrapping_sub(t1),
        tmp11.wrapping_sub(t2),
        tmp10.wrapping_sub(t3),
    ]
}

/// Dequantises one block (natural order) and writes its 8x8 samples to `out` (row stride
/// `stride`).
pub(super) fn idct_block(coefs: &[i16], quant: &[u16; 64], out: &mut [u8], stride: usize) {
    let mut ws = [0i32; 64];
    // Pass 1: columns. An all-zero AC column is a shortcut in libjpeg with the same result.
    for col in 0..8 {
        // libjpeg keeps quantisers as `short`: a 16-bit table entry above 32767 is negative.
        let c = |row: usize| i32::from(coefs[row * 8 + col]) * i32::from(quant[row * 8 + col] as i16);
        if (1..8).all(|row| coefs[row * 8 + col] == 0) {
            let dc = c(0).wrapping_shl(PASS1_BITS);
            for row in 0..8 {
                ws[row * 8 + col] = dc;
            }
            continue;
        }
        let out1 = idct_1d([c(0), c(1), c(2), c(3), c(4), c(5), c(6), c(7)], CONST_BITS);
        for (row, v) in out1.into_iter().enumerate() {
            ws[row * 8 + col] = descale(v, CONST_BITS - PASS1_BITS);
        }
    }
    // Pass 2: rows, then +128 and clamp to a sample.
    for row in 0..8 {
        let w = &ws[row * 8..row * 8 + 8];
        let dst = &mut out[row * stride..row * stride + 8];
        if w[1..].iter().all(|&v| v == 0) {
            let v = clamp_sample(descale(w[0], PASS1_BITS + 3));
            dst.fill(v);
            continue;
        }
        let out2 = idct_1d([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]], CONST_BITS);
        for (d, v) in dst.iter_mut().zip(out2) {
            *d = clamp_sample(descale(v, CONST_BITS + PASS1_BITS + 3));
        }
    }
}

/// A centred IDCT output as a sample: +128, clamped (libjpeg's range-limit table).
#[inline(always)]
fn clamp_sample(v: i32) -> u8 {
    (v + 128).clamp(0, 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dc_only_block_is_flat() {
        let mut coefs = [0i16; 64];
        coefs[0] = 80; // 80 * quant 2 = 160 -> 160 / 8 = 20 -> 148
        let mut out = [0u8; 64];
        idct_block(&coefs, &[2; 64], &mut out, 8);
        assert!(out.iter().all(|&v| v == 148), "{out:?}");
    }

    #[test]
    fn ac_block_matches_the_float_idct_closely() {
        let mut coefs = [0i16; 64];
        coefs[0] = -30;
        coefs[1] = 12;
        coefs[9] = -7;
        coefs[63] = 3;
        let mut out = [0u8; 64];
        idct_block(&coefs, &[4; 64], &mut out, 8);
        for y in 0..8 {
            for x in 0..8 {
                let mut sum = 0.0f64;
                for v in 0..8 {
                    for u in 0..8 {
                        let cu = if u == 0 { std::f64::consts::FRAC_1_SQRT_2 } else { 1.0 };
                        let cv = if v == 0 { std::f64::consts::FRAC_1_SQRT_2 } else { 1.0 };
                        let c = f64::from(coefs[v * 8 + u]) * 4.0;
                        sum += cu
                            * cv
                            * c
                            * ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos()
                            * ((2 * y + 1) as f64 * v as f64 * std::f64::consts::PI / 16.0).cos();
                    }
                }
                let want = (sum / 4.0 + 128.0).round().clamp(0.0, 255.0);
                assert!((f64::from(out[y * 8 + x]) - want).abs() <= 1.0, "({x},{y}) {} vs {want}", out[y * 8 + x]);
            }
        }
    }
}
