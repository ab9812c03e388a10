//! `WasmEmbedder`: load from in-memory files, embed inputs, resolve to `Float32Array`s.

use std::rc::Rc;

use js_sys::{Array, Float32Array, Function, Object, Promise, Reflect, Uint8Array};
use qwen3_vl_embedder::{DeviceChoice, EmbedInput, Embedder, EmbedderOptions, Precision, start_device_async};
use qwen3_vl_model::{ByteSource, SafetensorsFile};
use qwen3_vl_model::{Checkpoint, LoadProgress};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::error::{bad_argument, from_embed, from_model};
use crate::input::parse_input;
use crate::js_bytes::JsBytes;

/// A loaded model. Methods that run it return Promises; the model stays alive while one of
/// them is pending, even after `free()`.
#[wasm_bindgen]
pub struct WasmEmbedder {
    inner: Rc<Embedder>,
    device: &'static str,
}

/// Options read from the `options` object of [`WasmEmbedder::load`].
pub(crate) struct LoadOptions {
    pub(crate) device: DeviceChoice,
    pub(crate) embedder: EmbedderOptions,
    pub(crate) on_progress: Option<Function>,
}

pub(crate) fn read_options(options: &JsValue) -> Result<LoadOptions, JsValue> {
    let mut out = LoadOptions { device: DeviceChoice::Auto, embedder: EmbedderOptions::default(), on_progress: None };
    if options.is_undefined() || options.is_null() {
        return Ok(out);
    }
    let get = |key: &str| Reflect::get(options, &key.into()).unwrap_or(JsValue::UNDEFINED);
    if let Some(device) = get("device").as_string() {
        out.device = device.parse().map_err(from_embed)?;
    }
    // A converted directory's `qwen3-vl-embed-format.json` (its text) names the default dtype.
    let converted = match get("format").as_string() {
        Some(text) => Some(qwen3_vl_embedder::model_files::parse_format(text.as_bytes()).map_err(from_embed)?),
        None => None,
    };
    if let Some(dtype) = get("dtype").as_string() {
        let precision: Precision = dtype.parse().map_err(|e| bad_argument(format!("dtype: {e}")))?;
        out.embedder.dtype = precision.dtype();
    } else if let Some(precision) = converted {
        out.embedder.dtype = precision.dtype();
    }
    if let Some(n) = get("batchSize").as_f64() {
        out.embedder.batch_size = (n as usize).max(1);
    }
    if let Some(n) = get("maxBatchTokens").as_f64() {
        out.embedder.max_batch_tokens = (n as usize).max(1);
    }
    if let Some(n) = get("maxLength").as_f64() {
        out.embedder.max_length = n as usize;
    }
    let on_progress = get("onProgress");
    if !on_progress.is_undefined() && !on_progress.is_null() {
        out.on_progress = Some(on_progress.dyn_into().map_err(|_| bad_argument("onProgress must be a function"))?);
    }
    Ok(out)
}

/// `{ phase: "load", file: "weights", loaded, total }` (bytes of tensors read and uploaded).
fn report(on_progress: &Function, p: LoadProgress) {
    let event = Object::new();
    for (key, value) in [
        ("phase", JsValue::from("load")),
        ("file", "weights".into()),
        ("loaded", (p.loaded_bytes as f64).into()),
        ("total", (p.total_bytes as f64).into()),
    ] {
        let _ = Reflect::set(&event, &key.into(), &value);
    }
    // A throwing callback must not abort the load.
    let _ = on_progress.call1(&JsValue::NULL, &event);
}

/// Starts the device (the embedder crate's one start-up; it shares one WebGPU device per
/// instance) and names it as JS sees it: `"webgpu"` or `"cpu"`.
pub(crate) async fn start(choice: DeviceChoice) -> Result<(qwen3_vl_embedder::Device, &'static str), JsValue> {
    let started = start_device_async(choice).await.map_err(from_embed)?;
    let name = if started.name == "wgpu" { "webgpu" } else { "cpu" };
    Ok((started.device, name))
}

/// Opens the weight files `[{ name, bytes }]` without copying them into wasm memory, reporting
/// progress to `on_progress` as tensors are taken.
pub(crate) fn open_checkpoint(weights: &Array, on_progress: Option<Function>) -> Result<Checkpoint, JsValue> {
    let mut files = Vec::with_capacity(weights.length() as usize);
    for (i, file) in weights.iter().enumerate() {
        let name = Reflect::get(&file, &"name".into())?.as_string().unwrap_or_else(|| format!("weights[{i}]"));
        let bytes = JsBytes::from_js(&Reflect::get(&file, &"bytes".into())?, &format!("weights[{i}].bytes"))?;
        files.push(SafetensorsFile::parse(name, Box::new(bytes) as Box<dyn ByteSource>).map_err(from_model)?);
    }
    let mut checkpoint = Checkpoint::from_files(files).map_err(from_model)?;
    if let Some(on_progress) = on_progress {
        checkpoint = checkpoint.with_progress(move |p| report(&on_progress, p));
    }
    Ok(checkpoint)
}

