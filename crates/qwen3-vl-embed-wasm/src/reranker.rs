//! `WasmReranker`: a Qwen3-VL-Reranker loaded from in-memory files, scoring (query, document)
//! pairs; `WasmRetriever::retrieveReranked` rescores a query's best candidates with it.

use std::rc::Rc;

use js_sys::{Array, Float32Array, Promise, Uint8Array};
use qwen3_vl_embedder::{DType, EmbedInput, Reranker};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::embedder::{open_checkpoint, read_options, start};
use crate::error::{bad_argument, from_embed, js_error};
use crate::input::parse_input;

/// A loaded reranker. `score` returns a Promise; the model stays alive while one is pending,
/// even after `free()`.
#[wasm_bindgen]
pub struct WasmReranker {
    inner: Rc<Reranker>,
    device: &'static str,
}

impl WasmReranker {
    /// The model, shared with a pending reranked query of a `WasmRetriever`.
    pub(crate) fn shared(&self) -> Rc<Reranker> {
        self.inner.clone()
    }
}

#[wasm_bindgen]
impl WasmReranker {
    /// Builds a reranker from `config.json` text, `tokenizer.json` bytes and the weight files
    /// as `[{ name, bytes }]`, as `WasmEmbedder.load` does. `options`: `{ device: "webgpu" |
    /// "cpu" | "auto", onProgress }`; the reranker computes in f32 (a `dtype` other than
    /// `"f32"` is refused, not ignored).
    pub async fn load(
        config: String,
        tokenizer: Uint8Array,
        weights: Array,
        options: JsValue,
    ) -> Result<WasmReranker, JsValue> {
        let options = read_options(&options)?;
        if options.embedder.dtype != DType::F32 {
            return Err(js_error(
                "UNSUPPORTED_DTYPE",
                "the reranker runs in f32 only: leave dtype out or pass \"f32\"",
            ));
        }
        let (device, name) = start(options.device).await?;
        let checkpoint = open_checkpoint(&weights, options.on_progress)?;
        let reranker = Reranker::from_parts(&config, &tokenizer.to_vec(), &checkpoint, &device).map_err(from_embed)?;
        Ok(WasmReranker { inner: Rc::new(reranker), device: name })
    }

    /// `"webgpu"` or `"cpu"`: where the model runs.
    #[wasm_bindgen(getter)]
    pub fn device(&self) -> String {
        self.device.to_string()
    }

    /// Scores each document (a string or `{ text, image, images }`) against the query; resolves
    /// to a `Float32Array` of probabilities in `[0, 1]`, in document order. An empty or missing
    /// `instruction` uses the reranker's default one.
    pub fn score(&self, query: JsValue, documents: JsValue, instruction: Option<String>) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            if !Array::is_array(&documents) {
                return Err(bad_argument("score expects an array of documents"));
            }
            let query = parse_input(&query)?;
            let documents =
                Array::from(&documents).iter().map(|v| parse_input(&v)).collect::<Result<Vec<EmbedInput>, _>>()?;
            let scores = inner.score_async(instruction.as_deref(), &query, &documents).await.map_err(from_embed)?;
            Ok(Float32Array::from(scores.as_slice()).into())
        })
    }
}
