//! Model configuration: what the forward pass needs to know about a checkpoint, and the
//! invariants it relies on ([`Qwen3VlConfig::validate`]). `load/config_json.rs` reads it from a
//! checkpoint's `config.json` ([`Qwen3VlConfig::from_json_str`]).

use qwen3_vl_constants::special_tokens::{IMAGE_PAD, VISION_START};

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
    /// Whether the LM head shares the token embedding's weights (`tie_word_embeddings`,
    /// default true); the reranker reads its yes/no rows from whichever holds them.
    pub tie_word_embeddings: bool,
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
            image_token_id: IMAGE_PAD,
            vision_start_token_id: VISION_START,
            tie_word_embeddings: true,
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
            t.rms_norm_eps.is_finite() && t.rms_norm_eps > 0.0,
            format!("text_config.rms_norm_eps must be a positive number, found {}", t.rms_norm_eps),
        )?;
        check(
            t.rope_theta.is_finite() && t.rope_theta > 0.0,
            format!("text_config.rope_theta must be a positive number, found {}", t.rope_theta),
        )?;
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
        let cases: [(&str, &str); 11] = [
            ("not json", "not valid JSON"),
            ("{}", "missing field `text_config`"),
            (&legacy_2b_json().replace("[24,20,20]", "[24,20,21]") as &str, "mrope_section"),
            (&legacy_2b_json().replace("2304", "2300"), "perfect square"),
            (&legacy_2b_json().replace("[5,11,17]", "[5,11,40]"), "deepstack_visual_indexes"),
            (&legacy_2b_json().replace("\"num_key_value_heads\":8", "\"num_key_value_heads\":7"), "multiple"),
            (&legacy_2b_json().replace("\"hidden_size\":2048", "\"hidden_size\":-1"), "text_config.hidden_size"),
            (
                &legacy_2b_json().replace("\"rms_norm_eps\":1e-6", "\"rms_norm_eps\":-1e-6"),
                "rms_norm_eps must be a positive",
            ),
            (&legacy_2b_json().replace("\"rope_theta\":5000000", "\"rope_theta\":0"), "rope_theta must be a positive"),
            (&legacy_2b_json().replace("[24,20,20]", "[24,20]"), "mrope_section"),
            (&legacy_2b_json().replace("\"silu\"", "\"gelu\""), "hidden_act"),
        ];
        for (json, needle) in cases {
            let err = Qwen3VlConfig::from_json_str(json).unwrap_err().to_string();
            assert!(err.contains(needle), "{err:?} should mention {needle:?}");
        }
    }
}
