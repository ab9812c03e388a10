//! Saving to and loading from a directory, crash-safely.
//!
//! # Layout
//! `index.json`, `embeddings.npy`, `ids` and (with a graph) `hnsw.bin` and `codes.bin`, under these fixed names
//! whenever no save is in progress, so `numpy.load("dir/embeddings.npy")` just works.
//!
//! # Protocol
//! 1. *Recover*: if `index.json.new` exists, an earlier save committed but did not finish;
//!    finish it (step 4) first.
//! 2. *Stage*: write every data file as `<name>.new`, each fsynced.
//! 3. *Commit*: write `index.json.new.tmp`, fsync, rename it to `index.json.new`, fsync the
//!    directory. This rename is the commit point.
//! 4. *Publish*: rename each `<name>.new` over `<name>`, fsync the directory, rename
//!    `index.json.new` over `index.json`, fsync the directory, then delete data files the new
//!    index does not use.
//!
//! # Load
//! If `index.json.new` exists, it is the index and each data file is read from `<name>.new`
//! when that exists, else from `<name>`; otherwise `index.json` and the plain names are read.
//!
//! # Why a crash leaves the old or the new index, never a mix
//! Before the commit point only `*.new` / `*.tmp` files were written and `index.json.new` does
//! not exist, so a load reads the untouched old `index.json` and old data files. From the commit
//! point on, `index.json.new` exists and all new data files were durable before it appeared:
//! each is at `<name>.new` until step 4 renames it to `<name>`, and a load picks whichever of
//! the two exists, preferring `.new`; either way it reads new content. Step 4's final rename
//! makes `index.json` the new one and only then does `index.json.new` disappear; at that point
//! every plain name holds new content. Checksums in `index.json` catch anything else (a torn
//! file from outside this protocol) and the load fails with the file named. The directory fsyncs
//! order the renames on file systems that would otherwise reorder them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::Index;
use crate::error::{DataFile, Error, LoadError, Problem, Result};
use crate::fs::{Fs, StdFs};
use crate::persist::{self, Bytes, FileEntry};

const DATA_FILES: [DataFile; 4] = [DataFile::Embeddings, DataFile::Ids, DataFile::Graph, DataFile::Codes];

fn staged(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.new"))
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Save { path: path.to_path_buf(), source }
}

