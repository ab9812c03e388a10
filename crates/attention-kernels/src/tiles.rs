//! Attention over query tiles: for each (batch item, head, tile of queries), the scores
//! against every key it may see in one gemm, the softmax row by row, and the weighted values
//! in a second gemm written straight into the output's `[seq, heads, head_dim]` layout.
//!
//! Why whole key rows rather than flash attention's online softmax over key tiles: with at
//! most a few thousand keys (a 1280x800 screenshot has 4,000 patches) a tile's scores fit in a
//! few MiB ([`SCORE_FLOATS`]), so two exact passes need no rescaling of partial sums, and each
//! gemm gets a long inner dimension. Each task owns disjoint output rows.

use rayon::prelude::*;

use crate::AttentionShape;
use crate::softmax::exp_shifted;
use crate::vector::VectorKernel;

/// Scores per task: 8 MiB of f32. Measured (`examples/attention_speed.rs`, Zen 4, 2 threads):
/// gemm packs a tile's keys and values on every call, so larger tiles win even past L2:
/// 4,000 patches x 16 heads took 839 ms with 512 KiB tiles of 32 queries, 604 ms at 2 MiB
/// (128 queries), 449 ms at 8 MiB (512); burn's attention 1,146 ms.
const SCORE_FLOATS: usize = 2048 * 1024;
/// Bounds on queries per tile: enough rows to amortise packing, few enough that a short input
/// still splits into one task per (item, head).
const MIN_TILE: usize = 16;
const MAX_TILE: usize = 512;

/// The output pointer, shared by tasks that write disjoint rows of one head.
struct Out(*mut f32);

// SAFETY: tasks write disjoint (row, head) slices of the buffer behind the pointer, and the
// buffer outlives the parallel loop (it is borrowed mutably for the whole call).
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

impl Out {
    /// A method (not field access), so closures capture the whole `Sync` wrapper.
    fn ptr(&self) -> *mut f32 {
        self.0
    }
}

/// Queries per tile for `keys` keys.
fn tile_rows(keys: usize) -> usize {
    (SCORE_FLOATS / keys.max(1)).clamp(MIN_TILE, MAX_TILE)
}

/// Runs every tile; lengths were checked by the caller.
pub(crate) fn run(q: &[f32], k: &[f32], v: &[f32], out: &mut [f32], s: &AttentionShape, kernel: VectorKernel) {
    let AttentionShape { batch, seq, past, heads, kv_heads, head_dim: hd, scale, causal } = *s;
    let group = heads / kv_heads;
    let kv_seq = past + seq;
    let rows = tile_rows(kv_seq);
    let tiles = seq.div_ceil(rows);
    let out_ptr = Out(out.as_mut_ptr());
    (0..batch * heads * tiles).into_par_iter().for_each(|task| {
        let (item, head, tile) = (task / (heads * tiles), task / tiles % heads, task % tiles);
        let first = tile * rows;
        let count = rows.min(seq - first);
        // Causal: the tile's last query sees keys 0..=past + first + count - 1, earlier ones
        // fewer.
        let keys = if causal { past + first + count } else { kv_seq };
        let kv = head / group;
        let q_at = ((item * seq + first) * heads + head) * hd;
        let kv_at = (item * kv_seq * kv_heads + kv) * hd;
        let mut scores = vec![0.0f32; count * keys];
        // SAFETY: every pointer, stride and extent below stays inside its buffer, whose
        // lengths `attention` checked against the shape; `scores` is this task's own, and
        // the output slice (rows first..first + count of this head) is written by this task
        // only.
        unsafe {
            // scores[count, keys] = scale * Q[first.., head] K[.., kv]^T
            gemm::gemm(
                count,
                keys,
                hd,
                scores.as_mut_ptr(),
                1,
                keys as isize,
                false,
                q.as_ptr().add(q_at),
                1,
                (heads * hd) as isize,
                k.as_ptr().add(kv_at),
                (kv_heads * hd) as isize,
                1,
                0.0,
                scale,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
        let mut inverse_sums = Vec::with_capacity(count);
        for (r, row) in scores.chunks_exact_mut(keys).enumerate() {
            let visible = if causal { past + first + r + 1 } else { keys };
            let (seen, hidden) = row.split_at_mut(visible);
            inverse_sums.push(1.0 / exp_shifted(kernel, seen));
            hidden.fill(0.0);
        }
        let o = unsafe { out_ptr.ptr().add(q_at) };
        // SAFETY: as above.
        unsafe {
            // out[first.., head] = P V[.., kv]
            gemm::gemm(
                count,
                hd,
                keys,
                o,
                1,
                (heads * hd) as isize,
                false,
                scores.as_ptr(),
                1,
                keys as isize,
                v.as_ptr().add(kv_at),
                1,
                (kv_heads * hd) as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
            for (r, inv) in inverse_sums.iter().enumerate() {
                let row = std::slice::from_raw_parts_mut(o.add(r * heads * hd), hd);
                row.iter_mut().for_each(|x| *x *= inv);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn tiles_keep_scores_within_budget_and_rows_within_bounds() {
        assert_eq!(super::tile_rows(32), super::MAX_TILE);
        assert_eq!(super::tile_rows(4000), super::MAX_TILE);
        assert_eq!(super::tile_rows(8192), 256);
        assert_eq!(super::tile_rows(1_000_000), super::MIN_TILE);
    }
}
