//! Weights stored in the CPU kernels' own layout (`convert --layout cpu`), used in place.
//!
//! Why: packing at load is a pass over every weight into fresh memory the kernel must zero
//! first; a load of the 2B spent 7-9x the time of reading its file doing that
//! (`benches/model/README.md`). In this layout a weight is stored as the arrays the kernels
//! read (`linear_kernels`' `parts()`), so the file is mapped and the arrays used where they
//! lie. A packed weight `{name}` (a linear layer's `{layer}.weight`, or the q4 mode's int8
//! token table) is one 1-D tensor per array:
//!
//! | format | tensors | dtypes |
//! |---|---|---|
//! | bf16 | `{name}.cpu1.bf16_panels` | U16 |
//! | int8 | `{name}.cpu1.q8_values`, `.cpu1.q8_scales`, `.cpu1.q8_corrections` | I8, F32, I32 |
//! | q4 | `{name}.cpu1.q4_codes`, `.cpu1.q4_scales` | U8, F32 |
//!
//! `cpu1` versions the layout: a change to the panels must change it, so an older file is
//! refused by its names instead of misread. Every array is a multiple of 64 bytes and the
//! converter writes them first, so each starts aligned in the file (the reader copies one that
//! is not). Only the CPU device reads this layout; other devices need the portable one.

use crate::cpu_linear::{PackFormat, PackedWeight};
use crate::error::{ModelError, Result};
use crate::load::checkpoint::Checkpoint;
#[cfg(not(target_family = "wasm"))]
use crate::load::safetensors_write::TensorPlan;

/// The layout's version tag (see the module docs).
const VERSION_TAG: &str = "cpu1";

/// The precision's name, as `--precision` spells it.
pub fn precision(format: PackFormat) -> &'static str {
    match format {
        PackFormat::Bf16 => "bf16",
        PackFormat::Q8 => "int8",
        PackFormat::Q4 => "q4",
    }
}

/// Each array's (tensor name suffix, stored dtype, bytes per element), in `parts()` order.
fn arrays(format: PackFormat) -> &'static [(&'static str, &'static str, usize)] {
    match format {
        PackFormat::Bf16 => &[("bf16_panels", "U16", 2)],
        PackFormat::Q8 => &[("q8_values", "I8", 1), ("q8_scales", "F32", 4), ("q8_corrections", "I32", 4)],
        PackFormat::Q4 => &[("q4_codes", "U8", 1), ("q4_scales", "F32", 4)],
    }
}

/// The tensor names of `name`'s arrays in `format`.
pub fn tensor_names(name: &str, format: PackFormat) -> Vec<String> {
    arrays(format).iter().map(|(suffix, ..)| format!("{name}.{VERSION_TAG}.{suffix}")).collect()
}

/// The format `checkpoint` stores `name` in this layout, if it does.
pub fn stored_format(checkpoint: &Checkpoint, name: &str) -> Option<PackFormat> {
    [PackFormat::Bf16, PackFormat::Q8, PackFormat::Q4]
        .into_iter()
        .find(|&format| checkpoint.contains(&tensor_names(name, format)[0]))
}

/// Whether `checkpoint` is a directory in this layout (it holds any of its arrays): its
/// token table is then mapped too (`token_embedding.rs`).
pub fn holds_layout(checkpoint: &Checkpoint) -> bool {
    let tag = format!(".{VERSION_TAG}.");
    checkpoint.tensor_names().iter().any(|name| name.contains(&tag))
}

/// The plan of `packed`'s tensors under `name` (their bytes: [`PackedWeight::parts`]), for
/// the converter (native only).
#[cfg(not(target_family = "wasm"))]
pub fn plan(name: &str, packed: &PackedWeight) -> Vec<TensorPlan> {
    let format = packed.format();
    tensor_names(name, format)
        .into_iter()
        .zip(arrays(format))
        .zip(packed.parts())
        .map(|((name, &(_, dtype, size)), bytes)| TensorPlan {
            name,
            dtype,
            shape: vec![bytes.len() / size],
            byte_len: bytes.len() as u64,
        })
        .collect()
}

