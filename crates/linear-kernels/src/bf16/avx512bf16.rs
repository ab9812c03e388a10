//! AVX-512 BF16 kernel (Zen 4, Sapphire Rapids): `vdpbf16ps` multiplies a bf16 pair of the
//! activation (broadcast) with each column's bf16 k pair and adds both products to an f32 lane,
//! twice the work of an FMA per instruction.
//!
//! The price: activations are rounded to bf16 (round to nearest even) once per call, a relative
//! error of at most 2^-8 per activation, so `|y - x·W| <= 2^-8 · Σ|x_k w_k|` on top of the f32
//! accumulation error. The products of two bf16 are exact in f32. The instruction treats
//! denormal inputs and outputs as zero, which only matters for values below ~1e-38.

// Index loops over the small register arrays read like the math and unroll fully.
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;
use std::ops::Range;

use half::bf16;
use rayon::prelude::*;

use crate::par::{NR, Tile};

/// Rows per call: 8 rows x 2 zmm accumulators + 2 weight registers; activation pairs are
/// broadcast from memory.
pub(super) const MR: usize = 8;

/// `x` (`[m, k]` f32) rounded to bf16, one u32 per k pair (low half: even k), rows padded to
/// `kp = ceil(k/2)` pairs and interleaved by groups of [`MR`] rows: row `g·MR + r`'s pair p is
/// at `(g·kp + p)·MR + r`. The kernel then reads one contiguous stream of activations; with
/// plain rows, K = 2048 puts the 8 rows 4 KiB apart, all in the same L1 set.
///
/// # Safety
/// The CPU must have AVX-512 BF16, F, BW and VL.
#[target_feature(enable = "avx512bf16,avx512f,avx512bw,avx512vl")]
pub(super) unsafe fn to_bf16_pairs(x: &[f32], m: usize, k: usize) -> Vec<u32> {
    let kp = k.div_ceil(2);
    let mut pairs = vec![0u32; m.div_ceil(MR) * kp * MR];
    if kp == 0 {
        return pairs;
    }
    pairs.par_chunks_mut(kp * MR).zip(x.par_chunks(k * MR)).for_each_init(
        || vec![0u32; kp],
        |row_pairs, (group, rows)| {
            for (r, row) in rows.chunks(k).enumerate() {
                row_pairs.fill(0);
                // SAFETY: the features were detected by the caller of `to_bf16_pairs`.
                unsafe { round_row(row, row_pairs) };
                for (p, &v) in row_pairs.iter().enumerate() {
                    group[p * MR + r] = v;
                }
            }
        },
    );
    pairs
}

/// One row of [`to_bf16_pairs`] into `out` (zeroed): 16 values per `vcvtneps2bf16`, the tail
/// through `half` (both round to nearest even).
#[target_feature(enable = "avx512bf16,avx512f,avx512bw,avx512vl")]
unsafe fn round_row(row: &[f32], out: &mut [u32]) {
    let chunks = row.len() / 16;
    for i in 0..chunks {
        // SAFETY: 16 f32 read from row[16i..], 8 u32 (= 16 bf16) written to out[8i..].
        unsafe {
            let v = _mm512_loadu_ps(row.as_ptr().add(16 * i));
            let h: __m256i = std::mem::transmute(_mm512_cvtneps_pbh(v));
            _mm256_storeu_si256(out.as_mut_ptr().add(8 * i).cast(), h);
        }
    }
    for j in 16 * chunks..row.len() {
        let bits = u32::from(bf16::from_f32(row[j]).to_bits());
        out[j / 2] |= if j % 2 == 0 { bits } else { bits << 16 };
    }
}

/// `tile[i] = bf16(x[rows.start + i]) · W[:, panel]`, `pairs` from [`to_bf16_pairs`].
///
/// # Safety
/// The CPU must have AVX-512 BF16, F, BW and VL.
#[target_feature(enable = "avx512bf16,avx512f,avx512bw,avx512vl")]
pub(super) unsafe fn tile(pairs: &[u32], kp: usize, rows: Range<usize>, panel: &[u16], tile: &mut Tile) {
    // Row groups start at multiples of MR: the driver's tasks are 48 rows, a multiple of 8.
    assert!(rows.start.is_multiple_of(MR) && rows.len() <= MR);
    assert!((rows.start + MR) * kp <= pairs.len() && panel.len() == kp * 2 * NR);
    let x = pairs[rows.start * kp..].as_ptr();
    let w = panel.as_ptr();
    // SAFETY: the assert bounds every read of the pairs (rows x kp) and of the panel.
    unsafe {
        match rows.len() {
            1 => kernel::<1>(x, kp, w, tile),
            2 => kernel::<2>(x, kp, w, tile),
            3 => kernel::<3>(x, kp, w, tile),
            4 => kernel::<4>(x, kp, w, tile),
            5 => kernel::<5>(x, kp, w, tile),
            6 => kernel::<6>(x, kp, w, tile),
            7 => kernel::<7>(x, kp, w, tile),
            8 => kernel::<8>(x, kp, w, tile),
            n => unreachable!("{n} rows; the driver passes at most {MR}"),
        }
    }
}

/// # Safety
/// AVX-512 BF16; `x` points at a group of `kp` x `MR` interleaved pairs, `panel` at `kp * 64`
/// bf16.
#[target_feature(enable = "avx512bf16,avx512f,avx512bw,avx512vl")]
unsafe fn kernel<const R: usize>(x: *const u32, kp: usize, panel: *const u16, tile: &mut Tile) {
    let mut acc = [[_mm512_setzero_ps(); 2]; R];
    for p in 0..kp {
        // SAFETY: pair row p of the panel is 64 bf16 = two zmm; the group holds kp x MR pairs. The
        // transmutes reinterpret 512 bits as 32 bf16, the layout `vdpbf16ps` reads.
        unsafe {
            let w0: __m512bh = std::mem::transmute(_mm512_loadu_si512(panel.add(p * 2 * NR).cast()));
            let w1: __m512bh = std::mem::transmute(_mm512_loadu_si512(panel.add(p * 2 * NR + NR).cast()));
            for r in 0..R {
                let a: __m512bh = std::mem::transmute(_mm512_set1_epi32(*x.add(p * MR + r) as i32));
                acc[r][0] = _mm512_dpbf16_ps(acc[r][0], a, w0);
                acc[r][1] = _mm512_dpbf16_ps(acc[r][1], a, w1);
            }
        }
    }
    for r in 0..R {
        // SAFETY: tile rows hold NR = 32 f32.
        unsafe {
            _mm512_storeu_ps(tile[r].as_mut_ptr(), acc[r][0]);
            _mm512_storeu_ps(tile[r].as_mut_ptr().add(16), acc[r][1]);
        }
    }
}
