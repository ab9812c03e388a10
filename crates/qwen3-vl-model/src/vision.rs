//! The vision tower (`model.visual`): patch embedding, learned positions resampled to each
//! image, 2-D rotary attention within each image, DeepStack taps and the final 2x2 merger.

use std::ops::Range;

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
/// vectors. 4096 is one 1280x800 screenshot (4000 patches): a batch then needs no more tower
/// memory than one such image. On the 2B in int8, 16 demos of 640x400 (two batches of eight,
/// 8000 patches each) peaked 0.15 GiB lower, in the same time (benches/model/README.md).
/// Passes this large keep every product large for every device.
const MAX_PATCHES_PER_PASS: usize = 4096;

/// What the tower hands to the decoder.
#[derive(Debug, Clone)]
pub struct VisionOutput {
    /// Merged image tokens `[patches / 4, out_hidden]`, images concatenated in order.
    pub merged: Tensor<2>,
    /// One `[patches / 4, out_hidden]` tensor per DeepStack level.
    pub deepstack: Vec<Tensor<2>>,
    /// The last block's output `[patches, hidden]`, before merging (for parity tests).
    pub last_hidden: Tensor<2>,
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
    /// images' pixels from the host (a batch of screenshots is tens of MB of f32 patches; one
    /// copy of all of them on the device, beside the caller's, would outlive every pass).
    ///
    /// # Shapes
    /// `pixel_values: [patches * (in_channels * temporal_patch_size * patch_size^2)]`, images
    /// concatenated in order, with one `[t, h, w]` grid (in patches) per image
    /// -> `merged` and each `deepstack` entry `[patches / 4, out_hidden_size]`,
    /// `last_hidden: [patches, hidden_size]`
    pub fn forward(&self, pixel_values: &[f32], grids: &[[usize; 3]], device: &Device, dtype: DType) -> VisionOutput {
        let len = self.config.patch_len();
        let pass_pixels = |patches: Range<usize>| {
            let values = pixel_values[patches.start * len..patches.end * len].to_vec();
            Tensor::<2>::from_data(TensorData::new(values, [patches.len(), len]), (device, dtype))
        };
        self.forward_in_passes(pass_pixels, grids, MAX_PATCHES_PER_PASS)
    }

    /// The tower in passes of whole images of at most `max_patches` patches each (an
    /// image with more runs alone), the outputs concatenated in order; `pass_pixels(patches)`
    /// gives the pixel rows of a range of patches.
    pub(crate) fn forward_in_passes(
        &self,
        pass_pixels: impl Fn(Range<usize>) -> Tensor<2>,
        grids: &[[usize; 3]],
        max_patches: usize,
    ) -> VisionOutput {
        let passes = passes(grids, max_patches);
        let mut outputs = Vec::with_capacity(passes.len());
        let mut start = 0;
        for images in passes {
            let patches: usize = grids[images.clone()].iter().map(|[t, h, w]| t * h * w).sum();
            outputs.push(self.forward_pass(pass_pixels(start..start + patches), &grids[images]));
            start += patches;
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
            last_hidden.push(out.last_hidden);
            for (level, features) in deepstack.iter_mut().zip(out.deepstack) {
                level.push(features);
            }
        }
        VisionOutput {
            merged: Tensor::cat(merged, 0),
            deepstack: deepstack.into_iter().map(|level| Tensor::cat(level, 0)).collect(),
            last_hidden: Tensor::cat(last_hidden, 0),
        }
    }

    /// One pass of the tower over the given images.
    fn forward_pass(&self, pixel_values: Tensor<2>, grids: &[[usize; 3]]) -> VisionOutput {
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
            x = block.forward(x, &cos, &sin, &segments, c.num_heads);
            if let Some(j) = c.deepstack_visual_indexes.iter().position(|&k| k == i) {
                deepstack.push(self.deepstack_mergers[j].forward(x.clone(), c.merge_unit()));
            }
        }
        VisionOutput { merged: self.merger.forward(x.clone(), c.merge_unit()), deepstack, last_hidden: x }
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
    /// MLP, each added to the residual.
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
    ) -> Tensor<2> {
        let [n, d] = x.dims();
        let hd = d / heads;
        // Scoped so that neither the fused `qkv` output nor q, k and v outlive attention: held
        // through the MLP, for a 4000-patch screenshot they were 49 + 3 x 16 MB of dead memory.
        let (q, k, v) = {
            let qkv = self.qkv.forward(self.norm1.forward(x.clone())).reshape([n, 3, heads, hd]);
            let part = |i: usize| qkv.clone().narrow(1, i, 1).reshape([n, heads, hd]);
            (apply_rotary(part(0), cos.clone(), sin.clone()), apply_rotary(part(1), cos.clone(), sin.clone()), part(2))
        };
        self.finish(x, segment_attention(q, k, v, segments, heads))
    }

    /// The output projection added to the residual, then the MLP added to that.
    fn finish(&self, x: Tensor<2>, attn: Tensor<2>) -> Tensor<2> {
        let x = x + self.proj.forward(attn);
        let normed = self.norm2.forward(x.clone());
        let mlp = match cpu_mlp::gelu_tanh(&self.fc1, &self.fc2, &normed) {
            Some(out) => out,
            None => self.fc2.forward(gelu_tanh(self.fc1.forward(normed))),
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
    let hd = q.dims()[2];
    let scale = 1.0 / (hd as f64).sqrt();
    let outputs: Vec<Tensor<2>> = if cpu_attention::applies(&q.clone().unsqueeze::<4>()) {
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
fn concat(parts: Vec<Tensor<2>>) -> Tensor<2> {
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
