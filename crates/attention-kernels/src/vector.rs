//! What every vectorised function of this crate shares: the kernel levels ([`VectorKernel`]),
//! a branch-free `exp` the compiler vectorises, and [`vectorised!`], which compiles one portable
//! body three times (AVX-512F, AVX2+FMA, and the target's baseline: SSE2 on x86-64, SIMD128 on
//! a wasm32 build with it, NEON on aarch64) and runs the widest the CPU has.
//!
//! Why not `f32::exp`: it is a libm call per element, which no compiler vectorises; in burn's
//! CPU attention it was 11% of a 2B screenshot embedding (`perf`, benches/model/README.md).

use linear_kernels::Level;

/// Which compilation of the vectorised functions (softmax, activations) runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorKernel {
    /// Portable Rust (whatever the target's baseline vectors are).
    Scalar,
    /// x86-64 AVX2 + FMA.
    Avx2,
    /// x86-64 AVX-512F.
    Avx512,
}

impl VectorKernel {
    /// Every kernel, the most portable first.
    pub const ALL: [VectorKernel; 3] = [VectorKernel::Scalar, VectorKernel::Avx2, VectorKernel::Avx512];

    /// The kernel's short name.
    pub fn name(self) -> &'static str {
        match self {
            VectorKernel::Scalar => "scalar",
            VectorKernel::Avx2 => "avx2",
            VectorKernel::Avx512 => "avx512",
        }
    }

    /// Whether this CPU can run the kernel (detected at run time).
    pub fn is_supported(self) -> bool {
        match self {
            VectorKernel::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            VectorKernel::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            VectorKernel::Avx512 => is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            VectorKernel::Avx2 | VectorKernel::Avx512 => false,
        }
    }

    /// The kernel of a [`Level`] (the dot-product level has nothing more for elementwise work).
    pub fn at_level(level: Level) -> VectorKernel {
        match level {
            Level::Scalar => VectorKernel::Scalar,
            Level::Avx2 => VectorKernel::Avx2,
            Level::Avx512 | Level::Avx512Dot => VectorKernel::Avx512,
        }
    }

    /// The level forced by `QWEN3_VL_CPU_KERNELS` if the CPU has it (a typed error if not),
    /// else the widest this CPU has.
    pub fn select() -> Result<VectorKernel, linear_kernels::Error> {
        match Level::from_env()? {
            Some(level) => {
                let kernel = Self::at_level(level);
                match kernel.is_supported() {
                    true => Ok(kernel),
                    false => Err(linear_kernels::Error::Unsupported { kernel: kernel.name(), needs: kernel.needs() }),
                }
            }
            None => Ok(Self::ALL.into_iter().rev().find(|k| k.is_supported()).unwrap_or(VectorKernel::Scalar)),
        }
    }

    /// The CPU features the kernel needs, for messages.
    pub fn needs(self) -> &'static str {
        match self {
            VectorKernel::Scalar => "nothing",
            VectorKernel::Avx2 => "x86-64 avx2 and fma",
            VectorKernel::Avx512 => "x86-64 avx512f",
        }
    }
}

/// Defines `$name(kernel, args..) -> ret`, which runs the `#[inline(always)]` function `$body`
/// compiled for `kernel`'s features (the baseline compilation when the CPU lacks them, so a
/// caller that skipped [`VectorKernel::select`] stays correct).
macro_rules! vectorised {
    ($(#[$doc:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty = $body:ident;) => {
        $(#[$doc])*
        $vis fn $name(kernel: $crate::vector::VectorKernel, $($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            fn avx2($($arg: $ty),*) -> $ret {
                $body($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f")]
            fn avx512($($arg: $ty),*) -> $ret {
                $body($($arg),*)
            }
            match kernel {
                $crate::vector::VectorKernel::Scalar => $body($($arg),*),
                // SAFETY (both arms): `is_supported` detected the features just now.
                #[cfg(target_arch = "x86_64")]
                $crate::vector::VectorKernel::Avx2 if kernel.is_supported() => unsafe { avx2($($arg),*) },
                #[cfg(target_arch = "x86_64")]
                $crate::vector::VectorKernel::Avx512 if kernel.is_supported() => unsafe { avx512($($arg),*) },
                _ => $body($($arg),*),
            }
        }
    };
}
pub(crate) use vectorised;

/// `e^x`, relative error below 2 ulp on [-87, 88]; `x` is clamped to that range first, so
/// below it (weights under 1e-38 next to a softmax row's maximum of 1) it returns `e^-87`'s
/// neighbourhood instead of a denormal or zero, which no sum can notice, and above it
/// `e^88` (~1.7e38) instead of infinity, which a sigmoid's `1 / (1 + e^-x)` cannot tell apart.
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
    fn exp_is_within_two_ulp_of_libm_for_positive_arguments_and_saturates_above() {
        let mut worst = 0;
        for i in 0..=880_000 {
            let x = i as f32 * 1e-4;
            worst = worst.max(ulps(exp(x), ((x as f64).exp()) as f32));
        }
        assert!(worst <= 2, "worst error {worst} ulp");
        assert!(exp(1000.0).is_finite() && exp(1000.0) > 1e38);
    }
}
