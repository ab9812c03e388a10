//! `Qwen3VLModel`: the vision tower and text decoder joined. Image features replace the
//! `<|image_pad|>` embeddings, positions are 3-D, and DeepStack features are added after the
//! first decoder layers. Output: the final-norm hidden states and the pooled last token.

use burn::tensor::{DType, Device, IndexingUpdateOp, Int, Tensor, TensorData};

use crate::config::Qwen3VlConfig;
use crate::error::{ModelError, Result};
use crate::load::checkpoint::Checkpoint;
use crate::load::weights::WeightLoader;
use crate::positions::{MergedGrid, mrope_position_ids};
use crate::rope::{cos_sin, interleaved_axes, inv_freq};
use crate::text::{DeepStackInjection, PrefixKv, TextDecoder};
use crate::vision::{VisionOutput, VisionTower};

/// `<|endoftext|>`, the padding id of the reference.
pub const PAD_TOKEN_ID: u32 = qwen3_vl_constants::special_tokens::ENDOFTEXT;

/// One batch, as the preprocessor produces it.
#[derive(Debug, Clone, Default)]
pub struct ModelInput {
    /// Token ids of each row, unpadded, image tokens already expanded.
    pub rows: Vec<Vec<u32>>,
    /// Flattened patches `[patches * patch_len]` of every image, in token order.
    pub pixel_values: Vec<f32>,
    /// `[t, h, w]` (in patches) for each image, in token order.
    pub grids: Vec<[usize; 3]>,
}

/// Every decoder layer's keys and values for a token prefix
/// ([`Qwen3VlModel::forward_keeping_prefix`]), so later inputs that begin with the same tokens
/// (the system turn with its instruction) skip them ([`Qwen3VlModel::forward_after_prefix`]).
/// Belongs to the model that made it (its device, dtype and weights).
#[derive(Debug, Clone)]
pub struct PrefixCache {
    tokens: Vec<u32>,
    kv: PrefixKv,
}

impl PrefixCache {
    /// The prefix's token ids.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }
}

/// Everything the forward pass computed that a caller (or a parity test) may want.
#[derive(Debug, Clone)]
pub struct ModelOutput {
    /// `[batch, seq, hidden]`, after the final norm, for the positions the pass ran (after
    /// the prefix with [`Qwen3VlModel::forward_after_prefix`]). Pad positions are unspecified.
    pub last_hidden_state: Tensor<3>,
    /// `[batch, hidden]`: the hidden state of each row's last token (not normalised).
    pub pooled: Tensor<2>,
    /// The vision tower's outputs, last hidden state included, when the batch has images and
    /// the pass was [`Qwen3VlModel::forward_with_vision`] (every other pass frees them as soon
    /// as the decoder has used them).
    pub vision: Option<VisionOutput>,
    /// 3-D positions `[axis][row][column]` of the positions the pass ran.
    pub position_ids: [Vec<Vec<i64>>; 3],
}

/// The loaded embedding model: config, vision tower, text decoder and the text RoPE
/// frequencies, on one device in one compute dtype.
#[derive(Debug, Clone)]
pub struct Qwen3VlModel {
    config: Qwen3VlConfig,
    vision: VisionTower,
    text: TextDecoder,
    text_inv_freq: Vec<f32>,
    device: Device,
    dtype: DType,
}

