//! Model configuration, read from a checkpoint's `config.json`.
//!
//! Two layouts exist in the wild: released Qwen3-VL checkpoints put `rope_theta` and
//! `rope_scaling` (with `mrope_section`) in `text_config`; transformers 5.x writes a single
//! `rope_parameters` object instead. Both parse to the same [`TextConfig`].

use serde_json::Value;

use crate::error::{ModelError, Result};

/// The Qwen3 text decoder.
#[derive(Debug, Clone, PartialEq)]
pub struct TextConfig {
    /// Width of the residual stream; also the embedding dimension.
    pub hidden_size: usize,
    /// Width of the SwiGLU MLP.
    pub intermediate_size: usize,
    /// Number of decoder layers.
    pub num_layers: usize,
    /// Number of query heads.
    pub num_heads: usize,
    /// Number of key/value heads (grouped-query attention).
    pub num_kv_heads: usize,
    /// Width of one head. `num_heads * head_dim` need not equal `hidden_size`.
    pub head_dim: usize,
    /// Rows of the token embedding table.
    pub vocab_size: usize,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// RoPE base.
    pub rope_theta: f64,
    /// Frequency slots per axis (T, H, W); sums to `head_dim / 2`.
    pub mrope_section: [usize; 3],
}

/// The vision tower.
#[derive(Debug, Clone, PartialEq)]
pub struct VisionConfig {
    /// Number of transformer blocks.
    pub depth: usize,
    /// Width of the vision residual stream.
    pub hidden_size: usize,
    /// Width of the block MLP.
    pub intermediate_size: usize,
    /// Attention heads per block.
    pub num_heads: usize,
    /// Side of a square patch in pixels.
    pub patch_size: usize,
    /// Frames per temporal patch (a still image is duplicated to fill it).
    pub temporal_patch_size: usize,
    /// Patches merged per side into one LLM token.
    pub spatial_merge_size: usize,
    /// Colour channels.
    pub in_channels: usize,
    /// Width of the merged tokens handed to the decoder (= text hidden size).
    pub out_hidden_size: usize,
    /// Rows of the learned position table, a perfect square.
    pub num_position_embeddings: usize,
    /// Blocks whose outputs feed the DeepStack mergers, in injection order.
    pub deepstack_visual_indexes: Vec<usize>,
}

/// A whole Qwen3-VL(-Embedding) checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Qwen3VlConfig {
    /// The decoder's `text_config`.
    pub text: TextConfig,
    /// The vision tower's `vision_config`.
    pub vision: VisionConfig,
    /// `<|image_pad|>`.
    pub image_token_id: u32,
    /// `<|vision_start|>`.
    pub vision_start_token_id: u32,
}

impl VisionConfig {
    /// Width of one vision attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_heads
    }
    /// Length of one flattened patch: channels x frames x pixels.
    pub fn patch_len(&self) -> usize {
        self.in_channels * self.temporal_patch_size * self.patch_size * self.patch_size
    }
    /// Side of the learned position grid.
    pub fn position_grid_side(&self) -> usize {
        self.num_position_embeddings.isqrt()
    }
    /// Patches merged into one token.
    pub fn merge_unit(&self) -> usize {
        self.spatial_merge_size * self.spatial_merge_size
    }
}

impl Qwen3VlConfig {
    /// Parses `config.json` text and checks every invariant the model relies on.
    pub fn from_json_str(text: &str) -> Result<Self> {
        let root: Value = serde_json::from_str(text)
            .map_err(|e| ModelError::Config(format!("config.json is not valid JSON: {e}")))?;
        let text_v = root.get("text_config").ok_or_else(|| missing("text_config"))?;
        let vision_v = root.get("vision_config").ok_or_else(|| missing("vision_config"))?;
        let config = Self {
            text: parse_text(text_v)?,
            vision: parse_vision(vision_v)?,
            image_token_id: opt_u32(&root, "image_token_id")?.unwrap_or(151655),
            vision_start_token_id: opt_u32(&root, "vision_start_token_id")?.unwrap_or(151652),
        };
        config.validate()?;
        Ok(config)
    }

