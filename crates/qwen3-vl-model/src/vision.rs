//! The vision tower (`model.visual`): patch embedding, learned positions resampled to each
//! image, 2-D rotary attention within each image, DeepStack taps and the final 2x2 merger.

use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{DType, Device, Int, Tensor, TensorData};

use crate::config::VisionConfig;
use crate::error::Result;
use crate::layers::{LayerNorm, Linear, apply_rotary, gelu_erf, gelu_tanh};
use crate::load::weights::WeightLoader;
use crate::rope::{cos_sin, inv_freq};
use crate::vision_layout::PatchLayout;
use crate::{cpu_attention, cpu_mlp};

/// LayerNorm epsilon, hard-coded in the reference.
const EPS: f64 = 1e-6;
/// Vision rotary base, hard-coded in the reference.
const ROTARY_THETA: f64 = 10_000.0;
/// Upper bound on one attention score block, so a large image never asks the device for a
/// buffer beyond its binding limits (lavapipe allows 128 MiB, browsers often 128-256 MiB).
const MAX_SCORE_BYTES: usize = 64 << 20;

/// Most patches one pass of the tower takes: a batch with more runs in passes of whole images,
/// each at most this size (an image with more runs alone). The tower's activations grow with
/// the patches in a pass, and images never attend to each other, so passes give the same
/// vectors. On the 2B in int8, 16 demos of 640x400 (two batches of eight, 7680 patches each)
/// peaked 0.15 GiB lower with passes of 4096 than in one pass, in the same time; 2048 then
/// changed nothing, as the peak was in the decoder. Once the decoder's and the blocks' peaks
/// were cut, a batch's peak was its second pass's attention beside the first pass's outputs,
/// and 2048 halves that pass (benches/model/README.md, 2026-12-06, second session); 1024 then
/// changed nothing (third session: the peak had moved to the decoder, which
/// `EmbedderOptions::max_batch_tokens` bounds). A 1280x800 screenshot (4000 patches) still runs
/// whole, and 2048 rows keep every product large for every device.
const MAX_PATCHES_PER_PASS: usize = 2048;

/// Most rows of a block whose attention inputs (norm, fused `qkv` product, cuts, rotations) are
/// computed at once: the fused `[rows, 3 x hidden]` output and the rotations' temporaries then
/// exist for one chunk only. For a 4000-patch screenshot, all rows at once held the 49 MB fused
/// output beside its three 16 MB cuts, the tower's largest moment (`heaptrack`,
/// benches/model/README.md, 2026-12-06, second session). Rows are independent here, so chunks
/// give the same vectors.
const QKV_ROWS_PER_CHUNK: usize = 1024;

/// How much of the tower's work runs at once: bounds that change its memory, not its vectors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PassLimits {
    /// Most patches in one pass of the tower (whole images; an image with more runs alone).
    pub patches: usize,
    /// Most rows whose attention inputs a block computes at once.
    pub qkv_rows: usize,
}

impl Default for PassLimits {
    fn default() -> Self {
        Self { patches: MAX_PATCHES_PER_PASS, qkv_rows: QKV_ROWS_PER_CHUNK }
    }
}

/// What the tower hands to the decoder.
#[derive(Debug, Clone)]
pub struct VisionOutput {
    /// Merged image tokens `[patches / 4, out_hidden]`, images concatenated in order.
    pub merged: Tensor<2>,
    /// One `[patches / 4, out_hidden]` tensor per DeepStack level.
    pub deepstack: Vec<Tensor<2>>,
    /// The last block's output `[patches, hidden]`, before merging, when asked for (parity
    /// tests): nothing after the tower reads it.
    pub last_hidden: Option<Tensor<2>>,
}

#[derive(Debug, Clone)]
struct VisionBlock {
    norm1: LayerNorm,
    norm2: LayerNorm,
    qkv: Linear,
    proj: Linear,
    fc1: Linear,
    fc2: Linear,
}

/// A 2x2 patch merger: groups four consecutive patches (one merge window) into one token.
/// The final merger normalises each patch before grouping; DeepStack mergers normalise the
/// grouped vector ("post-shuffle" norm).
#[derive(Debug, Clone)]
struct PatchMerger {
    norm: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    norm_after_grouping: bool,
}

