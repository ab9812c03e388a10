//! The Qwen3 text decoder (`model.language_model`): RMSNorm, q/k norm, grouped-query
//! attention with interleaved MRoPE, SwiGLU, and DeepStack injection after the first layers.

use std::cell::OnceCell;

use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, IndexingUpdateOp, Int, Tensor, TensorData, activation};

use crate::config::TextConfig;
use crate::error::Result;
use crate::layers::{Linear, RmsNorm, apply_rotary};
use crate::load::weights::WeightLoader;
use crate::token_embedding::TokenEmbedding;
use crate::{cpu_attention, cpu_mlp};

#[derive(Debug, Clone)]
struct DecoderLayer {
    input_layernorm: RmsNorm,
    post_attention_layernorm: RmsNorm,
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    q_norm: RmsNorm,
    k_norm: RmsNorm,
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

/// The Qwen3 decoder's weights: token table, decoder layers and the final RMSNorm.
#[derive(Debug, Clone)]
pub struct TextDecoder {
    config: TextConfig,
    /// On the host: see [`TokenEmbedding`] for why.
    pub(crate) embed_tokens: TokenEmbedding,
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
}

/// One layer's rotated keys and values, `[batch, positions, kv_heads, head_dim]` each.
type KeysValues = (Tensor<4>, Tensor<4>);

/// Every decoder layer's keys and values for a token prefix shared by many inputs (the
/// system turn with its instruction), computed once and reused: causal attention means those
/// positions never see what follows them, so their keys and values do not depend on it.
#[derive(Debug, Clone)]
pub struct PrefixKv {
    /// Per layer: rotated keys and values, `[1, prefix, kv_heads, head_dim]` each.
    pub(crate) layers: Vec<KeysValues>,
}

/// Image features to add into the residual stream after the first decoder layers.
pub struct DeepStackInjection {
    /// Flat `[batch * seq]` indices of the image tokens, in sequence order.
    pub positions: Tensor<1, Int>,
    /// One `[image_tokens, hidden]` tensor per level; level `l` is added after layer `l`, and
    /// freed then.
    pub features: Vec<Tensor<2>>,
}

impl TextDecoder {
    /// Loads `{prefix}embed_tokens`, `layers.N.*`, `norm`.
    pub fn load(w: &WeightLoader, prefix: &str, c: &TextConfig) -> Result<Self> {
        let (h, eps) = (c.hidden_size, c.rms_norm_eps);
        let (q_width, kv_width) = (c.num_heads * c.head_dim, c.num_kv_heads * c.head_dim);
        let layers = (0..c.num_layers)
            .map(|i| {
                let l = format!("{prefix}layers.{i}");
                Ok(DecoderLayer {
                    input_layernorm: w.rms_norm(&format!("{l}.input_layernorm"), h, eps)?,
                    post_attention_layernorm: w.rms_norm(&format!("{l}.post_attention_layernorm"), h, eps)?,
                    q_proj: w.linear(&format!("{l}.self_attn.q_proj"), h, q_width, false)?,
                    k_proj: w.linear(&format!("{l}.self_attn.k_proj"), h, kv_width, false)?,
                    v_proj: w.linear(&format!("{l}.self_attn.v_proj"), h, kv_width, false)?,
                    o_proj: w.linear(&format!("{l}.self_attn.o_proj"), q_width, h, false)?,
                    q_norm: w.rms_norm(&format!("{l}.self_attn.q_norm"), c.head_dim, eps)?,
                    k_norm: w.rms_norm(&format!("{l}.self_attn.k_norm"), c.head_dim, eps)?,
                    gate_proj: w.linear(&format!("{l}.mlp.gate_proj"), h, c.intermediate_size, false)?,
                    up_proj: w.linear(&format!("{l}.mlp.up_proj"), h, c.intermediate_size, false)?,
                    down_proj: w.linear(&format!("{l}.mlp.down_proj"), c.intermediate_size, h, false)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            embed_tokens: TokenEmbedding::load(
                w.checkpoint,
                &format!("{prefix}embed_tokens.weight"),
                c.vocab_size,
                h,
                crate::load::weights::is_q4(w.linear_dtype),
            )?,
            layers,
            norm: w.rms_norm(&format!("{prefix}norm"), h, eps)?,
            config: c.clone(),
        })
    }

    /// Runs every layer and the final norm.
    ///
    /// Attention is causal only: with right padding, real tokens never see a pad, so pads
    /// need no mask (their own outputs are never pooled and are left unspecified).
    ///
    /// # Shapes
    /// `embeds: [batch * seq, hidden]`, `cos`/`sin`: `[batch, seq, 1, head_dim]`
    /// -> `[batch * seq, hidden]`
    /// With `past`, the rows continue a prefix whose keys and values it holds: the embeds,
    /// `cos` and `sin` are those of the positions after it. With `keep = Some(n)`, the keys
    /// and values of the first row's first `n` positions come back too (a prefix every row
    /// shares, for later calls' `past`).
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        embeds: Tensor<2>,
        batch: usize,
        seq: usize,
        cos: &Tensor<4>,
        sin: &Tensor<4>,
        deepstack: Option<DeepStackInjection>,
        past: Option<&PrefixKv>,
        keep: Option<usize>,
    ) -> (Tensor<2>, Option<PrefixKv>) {
        let mut h = embeds;
        // Each level is dropped once added: a batch of eight screenshots holds 16 MB a level.
        let (positions, mut levels) = match deepstack {
            Some(ds) => (Some(ds.positions), ds.features.into_iter()),
            None => (None, Vec::new().into_iter()),
        };
        let mut kept = keep.map(|n| (n, Vec::with_capacity(self.layers.len())));
        // The mask after a prefix, made once for every layer that needs it (burn's attention).
        let mask = OnceCell::new();
        for (i, layer) in self.layers.iter().enumerate() {
            let layer_past = past.map(|p| (&p.layers[i], &mask));
            let layer_keep = kept.as_mut().map(|(n, layers)| (*n, layers));
            h = layer.forward(h, batch, seq, cos, sin, &self.config, layer_past, layer_keep);
            if let Some(positions) = &positions
                && let Some(feature) = levels.next()
            {
                h = h.select_assign(0, positions.clone(), feature, IndexingUpdateOp::Add);
            }
        }
        (self.norm.forward(h), kept.map(|(_, layers)| PrefixKv { layers }))
    }
}

impl DecoderLayer {
    /// One pre-norm layer: causal grouped-query attention with q/k RMSNorm and MRoPE, then the
    /// SwiGLU MLP, each added to the residual.
    ///
    /// `past`: a prefix's keys and values, `[1, p, kv_heads, head_dim]`, which every row's
    /// queries see before their own (the rows sit at positions `p..`), with the cell holding
    /// the mask that burn's attention needs then (made by the first layer); `keep = (n, out)`
    /// receives the first row's keys and values at its first `n` positions.
    ///
    /// # Shapes
    /// `h: [b * s, hidden_size]`, `cos`/`sin`: `[b, s, 1, head_dim]` -> `[b * s, hidden_size]`
    #[allow(clippy::too_many_arguments)]
    fn forward(
        &self,
        h: Tensor<2>,
        b: usize,
        s: usize,
        cos: &Tensor<4>,
        sin: &Tensor<4>,
        c: &TextConfig,
        past: Option<(&KeysValues, &OnceCell<Tensor<4, Bool>>)>,
        keep: Option<(usize, &mut Vec<KeysValues>)>,
    ) -> Tensor<2> {
        let hd = c.head_dim;
        let x = self.input_layernorm.forward(h.clone());
        // [b*s, width] -> [b, heads, s, hd], normed per head and rotated before attention.
        let heads_first = |t: Tensor<2>, heads: usize| t.reshape([b, s, heads, hd]);
        let q = apply_rotary(
            self.q_norm.forward(heads_first(self.q_proj.forward(x.clone()), c.num_heads)),
            cos.clone(),
            sin.clone(),
        );
        let k = apply_rotary(
            self.k_norm.forward(heads_first(self.k_proj.forward(x.clone()), c.num_kv_heads)),
            cos.clone(),
            sin.clone(),
        );
        let v = heads_first(self.v_proj.forward(x), c.num_kv_heads);
        if let Some((n, out)) = keep {
            // Narrowed views would keep this call's whole keys and values (every row of the
            // batch, every position) alive for as long as the prefix is cached: a first call
            // on 16 screenshots pinned 0.53 GiB that way (benches/model/README.md). One
            // concatenation copies the prefix into a buffer of its own, on every device.
            let first = |t: &Tensor<4>| t.clone().narrow(0, 0, 1).narrow(1, 0, n);
            let both = Tensor::cat(vec![first(&k), first(&v)], 0);
            out.push((both.clone().narrow(0, 0, 1), both.narrow(0, 1, 1)));
        }
        let (k, v, p, mask) = match past {
            Some(((pk, pv), mask)) => {
                let [_, p, kv_heads, _] = pk.dims();
                let every_row = |t: &Tensor<4>| t.clone().expand([b, p, kv_heads, hd]);
                (Tensor::cat(vec![every_row(pk), k], 1), Tensor::cat(vec![every_row(pv), v], 1), p, Some(mask))
            }
            None => (k, v, 0, None),
        };
        let scale = 1.0 / (hd as f64).sqrt();
        let out = if cpu_attention::applies(&q) {
            cpu_attention::attention(q, k, v, scale, true)
        } else {
            let group = c.num_heads / c.num_kv_heads;
            // burn's `is_causal` is for square scores; after a prefix the mask is explicit.
            let mask = mask.map(|m| m.get_or_init(|| after_prefix_mask(b, c.num_heads, s, p, &q)).clone());
            let is_causal = mask.is_none();
            let out = attention(
                q.swap_dims(1, 2),
                repeat_kv(k.swap_dims(1, 2), group),
                repeat_kv(v.swap_dims(1, 2), group),
                mask,
                None,
                AttentionModuleOptions { scale: Some(scale), softcap: None, is_causal },
            );
            out.swap_dims(1, 2).reshape([b * s, c.num_heads * hd])
        };
        let h = h + self.o_proj.forward(out);
        let x = self.post_attention_layernorm.forward(h.clone());
        let mlp = match cpu_mlp::swiglu(&self.gate_proj, &self.up_proj, &self.down_proj, x) {
            cpu_mlp::HostMlp::Done(out) => out,
            cpu_mlp::HostMlp::NotPacked(x) => {
                let gated = activation::silu(self.gate_proj.forward(x.clone())) * self.up_proj.forward(x);
                self.down_proj.forward(gated)
            }
        };
        h + mlp
    }
}

/// The causal mask of `s` queries at positions `p..p + s` over `p + s` keys: `true` (masked)
/// where key `j` comes after query `i`'s position, `j > p + i`.
///
/// # Shapes
/// -> `[b, heads, s, p + s]`, on `like`'s device
fn after_prefix_mask(b: usize, heads: usize, s: usize, p: usize, like: &Tensor<4>) -> Tensor<4, Bool> {
    let mask: Vec<bool> = (0..s).flat_map(|i| (0..p + s).map(move |j| j > p + i)).collect();
    Tensor::<4, Bool>::from_data(TensorData::new(mask, [1, 1, s, p + s]), &like.device()).expand([b, heads, s, p + s])
}

/// Repeats each key/value head `group` times so grouped-query attention can run as plain
/// multi-head attention (kv head g serves query heads g*group .. g*group+group-1).
///
/// # Shapes
/// `[batch, kv_heads, seq, hd]` -> `[batch, kv_heads * group, seq, hd]`
fn repeat_kv(x: Tensor<4>, group: usize) -> Tensor<4> {
    if group == 1 {
        return x;
    }
    let [b, kv, s, hd] = x.dims();
    x.unsqueeze_dim::<5>(2).expand([b, kv, group, s, hd]).reshape([b, kv * group, s, hd])
}
