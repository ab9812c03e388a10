//! The packed int8 weight: the layout every int8 kernel streams, made once at load time.
//!
//! Columns are cut into panels of [`NR`] = 32. A panel holds, for each 32-block b of K:
//! - the values, `[g = 0..8][c = 0..32][j = 0..4]`: column c's inputs k = 32b + 4g + j side by
//!   side, so one 32-bit lane is one column's 4 consecutive inputs, the operand of `vpdpbusd`
//!   and of `vpmaddubsw` + `vpmaddwd`; 1 KiB per block;
//! - the 32 columns' f32 scales;
//! - the 32 columns' `-128 · Σ q`: VNNI adds 128 to every activation, and starting its
//!   accumulator at this value cancels the offset exactly.
//!
//! K is zero-padded to a multiple of 32 and N to a multiple of 32, so kernels never branch on
//! edges. Storage: 1.25 bytes per weight (values, scale and correction).
//!
//! Checkpoints store the values in a portable row-major form instead (`[n, blocks * 32]` i8,
//! scales `[n, blocks]` f32), which every device can read; [`PackedQ8::from_quantized`]
//! permutes that into this layout without re-quantizing, [`PackedQ8::to_quantized`] gives it
//! back.

use rayon::prelude::*;

use super::BLOCK;
use super::quant::quantize_block;
use crate::Error;
use crate::buffer::packed_buffer;
use crate::error::check_len;
use crate::par::NR;
use crate::shared::{Part, SharedBytes, exact_parts, product};

/// A `[k, n]` weight quantized to int8 with one scale per 32 inputs per output column, in the
/// kernels' panel layout (see the module docs).
#[derive(Clone, Debug)]
pub struct PackedQ8 {
    k: usize,
    n: usize,
    values: Part<i8>,
    scales: Part<f32>,
    neg_corrections: Part<i32>,
}

/// One panel of a [`PackedQ8`], the slices a kernel reads.
#[derive(Clone, Copy)]
pub(crate) struct PanelQ8<'a> {
    /// `[blocks][8][NR][4]` values.
    pub(crate) values: &'a [i8],
    /// `[blocks][NR]` scales.
    pub(crate) scales: &'a [f32],
    /// `[blocks][NR]` values of `-128 · Σ q`.
    // Only the VNNI kernel reads it, and that kernel exists only on x86-64.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) neg_corrections: &'a [i32],
}

impl PanelQ8<'_> {
    /// Panics unless the panel holds `blocks` blocks: the SIMD kernels read that many through
    /// raw pointers.
    #[cfg(target_arch = "x86_64")]
    pub(crate) fn assert_blocks(&self, blocks: usize) {
        assert!(self.values.len() == blocks * BLOCK * NR);
        assert!(self.scales.len() == blocks * NR && self.neg_corrections.len() == blocks * NR);
    }
}

impl PackedQ8 {
    /// Quantizes and packs `w`, `[k, n]` row-major: burn's `Linear` layout `[d_input, d_output]`.
    pub fn from_kn(w: &[f32], k: usize, n: usize) -> Result<Self, Error> {
        check_len("weight", k, n, w.len())?;
        Ok(Self::from_fn(k, n, |kk, col| w[kk * n + col]))
    }

    /// Quantizes and packs `w`, `[n, k]` row-major: PyTorch's `nn.Linear` layout `[out, in]`.
    pub fn from_nk(w: &[f32], n: usize, k: usize) -> Result<Self, Error> {
        check_len("weight", k, n, w.len())?;
        Ok(Self::from_fn(k, n, |kk, col| w[col * k + kk]))
    }

