//! JavaScript bindings for Qwen3-VL-Embedding, built with wasm-bindgen for browsers and Node.
//!
//! This is the thin, typed layer between JS values and the Rust crates; the friendly API
//! (`Embedder.load({ modelUrl, device, onProgress })`, fetching, the Cache API, canvases and
//! `ImageBitmap`s) lives in the npm package's JavaScript (`npm/src/`), which calls:
//!
//! * `WasmEmbedder` (`WasmEmbedder.load(config, tokenizer, weights, options)`, `embed`,
//!   `embedBatch`): every method that touches the device returns a `Promise`, and readback is
//!   always asynchronous (browsers forbid blocking on the GPU).
//! * `WasmIndex`: `vector-index` with `toBytes`/`fromBytes`, `.npy` and JSON export.
//! * `WasmRetriever`: `demo-retriever`'s `DemoRetriever` (the CLI's retrieval), reading and
//!   writing the CLI's library files (`fromFiles`, `fromPacked`, `toFiles`, `toPacked`), with
//!   an LRU of query embeddings and reranking (`retrieveReranked`).
//! * `WasmReranker` (`WasmReranker.load(...)`, `score`): Qwen3-VL-Reranker.
//!
//! Errors reach JS as `Error` objects with a stable `code` (see `error.rs`).
//!
//! Natively this crate is empty, so a native workspace build compiles nothing extra.
#![cfg(target_arch = "wasm32")]
#![warn(missing_docs)]

pub mod embedder;
pub mod error;
pub mod index;
pub mod input;
pub mod js_bytes;
pub mod reranker;
pub mod retriever;

pub use embedder::WasmEmbedder;
pub use index::WasmIndex;
pub use reranker::WasmReranker;
pub use retriever::WasmRetriever;