impl Index {
    /// Saves the index to directory `dir` (created if missing), atomically: after a crash at any
    /// point, [`Index::load`] returns either the previous index or this one.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        self.save_with(dir.as_ref(), &StdFs)
    }

    /// [`Index::save`] through a given [`Fs`] (tests inject failures through it).
    pub fn save_with(&self, dir: &Path, fs: &dyn Fs) -> Result<()> {
        fs.create_dir_all(dir).map_err(io_err(dir))?;
        recover(dir, fs)?;
        let encoded = persist::encode(self, true);
        for (file, bytes) in &encoded.files {
            let path = staged(dir, file.name());
            fs.write_synced(&path, bytes).map_err(io_err(&path))?;
        }
        let tmp = dir.join("index.json.new.tmp");
        fs.write_synced(&tmp, &encoded.manifest).map_err(io_err(&tmp))?;
        let commit = staged(dir, DataFile::IndexJson.name());
        fs.rename(&tmp, &commit).map_err(io_err(&commit))?;
        fs.sync_dir(dir).map_err(io_err(dir))?;
        let names: Vec<DataFile> = encoded.files.iter().map(|(f, _)| *f).collect();
        publish(dir, fs, &names)
    }

    /// Saves the index into the new directory `dir` (its parent must exist; `dir` must not),
    /// writing each file under its final name, fsynced, `index.json` last, then fsyncing `dir`.
    /// No staging: it is for a caller whose own commit makes the directory count only once
    /// this returns (`demo-retriever` names each generation's directory in its manifest), so a
    /// crash before then leaves a partial directory that nothing loads. [`Index::load`] and
    /// [`Index::open`] read the result like any saved directory.
    pub fn save_new(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir(dir).map_err(io_err(dir))?;
        let encoded = persist::encode(self, true);
        for (file, bytes) in &encoded.files {
            let path = dir.join(file.name());
            StdFs.write_synced(&path, bytes).map_err(io_err(&path))?;
        }
        let path = dir.join(DataFile::IndexJson.name());
        StdFs.write_synced(&path, &encoded.manifest).map_err(io_err(&path))?;
        StdFs.sync_dir(dir).map_err(io_err(dir))
    }

    /// Loads an index saved by [`Index::save`], verifying schema version, counts, dimension and
    /// the sha256 of every data file.
    pub fn load(dir: impl AsRef<Path>) -> Result<Index> {
        Self::load_with(dir.as_ref(), &StdFs)
    }

    /// [`Index::load`] through a given [`Fs`].
    pub fn load_with(dir: &Path, fs: &dyn Fs) -> Result<Index> {
        load_dir(dir, fs, false)
    }

    /// Opens an index saved by [`Index::save`] without reading all of it: natively the vectors
    /// (`embeddings.npy`) and the int8 codes the graph walk scores (`codes.bin`) are
    /// memory-mapped, so opening costs about the manifest, the ids and the graph links (copied
    /// from a map of `hnsw.bin`, checked link by link), and memory grows with the pages
    /// searches touch. Everything [`Index::load`] checks is checked except what would read the
    /// mapped files whole: the sha256 of `embeddings.npy`, `codes.bin` and `hnsw.bin`, that
    /// every vector is finite, and that the codes are those of the vectors. Sizes and headers
    /// are checked before anything is viewed (a file shorter than `index.json` says is an
    /// error, never a fault). [`Index::verify`] does the deferred checks when wanted.
    ///
    /// Results equal [`Index::load`]'s. The first `add` copies the mapped vectors and codes into
    /// memory (the index then weighs what a loaded one does). Removed rows still in the graph
    /// (`hnsw.bin` carries them) are read into memory beside the mapped live rows. A directory
    /// saved before `codes.bin` existed opens too, deriving the codes from every row (as slow
    /// as a load; saving it again writes `codes.bin`). On wasm32 this is [`Index::load`].
    ///
    /// Do not modify the files of an open index in place (a mapped file that shrinks underneath
    /// faults on access, as with any memory map); saving to the same directory is safe, because
    /// a save renames new files over the old ones. On Windows that rename fails while a file is
    /// mapped, so save elsewhere or drop the opened index first.
    pub fn open(dir: impl AsRef<Path>) -> Result<Index> {
        Self::open_with(dir.as_ref(), &StdFs)
    }

    /// [`Index::open`] through a given [`Fs`] (files it cannot [`Fs::map`] are read).
    pub fn open_with(dir: &Path, fs: &dyn Fs) -> Result<Index> {
        load_dir(dir, fs, true)
    }
}

/// Files mapped by `open`: the vectors and codes, which a search reads only in part, and the
/// graph, which is copied into memory from the map (so its sha256 can wait for `verify` too;
/// its structure is checked link by link as it is copied).
const MAPPED: [DataFile; 3] = [DataFile::Embeddings, DataFile::Codes, DataFile::Graph];

fn load_dir(dir: &Path, fs: &dyn Fs, map: bool) -> Result<Index> {
    let committed = staged(dir, DataFile::IndexJson.name());
    let pending = file_len(fs, &committed, DataFile::IndexJson)?.is_some();
    let manifest_path = if pending { committed } else { dir.join(DataFile::IndexJson.name()) };
    let len = file_len(fs, &manifest_path, DataFile::IndexJson)?
        .ok_or(LoadError::new(DataFile::IndexJson, Problem::Missing))?;
    if len > persist::MAX_MANIFEST_BYTES {
        let problem = Problem::TooLarge { limit: persist::MAX_MANIFEST_BYTES, found: len };
        return Err(LoadError::new(DataFile::IndexJson, problem).into());
    }
    let manifest = fs.read(&manifest_path).map_err(|e| LoadError::new(DataFile::IndexJson, Problem::Io(e)))?;
    persist::decode(&manifest, |file, entry| {
        read_data_file(dir, fs, file, entry, pending, map && MAPPED.contains(&file))
    })
}

