//! The packed 4-bit weight: the layout every q4 kernel streams, made once at load time.
//!
//! Columns are cut into panels of [`NR`] = 32. A panel holds, for each 32-block b of K:
//! - the codes, `[g = 0..8][i = 0..64]` bytes: byte i holds, for the 4 inputs
//!   k = 32b + 4g + i % 4, column `i / 4` in its low nibble and column `16 + i / 4` in its high
//!   nibble. One 64-byte load, masked (low) or shifted and masked (high), gives 16 columns' 4
//!   consecutive inputs per 32-bit lane: the operand of `vpdpbusd` and of `vpmaddubsw`;
//!   512 bytes per block;
//! - the 32 columns' f32 scales (f16 values: see `quant.rs`).
//!
//! K is padded to a multiple of 32 and N to a multiple of 32 with zero weights (code 8), so
//! kernels never branch on edges. Storage: 5 bits per weight (4 + a 32-bit scale per 32).
//!
//! Checkpoints store the codes in a portable row-major form instead (`[n, blocks * 16]`
//! bytes, two inputs per byte, even input in the low nibble; scales `[n, blocks]` f16), so
//! every device can read them; [`PackedQ4::from_codes`] permutes that into this layout
//! without arithmetic, and [`PackedQ4::to_codes`] gives it back.

use half::f16;
use rayon::prelude::*;

use super::quant::{ZERO_CODE, quantize_block};
use crate::Error;
use crate::buffer::packed_buffer;
use crate::error::check_len;
use crate::par::NR;
use crate::q8::BLOCK;
use crate::shared::{Part, SharedBytes, exact_parts, product};

/// Code bytes per block per panel: 32 inputs x 32 columns, two codes per byte.
const BLOCK_BYTES: usize = BLOCK * NR / 2;

/// A `[k, n]` weight quantized to 4 bits with one scale per 32 inputs per output column, in
/// the kernels' panel layout (see the module docs).
#[derive(Clone, Debug)]
pub struct PackedQ4 {
    k: usize,
    n: usize,
    codes: Part<u8>,
    scales: Part<f32>,
}

/// One panel of a [`PackedQ4`], the slices a kernel reads.
#[derive(Clone, Copy)]
pub(crate) struct PanelQ4<'a> {
    /// `[blocks][8][64]` code bytes.
    pub(crate) codes: &'a [u8],
    /// `[blocks][NR]` scales.
    pub(crate) scales: &'a [f32],
}

impl PanelQ4<'_> {
    /// Panics unless the panel holds `blocks` blocks: the SIMD kernels read that many through
    /// raw pointers.
    #[cfg(target_arch = "x86_64")]
    pub(crate) fn assert_blocks(&self, blocks: usize) {
        assert!(self.codes.len() == blocks * BLOCK_BYTES && self.scales.len() == blocks * NR);
    }

    /// The code (q + 8) of input `kk` (inside the block range of the panel), column `c`.
    pub(crate) fn code(&self, kk: usize, c: usize) -> u8 {
        let byte = self.codes[(kk / BLOCK * 8 + kk % BLOCK / 4) * 64 + (c % 16) * 4 + kk % 4];
        if c < 16 { byte & 0x0F } else { byte >> 4 }
    }
}

