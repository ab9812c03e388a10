//! `config.json` -> [`Qwen3VlConfig`]: the file as declared data (private `Raw*` structs with
//! transformers' defaults), then [`Qwen3VlConfig::validate`].
//!
//! Two layouts exist in the wild: released Qwen3-VL checkpoints put `rope_theta` and
//! `rope_scaling` (with `mrope_section`) in `text_config`; transformers 5.x writes a single
//! `rope_parameters` object instead. Both parse to the same [`TextConfig`]. Errors name the
//! field by its path (`text_config.hidden_size: invalid value ...`).

use qwen3_vl_constants::patch_geometry::{CHANNELS, MERGE_SIZE, PATCH_SIZE, TEMPORAL_PATCH_SIZE};
use qwen3_vl_constants::special_tokens::{IMAGE_PAD, VISION_START};
use serde::Deserialize;

use crate::config::{Qwen3VlConfig, TextConfig, VisionConfig};
use crate::error::{ModelError, Result};

/// The top level of `config.json`; unknown fields are ignored.
#[derive(Deserialize)]
struct RawConfig {
    text_config: RawText,
    vision_config: RawVision,
    #[serde(default = "image_pad")]
    image_token_id: u32,
    #[serde(default = "vision_start")]
    vision_start_token_id: u32,
    /// transformers writes it at the top level; some configs only in `text_config`.
    tie_word_embeddings: Option<bool>,
}

/// `text_config` (transformers' `Qwen3VLTextConfig`).
#[derive(Deserialize)]
struct RawText {
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    /// Defaults to `num_attention_heads` (no grouped-query attention).
    num_key_value_heads: Option<usize>,
    /// Defaults to `hidden_size / num_attention_heads`.
    head_dim: Option<usize>,
    vocab_size: usize,
    #[serde(default = "rms_norm_eps")]
    rms_norm_eps: f64,
    #[serde(default = "silu")]
    hidden_act: String,
    /// The released layout's RoPE base; transformers 5 puts it in `rope_parameters`.
    rope_theta: Option<f64>,
    /// The released layout.
    rope_scaling: Option<RawRope>,
    /// The transformers 5 layout (preferred when both are present).
    rope_parameters: Option<RawRope>,
    tie_word_embeddings: Option<bool>,
}

/// `rope_scaling` / `rope_parameters`.
#[derive(Deserialize)]
struct RawRope {
    rope_theta: Option<f64>,
    rope_type: Option<String>,
    /// The older spelling of `rope_type`.
    #[serde(rename = "type")]
    kind: Option<String>,
    mrope_section: Option<Vec<usize>>,
    #[serde(default = "yes")]
    mrope_interleaved: bool,
}

/// `vision_config` (transformers' `Qwen3VLVisionConfig`).
#[derive(Deserialize)]
struct RawVision {
    depth: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_heads: usize,
    #[serde(default = "patch_size")]
    patch_size: usize,
    #[serde(default = "temporal_patch_size")]
    temporal_patch_size: usize,
    #[serde(default = "merge_size")]
    spatial_merge_size: usize,
    #[serde(default = "channels")]
    in_channels: usize,
    out_hidden_size: usize,
    num_position_embeddings: usize,
    #[serde(default = "gelu_tanh")]
    hidden_act: String,
    /// `null` or absent: no DeepStack.
    deepstack_visual_indexes: Option<Vec<usize>>,
}

// serde's `default = "path"` takes functions; these are transformers' defaults.
fn image_pad() -> u32 {
    IMAGE_PAD
}
fn vision_start() -> u32 {
    VISION_START
}
fn rms_norm_eps() -> f64 {
    1e-6
}
fn silu() -> String {
    "silu".into()
}
fn gelu_tanh() -> String {
    "gelu_pytorch_tanh".into()
}
fn yes() -> bool {
    true
}
fn patch_size() -> usize {
    PATCH_SIZE
}
fn temporal_patch_size() -> usize {
    TEMPORAL_PATCH_SIZE
}
fn merge_size() -> usize {
    MERGE_SIZE
}
fn channels() -> usize {
    CHANNELS
}

