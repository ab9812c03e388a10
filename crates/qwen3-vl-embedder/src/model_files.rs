//! The one reader of a model directory: `config.json`, `tokenizer.json` and the safetensors
//! weights, shared by [`Embedder`](crate::Embedder) and [`Reranker`](crate::Reranker), and the
//! description of a converted directory ([`FORMAT_FILE`]).

use qwen3_vl_model::Checkpoint;

use crate::Precision;
use crate::error::{EmbedError, Result};

/// The file that marks and describes a converted model directory (`crate::convert`).
pub const FORMAT_FILE: &str = "qwen3-vl-embed-format.json";

/// Largest format file read: real ones are under 2 KB.
pub const MAX_FORMAT_BYTES: u64 = 64 << 10;

/// A model's files, read (config, tokenizer) or opened (weights) but not yet loaded onto a
/// device. Natively they come from a directory ([`Self::read_dir`]); in the browser each file
/// arrives as a buffer and the fields are filled directly.
pub struct ModelFiles {
    /// The text of `config.json`.
    pub config_json: String,
    /// The bytes of `tokenizer.json`.
    pub tokenizer_json: Vec<u8>,
    /// The opened weights (`model.safetensors` or the shards of its index).
    pub checkpoint: Checkpoint,
    /// The precision of a converted directory ([`FORMAT_FILE`]); `None` for a plain one.
    pub converted: Option<crate::Precision>,
}

/// The `format` value of [`FORMAT_FILE`].
pub const FORMAT_NAME: &str = "qwen3-vl-embed-converted";
/// The version of the format this code writes for the portable layout (every device).
pub const FORMAT_VERSION: u32 = 1;
/// The version written for the CPU kernels' layout (`convert --layout cpu`): a tool older
/// than the layout refuses such a directory by its version instead of failing on tensor names.
pub const CPU_LAYOUT_FORMAT_VERSION: u32 = 2;
/// The `layout` value of the portable layout (also what a format file without one means).
pub const PORTABLE_LAYOUT: &str = "portable";
/// The `layout` value of the CPU kernels' layout.
pub const CPU_LAYOUT: &str = "cpu";

/// The description a converted directory carries in [`FORMAT_FILE`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConvertedFormat {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// [`FORMAT_VERSION`] when written by this code.
    pub version: u32,
    /// The precision name (`int8`, `q4`, `f16`, `bf16`): load it with this `--precision`.
    pub precision: String,
    /// [`PORTABLE_LAYOUT`] (every device reads it) or [`CPU_LAYOUT`] (the CPU device maps it).
    #[serde(default = "portable_layout")]
    pub layout: String,
    /// How the linear weights are stored, in words (names, dtypes, shapes, quantization rule).
    pub linear_weights: String,
    /// How every other tensor is stored.
    pub other_tensors: String,
    /// The tool and version that wrote it.
    pub written_by: String,
}

fn portable_layout() -> String {
    PORTABLE_LAYOUT.into()
}

impl ConvertedFormat {
    /// The recorded precision, checked: a format, version or layout this code does not know,
    /// or an unknown precision, is [`EmbedError::BadConvertedFormat`].
    pub fn checked_precision(&self) -> Result<Precision> {
        let known = match self.layout.as_str() {
            PORTABLE_LAYOUT => self.version == FORMAT_VERSION,
            CPU_LAYOUT => self.version == CPU_LAYOUT_FORMAT_VERSION,
            _ => false,
        };
        if self.format != FORMAT_NAME || !known {
            return Err(EmbedError::BadConvertedFormat(format!(
                "format {:?} version {} layout {:?}, expected {FORMAT_NAME:?} version {FORMAT_VERSION} ({PORTABLE_LAYOUT:?}) \
                 or {CPU_LAYOUT_FORMAT_VERSION} ({CPU_LAYOUT:?}) (written by a newer tool?)",
                self.format, self.version, self.layout
            )));
        }
        self.precision
            .parse()
            .map_err(|_| EmbedError::BadConvertedFormat(format!("unknown precision {:?}", self.precision)))
    }
}

/// The checked precision of a converted directory from the text of its [`FORMAT_FILE`] (on
/// every target: the browser and Node fetch the file themselves).
pub fn parse_format(text: &[u8]) -> Result<Precision> {
    if text.len() as u64 > MAX_FORMAT_BYTES {
        return Err(EmbedError::BadConvertedFormat(format!("larger than {MAX_FORMAT_BYTES} bytes")));
    }
    let format: ConvertedFormat =
        serde_json::from_slice(text).map_err(|e| EmbedError::BadConvertedFormat(e.to_string()))?;
    format.checked_precision()
}

impl ModelFiles {
    /// Reads `config.json` and `tokenizer.json` of `dir` and opens its weights.
    #[cfg(not(target_family = "wasm"))]
    pub fn read_dir(dir: &std::path::Path) -> Result<Self> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| EmbedError::Io { path: path.display().to_string(), source })
        };
        let config = read("config.json")?;
        let config_json = String::from_utf8(config).map_err(|_| {
            EmbedError::Model(qwen3_vl_model::ModelError::Config("config.json is not valid UTF-8".into()))
        })?;
        Ok(Self {
            config_json,
            tokenizer_json: read("tokenizer.json")?,
            checkpoint: Checkpoint::open_dir(dir)?,
            converted: read_format(dir)?,
        })
    }
}

/// The checked precision of a converted directory's [`FORMAT_FILE`], `None` without one.
#[cfg(not(target_family = "wasm"))]
pub fn read_format(dir: &std::path::Path) -> Result<Option<crate::Precision>> {
    use std::io::Read;
    let path = dir.join(FORMAT_FILE);
    let file = match std::fs::File::open(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        other => other.map_err(|source| EmbedError::Io { path: path.display().to_string(), source })?,
    };
    let mut text = Vec::new();
    file.take(MAX_FORMAT_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|source| EmbedError::Io { path: path.display().to_string(), source })?;
    parse_format(&text).map(Some)
}
