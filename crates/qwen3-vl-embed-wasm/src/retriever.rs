//! `WasmRetriever`: the Rust `demo_retriever::DemoRetriever` for JS, so the npm `Retriever`
//! ranks with the same code as the CLI (rules, scores, tie-breaks) and reads and writes the
//! same library files.
//!
//! The model runs asynchronously here (readback is a `Promise`), so builds and queries take
//! the crate's caller-embeds path: the retriever lists the inputs, this binding embeds them
//! with the `WasmEmbedder` and hands the vectors back. The retriever sits in an
//! `Rc<RefCell<..>>` so a pending build or query keeps it alive; no borrow is held across an
//! `await`.

use std::cell::RefCell;
use std::rc::Rc;

use demo_retriever::pack::{pack, unpack};
use demo_retriever::{
    Bonuses, DEFAULT_DIM, Demo, DemoRetriever, LibraryFiles, Query, QueryVectors, RetrievalResult, RetrieverSettings,
    Strategy, check_dim,
};
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use qwen3_vl_embedder::EmbedInput;
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};

use crate::embedder::WasmEmbedder;
use crate::error::{bad_argument, from_embed, from_retriever};
use crate::index::{from_js, to_js};
use crate::input::image_bytes;
use crate::reranker::WasmReranker;

/// A demo library and its index (`Retriever` in the npm package).
#[wasm_bindgen]
pub struct WasmRetriever {
    inner: Rc<RefCell<DemoRetriever>>,
    /// Query embeddings of this session (an LRU in memory, never saved).
    queries: Rc<QueryVectors>,
}

/// Query vectors kept by default: a page or an extension asks the same tasks again and again,
/// each a forward pass of the model; 256 vectors of 512 floats are 512 KiB.
const DEFAULT_QUERY_CACHE: usize = 256;

/// `Retriever.create`'s options as JS spells them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SettingsJs {
    model: String,
    dim: Option<usize>,
    instruction: Option<String>,
    #[serde(default)]
    bonuses: BonusesJs,
    rerank_top_n: Option<usize>,
    /// `"auto"` (when absent), `"exact"` or `"hnsw"`.
    strategy: Option<Strategy>,
}

/// `{ app, domain }`, each defaulting to the crate's default bonus.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct BonusesJs {
    app: Option<f32>,
    domain: Option<f32>,
}

/// A query from `{ task, screenshot, topK, app, domain, instruction }` (the screenshot as
/// the embedder takes images: encoded bytes or `ImageData`-like pixels).
fn read_query(value: JsValue) -> Result<Query, JsValue> {
    if !value.is_object() {
        return Err(bad_argument("a query is an object { task, screenshot, topK, app, domain, instruction }"));
    }
    let get = |key: &str| Reflect::get(&value, &key.into()).unwrap_or(JsValue::UNDEFINED);
    let string = |key: &str| -> Result<Option<String>, JsValue> {
        let v = get(key);
        if v.is_undefined() || v.is_null() {
            return Ok(None);
        }
        v.as_string().map(Some).ok_or_else(|| bad_argument(format!("query.{key} must be a string")))
    };
    let mut q = Query::text(string("task")?.unwrap_or_default());
    q.task = q.task.filter(|t| !t.trim().is_empty());
    let screenshot = get("screenshot");
    if !screenshot.is_undefined() && !screenshot.is_null() {
        q.screenshot = Some(image_bytes(&screenshot, "query.screenshot")?);
    }
    let top_k = get("topK");
    if !top_k.is_undefined() {
        let k = top_k.as_f64().filter(|k| *k >= 0.0 && k.fract() == 0.0);
        q.top_k = k.ok_or_else(|| bad_argument("query.topK must be a whole number >= 0"))? as usize;
    }
    (q.app_context, q.domain_context, q.instruction) = (string("app")?, string("domain")?, string("instruction")?);
    Ok(q)
}

