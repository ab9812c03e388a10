//! Every int8 kernel the CPU has against a scalar reference that does the same quantized
//! arithmetic in exact integers, and loosely against the f64 product of the unquantized data.

use super::quant::quantize_block;
use super::*;
use crate::testutil::{Rng, SHAPES, assert_close, reference};

/// Random f32 weight `[k, n]` and activations `[m, k]`.
fn data(m: usize, k: usize, n: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new((m * 7_000_003 + k * 3001 + n) as u64);
    (rng.values(k * n), rng.values(m * k))
}

/// Quantizes a `[rows, k]` row-major matrix per row per block: (q `[rows, blocks*32]`, scales).
fn quantize_rows(v: &[f32], rows: usize, k: usize) -> (Vec<i64>, Vec<f64>) {
    let blocks = k.div_ceil(BLOCK);
    let (mut q, mut s) = (vec![0i64; rows * blocks * BLOCK], vec![0.0; rows * blocks]);
    for r in 0..rows {
        for b in 0..blocks {
            let mut block = [0.0f32; BLOCK];
            for j in 0..BLOCK.min(k - b * BLOCK) {
                block[j] = v[r * k + b * BLOCK + j];
            }
            let mut qb = [0i8; BLOCK];
            s[r * blocks + b] = f64::from(quantize_block(&block, &mut qb));
            for j in 0..BLOCK {
                q[(r * blocks + b) * BLOCK + j] = i64::from(qb[j]);
            }
        }
    }
    (q, s)
}

/// The quantized product in exact integers per block, scales applied in f64: (y, Σ|terms|).
fn quantized_reference(x: &[f32], w: &[f32], m: usize, k: usize, n: usize) -> (Vec<f64>, Vec<f64>) {
    let blocks = k.div_ceil(BLOCK);
    let (qx, sx) = quantize_rows(x, m, k);
    let mut wt = vec![0.0; n * k]; // W transposed: one row per output column
    for kk in 0..k {
        for c in 0..n {
            wt[c * k + kk] = w[kk * n + c];
        }
    }
    let (qw, sw) = quantize_rows(&wt, n, k);
    let (mut y, mut abs) = (vec![0.0; m * n], vec![0.0; m * n]);
    for r in 0..m {
        for c in 0..n {
            for b in 0..blocks {
                let xs = &qx[(r * blocks + b) * BLOCK..][..BLOCK];
                let ws = &qw[(c * blocks + b) * BLOCK..][..BLOCK];
                let dot: i64 = xs.iter().zip(ws).map(|(a, b)| a * b).sum();
                let term = sx[r * blocks + b] * sw[c * blocks + b] * dot as f64;
                y[r * n + c] += term;
                abs[r * n + c] += term.abs();
            }
        }
    }
    (y, abs)
}

/// The quantization error bound vs the exact product: |x - sx qx| <= sx/2 and the same for w,
/// so |xw - x̂ŵ| <= |x| sw/2 + |w| sx/2 + sx sw/4 per term (0.51 for f32 rounding of 1/s).
fn quantization_bound(x: &[f32], w: &[f32], m: usize, k: usize, n: usize) -> Vec<f64> {
    let blocks = k.div_ceil(BLOCK);
    let (_, sx) = quantize_rows(x, m, k);
    let mut wt = vec![0.0; n * k];
    for kk in 0..k {
        for c in 0..n {
            wt[c * k + kk] = w[kk * n + c];
        }
    }
    let (_, sw) = quantize_rows(&wt, n, k);
    let mut bound = vec![0.0; m * n];
    for r in 0..m {
        for c in 0..n {
            for kk in 0..k {
                let (a, b) = (sx[r * blocks + kk / BLOCK], sw[c * blocks + kk / BLOCK]);
                let (xv, wv) = (f64::from(x[r * k + kk]).abs(), f64::from(wt[c * k + kk]).abs());
                bound[r * n + c] += 0.51 * (xv * b + wv * a) + 0.27 * a * b;
            }
        }
    }
    bound
}

fn run(kernel: Q8Kernel, x: &[f32], m: usize, w: &PackedQ8) -> Vec<f32> {
    let mut y = vec![f32::NAN; m * w.n()];
    matmul_q8_with(kernel, x, m, w, &mut y).unwrap();
    y
}