impl Qwen3VlModel {
    /// Loads every tensor of `config` from `checkpoint` onto `device`, tensor by tensor, in
    /// `dtype`:
    /// - `F32`: everything in f32 (every device);
    /// - `F16`: everything in f16, computing in f16 (wgpu devices with `shader-f16`);
    /// - `BF16`: the linear weights (85% of the 2B's parameters; the token table is bf16 on the
    ///   host in every mode) kept in bf16 and widened where they are used, everything else and
    ///   all compute in f32 (devices with bf16 storage: the CPU). About half the memory of
    ///   `F32` and exactly its results for bf16 checkpoints, at the cost of a widening pass over
    ///   the weights in every forward pass.
    /// - [`int8_weights`](crate::load::weights::int8_weights): the linear weights in int8 with one
    ///   scale per 32 values, the rest and all compute in f32 (every device): about a quarter of
    ///   the memory; embeddings within cosine 0.999 of f32 on the fixtures.
    /// - [`q4_weights`](crate::load::weights::q4_weights): the linear weights in 4 bits with one
    ///   f16 scale per 32 values and the token table in int8, the rest and all compute in f32
    ///   (devices other than the CPU hold them packed and expand them at each product:
    ///   `device_q4`).
    ///
    /// A converted checkpoint (`qwen3-vl-embed convert`) whose weights are stored packed loads
    /// them as stored, on every device, in their own precision only
    /// ([`ModelError::ConvertedPrecision`]).
    ///
    /// Accepts the released names (`model.visual.*`, `model.language_model.*`) and the same
    /// names without the leading `model.`. Fails on missing, mis-shaped or leftover tensors.
    pub fn load(checkpoint: &Checkpoint, config: Qwen3VlConfig, device: &Device, dtype: DType) -> Result<Self> {
        config.validate()?;
        // Quantized weights are only stored, never computed in (burn reports them as not
        // "generally supported" everywhere); every device burn runs here can store Q8S.
        if !matches!(dtype, DType::QFloat(_)) && !device.supports_dtype(dtype) {
            return Err(ModelError::UnsupportedPrecision { dtype: format!("{dtype:?}") });
        }
        let root = if checkpoint.contains("model.visual.patch_embed.proj.weight")
            || !checkpoint.contains("visual.patch_embed.proj.weight")
        {
            "model."
        } else {
            ""
        };
        let (compute, linear_dtype) = match dtype {
            DType::BF16 | DType::QFloat(_) => (DType::F32, dtype),
            other => (other, other),
        };
        if compute == DType::F32 && *device == Device::flex() {
            crate::cpu_attention::cpu_attention_kernel()?;
        }
        let w = WeightLoader { checkpoint, device, dtype: compute, linear_dtype };
        let vision = VisionTower::load(&w, &format!("{root}visual."), &config.vision)?;
        let text = TextDecoder::load(&w, &format!("{root}language_model."), &config.text)?;
        checkpoint.ensure_all_used()?;
        // After the load, not before: with the thresholds raised, every packed weight came
        // from glibc's heap, which kept the load's freed transients (the tokenizer's parse on
        // its other thread, read buffers) resident beside them.
        if linear_dtype != compute {
            crate::load::transient_buffers::keep_freed_buffers_mapped();
        }
        Ok(Self {
            text_inv_freq: inv_freq(config.text.rope_theta, config.text.head_dim),
            config,
            vision,
            text,
            device: device.clone(),
            dtype: compute,
        })
    }

    /// The config the model was loaded with.
    pub fn config(&self) -> &Qwen3VlConfig {
        &self.config
    }

    /// The device every tensor of the model lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Runs the model on a batch: rows are right-padded with [`PAD_TOKEN_ID`] to the longest,
    /// image features replace the `<|image_pad|>` embeddings, and each row's last real token is
    /// pooled. Fails, before touching the device, on empty rows, out-of-vocabulary ids or image
    /// token and pixel counts that do not match the grids.
    ///
    /// Takes the batch by value so that its pixels (24 bytes a pixel: 47 MB for eight
    /// screenshots) are freed once the vision tower has read them, before the decoder's peak.
    ///
    /// # Shapes
    /// `input.rows`: `batch` rows of up to `seq` ids, `input.pixel_values`:
    /// `[patches * patch_len]` -> `last_hidden_state: [batch, seq, hidden_size]`,
    /// `pooled: [batch, hidden_size]`
    pub fn forward(&self, input: ModelInput) -> Result<ModelOutput> {
        Ok(self.run(input, None, Keep::default())?.0)
    }

    /// [`Self::forward`], keeping the vision tower's outputs in [`ModelOutput::vision`] (for
    /// parity tests and inspection). Held to the end of the pass, they cost a batch of eight
    /// screenshots ~100 MB at the decoder's peak, which `forward` does not spend.
    pub fn forward_with_vision(&self, input: ModelInput) -> Result<ModelOutput> {
        Ok(self.run(input, None, Keep { vision: true, ..Keep::default() })?.0)
    }

