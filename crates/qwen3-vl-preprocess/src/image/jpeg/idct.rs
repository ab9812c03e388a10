//! libjpeg's accurate integer inverse DCT (`jpeg_idct_islow`, the default `JDCT_ISLOW`):
//! 13-bit fixed-point constants, 2 extra bits between the column and row passes, results
//! rounded, re-centred and range-limited. We follow libjpeg-turbo's C code step for step, in its
//! LP64 integer widths (64-bit `JLONG` products and sums, 32-bit `int` workspace) and with its
//! range-limit table, which wraps values beyond +-512 instead of clamping them.
//!
//! For every file a real encoder writes the coefficients stay in range, and libjpeg-turbo's
//! SIMD versions (SSE2, AVX2, NEON) give the same bytes as its C code, so we match Pillow
//! whichever one it runs. Corrupt data can produce coefficients that overflow the SIMD code's
//! 16-bit lanes; there the SIMD builds differ from the C code (and from each other), and we
//! give what the C code gives (checked against Pillow with `JSIMD_FORCENONE=1`).

const CONST_BITS: u32 = 13;
const PASS1_BITS: u32 = 2;

const FIX_0_298631336: i64 = 2446;
const FIX_0_390180644: i64 = 3196;
const FIX_0_541196100: i64 = 4433;
const FIX_0_765366865: i64 = 6270;
const FIX_0_899976223: i64 = 7373;
const FIX_1_175875602: i64 = 9633;
const FIX_1_501321110: i64 = 12299;
const FIX_1_847759065: i64 = 15137;
const FIX_1_961570560: i64 = 16069;
const FIX_2_053119869: i64 = 16819;
const FIX_2_562915447: i64 = 20995;
const FIX_3_072711026: i64 = 25172;

/// Rounding right shift (libjpeg's `DESCALE`).
#[inline(always)]
fn descale(x: i64, n: u32) -> i64 {
    x.wrapping_add(1 << (n - 1)) >> n
}

/// One 8-point 1-D IDCT on `s[0..8]` (dequantised coefficients or the column pass's output),
/// returning the eight outputs before descaling. The even/odd split and constants are
/// libjpeg's; the arithmetic is 64-bit like `JLONG` (wrapping only on absurd inputs).
#[inline(always)]
fn idct_1d(s: [i64; 8]) -> [i64; 8] {
    // Even part.
    let (z2, z3) = (s[2], s[6]);
    let z1 = z2.wrapping_add(z3).wrapping_mul(FIX_0_541196100);
    let tmp2 = z1.wrapping_add(z3.wrapping_mul(-FIX_1_847759065));
    let tmp3 = z1.wrapping_add(z2.wrapping_mul(FIX_0_765366865));
    let tmp0 = s[0].wrapping_add(s[4]).wrapping_shl(CONST_BITS);
    let tmp1 = s[0].wrapping_sub(s[4]).wrapping_shl(CONST_BITS);
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
    // Pass 1: columns, into a 32-bit (`int`) workspace. An all-zero AC column is a shortcut in
    // libjpeg with the same result.
    for col in 0..8 {
        // libjpeg keeps quantisers as `short`: a 16-bit table entry above 32767 is negative.
        let c = |row: usize| i64::from(coefs[row * 8 + col]) * i64::from(quant[row * 8 + col] as i16);
        if (1..8).all(|row| coefs[row * 8 + col] == 0) {
            let dc = (c(0) << PASS1_BITS) as i32;
            for row in 0..8 {
                ws[row * 8 + col] = dc;
            }
            continue;
        }
        let out1 = idct_1d([c(0), c(1), c(2), c(3), c(4), c(5), c(6), c(7)]);
        for (row, v) in out1.into_iter().enumerate() {
            ws[row * 8 + col] = descale(v, CONST_BITS - PASS1_BITS) as i32;
        }
    }
    // Pass 2: rows, then the range limit.
    for row in 0..8 {
        let w = &ws[row * 8..row * 8 + 8];
        let dst = &mut out[row * stride..row * stride + 8];
        if w[1..].iter().all(|&v| v == 0) {
            dst.fill(range_limit(descale(i64::from(w[0]), PASS1_BITS + 3)));
            continue;
        }
        let out2 = idct_1d(std::array::from_fn(|i| i64::from(w[i])));
        for (d, v) in dst.iter_mut().zip(out2) {
            *d = range_limit(descale(v, CONST_BITS + PASS1_BITS + 3));
        }
    }
}

/// A centred IDCT output as a sample through libjpeg's `IDCT_range_limit` table, indexed by the
/// low 10 bits: -128..=127 -> 0..=255, up to +511 -> 255, down to -512 -> 0, and beyond that the
/// index wraps (as in the C code; reached only by corrupt data).
#[inline(always)]
fn range_limit(v: i64) -> u8 {
    match (v & 1023) as u16 {
        m @ 0..128 => (m + 128) as u8,
        128..512 => 255,
        512..896 => 0,
        m => (m - 896) as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_limit_is_libjpegs_table() {
        assert_eq!([range_limit(-128), range_limit(0), range_limit(127)], [0, 128, 255]);
        assert_eq!([range_limit(128), range_limit(511), range_limit(-129), range_limit(-512)], [255, 255, 0, 0]);
        assert_eq!([range_limit(512), range_limit(1024), range_limit(-1024)], [0, 128, 128]);
    }

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
