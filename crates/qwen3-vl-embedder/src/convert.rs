//! `convert`: a model directory -> a self-describing directory in another precision
//! (`qwen3-vl-embed convert`), written atomically.
//!
//! The output holds `model.safetensors` (the weights, `qwen3_vl_model::write_converted`), every
//! other regular file of the source (`config.json`, `tokenizer.json`, ...) copied, and
//! [`FORMAT_FILE`], which records the precision, the [`WeightLayout`] and how the tensors are
//! stored ([`ConvertedFormat`]). The portable layout is read by every device; the CPU kernels'
//! layout (bf16, int8, q4) is mapped and used in place by the CPU device only. Everything is written into a temporary sibling directory, fsynced,
//! and renamed into place at the end: a failed or killed conversion leaves no output (the next
//! run removes a stale temporary directory), never a half-written one.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub use qwen3_vl_model::WeightLayout;
use qwen3_vl_model::{ConvertProgress, ConvertStats, Qwen3VlConfig, write_converted};

use crate::error::{EmbedError, Result};
pub use crate::model_files::{
    CPU_LAYOUT, CPU_LAYOUT_FORMAT_VERSION, ConvertedFormat, FORMAT_NAME, FORMAT_VERSION, PORTABLE_LAYOUT,
};
use crate::model_files::{FORMAT_FILE, ModelFiles};
use crate::precision::Precision;

impl ConvertedFormat {
    fn new(precision: Precision, layout: WeightLayout) -> Self {
        let (linear_weights, other_tensors) = match precision {
            _ if layout == WeightLayout::CpuKernels => (
                "the CPU kernels' own arrays, used in place (mapped) by the CPU device only: {layer}.weight.cpu1.bf16_panels \
                 (U16), or .cpu1.q8_values (I8) / .cpu1.q8_scales (F32) / .cpu1.q8_corrections (I32), or .cpu1.q4_codes \
                 (U8) / .cpu1.q4_scales (F32); see qwen3-vl-model's load/cpu_layout.rs and linear-kernels' pack.rs",
                "as stored in the source",
            ),
            Precision::Int8 => (
                "{layer}.weight.q8: I8 [out, ceil(in/32)*32], one row per output, zero-padded past in, values -127..=127; \
                 {layer}.weight.q8_scales: F32 [out, ceil(in/32)]; weight = scale * value, scale = max|w| / 127 per 32 inputs",
                "as stored in the source",
            ),
            Precision::Q4 => (
                "{layer}.weight.q4: U8 [out, ceil(in/32)*16], one row per output, two 4-bit codes per byte (even input in the \
                 low nibble), code = q + 8, q in -8..=7, zero-padded (code 8) past in; {layer}.weight.q4_scales: F16 \
                 [out, ceil(in/32)]; weight = scale * q, scale = f16(m / -8) with m the block's largest-magnitude value \
                 (llama.cpp Q4_0), per 32 inputs",
                "as stored in the source",
            ),
            Precision::F16 | Precision::Bf16 | Precision::F32 => (
                "as the other tensors",
                if precision == Precision::F16 {
                    "F16 (rounded to nearest even)"
                } else {
                    "BF16 (rounded to nearest even)"
                },
            ),
        };
        let (version, layout_name) = match layout {
            WeightLayout::Portable => (FORMAT_VERSION, PORTABLE_LAYOUT),
            WeightLayout::CpuKernels => (CPU_LAYOUT_FORMAT_VERSION, CPU_LAYOUT),
        };
        Self {
            format: FORMAT_NAME.into(),
            version,
            precision: precision.name().into(),
            layout: layout_name.into(),
            linear_weights: linear_weights.into(),
            other_tensors: other_tensors.into(),
            written_by: concat!("qwen3-vl-embed ", env!("CARGO_PKG_VERSION")).into(),
        }
    }
}
/// Converts the model directory `src` to `precision` (f16, bf16, int8 or q4) in `layout`
/// (the CPU kernels' layout: bf16, int8 or q4) into the new directory `out` (absent or empty),
/// reporting progress. See the module docs.
pub fn convert_dir(
    src: &Path,
    out: &Path,
    precision: Precision,
    layout: WeightLayout,
    progress: impl Fn(ConvertProgress) + Send + Sync + 'static,
) -> Result<ConvertStats> {
    if precision == Precision::F32 {
        return Err(EmbedError::BadConvertOutput {
            path: out.display().to_string(),
            reason: "f32 is not a conversion: choose int8, q4, f16 or bf16".into(),
        });
    }
    if layout == WeightLayout::CpuKernels && precision == Precision::F16 {
        return Err(EmbedError::BadConvertOutput {
            path: out.display().to_string(),
            reason: "the CPU kernels' layout exists for bf16, int8 and q4, not f16".into(),
        });
    }
    check_out(out)?;
    let files = ModelFiles::read_dir(src)?;
    let config = Qwen3VlConfig::from_json_str(&files.config_json)?;
    let temp = temp_dir(out)?;
    let result = (|| {
        let stats = write_weights(&temp, files, config, precision, layout, progress)?;
        copy_other_files(src, &temp)?;
        let format =
            serde_json::to_vec_pretty(&ConvertedFormat::new(precision, layout)).expect("a plain struct serializes");
        write_synced(&temp.join(FORMAT_FILE), &format)?;
        sync_dir(&temp)?;
        fs::rename(&temp, out).map_err(|e| io(out, e))?;
        if let Some(parent) = out.parent() {
            sync_dir(parent)?;
        }
        Ok(stats)
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&temp);
    }
    result
}

