//! YCbCr -> RGB with libjpeg's fixed-point tables (`jdcolor.c`, `build_ycc_rgb_table`):
//! 16 fraction bits, each chroma term rounded on its own for R and B, the two G terms summed
//! before one rounding shift.

const SCALEBITS: u32 = 16;
const ONE_HALF: i32 = 1 << (SCALEBITS - 1);
/// `FIX(1.40200)`, `FIX(1.77200)`, `FIX(0.71414)`, `FIX(0.34414)`: `(x * 65536 + 0.5)` truncated.
const FIX_1_40200: i32 = 91881;
const FIX_1_77200: i32 = 116130;
const FIX_0_71414: i32 = 46802;
const FIX_0_34414: i32 = 22554;

/// The four per-chroma-value tables.
pub(super) struct YccToRgb {
    cr_r: [i32; 256],
    cb_b: [i32; 256],
    cr_g: [i32; 256],
    cb_g: [i32; 256],
}

impl YccToRgb {
    /// Builds the tables.
    pub(super) fn new() -> Self {
        let mut t = Self { cr_r: [0; 256], cb_b: [0; 256], cr_g: [0; 256], cb_g: [0; 256] };
        for i in 0..256 {
            let x = i as i32 - 128;
            t.cr_r[i] = (FIX_1_40200 * x + ONE_HALF) >> SCALEBITS;
            t.cb_b[i] = (FIX_1_77200 * x + ONE_HALF) >> SCALEBITS;
            t.cr_g[i] = -FIX_0_71414 * x;
            // ONE_HALF rides along with the Cb term so the sum is rounded once.
            t.cb_g[i] = -FIX_0_34414 * x + ONE_HALF;
        }
        t
    }

    /// Converts one row; `out` holds 3 bytes per sample of `y`.
    pub(super) fn convert_row(&self, y: &[u8], cb: &[u8], cr: &[u8], out: &mut [u8]) {
        for (((px, &y), &cb), &cr) in out.chunks_exact_mut(3).zip(y).zip(cb).zip(cr) {
            let (y, cb, cr) = (i32::from(y), usize::from(cb), usize::from(cr));
            px[0] = clamp(y + self.cr_r[cr]);
            px[1] = clamp(y + ((self.cb_g[cb] + self.cr_g[cr]) >> SCALEBITS));
            px[2] = clamp(y + self.cb_b[cb]);
        }
    }
}

/// libjpeg's `range_limit` for colour sums (they stay within -256..=511, so a clamp).
#[inline(always)]
fn clamp(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_libjpeg_fix() {
        let fix = |x: f64| (x * 65536.0 + 0.5) as i32;
        assert_eq!(
            [FIX_1_40200, FIX_1_77200, FIX_0_71414, FIX_0_34414],
            [fix(1.402), fix(1.772), fix(0.71414), fix(0.34414)]
        );
    }

    #[test]
    fn grey_stays_grey_and_extremes_clamp() {
        let t = YccToRgb::new();
        let mut out = [0u8; 6];
        t.convert_row(&[90, 255], &[128, 0], &[128, 255], &mut out);
        assert_eq!(&out[..3], &[90, 90, 90]);
        assert_eq!(out[3], 255);
    }
}