    /// [`Self::forward`], keeping every layer's keys and values for the first `prefix` tokens,
    /// which every row must share and go on after (an input error otherwise), and which must
    /// be text (no image tokens): the cache for [`Self::forward_after_prefix`], at no extra
    /// cost to this call.
    pub fn forward_keeping_prefix(&self, input: ModelInput, prefix: usize) -> Result<(ModelOutput, PrefixCache)> {
        let tokens = input.rows.first().filter(|r| r.len() > prefix).map(|r| r[..prefix].to_vec());
        let tokens = tokens.ok_or_else(|| ModelError::Input(format!("no row goes on after a prefix of {prefix}")))?;
        self.check_extends(&input, &tokens)?;
        if prefix == 0 || tokens.contains(&self.config.image_token_id) {
            return Err(ModelError::Input(format!("a cached prefix must be 1 or more text tokens, not {tokens:?}")));
        }
        let (output, kv) = self.run(input, None, Keep { prefix: Some(prefix), ..Keep::default() })?;
        let kv = kv.expect("`run` keeps what it is asked to keep");
        Ok((output, PrefixCache { tokens, kv }))
    }

    /// [`Self::forward`] for rows that all begin with `prefix`'s tokens and go on after them:
    /// only the positions after the prefix run, their attention reading the prefix's cached
    /// keys and values. The same results as `forward` (up to the order of f32 sums); the
    /// outputs cover the positions after the prefix. Rows that do not extend the prefix are an
    /// input error.
    pub fn forward_after_prefix(&self, input: ModelInput, prefix: &PrefixCache) -> Result<ModelOutput> {
        self.check_extends(&input, &prefix.tokens)?;
        Ok(self.run(input, Some(prefix), Keep::default())?.0)
    }

    /// Every row begins with `prefix` and goes on after it.
    fn check_extends(&self, input: &ModelInput, prefix: &[u32]) -> Result<()> {
        let p = prefix.len();
        match input.rows.iter().position(|r| r.len() <= p || !r.starts_with(prefix)) {
            Some(b) => Err(ModelError::Input(format!("row {b} does not go on after the shared prefix of {p} tokens"))),
            None => Ok(()),
        }
    }

    /// The forward pass over the positions after `prefix` (all of them without one), keeping
    /// what `keep` asks for.
    fn run(
        &self,
        input: ModelInput,
        prefix: Option<&PrefixCache>,
        keep: Keep,
    ) -> Result<(ModelOutput, Option<PrefixKv>)> {
        let merged_grids = self.check_input(&input)?;
        let ModelInput { rows, pixel_values, grids } = input;
        let batch = rows.len();
        let full_seq = rows.iter().map(Vec::len).max().unwrap_or(0);
        let row_refs: Vec<&[u32]> = rows.iter().map(Vec::as_slice).collect();
        let all_positions = mrope_position_ids(&row_refs, full_seq, &merged_grids, self.config.image_token_id)?;
        // A prefix is text only, so every position after it is the same as without it.
        let p = prefix.map_or(0, |c| c.tokens.len());
        let seq = full_seq - p;
        let position_ids: [Vec<Vec<i64>>; 3] =
            all_positions.map(|axis| axis.into_iter().map(|row| row[p..].to_vec()).collect());

        let mut flat_ids = Vec::with_capacity(batch * seq);
        for row in &rows {
            flat_ids.extend_from_slice(&row[p..]);
            flat_ids.extend(std::iter::repeat_n(PAD_TOKEN_ID, seq - (row.len() - p)));
        }
        let image_token = self.config.image_token_id;
        let image_positions: Vec<i64> =
            flat_ids.iter().enumerate().filter(|&(_, &t)| t == image_token).map(|(i, _)| i as i64).collect();
        let vision = (!grids.is_empty())
            .then(|| self.vision.forward(pixel_values, &grids, &self.device, self.dtype, keep.vision));

        // Token embeddings are looked up on the host, after the tower (whose peak they would
        // otherwise join). Image features replace (not add to) the placeholder embeddings, so
        // those rows are zeroed here and the features added below.
        let hidden_size = self.config.text.hidden_size;
        let mut token_rows = self.text.embed_tokens.gather(&flat_ids)?;
        for &p in &image_positions {
            token_rows[p as usize * hidden_size..][..hidden_size].fill(0.0);
        }
        let mut embeds =
            Tensor::<2>::from_data(TensorData::new(token_rows, [batch * seq, hidden_size]), (&self.device, self.dtype));
        // Clones share the tensors' storage: kept or not, each is held once.
        let kept_vision = if keep.vision { vision.clone() } else { None };
        let deepstack = match vision {
            Some(v) => {
                let n = image_positions.len();
                let positions = Tensor::<1, Int>::from_data(TensorData::new(image_positions, [n]), &self.device);
                embeds = embeds.select_assign(0, positions.clone(), v.merged, IndexingUpdateOp::Add);
                Some(DeepStackInjection { positions, features: v.deepstack })
            }
            None => None,
        };

        let (cos, sin) = self.text_rotary(&position_ids, batch, seq);
        let (hidden, kept) =
            self.text.forward(embeds, batch, seq, &cos, &sin, deepstack, prefix.map(|c| &c.kv), keep.prefix);

        let last: Vec<i64> = rows.iter().enumerate().map(|(b, r)| (b * seq + r.len() - p - 1) as i64).collect();
        let last = Tensor::<1, Int>::from_data(TensorData::new(last, [batch]), &self.device);
        let pooled = hidden.clone().select(0, last);
        let output = ModelOutput {
            last_hidden_state: hidden.reshape([batch, seq, hidden_size]),
            pooled,
            vision: kept_vision,
            position_ids,
        };
        Ok((output, kept))
    }