/// A demo as the npm package shows it: `{ id, goal, appName, domain, platform, tags, metadata }`.
fn demo_to_js(demo: &Demo) -> Result<JsValue, JsValue> {
    to_js(&serde_json::json!({
        "id": demo.demo_id,
        "goal": demo.goal,
        "appName": demo.app_name,
        "domain": demo.domain,
        "platform": demo.platform,
        "tags": demo.tags,
        "metadata": demo.metadata,
    }))
}

/// The query's embedding at the index's dimension, from the cache or the model; `None` when
/// there is nothing to rank (`topK` 0 or an empty library), so the model is not run.
async fn query_vector(
    inner: &Rc<RefCell<DemoRetriever>>,
    queries: &QueryVectors,
    model: &qwen3_vl_embedder::Embedder,
    query: &Query,
) -> Result<Option<Vec<f32>>, JsValue> {
    let input = inner.borrow().query_input(query).map_err(from_retriever)?;
    let dim = inner.borrow().settings().dim;
    if query.top_k == 0 || inner.borrow().is_empty() {
        return Ok(None);
    }
    if let Some(vector) = queries.get(&input, dim) {
        return Ok(Some(vector));
    }
    let vector = model.embed_async(&input, Some(dim)).await.map_err(from_embed)?;
    queries.put(&input, dim, vector.clone());
    Ok(Some(vector))
}

/// `[{ rank, demoId, score, embeddingScore, rerankScore, demo }]`, best first.
fn results_to_js(results: &[RetrievalResult]) -> Result<JsValue, JsValue> {
    let out = Array::new();
    for r in results {
        let hit = Object::new();
        Reflect::set(&hit, &"rank".into(), &(r.rank as f64).into())?;
        Reflect::set(&hit, &"demoId".into(), &r.demo.demo_id.clone().into())?;
        Reflect::set(&hit, &"score".into(), &r.score.into())?;
        Reflect::set(&hit, &"embeddingScore".into(), &r.embedding_score.into())?;
        Reflect::set(&hit, &"rerankScore".into(), &r.rerank_score.map_or(JsValue::NULL, JsValue::from))?;
        Reflect::set(&hit, &"demo".into(), &demo_to_js(&r.demo)?)?;
        out.push(&hit);
    }
    Ok(out.into())
}

/// `{ name: Uint8Array }` -> files (names are checked by [`LibraryFiles::insert`]).
fn files_from_js(files: &JsValue) -> Result<LibraryFiles, JsValue> {
    let object: &Object =
        files.dyn_ref().ok_or_else(|| bad_argument("files must be an object { name: Uint8Array }"))?;
    let mut out = LibraryFiles::new();
    for entry in Object::entries(object).iter() {
        let pair: Array = entry.into();
        let name = pair.get(0).as_string().unwrap_or_default();
        let bytes: Uint8Array =
            pair.get(1).dyn_into().map_err(|_| bad_argument(format!("files[{name:?}] must be a Uint8Array")))?;
        out.insert(&name, bytes.to_vec()).map_err(|e| crate::error::js_error("CORRUPT_INDEX", e.to_string()))?;
    }
    Ok(out)
}

/// The settings as `Retriever.settings` spells them.
fn settings_to_js(s: &RetrieverSettings) -> Result<JsValue, JsValue> {
    to_js(&serde_json::json!({
        "model": s.model,
        "dim": s.dim,
        "instruction": s.instruction,
        "bonuses": { "app": s.bonuses.app, "domain": s.bonuses.domain },
        "rerankTopN": s.rerank_top_n,
        "strategy": s.strategy,
    }))
}

/// `{ done, total }` to a JS callback; a throwing callback does not stop the build.
fn report(on_progress: &Option<Function>, done: usize, total: usize) {
    if let Some(f) = on_progress
        && let Ok(event) = to_js(&serde_json::json!({ "done": done, "total": total }))
    {
        let _ = f.call1(&JsValue::NULL, &event);
    }
}

