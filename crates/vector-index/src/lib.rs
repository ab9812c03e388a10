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
//! per query than one query at a time. *HNSW* search walks a graph built by
//! `instant-distance` (the walk itself is ours, see `graph.rs`): it scores an int8 copy of the
//! rows (per-vector scalar quantisation, `quant.rs`) and re-scores its final candidates with
//! exact f32 dot products, so HNSW scores are exact inner products too. [`Strategy::Auto`] (the
//! default) keeps a graph once the index holds `hnsw_min_items` items; a config or a single
//! search can force either.
//!
//! # Features
//! `parallel` (off by default; native only, ignored on wasm32) splits `search_batch` over
//! rayon's threads. The HNSW build is parallel natively either way (`instant-distance` always
//! uses rayon; on wasm32 rayon runs on the calling thread).
//!
//! # The update path
//! `instant-distance` builds a graph once and cannot insert into or delete from it. So:
//! * Rows live in a *snapshot* (immutable; the graph, if any, covers exactly its rows) and a
//!   *delta* (rows appended since the last rebuild).
//! * `add` appends to the delta. `remove` marks the row dead (a *tombstone*); replacing an id
//!   is a removal plus an add. Dead rows are skipped by every search path, so removed items
//!   are never returned; dead snapshot rows remain in the graph only as routing nodes.
//! * A search runs HNSW over the snapshot and an exact scan over the delta and merges the two
//!   top-k lists by score. If the graph's candidates (at most `ef_search`) contain fewer than
//!   `k` acceptable items (many tombstones, or a selective `search_filtered` predicate), the
//!   snapshot is scanned exactly instead, so results are never short.
//! * Once delta rows plus tombstones exceed `max(rebuild_min_rows, rebuild_fraction *
//!   snapshot_rows)`, `add`/`add_batch`/`remove` call [`Index::rebuild`]: compact all live
//!   rows into a new snapshot and build a new graph. With the proportional threshold a stream
//!   of single adds costs amortised `O(1 / rebuild_fraction)` builds' worth of work per item
//!   and bounds the exact delta scan to a fraction of the index. Callers that must not stall
//!   (a browser UI) set `auto_rebuild = false` and call `rebuild` when idle.
//!
//! # Memory
//! The f32 rows (`4 * dim` bytes per item) plus, while a graph exists, its links (about 256
//! bytes per item: 64 `u32` on layer 0, a little more on upper layers) and the int8 copy the walk
//! scores (`dim` rounded up to 64, plus 4 bytes per item: +25% of the f32 rows at d = 512 or
//! 2048). The int8 copy is derived from the rows when a graph is built or loaded; it is not
//! saved.
//!
//! # Persistence
//! A directory with `index.json`, `embeddings.npy`, `ids` and `hnsw.bin`, saved atomically
//! (see [`Index::save`] and the crash argument in `persist/dir.rs`), or one buffer
//! ([`Index::to_bytes`]) for IndexedDB. Loads verify everything and never rebuild the graph.
//!
//! # wasm32
//! The crate uses no threads, clock or file system of its own on wasm32 (`instant-distance`
//! falls back to one thread there, and is always seeded). `Index::save`/`load` exist but a
//! browser uses `to_bytes`/`from_bytes`, and sets `created_at` itself.

mod error;
pub mod fs;
mod graph;
mod index;
mod kernel;
mod matrix;
mod quant;
pub mod npy;
mod persist;
pub mod synthetic;

pub use error::{DataFile, Error, LoadError, Problem, Result};
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