    /// Interleaved MRoPE cos/sin `[batch, seq, 1, head_dim]`, computed on the host in f32.
    fn text_rotary(&self, positions: &[Vec<Vec<i64>>; 3], batch: usize, seq: usize) -> (Tensor<4>, Tensor<4>) {
        let t = &self.config.text;
        let half = t.head_dim / 2;
        let axes = interleaved_axes(half, t.mrope_section);
        let inv = &self.text_inv_freq;
        let (cos, sin) =
            cos_sin(batch * seq, half, |i, slot| positions[axes[slot]][i / seq][i % seq] as f32 * inv[slot]);
        let shape = [batch, seq, 1, t.head_dim];
        let upload = |v| Tensor::<4>::from_data(TensorData::new(v, shape), (&self.device, self.dtype));
        (upload(cos), upload(sin))
    }

    /// Checks token ids, image token counts and pixel counts before anything reaches the
    /// device (an out-of-range id would be an unchecked gather on some backends).
    fn check_input(&self, input: &ModelInput) -> Result<Vec<MergedGrid>> {
        let c = &self.config;
        if input.rows.is_empty() || input.rows.iter().any(Vec::is_empty) {
            return Err(ModelError::Input("empty batch or empty row".into()));
        }
        if let Some(&bad) = input.rows.iter().flatten().find(|&&t| t as usize >= c.text.vocab_size) {
            return Err(ModelError::Input(format!(
                "token id {bad} is outside the vocabulary of {}",
                c.text.vocab_size
            )));
        }
        let merge = c.vision.spatial_merge_size;
        let mut merged = Vec::with_capacity(input.grids.len());
        let mut patches = 0usize;
        for &[t, h, w] in &input.grids {
            if t == 0 || h == 0 || w == 0 || h % merge != 0 || w % merge != 0 {
                return Err(ModelError::Input(format!(
                    "image grid {t}x{h}x{w} is not a positive multiple of the {merge}x{merge} merge window"
                )));
            }
            if t != 1 {
                return Err(ModelError::Input(format!(
                    "image grid has t = {t}; only still images (t = 1) are supported"
                )));
            }
            patches += t * h * w;
            merged.push(MergedGrid { merged_h: h / merge, merged_w: w / merge });
        }
        if input.pixel_values.len() != patches * c.vision.patch_len() {
            return Err(ModelError::Input(format!(
                "pixel_values has {} values, the grids need {patches} patches of {}",
                input.pixel_values.len(),
                c.vision.patch_len()
            )));
        }
        let image_tokens = input.rows.iter().flatten().filter(|&&t| t == c.image_token_id).count();
        let expected: usize = merged.iter().map(MergedGrid::tokens).sum();
        if image_tokens != expected {
            return Err(ModelError::Input(format!(
                "{image_tokens} image tokens in the text, but the images need {expected}"
            )));
        }
        Ok(merged)
    }
}