#[wasm_bindgen]
impl WasmRetriever {
    /// An empty library: `{ model, dim, instruction, bonuses: { app, domain }, rerankTopN }`
    /// for a model `width` values wide. `dim` defaults to 512 capped at the width and must be
    /// 64..=width (`BAD_DIMENSION`).
    #[wasm_bindgen(constructor)]
    pub fn new(settings: JsValue, width: usize) -> Result<WasmRetriever, JsValue> {
        let s: SettingsJs =
            serde_wasm_bindgen::from_value(settings).map_err(|e| bad_argument(format!("retriever settings: {e}")))?;
        let dim = s.dim.unwrap_or(DEFAULT_DIM.min(width));
        check_dim(dim, width).map_err(from_retriever)?;
        let mut settings = RetrieverSettings::new(s.model, dim);
        if let Some(instruction) = s.instruction {
            settings.instruction = instruction;
        }
        let default = Bonuses::default();
        settings.bonuses =
            Bonuses { app: s.bonuses.app.unwrap_or(default.app), domain: s.bonuses.domain.unwrap_or(default.domain) };
        if let Some(n) = s.rerank_top_n {
            settings.rerank_top_n = n;
        }
        settings.strategy = s.strategy.unwrap_or_default();
        Ok(Self::wrap(DemoRetriever::new(settings).map_err(from_retriever)?))
    }

    fn wrap(r: DemoRetriever) -> Self {
        let queries = Rc::new(QueryVectors::new(r.settings().model.clone(), DEFAULT_QUERY_CACHE));
        Self { inner: Rc::new(RefCell::new(r)), queries }
    }

    /// A library from its files by name (`{ "manifest.json": Uint8Array, ... }`): what an
    /// index directory saved by the CLI holds, or `toFiles()` gave.
    #[wasm_bindgen(js_name = fromFiles)]
    pub fn from_files(files: JsValue) -> Result<WasmRetriever, JsValue> {
        Ok(Self::wrap(DemoRetriever::from_files(&files_from_js(&files)?).map_err(from_retriever)?))
    }

    /// The names still to fetch before `fromFiles` can read `files` (see
    /// `demo_retriever::files_needed`); `[]` when nothing is missing. Names that do not exist
    /// at the source are simply left out.
    #[wasm_bindgen(js_name = filesNeeded)]
    pub fn files_needed(files: JsValue) -> Result<Vec<String>, JsValue> {
        demo_retriever::files_needed(&files_from_js(&files)?).map_err(from_retriever)
    }

    /// A library from one packed file (`qwen3-vl-embed pack`, or `toPacked()`).
    #[wasm_bindgen(js_name = fromPacked)]
    pub fn from_packed(bytes: &Uint8Array) -> Result<WasmRetriever, JsValue> {
        let files = unpack(&bytes.to_vec()).map_err(from_retriever)?;
        Ok(Self::wrap(DemoRetriever::from_files(&files).map_err(from_retriever)?))
    }

    /// Every file of the library as a first save writes them: `{ name: Uint8Array }`.
    #[wasm_bindgen(js_name = toFiles)]
    pub fn to_files(&self) -> Result<JsValue, JsValue> {
        let files = self.inner.borrow().to_files().map_err(from_retriever)?;
        let out = Object::new();
        for (name, bytes) in files.into_map() {
            Reflect::set(&out, &name.into(), &Uint8Array::from(bytes.as_slice()).into())?;
        }
        Ok(out.into())
    }

    /// The library as one packed file (`qwen3-vl-embed unpack` turns it into a directory).
    #[wasm_bindgen(js_name = toPacked)]
    pub fn to_packed(&self) -> Result<Uint8Array, JsValue> {
        let files = self.inner.borrow().to_files().map_err(from_retriever)?;
        Ok(Uint8Array::from(pack(files).as_slice()))
    }

    /// `{ model, dim, instruction, bonuses: { app, domain }, rerankTopN }`.
    #[wasm_bindgen(getter)]
    pub fn settings(&self) -> Result<JsValue, JsValue> {
        settings_to_js(self.inner.borrow().settings())
    }