fn file_len(fs: &dyn Fs, path: &Path, file: DataFile) -> Result<Option<u64>, LoadError> {
    fs.file_len(path).map_err(|e| LoadError::new(file, Problem::Io(e)))
}

/// Reads (or with `map`, maps) one data file, refusing it before reading or mapping if its size
/// differs from `index.json`'s.
fn read_data_file(
    dir: &Path,
    fs: &dyn Fs,
    file: DataFile,
    entry: &FileEntry,
    pending: bool,
    map: bool,
) -> Result<Bytes, LoadError> {
    let plain = dir.join(file.name());
    let mut path = plain.clone();
    let mut len = None;
    if pending {
        path = staged(dir, file.name());
        len = file_len(fs, &path, file)?;
    }
    if len.is_none() {
        path = plain;
        len = file_len(fs, &path, file)?;
    }
    let len = len.ok_or(LoadError::new(file, Problem::Missing))?;
    if len != entry.bytes {
        return Err(LoadError::new(
            file,
            Problem::Invalid(format!("file is {len} bytes, index.json says {}", entry.bytes)),
        ));
    }
    let io = |e| LoadError::new(file, Problem::Io(e));
    if map && let Some(mapping) = fs.map(&path).map_err(io)? {
        // The file may have changed between the size check and the map: check the map itself.
        if mapping.len() as u64 != entry.bytes {
            let why = format!("file is {} bytes, index.json says {}", mapping.len(), entry.bytes);
            return Err(LoadError::new(file, Problem::Invalid(why)));
        }
        return Ok(Bytes::Mapped(Arc::new(mapping)));
    }
    fs.read(&path).map(Bytes::Read).map_err(io)
}

/// Finishes a save that committed (`index.json.new` exists) but did not publish.
fn recover(dir: &Path, fs: &dyn Fs) -> Result<()> {
    let committed = staged(dir, DataFile::IndexJson.name());
    if fs.file_len(&committed).map_err(io_err(&committed))?.is_none() {
        return Ok(());
    }
    // An unreadable commit cannot be finished; the save about to run replaces it.
    let Ok(manifest) = fs.read(&committed) else { return Ok(()) };
    let Ok(manifest) = persist::parse_manifest(&manifest) else { return Ok(()) };
    let names: Vec<DataFile> = DATA_FILES.into_iter().filter(|f| manifest.files.contains_key(f.name())).collect();
    publish(dir, fs, &names)
}

/// Step 4 of the protocol: move the committed files to their plain names.
fn publish(dir: &Path, fs: &dyn Fs, names: &[DataFile]) -> Result<()> {
    for file in names {
        let from = staged(dir, file.name());
        if fs.file_len(&from).map_err(io_err(&from))?.is_some() {
            fs.rename(&from, &dir.join(file.name())).map_err(io_err(&from))?;
        }
    }
    fs.sync_dir(dir).map_err(io_err(dir))?;
    let committed = staged(dir, DataFile::IndexJson.name());
    fs.rename(&committed, &dir.join(DataFile::IndexJson.name())).map_err(io_err(&committed))?;
    fs.sync_dir(dir).map_err(io_err(dir))?;
    for file in DATA_FILES.iter().filter(|f| !names.contains(f)) {
        for path in [dir.join(file.name()), staged(dir, file.name())] {
            fs.remove_file(&path).map_err(io_err(&path))?;
        }
    }
    Ok(())
}
