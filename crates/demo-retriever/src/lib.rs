//! Find the GUI-automation demonstrations nearest to a task, by Qwen3-VL embeddings.
//!
//! Data flows one way: episode JSON ([`read_library`]) -> [`Demo`] -> embedding (goal +
//! screenshot, through the [`EmbedBatch`] the caller gives, cached by input in
//! [`EmbeddingCache`]) -> `vector_index::Index` -> candidates -> the seed's scoring rule
//! ([`score`]: cosine + app/domain bonuses, optional reranking) -> [`RetrievalResult`]s.
//! Without a model, [`DemoRetriever::retrieve_text`] ranks the same demos by TF-IDF over their
//! goal, app and domain ([`text_search`]), the seed's text-only fallback.
//!
//! A [`DemoRetriever`] owns no model: the calls that need one take it, so loading, saving and
//! inspecting an index directory ([`DemoRetriever::load`], [`DemoRetriever::save`]) cost
//! nothing on the device. Writers of one directory serialise through its [`IndexLock`].
//!
//! Storage is `vector_index::fs::Fs`: directories natively, [`LibraryFiles`] in memory where
//! there is no file system; a library is the same files everywhere ([`DemoRetriever::to_files`],
//! [`DemoRetriever::from_files`], one packed file: [`pack`]), and the crate compiles for wasm32,
//! where the npm package runs it with a model that embeds asynchronously ([`ToEmbed`],
//! [`DemoRetriever::retrieve_by_vector`]).
//!
//! A save has one commit point for everything (vectors, episodes, settings, cache): new files
//! under new names, then one atomic rename of the manifest that names them. A kill or a failing
//! disk at any step leaves the previous library or the new one, never a mix; [`store`] states
//! the protocol and why it holds.

#![warn(missing_docs)]

pub mod cache;
mod caller_embeds;
mod commit;
pub mod demo;
pub mod error;
pub mod files;
pub mod filter;
pub mod layout;
mod legacy;
pub mod lock;
pub mod migrate;
pub mod pack;
pub mod query_cache;
mod rerank;
pub mod retriever;
pub mod score;
mod snapshot;
pub mod store;
pub mod text_search;

pub use cache::{CacheStats, DroppedEntry, EmbeddingCache, cache_key};
pub use caller_embeds::{RerankRequest, ToEmbed};
pub use demo::{Demo, DemoLibrary, read_library};
pub use error::{DemoError, DemoProblem, Result, RetrieverError};
pub use files::LibraryFiles;
pub use filter::{Filter, FilterField};
pub use lock::IndexLock;
pub use migrate::{Migration, ScreenshotResolver};
pub use query_cache::{CachedEmbedder, QueryCacheStats, QueryVectors};
pub use qwen3_vl_embedder::Reranker;
pub use retriever::{
    BuildReport, DEFAULT_DIM, DEFAULT_INSTRUCTION, DEFAULT_MODEL, DemoRetriever, EmbedBatch, MIN_DIM, OnBadDemo,
    Progress, Query, Rerank, RetrievalResult, RetrieverSettings, check_dim,
};
pub use score::Bonuses;
pub use snapshot::files_needed;
pub use store::{check_out_dir, is_index_dir};
/// How the vector index answers a search (see [`RetrieverSettings::strategy`]).
pub use vector_index::Strategy;
