//! The index directory: the vector index's own files, `retriever.json`, the embedding cache
//! and one `episodes/<demo_id>.json` per demo.
//!
//! # Save order (new files first, commit last)
//! 1. `embedding_cache.jsonl` (valid next to any index version: keys name their inputs);
//! 2. `episodes/<demo_id>.json` for demos whose file changed (write-then-rename);
//! 3. `retriever.json` (write-then-rename; it only changes on a fresh build or a re-embed);
//! 4. the vector index (`index.json`, `embeddings.npy`, `ids`, `hnsw.bin`), whose
//!    `index.json` rename is the commit point (see `vector-index`'s `persist/dir.rs`);
//! 5. episode files of demos no longer in the index are deleted.
//!
//! A crash before step 4 leaves the previous index, whose items name their episode files by
//! sha256: the only visible effect of a crash is then an episode that was being *replaced*,
//! which a load reports (naming the file) rather than returning the wrong episode. Files of
//! newly added demos are just unreferenced until the next save removes them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};
use vector_index::Index;

use crate::cache::{EmbeddingCache, hex};
use crate::demo::Demo;
use crate::error::{Result, RetrieverError};
use crate::lock::LOCK_FILE;
use crate::retriever::{DemoRetriever, RetrieverSettings};

/// The [`RetrieverSettings`] file of an index directory.
pub const SETTINGS_FILE: &str = "retriever.json";
/// The sub-directory of an index directory that holds one episode file per demo.
pub const EPISODES_DIR: &str = "episodes";

/// Replaces `path` with `bytes` atomically and durably (`vector_index::fs::write_atomic`: a
/// synced temporary file renamed over it, then the directory fsynced).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    vector_index::fs::write_atomic(path, bytes).map_err(RetrieverError::io(path))
}

fn episode_path(dir: &Path, demo_id: &str) -> PathBuf {
    dir.join(EPISODES_DIR).join(format!("{demo_id}.json"))
}

fn bad_dir(path: &Path, reason: impl Into<String>) -> RetrieverError {
    RetrieverError::BadIndexDir { path: path.to_path_buf(), reason: reason.into() }
}

/// True when `dir` holds a saved demo index.
pub fn is_index_dir(dir: &Path) -> bool {
    dir.join(SETTINGS_FILE).is_file()
}

/// Checks that an index may be written to `dir`: it does not exist, is an empty directory
/// (a leftover [`LOCK_FILE`] counts as empty) or holds an index. Anything else is the user's
/// own data, which a save would mix with index files and whose stale `episodes/` a save
/// would delete: [`RetrieverError::NotAnIndexDir`], before anything is written.
pub fn check_out_dir(dir: &Path) -> Result<()> {
    let refuse = |reason: String| RetrieverError::NotAnIndexDir { path: dir.to_path_buf(), reason };
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(RetrieverError::io(dir)(e)),
    };
    if !meta.is_dir() {
        return Err(refuse("exists and is not a directory".into()));
    }
    if is_index_dir(dir) {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(RetrieverError::io(dir))? {
        let name = entry.map_err(RetrieverError::io(dir))?.file_name();
        if name != LOCK_FILE {
            return Err(refuse(format!("is not empty and holds no index (found {:?})", name.to_string_lossy())));
        }
    }
    Ok(())
}

impl DemoRetriever {
    /// Saves everything to `dir` (created if missing). Every demo must be built. Safe against
    /// crashes at any point (see the module docs): a load finds the old index or the new one.
    /// Writers that may run at the same time must each hold the directory's
    /// [`IndexLock`](crate::IndexLock) from before their load until this returns, as the CLI
    /// does; this method takes no lock itself.
    pub fn save(&self, dir: &Path) -> Result<()> {
        if !self.pending.is_empty() {
            return Err(RetrieverError::NotBuilt(self.pending.len()));
        }
        let episodes = dir.join(EPISODES_DIR);
        std::fs::create_dir_all(&episodes).map_err(RetrieverError::io(&episodes))?;
        self.cache.save(dir)?;
        for demo in self.demos.values() {
            let path = episode_path(dir, &demo.demo_id);
            let bytes = demo.episode_bytes();
            if std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
                write_atomic(&path, &bytes)?;
            }
        }
        let settings = serde_json::to_vec_pretty(&self.settings).expect("settings serialise");
        write_atomic(&dir.join(SETTINGS_FILE), &settings)?;
        self.index.save(dir)?;
        self.remove_stale_episodes(&episodes)
    }

    fn remove_stale_episodes(&self, episodes: &Path) -> Result<()> {
        for entry in std::fs::read_dir(episodes).map_err(RetrieverError::io(episodes))?.flatten() {
            let path = entry.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let keep = name.strip_suffix(".json").is_some_and(|id| self.demos.contains_key(id));
            if !keep && path.is_file() {
                std::fs::remove_file(&path).map_err(RetrieverError::io(&path))?;
            }
        }
        Ok(())
    }

    /// Loads an index directory written by [`Self::save`], checking that its files agree.
    pub fn load(dir: &Path) -> Result<Self> {
        let settings_path = dir.join(SETTINGS_FILE);
        if !settings_path.is_file() {
            return Err(bad_dir(dir, format!("not a demo index (no {SETTINGS_FILE})")));
        }
        let text = std::fs::read(&settings_path).map_err(RetrieverError::io(&settings_path))?;
        let settings: RetrieverSettings =
            serde_json::from_slice(&text).map_err(|e| bad_dir(&settings_path, format!("invalid JSON: {e}")))?;
        let index = Index::load(dir)?;
        if index.embedding_model() != settings.model || index.embedding_dim() != settings.dim {
            return Err(bad_dir(
                dir,
                format!(
                    "{SETTINGS_FILE} says model {:?} dim {}, index.json says model {:?} dim {} (an interrupted re-embed?)",
                    settings.model,
                    settings.dim,
                    index.embedding_model(),
                    index.embedding_dim()
                ),
            ));
        }
        let mut demos = BTreeMap::new();
        for item in index.iter() {
            demos.insert(item.id.to_owned(), read_episode(dir, item.id, item.metadata)?);
        }
        let cache = EmbeddingCache::load(dir)?;
        Ok(Self { settings, demos, pending: Default::default(), replaced: Default::default(), index, cache })
    }
}

/// Reads `episodes/<id>.json` and checks it is the file the index item was saved with.
fn read_episode(dir: &Path, id: &str, metadata: &Value) -> Result<Demo> {
    let path = episode_path(dir, id);
    let bytes = std::fs::read(&path).map_err(RetrieverError::io(&path))?;
    let expected = metadata.get("episode_sha256").and_then(Value::as_str).unwrap_or_default();
    if hex(&Sha256::digest(&bytes)) != expected {
        return Err(bad_dir(&path, "the episode file does not match the index (modified, or an interrupted save)"));
    }
    let demo: Demo = serde_json::from_slice(&bytes).map_err(|e| bad_dir(&path, format!("invalid JSON: {e}")))?;
    if demo.demo_id != id {
        return Err(bad_dir(&path, format!("holds demo {:?}, expected {id:?}", demo.demo_id)));
    }
    Ok(demo)
}