#[test]
fn every_kernel_matches_the_integer_reference() {
    for kernel in Q8Kernel::ALL {
        if !kernel.is_supported() {
            eprintln!("SKIPPED: int8 kernel {} not on this CPU (needs {})", kernel.name(), kernel.needs());
            continue;
        }
        for (m, k, n) in SHAPES {
            let (w, x) = data(m, k, n);
            let y = run(kernel, &x, m, &PackedQ8::from_kn(&w, k, n).unwrap());
            let what = format!("int8 {} ({m},{k},{n})", kernel.name());
            // Block sums are exact integers in every kernel; what remains is f32 rounding of
            // sw·sx and of one multiply-add per block: (blocks + 2) · 2^-24 of Σ|terms|.
            let (want, abs) = quantized_reference(&x, &w, m, k, n);
            let bound = (k.div_ceil(BLOCK) + 2) as f64 * f64::powi(2.0, -24);
            assert_close(&format!("{what} vs integer reference"), &y, &want, &abs, bound);
            // Loosely against the unquantized product: the quantization bound, per element.
            let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
            let w64: Vec<f64> = w.iter().map(|&v| f64::from(v)).collect();
            let (exact, _) = reference(&x64, &w64, m, k, n);
            let q_bound = quantization_bound(&x, &w, m, k, n);
            let slack: Vec<f64> = abs.iter().zip(&q_bound).map(|(a, q)| q + bound * a).collect();
            assert_close(&format!("{what} vs f64(x·w)"), &y, &exact, &slack, 1.0);
        }
    }
}

#[test]
fn quantized_blocks_stay_within_half_a_step() {
    let mut rng = Rng::new(7);
    for _ in 0..100 {
        let v: [f32; BLOCK] = std::array::from_fn(|_| rng.value());
        let mut q = [0i8; BLOCK];
        let s = quantize_block(&v, &mut q);
        // The scale is max|v| / 127 exactly (the plain one-chain maximum).
        assert_eq!(s, v.iter().fold(0.0f32, |a, &x| a.max(x.abs())) / 127.0);
        for (x, qi) in v.iter().zip(q) {
            assert!((-127..=127).contains(&qi));
            assert!((x - s * f32::from(qi)).abs() <= 0.501 * s, "{x} -> {qi} * {s}");
        }
    }
    let mut q = [1i8; BLOCK];
    assert_eq!(quantize_block(&[0.0; BLOCK], &mut q), 0.0);
    assert_eq!(q, [0; BLOCK]);
}

#[test]
fn both_weight_layouts_pack_the_same() {
    let (k, n) = (70, 45);
    let (w, x) = data(3, k, n);
    let mut w_nk = vec![0.0; k * n];
    for kk in 0..k {
        for c in 0..n {
            w_nk[c * k + kk] = w[kk * n + c];
        }
    }
    let a = run(Q8Kernel::Scalar, &x, 3, &PackedQ8::from_kn(&w, k, n).unwrap());
    let b = run(Q8Kernel::Scalar, &x, 3, &PackedQ8::from_nk(&w_nk, n, k).unwrap());
    assert_eq!(a, b);
}

#[test]
fn the_selected_kernel_runs_or_says_why_not() {
    let (m, k, n) = (4, 50, 40);
    let (w, x) = data(m, k, n);
    let w = PackedQ8::from_kn(&w, k, n).unwrap();
    let mut y = vec![0.0; m * n];
    match matmul_q8(&x, m, &w, &mut y) {
        Ok(()) => {
            eprintln!("int8 selected kernel: {:?}", Q8Kernel::select());
            // Same quantized arithmetic as the scalar kernel, up to f32 rounding.
            let want = run(Q8Kernel::Scalar, &x, m, &w);
            for (a, b) in y.iter().zip(&want) {
                assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs scalar {b}");
            }
        }
        Err(e @ Error::Unsupported { .. }) => eprintln!("SKIPPED: forced int8 kernel: {e}"),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn portable_values_round_trip_to_the_same_packing() {
    for (m, k, n) in [(2, 70, 45), (1, 1, 1), (3, 64, 33)] {
        let (w, x) = data(m, k, n);
        let packed = PackedQ8::from_kn(&w, k, n).unwrap();
        let (values, scales) = packed.to_quantized();
        assert_eq!(values.len(), n * k.div_ceil(BLOCK) * BLOCK);
        let again = PackedQ8::from_quantized(k, n, &values, &scales).unwrap();
        for kernel in Q8Kernel::ALL.into_iter().filter(|k| k.is_supported()) {
            assert_eq!(run(kernel, &x, m, &packed), run(kernel, &x, m, &again), "{}", kernel.name());
        }
        assert_eq!(again.to_quantized(), (values, scales));
    }
    // Columns dequantize to value · scale of the portable form.
    let (k, n) = (70, 45);
    let packed = PackedQ8::from_kn(&data(1, k, n).0, k, n).unwrap();
    let (values, scales) = packed.to_quantized();
    let mut column = vec![0.0; k];
    packed.dequantize_column(44, &mut column).unwrap();
    let blocks = k.div_ceil(BLOCK);
    for (kk, &v) in column.iter().enumerate() {
        assert_eq!(v, f32::from(values[44 * blocks * BLOCK + kk]) * scales[44 * blocks + kk / BLOCK]);
    }
    assert!(packed.dequantize_column(45, &mut column).is_err());
    let err = PackedQ8::from_quantized(32, 1, &[-128; 32], &[1.0]).unwrap_err();
    assert!(matches!(err, Error::Value { .. }), "{err}");
    let err = PackedQ8::from_quantized(64, 2, &[0; 10], &[0.0; 4]).unwrap_err();
    assert_eq!(err, Error::Shape { what: "values", expected: 128, found: 10 });
}