/// Reads `name` (`[n (out), k (in)]` in the source) stored in `format`, used in place where
/// the file is mapped. `requested` is the format the model is loaded in (`None`: a precision
/// with no CPU kernels); a mismatch is [`ModelError::ConvertedPrecision`], byte counts that do
/// not fit `k` and `n` are [`ModelError::CorruptWeights`].
pub(crate) fn read(
    checkpoint: &Checkpoint,
    name: &str,
    format: PackFormat,
    [n, k]: [usize; 2],
    requested: Option<PackFormat>,
) -> Result<PackedWeight> {
    if requested != Some(format) {
        return Err(ModelError::ConvertedPrecision { stored: precision(format).into() });
    }
    let names = tensor_names(name, format);
    let parts = names
        .iter()
        .zip(arrays(format))
        .map(|(tensor, &(_, dtype, _))| {
            // Any shape the header states (checked against the file); the byte count is
            // checked against k and n below.
            let shape = checkpoint.tensor_info(tensor).map(|info| info.shape.clone()).unwrap_or_default();
            checkpoint.take_shared(tensor, &shape, dtype)
        })
        .collect::<Result<Vec<_>>>()?;
    PackedWeight::from_parts(format, k, n, parts).map_err(|e| match e {
        ModelError::CorruptWeights { reason, .. } => ModelError::CorruptWeights { file: names[0].clone(), reason },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::safetensors::tests::build;

    /// A checkpoint holding `packed` under `name` in this layout.
    fn stored(name: &str, packed: &PackedWeight) -> Checkpoint {
        let plan = plan(name, packed);
        let tensors: Vec<(&str, &str, Vec<usize>, Vec<u8>)> = plan
            .iter()
            .zip(packed.parts())
            .map(|(p, bytes)| (p.name.as_str(), p.dtype, p.shape.clone(), bytes.to_vec()))
            .collect();
        Checkpoint::from_buffers(vec![("model.safetensors".into(), build(&tensors))]).unwrap()
    }

    #[test]
    fn weights_read_back_from_the_layout_give_the_packed_products() {
        let (n, k) = (40, 70);
        let w: Vec<f32> = (0..n * k).map(|i| ((i * 37 % 101) as f32 - 50.0) / 64.0).collect();
        let x: Vec<f32> = (0..3 * k).map(|i| ((i * 13 % 29) as f32 - 14.0) / 8.0).collect();
        let rows: Vec<half::bf16> = w.iter().map(|&v| half::bf16::from_f32(v)).collect();
        let transposed: Vec<half::bf16> = (0..k * n).map(|i| rows[(i % n) * k + i / n]).collect();
        for packed in [
            PackedWeight::bf16(&transposed, k, n).unwrap(),
            PackedWeight::q8(&w, n, k).unwrap(),
            PackedWeight::q4(&w, n, k).unwrap(),
        ] {
            let format = packed.format();
            let checkpoint = stored("layer.weight", &packed);
            assert_eq!(stored_format(&checkpoint, "layer.weight"), Some(format));
            let back = read(&checkpoint, "layer.weight", format, [n, k], Some(format)).unwrap();
            checkpoint.ensure_all_used().unwrap();
            let device = burn::tensor::Device::flex();
            let run = |p: &PackedWeight| {
                let x = burn::tensor::Tensor::<2>::from_data(burn::tensor::TensorData::new(x.clone(), [3, k]), &device);
                p.forward(x).into_data().try_to_vec::<f32>().unwrap()
            };
            assert_eq!(run(&back), run(&packed), "{format:?}");
        }
    }

    #[test]
    fn another_precision_or_wrong_sizes_are_typed_errors() {
        let (n, k) = (40, 64);
        let packed = PackedWeight::q8(&vec![0.25f32; n * k], n, k).unwrap();
        let checkpoint = stored("layer.weight", &packed);
        let err = read(&checkpoint, "layer.weight", PackFormat::Q8, [n, k], Some(PackFormat::Q4)).unwrap_err();
        assert!(matches!(err, ModelError::ConvertedPrecision { ref stored } if stored == "int8"), "{err}");
        // The model's config says another width than the file was packed for.
        let checkpoint = stored("layer.weight", &packed);
        let err = read(&checkpoint, "layer.weight", PackFormat::Q8, [n, 96], Some(PackFormat::Q8)).unwrap_err();
        assert!(
            matches!(err, ModelError::CorruptWeights { ref file, .. } if file == "layer.weight.cpu1.q8_values"),
            "{err}"
        );
        // A missing array names itself.
        let mut parts = plan("layer.weight", &packed);
        parts.pop();
        let tensors: Vec<(&str, &str, Vec<usize>, Vec<u8>)> = parts
            .iter()
            .zip(packed.parts())
            .map(|(p, bytes)| (p.name.as_str(), p.dtype, p.shape.clone(), bytes.to_vec()))
            .collect();
        let checkpoint = Checkpoint::from_buffers(vec![("m.safetensors".into(), build(&tensors))]).unwrap();
        let err = read(&checkpoint, "layer.weight", PackFormat::Q8, [n, k], Some(PackFormat::Q8)).unwrap_err();
        assert!(err.to_string().contains("cpu1.q8_corrections"), "{err}");
    }
}