fn config_error(msg: impl Into<String>) -> ModelError {
    ModelError::Config(msg.into())
}

impl Qwen3VlConfig {
    /// Parses `config.json` text and checks every invariant the model relies on.
    pub fn from_json_str(text: &str) -> Result<Self> {
        parse(text)
    }
}

/// Parses and validates `config.json` text.
fn parse(text: &str) -> Result<Qwen3VlConfig> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| config_error(format!("config.json is not valid JSON: {e}")))?;
    let raw: RawConfig = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." { config_error(inner.to_string()) } else { config_error(format!("{path}: {inner}")) }
    })?;
    let tie_word_embeddings = raw.tie_word_embeddings.or(raw.text_config.tie_word_embeddings).unwrap_or(true);
    let config = Qwen3VlConfig {
        text: text_config(raw.text_config)?,
        vision: vision_config(raw.vision_config)?,
        image_token_id: raw.image_token_id,
        vision_start_token_id: raw.vision_start_token_id,
        tie_word_embeddings,
    };
    config.validate()?;
    Ok(config)
}

fn text_config(t: RawText) -> Result<TextConfig> {
    if t.hidden_act != "silu" {
        return Err(config_error(format!("text hidden_act {:?} is not supported (expected \"silu\")", t.hidden_act)));
    }
    let rope = t
        .rope_parameters
        .or(t.rope_scaling)
        .ok_or_else(|| config_error("missing field text_config.rope_scaling (or rope_parameters)"))?;
    if let Some(kind) = rope.rope_type.as_ref().or(rope.kind.as_ref())
        && kind != "default"
    {
        return Err(config_error(format!("rope_type {kind:?} is not supported (expected \"default\")")));
    }
    if !rope.mrope_interleaved {
        return Err(config_error("mrope_interleaved = false (chunked MRoPE) is not supported"));
    }
    let section = rope.mrope_section.ok_or_else(|| config_error("missing field mrope_section"))?;
    let mrope_section: [usize; 3] = section
        .try_into()
        .map_err(|s: Vec<usize>| config_error(format!("mrope_section must be 3 integers, found {s:?}")))?;
    let rope_theta =
        t.rope_theta.or(rope.rope_theta).ok_or_else(|| config_error("missing field text_config.rope_theta"))?;
    // 0 heads is reported by `validate`; the default width must not divide by it first.
    let head_dim = t.head_dim.unwrap_or(t.hidden_size.checked_div(t.num_attention_heads).unwrap_or(0));
    Ok(TextConfig {
        hidden_size: t.hidden_size,
        intermediate_size: t.intermediate_size,
        num_layers: t.num_hidden_layers,
        num_heads: t.num_attention_heads,
        num_kv_heads: t.num_key_value_heads.unwrap_or(t.num_attention_heads),
        head_dim,
        vocab_size: t.vocab_size,
        rms_norm_eps: t.rms_norm_eps,
        rope_theta,
        mrope_section,
    })
}

fn vision_config(v: RawVision) -> Result<VisionConfig> {
    if v.hidden_act != "gelu_pytorch_tanh" {
        return Err(config_error(format!(
            "vision hidden_act {:?} is not supported (expected \"gelu_pytorch_tanh\")",
            v.hidden_act
        )));
    }
    Ok(VisionConfig {
        depth: v.depth,
        hidden_size: v.hidden_size,
        intermediate_size: v.intermediate_size,
        num_heads: v.num_heads,
        patch_size: v.patch_size,
        temporal_patch_size: v.temporal_patch_size,
        spatial_merge_size: v.spatial_merge_size,
        in_channels: v.in_channels,
        out_hidden_size: v.out_hidden_size,
        num_position_embeddings: v.num_position_embeddings,
        deepstack_visual_indexes: v.deepstack_visual_indexes.unwrap_or_default(),
    })
}