/// `out` must not exist or be an empty directory, and its parent must exist.
fn check_out(out: &Path) -> Result<()> {
    let bad = |reason: &str| EmbedError::BadConvertOutput { path: out.display().to_string(), reason: reason.into() };
    match fs::symlink_metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(out, e)),
        Ok(m) if !m.is_dir() => Err(bad("exists and is not a directory")),
        Ok(_) => match fs::read_dir(out).map_err(|e| io(out, e))?.next() {
            None => Ok(()),
            Some(_) => Err(bad("is not empty; choose a new directory")),
        },
    }
}

/// The temporary sibling `.<name>.converting`, removed first if a killed run left it.
fn temp_dir(out: &Path) -> Result<PathBuf> {
    let name = out.file_name().ok_or_else(|| EmbedError::BadConvertOutput {
        path: out.display().to_string(),
        reason: "names no directory".into(),
    })?;
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let temp = parent.join(format!(".{}.converting", name.to_string_lossy()));
    if temp.exists() {
        fs::remove_dir_all(&temp).map_err(|e| io(&temp, e))?;
    }
    fs::create_dir(&temp).map_err(|e| io(&temp, e))?;
    Ok(temp)
}

fn write_weights(
    dir: &Path,
    files: ModelFiles,
    config: Qwen3VlConfig,
    precision: Precision,
    layout: WeightLayout,
    progress: impl Fn(ConvertProgress) + Send + Sync + 'static,
) -> Result<ConvertStats> {
    let path = dir.join("model.safetensors");
    let file = fs::File::create(&path).map_err(|e| io(&path, e))?;
    let mut writer = BufWriter::with_capacity(4 << 20, file);
    let stats = write_converted(
        files.checkpoint,
        config,
        precision.dtype(),
        layout,
        &mut writer,
        &path.display().to_string(),
        progress,
    )?;
    let file = writer.into_inner().map_err(|e| io(&path, e.into_error()))?;
    file.sync_all().map_err(|e| io(&path, e))?;
    Ok(stats)
}

/// Copies every regular file of `src` but the weights (and an old format file) into `dir`.
fn copy_other_files(src: &Path, dir: &Path) -> Result<()> {
    for entry in fs::read_dir(src).map_err(|e| io(src, e))? {
        let entry = entry.map_err(|e| io(src, e))?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        let skip =
            name_str.ends_with(".safetensors") || name_str == "model.safetensors.index.json" || name_str == FORMAT_FILE;
        if skip || !entry.file_type().map_err(|e| io(&entry.path(), e))?.is_file() {
            continue;
        }
        let to = dir.join(&name);
        fs::copy(entry.path(), &to).map_err(|e| io(&entry.path(), e))?;
        fs::File::open(&to).and_then(|f| f.sync_all()).map_err(|e| io(&to, e))?;
    }
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = fs::File::create(path).map_err(|e| io(path, e))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| io(path, e))
}

fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io(dir, e))
}

fn io(path: &Path, source: std::io::Error) -> EmbedError {
    EmbedError::Io { path: path.display().to_string(), source }
}
