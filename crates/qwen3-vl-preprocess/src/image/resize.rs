//! Pillow's `Image.resize(size, BICUBIC)` for 8-bit RGB, reproduced byte for byte (Pillow's
//! `src/libImaging/Resample.c`: `precompute_coeffs`, `ImagingResampleHorizontal_8bpc`,
//! `ImagingResampleVertical_8bpc`).
//!
//! Why not `image::imageops::resize`: it works in f32 without clipping between passes, which
//! differs from Pillow by up to 19 levels near hard edges. Pillow runs two 1-D passes with
//! 22-bit fixed-point weights and a clipped u8 intermediate; the reference resized with
//! exactly that (Pillow 13.0.0), so we compute exactly that, pass order included.

use ::image::RgbImage;

/// Fixed-point fraction bits of Pillow's 8-bit resampler.
const PRECISION_BITS: u32 = 22;
/// Keys cubic with a = -0.5 (Pillow's BICUBIC); its support is 2 input pixels.
const CUBIC_A: f64 = -0.5;
const CUBIC_SUPPORT: f64 = 2.0;

/// Resizes like Pillow's BICUBIC: two separable passes, each skipped when its dimension is
/// unchanged; the same size returns a copy.
pub fn resize_bicubic(src: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (in_w, in_h) = src.dimensions();
    if width == 0 || height == 0 || in_w == 0 || in_h == 0 {
        return RgbImage::new(width, height);
    }
    let need_horizontal = width != in_w;
    let need_vertical = height != in_h;
    let horizontal = Weights::new(in_w, width);
    let mut vertical = Weights::new(in_h, height);
    let mut current = src.clone();
    if horizontal_first(in_w, in_h, width, height) {
        if need_horizontal {
            // Only the source rows that some output row reads are resampled horizontally.
            let first_row = vertical.bounds[0].0;
            let last = vertical.bounds[vertical.bounds.len() - 1];
            for bound in &mut vertical.bounds {
                bound.0 -= first_row;
            }
            current = resample_horizontal(&current, &horizontal, first_row, last.0 + last.1);
        }
        if need_vertical {
            current = resample_vertical(&current, &vertical);
        }
    } else {
        current = resample_vertical(&current, &vertical);
        if need_horizontal {
            current = resample_horizontal(&current, &horizontal, 0, height as usize);
        }
    }
    current
}

/// Pillow 13's pass order (`ImagingResampleInner`): vertical first only when the height
/// shrinks by more than twice as many pixels as the width does, horizontal first otherwise.
/// The order changes the result, since the intermediate image is clipped to u8. (Pillow 12
/// and earlier always went horizontal first.)
fn horizontal_first(in_w: u32, in_h: u32, out_w: u32, out_h: u32) -> bool {
    let shrink_h = i64::from(in_h) - i64::from(out_h);
    let shrink_w = i64::from(in_w) - i64::from(out_w);
    !(shrink_h > 0 && shrink_h > shrink_w * 2)
}

