//! `WasmIndex`: the `vector-index` crate for JS, with single-buffer persistence (IndexedDB,
//! `chrome.storage`, files) and `.npy` / JSON export.

use js_sys::{Array, Float32Array, Object, Reflect, Uint8Array};
use serde::Serialize;
use vector_index::{FieldEquals, Index, IndexConfig, Strategy};
use wasm_bindgen::prelude::*;

use crate::error::{bad_argument, from_index};

/// A `vector_index::Index` for JS (`WasmIndex` in the npm package's core).
#[wasm_bindgen]
pub struct WasmIndex {
    inner: Index,
}

/// JSON values -> plain JS objects (not `Map`s).
pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(|e| bad_argument(e.to_string()))
}

/// A JS value as JSON (`undefined`: null).
pub(crate) fn from_js(value: JsValue) -> Result<serde_json::Value, JsValue> {
    if value.is_undefined() {
        return Ok(serde_json::Value::Null);
    }
    serde_wasm_bindgen::from_value(value).map_err(|e| bad_argument(format!("metadata is not JSON-like: {e}")))
}

#[wasm_bindgen]
impl WasmIndex {
    /// `new WasmIndex(model, dim, strategy)`: `strategy` is `"auto"` (default), `"exact"` or
    /// `"hnsw"`; `model` names the embedding model, so that vectors from another are refused
    /// by callers that check it.
    #[wasm_bindgen(constructor)]
    pub fn new(model: String, dim: usize, strategy: Option<String>) -> Result<WasmIndex, JsValue> {
        let mut config = IndexConfig::new(model, dim);
        config.strategy = match strategy.as_deref().unwrap_or("auto") {
            "auto" => Strategy::Auto,
            "exact" => Strategy::Exact,
            "hnsw" => Strategy::Hnsw,
            other => return Err(bad_argument(format!("strategy {other:?}: expected auto, exact or hnsw"))),
        };
        let mut inner = Index::new(config).map_err(from_index)?;
        inner.set_created_at(now_rfc3339());
        Ok(WasmIndex { inner })
    }

    /// Adds (or replaces) an item; `metadata` is any JSON-like value.
    pub fn add(&mut self, id: String, vector: &Float32Array, metadata: JsValue) -> Result<(), JsValue> {
        let metadata = from_js(metadata)?;
        self.inner.add(id, &vector.to_vec(), metadata).map_err(from_index)
    }

    /// Removes the item `id`; an unknown id is an `UNKNOWN_ID` error.
    pub fn remove(&mut self, id: &str) -> Result<(), JsValue> {
        self.inner.remove(id).map_err(from_index)
    }

    /// Whether the index holds an item `id`.
    pub fn has(&self, id: &str) -> bool {
        self.inner.contains(id)
    }

    /// `{ id, vector, metadata }` of one item.
    pub fn get(&self, id: &str) -> Result<JsValue, JsValue> {
        let item = self.inner.get(id).map_err(from_index)?;
        let out = Object::new();
        Reflect::set(&out, &"id".into(), &item.id.into())?;
        Reflect::set(&out, &"vector".into(), &Float32Array::from(item.vector).into())?;
        Reflect::set(&out, &"metadata".into(), &to_js(item.metadata)?)?;
        Ok(out.into())
    }

    /// The `k` nearest items as `[{ id, score, metadata }]`, best first (score = cosine).
    /// `filter` (optional): `{ key: value, ... }`, only items whose metadata field `key` equals
    /// `value` (strings ignoring ASCII case; an array field needs one equal element), all keys
    /// at once; applied inside the search, so `k` items come back whenever that many match.
    pub fn search(&self, query: &Float32Array, k: usize, filter: JsValue) -> Result<Array, JsValue> {
        let conditions = read_filter(&filter)?;
        let query = query.to_vec();
        let hits = if conditions.is_empty() {
            self.inner.search(&query, k)
        } else {
            self.inner.search_filtered(&query, k, |_, m| FieldEquals::all_match(&conditions, m))
        }
        .map_err(from_index)?;
        let out = Array::new();
        for (id, score) in hits {
            let hit = Object::new();
            let metadata = self.inner.get(&id).map_err(from_index)?.metadata;
            Reflect::set(&hit, &"metadata".into(), &to_js(metadata)?)?;
            Reflect::set(&hit, &"id".into(), &id.into())?;
            Reflect::set(&hit, &"score".into(), &score.into())?;
            out.push(&hit);
        }
        Ok(out)
    }

