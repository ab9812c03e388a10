//! Writes a checkpoint in another precision as one safetensors file: the weights of a
//! converted model directory (the directory itself, its description and the atomic rename are
//! `qwen3_vl_embedder::convert`'s).
//!
//! - int8 / q4: the model is loaded at that precision on the CPU device with the checkpoint
//!   recording every weight it packs ([`Checkpoint::recording_packed`]: the linear weights,
//!   and in the q4 mode the int8 token table), and those packed weights are written in their
//!   portable form (`load/packed_store.rs`). The stored
//!   values are exactly what a load at that precision computes, by construction: one
//!   quantization, the model's own. Every other tensor is copied as stored.
//! - f16 / bf16: every float tensor is rounded to that dtype (nearest even), chunk by chunk.
//!
//! - [`WeightLayout::CpuKernels`] (bf16, int8, q4): as int8 / q4 above, every packed weight
//!   written as the CPU kernels' arrays instead (`load/cpu_layout.rs`), first in the file.
//!
//! The LM head (never used by the embedding model) is dropped in every case.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::Arc;

use burn::tensor::{DType, Device};
use half::{bf16, f16};

use crate::config::Qwen3VlConfig;
use crate::cpu_linear::{PackFormat, PackedWeight};
use crate::error::{ModelError, Result};
use crate::load::checkpoint::Checkpoint;
use crate::load::cpu_layout;
use crate::load::packed_store::{StoredKind, stored_bytes, stored_names, stored_plan};
use crate::load::safetensors::{StoredDType, widen_into};
use crate::load::safetensors_write::{TensorPlan, write_safetensors};
use crate::model::Qwen3VlModel;

/// Where a conversion is: a stage and its bytes done of the total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvertProgress {
    /// `"quantizing"` (the model load that packs the weights) or `"writing"`.
    pub stage: &'static str,
    /// Bytes of the stage done.
    pub done: u64,
    /// Bytes of the stage in all.
    pub total: u64,
}

/// What a conversion wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvertStats {
    /// Tensors written.
    pub tensors: usize,
    /// Weights written packed (int8 or q4 linear weights, the q4 mode's int8 token table; two
    /// tensors each).
    pub packed_weights: usize,
    /// Bytes of the safetensors file.
    pub file_bytes: u64,
}

/// How a converted checkpoint stores the weights it packs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WeightLayout {
    /// Row-major values and scales every device reads (`load/packed_store.rs`): int8 and q4
    /// only (f16 and bf16 are plain tensors).
    #[default]
    Portable,
    /// The CPU kernels' own arrays (`load/cpu_layout.rs`), which the CPU device maps and uses
    /// in place: bf16, int8 and q4. No other device reads it.
    CpuKernels,
}

/// How one output tensor is made.
enum Source {
    /// A packed weight's portable values (0) or scales (1).
    Packed(Arc<PackedWeight>, usize),
    /// A packed weight's array `.1` in the CPU kernels' layout.
    Parts(Arc<PackedWeight>, usize),
    /// The source tensor's bytes unchanged.
    Copy(String),
    /// The source float tensor rounded to the plan's dtype.
    Round(String),
}