/// What a forward pass keeps besides its outputs.
#[derive(Debug, Clone, Copy, Default)]
struct Keep {
    /// The keys and values of this many leading positions (a shared prefix).
    prefix: Option<usize>,
    /// The vision tower's outputs, last hidden state included.
    vision: bool,
}

/// Reads a float tensor back to the host without blocking (required on wasm).
pub async fn read_f32<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>> {
    let data = tensor.into_data_async().await.map_err(|e| ModelError::Device(format!("{e:?}")))?;
    data.convert::<f32>().try_into_vec::<f32>().map_err(|e| ModelError::Device(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::PassLimits;

    /// The tower in passes of whole images gives the vectors of one pass (the one pass is
    /// checked against transformers by tests/parity.rs), in f32 on the CPU device and, when an
    /// adapter exists, on wgpu; products of different row counts may round differently, so
    /// within 1e-5. Each pass uploads its own cut of the host's pixels.
    #[test]
    fn the_vision_tower_in_passes_matches_one_pass() {
        let mut devices = vec![Device::flex()];
        match Device::wgpu_options().init() {
            Ok(d) => devices.push(d),
            Err(e) => eprintln!("NOT CHECKED on wgpu (no adapter: {e:?}); the CPU device only"),
        }
        for device in devices {
            vision_passes_match_one_pass(&device);
        }
    }

    fn vision_passes_match_one_pass(device: &Device) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models/tiny-embedding");
        let config = Qwen3VlConfig::from_json_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
        let model = Qwen3VlModel::load(&Checkpoint::open_dir(&dir).unwrap(), config, device, DType::F32).unwrap();
        let grids = [[1, 4, 4], [1, 2, 6], [1, 6, 4]];
        let patches: usize = grids.iter().map(|[t, h, w]| t * h * w).sum();
        let len = model.config.vision.patch_len();
        // Deterministic values in [-1, 1): a multiplicative hash of the index.
        let values: Vec<f32> = (0..patches * len)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 8) as f32 / (1 << 23) as f32 - 1.0)
            .collect();
        let read = |t: Tensor<2>| pollster::block_on(read_f32(t)).unwrap();
        let in_passes =
            |limits| model.vision.forward_in_passes(values.clone(), &grids, device, DType::F32, true, limits);
        let whole = in_passes(PassLimits { patches: usize::MAX, qkv_rows: usize::MAX });
        // One image a pass; two images then one; whole images with their rows in chunks of 5.
        for budget in [
            PassLimits { patches: 1, qkv_rows: 1024 },
            PassLimits { patches: 30, qkv_rows: 1024 },
            PassLimits { patches: usize::MAX, qkv_rows: 5 },
        ] {
            let split = in_passes(budget);
            let last_hidden = |o: &VisionOutput| o.last_hidden.clone().expect("kept");
            let (whole_last, split_last) = (last_hidden(&whole), last_hidden(&split));
            let pairs = [(&whole.merged, &split.merged), (&whole_last, &split_last)]
                .into_iter()
                .chain(whole.deepstack.iter().zip(&split.deepstack));
            let mut compared = 0;
            for (a, b) in pairs {
                let (a, b) = (read(a.clone()), read(b.clone()));
                assert_eq!(a.len(), b.len(), "{budget:?}: shapes differ");
                let err = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
                assert!(err <= 1e-5, "{device:?}, {budget:?}: max |err| {err:e}");
                compared += 1;
            }
            assert_eq!(compared, 2 + whole.deepstack.len());
        }
        let lean = model.vision.forward(values, &grids, device, DType::F32, false);
        assert_eq!(read(lean.merged), read(whole.merged.clone()), "{device:?}: without the last hidden state");
        assert!(lean.last_hidden.is_none(), "the last hidden state is kept only when asked for");
    }
}