    /// Adds or replaces a demo from a seed episode (an object), with its screenshot as encoded
    /// image bytes or `ImageData`-like pixels (or null); embedded by the next `buildIndex`.
    #[wasm_bindgen(js_name = addEpisode)]
    pub fn add_episode(&self, episode: JsValue, screenshot: JsValue) -> Result<(), JsValue> {
        let raw = from_js(episode)?;
        let demo = Demo::from_episode_value(raw).map_err(crate::error::from_demo_problem)?;
        let screenshot = match screenshot.is_undefined() || screenshot.is_null() {
            true => None,
            false => Some(image_bytes(&screenshot, "screenshot")?),
        };
        self.inner.borrow_mut().add_demo_with_screenshot(demo, screenshot);
        Ok(())
    }

    /// Removes a demo; false when there was none.
    pub fn remove(&self, id: &str) -> Result<bool, JsValue> {
        self.inner.borrow_mut().remove_demo(id).map_err(from_retriever)
    }

    /// The number of demos (embedded or not).
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        self.inner.borrow().len()
    }

    /// Demos added since the last `buildIndex`.
    #[wasm_bindgen(getter)]
    pub fn pending(&self) -> usize {
        self.inner.borrow().pending()
    }

    /// The demo `id` (`{ id, goal, appName, domain, platform, tags, metadata }`), or null.
    pub fn demo(&self, id: &str) -> Result<JsValue, JsValue> {
        match self.inner.borrow().demo(id) {
            Some(d) => demo_to_js(d),
            None => Ok(JsValue::NULL),
        }
    }

    /// Embeds the pending demos with `embedder`, `batch_size` per call, then indexes them;
    /// resolves to `{ embedded }`. `on_progress({ done, total })` after every batch.
    #[wasm_bindgen(js_name = buildIndex)]
    pub fn build_index(&self, embedder: &WasmEmbedder, batch_size: usize, on_progress: JsValue) -> Promise {
        let (inner, model) = (self.inner.clone(), embedder.shared());
        let on_progress = on_progress.dyn_into::<Function>().ok();
        future_to_promise(async move {
            let todo = inner.borrow_mut().inputs_to_embed().map_err(from_retriever)?;
            let dim = inner.borrow().settings().dim;
            let mut done = 0;
            for chunk in todo.chunks(batch_size.max(1)) {
                let inputs: Vec<EmbedInput> = chunk.iter().map(|t| t.input.clone()).collect();
                let vectors = model.embed_batch_async(&inputs, Some(dim)).await.map_err(from_embed)?;
                let mut r = inner.borrow_mut();
                for (item, v) in chunk.iter().zip(vectors) {
                    r.add_embedding(item, v).map_err(from_retriever)?;
                }
                drop(r);
                done += chunk.len();
                report(&on_progress, done, todo.len());
            }
            inner.borrow_mut().build_from_cache().map_err(from_retriever)?;
            to_js(&serde_json::json!({ "embedded": todo.len() }))
        })
    }

    /// The best demos for `{ task, screenshot, topK, app, domain, instruction }`, embedding the
    /// query with `embedder` (or taking its vector from the query cache): resolves to
    /// `[{ rank, demoId, score, embeddingScore, rerankScore, demo }]`.
    pub fn retrieve(&self, embedder: &WasmEmbedder, query: JsValue) -> Promise {
        let (inner, queries, model) = (self.inner.clone(), self.queries.clone(), embedder.shared());
        future_to_promise(async move {
            let query = read_query(query)?;
            let Some(vector) = query_vector(&inner, &queries, &model, &query).await? else {
                return Ok(Array::new().into());
            };
            let results = inner.borrow().retrieve_by_vector(vector, &query).map_err(from_retriever)?;
            results_to_js(&results)
        })
    }

    /// [`Self::retrieve`] with the best `rerankTopN` candidates (by cosine + bonus) rescored
    /// by `reranker`, as the CLI's `query --rerank`: results rank by reranker score + bonus and
    /// carry `rerankScore`. A candidate's screenshot that is not in memory (a loaded library
    /// keeps only its episodes' `screenshot_path`s) comes from `screenshot(demoId, path)`,
    /// which returns (a Promise of) the image's bytes.
    #[wasm_bindgen(js_name = retrieveReranked)]
    pub fn retrieve_reranked(
        &self,
        embedder: &WasmEmbedder,
        reranker: &WasmReranker,
        query: JsValue,
        screenshot: Function,
    ) -> Promise {
        let (inner, queries, model, reranker) =
            (self.inner.clone(), self.queries.clone(), embedder.shared(), reranker.shared());
        future_to_promise(async move {
            let query = read_query(query)?;
            let Some(vector) = query_vector(&inner, &queries, &model, &query).await? else {
                return Ok(Array::new().into());
            };
            let mut request = inner.borrow().rerank_request(&vector, &query).map_err(from_retriever)?;
            for (id, path) in request.missing_screenshots.clone() {
                let path = path.display().to_string();
                let value = screenshot.call2(&JsValue::NULL, &id.clone().into(), &path.clone().into())?;
                let value = JsFuture::from(Promise::resolve(&value)).await?;
                request.supply_screenshot(&id, image_bytes(&value, &format!("the screenshot of demo {id} ({path})"))?);
            }
            let scores = reranker
                .score_async(request.query.instruction.as_deref(), &request.query, &request.documents)
                .await
                .map_err(from_embed)?;
            let results = inner.borrow().finish_rerank(request, &scores).map_err(from_retriever)?;
            results_to_js(&results)
        })
    }

    /// Keeps at most `capacity` query embeddings in memory (0 turns the cache off); the
    /// vectors held so far are dropped.
    #[wasm_bindgen(js_name = setQueryCache)]
    pub fn set_query_cache(&mut self, capacity: usize) {
        let model = self.inner.borrow().settings().model.clone();
        self.queries = Rc::new(QueryVectors::new(model, capacity));
    }

    /// `{ hits, misses, size, capacity }` of the query cache.
    #[wasm_bindgen(getter, js_name = queryCacheStats)]
    pub fn query_cache_stats(&self) -> Result<JsValue, JsValue> {
        let stats = self.queries.stats();
        to_js(&serde_json::json!({
            "hits": stats.hits, "misses": stats.misses, "size": stats.len, "capacity": self.queries.capacity(),
        }))
    }

    /// Text-only retrieval (TF-IDF over goal, app and domain; no model), with the same
    /// bonuses: `[{ rank, demoId, score, embeddingScore, demo }]`.
    #[wasm_bindgen(js_name = retrieveText)]
    pub fn retrieve_text(&self, query: JsValue) -> Result<JsValue, JsValue> {
        let query = read_query(query)?;
        let results = self.inner.borrow().retrieve_text(&query).map_err(from_retriever)?;
        results_to_js(&results)
    }
}