impl WasmEmbedder {
    /// The model, shared with a pending build or query of a `WasmRetriever`.
    pub(crate) fn shared(&self) -> Rc<Embedder> {
        self.inner.clone()
    }
}

#[wasm_bindgen]
impl WasmEmbedder {
    /// Builds an embedder from `config.json` text, `tokenizer.json` bytes and the weight
    /// files as `[{ name, bytes }]` (one `model.safetensors`, or every shard), where `bytes` is
    /// a `Uint8Array` or the file's chunks as an array of them.
    ///
    /// The weights are not copied into wasm memory: each tensor is read from the JS buffers
    /// when the model takes it, converted and uploaded, so a checkpoint larger than wasm32's
    /// 4 GiB loads (on WebGPU) and peak memory stays near one copy of the files.
    ///
    /// `options`: `{ device: "webgpu" | "cpu" | "auto", dtype: "f32" | "f16" | "bf16" | "int8" | "q4",
    /// format, batchSize, maxBatchTokens, maxLength, onProgress }`; `format` is the text of a
    /// converted directory's `qwen3-vl-embed-format.json`, whose precision is the default
    /// `dtype`; `onProgress` receives `{ phase: "load", file: "weights", loaded, total }` in
    /// bytes after every tensor. Loading is synchronous between those calls: run it in a
    /// Worker to keep a page responsive.
    pub async fn load(
        config: String,
        tokenizer: Uint8Array,
        weights: Array,
        options: JsValue,
    ) -> Result<WasmEmbedder, JsValue> {
        let options = read_options(&options)?;
        let (device, name) = start(options.device).await?;
        let checkpoint = open_checkpoint(&weights, options.on_progress)?;
        let embedder = Embedder::from_parts(&config, &tokenizer.to_vec(), &checkpoint, &device, options.embedder)
            .map_err(from_embed)?;
        Ok(WasmEmbedder { inner: Rc::new(embedder), device: name })
    }

    /// `"webgpu"` or `"cpu"`: where the model runs.
    #[wasm_bindgen(getter)]
    pub fn device(&self) -> String {
        self.device.to_string()
    }

    /// The full embedding width (largest `dim`).
    #[wasm_bindgen(getter, js_name = hiddenSize)]
    pub fn hidden_size(&self) -> usize {
        self.inner.hidden_size()
    }

    /// Embeds one input (a string or `{ text, image, images, instruction }`); resolves to a
    /// unit-length `Float32Array` of `dim` values (default: all).
    pub fn embed(&self, input: JsValue, dim: Option<u32>) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let input = parse_input(&input)?;
            let v = inner.embed_async(&input, dim.map(|d| d as usize)).await.map_err(from_embed)?;
            Ok(Float32Array::from(v.as_slice()).into())
        })
    }

    /// Embeds several inputs; resolves to an array of `Float32Array`s in input order.
    #[wasm_bindgen(js_name = embedBatch)]
    pub fn embed_batch(&self, inputs: JsValue, dim: Option<u32>) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            if !Array::is_array(&inputs) {
                return Err(bad_argument("embedBatch expects an array of inputs"));
            }
            let inputs =
                Array::from(&inputs).iter().map(|v| parse_input(&v)).collect::<Result<Vec<EmbedInput>, _>>()?;
            let vectors = inner.embed_batch_async(&inputs, dim.map(|d| d as usize)).await.map_err(from_embed)?;
            Ok(vectors.iter().map(|v| JsValue::from(Float32Array::from(v.as_slice()))).collect::<Array>().into())
        })
    }
}

/// Panics become readable console errors instead of "unreachable executed"; gemm (the CPU
/// path's f32 products: attention, f32 linears) gets its SIMD128 kernels.
#[wasm_bindgen(start)]
pub fn start_hook() {
    // gemm cannot detect SIMD128 at run time and defaults to its scalar kernels (23% of a 2B
    // screenshot embedding in Node, `--cpu-prof`); this module is built with +simd128
    // (.cargo/config.toml), so every engine that instantiates it runs them.
    if cfg!(target_feature = "simd128") {
        gemm_common::set_wasm_simd128(true);
    }
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&format!("qwen3-vl-embed (wasm) panicked: {info}").into());
    }));
}