    /// The names of the arrays [`Self::parts`] gives, in order.
    pub const PART_NAMES: [&'static str; 3] = ["values", "scales", "corrections"];

    /// The packed arrays' little-endian bytes, in [`Self::PART_NAMES`] order: stored as they
    /// are, [`Self::from_parts`] views them again with no packing.
    pub fn parts(&self) -> Vec<&[u8]> {
        vec![self.values.as_le_bytes(), self.scales.as_le_bytes(), self.neg_corrections.as_le_bytes()]
    }

    /// A `[k, n]` weight from the bytes of [`Self::parts`], viewed in place where they are
    /// aligned (copied where not). Wrong byte counts for `k` and `n` are an [`Error::Shape`].
    ///
    /// Unlike [`Self::from_quantized`], the values are not scanned for -128 and the
    /// corrections are not recomputed: either would read the whole weight, which a load from
    /// a mapped file exists to avoid. Bytes that [`Self::parts`] did not write give wrong
    /// products, never a read out of bounds (every kernel checks the panel's lengths).
    pub fn from_parts(k: usize, n: usize, parts: Vec<SharedBytes>) -> Result<Self, Error> {
        let [values, scales, corrections] = exact_parts(parts)?;
        let (panels, blocks) = (n.div_ceil(NR), k.div_ceil(BLOCK));
        Ok(PackedQ8 {
            k,
            n,
            values: Part::from_shared("int8 values", values, product(&[panels, blocks, BLOCK * NR]))?,
            scales: Part::from_shared("int8 scales", scales, product(&[panels, blocks, NR]))?,
            neg_corrections: Part::from_shared("int8 corrections", corrections, product(&[panels, blocks, NR]))?,
        })
    }

    /// The input size K.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The output size N.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The packed weight's heap size in bytes.
    pub fn size_bytes(&self) -> usize {
        self.values.len() + 4 * (self.scales.len() + self.neg_corrections.len())
    }

    /// Panel `p` (see the module docs).
    pub(crate) fn panel(&self, p: usize) -> PanelQ8<'_> {
        let blocks = self.k.div_ceil(BLOCK);
        PanelQ8 {
            values: &self.values[p * blocks * BLOCK * NR..][..blocks * BLOCK * NR],
            scales: &self.scales[p * blocks * NR..][..blocks * NR],
            neg_corrections: &self.neg_corrections[p * blocks * NR..][..blocks * NR],
        }
    }

    /// Packs already-quantized values in the portable checkpoint form: `values` `[n, blocks *
    /// 32]` (row-major, one row per output column, zero-padded past k), `scales` `[n, blocks]`,
    /// `blocks = ceil(k / 32)`. A permutation (and the VNNI corrections, sums of the values):
    /// the result equals [`Self::from_fn`] on the weights the values were made from. Values
    /// must lie in [-127, 127] (what quantization makes; the AVX2 kernel relies on it): a -128
    /// is an [`Error::Value`].
    pub fn from_quantized(k: usize, n: usize, values: &[i8], scales: &[f32]) -> Result<Self, Error> {
        let blocks = k.div_ceil(BLOCK);
        check_len("values", n, blocks * BLOCK, values.len())?;
        check_len("scales", n, blocks, scales.len())?;
        if values.contains(&i8::MIN) {
            return Err(Error::Value { what: "int8 weight values", expected: "-127..=127", found: "-128".into() });
        }
        Ok(Self::from_blocks(k, n, |b, col, q| {
            let row = &values[(col * blocks + b) * BLOCK..][..BLOCK];
            for (j, (qj, &v)) in q.iter_mut().zip(row).enumerate() {
                // Padding past k is zero whatever the file says: the kernels' VNNI correction
                // must match what is multiplied.
                *qj = if b * BLOCK + j < k { v } else { 0 };
            }
            scales[col * blocks + b]
        }))
    }

    /// Output column `col`'s K dequantized weights (value · scale, exact in f32 up to the one
    /// product) into `out` (`k` long): a lookup table kept as int8 (the token embeddings of
    /// the q4 mode) reads its rows this way.
    pub fn dequantize_column(&self, col: usize, out: &mut [f32]) -> Result<(), Error> {
        check_len("column", 1, self.k, out.len())?;
        if col >= self.n {
            return Err(Error::Shape { what: "column index", expected: self.n, found: col });
        }
        let panel = self.panel(col / NR);
        let c = col % NR;
        for (kk, o) in out.iter_mut().enumerate() {
            let (b, j) = (kk / BLOCK, kk % BLOCK);
            *o = f32::from(panel.values[((b * 8 + j / 4) * NR + c) * 4 + j % 4]) * panel.scales[b * NR + c];
        }
        Ok(())
    }

