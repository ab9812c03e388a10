//! Nearest-neighbour retrieval over embedding vectors, for a native program, a browser
//! extension (wasm32: no threads, no file system) and Node alike.
//!
//! ```
//! use vector_index::{Index, IndexConfig};
//! use serde_json::json;
//!
//! let mut index = Index::new(IndexConfig::new("Qwen3-VL-Embedding-2B", 3))?;
//! index.add("cat", &[1.0, 0.1, 0.0], json!({"caption": "a cat"}))?;
//! index.add("car", &[0.0, 0.2, 1.0], json!({"caption": "a car"}))?;
//! let hits = index.search(&[0.9, 0.0, 0.1], 1)?;
//! assert_eq!(hits[0].0, "cat");
//! # Ok::<(), vector_index::Error>(())
//! ```
//!
//! # Vectors and scores
//! Every vector has the index's `embedding_dim`, is finite and non-zero, and is L2-normalised
//! on the way in (queries too), so the score is the cosine similarity, i.e. the inner product
//! of the stored unit vectors. Wrong dimensions, NaN/inf and zero vectors are [`Error`]s.
//!
//! # Two strategies, one API
//! *Exact* search scores every row with register-tiled dot-product kernels over contiguous
//! row-major storage (see `kernel.rs`: fixed-width accumulators the compiler vectorises, with
//! an AVX2+FMA build picked at run time on x86-64). [`Index::search_batch`] scores a block of
//! queries against each cached block of rows (a matrix-matrix product), several times faster
//! per query than one query at a time. *HNSW* search walks a graph this crate builds and keeps
//! up to date itself (`graph/`): the walk scores an int8 copy of the rows (per-vector scalar
//! quantisation, `quant.rs`) and re-scores its final candidates with exact f32 dot products, so
//! HNSW scores are exact inner products too. [`Strategy::Auto`] (the default) keeps a graph once
//! the index holds `hnsw_min_items` items; a config or a single search can force either.
//!
//! # Features
//! `parallel` (off by default; native only, ignored on wasm32) splits `search_batch` over
//! rayon's threads. Bulk HNSW inserts are parallel natively either way, serial on wasm32.
//!
//! # The update path
//! The graph is built by inserting one node at a time, as in hnswlib, so it grows with the
//! index instead of being rebuilt:
//! * Rows live in one block; graph node `i` is row `i`. `add` appends the row and inserts it
//!   (random level with `mult = 1 / ln M`, greedy descent, an `ef_construction` beam, hnswlib's
//!   neighbour heuristic, links both ways with pruning). `add_batch` inserts its rows in
//!   parallel natively, each node's link lists behind its own lock (the first 1024 nodes of a
//!   graph go in serially, and everything does on wasm32). A parallel insert ends with a
//!   repair pass (`graph/repair.rs`): a BFS over layer-0 links from the entry point, and new
//!   in-links for every node it did not reach, so every item can be found again.
//! * `remove` marks the row dead (a *tombstone*); replacing an id is a removal plus an add. A
//!   dead row stays in the graph as a routing node (hnswlib's `markDelete`), so the graph stays
//!   as connected as it was; every search path skips it, so removed items are never returned.
//!   Repairing the neighbours' links on each delete was not chosen: it costs a beam search per
//!   affected neighbour, and compaction (below) bounds what tombstones can cost.
//! * A graph search applies tombstones and a `search_filtered` predicate *in the walk*: a
//!   rejected node routes but does not count, and the beam goes on until it holds `ef_search`
//!   accepted nodes. A predicate that matches too few of 256 sampled rows for a walk to pay, a
//!   filtered walk that would score more than an eighth of the rows, or one that comes back with
//!   fewer than `k` items, is replaced by an exact scan, so results are never short.
//! * [`Index::rebuild`] is a *compaction*: it drops the dead rows and re-builds the graph over
//!   the live ones with the parallel bulk insert (a no-op when nothing is dead). `add`/`remove`
//!   call it once tombstones exceed `max(rebuild_min_rows, rebuild_fraction * rows)`, unless
//!   `auto_rebuild` is off (a browser that must not stall calls it when idle). With
//!   [`Strategy::Auto`] it also builds the first graph when the index reaches
//!   `hnsw_min_items`.
//!
//! # Memory
//! The f32 rows (`4 * dim` bytes per item) plus, while a graph exists, its links (about 280
//! bytes per item: 256 for 64 `u32` slots on layer 0, a handle to the upper-layer slots, a lock
//! and a level; 128 more per upper level for the ~3% of items above layer 0) and the int8 copy
//! the walk scores (`dim` rounded up to 64, plus 4 bytes per item: +25% of the f32 rows at
//! d = 512 or 2048). Ids, metadata and the id map come on top (the caller's sizes). So at
//! d = 2048 an item costs about 8192 + 2052 + 280 = 10.5 KB plus its id and metadata: 1 GB per
//! 100k items, 10 GB per million.
//!
//! An index from [`Index::open`] holds the f32 rows and the int8 copy as file-backed pages
//! instead: they count towards RSS only once a search touches them (a graph search reads
//! about a thousand code rows and `ef_search` f32 rows), and the OS can drop them again
//! under memory pressure. The links, ids and metadata are read into memory as by a load. An
//! exact search or [`Index::verify`] touches every page. The first `add` copies the rows and
//! codes into memory.
//!
//! # Persistence
//! A directory with `index.json`, `embeddings.npy`, `ids` and, with a graph, `hnsw.bin` and
//! `codes.bin` (the int8 copy), saved atomically (see [`Index::save`] and the crash argument
//! in `persist/dir.rs`), or one buffer ([`Index::to_bytes`], without `codes.bin`: it is
//! derived on load) for IndexedDB. [`Index::load`] reads and verifies everything (sizes,
//! sha256, structure, every vector finite) and never rebuilds the graph, except for an index
//! written by schema 1 (an `instant-distance` graph): its graph is built afresh from the
//! stored vectors on load, and it is saved as the current schema. A directory without
//! `codes.bin` (saved before it existed) loads by deriving it.
//!
//! [`Index::open`] (native) maps `embeddings.npy` and `codes.bin` instead of reading them, so
//! opening costs the manifest, the ids and the graph links: 100k x 2048 opens and answers its
//! first query in about 80 ms with its files in the page cache, 0.7 s from a cold disk (see
//! `benches/index/README.md`). The trade-off: it checks
//! sizes, headers and the graph's structure (before viewing anything, so a short file is an
//! error, not a fault) but not the sha256 of the mapped files (`hnsw.bin` too), nor that every
//! vector is finite and every int8 code that of its vector, since that would read them whole
//! (over 1 GB at 100k x 2048: 1.4 s on the bench machine, against 0.2 s). [`Index::verify`]
//! runs those checks when wanted. `embeddings.npy` stays a plain NumPy file (`numpy.load(..,
//! mmap_mode="r")` works on it as before).
//!
//! # Beyond one machine
//! [`Index::export_qdrant`] writes the vectors, ids and metadata as Qdrant upsert requests;
//! the [`export`] module docs work out when to switch (about a million items at d = 2048).
//!
//! # wasm32
//! The crate uses no threads, clock, entropy or file system of its own on wasm32 (node levels
//! come from a seeded hash of the row number, and bulk inserts run serially there).
//! `Index::save`/`load`/`open` exist (`open` reads as `load` does there) but a browser uses
//! `to_bytes`/`from_bytes`, and sets `created_at` itself.

#![warn(missing_docs)]

mod error;
pub mod export;
mod field_filter;
pub mod fs;
mod graph;
mod index;
mod kernel;
mod matrix;
pub mod npy;
mod persist;
mod quant;
mod store;
pub mod synthetic;

pub use error::{DataFile, Error, LoadError, Problem, Result};
pub use field_filter::FieldEquals;
pub use graph::HnswParams;
pub use index::{Index, IndexConfig, ItemRef, MAX_DIM, Predicate, Strategy};
pub use kernel::{dot, dot_block, dot_rows};
pub use persist::{MAX_MANIFEST_BYTES, SCHEMA_VERSION};

/// The current time as RFC 3339 UTC (`2026-01-31T12:00:00Z`). wasm32-unknown-unknown has no
/// clock, so there it is the Unix epoch and callers use [`Index::set_created_at`].
pub(crate) fn now_rfc3339() -> String {
    #[cfg(not(target_family = "wasm"))]
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    #[cfg(target_family = "wasm")]
    let secs = 0u64;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Gregorian date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(super::civil_from_days(-1), (1969, 12, 31));
    }
}
