//! Which kernel runs: the best one the CPU has, unless `QWEN3_VL_CPU_KERNELS` caps it.
//!
//! The variable names a *level*, so one setting tests one family of paths for both weight
//! formats (CI on a Zen 4 machine can run the AVX2 and scalar paths too):
//!
//! | value                              | bf16 weights        | int8 weights          |
//! |------------------------------------|---------------------|-----------------------|
//! | unset, empty or `auto`             | best the CPU has (Intel: AVX-512F, see `Bf16Kernel::fastest_here`) | best the CPU has |
//! | `scalar`                           | portable Rust       | portable Rust         |
//! | `avx2`                             | AVX2+FMA, widened   | AVX2 `vpmaddubsw`     |
//! | `avx512`                           | AVX-512F, widened   | AVX2 (no separate AVX-512 path without VNNI) |
//! | `avx512dot` (`avx512bf16`, `vnni`) | AVX-512 BF16        | AVX-512 VNNI          |
//!
//! A forced level the CPU lacks is an [`Error::Unsupported`] from the matmul call, never
//! undefined behaviour: every SIMD path is only entered after its features were detected.

use std::sync::OnceLock;

use crate::Error;

/// The environment variable that caps the kernel level.
pub const ENV_VAR: &str = "QWEN3_VL_CPU_KERNELS";

/// The values [`ENV_VAR`] accepts, for messages.
pub(crate) const LEVEL_NAMES: &str = "auto, scalar, avx2, avx512, avx512dot (alias avx512bf16, vnni)";

/// A family of kernels, ordered from the most portable to the fastest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Portable Rust, any target (wasm32 included).
    Scalar,
    /// x86-64 AVX2 + FMA (Zen 3, Haswell and later).
    Avx2,
    /// AVX-512F/BW without the dot-product instructions.
    Avx512,
    /// AVX-512 with `vdpbf16ps` (BF16) and `vpdpbusd` (VNNI): Zen 4, Sapphire Rapids.
    Avx512Dot,
}

impl Level {
    /// Parses a value of [`ENV_VAR`]; `None` means "auto" (no cap).
    pub fn parse(value: &str) -> Result<Option<Level>, Error> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(None),
            "scalar" => Ok(Some(Level::Scalar)),
            "avx2" => Ok(Some(Level::Avx2)),
            "avx512" => Ok(Some(Level::Avx512)),
            "avx512dot" | "avx512bf16" | "vnni" => Ok(Some(Level::Avx512Dot)),
            _ => Err(Error::BadEnv { value: value.to_owned() }),
        }
    }

    /// The level forced by [`ENV_VAR`], read once per process.
    pub fn from_env() -> Result<Option<Level>, Error> {
        static FORCED: OnceLock<Result<Option<Level>, Error>> = OnceLock::new();
        FORCED
            .get_or_init(|| match std::env::var(ENV_VAR) {
                Ok(value) => Level::parse(&value),
                Err(_) => Ok(None),
            })
            .clone()
    }
}

/// A kernel for bf16 weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bf16Kernel {
    /// Portable Rust; f32 products of the exact activations.
    Scalar,
    /// AVX2+FMA: bf16 widened to f32 in registers; exact activations.
    Avx2,
    /// AVX-512F: bf16 widened to f32 in registers; exact activations.
    Avx512,
    /// AVX-512 BF16 `vdpbf16ps`: activations are rounded to bf16 first (relative error
    /// at most 2^-8 per activation), products of bf16 pairs accumulate in f32.
    Avx512Bf16,
}

impl Bf16Kernel {
    /// Every bf16 kernel, the most portable first.
    pub const ALL: [Bf16Kernel; 4] = [Bf16Kernel::Scalar, Bf16Kernel::Avx2, Bf16Kernel::Avx512, Bf16Kernel::Avx512Bf16];