    /// The portable checkpoint form of [`Self::from_quantized`]: (values `[n, blocks * 32]`,
    /// scales `[n, blocks]`).
    pub fn to_quantized(&self) -> (Vec<i8>, Vec<f32>) {
        let blocks = self.k.div_ceil(BLOCK);
        let mut values = vec![0i8; self.n * blocks * BLOCK];
        let mut scales = vec![0.0f32; self.n * blocks];
        for col in 0..self.n {
            let panel = self.panel(col / NR);
            let c = col % NR;
            for b in 0..blocks {
                scales[col * blocks + b] = panel.scales[b * NR + c];
                for kk in 0..BLOCK {
                    values[(col * blocks + b) * BLOCK + kk] = panel.values[((b * 8 + kk / 4) * NR + c) * 4 + kk % 4];
                }
            }
        }
        (values, scales)
    }

    /// Quantizes and packs a `[k, n]` weight given element by element: `get(i, j)` is input
    /// i, output j (finite). For sources in another layout or encoding (e.g. a bf16 checkpoint
    /// read in place) without an f32 copy. Panels are packed in parallel.
    pub fn from_fn(k: usize, n: usize, get: impl Fn(usize, usize) -> f32 + Sync) -> Self {
        Self::from_runs(k, n, |col, k0, run| {
            for (j, v) in run.iter_mut().enumerate() {
                *v = get(k0 + j, col);
            }
        })
    }

    /// Like [`Self::from_fn`], a block of consecutive inputs at a time: `fill(j, k0, run)`
    /// writes inputs `k0..k0 + run.len()` of output j (at most 32 of them, the last block
    /// shorter when 32 does not divide K). For row-major `[n, k]` sources this is a
    /// contiguous read the caller can convert in one vectorized pass.
    pub fn from_runs(k: usize, n: usize, fill: impl Fn(usize, usize, &mut [f32]) + Sync) -> Self {
        Self::from_blocks(k, n, |b, col, q| {
            let mut v = [0.0f32; BLOCK];
            fill(col, b * BLOCK, &mut v[..BLOCK.min(k - b * BLOCK)]);
            quantize_block(&v, q)
        })
    }

    /// Packs every valid column's blocks: `block(b, column, q)` writes block b's 32 values of
    /// a column and returns its scale. Panels are packed in parallel.
    fn from_blocks(k: usize, n: usize, block: impl Fn(usize, usize, &mut [i8; BLOCK]) -> f32 + Sync) -> Self {
        let blocks = k.div_ceil(BLOCK);
        let panels = n.div_ceil(NR);
        let mut values = packed_buffer(panels * blocks * BLOCK * NR, 0i8);
        let mut scales = packed_buffer(panels * blocks * NR, 0.0f32);
        let mut neg_corrections = packed_buffer(panels * blocks * NR, 0i32);
        if blocks > 0 {
            values
                .par_chunks_mut(blocks * BLOCK * NR)
                .zip(scales.par_chunks_mut(blocks * NR))
                .zip(neg_corrections.par_chunks_mut(blocks * NR))
                .enumerate()
                .for_each(|(p, ((values, scales), corrections))| {
                    for c in 0..NR.min(n - p * NR) {
                        for b in 0..blocks {
                            let mut q = [0i8; BLOCK];
                            scales[b * NR + c] = block(b, p * NR + c, &mut q);
                            corrections[b * NR + c] = -128 * q.iter().map(|&x| i32::from(x)).sum::<i32>();
                            for (kk, &qk) in q.iter().enumerate() {
                                values[((b * 8 + kk / 4) * NR + c) * 4 + kk % 4] = qk;
                            }
                        }
                    }
                });
        }
        PackedQ8 {
            k,
            n,
            values: Part::Owned(values),
            scales: Part::Owned(scales),
            neg_corrections: Part::Owned(neg_corrections),
        }
    }
}
