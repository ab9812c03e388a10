//! Every bf16 kernel the CPU has against an f64 reference, on awkward shapes.

use half::bf16;

use super::*;
use crate::testutil::{Rng, SHAPES, assert_close, f32_dot_bound, reference};

/// Random bf16 weight `[k, n]` and f32 activations `[m, k]`.
fn data(m: usize, k: usize, n: usize) -> (Vec<bf16>, Vec<f32>) {
    let mut rng = Rng::new((m * 1_000_003 + k * 1009 + n) as u64);
    let w = rng.values(k * n).into_iter().map(bf16::from_f32).collect();
    (w, rng.values(m * k))
}

fn widen(v: &[bf16]) -> Vec<f64> {
    v.iter().map(|w| f64::from(w.to_f32())).collect()
}

fn run(kernel: Bf16Kernel, x: &[f32], m: usize, w: &PackedBf16) -> Vec<f32> {
    let mut y = vec![f32::NAN; m * w.n()];
    matmul_bf16_with(kernel, x, m, w, &mut y).unwrap();
    y
}

#[test]
fn every_kernel_matches_the_f64_reference() {
    for kernel in Bf16Kernel::ALL {
        if !kernel.is_supported() {
            eprintln!("SKIPPED: bf16 kernel {} not on this CPU (needs {})", kernel.name(), kernel.needs());
            continue;
        }
        for (m, k, n) in SHAPES {
            let (w, x) = data(m, k, n);
            let y = run(kernel, &x, m, &PackedBf16::from_kn(&w, k, n).unwrap());
            let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
            let (exact, abs) = reference(&x64, &widen(&w), m, k, n);
            let what = format!("bf16 {} ({m},{k},{n})", kernel.name());
            if kernel == Bf16Kernel::Avx512Bf16 {
                // Against x rounded to bf16 (what the instruction multiplies): f32 accumulation
                // only. Against the exact x: plus at most 2^-8 Σ|x||w|, the bf16 rounding of x.
                let xr: Vec<f64> = x.iter().map(|&v| f64::from(bf16::from_f32(v).to_f32())).collect();
                let (rounded, abs_r) = reference(&xr, &widen(&w), m, k, n);
                assert_close(&format!("{what} vs bf16(x)"), &y, &rounded, &abs_r, f32_dot_bound(k));
                let bound = f64::powi(2.0, -8) + 2.0 * f32_dot_bound(k);
                assert_close(&format!("{what} vs x"), &y, &exact, &abs, bound);
            } else {
                // Exact activations, exact bf16 weights: only f32 accumulation error.
                assert_close(&what, &y, &exact, &abs, f32_dot_bound(k));
            }
        }
    }
}

#[test]
fn both_weight_layouts_pack_the_same() {
    let (k, n) = (37, 45);
    let (w, x) = data(3, k, n);
    let mut w_nk = vec![bf16::ZERO; k * n];
    for kk in 0..k {
        for c in 0..n {
            w_nk[c * k + kk] = w[kk * n + c];
        }
    }
    let a = run(Bf16Kernel::Scalar, &x, 3, &PackedBf16::from_kn(&w, k, n).unwrap());
    let b = run(Bf16Kernel::Scalar, &x, 3, &PackedBf16::from_nk(&w_nk, n, k).unwrap());
    assert_eq!(a, b);
}

/// The byte-level packer lays out exactly what the element-by-element one does, padding
/// included, on odd and even K and N that are not multiples of the panel.
#[test]
fn packing_stored_bytes_equals_packing_values() {
    for (k, n) in [(1, 1), (2, 33), (3, 70), (33, 5), (64, 64), (97, 31), (0, 4)] {
        let (w, _) = data(1, k, n);
        let w_nk: Vec<bf16> = (0..n * k).map(|i| w[(i % k) * n + i / k]).collect();
        let bytes: Vec<u8> = w_nk.iter().flat_map(|v| v.to_le_bytes()).collect();
        let from_bytes = PackedBf16::from_nk_le_bytes(&bytes, n, k).unwrap();
        let from_values = PackedBf16::from_nk(&w_nk, n, k).unwrap();
        assert_eq!((from_bytes.k(), from_bytes.n()), (k, n));
        for p in 0..n.div_ceil(crate::par::NR) {
            assert_eq!(from_bytes.panel(p), from_values.panel(p), "{k}x{n} panel {p}");
        }
    }
    let err = PackedBf16::from_nk_le_bytes(&[0; 7], 2, 2).unwrap_err();
    assert_eq!(err, Error::Shape { what: "weight bytes", expected: 8, found: 7 });
}

#[test]
fn the_selected_kernel_runs_or_says_why_not() {
    let (m, k, n) = (4, 50, 40);
    let (w, x) = data(m, k, n);
    let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let (_, abs) = reference(&x64, &widen(&w), m, k, n);
    let w = PackedBf16::from_kn(&w, k, n).unwrap();
    let mut y = vec![0.0; m * n];
    match matmul_bf16(&x, m, &w, &mut y) {
        Ok(()) => {
            eprintln!("bf16 selected kernel: {:?}", Bf16Kernel::select());
            // Same product as the scalar kernel, within the avx512bf16 rounding of x (2^-8 of
            // Σ|xw|, doubled for the f32 error of both sides).
            let want = run(Bf16Kernel::Scalar, &x, m, &w);
            let want: Vec<f64> = want.iter().map(|&v| f64::from(v)).collect();
            assert_close("bf16 selected vs scalar", &y, &want, &abs, f64::powi(2.0, -7));
        }
        Err(e @ Error::Unsupported { .. }) => eprintln!("SKIPPED: forced bf16 kernel: {e}"),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn wrong_lengths_are_errors() {
    let w = PackedBf16::from_kn(&[bf16::ONE; 6], 2, 3).unwrap();
    let mut y = [0.0; 3];
    let err = matmul_bf16_with(Bf16Kernel::Scalar, &[1.0; 3], 1, &w, &mut y).unwrap_err();
    assert_eq!(err, Error::Shape { what: "x", expected: 2, found: 3 });
    assert!(PackedBf16::from_kn(&[bf16::ONE; 5], 2, 3).is_err());
    // m · k overflows: an error, not a wrapped length.
    let err = matmul_bf16_with(Bf16Kernel::Scalar, &[], usize::MAX, &w, &mut []).unwrap_err();
    assert!(matches!(err, Error::Shape { what: "x", expected: usize::MAX, .. }));
}

#[test]
fn empty_shapes_are_fine() {
    let w = PackedBf16::from_kn(&[], 0, 3).unwrap();
    let mut y = [1.0; 6];
    matmul_bf16_with(Bf16Kernel::Scalar, &[], 2, &w, &mut y).unwrap();
    assert_eq!(y, [0.0; 6]);
}