    /// The kernel's short name.
    pub fn name(self) -> &'static str {
        match self {
            Bf16Kernel::Scalar => "scalar",
            Bf16Kernel::Avx2 => "avx2",
            Bf16Kernel::Avx512 => "avx512",
            Bf16Kernel::Avx512Bf16 => "avx512bf16",
        }
    }

    /// The CPU features the kernel needs, for messages.
    pub fn needs(self) -> &'static str {
        match self {
            Bf16Kernel::Scalar => "nothing",
            Bf16Kernel::Avx2 => "x86-64 avx2 and fma",
            Bf16Kernel::Avx512 => "x86-64 avx512f and avx512bw",
            Bf16Kernel::Avx512Bf16 => "x86-64 avx512bf16, avx512f, avx512bw and avx512vl",
        }
    }

    /// Whether this CPU can run the kernel (detected at run time).
    pub fn is_supported(self) -> bool {
        match self {
            Bf16Kernel::Scalar => true,
            Bf16Kernel::Avx2 => cpu::avx2_fma(),
            Bf16Kernel::Avx512 => cpu::avx512(),
            Bf16Kernel::Avx512Bf16 => cpu::avx512bf16(),
        }
    }

    /// The kernel of a level.
    pub fn at_level(level: Level) -> Bf16Kernel {
        match level {
            Level::Scalar => Bf16Kernel::Scalar,
            Level::Avx2 => Bf16Kernel::Avx2,
            Level::Avx512 => Bf16Kernel::Avx512,
            Level::Avx512Dot => Bf16Kernel::Avx512Bf16,
        }
    }

    /// The kernel to use: the level forced by [`ENV_VAR`], else the fastest supported one
    /// ([`Self::fastest_here`]).
    pub fn select() -> Result<Bf16Kernel, Error> {
        let kernel = match Level::from_env()? {
            Some(level) => Self::at_level(level),
            None => Self::fastest_here(),
        };
        kernel.check()?;
        Ok(kernel)
    }

    /// The fastest kernel this CPU runs. `vdpbf16ps` is not fast everywhere: measured with
    /// `examples/linear_speed.rs` (2 threads, the 2B's shapes), it runs at ~2x the widening
    /// AVX-512F kernel on Zen 4 (137-157 against 51-76 GFLOP/s at M = 32), but at ~0.7x on an
    /// Intel Xeon with AMX (201-214 against 285-321 at M = 32 and 280), where it issues on one
    /// port while FMAs issue on two. Intel CPUs therefore take the AVX-512F kernel, which also
    /// multiplies the exact f32 activations.
    pub fn fastest_here() -> Bf16Kernel {
        let fastest = *Self::ALL.iter().rev().find(|k| k.is_supported()).unwrap_or(&Bf16Kernel::Scalar);
        if fastest == Bf16Kernel::Avx512Bf16 && cpu::is_intel() { Bf16Kernel::Avx512 } else { fastest }
    }

    /// `Ok` when the CPU can run the kernel, else the typed error that says what is missing.
    pub fn check(self) -> Result<(), Error> {
        check(self.is_supported(), self.name(), self.needs())
    }
}

/// A kernel for int8 weights with per-block scales.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Q8Kernel {
    /// Portable Rust, i32 dot products per block.
    Scalar,
    /// wasm32 SIMD128 `i32x4.dot_i16x8_s` on widened bytes: builds for wasm32 with
    /// `-C target-feature=+simd128` (every current browser and Node runs them).
    Simd128,
    /// AVX2 `vpmaddubsw` + `vpmaddwd` with the sign trick (no i16 saturation).
    Avx2,
    /// AVX-512 VNNI `vpdpbusd` with activations offset by +128 and a per-column correction.
    Avx512Vnni,
}

impl Q8Kernel {
    /// Every int8 kernel, the most portable first.
    pub const ALL: [Q8Kernel; 4] = [Q8Kernel::Scalar, Q8Kernel::Simd128, Q8Kernel::Avx2, Q8Kernel::Avx512Vnni];

    /// The kernel's short name.
    pub fn name(self) -> &'static str {
        match self {
            Q8Kernel::Scalar => "scalar",
            Q8Kernel::Simd128 => "simd128",
            Q8Kernel::Avx2 => "avx2",
            Q8Kernel::Avx512Vnni => "vnni",
        }
    }

    /// The CPU features the kernel needs, for messages.
    pub fn needs(self) -> &'static str {
        match self {
            Q8Kernel::Scalar => "nothing",
            Q8Kernel::Simd128 => "a wasm32 build with -C target-feature=+simd128",
            Q8Kernel::Avx2 => "x86-64 avx2 and fma",
            Q8Kernel::Avx512Vnni => "x86-64 avx512vnni, avx512f and avx512bw",
        }
    }

    /// Whether this CPU can run the kernel (detected at run time).
    pub fn is_supported(self) -> bool {
        match self {
            Q8Kernel::Scalar => true,
            // wasm has no run-time feature detection: the build decides.
            Q8Kernel::Simd128 => cfg!(all(target_arch = "wasm32", target_feature = "simd128")),
            Q8Kernel::Avx2 => cpu::avx2_fma(),
            Q8Kernel::Avx512Vnni => cpu::avx512vnni(),
        }
    }

    /// The kernel of a level; `Avx512` has no int8 kernel of its own and uses AVX2. (Levels
    /// name x86-64 kernels; on wasm32 the variable cannot be read, and auto picks SIMD128.)
    pub fn at_level(level: Level) -> Q8Kernel {
        match level {
            Level::Scalar => Q8Kernel::Scalar,
            Level::Avx2 | Level::Avx512 => Q8Kernel::Avx2,
            Level::Avx512Dot => Q8Kernel::Avx512Vnni,
        }
    }

    /// The kernel to use: the level forced by [`ENV_VAR`], else the fastest supported one.
    pub fn select() -> Result<Q8Kernel, Error> {
        let kernel = pick(&Self::ALL, Self::at_level, Self::is_supported)?;
        kernel.check()?;
        Ok(kernel)
    }

    /// `Ok` when the CPU can run the kernel, else the typed error that says what is missing.
    pub fn check(self) -> Result<(), Error> {
        check(self.is_supported(), self.name(), self.needs())
    }
}