    /// Qwen3-VL-Embedding-2B: the values of its released `config.json` (as transformers prints
    /// it in xorbitsai/inference issue #4592).
    pub fn qwen3_vl_embedding_2b() -> Self {
        Self {
            text: TextConfig {
                hidden_size: 2048,
                intermediate_size: 6144,
                num_layers: 28,
                num_heads: 16,
                num_kv_heads: 8,
                head_dim: 128,
                vocab_size: 151936,
                rms_norm_eps: 1e-6,
                rope_theta: 5_000_000.0,
                mrope_section: [24, 20, 20],
            },
            vision: VisionConfig {
                depth: 24,
                hidden_size: 1024,
                intermediate_size: 4096,
                num_heads: 16,
                patch_size: 16,
                temporal_patch_size: 2,
                spatial_merge_size: 2,
                in_channels: 3,
                out_hidden_size: 2048,
                num_position_embeddings: 2304,
                deepstack_visual_indexes: vec![5, 11, 17],
            },
            image_token_id: 151655,
            vision_start_token_id: 151652,
        }
    }

    /// Qwen3-VL-Embedding-8B: the 2B's layout with the 8B's sizes. The vision sizes are the
    /// defaults of transformers' `Qwen3VLVisionConfig`
    /// (`models/qwen3_vl/configuration_qwen3_vl.py`).
    pub fn qwen3_vl_embedding_8b() -> Self {
        let mut c = Self::qwen3_vl_embedding_2b();
        c.text.hidden_size = 4096;
        c.text.intermediate_size = 12288;
        c.text.num_layers = 36;
        c.text.num_heads = 32;
        c.vision.depth = 27;
        c.vision.hidden_size = 1152;
        c.vision.intermediate_size = 4304;
        c.vision.out_hidden_size = 4096;
        c.vision.deepstack_visual_indexes = vec![8, 16, 24];
        c
    }

    /// Checks the invariants the forward pass assumes, so a bad config fails here with a
    /// clear message instead of as a shape panic deep inside a matmul.
    pub fn validate(&self) -> Result<()> {
        let (t, v) = (&self.text, &self.vision);
        let check = |ok: bool, msg: String| if ok { Ok(()) } else { Err(ModelError::Config(msg)) };
        for (name, value) in [
            ("text_config.hidden_size", t.hidden_size),
            ("text_config.num_hidden_layers", t.num_layers),
            ("text_config.num_attention_heads", t.num_heads),
            ("text_config.num_key_value_heads", t.num_kv_heads),
            ("text_config.head_dim", t.head_dim),
            ("text_config.vocab_size", t.vocab_size),
            ("vision_config.depth", v.depth),
            ("vision_config.num_heads", v.num_heads),
            ("vision_config.patch_size", v.patch_size),
            ("vision_config.spatial_merge_size", v.spatial_merge_size),
        ] {
            check(value > 0, format!("{name} must be positive, found 0"))?;
        }
        check(
            t.num_heads % t.num_kv_heads == 0,
            format!("num_attention_heads {} is not a multiple of num_key_value_heads {}", t.num_heads, t.num_kv_heads),
        )?;
        check(t.head_dim % 2 == 0, format!("text head_dim {} is odd", t.head_dim))?;
        let sections: usize = t.mrope_section.iter().sum();
        check(
            sections == t.head_dim / 2,
            format!("mrope_section {:?} sums to {sections}, expected head_dim/2 = {}", t.mrope_section, t.head_dim / 2),
        )?;
        check(
            v.hidden_size % v.num_heads == 0,
            format!("vision hidden_size {} is not a multiple of num_heads {}", v.hidden_size, v.num_heads),
        )?;
        check(v.head_dim() % 4 == 0, format!("vision head_dim {} is not a multiple of 4 (2-D rotary)", v.head_dim()))?;
        let side = v.position_grid_side();
        check(
            side * side == v.num_position_embeddings && side > 0,
            format!("num_position_embeddings {} is not a perfect square", v.num_position_embeddings),
        )?;
        check(
            v.out_hidden_size == t.hidden_size,
            format!("vision out_hidden_size {} differs from text hidden_size {}", v.out_hidden_size, t.hidden_size),
        )?;
        check(
            v.deepstack_visual_indexes.len() <= t.num_layers,
            format!("{} DeepStack levels but only {} decoder layers", v.deepstack_visual_indexes.len(), t.num_layers),
        )?;
        if let Some(bad) = v.deepstack_visual_indexes.iter().find(|&&i| i >= v.depth) {
            return Err(ModelError::Config(format!("deepstack_visual_indexes has {bad}, but depth is {}", v.depth)));
        }
        check(
            (self.image_token_id as usize) < t.vocab_size,
            format!("image_token_id {} is outside the vocabulary of {}", self.image_token_id, t.vocab_size),
        )
    }
}

