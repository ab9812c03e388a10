//! The index directory and its save protocol: one commit point for everything a library holds
//! (vectors, episodes, settings, embedding cache).
//!
//! # Layout (format 2)
//! - `manifest.json`: the commit record: format version, generation `N`, settings
//!   (model, dimension, instruction, bonuses, rerank depth).
//! - `gen-N/`: generation `N`'s vector index (`vector-index`'s files: `index.json`,
//!   `embeddings.npy`, `ids`, and with a graph `hnsw.bin`, `codes.bin`) and its
//!   `embedding_cache.jsonl`.
//! - `demos/<sha256>.json`: one file per version of a demo, named by the sha256 of its bytes;
//!   each index item records the sha256 of its demo's file (`episode_sha256`).
//! - `lock`: the writers' lock file ([`crate::lock`]).
//!
//! A file named by a committed manifest is never modified: a save writes new names (the next
//! generation's directory; demo files by content) and commits by replacing the manifest.
//!
//! # Save ([`DemoRetriever::save_locked`], under the writer lock)
//! 1. *Sweep*: remove leftovers of saves that did not commit: `gen-*` directories other than
//!    the committed one, `manifest.json.tmp`, `demos/*.tmp`. None is named by the manifest.
//! 2. *Write generation `N+1`*: each demo file not present yet as `demos/<sha256>.json.tmp`,
//!    fsynced, renamed to `demos/<sha256>.json`; `demos/` fsynced. The vector index into the
//!    new directory `gen-(N+1)/` (`Index::save_new`: each file fsynced, `index.json` last, the
//!    directory fsynced; no staging, as nothing reads it before the commit), then the cache as
//!    `gen-(N+1)/embedding_cache.jsonl`, fsynced, and `gen-(N+1)/` fsynced again. The index
//!    directory is fsynced (its new entries) and, on a first save, its parent.
//! 3. *Commit*: the manifest naming `N+1` goes to `manifest.json.tmp`, is fsynced and renamed
//!    over `manifest.json`, and the index directory is fsynced. That rename is the commit point.
//! 4. *Clean up*: remove `gen-*` directories other than `N+1`, demo files no item of `N+1`
//!    names, and format 1's files (a migrated library); fsync `demos/` and the index directory.
//!    Best effort: what is left is unreferenced, and the next save removes it. The save has
//!    succeeded once step 3 is done.
//!
//! A save that fails before its commit removes what it wrote and returns the error
//! ([`RetrieverError::SaveFailed`]): the directory is as it was. If the fsync after the commit
//! rename fails, the commit is undone (the previous manifest put back and fsynced, or the new
//! one removed when there was none: a first save, or a migration) and the error is the same;
//! only when undoing fails too is the outcome uncertain, and [`RetrieverError::SaveUncertain`]
//! says so.
//!
//! # Load ([`DemoRetriever::load`])
//! Read `manifest.json` once; load `gen-N/` and the demo files its items name, each checked
//! against the sha256 its item records. Nothing else is looked at, so a save's leftovers are
//! ignored. A reader racing a writer may find its generation removed by that save's step 4:
//! when a load fails and the manifest has changed meanwhile, it starts again from the new one.
//! Without a manifest, a directory with `retriever.json` is format 1 (`legacy.rs`), read
//! as before; its next save writes generation 1 and removes format 1's files after the commit.
//!
//! # Why a kill or a failing disk leaves the old library or the new one, never a mix
//! Until the rename in step 3, `manifest.json` is the old one and every file it names is
//! untouched: steps 1 and 2 only remove or write names it does not use (a generation above
//! its own; demo files by content, so a name that exists holds exactly the bytes its name
//! says, and was whole before it got that name). After the rename the manifest names
//! generation `N+1`, every file of which was durable before it (step 2's fsyncs). Step 4 only
//! removes files the new manifest does not name. The settings are part of the manifest, so
//! they change in the same rename as the vectors they describe: an `index --instruction X
//! --reembed` cut short anywhere loads as the old instruction with the old vectors, or the new
//! with the new. The CLI tests kill `add` and `index --reembed --instruction` at every rename,
//! fsync and unlink, and fail each fsync with EIO, checking that `info` and `query` then answer
//! exactly as the old or the new library does (`qwen3-vl-embed-cli/tests/crash_safety.rs`).
//!
//! # The embedding cache is inside the commit
//! Its entries are keyed by their inputs, so a cache from another generation could never give
//! a wrong vector, and format 1 kept it outside the commit. It is inside now because it is
//! part of what a command reports (`info` counts it): with one commit point, a failed or
//! killed save leaves the cache as it was too, and every generation is whole in itself. Its
//! cost, rewriting the cache file on every save, is what format 1 paid already.
//!
//! # Concurrency
//! Writers serialise through the directory's [`IndexLock`]: [`DemoRetriever::save`] takes it
//! for the save, so two saves never interleave their steps; a read-modify-write (load, add,
//! save) must hold it from before the load and save with [`DemoRetriever::save_locked`], as the
//! CLI does, or one writer's save drops what another saved in between. Readers take no lock:
//! they see the manifest before a commit or after it, and only files it names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};
use vector_index::Index;
use vector_index::fs::{Fs, StdFs};

