//! A library as [`LibraryFiles`]: the files an index directory holds after its first save
//! (format 2, generation 1; see [`crate::store`]), in memory. The CLI's `pack` and the npm
//! package write these; [`DemoRetriever::from_files`] reads them, and reads what JavaScript
//! fetched from a directory saved by the CLI, since both are the same names and bytes.

use std::path::Path;

use sha2::{Digest, Sha256};
use vector_index::Index;
use vector_index::fs::Fs;

use crate::cache::hex;
use crate::error::{Result, RetrieverError};
use crate::files::LibraryFiles;
use crate::layout::{CACHE_FILE, Committed, MANIFEST_FILE, Manifest, demo_file, generation_dir};
use crate::retriever::DemoRetriever;
use crate::store::{demo_path, load_generation};

/// The generation a snapshot is written as: the first save of a new directory.
const SNAPSHOT_GENERATION: u64 = 1;

/// The vector index's files in a generation directory: the first three are always there, the
/// graph and its codes only for indexes large enough to have a graph. A loader that cannot
/// list a directory (a URL) asks for all of them and leaves out those that do not exist.
const GENERATION_FILES: [&str; 6] = ["index.json", "embeddings.npy", "ids", "hnsw.bin", "codes.bin", CACHE_FILE];

fn root() -> &'static Path {
    Path::new("")
}

fn io_at(name: &Path) -> impl FnOnce(std::io::Error) -> RetrieverError + '_ {
    move |source| RetrieverError::Io { path: name.to_path_buf(), source }
}

impl DemoRetriever {
    /// Every file of this library as a first save would write them into a new directory.
    /// Every demo must be built.
    pub fn to_files(&self) -> Result<LibraryFiles> {
        if !self.pending.is_empty() {
            return Err(RetrieverError::NotBuilt(self.pending.len()));
        }
        let files = LibraryFiles::new();
        for demo in self.demos.values() {
            let bytes = demo.episode_bytes();
            let path = demo_file(root(), &hex(&Sha256::digest(&bytes)));
            files.write_synced(&path, &bytes).map_err(io_at(&path))?;
        }
        let gen_dir = generation_dir(root(), SNAPSHOT_GENERATION);
        self.index.save_with(&gen_dir, &files)?;
        let cache = gen_dir.join(CACHE_FILE);
        files.write_synced(&cache, &self.cache.to_jsonl()).map_err(io_at(&cache))?;
        let manifest = Path::new(MANIFEST_FILE);
        let bytes = Manifest::new(SNAPSHOT_GENERATION, self.settings.clone()).to_bytes();
        files.write_synced(manifest, &bytes).map_err(io_at(manifest))?;
        Ok(files)
    }

    /// The library `files` hold (an index directory's committed files, by name), checked as
    /// [`DemoRetriever::load`] checks a directory; files no manifest names are ignored.
    pub fn from_files(files: &LibraryFiles) -> Result<Self> {
        match committed(files)? {
            Some(manifest) => load_generation(root(), &manifest, files),
            None => Err(RetrieverError::BadIndexDir {
                path: MANIFEST_FILE.into(),
                reason: "missing: not a demo library (format 2)".into(),
            }),
        }
    }
}

/// The manifest `files` hold, if any.
fn committed(files: &LibraryFiles) -> Result<Option<Manifest>> {
    let Some(bytes) = files.get(MANIFEST_FILE) else { return Ok(None) };
    match Committed::parse(bytes, Path::new(MANIFEST_FILE))? {
        Committed::Manifest { manifest, .. } => Ok(Some(manifest)),
        Committed::Nothing | Committed::Legacy => Ok(None),
    }
}

/// The names a loader that fetches files one by one (a directory URL) must still fetch before
/// [`DemoRetriever::from_files`] can read `files`: the manifest, then its generation's files
/// (some of which may not exist: leave those out), then the demo files its items name. Empty
/// when nothing is missing. Each call reads what is there, so a loader calls it until it is
/// empty, fetching what it lists: three rounds.
pub fn files_needed(files: &LibraryFiles) -> Result<Vec<String>> {
    let Some(manifest) = committed(files)? else { return Ok(vec![MANIFEST_FILE.into()]) };
    let gen_dir = generation_dir(root(), manifest.generation);
    let name = |path: &Path| path.to_string_lossy().into_owned();
    if !files.contains(&name(&gen_dir.join("index.json"))) {
        return Ok(GENERATION_FILES.iter().map(|f| name(&gen_dir.join(f))).collect());
    }
    let index = Index::load_with(&gen_dir, files)?;
    let mut needed = Vec::new();
    for item in index.iter() {
        let path = name(&demo_path(root(), &gen_dir, item.id, item.metadata)?);
        if !files.contains(&path) {
            needed.push(path);
        }
    }
    Ok(needed)
}