/// Converts `checkpoint` (the weights of `config`) to `dtype` — `F16`, `BF16`,
/// [`int8_weights`](crate::int8_weights) or [`q4_weights`](crate::q4_weights) — and writes the
/// result to `out` as one safetensors file in `layout` (`path` names it in errors). `progress`
/// hears about each tensor quantized or written.
pub fn write_converted<W: Write>(
    checkpoint: Checkpoint,
    config: Qwen3VlConfig,
    dtype: DType,
    layout: WeightLayout,
    out: &mut W,
    path: &str,
    progress: impl Fn(ConvertProgress) + Send + Sync + 'static,
) -> Result<ConvertStats> {
    let progress = Arc::new(progress);
    let (plan, sources, checkpoint) = match dtype {
        DType::F16 if layout == WeightLayout::CpuKernels => {
            return Err(ModelError::Config("the CPU kernels' layout exists for bf16, int8 and q4, not f16".into()));
        }
        DType::BF16 | DType::QFloat(_) if layout == WeightLayout::CpuKernels => {
            let checkpoint = recorded_load(checkpoint, config, dtype, &progress)?;
            let recorded: HashMap<String, Arc<PackedWeight>> = checkpoint.take_recorded().into_iter().collect();
            let (plan, sources) = cpu_plan(&checkpoint, &recorded)?;
            (plan, sources, checkpoint)
        }
        // Rounding copies integer tensors as they are: the CPU layout's arrays would pass
        // through into a directory that claims to be portable.
        DType::F16 | DType::BF16 if cpu_layout::holds_layout(&checkpoint) => {
            return Err(ModelError::Config(
                "this checkpoint is in the CPU kernels' layout: convert the original checkpoint to f16 or bf16".into(),
            ));
        }
        DType::F16 | DType::BF16 => {
            let (plan, sources) = round_plan(&checkpoint, dtype)?;
            (plan, sources, checkpoint)
        }
        DType::QFloat(_) => {
            let checkpoint = recorded_load(checkpoint, config, dtype, &progress)?;
            let recorded: HashMap<String, Arc<PackedWeight>> = checkpoint.take_recorded().into_iter().collect();
            let (plan, sources) = packed_plan(&checkpoint, &recorded)?;
            (plan, sources, checkpoint)
        }
        other => return Err(ModelError::Config(format!("cannot convert to {other:?}: choose f16, bf16, int8 or q4"))),
    };
    let total: u64 = plan.iter().map(|t| t.byte_len).sum();
    let (mut done, mut cached) = (0u64, None::<(usize, [Vec<u8>; 2])>);
    let io = |source| ModelError::Io { path: path.to_string(), source };
    let metadata = [("format", "pt".to_string())];
    write_safetensors(out, path, &plan, &metadata, |i, sink| {
        match &sources[i] {
            Source::Packed(weight, part) => {
                // Both parts come from one conversion of the weight: made for part 0, kept for 1.
                let key = Arc::as_ptr(weight) as usize;
                if cached.as_ref().is_none_or(|(k, _)| *k != key) {
                    cached = Some((key, stored_bytes(weight).expect("only int8/q4 weights are recorded")));
                }
                let bytes = &cached.as_ref().expect("just filled").1[*part];
                sink.write_all(bytes).map_err(io)?;
            }
            Source::Parts(weight, part) => sink.write_all(weight.parts()[*part]).map_err(io)?,
            Source::Copy(name) => checkpoint.copy_bytes(name, |chunk| sink.write_all(chunk))?,
            Source::Round(name) => {
                let mut failed = None;
                checkpoint.stream_float(name, |stored, bytes| {
                    if failed.is_none() {
                        failed = sink.write_all(&round_chunk(stored, bytes, plan[i].dtype)).err();
                    }
                })?;
                if let Some(e) = failed {
                    return Err(io(e));
                }
            }
        }
        done += plan[i].byte_len;
        progress(ConvertProgress { stage: "writing", done, total });
        Ok(())
    })?;
    let packed_weights = sources.iter().filter(|s| matches!(s, Source::Packed(_, 0) | Source::Parts(_, 0))).count();
    Ok(ConvertStats { tensors: plan.len(), packed_weights, file_bytes: total })
}

/// Loads the model at `dtype` on the CPU device, recording every weight it packs (the
/// quantization or packing is the model's own, by construction); the checkpoint comes back
/// with the records.
fn recorded_load(
    checkpoint: Checkpoint,
    config: Qwen3VlConfig,
    dtype: DType,
    progress: &Arc<impl Fn(ConvertProgress) + Send + Sync + 'static>,
) -> Result<Checkpoint> {
    let shown = progress.clone();
    let checkpoint = checkpoint.recording_packed().with_progress(move |p| {
        shown(ConvertProgress { stage: "quantizing", done: p.loaded_bytes, total: p.total_bytes })
    });
    drop(Qwen3VlModel::load(&checkpoint, config, &Device::flex(), dtype)?);
    Ok(checkpoint)
}

/// The CPU kernels' layout: each recorded weight's arrays first (each a multiple of 64 bytes,
/// so all start aligned for a map), then every other tensor copied.
fn cpu_plan(
    checkpoint: &Checkpoint,
    recorded: &HashMap<String, Arc<PackedWeight>>,
) -> Result<(Vec<TensorPlan>, Vec<Source>)> {
    let mut names: Vec<&String> = recorded.keys().collect();
    names.sort();
    let (mut plan, mut sources) = (Vec::new(), Vec::new());
    for name in names {
        let weight = &recorded[name];
        for (part, p) in cpu_layout::plan(name, weight).into_iter().enumerate() {
            plan.push(p);
            sources.push(Source::Parts(weight.clone(), part));
        }
    }
    let (copied, copies) = copy_plan(checkpoint, recorded)?;
    plan.extend(copied);
    sources.extend(copies);
    Ok((plan, sources))
}