/// The demo the retriever makes of a seed episode (`{ id, goal, appName, domain, platform,
/// tags, metadata }`), by the crate's rules (the CLI's): the first URL's host, the platform.
#[wasm_bindgen(js_name = demoFromEpisode)]
pub fn demo_from_episode(episode: JsValue) -> Result<JsValue, JsValue> {
    let demo = Demo::from_episode_value(from_js(episode)?).map_err(crate::error::from_demo_problem)?;
    demo_to_js(&demo)
}

/// The host of an http(s) URL (lower-case, no port, user info or `www.`), or `undefined`.
#[wasm_bindgen(js_name = hostOf)]
pub fn host_of(url: &str) -> Option<String> {
    demo_retriever::demo::host_of(url)
}

/// Lower-case, trimmed, a leading `www.` removed: the form domains are stored and compared in.
#[wasm_bindgen(js_name = normalizeDomain)]
pub fn normalize_domain(domain: &str) -> String {
    demo_retriever::demo::normalize_domain(domain)
}

/// `web`, `macos`, `windows` or `unknown`, from the first step's URL and the app name.
#[wasm_bindgen(js_name = platformOf)]
pub fn platform_of(first_url: Option<String>, app_name: Option<String>) -> String {
    demo_retriever::demo::platform_of(first_url.as_deref(), app_name.as_deref()).to_owned()
}