/// The level forced by [`ENV_VAR`] mapped to its kernel, else the last (fastest) kernel of
/// `all` the CPU supports.
fn pick<K: Copy>(all: &[K], at_level: fn(Level) -> K, supported: fn(K) -> bool) -> Result<K, Error> {
    Ok(match Level::from_env()? {
        Some(level) => at_level(level),
        None => *all.iter().rev().find(|&&k| supported(k)).unwrap_or(&all[0]),
    })
}

/// `Ok` when supported, else the error naming the kernel and what it needs.
fn check(supported: bool, kernel: &'static str, needs: &'static str) -> Result<(), Error> {
    if supported { Ok(()) } else { Err(Error::Unsupported { kernel, needs }) }
}

/// Run-time CPU feature detection; every answer is `false` off x86-64.
mod cpu {
    #[cfg(target_arch = "x86_64")]
    pub(super) fn avx2_fma() -> bool {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }

    #[cfg(target_arch = "x86_64")]
    pub(super) fn avx512() -> bool {
        is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw")
    }

    #[cfg(target_arch = "x86_64")]
    pub(super) fn avx512bf16() -> bool {
        avx512() && is_x86_feature_detected!("avx512vl") && is_x86_feature_detected!("avx512bf16")
    }

    #[cfg(target_arch = "x86_64")]
    pub(super) fn avx512vnni() -> bool {
        avx512() && is_x86_feature_detected!("avx512vnni")
    }

    /// The CPU's vendor string (`cpuid` leaf 0) is `GenuineIntel`.
    #[cfg(target_arch = "x86_64")]
    pub(super) fn is_intel() -> bool {
        // SAFETY: cpuid leaf 0 exists on every x86-64 CPU (newer Rust marks `__cpuid` safe).
        #[allow(unused_unsafe)]
        let r = unsafe { std::arch::x86_64::__cpuid(0) };
        let vendor: Vec<u8> = [r.ebx, r.edx, r.ecx].iter().flat_map(|w| w.to_le_bytes()).collect();
        vendor == b"GenuineIntel"
    }

    #[cfg(not(target_arch = "x86_64"))]
    pub(super) fn is_intel() -> bool {
        false
    }

    #[cfg(not(target_arch = "x86_64"))]
    pub(super) fn avx2_fma() -> bool {
        false
    }

    #[cfg(not(target_arch = "x86_64"))]
    pub(super) fn avx512() -> bool {
        false
    }

    #[cfg(not(target_arch = "x86_64"))]
    pub(super) fn avx512bf16() -> bool {
        false
    }

    #[cfg(not(target_arch = "x86_64"))]
    pub(super) fn avx512vnni() -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_name() {
        assert_eq!(Level::parse(""), Ok(None));
        assert_eq!(Level::parse("auto"), Ok(None));
        assert_eq!(Level::parse("scalar"), Ok(Some(Level::Scalar)));
        assert_eq!(Level::parse("AVX2"), Ok(Some(Level::Avx2)));
        assert_eq!(Level::parse("avx512"), Ok(Some(Level::Avx512)));
        for name in ["avx512dot", "avx512bf16", "vnni"] {
            assert_eq!(Level::parse(name), Ok(Some(Level::Avx512Dot)));
        }
        assert!(matches!(Level::parse("sse9"), Err(Error::BadEnv { .. })));
    }

    #[test]
    fn a_missing_kernel_is_a_typed_error_that_names_it() {
        let err = check(false, "avx512bf16", "x86-64 avx512bf16").unwrap_err();
        assert_eq!(err, Error::Unsupported { kernel: "avx512bf16", needs: "x86-64 avx512bf16" });
        assert!(err.to_string().contains("avx512bf16"));
        for kernel in Bf16Kernel::ALL {
            assert_eq!(kernel.check().is_ok(), kernel.is_supported());
        }
        for kernel in Q8Kernel::ALL {
            assert_eq!(kernel.check().is_ok(), kernel.is_supported());
        }
    }

    #[test]
    fn auto_picks_a_supported_kernel_and_avoids_vdpbf16ps_on_intel() {
        let k = Bf16Kernel::fastest_here();
        assert!(k.is_supported());
        if cpu::is_intel() {
            assert_ne!(k, Bf16Kernel::Avx512Bf16);
        } else if Bf16Kernel::Avx512Bf16.is_supported() {
            assert_eq!(k, Bf16Kernel::Avx512Bf16);
        }
    }

    #[test]
    fn scalar_is_always_supported() {
        assert!(Bf16Kernel::Scalar.is_supported());
        assert!(Q8Kernel::Scalar.is_supported());
    }
}
