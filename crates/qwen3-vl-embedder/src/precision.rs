//! The precision names every front end accepts (`--precision`, the JS `dtype` option), each
//! one an [`EmbedderOptions::dtype`](crate::EmbedderOptions::dtype).

use std::fmt;
use std::str::FromStr;

use burn::tensor::DType;

use crate::error::EmbedError;

/// How the model's weights are held on the device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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
    /// quarter of the memory (cosine to f32 in the README's int8 row).
    Int8,
    /// 4-bit linear weights (one f16 scale per 32 values), f32 compute, every device: about a
    /// sixth of the f32 memory on the CPU (native and wasm32), and on wgpu and WebGPU, which
    /// expand them at each product (cosine to f32 in the README's q4 row).
    Q4,
}

impl Precision {
    /// Every precision, in the order help texts list them.
    pub const ALL: [Self; 5] = [Self::F32, Self::F16, Self::Bf16, Self::Int8, Self::Q4];

    /// The model's load dtype for this precision.
    pub fn dtype(self) -> DType {
        match self {
            Self::F32 => DType::F32,
            Self::F16 => DType::F16,
            Self::Bf16 => DType::BF16,
            Self::Int8 => crate::int8_weights(),
            Self::Q4 => crate::q4_weights(),
        }
    }

    /// The canonical name: `f32`, `f16`, `bf16`, `int8` or `q4`.
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::Bf16 => "bf16",
            Self::Int8 => "int8",
            Self::Q4 => "q4",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Precision {
    type Err = EmbedError;
    /// The canonical names, case-insensitive, and the long forms `float32`, `float16`,
    /// `bfloat16` (as PyTorch spells dtypes).
    fn from_str(s: &str) -> Result<Self, EmbedError> {
        match s.to_ascii_lowercase().as_str() {
            "f32" | "float32" => Ok(Self::F32),
            "f16" | "float16" => Ok(Self::F16),
            "bf16" | "bfloat16" => Ok(Self::Bf16),
            "int8" => Ok(Self::Int8),
            "q4" => Ok(Self::Q4),
            _ => Err(EmbedError::UnknownPrecision(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_typed_errors() {
        for p in Precision::ALL {
            assert_eq!(p.name().parse::<Precision>().unwrap(), p);
        }
        assert_eq!("BFloat16".parse::<Precision>().unwrap(), Precision::Bf16);
        let err = "q3".parse::<Precision>().unwrap_err().to_string();
        assert_eq!(err, "unknown precision \"q3\": expected f32, f16, bf16, int8 or q4");
    }
}
