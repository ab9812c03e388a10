//! The steps of a save, in the order [`crate::store`]'s protocol gives them.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use vector_index::fs::{Fs, StdFs};

use crate::cache::hex;
use crate::error::{Result, RetrieverError};
use crate::layout::{
    CACHE_FILE, Committed, DEMOS_DIR, MANIFEST_FILE, MANIFEST_TMP, Manifest, TMP_SUFFIX, demo_file, generation_dir,
    parse_generation,
};
use crate::retriever::DemoRetriever;

/// Saves `r` as the generation after `before`, which `dir` holds now (the caller holds the
/// writer lock).
pub(crate) fn save(r: &DemoRetriever, dir: &Path, before: &Committed) -> Result<()> {
    let failed =
        |source: RetrieverError| RetrieverError::SaveFailed { dir: dir.to_path_buf(), source: Box::new(source) };
    sweep(dir, before.generation()).map_err(failed)?;
    let generation = before.generation().checked_add(1).ok_or_else(|| RetrieverError::BadIndexDir {
        path: dir.join(MANIFEST_FILE),
        reason: "its generation is the largest there can be: save to a new directory".into(),
    })?;
    let mut written = Written::default();
    let mut keep = BTreeSet::new();
    if let Err(e) = write_generation(r, dir, generation, before, &mut written, &mut keep) {
        written.remove(dir);
        return Err(failed(e));
    }
    if let Err(e) = commit(r, dir, generation, before) {
        if !matches!(e, RetrieverError::SaveUncertain { .. }) {
            written.remove(dir);
            return Err(failed(e));
        }
        return Err(e);
    }
    clean_up(dir, generation, &keep);
    Ok(())
}

/// What a save wrote before its commit, removed again if it does not commit, so a failed save
/// leaves the directory as it was.
#[derive(Default)]
struct Written {
    generation_dir: Option<PathBuf>,
    demo_files: Vec<PathBuf>,
    created_demos_dir: bool,
}

impl Written {
    /// Best effort: what stays is unreferenced, and the next save's sweep removes it.
    fn remove(&self, dir: &Path) {
        if let Some(g) = &self.generation_dir {
            let _ = std::fs::remove_dir_all(g);
        }
        for f in &self.demo_files {
            let _ = std::fs::remove_file(f);
            let _ = std::fs::remove_file(tmp_of(f));
        }
        if self.created_demos_dir {
            let _ = std::fs::remove_dir(dir.join(DEMOS_DIR));
        }
        let _ = std::fs::remove_file(dir.join(MANIFEST_TMP));
    }
}

fn tmp_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(TMP_SUFFIX);
    PathBuf::from(name)
}

/// Removes a directory with its contents, or a file (a `gen-*` name is a directory unless
/// something else put a file there).
fn remove_entry(path: &Path) -> io::Result<()> {
    if std::fs::symlink_metadata(path)?.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) }
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> RetrieverError + '_ {
    move |source| RetrieverError::Io { path: path.to_path_buf(), source }
}

/// Step 1: removes what saves that did not commit left behind: generation directories other
/// than the committed one, the manifest's and demo files' temporaries. No reader opens any of
/// them (they are not named by the manifest), and their removal need not be durable: were it
/// lost, they would be leftovers again, which is all they are.
fn sweep(dir: &Path, committed: u64) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_at(dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_at(dir))?;
        let path = entry.path();
        match entry.file_name().to_str() {
            Some(MANIFEST_TMP) => StdFs.remove_file(&path).map_err(io_at(&path))?,
            Some(name) if parse_generation(name).is_some_and(|g| g != committed) => {
                remove_entry(&path).map_err(io_at(&path))?;
            }
            _ => {}
        }
    }
    let demos = dir.join(DEMOS_DIR);
    if let Ok(entries) = std::fs::read_dir(&demos) {
        for entry in entries {
            let path = entry.map_err(io_at(&demos))?.path();
            if path.to_str().is_some_and(|p| p.ends_with(TMP_SUFFIX)) {
                StdFs.remove_file(&path).map_err(io_at(&path))?;
            }
        }
    }
    Ok(())
}