impl PackedQ4 {
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
        self.codes.len() + 4 * self.scales.len()
    }

    /// Panel `p` (see the module docs).
    pub(crate) fn panel(&self, p: usize) -> PanelQ4<'_> {
        let blocks = self.k.div_ceil(BLOCK);
        PanelQ4 {
            codes: &self.codes[p * blocks * BLOCK_BYTES..][..blocks * BLOCK_BYTES],
            scales: &self.scales[p * blocks * NR..][..blocks * NR],
        }
    }

    /// The names of the arrays [`Self::parts`] gives, in order.
    pub const PART_NAMES: [&'static str; 2] = ["codes", "scales"];

    /// The packed arrays' little-endian bytes, in [`Self::PART_NAMES`] order: stored as they
    /// are, [`Self::from_parts`] views them again with no packing.
    pub fn parts(&self) -> Vec<&[u8]> {
        vec![self.codes.as_le_bytes(), self.scales.as_le_bytes()]
    }

    /// A `[k, n]` weight from the bytes of [`Self::parts`], viewed in place where they are
    /// aligned (copied where not). Wrong byte counts for `k` and `n` are an [`Error::Shape`];
    /// other bytes than [`Self::parts`] wrote give wrong products, never a read out of bounds.
    pub fn from_parts(k: usize, n: usize, parts: Vec<SharedBytes>) -> Result<Self, Error> {
        let [codes, scales] = exact_parts(parts)?;
        let (panels, blocks) = (n.div_ceil(NR), k.div_ceil(BLOCK));
        Ok(PackedQ4 {
            k,
            n,
            codes: Part::from_shared("q4 codes", codes, product(&[panels, blocks, BLOCK_BYTES]))?,
            scales: Part::from_shared("q4 scales", scales, product(&[panels, blocks, NR]))?,
        })
    }

    /// A zero-weight packing of `[k, n]` filled by `block` (see [`fill_panels`]).
    fn packed(k: usize, n: usize, block: impl Fn(usize, usize, usize, &mut [u8; BLOCK]) -> f32 + Sync) -> Self {
        let (blocks, panels) = (k.div_ceil(BLOCK), n.div_ceil(NR));
        let mut codes = packed_buffer(panels * blocks * BLOCK_BYTES, ZERO_CODE * 0x11);
        let mut scales = packed_buffer(panels * blocks * NR, 0.0);
        fill_panels(k, n, &mut codes, &mut scales, block);
        PackedQ4 { k, n, codes: Part::Owned(codes), scales: Part::Owned(scales) }
    }

    /// Quantizes and packs a `[k, n]` weight given element by element: `get(i, j)` is input
    /// i, output j (finite). Panels are packed in parallel.
    pub fn from_fn(k: usize, n: usize, get: impl Fn(usize, usize) -> f32 + Sync) -> Self {
        Self::from_runs(k, n, |col, k0, run| {
            for (j, v) in run.iter_mut().enumerate() {
                *v = get(k0 + j, col);
            }
        })
    }

    /// Like [`Self::from_fn`], a block of consecutive inputs at a time (see
    /// [`PackedQ8::from_runs`](crate::PackedQ8::from_runs)).
    pub fn from_runs(k: usize, n: usize, fill: impl Fn(usize, usize, &mut [f32]) + Sync) -> Self {
        Self::packed(k, n, |p, c, b, codes| {
            let mut v = [0.0f32; BLOCK];
            fill(p * NR + c, b * BLOCK, &mut v[..BLOCK.min(k - b * BLOCK)]);
            quantize_block(&v, codes)
        })
    }

    /// Packs already-quantized codes in the portable checkpoint form (module docs):
    /// `codes` `[n, blocks * 16]` bytes, `scales` `[n, blocks]` f16 bits, `blocks = ceil(k / 32)`.
    /// A permutation, no arithmetic: the result equals [`Self::from_fn`] on the weights the
    /// codes were made from. Codes of the padding past k are ignored (treated as zero).
    pub fn from_codes(k: usize, n: usize, codes: &[u8], scales: &[u16]) -> Result<Self, Error> {
        let blocks = k.div_ceil(BLOCK);
        check_len("codes", n, blocks * BLOCK / 2, codes.len())?;
        check_len("scales", n, blocks, scales.len())?;
        Ok(Self::packed(k, n, |p, c, b, out| {
            let col = p * NR + c;
            let row = &codes[col * blocks * BLOCK / 2 + b * BLOCK / 2..][..BLOCK / 2];
            for (j, o) in out.iter_mut().enumerate() {
                *o = if b * BLOCK + j < k { (row[j / 2] >> (4 * (j % 2))) & 0x0F } else { ZERO_CODE };
            }
            f16::from_bits(scales[col * blocks + b]).to_f32()
        }))
    }

    /// The portable checkpoint form of [`Self::from_codes`]: (codes `[n, blocks * 16]`,
    /// scales `[n, blocks]` as f16 bits; exact, since every scale is an f16 value).
    pub fn to_codes(&self) -> (Vec<u8>, Vec<u16>) {
        let blocks = self.k.div_ceil(BLOCK);
        let mut codes = vec![0u8; self.n * blocks * BLOCK / 2];
        let mut scales = vec![0u16; self.n * blocks];
        for col in 0..self.n {
            let panel = self.panel(col / NR);
            for b in 0..blocks {
                scales[col * blocks + b] = f16::from_f32(panel.scales[b * NR + col % NR]).to_bits();
                for j in 0..BLOCK {
                    codes[col * blocks * BLOCK / 2 + b * BLOCK / 2 + j / 2] |=
                        panel.code(b * BLOCK + j, col % NR) << (4 * (j % 2));
                }
            }
        }
        (codes, scales)
    }
}

/// Fills every valid column's blocks of the panels `codes` and `scales` (all zero weights
/// before): `block(panel, column in panel, block, codes out)` writes a block's 32 codes and
/// returns its scale.
fn fill_panels(
    k: usize,
    n: usize,
    codes: &mut [u8],
    scales: &mut [f32],
    block: impl Fn(usize, usize, usize, &mut [u8; BLOCK]) -> f32 + Sync,
) {
    let blocks = k.div_ceil(BLOCK);
    if blocks == 0 {
        return;
    }
    codes.par_chunks_mut(blocks * BLOCK_BYTES).zip(scales.par_chunks_mut(blocks * NR)).enumerate().for_each(
        |(p, (codes, scales))| {
            for c in 0..NR.min(n - p * NR) {
                for b in 0..blocks {
                    let mut q = [ZERO_CODE; BLOCK];
                    scales[b * NR + c] = block(p, c, b, &mut q);
                    for (kk, &code) in q.iter().enumerate() {
                        let byte = &mut codes[(b * 8 + kk / 4) * 64 + (c % 16) * 4 + kk % 4];
                        *byte = if c < 16 { (*byte & 0xF0) | code } else { (*byte & 0x0F) | (code << 4) };
                    }
                }
            }
        },
    );
}
