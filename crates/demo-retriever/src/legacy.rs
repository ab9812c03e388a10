//! The layout before manifests (format 1), still read so libraries saved by earlier versions
//! load; the next save migrates them (see [`crate::store`]).
//!
//! Format 1 kept `retriever.json` (the settings), the vector index's files (`index.json`,
//! `embeddings.npy`, `ids`, `hnsw.bin`, `codes.bin`) and `embedding_cache.jsonl` at the top
//! of the directory, and one `episodes/<demo_id>.json` per demo. It had no single commit
//! point: its save replaced episode files and `retriever.json` before the index committed.

use std::collections::BTreeMap;
use std::path::Path;

use vector_index::Index;

use crate::cache::EmbeddingCache;
use crate::error::{Result, RetrieverError};
use crate::retriever::{DemoRetriever, RetrieverSettings};

/// Format 1's settings file: its presence marked an index directory.
const SETTINGS_FILE: &str = "retriever.json";
/// Format 1's directory of `<demo_id>.json` episode files.
const EPISODES_DIR: &str = "episodes";
/// Format 1's top-level files (with their temporary and staged names) but `retriever.json`,
/// removed once a manifest has committed: the cache and `vector-index`'s own files.
const FILES: [&str; 15] = [
    "retriever.json.tmp",
    "embedding_cache.jsonl",
    "embedding_cache.jsonl.tmp",
    "index.json",
    "index.json.new",
    "index.json.new.tmp",
    "index.json.tmp",
    "embeddings.npy",
    "embeddings.npy.new",
    "ids",
    "ids.new",
    "hnsw.bin",
    "hnsw.bin.new",
    "codes.bin",
    "codes.bin.new",
];

/// Whether `dir` holds a format 1 index.
pub(crate) fn holds_index(dir: &Path) -> bool {
    dir.join(SETTINGS_FILE).is_file()
}

/// Loads a format 1 index, checking that its files agree.
pub(crate) fn load(dir: &Path) -> Result<DemoRetriever> {
    let settings_path = dir.join(SETTINGS_FILE);
    let text = std::fs::read(&settings_path).map_err(RetrieverError::io(&settings_path))?;
    let settings: RetrieverSettings = serde_json::from_slice(&text).map_err(|e| RetrieverError::BadIndexDir {
        path: settings_path.clone(),
        reason: format!("invalid JSON: {e}"),
    })?;
    let index = Index::load(dir)?;
    crate::store::check_agreement(dir, &settings, &index)?;
    let mut demos = BTreeMap::new();
    for item in index.iter() {
        let path = dir.join(EPISODES_DIR).join(format!("{}.json", item.id));
        demos.insert(item.id.to_owned(), crate::store::read_demo(&path, item.id, item.metadata)?);
    }
    let cache = EmbeddingCache::read_file(&dir.join(crate::layout::CACHE_FILE))?;
    Ok(DemoRetriever::assemble(settings, demos, index, cache))
}

/// Removes format 1's files from `dir` once a manifest has committed (so nothing reads them).
/// `retriever.json` goes last: while it exists, the next save knows there is more to remove.
/// Best effort: what cannot be removed now is tried again by the next save.
pub(crate) fn remove_files(dir: &Path) {
    if !holds_index(dir) {
        return;
    }
    for name in FILES {
        let _ = std::fs::remove_file(dir.join(name));
    }
    let episodes = dir.join(EPISODES_DIR);
    if let Ok(entries) = std::fs::read_dir(&episodes) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            // Only the episode files (and their temporaries) format 1 wrote there.
            if name.ends_with(".json") || name.ends_with(".json.tmp") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let _ = std::fs::remove_dir(&episodes);
    }
    let _ = std::fs::remove_file(dir.join(SETTINGS_FILE));
}
