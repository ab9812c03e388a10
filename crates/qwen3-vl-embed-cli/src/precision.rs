//! `--precision`: how the model's weights are held on the device.

use qwen3_vl_embedder::DType;

/// The `--precision` values, each one `EmbedderOptions::dtype`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Precision {
    /// f32 weights and compute: every device, the reference's numbers.
    #[default]
    F32,
    /// f16 weights and compute: wgpu devices with `shader-f16`; about half the memory.
    F16,
    /// bf16 linear weights, f32 compute: the CPU at about half the memory, the same vectors
    /// as f32 for bf16 checkpoints (the released ones).
    Bf16,
    /// int8 linear weights (one scale per 32 values), f32 compute: every device at about a
    /// quarter of the memory; vectors within cosine 0.999 of f32.
    Int8,
}

impl Precision {
    pub fn dtype(self) -> DType {
        match self {
            Self::F32 => DType::F32,
            Self::F16 => DType::F16,
            Self::Bf16 => DType::BF16,
            Self::Int8 => qwen3_vl_embedder::int8_weights(),
        }
    }
}