fn missing(field: &str) -> ModelError {
    ModelError::Config(format!("missing field {field}"))
}

fn req_usize(v: &Value, field: &str) -> Result<usize> {
    opt_usize(v, field)?.ok_or_else(|| missing(field))
}

fn opt_usize(v: &Value, field: &str) -> Result<Option<usize>> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => x
            .as_u64()
            .map(|n| Some(n as usize))
            .ok_or_else(|| ModelError::Config(format!("{field} must be a non-negative integer, found {x}"))),
    }
}

fn opt_u32(v: &Value, field: &str) -> Result<Option<u32>> {
    opt_usize(v, field)?
        .map(|n| u32::try_from(n).map_err(|_| ModelError::Config(format!("{field} = {n} is too large"))))
        .transpose()
}

fn opt_f64(v: &Value, field: &str) -> Result<Option<f64>> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => {
            x.as_f64().map(Some).ok_or_else(|| ModelError::Config(format!("{field} must be a number, found {x}")))
        }
    }
}

fn parse_text(v: &Value) -> Result<TextConfig> {
    let hidden_size = req_usize(v, "hidden_size")?;
    let num_heads = req_usize(v, "num_attention_heads")?;
    let head_dim = match opt_usize(v, "head_dim")? {
        Some(d) => d,
        None if num_heads > 0 => hidden_size / num_heads,
        None => 0,
    };
    // Released layout: rope_theta + rope_scaling; transformers 5: rope_parameters.
    let rope =
        v.get("rope_parameters").filter(|r| r.is_object()).or_else(|| v.get("rope_scaling").filter(|r| r.is_object()));
    let rope_theta = opt_f64(v, "rope_theta")?
        .or(rope.map(|r| opt_f64(r, "rope_theta")).transpose()?.flatten())
        .ok_or_else(|| missing("text_config.rope_theta"))?;
    let rope = rope.ok_or_else(|| missing("text_config.rope_scaling (or rope_parameters)"))?;
    if let Some(kind) = rope.get("rope_type").or_else(|| rope.get("type")).and_then(Value::as_str)
        && kind != "default"
    {
        return Err(ModelError::Config(format!("rope_type {kind:?} is not supported (expected \"default\")")));
    }
    if rope.get("mrope_interleaved").and_then(Value::as_bool) == Some(false) {
        return Err(ModelError::Config("mrope_interleaved = false (chunked MRoPE) is not supported".into()));
    }
    let section = rope.get("mrope_section").and_then(Value::as_array).ok_or_else(|| missing("mrope_section"))?;
    let section: Vec<usize> = section.iter().filter_map(Value::as_u64).map(|n| n as usize).collect();
    let mrope_section: [usize; 3] = section
        .try_into()
        .map_err(|s: Vec<usize>| ModelError::Config(format!("mrope_section must be 3 integers, found {s:?}")))?;
    if let Some(act) = v.get("hidden_act").and_then(Value::as_str)
        && act != "silu"
    {
        return Err(ModelError::Config(format!("text hidden_act {act:?} is not supported (expected \"silu\")")));
    }
    Ok(TextConfig {
        hidden_size,
        intermediate_size: req_usize(v, "intermediate_size")?,
        num_layers: req_usize(v, "num_hidden_layers")?,
        num_heads,
        num_kv_heads: opt_usize(v, "num_key_value_heads")?.unwrap_or(num_heads),
        head_dim,
        vocab_size: req_usize(v, "vocab_size")?,
        rms_norm_eps: opt_f64(v, "rms_norm_eps")?.unwrap_or(1e-6),
        rope_theta,
        mrope_section,
    })
}