/// Step 2: every file of generation `generation`, durable, under names the committed
/// manifest does not use. `keep` receives the demo files' sha256s.
fn write_generation(
    r: &DemoRetriever,
    dir: &Path,
    generation: u64,
    before: &Committed,
    written: &mut Written,
    keep: &mut BTreeSet<String>,
) -> Result<()> {
    let demos = dir.join(DEMOS_DIR);
    if !demos.is_dir() {
        std::fs::create_dir(&demos).map_err(io_at(&demos))?;
        written.created_demos_dir = true;
    }
    for demo in r.demos.values() {
        let bytes = demo.episode_bytes();
        let sha = hex(&Sha256::digest(&bytes));
        let path = demo_file(dir, &sha);
        keep.insert(sha);
        // A demo file is only ever given its name once whole and fsynced, so one that exists
        // holds these bytes; reading it back also catches one damaged since.
        if std::fs::read(&path).ok().as_deref() == Some(&bytes[..]) {
            continue;
        }
        let tmp = tmp_of(&path);
        if !path.exists() {
            // Only a file this save created is removed if it fails: one that existed (damaged)
            // may be named by the committed generation.
            written.demo_files.push(path.clone());
        }
        StdFs.write_synced(&tmp, &bytes).map_err(io_at(&tmp))?;
        StdFs.rename(&tmp, &path).map_err(io_at(&path))?;
    }
    // Always: a file kept from a save that did not commit may have been renamed without this.
    StdFs.sync_dir(&demos).map_err(io_at(&demos))?;

    let gen_dir = generation_dir(dir, generation);
    if gen_dir.exists() {
        // The sweep removed every generation but the committed one: this is not a leftover.
        return Err(io_at(&gen_dir)(io::Error::new(io::ErrorKind::AlreadyExists, "the next generation exists")));
    }
    written.generation_dir = Some(gen_dir.clone());
    // No staging inside: nothing reads the directory before the manifest names it.
    r.index.save_new(&gen_dir)?;
    let cache = gen_dir.join(CACHE_FILE);
    StdFs.write_synced(&cache, &r.cache.to_jsonl()).map_err(io_at(&cache))?;
    StdFs.sync_dir(&gen_dir).map_err(io_at(&gen_dir))?;
    StdFs.sync_dir(dir).map_err(io_at(dir))?;
    if *before == Committed::Nothing {
        // A first save may have created the index directory itself.
        let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        StdFs.sync_dir(parent).map_err(io_at(parent))?;
    }
    Ok(())
}

/// Step 3: the manifest naming `generation` replaces the committed one. If the rename cannot
/// be made durable, it is undone, so the error means "nothing changed" like any other.
fn commit(r: &DemoRetriever, dir: &Path, generation: u64, before: &Committed) -> Result<()> {
    let bytes = Manifest::new(generation, r.settings.clone()).to_bytes();
    let (tmp, path) = (dir.join(MANIFEST_TMP), dir.join(MANIFEST_FILE));
    StdFs.write_synced(&tmp, &bytes).map_err(io_at(&tmp))?;
    StdFs.rename(&tmp, &path).map_err(io_at(&path))?;
    let Err(e) = StdFs.sync_dir(dir) else { return Ok(()) };
    match undo_commit(dir, before) {
        Ok(()) => Err(io_at(dir)(e)),
        Err(undo) => Err(RetrieverError::SaveUncertain { dir: dir.to_path_buf(), source: e, undo }),
    }
}

/// Puts the manifest `before` back (or removes the new one when there was none) durably.
fn undo_commit(dir: &Path, before: &Committed) -> io::Result<()> {
    let (tmp, path) = (dir.join(MANIFEST_TMP), dir.join(MANIFEST_FILE));
    match before {
        Committed::Manifest { bytes, .. } => {
            StdFs.write_synced(&tmp, bytes)?;
            StdFs.rename(&tmp, &path)?;
        }
        Committed::Nothing | Committed::Legacy => std::fs::remove_file(&path)?,
    }
    StdFs.sync_dir(dir)
}

/// Step 4, after the commit: removes every file the committed generation does not name.
/// Best effort (errors are ignored): the save has succeeded, and anything left is
/// unreferenced, removed by the next save.
fn clean_up(dir: &Path, generation: u64, keep: &BTreeSet<String>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_str().and_then(parse_generation).is_some_and(|g| g != generation) {
                let _ = remove_entry(&entry.path());
            }
        }
    }
    crate::legacy::remove_files(dir);
    let demos = dir.join(DEMOS_DIR);
    if let Ok(entries) = std::fs::read_dir(&demos) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let sha = name.to_str().and_then(|n| n.strip_suffix(".json"));
            if !sha.is_some_and(|s| keep.contains(s)) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let _ = StdFs.sync_dir(&demos);
    let _ = StdFs.sync_dir(dir);
}
