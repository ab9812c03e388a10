//! The softmax of one score row, in place, with a branch-free `exp` the compiler vectorises.
//!
//! Why not `f32::exp`: it is a libm call per element, which no compiler vectorises; in burn's
//! CPU attention it was 11% of a 2B screenshot embedding (`perf`, benches/model/README.md).
//! Here one portable body ([`softmax_row_body`]) is compiled three times: for AVX-512F, for
//! AVX2+FMA, and for any target (SSE2 on x86-64, wasm32, aarch64's NEON by default), and the
//! widest the CPU has runs (see [`SoftmaxKernel`]).

use linear_kernels::Level;

/// Lanes per step: one zmm register of f32 (two ymm, four xmm); the compiler maps the arrays.
const LANES: usize = 16;

/// Which compilation of the softmax runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SoftmaxKernel {
    /// Portable Rust (whatever the target's baseline vectors are).
    Scalar,
    /// x86-64 AVX2 + FMA.
    Avx2,
    /// x86-64 AVX-512F.
    Avx512,
}

impl SoftmaxKernel {
    /// Every kernel, the most portable first.
    pub const ALL: [SoftmaxKernel; 3] = [SoftmaxKernel::Scalar, SoftmaxKernel::Avx2, SoftmaxKernel::Avx512];

