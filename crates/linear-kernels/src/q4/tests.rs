//! Every q4 kernel the CPU has against a scalar reference that does the same quantized
//! arithmetic in exact integers, and loosely against the f64 product of the unquantized data.

use super::quant::quantize_block;
use super::*;
use crate::q8::BLOCK;
use crate::q8::quant::quantize_block as quantize_x_block;
use crate::testutil::{Rng, SHAPES, assert_close, reference};

/// Random f32 weight `[k, n]` and activations `[m, k]`.
fn data(m: usize, k: usize, n: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new((m * 7_000_011 + k * 3001 + n) as u64);
    (rng.values(k * n), rng.values(m * k))
}

/// Blocks of 32 of each row of a `[rows, k]` matrix, zero-padded.
fn blocks_of(v: &[f32], rows: usize, k: usize) -> Vec<[f32; BLOCK]> {
    let blocks = k.div_ceil(BLOCK);
    let mut out = vec![[0.0f32; BLOCK]; rows * blocks];
    for r in 0..rows {
        for kk in 0..k {
            out[r * blocks + kk / BLOCK][kk % BLOCK] = v[r * k + kk];
        }
    }
    out
}

/// W transposed: one row per output column.
fn transpose(w: &[f32], k: usize, n: usize) -> Vec<f32> {
    (0..n * k).map(|i| w[(i % k) * n + i / k]).collect()
}

/// The quantized product in exact integers per block, scales applied in f64:
/// (y, Σ|terms|, per-element bound of the quantization error against the exact product).
fn quantized_reference(x: &[f32], w: &[f32], m: usize, k: usize, n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let blocks = k.div_ceil(BLOCK);
    let xb = blocks_of(x, m, k);
    let wb = blocks_of(&transpose(w, k, n), n, k);
    let (mut y, mut abs, mut bound) = (vec![0.0; m * n], vec![0.0; m * n], vec![0.0; m * n]);
    let wq: Vec<([u8; BLOCK], f64)> = wb
        .iter()
        .map(|b| {
            let mut c = [0u8; BLOCK];
            let d = f64::from(quantize_block(b, &mut c));
            (c, d)
        })
        .collect();
    for r in 0..m {
        for b in 0..blocks {
            let mut qx = [0i8; BLOCK];
            let sx = f64::from(quantize_x_block(&xb[r * blocks + b], &mut qx));
            for c in 0..n {
                let (codes, d) = &wq[c * blocks + b];
                let dot: i64 = qx.iter().zip(codes).map(|(&a, &q)| i64::from(a) * (i64::from(q) - 8)).sum();
                let term = sx * d * dot as f64;
                y[r * n + c] += term;
                abs[r * n + c] += term.abs();
                // |x - sx qx| <= sx/2; |w - d q| <= |d| (the clamped top code; else |d|/2).
                for j in 0..BLOCK {
                    let (xv, wv) = (f64::from(xb[r * blocks + b][j]).abs(), f64::from(wb[c * blocks + b][j]).abs());
                    bound[r * n + c] += 1.001 * (xv * d.abs() + wv * sx * 0.5 + d.abs() * sx * 0.5) + 1e-30;
                }
            }
        }
    }
    (y, abs, bound)
}

fn run(kernel: Q8Kernel, x: &[f32], m: usize, w: &PackedQ4) -> Vec<f32> {
    let mut y = vec![f32::NAN; m * w.n()];
    matmul_q4_with(kernel, x, m, w, &mut y).unwrap();
    y
}

#[test]
fn every_kernel_matches_the_integer_reference() {
    for kernel in Q8Kernel::ALL {
        if !kernel.is_supported() {
            eprintln!("SKIPPED: q4 kernel {} not on this CPU (needs {})", kernel.name(), kernel.needs());
            continue;
        }
        for (m, k, n) in SHAPES {
            let (w, x) = data(m, k, n);
            let y = run(kernel, &x, m, &PackedQ4::from_kn(&w, k, n).unwrap());
            let what = format!("q4 {} ({m},{k},{n})", kernel.name());
            // Block sums are exact integers in every kernel; what remains is f32 rounding of
            // sw·sx and of one multiply-add per block.
            let (want, abs, q_bound) = quantized_reference(&x, &w, m, k, n);
            let bound = (k.div_ceil(BLOCK) + 2) as f64 * f64::powi(2.0, -24);
            assert_close(&format!("{what} vs integer reference"), &y, &want, &abs, bound);
            let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
            let w64: Vec<f64> = w.iter().map(|&v| f64::from(v)).collect();
            let (exact, _) = reference(&x64, &w64, m, k, n);
            let slack: Vec<f64> = abs.iter().zip(&q_bound).map(|(a, q)| q + bound * a).collect();
            assert_close(&format!("{what} vs f64(x·w)"), &y, &exact, &slack, 1.0);
        }
    }
}

