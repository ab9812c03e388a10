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
    js_error(embed_code(&e), e.to_string())
}

fn embed_code(e: &EmbedError) -> &'static str {
    match e {
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
    }
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
        // A precision the device cannot hold, and packed int8/q4 weights loaded in another
        // precision, are dtype problems from JS's side too.
        ModelError::UnsupportedPrecision { .. } | ModelError::ConvertedPrecision { .. } => "UNSUPPORTED_DTYPE",
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

/// A retriever error as a JS `Error`: `NOT_BUILT`, `EMPTY_INPUT`, `UNKNOWN_ID`, `BAD_ID`,
/// `CORRUPT_INDEX` (a library's files or packed file), `BAD_DEMO`, or the embedding's and the
/// index's own codes.
pub fn from_retriever(e: demo_retriever::RetrieverError) -> JsValue {
    use demo_retriever::RetrieverError as R;
    let code = match e {
        R::Embed(e) => return from_embed(e),
        R::Index(e) => return from_index(e),
        R::BadDemos(mut demos) if demos.len() == 1 => return from_demo_problem(demos.remove(0).problem),
        R::NotBuilt(_) => "NOT_BUILT",
        R::DimOutOfRange { .. } => "BAD_DIMENSION",
        R::EmptyQuery | R::TextQueryNeedsText => "EMPTY_INPUT",
        R::UnknownDemos(_) => "UNKNOWN_ID",
        R::BadIndexDir { .. } | R::BadPack(_) | R::Io { .. } => "CORRUPT_INDEX",
        R::BadDemos(_) | R::EmptyLibrary(_) => "BAD_DEMO",
        R::RerankScores { .. } => "BAD_MODEL",
        R::BadFilter { .. } | R::NoReranker => "BAD_ARGUMENT",
        R::ModelMismatch { .. } | R::DimMismatch { .. } | R::InstructionMismatch { .. } => "BAD_ARGUMENT",
        _ => "INDEX",
    };
    js_error(code, e.to_string())
}

/// One demo's problem as a JS `Error`: `BAD_ID`, `EMPTY_INPUT` (no goal), or `BAD_DEMO`.
pub fn from_demo_problem(p: demo_retriever::DemoProblem) -> JsValue {
    use demo_retriever::DemoProblem as P;
    let code = match &p {
        P::BadId { .. } => "BAD_ID",
        P::NoGoal => "EMPTY_INPUT",
        P::Unembeddable(e) | P::Screenshot { source: e, .. } => embed_code(e),
        _ => "BAD_DEMO",
    };
    js_error(code, p.to_string())
}