/// Keys' cubic convolution kernel, written with Pillow's evaluation order so the f64 weights
/// round identically.
fn cubic(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        ((CUBIC_A + 2.0) * x - (CUBIC_A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * CUBIC_A
    } else {
        0.0
    }
}

/// Per output index: the first input index and tap count, and `taps` fixed-point weights.
struct Weights {
    bounds: Vec<(usize, usize)>,
    taps: usize,
    coeffs: Vec<i32>,
}

impl Weights {
    /// Pillow's `precompute_coeffs` followed by `normalize_coeffs_8bpc`.
    fn new(in_size: u32, out_size: u32) -> Self {
        // Pillow takes the input extent from a float box (exact below 2^24 pixels).
        let scale = f64::from(in_size as f32) / f64::from(out_size);
        // Downscaling widens the kernel (antialiasing); upscaling keeps it at 2 pixels.
        let filterscale = scale.max(1.0);
        let support = CUBIC_SUPPORT * filterscale;
        let taps = support.ceil() as usize * 2 + 1;
        // A multiplication by the reciprocal, as Pillow does, not a division: ulp-exactness.
        let ss = 1.0 / filterscale;
        let mut bounds = Vec::with_capacity(out_size as usize);
        let mut coeffs = vec![0i32; out_size as usize * taps];
        let mut k = vec![0.0f64; taps];
        for xx in 0..out_size as usize {
            let center = (xx as f64 + 0.5) * scale;
            // C's (int) cast truncates toward zero; negatives clamp to 0 either way.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let end = ((center + support + 0.5) as i64).min(i64::from(in_size));
            let xmax = (end - xmin as i64).clamp(0, taps as i64) as usize;
            let mut total = 0.0;
            for (x, w) in k.iter_mut().enumerate().take(xmax) {
                *w = cubic((x as f64 + xmin as f64 - center + 0.5) * ss);
                total += *w;
            }
            let row = &mut coeffs[xx * taps..xx * taps + xmax];
            for (c, &w) in row.iter_mut().zip(&k) {
                let w = if total != 0.0 { w / total } else { w };
                *c = to_fixed(w);
            }
            bounds.push((xmin, xmax));
        }
        Self { bounds, taps, coeffs }
    }

    fn of(&self, out_index: usize) -> (usize, &[i32]) {
        let (min, len) = self.bounds[out_index];
        (min, &self.coeffs[out_index * self.taps..out_index * self.taps + len])
    }
}

/// Rounds half away from zero into 22-bit fixed point, as `normalize_coeffs_8bpc`.
fn to_fixed(w: f64) -> i32 {
    let scaled = w * f64::from(1u32 << PRECISION_BITS);
    if w < 0.0 { (scaled - 0.5) as i32 } else { (scaled + 0.5) as i32 }
}

/// Fixed-point accumulator start: one half, so the final shift rounds to nearest.
const ROUND_HALF: i32 = 1 << (PRECISION_BITS - 1);

/// Pillow's `clip8`: shift out the fraction and saturate to a byte.
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resamples rows `first_row..end_row` of `src` to the new width.
fn resample_horizontal(src: &RgbImage, w: &Weights, first_row: usize, end_row: usize) -> RgbImage {
    let out_w = w.bounds.len();
    let in_row_len = src.width() as usize * 3;
    let rows = end_row - first_row;
    let mut out = vec![0u8; out_w * rows * 3];
    let pixels = src.as_raw();
    for (y, out_row) in out.chunks_exact_mut(out_w * 3).enumerate() {
        let row = &pixels[(first_row + y) * in_row_len..][..in_row_len];
        for (xx, px) in out_row.chunks_exact_mut(3).enumerate() {
            let (xmin, k) = w.of(xx);
            let mut acc = [ROUND_HALF; 3];
            for (x, &c) in k.iter().enumerate() {
                let p = &row[(xmin + x) * 3..][..3];
                for ch in 0..3 {
                    acc[ch] = acc[ch].wrapping_add(i32::from(p[ch]).wrapping_mul(c));
                }
            }
            for ch in 0..3 {
                px[ch] = clip8(acc[ch]);
            }
        }
    }
    RgbImage::from_raw(out_w as u32, rows as u32, out).expect("buffer sized to the image")
}

/// Resamples every column of `src` to the new height.
fn resample_vertical(src: &RgbImage, w: &Weights) -> RgbImage {
    let out_h = w.bounds.len();
    let row_len = src.width() as usize * 3;
    let pixels = src.as_raw();
    let mut out = vec![0u8; row_len * out_h];
    let mut acc = vec![0i32; row_len];
    for (yy, out_row) in out.chunks_exact_mut(row_len).enumerate() {
        let (ymin, k) = w.of(yy);
        acc.fill(ROUND_HALF);
        for (y, &c) in k.iter().enumerate() {
            let row = &pixels[(ymin + y) * row_len..][..row_len];
            for (a, &p) in acc.iter_mut().zip(row) {
                *a = a.wrapping_add(i32::from(p).wrapping_mul(c));
            }
        }
        for (o, &a) in out_row.iter_mut().zip(&acc) {
            *o = clip8(a);
        }
    }
    RgbImage::from_raw(src.width(), out_h as u32, out).expect("buffer sized to the image")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| ::image::Rgb([(x * 7) as u8, (y * 13) as u8, ((x ^ y) * 5) as u8]))
    }

    #[test]
    fn same_size_is_a_copy() {
        let img = gradient(17, 9);
        assert_eq!(resize_bicubic(&img, 17, 9), img);
    }

    #[test]
    fn constant_image_stays_constant() {
        // Weights sum to 1 in fixed point up to rounding; a flat colour must survive any scale.
        let img = RgbImage::from_pixel(37, 23, ::image::Rgb([200, 3, 128]));
        for (w, h) in [(64, 64), (5, 3), (37, 100), (1, 1), (200, 23)] {
            let out = resize_bicubic(&img, w, h);
            assert_eq!(out.dimensions(), (w, h));
            assert!(out.pixels().all(|p| p.0 == [200, 3, 128]), "{w}x{h}");
        }
    }

    #[test]
    fn pass_order_follows_pillow_13() {
        assert!(horizontal_first(100, 100, 50, 50));
        assert!(horizontal_first(88, 166, 96, 170)); // both up
        assert!(!horizontal_first(88, 166, 96, 160)); // width up, height down
        assert!(horizontal_first(298, 133, 197, 51)); // 82 rows vs 2 * 101 columns
        assert!(!horizontal_first(282, 206, 254, 25)); // 181 rows vs 2 * 28 columns
        assert!(horizontal_first(100, 100, 90, 80)); // 20 == 2 * 10 is not "more than"
    }

    #[test]
    fn kernel_matches_keys_values() {
        assert_eq!(cubic(0.0), 1.0);
        assert_eq!(cubic(1.0), 0.0);
        assert_eq!(cubic(2.0), 0.0);
        assert_eq!(cubic(0.5), 0.5625);
        assert_eq!(cubic(-1.5), -0.0625);
    }
}
