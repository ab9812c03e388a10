//! Rust errors -> JS `Error` objects with a stable `code` and the Rust message.
//!
//! Codes are part of the public API (the npm README lists them); messages may change.

use qwen3_vl_embedder::EmbedError;
use qwen3_vl_model::ModelError;
use qwen3_vl_preprocess::PreprocessError;
use wasm_bindgen::JsValue;

/// A JS `Error` with `error.code = code`.
pub fn js_error(code: &str, message: impl AsRef<str>) -> JsValue {
    let error = js_sys::Error::new(message.as_ref());
    let _ = js_sys::Reflect::set(&error, &"code".into(), &code.into());
    error.into()
}

/// A caller passed something of the wrong shape or type.
pub fn bad_argument(message: impl AsRef<str>) -> JsValue {
    js_error("BAD_ARGUMENT", message)
}

/// An embedding error as a JS `Error`, its `code` chosen by kind (`EMPTY_INPUT`, `BAD_IMAGE`, ...).
pub fn from_embed(e: EmbedError) -> JsValue {
    let code = match &e {
        EmbedError::EmptyInput => "EMPTY_INPUT",
        EmbedError::BadDimension { .. } => "BAD_DIMENSION",
        EmbedError::UnknownDevice(_) => "UNKNOWN_DEVICE",
        EmbedError::UnknownPrecision(_) | EmbedError::BadConvertOutput { .. } => "BAD_ARGUMENT",
        EmbedError::DeviceInit { .. } => "DEVICE_INIT",
        EmbedError::ModelSource { .. } | EmbedError::Io { .. } => "MODEL_SOURCE",
        EmbedError::Preprocess(p) => preprocess_code(p),
        EmbedError::Model(m) => model_code(m),
        // A NaN, infinite or zero embedding comes from broken weights or config.
        EmbedError::BadEmbedding { .. } | EmbedError::BadConvertedFormat(_) => "BAD_MODEL",
    };
    js_error(code, e.to_string())
}

/// A model error as a JS `Error`: `DEVICE`, `UNSUPPORTED_DTYPE` or `BAD_MODEL`.
pub fn from_model(e: ModelError) -> JsValue {
    js_error(model_code(&e), e.to_string())
}

fn preprocess_code(e: &PreprocessError) -> &'static str {
    use PreprocessError::*;
    match e {
        Tokenizer(_) | MissingSpecialToken { .. } => "BAD_TOKENIZER",
        EmptyImage | UnsupportedFormat(_) | Decode { .. } => "BAD_IMAGE",
        TooLarge { .. } | AllocationTooLarge { .. } => "IMAGE_TOO_LARGE",
        EmptyDimensions { .. } | AspectRatio { .. } | ResizedToNothing { .. } | NotPatchAligned { .. } => {
            "BAD_IMAGE_SIZE"
        }
        TruncatesImageTokens { .. } => "INPUT_TOO_LONG",
        _ => "PREPROCESS",
    }
}

fn model_code(e: &ModelError) -> &'static str {
    match e {
        ModelError::Device(_) => "DEVICE",
        // q4 (native CPU only for now) and packed int8/q4 weights loaded in another precision
        // are dtype problems from JS's side too.
        ModelError::UnsupportedPrecision { .. }
        | ModelError::PrecisionNeedsCpu { .. }
        | ModelError::ConvertedPrecision { .. } => "UNSUPPORTED_DTYPE",
        _ => "BAD_MODEL",
    }
}

/// A vector-index error as a JS `Error`, its `code` chosen by kind (`BAD_DIMENSION`,
/// `CORRUPT_INDEX`, ...).
pub fn from_index(e: vector_index::Error) -> JsValue {
    use vector_index::Error::*;
    let code = match &e {
        DimensionMismatch { .. } => "BAD_DIMENSION",
        NonFinite { .. } | ZeroVector => "BAD_VECTOR",
        UnknownId(_) => "UNKNOWN_ID",
        InvalidId { .. } => "BAD_ID",
        InvalidConfig(_) => "BAD_ARGUMENT",
        Load(_) => "CORRUPT_INDEX",
        _ => "INDEX",
    };
    js_error(code, e.to_string())
}