/// Every tensor of `checkpoint` the packed weights in `recorded` do not replace, copied as
/// stored (the stored forms of an already converted source are replaced too).
fn copy_plan(
    checkpoint: &Checkpoint,
    recorded: &HashMap<String, Arc<PackedWeight>>,
) -> Result<(Vec<TensorPlan>, Vec<Source>)> {
    let replaced: HashSet<String> = recorded
        .keys()
        .flat_map(|w| {
            let portable = [StoredKind::Q8, StoredKind::Q4].into_iter().flat_map(move |k| stored_names(w, k));
            let cpu = [PackFormat::Bf16, PackFormat::Q8, PackFormat::Q4]
                .into_iter()
                .flat_map(move |f| cpu_layout::tensor_names(w, f));
            portable.chain(cpu)
        })
        .collect();
    let (mut plan, mut sources) = (Vec::new(), Vec::new());
    for name in checkpoint.tensor_names() {
        if Checkpoint::is_ignored(&name) || replaced.contains(&name) || recorded.contains_key(&name) {
            continue;
        }
        let info = checkpoint.tensor_info(&name).expect("listed by the checkpoint");
        plan.push(TensorPlan {
            name: name.clone(),
            dtype: static_dtype(info.dtype_name()).ok_or_else(|| ModelError::UnsupportedDType {
                name: name.clone(),
                dtype: info.dtype_name().to_string(),
            })?,
            shape: info.shape.clone(),
            byte_len: info.byte_len(),
        });
        sources.push(Source::Copy(name));
    }
    Ok((plan, sources))
}

/// int8 / q4: each recorded weight as its two packed tensors, every other tensor copied.
fn packed_plan(
    checkpoint: &Checkpoint,
    recorded: &HashMap<String, Arc<PackedWeight>>,
) -> Result<(Vec<TensorPlan>, Vec<Source>)> {
    let (mut plan, mut sources) = copy_plan(checkpoint, recorded)?;
    let mut names: Vec<&String> = recorded.keys().collect();
    names.sort();
    for name in names {
        let weight = &recorded[name];
        let parts = stored_plan(name, weight).expect("only int8/q4 weights are recorded");
        for (part, p) in parts.into_iter().enumerate() {
            plan.push(p);
            sources.push(Source::Packed(weight.clone(), part));
        }
    }
    Ok((plan, sources))
}

/// f16 / bf16: every float tensor rounded, any other copied.
fn round_plan(checkpoint: &Checkpoint, dtype: DType) -> Result<(Vec<TensorPlan>, Vec<Source>)> {
    let target = if dtype == DType::F16 { "F16" } else { "BF16" };
    let (mut plan, mut sources) = (Vec::new(), Vec::new());
    for name in checkpoint.tensor_names() {
        if Checkpoint::is_ignored(&name) {
            continue;
        }
        let info = checkpoint.tensor_info(&name).expect("listed by the checkpoint");
        let numel: u64 = info.shape.iter().map(|&d| d as u64).product();
        let (dtype, byte_len, source) = match &info.dtype {
            Ok(_) => (target, numel * 2, Source::Round(name.clone())),
            Err(other) => (
                static_dtype(other)
                    .ok_or_else(|| ModelError::UnsupportedDType { name: name.clone(), dtype: other.clone() })?,
                info.byte_len(),
                Source::Copy(name.clone()),
            ),
        };
        plan.push(TensorPlan { name, dtype, shape: info.shape.clone(), byte_len });
        sources.push(source);
    }
    Ok((plan, sources))
}

/// The dtypes a converted file may hold, as `'static` names.
fn static_dtype(name: &str) -> Option<&'static str> {
    ["F32", "F16", "BF16", "I8", "U8", "I32", "I64", "U32", "U64", "I16", "U16", "BOOL", "F64"]
        .into_iter()
        .find(|&d| d == name)
}

/// A chunk of stored floats rounded to `target` ("F16" or "BF16"), little-endian.
fn round_chunk(stored: StoredDType, bytes: &[u8], target: &str) -> Vec<u8> {
    let mut values = vec![0f32; bytes.len() / stored.size()];
    widen_into(stored, bytes, &mut values);
    if target == "F16" {
        values.iter().flat_map(|&v| f16::from_f32(v).to_le_bytes()).collect()
    } else {
        values.iter().flat_map(|&v| bf16::from_f32(v).to_le_bytes()).collect()
    }
}