/// The vision tower's weights and config: patch embedding, learned position table, blocks,
/// the final merger and the DeepStack mergers.
#[derive(Debug, Clone)]
pub struct VisionTower {
    config: VisionConfig,
    patch_embed: Linear,
    pos_embed: Tensor<2>,
    blocks: Vec<VisionBlock>,
    merger: PatchMerger,
    deepstack_mergers: Vec<PatchMerger>,
    inv_freq: Vec<f32>,
}

impl VisionTower {
    /// Loads `{prefix}patch_embed`, `pos_embed`, `blocks.N`, `merger`, `deepstack_merger_list.J`.
    pub fn load(w: &WeightLoader, prefix: &str, config: &VisionConfig) -> Result<Self> {
        let (d, c) = (config.hidden_size, config);
        let grouped = d * config.merge_unit();
        let merger = |name: &str, norm_dim: usize, norm_after_grouping: bool| -> Result<PatchMerger> {
            Ok(PatchMerger {
                norm: w.layer_norm(&format!("{name}.norm"), norm_dim, EPS)?,
                fc1: w.linear(&format!("{name}.linear_fc1"), grouped, grouped, true)?,
                fc2: w.linear(&format!("{name}.linear_fc2"), grouped, c.out_hidden_size, true)?,
                norm_after_grouping,
            })
        };
        let blocks = (0..c.depth)
            .map(|i| {
                let b = format!("{prefix}blocks.{i}");
                Ok(VisionBlock {
                    norm1: w.layer_norm(&format!("{b}.norm1"), d, EPS)?,
                    norm2: w.layer_norm(&format!("{b}.norm2"), d, EPS)?,
                    qkv: w.linear(&format!("{b}.attn.qkv"), d, 3 * d, true)?,
                    proj: w.linear(&format!("{b}.attn.proj"), d, d, true)?,
                    fc1: w.linear(&format!("{b}.mlp.linear_fc1"), d, c.intermediate_size, true)?,
                    fc2: w.linear(&format!("{b}.mlp.linear_fc2"), c.intermediate_size, d, true)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            patch_embed: w.linear_from_conv(
                &format!("{prefix}patch_embed.proj"),
                [d, c.in_channels, c.temporal_patch_size, c.patch_size, c.patch_size],
            )?,
            pos_embed: w.tensor(&format!("{prefix}pos_embed.weight"), [c.num_position_embeddings, d])?,
            blocks,
            merger: merger(&format!("{prefix}merger"), d, false)?,
            deepstack_mergers: (0..c.deepstack_visual_indexes.len())
                .map(|j| merger(&format!("{prefix}deepstack_merger_list.{j}"), grouped, true))
                .collect::<Result<Vec<_>>>()?,
            inv_freq: inv_freq(ROTARY_THETA, config.head_dim() / 2),
            config: config.clone(),
        })
    }

    /// Encodes every image's patches: patch embedding plus resampled positions, the blocks
    /// (attention within each image only), then the final and DeepStack mergers. Images run in
    /// passes of at most [`MAX_PATCHES_PER_PASS`] patches, each pass uploading only its own
    /// images' pixels (a batch of screenshots is tens of MB of f32 patches). The pixels are cut
    /// into one buffer per pass, last pass first, and each pass's upload takes its buffer
    /// without a copy: no pass holds the pixels of the passes before it, nor a second copy of
    /// its own.
    ///
    /// # Shapes
    /// `pixel_values: [patches * (in_channels * temporal_patch_size * patch_size^2)]`, images
    /// concatenated in order, with one `[t, h, w]` grid (in patches) per image
    /// -> `merged` and each `deepstack` entry `[patches / 4, out_hidden_size]`,
    /// `last_hidden: [patches, hidden_size]` with `keep_last_hidden`
    pub fn forward(
        &self,
        pixel_values: Vec<f32>,
        grids: &[[usize; 3]],
        device: &Device,
        dtype: DType,
        keep_last_hidden: bool,
    ) -> VisionOutput {
        self.forward_in_passes(pixel_values, grids, device, dtype, keep_last_hidden, PassLimits::default())
    }

    /// [`Self::forward`] within `limits`: passes of whole images of at most `limits.patches`
    /// patches each (an image with more runs alone), the outputs concatenated in order. Without
    /// `keep_last_hidden`, no pass keeps its last block's output (16 MB a pass of 4000 patches
    /// in f32, held until the last pass).
    pub(crate) fn forward_in_passes(
        &self,
        mut pixel_values: Vec<f32>,
        grids: &[[usize; 3]],
        device: &Device,
        dtype: DType,
        keep_last_hidden: bool,
        limits: PassLimits,
    ) -> VisionOutput {
        let len = self.config.patch_len();
        let passes = passes(grids, limits.patches);
        let patches_in = |images: &[[usize; 3]]| images.iter().map(|[t, h, w]| t * h * w).sum::<usize>();
        let mut per_pass = Vec::with_capacity(passes.len());
        for images in passes.iter().rev() {
            let start = patches_in(&grids[..images.start]) * len;
            if start == 0 {
                per_pass.push(std::mem::take(&mut pixel_values));
            } else {
                // A copy of one pass, then the batch's buffer shrinks in place by as much.
                per_pass.push(pixel_values.split_off(start));
                pixel_values.shrink_to_fit();
            }
        }
        let mut outputs = Vec::with_capacity(passes.len());
        for images in passes {
            let values = per_pass.pop().expect("one buffer per pass");
            let pixels = Tensor::<2>::from_data(
                TensorData::new(values, [patches_in(&grids[images.clone()]), len]),
                (device, dtype),
            );
            outputs.push(self.forward_pass(pixels, &grids[images], keep_last_hidden, limits.qkv_rows));
        }
        if outputs.len() == 1 {
            return outputs.pop().expect("one pass");
        }
        let levels = outputs[0].deepstack.len();
        let mut merged = Vec::new();
        let mut deepstack = vec![Vec::new(); levels];
        let mut last_hidden = Vec::new();
        for out in outputs {
            merged.push(out.merged);
            last_hidden.extend(out.last_hidden);
            for (level, features) in deepstack.iter_mut().zip(out.deepstack) {
                level.push(features);
            }
        }
        VisionOutput {
            merged: Tensor::cat(merged, 0),
            deepstack: deepstack.into_iter().map(|level| Tensor::cat(level, 0)).collect(),
            last_hidden: keep_last_hidden.then(|| Tensor::cat(last_hidden, 0)),
        }
    }

    /// One pass of the tower over the given images.
    fn forward_pass(
        &self,
        pixel_values: Tensor<2>,
        grids: &[[usize; 3]],
        keep_last_hidden: bool,
        qkv_rows: usize,
    ) -> VisionOutput {
        let c = &self.config;
        let device = pixel_values.device();
        let dtype = pixel_values.dtype();
        let layout = PatchLayout::new(grids, c.spatial_merge_size, c.position_grid_side());
        let n = layout.coords.len();

        let mut x = self.patch_embed.forward(pixel_values) + self.positions(&layout);

        let hd = c.head_dim();
        let quarter = hd / 4;
        let inv = &self.inv_freq;
        let (cos, sin) = cos_sin(n, hd / 2, |p, slot| {
            let (row, col) = layout.coords[p];
            if slot < quarter { row as f32 * inv[slot] } else { col as f32 * inv[slot - quarter] }
        });
        let table = |v: Vec<f32>| Tensor::<3>::from_data(TensorData::new(v, [n, 1, hd]), (&device, dtype));
        let (cos, sin) = (table(cos), table(sin));
        // Attention never crosses images; a video would add one segment per frame pair.
        let segments: Vec<(usize, usize)> = grids
            .iter()
            .flat_map(|&[t, h, w]| std::iter::repeat_n(h * w, t))
            .scan(0, |start, len| {
                let seg = (*start, len);
                *start += len;
                Some(seg)
            })
            .collect();

        let mut deepstack = Vec::with_capacity(self.deepstack_mergers.len());
        for (i, block) in self.blocks.iter().enumerate() {
            x = block.forward(x, &cos, &sin, &segments, c.num_heads, qkv_rows);
            if let Some(j) = c.deepstack_visual_indexes.iter().position(|&k| k == i) {
                deepstack.push(self.deepstack_mergers[j].forward(x.clone(), c.merge_unit()));
            }
        }
        let last_hidden = keep_last_hidden.then(|| x.clone());
        VisionOutput { merged: self.merger.forward(x, c.merge_unit()), deepstack, last_hidden }
    }

    /// Bilinear sample of the learned position table at each patch: four gathered rows,
    /// weighted and summed left to right as the reference does.
    fn positions(&self, layout: &PatchLayout) -> Tensor<2> {
        let device = self.pos_embed.device();
        let dtype = self.pos_embed.dtype();
        let n = layout.coords.len();
        let mut sum: Option<Tensor<2>> = None;
        for k in 0..4 {
            let rows: Vec<i64> = layout.table_rows[k].iter().map(|&r| r as i64).collect();
            let rows = Tensor::<1, Int>::from_data(TensorData::new(rows, [n]), &device);
            let weights =
                Tensor::<2>::from_data(TensorData::new(layout.table_weights[k].clone(), [n, 1]), (&device, dtype));
            let term = self.pos_embed.clone().select(0, rows) * weights;
            sum = Some(match sum {
                Some(s) => s + term,
                None => term,
            });
        }
        sum.expect("four terms")
    }
}

impl VisionBlock {
    /// One pre-norm block: 2-D rotary self-attention within each segment, then the GELU-tanh
    /// MLP, each added to the residual. Attention consumes q, k and v, so none outlives it
    /// into the MLP.
    ///
    /// # Shapes
    /// `x: [patches, hidden_size]`, `cos`/`sin`: `[patches, 1, head_dim]`
    /// -> `[patches, hidden_size]`
    fn forward(
        &self,
        x: Tensor<2>,
        cos: &Tensor<3>,
        sin: &Tensor<3>,
        segments: &[(usize, usize)],
        heads: usize,
        qkv_rows: usize,
    ) -> Tensor<2> {
        let (q, k, v) = self.attention_inputs(&x, cos, sin, heads, qkv_rows);
        self.finish(x, segment_attention(q, k, v, segments, heads))
    }

    /// Rotated q and k, and v, of every row of `x`, computed `rows_per_chunk` rows at a time
    /// (see [`QKV_ROWS_PER_CHUNK`]).
    ///
    /// # Shapes
    /// `x: [patches, hidden_size]` -> q, k, v: `[patches, heads, head_dim]`
    fn attention_inputs(
        &self,
        x: &Tensor<2>,
        cos: &Tensor<3>,
        sin: &Tensor<3>,
        heads: usize,
        rows_per_chunk: usize,
    ) -> (Tensor<3>, Tensor<3>, Tensor<3>) {
        let [n, d] = x.dims();
        let hd = d / heads;
        let mut parts: [Vec<Tensor<3>>; 3] = Default::default();
        for start in (0..n).step_by(rows_per_chunk.max(1)) {
            let len = rows_per_chunk.min(n - start);
            let qkv =
                self.qkv.forward(self.norm1.forward(x.clone().narrow(0, start, len))).reshape([len, 3, heads, hd]);
            let part = |i: usize| qkv.clone().narrow(1, i, 1).reshape([len, heads, hd]);
            let (q, k, v) = (part(0), part(1), part(2));
            drop(qkv); // the cuts are copies: no reason to hold it through the rotations
            let rows = |t: &Tensor<3>| t.clone().narrow(0, start, len);
            parts[0].push(apply_rotary(q, rows(cos), rows(sin)));
            parts[1].push(apply_rotary(k, rows(cos), rows(sin)));
            parts[2].push(v);
        }
        let [q, k, v] = parts.map(concat);
        (q, k, v)
    }

    /// The output projection added to the residual, then the MLP added to that.
    fn finish(&self, x: Tensor<2>, attn: Tensor<2>) -> Tensor<2> {
        let x = x + self.proj.forward(attn);
        let normed = self.norm2.forward(x.clone());
        let mlp = match cpu_mlp::gelu_tanh(&self.fc1, &self.fc2, normed) {
            cpu_mlp::HostMlp::Done(out) => out,
            cpu_mlp::HostMlp::NotPacked(normed) => self.fc2.forward(gelu_tanh(self.fc1.forward(normed))),
        };
        x + mlp
    }
}

/// Self-attention within each segment (one image), consuming q, k and v so that they are freed
/// before the caller goes on.
///
/// # Shapes
/// `q`, `k`, `v`: `[patches, heads, head_dim]` -> `[patches, heads * head_dim]`
fn segment_attention(q: Tensor<3>, k: Tensor<3>, v: Tensor<3>, segments: &[(usize, usize)], heads: usize) -> Tensor<2> {
    let [n, _, hd] = q.dims();
    let scale = 1.0 / (hd as f64).sqrt();
    let on_cpu = cpu_attention::applies(&q.clone().unsqueeze::<4>());
    if on_cpu && segments == [(0, n)] {
        // One image: q, k and v move to the host without a copy (49 MB for 4000 patches).
        return cpu_attention::attention(q.unsqueeze(), k.unsqueeze(), v.unsqueeze(), scale, false);
    }
    let outputs: Vec<Tensor<2>> = if on_cpu {
        // One call per image; the kernel bounds its own scratch, so no query chunks.
        segments
            .iter()
            .map(|&(start, len)| {
                let image = |t: &Tensor<3>| t.clone().narrow(0, start, len).unsqueeze::<4>();
                cpu_attention::attention(image(&q), image(&k), image(&v), scale, false)
            })
            .collect()
    } else {
        segments
            .iter()
            .flat_map(|&(start, len)| {
                let heads_first = |t: &Tensor<3>| t.clone().narrow(0, start, len).swap_dims(0, 1).unsqueeze::<4>();
                let (k, v) = (heads_first(&k), heads_first(&v));
                let q = heads_first(&q);
                query_chunks(len, heads * len * 4).into_iter().map(move |(qs, ql)| {
                    let out = attention(
                        q.clone().narrow(2, qs, ql),
                        k.clone(),
                        v.clone(),
                        None,
                        None,
                        AttentionModuleOptions { scale: Some(scale), softcap: None, is_causal: false },
                    );
                    out.squeeze_dim::<3>(0).swap_dims(0, 1).reshape([ql, heads * hd])
                })
            })
            .collect()
    };
    drop((q, k, v));
    concat(outputs)
}

/// Consecutive runs of images (index ranges into `grids`) of at most `max_patches` patches
/// each, or a single image where one alone has more.
fn passes(grids: &[[usize; 3]], max_patches: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut patches) = (0, 0);
    for (i, [t, h, w]) in grids.iter().enumerate() {
        let n = t * h * w;
        if i > start && patches + n > max_patches {
            out.push(start..i);
            (start, patches) = (i, 0);
        }
        patches += n;
    }
    out.push(start..grids.len());
    out
}

/// Rows of every part, in order (the part itself when there is one).
fn concat<const D: usize>(parts: Vec<Tensor<D>>) -> Tensor<D> {
    if parts.len() == 1 { parts.into_iter().next().expect("one") } else { Tensor::cat(parts, 0) }
}

/// Splits `len` queries into chunks whose score block (`bytes_per_query` each) stays under
/// [`MAX_SCORE_BYTES`].
fn query_chunks(len: usize, bytes_per_query: usize) -> Vec<(usize, usize)> {
    let per_chunk = (MAX_SCORE_BYTES / bytes_per_query.max(1)).clamp(1, len.max(1));
    (0..len).step_by(per_chunk).map(|s| (s, per_chunk.min(len - s))).collect()
}

impl PatchMerger {
    /// # Shapes
    /// `x: [patches, hidden]` -> `[patches / unit, out_hidden]`
    fn forward(&self, x: Tensor<2>, unit: usize) -> Tensor<2> {
        let [n, d] = x.dims();
        let grouped = if self.norm_after_grouping {
            self.norm.forward(x.reshape([n / unit, d * unit]))
        } else {
            self.norm.forward(x).reshape([n / unit, d * unit])
        };
        self.fc2.forward(gelu_erf(self.fc1.forward(grouped)))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passes_hold_whole_images_within_the_budget() {
        let grids = [[1, 4, 4], [1, 2, 6], [1, 8, 8], [1, 2, 2], [1, 2, 2]];
        assert_eq!(super::passes(&grids, 30), [0..2, 2..3, 3..5]);
        // One run of everything (a one-range literal reads as a range in an array to clippy).
        let all = super::passes(&grids, usize::MAX);
        assert_eq!((all.len(), all[0].clone()), (1, 0..5));
        assert_eq!(super::passes(&grids, 1), [0..1, 1..2, 2..3, 3..4, 4..5]);
        let none = super::passes(&[], 1);
        assert_eq!((none.len(), none[0].clone()), (1, 0..0));
    }

    #[test]
    fn query_chunks_cover_everything_within_budget() {
        let chunks = super::query_chunks(7200, 2 * 7200 * 4);
        assert_eq!(chunks.iter().map(|c| c.1).sum::<usize>(), 7200);
        assert!(chunks.iter().all(|c| c.1 * 2 * 7200 * 4 <= super::MAX_SCORE_BYTES));
        assert_eq!(super::query_chunks(10, 4), [(0, 10)]);
    }
}