use crate::cache::{EmbeddingCache, hex};
use crate::demo::Demo;
use crate::error::{Result, RetrieverError};
use crate::layout::{CACHE_FILE, Committed, DEMOS_DIR, MANIFEST_TMP, Manifest, demo_file, generation_dir};
use crate::lock::{IndexLock, LOCK_FILE};
use crate::retriever::{DemoRetriever, RetrieverSettings};

/// How often a load starts again from a newer manifest when the files of the one it read were
/// removed by a save meanwhile. Each retry needs another commit during the load (a real
/// error with an unchanged manifest returns at once), so this only bounds a reader behind a
/// writer that commits back to back, as `tests/store.rs` does.
const LOAD_ATTEMPTS: usize = 20;

fn bad_dir(path: &Path, reason: impl Into<String>) -> RetrieverError {
    RetrieverError::BadIndexDir { path: path.to_path_buf(), reason: reason.into() }
}

/// True when `dir` holds a saved demo index (a manifest, or format 1's `retriever.json`).
pub fn is_index_dir(dir: &Path) -> bool {
    dir.join(crate::layout::MANIFEST_FILE).is_file() || crate::legacy::holds_index(dir)
}

/// Whether `name` is something a save of this crate leaves behind when it does not commit
/// (or the lock file): a directory holding only these is as good as empty.
fn is_leftover(name: &str) -> bool {
    name == LOCK_FILE || name == MANIFEST_TMP || name == DEMOS_DIR || crate::layout::parse_generation(name).is_some()
}

/// Checks that an index may be written to `dir`: it does not exist, is empty (a lock file
/// and the leftovers of a first save that did not commit count as empty) or holds an index.
/// Anything else is the user's own data, which a save would mix with index files:
/// [`RetrieverError::NotAnIndexDir`], before anything is written.
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
        if !name.to_str().is_some_and(is_leftover) {
            return Err(refuse(format!("is not empty and holds no index (found {:?})", name.to_string_lossy())));
        }
    }
    Ok(())
}

impl DemoRetriever {
    /// Saves everything to `dir` (created if missing) under its writer lock, which it takes
    /// and releases: [`RetrieverError::Locked`] if another writer holds it. Every demo must be
    /// built. A kill or a failure at any point leaves the index saved before or this one (see
    /// the module docs). To load, change and save without losing another writer's save in
    /// between, hold the [`IndexLock`] from before the load and use [`Self::save_locked`].
    pub fn save(&self, dir: &Path) -> Result<()> {
        if !self.pending.is_empty() {
            return Err(RetrieverError::NotBuilt(self.pending.len()));
        }
        std::fs::create_dir_all(dir).map_err(RetrieverError::io(dir))?;
        let lock = IndexLock::try_acquire(dir)?;
        self.save_locked(&lock)
    }

    /// Saves everything to the directory `lock` holds (see [`Self::save`] and the module
    /// docs for the protocol). Every demo must be built; the directory must be empty or an
    /// index ([`check_out_dir`]).
    pub fn save_locked(&self, lock: &IndexLock) -> Result<()> {
        if !self.pending.is_empty() {
            return Err(RetrieverError::NotBuilt(self.pending.len()));
        }
        let dir = lock.dir();
        check_out_dir(dir)?;
        let before = Committed::read(dir)?;
        crate::commit::save(self, dir, &before)
    }