    /// The kernel's short name.
    pub fn name(self) -> &'static str {
        match self {
            SoftmaxKernel::Scalar => "scalar",
            SoftmaxKernel::Avx2 => "avx2",
            SoftmaxKernel::Avx512 => "avx512",
        }
    }

    /// Whether this CPU can run the kernel (detected at run time).
    pub fn is_supported(self) -> bool {
        match self {
            SoftmaxKernel::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            SoftmaxKernel::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            SoftmaxKernel::Avx512 => is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            SoftmaxKernel::Avx2 | SoftmaxKernel::Avx512 => false,
        }
    }

    /// The kernel of a [`Level`] (the dot-product level has nothing more for a softmax).
    pub fn at_level(level: Level) -> SoftmaxKernel {
        match level {
            Level::Scalar => SoftmaxKernel::Scalar,
            Level::Avx2 => SoftmaxKernel::Avx2,
            Level::Avx512 | Level::Avx512Dot => SoftmaxKernel::Avx512,
        }
    }

    /// The level forced by `QWEN3_VL_CPU_KERNELS` if the CPU has it (a typed error if not),
    /// else the widest this CPU has.
    pub fn select() -> Result<SoftmaxKernel, linear_kernels::Error> {
        match Level::from_env()? {
            Some(level) => {
                let kernel = Self::at_level(level);
                match kernel.is_supported() {
                    true => Ok(kernel),
                    false => Err(linear_kernels::Error::Unsupported { kernel: kernel.name(), needs: kernel.needs() }),
                }
            }
            None => Ok(Self::ALL.into_iter().rev().find(|k| k.is_supported()).unwrap_or(SoftmaxKernel::Scalar)),
        }
    }

    /// The CPU features the kernel needs, for messages.
    pub fn needs(self) -> &'static str {
        match self {
            SoftmaxKernel::Scalar => "nothing",
            SoftmaxKernel::Avx2 => "x86-64 avx2 and fma",
            SoftmaxKernel::Avx512 => "x86-64 avx512f",
        }
    }

    /// Replaces `row` by `exp(row - max(row))` and returns the sum of the new values
    /// (the caller divides by it, once per output row instead of once per score).
    pub fn exp_shifted(self, row: &mut [f32]) -> f32 {
        match self {
            SoftmaxKernel::Scalar => softmax_row_body(row),
            // SAFETY: `select` (or a caller's `is_supported` check) detected the features.
            #[cfg(target_arch = "x86_64")]
            SoftmaxKernel::Avx2 if self.is_supported() => unsafe { softmax_row_avx2(row) },
            #[cfg(target_arch = "x86_64")]
            SoftmaxKernel::Avx512 if self.is_supported() => unsafe { softmax_row_avx512(row) },
            // A kernel the CPU lacks: never reached through `select`; stay correct regardless.
            _ => softmax_row_body(row),
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn softmax_row_avx2(row: &mut [f32]) -> f32 {
    softmax_row_body(row)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn softmax_row_avx512(row: &mut [f32]) -> f32 {
    softmax_row_body(row)
}

/// Two passes over `row`: the maximum, then `exp(x - max)` in place and the sum. Lane arrays
/// keep each pass free of loop-carried scalar dependencies, so it vectorises.
#[inline(always)]
fn softmax_row_body(row: &mut [f32]) -> f32 {
    let mut max = [f32::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (m, &x) in max.iter_mut().zip(chunk) {
            *m = if x > *m { x } else { *m };
        }
    }
    let max = chunks.remainder().iter().chain(&max).fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m });

    let mut sum = [0.0f32; LANES];
    let mut chunks = row.chunks_exact_mut(LANES);
    for chunk in &mut chunks {
        for (s, x) in sum.iter_mut().zip(chunk.iter_mut()) {
            *x = exp(*x - max);
            *s += *x;
        }
    }
    let mut total = 0.0f32;
    for x in chunks.into_remainder() {
        *x = exp(*x - max);
        total += *x;
    }
    total + sum.iter().sum::<f32>()
}

/// `e^x` for `x <= 0` (what a shifted softmax feeds it), relative error below 2 ulp down to
/// `x = -87`; below that (weights under 1e-38 next to the row's maximum of 1) it returns
/// `e^-87`'s neighbourhood instead of a denormal or zero, which no sum can notice.
///
/// Cephes' `expf`: `x = n ln 2 + r` with `|r| <= ln 2 / 2`, a degree-5 polynomial for `e^r`,
/// and `2^n` built in the exponent bits. `n` is rounded with the 1.5 * 2^23 trick rather than
/// `round()`, so every step is a plain vector instruction.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split so n * LN2_HI is exact for |n| < 2^9.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const ROUND: f32 = 12_582_912.0; // 1.5 * 2^23
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let er = p * r * r + r + 1.0;
    // The low bits of `shifted` hold n (two's complement, offset by ROUND's mantissa).
    let n_int = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    let two_n = f32::from_bits(((n_int + 127) as u32) << 23);
    er * two_n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn exp_is_within_two_ulp_of_libm_over_the_softmax_range() {
        let mut worst = 0;
        for i in 0..=870_000 {
            let x = -(i as f32) * 1e-4;
            let want = ((x as f64).exp()) as f32;
            worst = worst.max(ulps(exp(x), want));
        }
        assert!(worst <= 2, "worst error {worst} ulp");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1000.0) < 1e-37 && exp(-1000.0) >= 0.0);
        assert!(exp(f32::NEG_INFINITY) < 1e-37);
    }

    #[test]
    fn every_kernel_matches_a_float64_softmax_on_awkward_lengths() {
        for kernel in SoftmaxKernel::ALL.into_iter().filter(|k| k.is_supported()) {
            for len in [1usize, 3, 15, 16, 17, 33, 100, 1027] {
                let row: Vec<f32> = (0..len).map(|i| ((i * 7919 % 113) as f32 - 60.0) * 0.37).collect();
                let max = row.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
                let want: Vec<f64> = row.iter().map(|&x| (x as f64 - max).exp()).collect();
                let want_sum: f64 = want.iter().sum();
                let mut got = row.clone();
                let sum = kernel.exp_shifted(&mut got);
                assert!(((sum as f64) - want_sum).abs() <= 1e-6 * want_sum, "{} len {len}", kernel.name());
                // Each weight within 1e-6 of itself or, for weights far below the maximum (where
                // rounding the f32 input `x - max` alone moves the result by more), of the row's
                // total.
                for (g, w) in got.iter().zip(&want) {
                    let bound = 1e-6 * w.max(1e-3 * want_sum);
                    assert!((*g as f64 - w).abs() <= bound, "{} len {len}: {g} vs {w}", kernel.name());
                }
            }
        }
    }
}