#[test]
fn quantized_blocks_use_every_code_and_stay_within_a_step() {
    let mut rng = Rng::new(11);
    for _ in 0..200 {
        let v: [f32; BLOCK] = std::array::from_fn(|_| rng.value());
        let mut codes = [0u8; BLOCK];
        let d = quantize_block(&v, &mut codes);
        assert_eq!(half::f16::from_f32(d).to_f32(), d, "the scale is an f16 value");
        // d comes from the first value of largest magnitude, as a serial scan finds it.
        let m = v.iter().fold(0.0f32, |m, &x| if x.abs() > m.abs() { x } else { m });
        assert_eq!(d, half::f16::from_f32(m / -8.0).to_f32());
        let amax = v.iter().fold(0.0f32, |a, &x| a.max(x.abs()));
        assert!(codes.contains(&0), "the largest magnitude takes code 0 (q = -8)");
        for (x, c) in v.iter().zip(codes) {
            let q = f32::from(c) - 8.0;
            assert!(c <= 15);
            let err = (x - d * q).abs();
            // Half a step, or a full step for a value clamped at q = 7.
            let allowed = if q == 7.0 { 1.001 * d.abs() } else { 0.501 * d.abs() + amax * 1e-3 };
            assert!(err <= allowed, "{x} -> {q} * {d}");
        }
    }
    let mut codes = [0u8; BLOCK];
    assert_eq!(quantize_block(&[0.0; BLOCK], &mut codes), 0.0);
    assert_eq!(codes, [8; BLOCK]);
    // A tie in magnitude: the first of the two sets the scale's sign (llama.cpp's scan).
    for (first, second, d) in [(-0.5f32, 0.5f32, 0.0625f32), (0.5, -0.5, -0.0625)] {
        let mut v = [0.01f32; BLOCK];
        (v[1], v[3]) = (first, second);
        assert_eq!(quantize_block(&v, &mut codes), d);
        assert_eq!((codes[1], codes[3]), (0, 15), "{first} first: -8, the other clamps at 7");
    }
}

#[test]
fn both_weight_layouts_pack_the_same() {
    let (k, n) = (70, 45);
    let (w, x) = data(3, k, n);
    let a = run(Q8Kernel::Scalar, &x, 3, &PackedQ4::from_kn(&w, k, n).unwrap());
    let b = run(Q8Kernel::Scalar, &x, 3, &PackedQ4::from_nk(&transpose(&w, k, n), n, k).unwrap());
    assert_eq!(a, b);
}

#[test]
fn portable_codes_round_trip_to_the_same_packing() {
    for (m, k, n) in [(2, 70, 45), (1, 1, 1), (3, 64, 33)] {
        let (w, x) = data(m, k, n);
        let packed = PackedQ4::from_kn(&w, k, n).unwrap();
        let (codes, scales) = packed.to_codes();
        assert_eq!(codes.len(), n * k.div_ceil(BLOCK) * 16);
        let again = PackedQ4::from_codes(k, n, &codes, &scales).unwrap();
        assert_eq!(run(Q8Kernel::Scalar, &x, m, &packed), run(Q8Kernel::Scalar, &x, m, &again));
        assert_eq!(again.to_codes(), (codes, scales));
    }
    let err = PackedQ4::from_codes(64, 2, &[0; 10], &[0; 4]).unwrap_err();
    assert_eq!(err, Error::Shape { what: "codes", expected: 64, found: 10 });
}

#[test]
fn the_selected_kernel_runs_or_says_why_not() {
    let (m, k, n) = (4, 50, 40);
    let (w, x) = data(m, k, n);
    let w = PackedQ4::from_kn(&w, k, n).unwrap();
    let mut y = vec![0.0; m * n];
    match matmul_q4(&x, m, &w, &mut y) {
        Ok(()) => {
            eprintln!("q4 selected kernel: {:?}", Q8Kernel::select());
            let want = run(Q8Kernel::Scalar, &x, m, &w);
            for (a, b) in y.iter().zip(&want) {
                assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs scalar {b}");
            }
        }
        Err(e @ Error::Unsupported { .. }) => eprintln!("SKIPPED: forced q4 kernel: {e}"),
        Err(e) => panic!("{e}"),
    }
}