fn parse_vision(v: &Value) -> Result<VisionConfig> {
    if let Some(act) = v.get("hidden_act").and_then(Value::as_str)
        && act != "gelu_pytorch_tanh"
    {
        return Err(ModelError::Config(format!(
            "vision hidden_act {act:?} is not supported (expected \"gelu_pytorch_tanh\")"
        )));
    }
    let deepstack =
        match v.get("deepstack_visual_indexes") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|x| x.as_u64().map(|n| n as usize))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| ModelError::Config("deepstack_visual_indexes must be integers".into()))?,
            Some(x) => return Err(ModelError::Config(format!("deepstack_visual_indexes must be a list, found {x}"))),
        };
    Ok(VisionConfig {
        depth: req_usize(v, "depth")?,
        hidden_size: req_usize(v, "hidden_size")?,
        intermediate_size: req_usize(v, "intermediate_size")?,
        num_heads: req_usize(v, "num_heads")?,
        patch_size: opt_usize(v, "patch_size")?.unwrap_or(16),
        temporal_patch_size: opt_usize(v, "temporal_patch_size")?.unwrap_or(2),
        spatial_merge_size: opt_usize(v, "spatial_merge_size")?.unwrap_or(2),
        in_channels: opt_usize(v, "in_channels")?.unwrap_or(3),
        out_hidden_size: req_usize(v, "out_hidden_size")?,
        num_position_embeddings: req_usize(v, "num_position_embeddings")?,
        deepstack_visual_indexes: deepstack,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn legacy_2b_json() -> String {
        r#"{"architectures":["Qwen3VLForConditionalGeneration"],"model_type":"qwen3_vl",
            "image_token_id":151655,"vision_start_token_id":151652,
            "text_config":{"hidden_size":2048,"intermediate_size":6144,"num_hidden_layers":28,
              "num_attention_heads":16,"num_key_value_heads":8,"head_dim":128,"vocab_size":151936,
              "rms_norm_eps":1e-6,"hidden_act":"silu","rope_theta":5000000,
              "rope_scaling":{"rope_type":"default","mrope_interleaved":true,"mrope_section":[24,20,20]}},
            "vision_config":{"depth":24,"hidden_size":1024,"intermediate_size":4096,"num_heads":16,
              "patch_size":16,"temporal_patch_size":2,"spatial_merge_size":2,"in_channels":3,
              "out_hidden_size":2048,"num_position_embeddings":2304,"hidden_act":"gelu_pytorch_tanh",
              "deepstack_visual_indexes":[5,11,17]}}"#
            .to_string()
    }

    #[test]
    fn released_layout_parses_to_the_2b_preset() {
        let c = Qwen3VlConfig::from_json_str(&legacy_2b_json()).unwrap();
        assert_eq!(c, Qwen3VlConfig::qwen3_vl_embedding_2b());
    }

    #[test]
    fn rope_parameters_layout_parses_the_same() {
        let json = legacy_2b_json().replace(
            r#""rope_theta":5000000,
              "rope_scaling":{"rope_type":"default","#,
            r#""rope_parameters":{"rope_theta":5000000,"rope_type":"default","#,
        );
        assert!(json.contains("rope_parameters"));
        let c = Qwen3VlConfig::from_json_str(&json).unwrap();
        assert_eq!(c, Qwen3VlConfig::qwen3_vl_embedding_2b());
    }

    #[test]
    fn presets_are_valid() {
        Qwen3VlConfig::qwen3_vl_embedding_2b().validate().unwrap();
        Qwen3VlConfig::qwen3_vl_embedding_8b().validate().unwrap();
    }

    #[test]
    fn bad_configs_name_the_problem() {
        let cases = [
            ("not json", "not valid JSON"),
            ("{}", "missing field text_config"),
            (&legacy_2b_json().replace("[24,20,20]", "[24,20,21]") as &str, "mrope_section"),
            (&legacy_2b_json().replace("2304", "2300"), "perfect square"),
            (&legacy_2b_json().replace("[5,11,17]", "[5,11,40]"), "deepstack_visual_indexes"),
            (&legacy_2b_json().replace("\"num_key_value_heads\":8", "\"num_key_value_heads\":7"), "multiple"),
            (&legacy_2b_json().replace("\"hidden_size\":2048", "\"hidden_size\":-1"), "non-negative integer"),
        ];
        for (json, needle) in cases {
            let err = Qwen3VlConfig::from_json_str(json).unwrap_err().to_string();
            assert!(err.contains(needle), "{err:?} should mention {needle:?}");
        }
    }
}