    /// The number of items (`index.size`).
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        self.inner.len()
    }

    /// The embedding dimension (`index.dim`).
    #[wasm_bindgen(getter)]
    pub fn dim(&self) -> usize {
        self.inner.embedding_dim()
    }

    /// The embedding model the index was made for (`index.model`).
    #[wasm_bindgen(getter)]
    pub fn model(&self) -> String {
        self.inner.embedding_model().to_string()
    }

    /// Item ids in storage order (the row order of `toNpy`).
    pub fn ids(&self) -> Vec<String> {
        self.inner.iter().map(|item| item.id.to_string()).collect()
    }

    /// The whole index as one checksummed buffer.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Uint8Array {
        Uint8Array::from(self.inner.to_bytes().as_slice())
    }

    /// Reads a `toBytes` buffer; corrupt or truncated buffers throw `CORRUPT_INDEX`.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &Uint8Array) -> Result<WasmIndex, JsValue> {
        Ok(WasmIndex { inner: Index::from_bytes(&bytes.to_vec()).map_err(from_index)? })
    }

    /// The stored (unit) vectors as a `[size, dim]` float32 `.npy` file, rows in `ids()` order.
    #[wasm_bindgen(js_name = toNpy)]
    pub fn to_npy(&self) -> Uint8Array {
        let mut data = Vec::with_capacity(self.inner.len() * self.inner.embedding_dim());
        for item in self.inner.iter() {
            data.extend_from_slice(item.vector);
        }
        let npy = vector_index::npy::write_f32_matrix(self.inner.len(), self.inner.embedding_dim(), &data);
        Uint8Array::from(npy.as_slice())
    }

    /// `{ model, dim, createdAt, items: [{ id, metadata }] }` (vectors are in `toNpy`).
    #[wasm_bindgen(js_name = toJSON)]
    pub fn to_json(&self) -> Result<JsValue, JsValue> {
        let items: Vec<_> =
            self.inner.iter().map(|item| serde_json::json!({ "id": item.id, "metadata": item.metadata })).collect();
        to_js(&serde_json::json!({
            "model": self.inner.embedding_model(),
            "dim": self.inner.embedding_dim(),
            "createdAt": self.inner.created_at(),
            "items": items,
        }))
    }
}

/// The JS clock as RFC 3339 UTC to the second, like the native index (wasm32 has no clock).
fn now_rfc3339() -> String {
    let iso: String = js_sys::Date::new_0().to_iso_string().into(); // 2026-01-31T12:00:00.123Z
    match iso.split_once('.') {
        Some((seconds, _)) => format!("{seconds}Z"),
        None => iso,
    }
}

/// The conditions of a `search` filter object (`undefined`/`null`: none).
fn read_filter(filter: &JsValue) -> Result<Vec<FieldEquals>, JsValue> {
    if filter.is_undefined() || filter.is_null() {
        return Ok(Vec::new());
    }
    let value: serde_json::Value = serde_wasm_bindgen::from_value(filter.clone())
        .map_err(|e| bad_argument(format!("search filter: expected an object of field: value, {e}")))?;
    let serde_json::Value::Object(map) = value else {
        return Err(bad_argument("search filter: expected an object of field: value"));
    };
    Ok(map.into_iter().map(|(key, value)| FieldEquals::new(key, value)).collect())
}
