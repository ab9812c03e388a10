//! The packed bf16 weight: the layout every bf16 kernel streams, made once at load time.
//!
//! Columns are cut into panels of [`NR`] = 32. Inside a panel, for each pair of rows
//! (k = 2p, 2p + 1) of W, the 32 columns follow each other and each column holds its two
//! values side by side: `[w(2p, c), w(2p + 1, c)]` for c in 0..32, 64 bf16 = 128 bytes.
//! That is exactly two `vdpbf16ps` operands (one 32-bit lane per column, a k pair per lane),
//! and the widening kernels get both f32 values of a lane with a shift and a mask. An odd K
//! and the columns past N are zero padding, so kernels never branch on the edges.

use half::bf16;
use rayon::prelude::*;

use crate::Error;
use crate::buffer::packed_buffer;
use crate::error::check_len;
use crate::par::NR;
use crate::shared::{Part, SharedBytes, exact_parts, product};

/// A `[k, n]` bf16 weight in the kernels' panel layout (see the module docs).
#[derive(Clone, Debug)]
pub struct PackedBf16 {
    k: usize,
    n: usize,
    data: Part<u16>,
}

impl PackedBf16 {
    /// Packs `w`, `[k, n]` row-major: burn's `Linear` layout `[d_input, d_output]`.
    pub fn from_kn(w: &[bf16], k: usize, n: usize) -> Result<Self, Error> {
        check_len("weight", k, n, w.len())?;
        Ok(Self::from_fn(k, n, |kk, col| w[kk * n + col]))
    }

    /// Packs `w`, `[n, k]` row-major: PyTorch's `nn.Linear` layout `[out, in]`.
    pub fn from_nk(w: &[bf16], n: usize, k: usize) -> Result<Self, Error> {
        check_len("weight", k, n, w.len())?;
        Ok(Self::from_fn(k, n, |kk, col| w[col * k + kk]))
    }

    /// Packs `[n, k]` bf16 values given as their little-endian bytes, 2 per value, row-major:
    /// a checkpoint's `[out, in]` tensor exactly as the file stores it, with no converted copy.
    ///
    /// Why a routine of its own: two consecutive inputs of one output are one 32-bit lane of
    /// the panel layout, so a panel is the transpose of 32 rows of 32-bit pairs. Moving a
    /// cache line of pairs per row at a time is several times faster than [`Self::from_fn`]'s
    /// element-by-element gather (which was most of a bf16 model load).
    pub fn from_nk_le_bytes(bytes: &[u8], n: usize, k: usize) -> Result<Self, Error> {
        check_len("weight bytes", n, 2 * k, bytes.len())?;
        /// Pairs per row moved at once: 64 bytes, one cache line of the source row.
        const PAIRS_PER_LINE: usize = 16;
        let pairs = k / 2;
        let panel_len = k.div_ceil(2) * 2 * NR;
        let mut data = packed_buffer(n.div_ceil(NR) * panel_len, 0u16);
        let value = |b: &[u8]| u16::from_le_bytes([b[0], b[1]]);
        if panel_len > 0 {
            data.par_chunks_mut(panel_len).enumerate().for_each(|(p, panel)| {
                let rows = &bytes[p * NR * k * 2..][..NR.min(n - p * NR) * k * 2];
                for q0 in (0..pairs).step_by(PAIRS_PER_LINE) {
                    let q1 = (q0 + PAIRS_PER_LINE).min(pairs);
                    for (c, row) in rows.chunks_exact(k * 2).enumerate() {
                        for (q, pair) in (q0..q1).zip(row[q0 * 4..q1 * 4].chunks_exact(4)) {
                            panel[(q * NR + c) * 2] = value(&pair[..2]);
                            panel[(q * NR + c) * 2 + 1] = value(&pair[2..]);
                        }
                    }
                }
                // An odd K's last input sits alone in its lane; the other half stays zero.
                if k % 2 == 1 {
                    for (c, row) in rows.chunks_exact(k * 2).enumerate() {
                        panel[(pairs * NR + c) * 2] = value(&row[(k - 1) * 2..]);
                    }
                }
            });
        }
        Ok(PackedBf16 { k, n, data: Part::Owned(data) })
    }

    /// Packs an f32 `[k, n]` row-major weight, rounding each value to the nearest bf16.
    pub fn from_kn_f32(w: &[f32], k: usize, n: usize) -> Result<Self, Error> {
        check_len("weight", k, n, w.len())?;
        Ok(Self::from_fn(k, n, |kk, col| bf16::from_f32(w[kk * n + col])))
    }

    /// The names of the arrays [`Self::parts`] gives, in order.
    pub const PART_NAMES: [&'static str; 1] = ["panels"];

    /// The packed arrays' little-endian bytes, in [`Self::PART_NAMES`] order: stored as they
    /// are, [`Self::from_parts`] views them again with no packing.
    pub fn parts(&self) -> Vec<&[u8]> {
        vec![self.data.as_le_bytes()]
    }

    /// A `[k, n]` weight from the bytes of [`Self::parts`], viewed in place where they are
    /// aligned (copied where not). Wrong byte counts for `k` and `n` are an [`Error::Shape`].
    pub fn from_parts(k: usize, n: usize, parts: Vec<SharedBytes>) -> Result<Self, Error> {
        let [panels] = exact_parts(parts)?;
        let len = product(&[n.div_ceil(NR), k.div_ceil(2), 2 * NR]);
        let data = Part::from_shared("bf16 panels", panels, len)?;
        Ok(PackedBf16 { k, n, data })
    }

    /// The input size K.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The output size N.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The packed weight's heap size in bytes (2 per weight plus the padding).
    pub fn size_bytes(&self) -> usize {
        self.data.len() * 2
    }

    /// Panel `p`: `ceil(k / 2)` rows of 64 bf16 (see the module docs).
    pub(crate) fn panel(&self, p: usize) -> &[u16] {
        let len = self.k.div_ceil(2) * 2 * NR;
        &self.data[p * len..][..len]
    }

    /// Packs a `[k, n]` weight given element by element: `get(i, j)` is the bf16 of input i,
    /// output j. For sources in another layout or encoding (e.g. safetensors bytes read in
    /// place) without an intermediate copy. Panels are packed in parallel.
    pub fn from_fn(k: usize, n: usize, get: impl Fn(usize, usize) -> bf16 + Sync) -> Self {
        let panel_len = k.div_ceil(2) * 2 * NR;
        let mut data = packed_buffer(n.div_ceil(NR) * panel_len, 0u16);
        if panel_len > 0 {
            data.par_chunks_mut(panel_len).enumerate().for_each(|(p, panel)| {
                for kk in 0..k {
                    for c in 0..NR.min(n - p * NR) {
                        panel[(kk / 2 * NR + c) * 2 + kk % 2] = get(kk, p * NR + c).to_bits();
                    }
                }
            });
        }
        PackedBf16 { k, n, data: Part::Owned(data) }
    }
}