    /// Loads the index committed in `dir` (see the module docs), checking that its files
    /// agree; a directory saved in format 1 loads too.
    pub fn load(dir: &Path) -> Result<Self> {
        let mut state = Committed::read(dir)?;
        let mut attempt = 1;
        loop {
            let loaded = match &state {
                Committed::Manifest { manifest, .. } => load_generation(dir, manifest, &StdFs),
                Committed::Legacy => crate::legacy::load(dir),
                Committed::Nothing => Err(bad_dir(dir, "not a demo index (no manifest.json)")),
            };
            let Err(e) = loaded else { return loaded };
            // A save may have committed and removed the files this load was reading: start
            // again from its manifest. An unchanged state means the error is real.
            let now = Committed::read(dir)?;
            if now == state || attempt == LOAD_ATTEMPTS {
                return Err(e);
            }
            (state, attempt) = (now, attempt + 1);
        }
    }
}

/// Loads generation `manifest.generation` and the demo files its items name, from `dir` on
/// the storage `fs` (the file system, or a library's files in memory: [`crate::files`]).
pub(crate) fn load_generation(dir: &Path, manifest: &Manifest, fs: &dyn Fs) -> Result<DemoRetriever> {
    let gen_dir = generation_dir(dir, manifest.generation);
    let index = Index::load_with(&gen_dir, fs)?;
    check_agreement(&gen_dir, &manifest.settings, &index)?;
    let mut demos = BTreeMap::new();
    for item in index.iter() {
        let path = demo_path(dir, &gen_dir, item.id, item.metadata)?;
        let bytes = fs.read(&path).map_err(RetrieverError::io(&path))?;
        demos.insert(item.id.to_owned(), parse_demo(&bytes, &path, item.id, item.metadata)?);
    }
    let cache_path = gen_dir.join(CACHE_FILE);
    let cache = match fs.read(&cache_path) {
        Ok(bytes) => EmbeddingCache::parse(&bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => EmbeddingCache::default(),
        Err(e) => return Err(RetrieverError::io(cache_path)(e)),
    };
    Ok(DemoRetriever::assemble(manifest.settings.clone(), demos, index, cache))
}

/// The episode file an index item names by its `episode_sha256`.
pub(crate) fn demo_path(dir: &Path, gen_dir: &Path, id: &str, metadata: &Value) -> Result<PathBuf> {
    let sha = metadata.get("episode_sha256").and_then(Value::as_str).unwrap_or_default();
    // The name comes from the index: only a sha256 in hex may become a path.
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad_dir(gen_dir, format!("item {id:?} names no episode file (episode_sha256)")));
    }
    Ok(demo_file(dir, sha))
}

/// Checks that the settings and the vector index describe the same embeddings.
pub(crate) fn check_agreement(dir: &Path, settings: &RetrieverSettings, index: &Index) -> Result<()> {
    if index.embedding_model() == settings.model && index.embedding_dim() == settings.dim {
        return Ok(());
    }
    Err(bad_dir(
        dir,
        format!(
            "the settings say model {:?} dim {}, index.json says model {:?} dim {}",
            settings.model,
            settings.dim,
            index.embedding_model(),
            index.embedding_dim()
        ),
    ))
}

/// Reads an episode file and checks it is the one the index item `id` was saved with.
pub(crate) fn read_demo(path: &Path, id: &str, metadata: &Value) -> Result<Demo> {
    let bytes = std::fs::read(path).map_err(RetrieverError::io(path))?;
    parse_demo(&bytes, path, id, metadata)
}

/// An episode file's bytes, checked against the sha256 the index item `id` records.
fn parse_demo(bytes: &[u8], path: &Path, id: &str, metadata: &Value) -> Result<Demo> {
    let expected = metadata.get("episode_sha256").and_then(Value::as_str).unwrap_or_default();
    if hex(&Sha256::digest(bytes)) != expected {
        return Err(bad_dir(path, "the episode file does not match the index (modified since it was saved)"));
    }
    let demo: Demo = serde_json::from_slice(bytes).map_err(|e| bad_dir(path, format!("invalid JSON: {e}")))?;
    if demo.demo_id != id {
        return Err(bad_dir(path, format!("holds demo {:?}, expected {id:?}", demo.demo_id)));
    }
    Ok(demo)
}
